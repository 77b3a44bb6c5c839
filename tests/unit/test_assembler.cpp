// The program container: .tasm text, the binary form, and their errors.
#include <doctest/doctest.h>

#include "tatami/arch/assembler.h"

using namespace tatami;

namespace {

/// Text for one instance of every opcode, built from the opcode table.
std::string everyOpcode() {
  std::string text = "start:\n";
  for (std::size_t i = 0; i < std::size_t(Op::Count); ++i) {
    const OpInfo& info = opInfo(Op(i));
    std::string line = std::string("  ") + info.mnemonic;
    switch (info.types) {
      case TypeSet::NONE: break;
      case TypeSet::CVT: line += ".f32.bf16"; break;
      case TypeSet::CFP8: line += ".e5m2"; break;
      case TypeSet::MATRIX: line += ".bf16"; break;
      case TypeSet::I32: line += ".i32"; break;
      default: line += ".f32"; break;
    }
    const std::string ops = info.operands;
    for (std::size_t k = 0; k < ops.size(); ++k) {
      line += k ? ", " : " ";
      switch (ops[k]) {
        case 'd': line += "r" + std::to_string(k + 1); break;
        case 'x': line += (i % 2) ? "-7" : "r31"; break;
        case 'i': line += info.unit == Unit::Dma ? "none" : "12"; break;
        case 'L': line += "start"; break;
        case 's': line += "3"; break;
        case 'M': line += "[r4 + 16]"; break;
      }
    }
    text += line + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("instructions assemble into their fields") {
  const Program p = assemble(
      ".equ BASE 0x100\n"
      "  li r1, BASE + 2*8   ; a comment\n"
      "loop: add r2, r2, 1\n"
      "  add r3, r2, r1\n"
      "  blt r2, r1, loop\n"
      "  ld r4, [r1 - 8]\n"
      "  vadd.bf16 r5, r6, r7, r8\n"
      "  vcvtsr.f32.e4m3 r1, r2, r3, r4, r5\n"
      "  dma r1, r2, r3, 5\n"
      "  swait 7, 2\n"
      "  halt\n",
      "t.tasm");
  REQUIRE(p.code.size() == 10);
  CHECK(p.code[0].op == Op::Li);
  CHECK(p.code[0].imm == 0x110);
  CHECK(p.code[1].immOperand);
  CHECK(p.code[1].imm == 1);
  CHECK(!p.code[2].immOperand);
  CHECK(p.code[2].r[2] == 1);
  CHECK(p.code[3].imm == 1);  // the label's instruction index
  CHECK(p.code[4].r[1] == 1);
  CHECK(p.code[4].imm == -8);
  CHECK(p.code[5].type == DType::Bf16);
  CHECK(p.code[6].type2 == DType::F32);
  CHECK(p.code[6].type == DType::E4m3);
  CHECK(p.code[7].imm == 5);
  CHECK(p.code[8].r[0] == 7);
  CHECK(p.code[8].imm == 2);
  CHECK(p.labels == std::vector<Label>{{"loop", 1}});
}

TEST_CASE("directives: threads, init blocks and outputs") {
  const Program p = assemble(
      ".init 64 f32 values 1.5 -2 3e-3\n"
      ".init 0x1000 bf16 random 100 42 -1 1\n"
      ".output C 0x2000 f32 16x16\n"
      "main: halt\n"
      "worker: halt\n"
      ".thread 2 worker\n",
      "t.tasm");
  REQUIRE(p.inits.size() == 2);
  // FP32 values are held as the FP32 numbers SRAM will hold (3e-3 is not one).
  CHECK(p.inits[0].values == std::vector<double>{1.5, -2, double(3e-3f)});
  CHECK(p.inits[0].values[2] != 3e-3);
  CHECK(p.inits[1].kind == InitBlock::Kind::Random);
  CHECK(p.inits[1].count == 100);
  CHECK(p.outputs[0].shape == std::vector<std::uint64_t>{16, 16});
  CHECK(p.threads == std::vector<ThreadEntry>{{2, 1}});
  // Random values are in range and reproducible.
  double all[100];
  initRandomValues(p.inits[1], all);
  for (int i = 0; i < 100; ++i) {
    CHECK(all[i] >= -1.0);
    CHECK(all[i] < 1.0);
    CHECK(all[i] == initRandomValue(p.inits[1], std::uint64_t(i)));
  }
}

TEST_CASE("assembler errors name the file, line, column and reason") {
  const auto err = [](const std::string& text) {
    try {
      assemble(text, "bad.tasm");
    } catch (const ProgramError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("  halt\n  frob r1\n") == "bad.tasm:2:3: unknown instruction 'frob'");
  CHECK(err("  add r1, r2\n") == "bad.tasm:1:3: 'add' takes 3 operands, got 2");
  CHECK(err("  add r1, r32, r3\n") == "bad.tasm:1:11: expected a register r0..r31, got 'r32'");
  CHECK(err("  jmp nowhere\n") == "bad.tasm:1:7: unknown label 'nowhere'");
  CHECK(err("a: halt\na: halt\n") == "bad.tasm:2:1: label 'a' defined twice");
  CHECK(err("  vadd r1, r2, r3, r4\n") == "bad.tasm:1:3: 'vadd' needs one type suffix, e.g. vadd.f32");
  CHECK(err("  vexp.i32 r1, r2, r3\n") == "bad.tasm:1:3: 'vexp' does not take type i32");
  CHECK(err("  mma.f16 r1, r2, r3, r4\n") == "bad.tasm:1:3: unknown element type 'f16' (f32, bf16, e4m3, e5m2, i32)");
  CHECK(err("  li r1, 3 +\n") == "bad.tasm:1:13: expected a number in '3 +'");
  CHECK(err("  li r1, FOO\n") == "bad.tasm:1:10: unknown name 'FOO' in 'FOO'");
  CHECK(err("  sinc 300, 1\n") == "bad.tasm:1:8: expected a literal 0..255, got 300");
  CHECK(err("  li r18446744073709551615, 1\n  halt\n") == "bad.tasm:1:6: expected a register r0..r31, got 'r18446744073709551615'");
  // Integer expressions never wrap, trap or exhaust the stack.
  CHECK(err("  li r1, 9223372036854775807 + 1\n  halt\n") == "bad.tasm:1:33: a value outside 64 bits in '9223372036854775807 + 1'");
  CHECK(err(".equ M (-9223372036854775807-1)\n  li r1, M / -1\n  halt\n") == "bad.tasm:2:16: a value outside 64 bits in 'M / -1'");
  CHECK(err("  li r1, 1 << 64\n  halt\n") == "bad.tasm:1:17: a shift by 64 (0..63) in '1 << 64'");
  CHECK(err("  li r1, " + std::string(100, '(') + "1" + std::string(100, ')') + "\n  halt\n").find("more than 64 nested parentheses") !=
        std::string::npos);
  CHECK(err(".bogus 1\n halt\n") == "bad.tasm:1:1: unknown directive '.bogus' (.equ, .thread, .init, .output)");
  CHECK(err(".thread 5 x\nx: halt\n") == "bad.tasm:1:9: thread must be 0..3");
  CHECK(err("; nothing\n") == "bad.tasm: the program has no instructions");
  CHECK(err("  ld r1, r2\n") == "bad.tasm:1:10: expected a memory operand like [r1 + 8], got 'r2'");
}

TEST_CASE("every opcode survives text -> binary -> text -> binary") {
  const Program p = assemble(everyOpcode() + ".init 0 i32 values 1 2 3\n.output out 64 f32 4x4\n.thread 1 start\n", "all.tasm");
  CHECK(p.code.size() == std::size_t(Op::Count));
  const std::vector<std::uint8_t> bin = encodeBinary(p);
  CHECK(bin.size() > 16 * p.code.size());
  const Program fromBin = decodeBinary(bin, "all.bin");
  CHECK(fromBin == p);
  const Program fromText = assemble(disassemble(fromBin), "round.tasm");
  CHECK(fromText == p);
  CHECK(encodeBinary(fromText) == bin);
}

TEST_CASE("the binary loader rejects malformed files with the offset and the reason") {
  const Program p = assemble("  li r1, 5\nx: add r1, r1, 1\n  bne r1, r2, x\n  halt\n", "p.tasm");
  const std::vector<std::uint8_t> good = encodeBinary(p);
  const auto err = [](std::vector<std::uint8_t> bytes) {
    try {
      decodeBinary(bytes, "p.bin");
    } catch (const ProgramError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err({'X', 'Y', 'Z', 'W'}) == "p.bin: offset 0: not a Tatami binary program (no TTPG magic)");
  auto v = good;
  v[4] = 9;
  CHECK(err(v) == "p.bin: offset 4: format version 9 is not supported (this build reads version 1)");
  v = good;
  v.resize(30);
  CHECK(err(v) == "p.bin: offset 12: implausible instruction count 4");
  v = good;
  v[12] = 0x7E;  // the first instruction's opcode
  CHECK(err(v) == "p.bin: offset 12: instruction 0: invalid opcode 126");
  v = good;
  v[14] = 40;  // li's register field
  CHECK(err(v) == "p.bin: offset 14: instruction 0: register field 40 is not r0..r31");
  v = good;
  v[15] = 64;  // li's second register field, which it does not use (register 64 would be past the file)
  CHECK(err(v) == "p.bin: offset 15: instruction 0: register field 1 is not used by li and must be 0 (it is 64)");
  v = good;
  v[12 + 3 * 16 + 2] = 255;  // halt uses no register
  CHECK(err(v) == "p.bin: offset 62: instruction 3: register field 0 is not used by halt and must be 0 (it is 255)");
  v = good;
  v[12 + 2 * 16 + 8] = 99;  // bne's target
  CHECK(err(v) == "p.bin: instruction 2: branch target 99 is outside the program (0..3)");
  v = good;
  v.push_back(0);
  CHECK(err(v).find("unexpected bytes after the last section") != std::string::npos);
}
