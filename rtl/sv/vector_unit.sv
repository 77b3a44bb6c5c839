// The vector unit: one 64 B vector per cycle of add, sub, mul, fused multiply-add, max, min and
// conversion, on FP32 (16 lanes), BF16 (32) or CFP8 1-4-3 / 1-5-2 (64) elements (docs/isa.md,
// "Floating-point lanes"): every lane decodes its operands to FP32 exactly, computes in FP32 with
// one rounding to nearest even, and encodes the result in the destination type, rounding to
// nearest even or, with `stochastic`, by the draw Philox4x32-10 gives for (seed; element / 4,
// tensor), word element mod 4 (arch/philox.h). Arithmetic has dst_type = src_type; a conversion
// takes 64 / max(source, destination size) elements, packed from bit 0 of `a`, and returns them
// packed from bit 0 of `y`. Lane l of a vector is element `element` + l.
//
// Pipelined LATENCY cycles deep with a valid/ready handshake on both sides: a vector is accepted
// when in_valid and in_ready are high at a clock edge; its result is presented LATENCY edges later
// and held until out_ready; the whole pipeline stalls while a result waits. LATENCY must equal
// core.vector_latency_cycles of the architecture config (a test checks latency_cycles).
module vector_unit #(
    parameter int LATENCY /*verilator public*/ = 4
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic         in_valid,
    output logic         in_ready,
    input  logic [2:0]   op,          // 0 add, 1 sub, 2 mul, 3 max, 4 min, 5 fma (a * b + c), 6 convert
    input  logic [1:0]   src_type,    // 0 FP32, 1 BF16, 2 CFP8 1-4-3, 3 CFP8 1-5-2
    input  logic [1:0]   dst_type,
    input  logic         stochastic,  // round the result stochastically (narrow destinations)
    input  logic [5:0]   bias_e4m3,   // the issuing thread's CFP8 exponent biases
    input  logic [5:0]   bias_e5m2,
    input  logic [63:0]  seed,        // stochastic rounding key and position
    input  logic [63:0]  tensor,
    input  logic [63:0]  element,
    input  logic [511:0] a,
    input  logic [511:0] b,
    input  logic [511:0] c,
    output logic         out_valid,
    input  logic         out_ready,
    output logic [511:0] y,
    output logic [7:0]   latency_cycles
);
  localparam logic [1:0] F32 = 2'd0, BF16 = 2'd1, E4M3 = 2'd2, E5M2 = 2'd3;
  assign latency_cycles = 8'(LATENCY);

  logic [5:0] src_bias;
  assign src_bias = src_type == E5M2 ? bias_e5m2 : bias_e4m3;

  // Stochastic rounding draws: lane l is word (element mod 4 + l) mod 4 of block
  // (element mod 4 + l) / 4, counted from element / 4; 64 lanes span at most 17 blocks. Block
  // numbers wrap at 2^62, as (element + l) / 4 does when element + l wraps at 2^64.
  logic [31:0] draws[68];
  for (genvar j = 0; j < 17; j++) begin : g_block
    logic [61:0] block;
    assign block = element[63:2] + 62'(j);
    always_comb begin
      {draws[4*j+3], draws[4*j+2], draws[4*j+1], draws[4*j]} = '0;
      if (stochastic)
        philox4x32_pkg::philox4x32({tensor[63:32], tensor[31:0], 2'b00, block[61:32], block[31:0]}, seed,
                                   {draws[4*j+3], draws[4*j+2], draws[4*j+1], draws[4*j]});
    end
  end

  // Every lane's logic is void functions (statements), so that a simulation evaluates only what
  // the command selects: the source type's decoding, the operation, the destination's encoding.
  logic [511:0] y_f32, y_bf16, y_8;
  for (genvar l = 0; l < 64; l++) begin : g_lane
    // Operands as FP32: the lane's element of the source type.
    logic [31:0] x, z, w;
    always_comb begin
      {x, z, w} = '0;
      if (src_type == E4M3 || src_type == E5M2) begin
        cfp8_to_fp32_pkg::cfp8_to_fp32(a[l*8+:8], src_type == E5M2, src_bias, x);
        if (op != 3'd6) cfp8_to_fp32_pkg::cfp8_to_fp32(b[l*8+:8], src_type == E5M2, src_bias, z);
        if (op == 3'd5) cfp8_to_fp32_pkg::cfp8_to_fp32(c[l*8+:8], src_type == E5M2, src_bias, w);
      end else if (src_type == BF16) begin
        if (l < 32) {x, z, w} = {a[l%32*16+:16], 16'd0, b[l%32*16+:16], 16'd0, c[l%32*16+:16], 16'd0};
      end else if (l < 16) begin
        {x, z, w} = {a[l%16*32+:32], b[l%16*32+:32], c[l%16*32+:32]};
      end
    end

    // The FP32 result.
    logic [31:0] mx, mn, r;
    fp32_minmax u_minmax (.a(x), .b(z), .max_out(mx), .min_out(mn));
    always_comb begin
      case (op)
        3'd0, 3'd1: fp32_add_pkg::fp32_add(x, z, op == 3'd1, r);
        3'd2:       fp32_mul_pkg::fp32_mul(x, z, r);
        3'd3:       r = mx;
        3'd4:       r = mn;
        3'd5:       fp32_fma_pkg::fp32_fma(x, z, w, r);
        default:    r = fp32_class_pkg::is_nan(x[30:0]) ? 32'h7FC0_0000 : x;  // convert: NaN made canonical
      endcase
    end

    // The result in the destination type.
    logic [31:0] draw;
    logic [15:0] narrow;
    assign draw = draws[32'(element[1:0]) + l];
    always_comb begin
      narrow = 16'd0;
      case (dst_type)
        BF16: if (l < 32) fp32_to_narrow_pkg::fp32_to_narrow(r, 4'd8, 3'd7, 1'b1, 8'd127, stochastic, draw, narrow);
        E4M3: fp32_to_narrow_pkg::fp32_to_narrow(r, 4'd4, 3'd3, 1'b0, {2'b00, bias_e4m3}, stochastic, draw, narrow);
        E5M2: fp32_to_narrow_pkg::fp32_to_narrow(r, 4'd5, 3'd2, 1'b0, {2'b00, bias_e5m2}, stochastic, draw, narrow);
        default: ;
      endcase
    end
    assign y_8[l*8+:8] = narrow[7:0];
    if (l < 32) begin : g_bf16
      assign y_bf16[l*16+:16] = narrow;
    end else begin : g_unused
      logic unused_high;
      assign unused_high = ^narrow[15:8];
    end
    if (l < 16) begin : g_f32
      assign y_f32[l*32+:32] = r;
    end
  end

  logic [511:0] result;
  always_comb begin
    case (dst_type)
      F32:     result = y_f32;
      BF16:    result = y_bf16;
      default: result = y_8;
    endcase
  end

  // LATENCY register stages; stage LATENCY-1 is the output.
  logic [511:0] data  [LATENCY];
  logic         valid [LATENCY];
  logic         advance;
  assign advance   = !(valid[LATENCY-1] && !out_ready);
  assign in_ready  = advance;
  assign out_valid = valid[LATENCY-1];
  assign y         = data[LATENCY-1];

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      for (int s = 0; s < LATENCY; s++) valid[s] <= 1'b0;
    end else if (advance) begin
      valid[0] <= in_valid;
      for (int s = 1; s < LATENCY; s++) valid[s] <= valid[s-1];
    end
  end
  always_ff @(posedge clk) begin
    if (advance) begin
      data[0] <= result;
      for (int s = 1; s < LATENCY; s++) data[s] <= data[s-1];
    end
  end
endmodule
