// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator of stochastic rounding
// (arch/philox.h, docs/isa.md): ten rounds of two 32 x 32 -> 64-bit multiplies on the counter, the
// key bumped by the Weyl constants between rounds. Word i of `ctr`/`out` is bits [32i+31:32i],
// key word 0 is key[31:0]. A void function: a statement, which a simulation evaluates only where
// it stands (the vector unit draws only for stochastic rounding).
package philox4x32_pkg;
  function automatic void philox4x32(input logic [127:0] ctr, input logic [63:0] key, output logic [127:0] out);
    localparam logic [31:0] M0 = 32'hD251_1F53, M1 = 32'hCD9E_8D57;
    localparam logic [31:0] W0 = 32'h9E37_79B9, W1 = 32'hBB67_AE85;
    logic [31:0] c0, c1, c2, c3, k0, k1;
    logic [63:0] p0, p1;
    {c3, c2, c1, c0} = ctr;
    {k1, k0} = key;
    for (int round = 0; round < 10; round++) begin
      p0 = 64'(M0) * 64'(c0);
      p1 = 64'(M1) * 64'(c2);
      {c0, c1, c2, c3} = {p1[63:32] ^ c1 ^ k0, p1[31:0], p0[63:32] ^ c3 ^ k1, p0[31:0]};
      k0 = k0 + W0;
      k1 = k1 + W1;
    end
    out = {c3, c2, c1, c0};
  endfunction
endpackage
