// `tatami regress`: runs every case under tests/regress/ and compares its figures with the
// golden file exactly; `--update` rewrites the goldens (the only way they change).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "command.h"
#include "format_text.h"
#include "run_report.h"
#include "tatami/arch/assembler.h"
#include "tatami/tlm/network.h"
#include "tatami/tools/config_files.h"

namespace fs = std::filesystem;

namespace tatami::cli {

namespace {

struct CaseFiles {
  std::string name;
  fs::path dir, program, config, golden;
  std::vector<std::pair<int, fs::path>> others;  ///< core<ID>.tasm: programs for further cores
  bool timingOnly = false;
};

std::vector<CaseFiles> findCases(const fs::path& root, const std::string& only) {
  std::vector<CaseFiles> cases;
  if (!fs::is_directory(root)) throw UsageError("'" + root.string() + "' is not a directory of regression cases");
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    CaseFiles c;
    c.name = entry.path().filename().string();
    if (!only.empty() && c.name != only) continue;
    c.dir = entry.path();
    c.program = c.dir / "program.tasm";
    c.config = c.dir / "config.ini";
    c.golden = c.dir / "golden.json";
    c.timingOnly = fs::exists(c.dir / "timing_only");
    for (const auto& f : fs::directory_iterator(c.dir)) {
      const std::string name = f.path().filename().string();
      if (name.size() > 9 && name.rfind("core", 0) == 0 && f.path().extension() == ".tasm")
        c.others.emplace_back(std::stoi(name.substr(4)), f.path());
    }
    std::sort(c.others.begin(), c.others.end());
    if (!fs::exists(c.program)) throw UsageError("case '" + c.name + "' has no program.tasm");
    cases.push_back(c);
  }
  std::sort(cases.begin(), cases.end(), [](const CaseFiles& a, const CaseFiles& b) { return a.name < b.name; });
  if (cases.empty()) throw UsageError(only.empty() ? "no cases under '" + root.string() + "'" : "no case named '" + only + "'");
  return cases;
}

std::string valueText(const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

int cmdRegress(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  std::vector<std::string> overrides;
  std::string root = "tests/regress", only;
  desc.add_options()
      ("help,h", "show this help")
      ("dir", po::value<std::string>(&root), "directory of cases (default tests/regress)")
      ("case", po::value<std::string>(&only), "run only this case")
      ("update", "rewrite every golden file with the figures of this build")
      ("set", po::value<std::vector<std::string>>(&overrides)->composing()->value_name("SECTION.KEY=VALUE"),
       "override a parameter in every case, after its config.ini (to see what a change does)");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami regress [DIR] [--case NAME] [--update]\n"
                 "Run the regression cases and compare cycles, unit statistics and output hashes exactly.",
                 out))
    return kExitOk;
  const bool update = vm.count("update") > 0;
  if (update && !overrides.empty()) throw UsageError("--update with --set would write goldens for a modified machine");
  int changed = 0, failed = 0;
  for (const CaseFiles& c : findCases(root, only)) {
    const ArchConfig config = resolveConfig(fs::exists(c.config) ? c.config.string() : "", overrides);
    Program program;
    std::vector<Program> others(c.others.size());
    try {
      program = loadProgramFile(c.program.string());
      for (std::size_t i = 0; i < c.others.size(); ++i) others[i] = loadProgramFile(c.others[i].second.string());
    } catch (const ProgramError& e) {
      err << "tatami regress: " << e.what() << "\n";
      return kExitBadInput;
    }
    runtime::RunOptions options;
    options.timingOnly = c.timingOnly;
    std::vector<runtime::CoreProgram> programs = {{tlm::Network::activeNodes(config).front(), &program}};
    for (std::size_t i = 0; i < c.others.size(); ++i) programs.push_back({c.others[i].first, &others[i]});
    const runtime::RunResult r = runtime::runPrograms(config, programs, options);
    if (!r.error.empty()) {
      out << c.name << ": run failed: " << r.error << "\n";
      ++failed;
      continue;
    }
    const nlohmann::ordered_json now = regressionMetrics(r);
    if (update) {
      std::ofstream f(c.golden);
      f << nlohmann::ordered_json{{"case", c.name}, {"metrics", now}}.dump(2) << "\n";
      out << c.name << ": golden written (" << now["cycles"] << " cycles)\n";
      continue;
    }
    if (!fs::exists(c.golden)) {
      out << c.name << ": no golden.json (create it with 'tatami regress --update --case " << c.name << "')\n";
      ++failed;
      continue;
    }
    nlohmann::ordered_json golden;
    try {
      std::ifstream f(c.golden);
      golden = nlohmann::ordered_json::parse(f).at("metrics");
    } catch (const std::exception& e) {
      out << c.name << ": golden.json is unreadable: " << e.what() << "\n";
      ++failed;
      continue;
    }
    bool same = true;
    for (const auto& [key, want] : golden.items()) {
      const bool has = now.contains(key);
      if (has && now[key] == want) continue;
      if (same) out << c.name << ": CHANGED\n  " << "metric                       golden          now             difference\n";
      same = false;
      std::string k = key;
      k.resize(29, ' ');
      std::string g = valueText(want), n = has ? valueText(now[key]) : "(missing)";
      std::string d;
      if (has && want.is_number_integer() && now[key].is_number_integer()) {
        const long long diff = now[key].get<long long>() - want.get<long long>();
        d = (diff > 0 ? "+" : "") + std::to_string(diff);
        if (want.get<long long>() != 0) d += " (" + readable(100.0 * double(diff) / double(want.get<long long>()), 3) + "%)";
      }
      g.resize(16, ' ');
      n.resize(16, ' ');
      out << "  " << k << g << n << d << "\n";
    }
    for (const auto& [key, v] : now.items())
      if (!golden.contains(key)) {
        if (same) out << c.name << ": CHANGED\n";
        same = false;
        out << "  new metric " << key << " = " << valueText(v) << "\n";
      }
    if (same) out << c.name << ": ok (" << now["cycles"] << " cycles)\n";
    else ++changed;
  }
  if (changed || failed) {
    out << changed << " case(s) changed, " << failed << " failed. If the change is intended, run 'tatami regress --update'.\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
