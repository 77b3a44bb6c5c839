// FP32 -> BF16 conversion with round to nearest even; every NaN becomes the canonical 0x7FC0.
// Bit-exact with tatami::fp32ToBf16 (docs/formats.md). Combinational.
module fp32_to_bf16 (
    input  logic [31:0] in_fp32,
    output logic [15:0] out_bf16
);
  logic        is_nan;
  logic [31:0] rounded;  // its low half is the discarded part

  assign is_nan   = (in_fp32[30:23] == 8'hFF) && (in_fp32[22:0] != 23'd0);
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even; a carry out of the
  // mantissa moves into the exponent, which also turns the largest finite values into Inf.
  assign rounded  = in_fp32 + 32'h0000_7FFF + {31'd0, in_fp32[16]};
  assign out_bf16 = is_nan ? 16'h7FC0 : rounded[31:16];
  logic unused_low;
  assign unused_low = ^rounded[15:0];
endmodule
