// What an FP32 value is, from its magnitude (the sign does not matter): NaN, infinite or zero.
// Combinational; shared by the lanes.
module fp32_class (
    input  logic [30:0] x,
    output logic        nan,
    output logic        inf,
    output logic        zero
);
  assign nan  = (x[30:23] == 8'hFF) && (x[22:0] != 23'd0);
  assign inf  = (x[30:23] == 8'hFF) && (x[22:0] == 23'd0);
  assign zero = x == 31'd0;
endmodule
