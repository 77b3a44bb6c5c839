// `tatami compile`: the compiler's front end and passes. Today it reads an ONNX model (or text IR),
// adds the training step (loss, backward, optimizer), runs the named pass pipeline and prints the
// IR; lowering to tile programs and bundles is the next stage.
#include <fstream>
#include <ostream>
#include <sstream>

#include "command.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"

namespace tatami::cli {

int cmdCompile(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using namespace tatami::compiler;
  po::options_description desc("Options");
  std::string model, loss = "none", printIr;
  std::vector<std::string> printAfter;
  OptimizerConfig opt;
  std::int64_t batch = 0;
  desc.add_options()
      ("help,h", "show this help")
      ("model", po::value<std::string>(&model), "an ONNX model (.onnx) or text IR (.tir)")
      ("batch", po::value<std::int64_t>(&batch)->default_value(0), "the size of symbolic input dimensions (the batch)")
      ("loss", po::value<std::string>(&loss)->default_value("none"),
       "add a training step with this loss on the model's first output: xent (softmax cross-entropy), mse, or none")
      ("optimizer", po::value<std::string>(&opt.kind)->default_value("sgd"), "sgd or adamw")
      ("lr", po::value<double>(&opt.learningRate)->default_value(0.01), "learning rate")
      ("momentum", po::value<double>(&opt.momentum)->default_value(0.0), "SGD momentum")
      ("weight-decay", po::value<double>(&opt.weightDecay)->default_value(0.0), "weight decay (L2 for SGD, decoupled for AdamW)")
      ("print-after", po::value<std::vector<std::string>>(&printAfter)->composing()->value_name("PASS"),
       "print the IR after this pass (repeatable; 'all' for every pass)")
      ("list-passes", "list the passes of the pipeline and exit");
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami compile MODEL [--batch N] [--loss xent|mse] [--optimizer sgd|adamw] [--print-after PASS]\n"
                 "Read a model into the compiler's IR, add the training step and run the passes; print the final IR.",
                 out))
    return kExitOk;
  if (loss != "none" && loss != "xent" && loss != "mse") throw UsageError("--loss '" + loss + "': expected xent, mse or none");
  std::vector<PassInfo> passes = {{"fold-constants", "evaluate nodes whose inputs are all constants", foldConstants}};
  if (loss != "none") {
    passes.push_back({"training-step", "add the loss, the backward graph and the optimizer update", [&](Graph& g) {
                        if (g.outputs.empty()) throw CompileError("the model has no output to train");
                        const int y = g.outputs.front();
                        const int target = g.input("target", g.values[std::size_t(y)].shape);
                        g.outputs.clear();
                        const int l = loss == "xent" ? addSoftmaxCrossEntropy(g, y, target) : addMeanSquaredError(g, y, target);
                        addTrainingStep(g, l, opt);
                      }});
    passes.push_back({"fold-constants-2", "fold what the training step made constant", foldConstants});
  }
  passes.push_back({"dce", "remove nodes that no output depends on", eliminateDeadCode});
  if (vm.count("list-passes")) {
    for (const auto& p : passes) out << p.name << "  " << p.description << "\n";
    return kExitOk;
  }
  if (model.empty()) throw UsageError("no model given");
  try {
    Graph g;
    if (model.size() > 4 && model.compare(model.size() - 4, 4, ".tir") == 0) {
      std::ifstream f(model);
      if (!f) throw CompileError("cannot read IR file '" + model + "'");
      std::ostringstream text;
      text << f.rdbuf();
      g = parseGraph(text.str(), model);
    } else {
      ImportOptions io;
      io.batch = batch;
      g = importOnnx(model, io);
    }
    verify(g);
    runPipeline(g, passes, printAfter, &out);
    if (printAfter.empty()) out << printGraph(g);
  } catch (const CompileError& e) {
    err << "tatami compile: " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace tatami::cli
