// CFP8 (1-4-3 or 1-5-2) with a 6-bit exponent bias to FP32, exactly (docs/formats.md: a code with
// exponent field e and mantissa m means (1 + m/2^M) 2^(e - bias) when e > 0, (m/2^M) 2^(1 - bias)
// when e = 0; no Inf or NaN). Every such value is a normal FP32 number or zero. A void function:
// a statement, which a simulation evaluates only where it stands.
package cfp8_to_fp32_pkg;
  function automatic void cfp8_to_fp32(input logic [7:0] code, input logic e5m2, input logic [5:0] bias, output logic [31:0] fp32);
    logic       sign;
    logic [4:0] e;
    logic [2:0] m;    // 1-5-2 uses m[2:1]
    logic [2:0] msb;  // the mantissa's leading one, for denormals
    logic signed [9:0] exponent;  // unbiased
    logic [22:0] frac;
    logic [7:0]  biased;  // 62..158: always a normal FP32 exponent
    sign = code[7];
    e    = e5m2 ? code[6:2] : {1'b0, code[6:3]};
    m    = e5m2 ? {code[1:0], 1'b0} : code[2:0];
    msb  = 3'd0;
    for (int i = 0; i < 3; i++)
      if (m[i]) msb = 3'(i);
    if (e != 5'd0) begin
      // (1 + m/8) 2^(e - bias): m as the top bits of the fraction
      exponent = $signed({5'd0, e}) - $signed({4'd0, bias});
      frac     = {m, 20'd0};
    end else begin
      // (m/8) 2^(1 - bias) = 1.xxx 2^(msb - 3 + 1 - bias)
      exponent = $signed({7'd0, msb}) - 10'sd2 - $signed({4'd0, bias});
      frac     = 23'({m, 20'd0} << (3'd3 - msb));
    end
    biased = 8'(exponent + 10'sd127);
    fp32   = (m == 3'd0 && e == 5'd0) ? {sign, 31'd0} : {sign, biased, frac};
  endfunction
endpackage
