// FP32 max and min: the canonical NaN if either operand is NaN; +0 is larger than -0
// (docs/isa.md). Combinational.
module fp32_minmax (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] max_out,
    output logic [31:0] min_out
);
  logic a_nan, b_nan, nan;
  logic a_greater;  // a > b in the order where -0 < +0
  assign a_nan = fp32_class_pkg::is_nan(a[30:0]);
  assign b_nan = fp32_class_pkg::is_nan(b[30:0]);
  assign nan = a_nan || b_nan;
  always_comb begin
    if (a[31] != b[31]) a_greater = !a[31];          // the positive one (so +0 > -0)
    else if (!a[31]) a_greater = a[30:0] > b[30:0];  // both positive: the larger magnitude
    else a_greater = a[30:0] < b[30:0];              // both negative: the smaller magnitude
  end
  assign max_out = nan ? 32'h7FC0_0000 : (a_greater ? a : b);
  assign min_out = nan ? 32'h7FC0_0000 : (a_greater ? b : a);
endmodule
