// ONNX models built in code for the tests, as PyTorch exports them.
#pragma once

#include <onnx/onnx_pb.h>

#include <random>
#include <string>
#include <vector>

#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"

namespace tatami::testing {

/// A small CNN as PyTorch exports it: Conv(+bias) -> BatchNormalization -> Relu -> MaxPool ->
/// GlobalAveragePool -> Flatten -> Gemm.
inline onnx::ModelProto cnnModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("cnn");
  auto* in = g->add_input();
  in->set_name("image");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {0, 1, 6, 6}) {
    if (d) tt->mutable_shape()->add_dim()->set_dim_value(d);
    else tt->mutable_shape()->add_dim()->set_dim_param("N");
  }
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  const auto init = [&](const std::string& name, std::vector<std::int64_t> dims, float fixed = 0, bool random = true) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t count = 1;
    for (auto d : dims) t->add_dims(d), count *= d;
    for (std::int64_t i = 0; i < count; ++i) t->add_float_data(random ? u(gen) : fixed);
  };
  init("conv.w", {4, 1, 3, 3});
  init("conv.b", {4});
  init("bn.scale", {4}, 1.0f, false);
  init("bn.bias", {4}, 0.0f, false);
  init("bn.mean", {4}, 0.0f, false);
  init("bn.var", {4}, 1.0f, false);
  init("fc.w", {3, 4});
  init("fc.b", {3});
  const auto node = [&](const std::string& op, std::vector<std::string> ins, std::string out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  const auto ints = [](onnx::NodeProto* n, const char* name, std::vector<std::int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  };
  auto* conv = node("Conv", {"image", "conv.w", "conv.b"}, "c");
  ints(conv, "pads", {1, 1, 1, 1});
  node("BatchNormalization", {"c", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, "bn");
  node("Relu", {"bn"}, "r");
  auto* pool = node("MaxPool", {"r"}, "p");
  ints(pool, "kernel_shape", {2, 2});
  ints(pool, "strides", {2, 2});
  node("GlobalAveragePool", {"p"}, "gap");
  node("Flatten", {"gap"}, "f");
  auto* fc = node("Gemm", {"f", "fc.w", "fc.b"}, "logits");
  auto* tb = fc->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  g->add_output()->set_name("logits");
  return m;
}

/// cnnModel() imported for a batch of 4 with its training step: softmax cross-entropy against
/// `target` [4, 3], SGD (learning rate 0.1, momentum 0.9), after the standard passes.
inline compiler::Graph cnnTrainingStep() {
  compiler::ImportOptions io;
  io.batch = 4;
  compiler::Graph g = compiler::importOnnxBytes(cnnModel().SerializeAsString(), "cnn.onnx", io);
  compiler::foldConstants(g);
  const int logits = g.outputs[0];
  const int target = g.input("target", {4, 3});
  g.outputs.clear();
  compiler::OptimizerConfig o;
  o.learningRate = 0.1, o.momentum = 0.9;
  compiler::addTrainingStep(g, compiler::addSoftmaxCrossEntropy(g, logits, target), o);
  compiler::runPipeline(g, compiler::standardPasses(), {}, nullptr);
  return g;
}

}  // namespace tatami::testing
