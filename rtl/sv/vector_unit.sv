// The vector unit's FP32 datapath: LANES lanes (16 = one 64 B vector) of add, sub, mul, fused
// multiply-add, max and min, and conversions between FP32 and BF16 (a BF16 value in the low half
// of its lane), pipelined LATENCY cycles deep with a valid/ready handshake on both sides. A vector is
// accepted when in_valid and in_ready are high at a clock edge; its result is presented LATENCY
// edges later and held until out_ready. The whole pipeline stalls while a result waits.
// LATENCY must equal core.vector_latency_cycles of the architecture config (a test checks the
// value this block reports on latency_cycles).
module vector_unit #(
    parameter int LANES   = 16,
    parameter int LATENCY = 4
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic                   in_valid,
    output logic                   in_ready,
    input  logic [2:0]             op,  // 0 add, 1 sub, 2 mul, 3 max, 4 min, 5 fma (a * b + c),
                                        // 6 FP32 -> BF16 (round to nearest even), 7 BF16 -> FP32
    input  logic [LANES*32-1:0]    a,
    input  logic [LANES*32-1:0]    b,
    input  logic [LANES*32-1:0]    c,
    output logic                   out_valid,
    input  logic                   out_ready,
    output logic [LANES*32-1:0]    y,
    output logic [7:0]             latency_cycles
);
  assign latency_cycles = 8'(LATENCY);

  logic [LANES*32-1:0] result;
  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic [31:0] x, z, w, sum, prod, fused, mx, mn;
    assign x = a[l*32+:32];
    assign z = b[l*32+:32];
    assign w = c[l*32+:32];
    fp32_fma u_fma (.a(x), .b(z), .c(w), .y(fused));
    logic [15:0] narrowed;
    fp32_to_bf16 u_bf16 (.in_fp32(x), .out_bf16(narrowed));
    fp32_add u_add (.a(x), .b(z), .subtract(op == 3'd1), .y(sum));
    fp32_mul u_mul (.a(x), .b(z), .y(prod));
    fp32_minmax u_minmax (.a(x), .b(z), .max_out(mx), .min_out(mn));
    always_comb begin
      case (op)
        3'd0, 3'd1: result[l*32+:32] = sum;
        3'd2:       result[l*32+:32] = prod;
        3'd3:       result[l*32+:32] = mx;
        3'd5:       result[l*32+:32] = fused;
        3'd6:       result[l*32+:32] = {16'd0, narrowed};
        3'd7:       result[l*32+:32] = {x[15:0], 16'd0};
        default:    result[l*32+:32] = mn;
      endcase
    end
  end

  // LATENCY register stages; stage LATENCY-1 is the output.
  logic [LANES*32-1:0] data  [LATENCY];
  logic                valid [LATENCY];
  logic                advance;
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
