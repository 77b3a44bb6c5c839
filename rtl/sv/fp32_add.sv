// FP32 addition and subtraction, one IEEE rounding to nearest even, denormals kept, every NaN
// the canonical 0x7FC00000 (docs/isa.md, "Floating-point lanes"). Combinational.
//
// The operands are ordered by magnitude; the smaller significand is aligned with guard, round
// and sticky bits (exact for round to nearest even), added or subtracted, normalized (left shifts
// stop at the smallest exponent, giving denormals) and rounded.
module fp32_add (
    input  logic [31:0] a,
    input  logic [31:0] b,
    input  logic        subtract,
    output logic [31:0] y
);
  logic       sa, sb;
  logic [7:0] ea, eb;
  logic [22:0] fa, fb;
  assign sa = a[31];
  assign sb = b[31] ^ subtract;
  assign ea = a[30:23];
  assign eb = b[30:23];
  assign fa = a[22:0];
  assign fb = b[22:0];

  logic a_nan, b_nan, a_inf, b_inf, a_zero, b_zero;
  fp32_class u_class_a (.x(a[30:0]), .nan(a_nan), .inf(a_inf), .zero(a_zero));
  fp32_class u_class_b (.x(b[30:0]), .nan(b_nan), .inf(b_inf), .zero(b_zero));

  // Order by magnitude: big >= small.
  logic        swap;
  logic        s_big, s_small;
  logic [7:0]  e_big_f, e_small_f;
  logic [22:0] f_big, f_small;
  assign swap      = a[30:0] < b[30:0];
  assign s_big     = swap ? sb : sa;
  assign s_small   = swap ? sa : sb;
  assign e_big_f   = swap ? eb : ea;
  assign e_small_f = swap ? ea : eb;
  assign f_big     = swap ? fb : fa;
  assign f_small   = swap ? fa : fb;

  // Effective exponents (a denormal's is 1) and significands with the hidden bit.
  logic [7:0]  e_big, e_small;
  logic [23:0] m_big, m_small;
  assign e_big   = (e_big_f == 8'd0) ? 8'd1 : e_big_f;
  assign e_small = (e_small_f == 8'd0) ? 8'd1 : e_small_f;
  assign m_big   = {e_big_f != 8'd0, f_big};
  assign m_small = {e_small_f != 8'd0, f_small};

  // Alignment: 24 significand bits and guard, round, sticky.
  logic [7:0]  diff;
  logic [26:0] small_ext, small_shifted, lost_mask;
  logic        sticky;
  logic [26:0] small_aligned, big_aligned;
  assign diff          = e_big - e_small;
  assign small_ext     = {m_small, 3'b000};
  assign small_shifted = (diff >= 8'd27) ? 27'd0 : (small_ext >> diff);
  assign lost_mask     = (diff >= 8'd27) ? {27{1'b1}} : ((27'd1 << diff) - 27'd1);
  assign sticky        = |(small_ext & lost_mask);
  assign small_aligned = {small_shifted[26:1], small_shifted[0] | sticky};
  assign big_aligned   = {m_big, 3'b000};

  logic        eff_sub;
  logic [27:0] sum;
  assign eff_sub = s_big ^ s_small;
  assign sum     = eff_sub ? ({1'b0, big_aligned} - {1'b0, small_aligned}) : ({1'b0, big_aligned} + {1'b0, small_aligned});

  // Normalization: a carry shifts right once; otherwise shift left to the leading one, but not
  // below the smallest exponent.
  logic [4:0]  lead;  // position of the leading one in sum[26:0]
  always_comb begin
    lead = 5'd0;
    for (int i = 0; i < 27; i++)
      if (sum[i]) lead = 5'(i);
  end
  logic [9:0]  e_norm;
  logic [26:0] norm;
  logic [7:0]  want_shift, shift;
  always_comb begin
    want_shift = 8'd26 - {3'd0, lead};
    shift      = (want_shift > e_big - 8'd1) ? e_big - 8'd1 : want_shift;
    if (sum[27]) begin
      norm   = {sum[27:2], sum[1] | sum[0]};
      e_norm = {2'd0, e_big} + 10'd1;
    end else begin
      norm   = sum[26:0] << shift;
      e_norm = {2'd0, e_big} - {2'd0, shift};
    end
  end

  // Round to nearest, ties to even.
  logic        round_up;
  logic [24:0] rounded;
  logic [23:0] mant;
  logic [9:0]  e_final;
  assign round_up = norm[2] & (norm[1] | norm[0] | norm[3]);
  assign rounded  = {1'b0, norm[26:3]} + {24'd0, round_up};
  always_comb begin
    if (rounded[24]) begin
      mant    = rounded[24:1];
      e_final = e_norm + 10'd1;
    end else begin
      mant    = rounded[23:0];
      e_final = e_norm;
    end
  end

  logic [31:0] finite;
  always_comb begin
    if (sum == 28'd0) finite = {s_big & s_small & a_zero & b_zero, 31'd0};  // exact zero: +0 unless -0 + -0
    else if (e_final >= 10'd255) finite = {s_big, 8'hFF, 23'd0};
    else finite = {s_big, mant[23] ? e_final[7:0] : 8'd0, mant[22:0]};
  end

  always_comb begin
    if (a_nan || b_nan || (a_inf && b_inf && (sa != sb))) y = 32'h7FC0_0000;
    else if (a_inf) y = {sa, 8'hFF, 23'd0};
    else if (b_inf) y = {sb, 8'hFF, 23'd0};
    else y = finite;
  end
endmodule
