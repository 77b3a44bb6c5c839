// FP32 to a narrower float format, bit-exact with tatami::encode (docs/formats.md): BF16 (EXP 8,
// MANT 7, IEEE 1: Inf and NaN exist, every NaN becomes the canonical quiet NaN, overflow gives Inf)
// or CFP8 1-4-3 / 1-5-2 (IEEE 0: no Inf or NaN; NaN gives +0, Inf and overflow saturate to the
// largest finite value) with an exponent bias. Denormals are kept on both sides. Rounding: to
// nearest even, or stochastic: the magnitude rounds up iff `rnd` < the discarded fraction of a
// unit in the last place as a 32-bit fixed-point number. Combinational.
//
// |x| = sig 2^lsb_exp exactly. The result's last place weighs 2^target_lsb with target_lsb =
// max(floor(log2|x|), 1 - bias) - MANT, always at least one bit above FP32's for these formats
// (BF16: 16 bits; CFP8: 20 or more), so `shift` >= 1: sig shifted right through a 56-bit frame
// gives the kept bits q and the discarded fraction (exact while shift <= 32; beyond, the fraction
// is below half and only its top 32 bits matter).
module fp32_to_narrow #(
    parameter int EXP  = 8,
    parameter int MANT = 7,
    parameter bit IEEE = 1
) (
    input  logic [31:0]         x,
    input  logic [7:0]          bias,
    input  logic                stochastic,
    input  logic [31:0]         rnd,
    output logic [EXP+MANT:0]   code
);
  localparam int MAX_EXP_FIELD = (1 << EXP) - (IEEE ? 2 : 1);  // largest finite exponent field
  localparam logic [EXP+MANT-1:0] MAX_FINITE = {EXP'(MAX_EXP_FIELD), {MANT{1'b1}}};
  localparam logic [EXP+MANT-1:0] INF_CODE = {{EXP{1'b1}}, {MANT{1'b0}}};

  logic        sign;
  logic [7:0]  e8;
  logic [22:0] m23;
  assign {sign, e8, m23} = x;
  logic nan, inf, zero;
  fp32_class u_class (.x(x[30:0]), .nan(nan), .inf(inf), .zero(zero));

  logic [23:0] sig;
  logic signed [10:0] lsb_exp, top_exp, min_normal, target_lsb, shift, unbiased, biased;
  logic [4:0]  lead;  // the leading one of sig
  logic [5:0]  sh;
  logic [55:0] wide;
  logic [23:0] q;
  logic [31:0] frac;
  logic        up;
  logic [24:0] rounded;
  logic [EXP+MANT-1:0] magnitude;

  assign sig     = e8 != 8'd0 ? {1'b1, m23} : {1'b0, m23};
  assign lsb_exp = e8 != 8'd0 ? 11'($signed({3'd0, e8})) - 11'sd150 : -11'sd149;

  always_comb begin
    lead = 5'd0;
    for (int i = 0; i < 24; i++)
      if (sig[i]) lead = 5'(i);
    top_exp    = lsb_exp + 11'($signed({6'd0, lead}));
    min_normal = 11'sd1 - 11'($signed({3'd0, bias}));
    target_lsb = (top_exp > min_normal ? top_exp : min_normal) - 11'(MANT);
    shift      = target_lsb - lsb_exp;
    sh         = shift > 11'sd56 ? 6'd56 : 6'(shift);
    wide       = {sig, 32'd0} >> sh;
    q          = wide[55:32];
    frac       = wide[31:0];
    up         = stochastic ? (rnd < frac) : (frac[31] && (frac[30:0] != 31'd0 || q[0]));
    rounded    = {1'b0, q} + {24'd0, up};
    unbiased   = target_lsb + 11'(MANT);
    if (rounded[MANT+1]) begin  // the rounding carried into the next binade
      rounded  = rounded >> 1;
      unbiased = unbiased + 11'sd1;
    end
    biased = unbiased + 11'($signed({3'd0, bias}));
    if (!rounded[MANT]) magnitude = (EXP+MANT)'(rounded);  // subnormal or zero
    else if (biased > 11'(MAX_EXP_FIELD)) magnitude = IEEE ? INF_CODE : MAX_FINITE;
    else magnitude = {EXP'(biased), rounded[MANT-1:0]};
  end

  always_comb begin
    if (nan) code = IEEE ? {1'b0, INF_CODE | (EXP+MANT)'(1 << (MANT - 1))} : '0;
    else if (inf) code = {sign, IEEE ? INF_CODE : MAX_FINITE};
    else if (zero) code = {sign, (EXP+MANT)'(0)};
    else code = {sign, magnitude};
  end
endmodule
