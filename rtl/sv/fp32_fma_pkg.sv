// FP32 fused multiply-add, a * b + c with one IEEE rounding to nearest even, denormals kept, every
// NaN the canonical 0x7FC00000 (docs/isa.md: "fma rounds once"). A function (a void one: a statement, which Verilator runs only where it stands), so that a
// vector lane evaluates it only for an fma (the 80-bit frame is the costliest logic of a lane).
//
// The exact product (48 bits) and the addend are placed in an 80-bit frame whose lowest bit weighs
// 2^L, L three bits below the product's lowest bit; an addend far below the frame folds into a
// sticky bit, one far above moves the frame up (the product then folds into sticky bits). The
// sum is normalized to 24 bits (or to the denormal range) and rounded with guard and sticky.
package fp32_fma_pkg;
  localparam int W = 80;
  localparam int CMAX = 54;  // the addend's lowest bit at most here (13'sd54 below): its leading one stays below bit 78

  function automatic void fp32_fma(input logic [31:0] a, input logic [31:0] b, input logic [31:0] c, output logic [31:0] y);
    logic        sa, sb, sc, sp;
    logic [7:0]  ea, eb, ec;
    logic [22:0] fa, fb, fc;
    logic a_nan, b_nan, c_nan, a_inf, b_inf, c_inf, a_zero, b_zero, c_zero;
    logic [23:0] ma, mb, mc;
    logic [47:0] product;
    logic signed [12:0] xl, xc, k, lf, t, e_final, t_norm, t_den;
    logic [W-1:0] pf, cf, p0, c0, lost, m, lost_bits;
    logic [12:0]  sh;
    logic         eff_sub, sign, guard, sticky, round_up, prod_inf, prod_nan;
    logic [6:0]   h;
    logic [23:0]  kept, mant, mant_r;
    logic [24:0]  rounded;
    logic [31:0]  finite;
    {sa, ea, fa} = a;
    {sb, eb, fb} = b;
    {sc, ec, fc} = c;
    sp     = sa ^ sb;
    a_nan  = fp32_class_pkg::is_nan(a[30:0]);
    b_nan  = fp32_class_pkg::is_nan(b[30:0]);
    c_nan  = fp32_class_pkg::is_nan(c[30:0]);
    a_inf  = fp32_class_pkg::is_inf(a[30:0]);
    b_inf  = fp32_class_pkg::is_inf(b[30:0]);
    c_inf  = fp32_class_pkg::is_inf(c[30:0]);
    a_zero = fp32_class_pkg::is_zero(a[30:0]);
    b_zero = fp32_class_pkg::is_zero(b[30:0]);
    c_zero = fp32_class_pkg::is_zero(c[30:0]);
    ma      = {ea != 8'd0, fa};
    mb      = {eb != 8'd0, fb};
    mc      = {ec != 8'd0, fc};
    product = ma * mb;

    // Lowest-bit exponents: product 2^(ea' + eb' - 254 - 46), addend 2^(ec' - 150); L = product's - 3.
    xl = $signed({5'd0, (ea == 8'd0) ? 8'd1 : ea}) + $signed({5'd0, (eb == 8'd0) ? 8'd1 : eb}) - 13'sd303;
    xc = $signed({5'd0, (ec == 8'd0) ? 8'd1 : ec}) - 13'sd150;
    k  = xc - xl;  // where the addend's lowest bit falls in the frame

    begin
      p0   = W'(product) << 3;
      c0   = W'(mc);
      lf   = xl;
      sh   = 13'd0;
      lost = '0;
      if (product == 48'd0) begin
        // A zero product: the addend alone, exactly (the frame sits on it).
        pf = '0;
        cf = c0;
        lf = xc;
      end else if (k > 13'sd0 && k <= 13'sd54) begin
        pf = p0;
        cf = c0 << k[6:0];
      end else if (k > 13'sd54) begin
        // The addend far above: the frame moves up by k - CMAX; the product keeps a sticky bit.
        sh   = 13'(k - 13'sd54);
        cf   = c0 << CMAX;
        lost = (sh >= 13'd80) ? {W{1'b1}} : ((W'(1) << sh[6:0]) - W'(1));
        pf   = ((sh >= 13'd80) ? W'(0) : (p0 >> sh[6:0])) | W'(|(p0 & lost));
        lf   = xl + $signed(sh);
      end else begin
        // The addend at or below the frame's lowest bit: shifted down, keeping a sticky bit.
        sh   = 13'(-k);
        pf   = p0;
        lost = (sh >= 13'd80) ? {W{1'b1}} : ((W'(1) << sh[6:0]) - W'(1));
        cf   = ((sh >= 13'd80) ? W'(0) : (c0 >> sh[6:0])) | W'(|(c0 & lost));
      end
    end

    // Sign-magnitude sum.
    begin
      eff_sub = sp ^ sc;
      if (!eff_sub) begin
        m    = pf + cf;
        sign = sp;
      end else if (pf >= cf) begin
        m    = pf - cf;
        sign = sp;
      end else begin
        m    = cf - pf;
        sign = sc;
      end
    end

    // Normalize to 24 bits with the lowest bit at t = max(h - 23, -149 - lf), h the leading one.
    begin
      h = 7'd0;
      for (int i = 0; i < W; i++)
        if (m[i]) h = 7'(i);
    end
    begin
      t_norm = $signed({6'd0, h}) - 13'sd23;
      t_den  = -13'sd149 - lf;
      t      = (t_norm > t_den) ? t_norm : t_den;
      if (t <= 13'sd0) begin  // exact: shift up (the guard and sticky bits are zero)
        kept      = 24'(m << 7'(-t));
        mant      = kept;
        guard     = 1'b0;
        sticky    = 1'b0;
        lost_bits = '0;
      end else if (t >= 13'sd81) begin
        kept      = '0;
        mant      = kept;
        guard     = 1'b0;
        sticky    = |m;
        lost_bits = '0;
      end else begin
        kept      = 24'(m >> 7'(t));
        mant      = kept;
        guard     = m[7'(t - 13'sd1)];
        lost_bits = (W'(1) << 7'(t - 13'sd1)) - W'(1);
        sticky    = |(m & lost_bits);
      end
    end

    round_up = guard & (sticky | mant[0]);
    rounded  = {1'b0, mant} + {24'd0, round_up};
    begin
      if (rounded[24]) begin
        mant_r  = rounded[24:1];
        e_final = t + lf + 13'sd151;
      end else begin
        mant_r  = rounded[23:0];
        e_final = t + lf + 13'sd150;
      end
    end

    begin
      if (m == '0) finite = {sp & sc & (a_zero | b_zero) & c_zero, 31'd0};  // exact zero: +0 unless -0 + -0
      else if (e_final >= 13'sd255) finite = {sign, 8'hFF, 23'd0};
      else finite = {sign, mant_r[23] ? e_final[7:0] : 8'd0, mant_r[22:0]};
    end

    prod_nan = (a_inf && b_zero) || (b_inf && a_zero);
    prod_inf = a_inf || b_inf;
    if (a_nan || b_nan || c_nan || prod_nan || (prod_inf && c_inf && (sp != sc))) y = 32'h7FC0_0000;
    else if (prod_inf) y = {sp, 8'hFF, 23'd0};
    else if (c_inf) y = {sc, 8'hFF, 23'd0};
    else y = finite;
  endfunction
endpackage
