// What an FP32 value is, from its magnitude (bits 30:0; the sign does not matter): NaN, infinite
// or zero. Functions, shared by every datapath block.
package fp32_class_pkg;
  function automatic logic is_nan(input logic [30:0] x);
    return x[30:23] == 8'hFF && x[22:0] != 23'd0;
  endfunction
  function automatic logic is_inf(input logic [30:0] x);
    return x[30:23] == 8'hFF && x[22:0] == 23'd0;
  endfunction
  function automatic logic is_zero(input logic [30:0] x);
    return x[30:0] == 31'd0;
  endfunction
endpackage
