// FP32 to BF16 (EXP 8, MANT 7, IEEE 1) or CFP8 (1-4-3 or 1-5-2, IEEE 0) as a block with fixed
// parameters: fp32_to_narrow_pkg's function (the rules are there). Combinational. The conversion
// harness verilates it once per format.
module fp32_to_narrow #(
    parameter int EXP  = 8,
    parameter int MANT = 7,
    parameter bit IEEE = 1
) (
    input  logic [31:0]       x,
    input  logic [7:0]        bias,
    input  logic              stochastic,
    input  logic [31:0]       rnd,
    output logic [EXP+MANT:0] code
);
  logic [15:0] wide;
  always_comb fp32_to_narrow_pkg::fp32_to_narrow(x, 4'(EXP), 3'(MANT), IEEE, bias, stochastic, rnd, wide);
  assign code = wide[EXP+MANT:0];
  if (EXP + MANT < 15) begin : g_unused
    logic unused_high;
    assign unused_high = ^wide[15:EXP+MANT+1];
  end
endmodule
