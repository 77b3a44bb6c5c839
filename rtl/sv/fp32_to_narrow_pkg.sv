// FP32 to a narrower float format, bit-exact with tatami::encode (docs/formats.md): BF16 (exp_bits
// 8, mant_bits 7, ieee 1: Inf and NaN exist, every NaN becomes the canonical quiet NaN, overflow
// gives Inf) or CFP8 1-4-3 / 1-5-2 (ieee 0: no Inf or NaN; NaN gives +0, Inf and overflow saturate
// to the largest finite value) with an exponent bias. Denormals are kept on both sides. Rounding:
// to nearest even, or stochastic: the magnitude rounds up iff `rnd` < the discarded fraction of a
// unit in the last place as a 32-bit fixed-point number. The code is right-aligned in `code`.
// A void function: a statement, which a simulation evaluates only where it stands (a vector lane
// encodes only into the destination type).
//
// |x| = sig 2^lsb_exp exactly. The result's last place weighs 2^target_lsb with target_lsb =
// max(floor(log2|x|), 1 - bias) - mant_bits, always at least one bit above FP32's for these
// formats (BF16: 16 bits; CFP8: 20 or more), so `shift` >= 1: sig shifted right through a 56-bit
// frame gives the kept bits q and the discarded fraction (exact while shift <= 32; beyond, the
// fraction is below half and only its top 32 bits matter).
package fp32_to_narrow_pkg;
  function automatic void fp32_to_narrow(input logic [31:0] x, input logic [3:0] exp_bits, input logic [2:0] mant_bits, input logic ieee,
                                         input logic [7:0] bias, input logic stochastic, input logic [31:0] rnd, output logic [15:0] code);
    logic        sign, nan, inf;
    logic [7:0]  e8;
    logic [22:0] m23;
    logic [23:0] sig, q;
    logic signed [10:0] lsb_exp, top_exp, min_normal, target_lsb, shift, unbiased, biased, max_exp_field;
    logic [4:0]  lead;
    logic [5:0]  sh;
    logic [55:0] wide;
    logic [31:0] frac;
    logic        up;
    logic [24:0] rounded;
    logic [14:0] mant_mask, inf_code, max_finite, magnitude;
    {sign, e8, m23} = x;
    nan           = fp32_class_pkg::is_nan(x[30:0]);
    inf           = fp32_class_pkg::is_inf(x[30:0]);
    max_exp_field = 11'((16'd1 << exp_bits) - (ieee ? 16'd2 : 16'd1));
    mant_mask     = 15'((16'd1 << mant_bits) - 16'd1);
    inf_code      = 15'(((16'd1 << exp_bits) - 16'd1) << mant_bits);
    max_finite    = 15'(max_exp_field) << mant_bits | mant_mask;

    sig     = e8 != 8'd0 ? {1'b1, m23} : {1'b0, m23};
    lsb_exp = e8 != 8'd0 ? 11'($signed({3'd0, e8})) - 11'sd150 : -11'sd149;
    lead    = 5'd0;
    for (int i = 0; i < 24; i++)
      if (sig[i]) lead = 5'(i);
    top_exp    = lsb_exp + 11'($signed({6'd0, lead}));
    min_normal = 11'sd1 - 11'($signed({3'd0, bias}));
    target_lsb = (top_exp > min_normal ? top_exp : min_normal) - 11'($signed({8'd0, mant_bits}));
    shift      = target_lsb - lsb_exp;
    sh         = shift > 11'sd56 ? 6'd56 : 6'(shift);
    wide       = {sig, 32'd0} >> sh;
    q          = wide[55:32];
    frac       = wide[31:0];
    up         = stochastic ? (rnd < frac) : (frac[31] && (frac[30:0] != 31'd0 || q[0]));
    rounded    = {1'b0, q} + {24'd0, up};
    unbiased   = target_lsb + 11'($signed({8'd0, mant_bits}));
    if (rounded[5'(mant_bits) + 5'd1]) begin  // the rounding carried into the next binade
      rounded  = rounded >> 1;
      unbiased = unbiased + 11'sd1;
    end
    biased = unbiased + 11'($signed({3'd0, bias}));
    if (!rounded[5'(mant_bits)]) magnitude = 15'(rounded);  // subnormal or zero
    else if (biased > max_exp_field) magnitude = ieee ? inf_code : max_finite;
    else magnitude = 15'(biased) << mant_bits | (15'(rounded) & mant_mask);

    if (nan) code = ieee ? {1'b0, inf_code | 15'(1) << (mant_bits - 3'd1)} : 16'd0;
    else if (inf) code = 16'(sign) << (exp_bits + 4'(mant_bits)) | {1'b0, ieee ? inf_code : max_finite};
    else if (fp32_class_pkg::is_zero(x[30:0])) code = 16'(sign) << (exp_bits + 4'(mant_bits));
    else code = 16'(sign) << (exp_bits + 4'(mant_bits)) | 16'(magnitude);
  endfunction
endpackage
