// A text-IR pass test, in the manner of LLVM's lit and FileCheck: the file is a graph in the
// text form with directives in comments.
//   # RUN: PASS [key=value ...]   passes to run, in order (several RUN lines run in order)
//   # CHECK: TEXT                 TEXT appears in the printed IR, on a line after the last match
//   # CHECK-NEXT: TEXT            ... on the line right after the last match
//   # CHECK-NOT: TEXT             TEXT does not appear between the last match and the next one
//   # ERROR: TEXT                 the passes fail with an error containing TEXT
// Usage: pass_test FILE.tir. Exit 0 when every directive holds; else 1 with the first failure.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tatami/compiler/ir.h"
#include "tatami/compiler/passes.h"

using namespace tatami::compiler;

namespace {

struct Directive {
  std::string kind, text;
  int line;
};

std::vector<std::string> splitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

int fail(const std::string& file, int line, const std::string& why, const std::string& output) {
  std::cerr << file << ":" << line << ": " << why << "\n--- the output was:\n" << output;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: pass_test FILE.tir\n";
    return 2;
  }
  const std::string file = argv[1];
  std::ifstream f(file);
  if (!f) {
    std::cerr << file << ": cannot read\n";
    return 2;
  }
  std::ostringstream all;
  all << f.rdbuf();
  std::vector<std::string> runs;
  std::vector<Directive> checks;
  const std::vector<std::string> source = splitLines(all.str());
  for (std::size_t i = 0; i < source.size(); ++i)
    for (const char* kind : {"RUN", "CHECK", "CHECK-NEXT", "CHECK-NOT", "ERROR"}) {
      const std::string tag = std::string("# ") + kind + ": ";
      if (source[i].rfind(tag, 0) != 0) continue;
      const std::string text = source[i].substr(tag.size());
      if (std::string(kind) == "RUN") runs.push_back(text);
      else checks.push_back({kind, text, int(i + 1)});
    }
  if (runs.empty()) return fail(file, 1, "no '# RUN:' line", "");
  std::string output, error;
  try {
    Graph g = parseGraph(all.str(), file);
    verify(g);
    std::vector<PassInfo> passes;
    for (const auto& r : runs) passes.push_back(parsePassSpec(r));
    runPipeline(g, passes, {}, nullptr);
    output = printGraph(g);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const std::vector<std::string> lines = splitLines(output);
  std::size_t next = 0;  // the first line a CHECK may match
  std::vector<const Directive*> pendingNot;
  for (const Directive& d : checks) {
    if (d.kind == "ERROR") {
      if (error.find(d.text) == std::string::npos)
        return fail(file, d.line, "expected an error containing '" + d.text + "', got " + (error.empty() ? "none" : "'" + error + "'"), output);
      continue;
    }
    if (!error.empty()) return fail(file, d.line, "the passes failed: " + error, output);
    if (d.kind == "CHECK-NOT") {
      pendingNot.push_back(&d);
      continue;
    }
    std::size_t at = next;
    if (d.kind == "CHECK-NEXT") {
      if (next >= lines.size() || lines[next].find(d.text) == std::string::npos)
        return fail(file, d.line, "CHECK-NEXT: '" + d.text + "' is not on the next line", output);
    } else {
      while (at < lines.size() && lines[at].find(d.text) == std::string::npos) ++at;
      if (at == lines.size()) return fail(file, d.line, "CHECK: '" + d.text + "' not found after the previous match", output);
    }
    for (const Directive* n : pendingNot)
      for (std::size_t k = next; k < at; ++k)
        if (lines[k].find(n->text) != std::string::npos) return fail(file, n->line, "CHECK-NOT: '" + n->text + "' found", output);
    pendingNot.clear();
    next = at + 1;
  }
  for (const Directive* n : pendingNot)
    for (std::size_t k = next; k < lines.size(); ++k)
      if (lines[k].find(n->text) != std::string::npos) return fail(file, n->line, "CHECK-NOT: '" + n->text + "' found", output);
  if (!error.empty() && std::none_of(checks.begin(), checks.end(), [](const Directive& d) { return d.kind == "ERROR"; }))
    return fail(file, 1, "the passes failed: " + error, output);
  return 0;
}
