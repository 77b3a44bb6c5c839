// FP32 addition and subtraction, one IEEE rounding to nearest even, denormals kept, every NaN
// the canonical 0x7FC00000 (docs/isa.md, "Floating-point lanes"). A void function: a statement,
// which a simulation evaluates only where it stands (for the operation selected).
//
// The operands are ordered by magnitude; the smaller significand is aligned with guard, round
// and sticky bits (exact for round to nearest even), added or subtracted, normalized (left shifts
// stop at the smallest exponent, giving denormals) and rounded.
package fp32_add_pkg;
  function automatic void fp32_add(input logic [31:0] a, input logic [31:0] b, input logic subtract, output logic [31:0] y);
    logic       sa, sb;
    logic [7:0] ea, eb;
    logic [22:0] fa, fb;
    logic a_nan, b_nan, a_inf, b_inf, a_zero, b_zero;
    logic        swap;
    logic        s_big, s_small;
    logic [7:0]  e_big_f, e_small_f;
    logic [22:0] f_big, f_small;
    logic [7:0]  e_big, e_small;
    logic [23:0] m_big, m_small;
    logic [7:0]  diff;
    logic [26:0] small_ext, small_shifted, lost_mask;
    logic        sticky;
    logic [26:0] small_aligned, big_aligned;
    logic        eff_sub;
    logic [27:0] sum;
    logic [4:0]  lead;  // position of the leading one in sum[26:0]
    logic [9:0]  e_norm;
    logic [26:0] norm;
    logic [7:0]  want_shift, shift;
    logic        round_up;
    logic [24:0] rounded;
    logic [23:0] mant;
    logic [9:0]  e_final;
    logic [31:0] finite;
    sa = a[31];
    sb = b[31] ^ subtract;
    ea = a[30:23];
    eb = b[30:23];
    fa = a[22:0];
    fb = b[22:0];

    a_nan = fp32_class_pkg::is_nan(a[30:0]);
    a_inf = fp32_class_pkg::is_inf(a[30:0]);
    a_zero = fp32_class_pkg::is_zero(a[30:0]);
    b_nan = fp32_class_pkg::is_nan(b[30:0]);
    b_inf = fp32_class_pkg::is_inf(b[30:0]);
    b_zero = fp32_class_pkg::is_zero(b[30:0]);

    // Order by magnitude: big >= small.
    swap      = a[30:0] < b[30:0];
    s_big     = swap ? sb : sa;
    s_small   = swap ? sa : sb;
    e_big_f   = swap ? eb : ea;
    e_small_f = swap ? ea : eb;
    f_big     = swap ? fb : fa;
    f_small   = swap ? fa : fb;

    // Effective exponents (a denormal's is 1) and significands with the hidden bit.
    e_big   = (e_big_f == 8'd0) ? 8'd1 : e_big_f;
    e_small = (e_small_f == 8'd0) ? 8'd1 : e_small_f;
    m_big   = {e_big_f != 8'd0, f_big};
    m_small = {e_small_f != 8'd0, f_small};

    // Alignment: 24 significand bits and guard, round, sticky.
    diff          = e_big - e_small;
    small_ext     = {m_small, 3'b000};
    small_shifted = (diff >= 8'd27) ? 27'd0 : (small_ext >> diff);
    lost_mask     = (diff >= 8'd27) ? {27{1'b1}} : ((27'd1 << diff) - 27'd1);
    sticky        = |(small_ext & lost_mask);
    small_aligned = {small_shifted[26:1], small_shifted[0] | sticky};
    big_aligned   = {m_big, 3'b000};

    eff_sub = s_big ^ s_small;
    sum     = eff_sub ? ({1'b0, big_aligned} - {1'b0, small_aligned}) : ({1'b0, big_aligned} + {1'b0, small_aligned});

    // Normalization: a carry shifts right once; otherwise shift left to the leading one, but not
    // below the smallest exponent.
    begin
      lead = 5'd0;
      for (int i = 0; i < 27; i++)
        if (sum[i]) lead = 5'(i);
    end
    begin
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
    round_up = norm[2] & (norm[1] | norm[0] | norm[3]);
    rounded  = {1'b0, norm[26:3]} + {24'd0, round_up};
    begin
      if (rounded[24]) begin
        mant    = rounded[24:1];
        e_final = e_norm + 10'd1;
      end else begin
        mant    = rounded[23:0];
        e_final = e_norm;
      end
    end

    begin
      if (sum == 28'd0) finite = {s_big & s_small & a_zero & b_zero, 31'd0};  // exact zero: +0 unless -0 + -0
      else if (e_final >= 10'd255) finite = {s_big, 8'hFF, 23'd0};
      else finite = {s_big, mant[23] ? e_final[7:0] : 8'd0, mant[22:0]};
    end

    begin
      if (a_nan || b_nan || (a_inf && b_inf && (sa != sb))) y = 32'h7FC0_0000;
      else if (a_inf) y = {sa, 8'hFF, 23'd0};
      else if (b_inf) y = {sb, 8'hFF, 23'd0};
      else y = finite;
    end
  endfunction
endpackage
