// What tatami check does with a graph the front end accepts: the training step (loss, backward,
// update) and the graph passes, with the errors that are answers to bad input caught. Anything
// else that escapes (or crashes, or hangs) is a finding of the fuzz target that calls it.
#pragma once

#include "tatami/compiler/ir.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/driver/step.h"

inline void fuzzTrainingStep(tatami::compiler::Graph& g) {
  try {
    tatami::driver::CompileRequest r;
    r.loss = "mse";
    tatami::compiler::runPipeline(g, tatami::driver::trainingPipeline(r), {}, nullptr);
  } catch (const tatami::compiler::CompileError&) {
  } catch (const tatami::driver::RequestError&) {
  }
}
