// FP32 multiplication, one IEEE rounding to nearest even, denormals kept (in and out), every NaN
// the canonical 0x7FC00000 (docs/isa.md). A void function: a statement, which a simulation
// evaluates only where it stands. The 48-bit product of the significands is normalized to its
// leading one, shifted further right when the result is denormal, and rounded with guard and
// sticky bits.
package fp32_mul_pkg;
  function automatic void fp32_mul(input logic [31:0] a, input logic [31:0] b, output logic [31:0] y);
    logic        sign;
    logic [7:0]  ea, eb;
    logic [22:0] fa, fb;
    logic a_nan, b_nan, a_inf, b_inf, a_zero, b_zero;
    logic [23:0] ma, mb;
    logic [47:0] product;
    logic [5:0] lead;  // position of the product's leading one
    logic signed [11:0] e_norm;
    logic [47:0]        p_norm;
    logic [11:0] down;
    logic [47:0] p_den, lost_mask;
    logic        lost;
    logic signed [11:0] e_den;
    logic        guard, sticky, round_up;
    logic [24:0] rounded;
    logic [23:0] mant;
    logic signed [11:0] e_final;
    sign = a[31] ^ b[31];
    ea   = a[30:23];
    eb   = b[30:23];
    fa   = a[22:0];
    fb   = b[22:0];

    a_nan = fp32_class_pkg::is_nan(a[30:0]);
    a_inf = fp32_class_pkg::is_inf(a[30:0]);
    a_zero = fp32_class_pkg::is_zero(a[30:0]);
    b_nan = fp32_class_pkg::is_nan(b[30:0]);
    b_inf = fp32_class_pkg::is_inf(b[30:0]);
    b_zero = fp32_class_pkg::is_zero(b[30:0]);

    ma      = {ea != 8'd0, fa};
    mb      = {eb != 8'd0, fb};
    product = ma * mb;

    begin
      lead = 6'd0;
      for (int i = 0; i < 48; i++)
        if (product[i]) lead = 6'(i);
    end

    // value = product x 2^(ea' + eb' - 127 - 46), ea' and eb' the effective exponents (1 for
    // denormals). Normalized so that the leading one is bit 47: exponent E = ea' + eb' - 127 + lead - 46.
    e_norm = $signed({4'd0, (ea == 8'd0) ? 8'd1 : ea}) + $signed({4'd0, (eb == 8'd0) ? 8'd1 : eb}) - 12'sd127 +
                    $signed({6'd0, lead}) - 12'sd46;
    p_norm = product << (6'd47 - lead);

    // A result below the smallest exponent is shifted right into a denormal (E becomes 1).
    begin
      down = (e_norm < 12'sd1) ? 12'(12'sd1 - e_norm) : 12'd0;
      if (down >= 12'd48) begin
        p_den     = 48'd0;
        lost_mask = {48{1'b1}};
      end else begin
        p_den     = p_norm >> down[5:0];
        lost_mask = (48'd1 << down[5:0]) - 48'd1;
      end
      lost  = |(p_norm & lost_mask);
      e_den = (e_norm < 12'sd1) ? 12'sd1 : e_norm;
    end

    guard    = p_den[23];
    sticky   = (|p_den[22:0]) | lost;
    round_up = guard & (sticky | p_den[24]);
    rounded  = {1'b0, p_den[47:24]} + {24'd0, round_up};
    begin
      if (rounded[24]) begin
        mant    = rounded[24:1];
        e_final = e_den + 12'sd1;
      end else begin
        mant    = rounded[23:0];
        e_final = e_den;
      end
    end

    begin
      if (a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero)) y = 32'h7FC0_0000;
      else if (a_inf || b_inf) y = {sign, 8'hFF, 23'd0};
      else if (a_zero || b_zero) y = {sign, 31'd0};
      else if (e_final >= 12'sd255) y = {sign, 8'hFF, 23'd0};
      else y = {sign, mant[23] ? e_final[7:0] : 8'd0, mant[22:0]};
    end
  endfunction
endpackage
