// Writes the example models as ONNX files, the way PyTorch exports them (opset 13), with
// PyTorch's default initialization (uniform in +-1/sqrt(fan_in)) from a fixed seed:
//   mlp.onnx  Flatten -> Linear(784, 64) -> ReLU -> Linear(64, 10), input [batch, 1, 28, 28].
//   cnn.onnx  Conv(1, 8, 3, pad 1) -> ReLU -> MaxPool(2) -> Conv(8, 16, 3, pad 1) -> ReLU -> MaxPool(2)
//             -> Flatten -> Linear(784, 10), input [batch, 1, 28, 28].
//   transformer/encoder.onnx  one post-norm transformer encoder layer (as torch.nn.TransformerEncoderLayer:
//             2 heads, ReLU feed-forward) over one-hot tokens [batch, 8, 8] with learned positional
//             embeddings, mean-pooled, then Linear(16, 2): the first-token-repeats task (make_task).
// Usage: make_models EXAMPLES_DIR   (the committed files were made with it; users need no Python).
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
  /// A [in, out] MatMul weight (as PyTorch exports Linear inside a graph that keeps batch dims)
  /// and its bias.
  void matmulWeights(const std::string& name, int in, int out) {
    parameters(name, in, {in, out}, out);
  }
  void constant(const std::string& name, std::vector<std::int64_t> dims, const std::vector<float>& values) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
  }
  void shape(const std::string& name, std::vector<std::int64_t> dims) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(std::int64_t(dims.size()));
    for (auto d : dims) t->add_int64_data(d);
  }
  /// y = x W + b over the last axis.
  void dense(const std::string& x, const std::string& layer, const std::string& out) {
    node("MatMul", {x, layer + ".weight"}, out + ".mm");
    node("Add", {out + ".mm", layer + ".bias"}, out);
  }
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

onnx::ModelProto model(const std::string& name, std::vector<std::int64_t> inputDims = {1, 28, 28}) {
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
  for (auto d : inputDims) tt->mutable_shape()->add_dim()->set_dim_value(d);
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
    std::cerr << "usage: make_models EXAMPLES_DIR\n";
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
  const std::string dir = argv[1];
  if (!write(m, dir + "/fashion_mnist/mlp.onnx")) return 1;

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
  if (!write(c, dir + "/fashion_mnist/cnn.onnx")) return 1;

  // The transformer encoder layer: T = 8 tokens of a vocabulary of V = 8, width D = 16, H = 2
  // heads of 8, feed-forward 32.
  const int T = 8, V = 8, D = 16, H = 2, F = 32;
  onnx::ModelProto e = model("first_token_repeats_encoder", {T, V});
  Builder t{e.mutable_graph()};
  t.parameters("embed", V, {V, D}, D);
  {
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    std::vector<float> pos(std::size_t(T * D));
    for (auto& p : pos) p = u(t.gen);
    t.constant("pos", {T, D}, pos);  // a learned parameter (initializer) like the others
  }
  for (const char* l : {"q", "k", "v", "out"}) t.matmulWeights(std::string("attn.") + l, D, D);
  t.matmulWeights("ff1", D, F);
  t.matmulWeights("ff2", F, D);
  for (const char* l : {"norm1", "norm2"}) {
    t.constant(std::string(l) + ".weight", {D}, std::vector<float>(D, 1.0f));
    t.constant(std::string(l) + ".bias", {D}, std::vector<float>(D, 0.0f));
  }
  t.linear("head", D, 2);
  t.shape("heads_shape", {0, T, H, D / H});
  t.shape("merged_shape", {0, T, D});
  {
    auto* c = t.node("Constant", {}, "scale");  // as PyTorch exports the 1/sqrt(head width)
    auto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_float_data(1.0f / std::sqrt(float(D / H)));
  }
  t.node("MatMul", {"input", "embed.weight"}, "tok");
  t.node("Add", {"tok", "embed.bias"}, "tok_b");
  t.node("Add", {"tok_b", "pos"}, "x0");
  for (const char* l : {"q", "k", "v"}) {
    const std::string n = l;
    t.dense("x0", "attn." + n, n);
    t.node("Reshape", {n, "heads_shape"}, n + "_heads");
    auto* tr = t.node("Transpose", {n + "_heads"}, n + "_bh");
    t.ints(tr, "perm", n == "k" ? std::vector<std::int64_t>{0, 2, 3, 1} : std::vector<std::int64_t>{0, 2, 1, 3});
  }
  t.node("MatMul", {"q_bh", "k_bh"}, "scores_raw");
  t.node("Mul", {"scores_raw", "scale"}, "scores");
  auto* sm = t.node("Softmax", {"scores"}, "attn_w");
  auto* smAxis = sm->add_attribute();
  smAxis->set_name("axis");
  smAxis->set_type(onnx::AttributeProto::INT);
  smAxis->set_i(-1);
  t.node("MatMul", {"attn_w", "v_bh"}, "ctx_bh");
  t.ints(t.node("Transpose", {"ctx_bh"}, "ctx_heads"), "perm", {0, 2, 1, 3});
  t.node("Reshape", {"ctx_heads", "merged_shape"}, "ctx");
  t.dense("ctx", "attn.out", "attn_out");
  t.node("Add", {"x0", "attn_out"}, "res1");
  const auto layerNorm = [&](const std::string& x, const std::string& norm, const std::string& out) {
    auto* n = t.node("LayerNormalization", {x, norm + ".weight", norm + ".bias"}, out);
    auto* ax = n->add_attribute();
    ax->set_name("axis");
    ax->set_type(onnx::AttributeProto::INT);
    ax->set_i(-1);
    auto* eps = n->add_attribute();
    eps->set_name("epsilon");
    eps->set_type(onnx::AttributeProto::FLOAT);
    eps->set_f(1e-5f);
  };
  layerNorm("res1", "norm1", "x1");
  t.dense("x1", "ff1", "ff_h");
  t.node("Relu", {"ff_h"}, "ff_a");
  t.dense("ff_a", "ff2", "ff_out");
  t.node("Add", {"x1", "ff_out"}, "res2");
  layerNorm("res2", "norm2", "x2");
  auto* pool = t.node("ReduceMean", {"x2"}, "pooled");
  t.ints(pool, "axes", {1});
  auto* keep = pool->add_attribute();
  keep->set_name("keepdims");
  keep->set_type(onnx::AttributeProto::INT);
  keep->set_i(0);
  t.gemm("pooled", "head", "logits");
  t.g->add_output()->set_name("logits");
  return write(e, dir + "/transformer/encoder.onnx") ? 0 : 1;
}
