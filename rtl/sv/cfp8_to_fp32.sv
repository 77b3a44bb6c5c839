// CFP8 (1-4-3 or 1-5-2) with a 6-bit exponent bias to FP32, exactly (docs/formats.md: a code with
// exponent field e and mantissa m means (1 + m/2^M) 2^(e - bias) when e > 0, (m/2^M) 2^(1 - bias)
// when e = 0; no Inf or NaN). Every such value is a normal FP32 number or zero. Combinational.
module cfp8_to_fp32 (
    input  logic [7:0]  code,
    input  logic        e5m2,   // 0: 1-4-3, 1: 1-5-2
    input  logic [5:0]  bias,
    output logic [31:0] fp32
);
  logic       sign;
  logic [4:0] e;
  logic [2:0] m;    // 1-5-2 uses m[2:1]
  logic [2:0] msb;  // the mantissa's leading one, for denormals
  logic signed [9:0] exponent;  // unbiased
  logic [22:0] frac;
  assign sign = code[7];
  assign e    = e5m2 ? code[6:2] : {1'b0, code[6:3]};
  assign m    = e5m2 ? {code[1:0], 1'b0} : code[2:0];
  always_comb begin
    msb = 3'd0;
    for (int i = 0; i < 3; i++)
      if (m[i]) msb = 3'(i);
  end
  always_comb begin
    if (e != 5'd0) begin
      // (1 + m/8) 2^(e - bias): m as the top bits of the fraction
      exponent = $signed({5'd0, e}) - $signed({4'd0, bias});
      frac     = {m, 20'd0};
    end else begin
      // (m/8) 2^(1 - bias) = 1.xxx 2^(msb - 3 + 1 - bias)
      exponent = $signed({7'd0, msb}) - 10'sd2 - $signed({4'd0, bias});
      frac     = 23'({m, 20'd0} << (3'd3 - msb));
    end
  end
  logic [7:0] biased;  // 62..158: always a normal FP32 exponent
  assign biased = 8'(exponent + 10'sd127);
  assign fp32   = (m == 3'd0 && e == 5'd0) ? {sign, 31'd0} : {sign, biased, frac};
endmodule
