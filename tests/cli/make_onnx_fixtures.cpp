// Writes small ONNX models for the command-line tests, built with the ONNX C++ API (so that the
// tests need no Python): mlp.onnx, a 20 -> 12 -> 4 MLP with a symbolic batch dimension, and
// embed.onnx, token embeddings (Gather on a table with int64 ids) flattened into a linear layer.
#include <onnx/onnx_pb.h>

#include <fstream>
#include <iostream>
#include <random>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_onnx_fixtures OUTPUT_DIR\n";
    return 2;
  }
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("tatami tests");
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("mlp");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(20);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  const auto init = [&](const char* name, std::vector<std::int64_t> dims) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t n = 1;
    for (auto d : dims) t->add_dims(d), n *= d;
    for (std::int64_t i = 0; i < n; ++i) t->add_float_data(u(gen));
  };
  init("fc1.weight", {12, 20});
  init("fc1.bias", {12});
  init("fc2.weight", {4, 12});
  init("fc2.bias", {4});
  const auto node = [&](const char* op, std::vector<std::string> ins, const char* out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(std::string("/") + out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  const auto transB = [](onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("transB");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
  };
  transB(node("Gemm", {"x", "fc1.weight", "fc1.bias"}, "h"));
  node("Relu", {"h"}, "a");
  transB(node("Gemm", {"a", "fc2.weight", "fc2.bias"}, "logits"));
  g->add_output()->set_name("logits");
  std::ofstream f(std::string(argv[1]) + "/mlp.onnx", std::ios::binary);
  if (!m.SerializeToOstream(&f)) {
    std::cerr << "cannot write " << argv[1] << "/mlp.onnx\n";
    return 1;
  }
  // embed.onnx: ids [batch, 4] (int64) -> Gather(emb.weight [10, 16]) -> Flatten -> Gemm -> [batch, 3].
  onnx::ModelProto e;
  e.set_ir_version(8);
  e.set_producer_name("tatami tests");
  e.add_opset_import()->set_version(13);
  g = e.mutable_graph();
  g->set_name("embed");
  auto* ids = g->add_input();
  ids->set_name("ids");
  auto* it = ids->mutable_type()->mutable_tensor_type();
  it->set_elem_type(onnx::TensorProto::INT64);
  it->mutable_shape()->add_dim()->set_dim_param("batch");
  it->mutable_shape()->add_dim()->set_dim_value(4);
  init("emb.weight", {10, 16});
  init("fc.weight", {3, 64});
  init("fc.bias", {3});
  node("Gather", {"emb.weight", "ids"}, "tokens");
  auto* flat = node("Flatten", {"tokens"}, "flat");
  auto* axis = flat->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(1);
  transB(node("Gemm", {"flat", "fc.weight", "fc.bias"}, "logits"));
  g->add_output()->set_name("logits");
  std::ofstream fe(std::string(argv[1]) + "/embed.onnx", std::ios::binary);
  if (!e.SerializeToOstream(&fe)) {
    std::cerr << "cannot write " << argv[1] << "/embed.onnx\n";
    return 1;
  }
  return 0;
}
