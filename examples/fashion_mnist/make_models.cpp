// Writes the example models as ONNX files, the way PyTorch exports them (opset 13), with
// PyTorch's default initialization (uniform in +-1/sqrt(fan_in)) from a fixed seed:
//   mlp.onnx  Flatten -> Linear(784, 64) -> ReLU -> Linear(64, 10), input [batch, 1, 28, 28].
//   cnn.onnx  Conv(1, 8, 3, pad 1) -> ReLU -> MaxPool(2) -> Conv(8, 16, 3, pad 1) -> ReLU -> MaxPool(2)
//             -> Flatten -> Linear(784, 10), input [batch, 1, 28, 28].
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
  void linear(const std::string& name, int in, int out) { parameters(name, in, {out, in}, out); }
  void conv(const std::string& name, int in, int out, int k) { parameters(name, in * k * k, {out, in, k, k}, out); }
  void parameters(const std::string& name, int fanIn, std::vector<std::int64_t> weightDims, int out) {
    const float bound = 1.0f / std::sqrt(float(fanIn));
    std::uniform_real_distribution<float> u(-bound, bound);
    const auto tensor = [&](const std::string& n, std::vector<std::int64_t> dims) {
      auto* t = g->add_initializer();
      t->set_name(n);
      t->set_data_type(onnx::TensorProto::FLOAT);
      std::int64_t count = 1;
      for (auto d : dims) t->add_dims(d), count *= d;
      for (std::int64_t i = 0; i < count; ++i) t->add_float_data(u(gen));
    };
    tensor(name + ".weight", weightDims);
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
  void ints(onnx::NodeProto* n, const char* name, std::vector<std::int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  void convNode(const std::string& x, const std::string& layer, const std::string& out) {
    auto* n = node("Conv", {x, layer + ".weight", layer + ".bias"}, out);
    ints(n, "dilations", {1, 1});
    auto* group = n->add_attribute();
    group->set_name("group");
    group->set_type(onnx::AttributeProto::INT);
    group->set_i(1);
    ints(n, "kernel_shape", {3, 3});
    ints(n, "pads", {1, 1, 1, 1});
    ints(n, "strides", {1, 1});
  }
  void maxPool(const std::string& x, const std::string& out) {
    auto* n = node("MaxPool", {x}, out);
    ints(n, "kernel_shape", {2, 2});
    ints(n, "strides", {2, 2});
  }
};

onnx::ModelProto model(const std::string& name) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("tatami examples/fashion_mnist/make_models");
  m.add_opset_import()->set_version(13);
  m.mutable_graph()->set_name(name);
  auto* in = m.mutable_graph()->add_input();
  in->set_name("input");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int d : {1, 28, 28}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return m;
}

bool write(const onnx::ModelProto& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  if (m.SerializeToOstream(&f)) return true;
  std::cerr << "cannot write " << path << "\n";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_models OUTPUT_DIR\n";
    return 2;
  }
  onnx::ModelProto m = model("fashion_mnist_mlp");
  Builder b{m.mutable_graph()};
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
  if (!write(m, std::string(argv[1]) + "/mlp.onnx")) return 1;

  onnx::ModelProto c = model("fashion_mnist_cnn");
  Builder k{c.mutable_graph()};
  k.conv("conv1", 1, 8, 3);
  k.conv("conv2", 8, 16, 3);
  k.linear("fc", 784, 10);
  k.convNode("input", "conv1", "c1");
  k.node("Relu", {"c1"}, "r1");
  k.maxPool("r1", "p1");
  k.convNode("p1", "conv2", "c2");
  k.node("Relu", {"c2"}, "r2");
  k.maxPool("r2", "p2");
  auto* cflat = k.node("Flatten", {"p2"}, "flat");
  auto* cax = cflat->add_attribute();
  cax->set_name("axis");
  cax->set_type(onnx::AttributeProto::INT);
  cax->set_i(1);
  k.gemm("flat", "fc", "logits");
  k.g->add_output()->set_name("logits");
  return write(c, std::string(argv[1]) + "/cnn.onnx") ? 0 : 1;
}
