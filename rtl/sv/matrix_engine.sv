// The matrix engine: one 16 x 16 FP32 tile of C = A^T B (mmaz) or C += A^T B (mma) with BF16 or
// CFP8 (1-4-3 or 1-5-2, with the issuing thread's exponent bias) operands, on UNITS x UNITS units of DIM x DIM MACs (the D1 core: 2 x 2 units of 8 x 8), in the
// accumulation order docs/isa.md fixes: for k = 0..K-1, acc = fl32(acc + fl32(A[i][k] B[k][j])),
// each step one IEEE round to nearest even, NaN canonical.
//
// Streaming interface, valid/ready on each side:
//   command  (cmd_*):  K, mma or mmaz, and the C tile mma starts from;
//   rows     (row_*):  K panel rows, one per accepted cycle: row k of A (A[0..15][k]) and of B
//                      (B[k][0..15]), 16 values each (a CFP8 code in the low byte of its lane), broadcast to every unit (output-stationary:
//                      unit (p, q) keeps C[DIM p .. DIM p + DIM-1][DIM q .. DIM q + DIM-1]);
//   result   (out_*):  the tile, LATENCY cycles after the last row, held until out_ready.
// So a tile whose rows stream back to back takes K + LATENCY cycles from its first row, the
// occupancy plus core.matrix_latency_cycles of the timing model (docs/timing.md); the C write-back
// to SRAM is the core's. LATENCY must equal core.matrix_latency_cycles (checked by a test).
module matrix_engine #(
    parameter int UNITS   /*verilator public*/ = 2,
    parameter int DIM     /*verilator public*/ = 8,
    parameter int LATENCY /*verilator public*/ = 8
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic                  cmd_valid,
    output logic                  cmd_ready,
    input  logic                  cmd_accumulate,  // 1: mma (start from c_in), 0: mmaz (from +0)
    input  logic [1:0]            cmd_format,      // 0: BF16, 1: CFP8 1-4-3, 2: CFP8 1-5-2
    input  logic [5:0]            cmd_bias,        // the CFP8 exponent bias
    input  logic [12:0]           cmd_k,           // 2..4096
    input  logic [256*32-1:0]     c_in,
    input  logic                  row_valid,
    output logic                  row_ready,
    input  logic [16*16-1:0]      a_row,
    input  logic [16*16-1:0]      b_row,
    output logic                  out_valid,
    input  logic                  out_ready,
    output logic [256*32-1:0]     c_out,
    output logic [7:0]            latency_cycles
);
  localparam int N = UNITS * DIM;  // 16: the tile's side
  assign latency_cycles = 8'(LATENCY);

  typedef enum logic [1:0] { IDLE, ACCUMULATE, DRAIN, DONE } state_t;
  state_t      state;
  logic [12:0] rows_left;
  logic [7:0]  drain_left;
  logic [31:0] acc [N*N];
  logic [1:0]  format;
  logic [5:0]  bias;

  // Operands to FP32 (exact for every format), once per row and column.
  logic [31:0] a_fp32 [N];
  logic [31:0] b_fp32 [N];
  for (genvar i = 0; i < N; i++) begin : g_decode
    always_comb begin
      if (format == 2'd0) {a_fp32[i], b_fp32[i]} = {a_row[i*16+:16], 16'd0, b_row[i*16+:16], 16'd0};
      else begin
        cfp8_to_fp32_pkg::cfp8_to_fp32(a_row[i*16+:8], format == 2'd2, bias, a_fp32[i]);
        cfp8_to_fp32_pkg::cfp8_to_fp32(b_row[i*16+:8], format == 2'd2, bias, b_fp32[i]);
      end
    end
  end

  assign cmd_ready = state == IDLE;
  assign row_ready = state == ACCUMULATE;
  assign out_valid = state == DONE;
  for (genvar e = 0; e < N * N; e++) begin : g_out
    assign c_out[e*32+:32] = acc[e];
  end

  // The MAC array: unit (p, q), element (r, s) of its DIM x DIM block is C[DIM p + r][DIM q + s].
  // Each MAC multiplies and adds at the clock edge that takes a row (the arithmetic is a pair of
  // functions called from the accumulator's register, so a simulation evaluates it only then).
  for (genvar p = 0; p < UNITS; p++) begin : g_unit_row
    for (genvar q = 0; q < UNITS; q++) begin : g_unit_col
      for (genvar r = 0; r < DIM; r++) begin : g_row
        for (genvar s = 0; s < DIM; s++) begin : g_col
          localparam int I = DIM * p + r, J = DIM * q + s;
          always_ff @(posedge clk) begin
            logic [31:0] product, sum;
            if (state == IDLE && cmd_valid) acc[I*N+J] <= cmd_accumulate ? c_in[(I*N+J)*32+:32] : 32'd0;
            else if (state == ACCUMULATE && row_valid) begin
              fp32_mul_pkg::fp32_mul(a_fp32[I], b_fp32[J], product);
              fp32_add_pkg::fp32_add(acc[I*N+J], product, 1'b0, sum);
              acc[I*N+J] <= sum;
            end
          end
        end
      end
    end
  end

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      state      <= IDLE;
      rows_left  <= 13'd0;
      drain_left <= 8'd0;
      format     <= 2'd0;
      bias       <= 6'd0;
    end else begin
      case (state)
        IDLE:
          if (cmd_valid) begin
            state     <= ACCUMULATE;
            rows_left <= cmd_k;
            format    <= cmd_format;
            bias      <= cmd_bias;
          end
        ACCUMULATE:
          if (row_valid) begin
            rows_left <= rows_left - 13'd1;
            if (rows_left == 13'd1) begin
              state      <= (LATENCY > 0) ? DRAIN : DONE;
              drain_left <= 8'(LATENCY);
            end
          end
        DRAIN: begin
          drain_left <= drain_left - 8'd1;
          if (drain_left == 8'd1) state <= DONE;
        end
        DONE:
          if (out_ready) state <= IDLE;
      endcase
    end
  end

endmodule
