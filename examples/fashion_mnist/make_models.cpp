// Writes the example models as ONNX files, the way PyTorch exports them (opset 13), with
// PyTorch's default initialization (uniform in +-1/sqrt(fan_in)) from a fixed seed:
//   mlp.onnx  Flatten -> Linear(784, 64) -> ReLU -> Linear(64, 10), input [batch, 1, 28, 28].
// Usage: make_models OUTPUT_DIR   (the committed files were made with it; users need no Python).
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

namespace {

struct Builder {
  onnx::GraphProto* g;
  std::mt19937 gen{20261128};
  void linear(const std::string& name, int in, int out) {
    const float bound = 1.0f / std::sqrt(float(in));
    std::uniform_real_distribution<float> u(-bound, bound);
    const auto tensor = [&](const std::string& n, std::vector<std::int64_t> dims) {
      auto* t = g->add_initializer();
      t->set_name(n);
      t->set_data_type(onnx::TensorProto::FLOAT);
      std::int64_t count = 1;
      for (auto d : dims) t->add_dims(d), count *= d;
      for (std::int64_t i = 0; i < count; ++i) t->add_float_data(u(gen));
    };
    tensor(name + ".weight", {out, in});
    tensor(name + ".bias", {out});
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name("/" + out + "/" + op);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  }
  void gemm(const std::string& x, const std::string& layer, const std::string& out) {
    auto* n = node("Gemm", {x, layer + ".weight", layer + ".bias"}, out);
    for (const char* a : {"alpha", "beta"}) {
      auto* at = n->add_attribute();
      at->set_name(a);
      at->set_type(onnx::AttributeProto::FLOAT);
      at->set_f(1.0f);
    }
    auto* tb = n->add_attribute();
    tb->set_name("transB");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(1);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_models OUTPUT_DIR\n";
    return 2;
  }
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("tatami examples/fashion_mnist/make_models");
  m.add_opset_import()->set_version(13);
  Builder b{m.mutable_graph()};
  b.g->set_name("fashion_mnist_mlp");
  auto* in = b.g->add_input();
  in->set_name("input");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int d : {1, 28, 28}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  b.linear("fc1", 784, 64);
  b.linear("fc2", 64, 10);
  auto* flat = b.node("Flatten", {"input"}, "flat");
  auto* ax = flat->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(1);
  b.gemm("flat", "fc1", "hidden");
  b.node("Relu", {"hidden"}, "act");
  b.gemm("act", "fc2", "logits");
  b.g->add_output()->set_name("logits");
  std::ofstream f(std::string(argv[1]) + "/mlp.onnx", std::ios::binary);
  if (!m.SerializeToOstream(&f)) {
    std::cerr << "cannot write mlp.onnx\n";
    return 1;
  }
  return 0;
}
