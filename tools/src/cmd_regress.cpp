// `tatami regress`: runs every case under tests/regress/ and compares its figures with the
// golden file exactly; `--update` rewrites the goldens (the only way they change). A case is a
// program (program.tasm, with core<ID>.tasm for further cores) or a model compiled for a
// placement (compile.ini, regress_compiled.cpp); either may have a config.ini.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "command.h"
#include "format_text.h"
#include "regress_compiled.h"
#include "run_report.h"
#include "tatami/runtime/output_file.h"
#include "tatami/arch/assembler.h"
#include "tatami/tlm/network.h"
#include "tatami/arch/config_files.h"

namespace fs = std::filesystem;

namespace tatami::cli {

namespace {

struct CaseFiles {
  std::string name;
  fs::path dir, program, config, golden, compile;
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
    c.compile = c.dir / "compile.ini";
    c.timingOnly = fs::exists(c.dir / "timing_only");
    for (const auto& f : fs::directory_iterator(c.dir)) {
      const std::string name = f.path().filename().string();
      if (name.size() > 9 && name.rfind("core", 0) == 0 && f.path().extension() == ".tasm")
        c.others.emplace_back(std::stoi(name.substr(4)), f.path());
    }
    std::sort(c.others.begin(), c.others.end());
    if (!fs::exists(c.program) && !fs::exists(c.compile)) throw InputError("case '" + c.name + "' has neither program.tasm nor compile.ini");
    cases.push_back(c);
  }
  std::sort(cases.begin(), cases.end(), [](const CaseFiles& a, const CaseFiles& b) { return a.name < b.name; });
  if (cases.empty()) throw UsageError(only.empty() ? "no cases under '" + root.string() + "'" : "no case named '" + only + "'");
  return cases;
}

/// Runs a program case; throws ProgramError for a bad program, runtime_error when the run fails.
nlohmann::ordered_json runProgramCase(const CaseFiles& c, const ArchConfig& config) {
  const Program program = loadProgramFile(c.program.string());
  std::vector<Program> others(c.others.size());
  for (std::size_t i = 0; i < c.others.size(); ++i) others[i] = loadProgramFile(c.others[i].second.string());
  runtime::RunOptions options;
  options.timingOnly = c.timingOnly;
  std::vector<runtime::CoreProgram> programs = {{tlm::Network::activeNodes(config).front(), &program}};
  for (std::size_t i = 0; i < c.others.size(); ++i) programs.push_back({c.others[i].first, &others[i]});
  const runtime::RunResult r = runtime::runPrograms(config, programs, options);
  if (!r.error.empty()) throw std::runtime_error(r.error);
  return regressionMetrics(r);
}

std::string valueText(const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

/// Prints every metric that differs between the golden and now (with the difference of numbers);
/// returns true when none does.
bool printChanges(const std::string& name, const nlohmann::ordered_json& golden, const nlohmann::ordered_json& now, std::ostream& out) {
  bool same = true;
  for (const auto& [key, want] : golden.items()) {
    const bool has = now.contains(key);
    if (has && now[key] == want) continue;
    if (same) out << name << ": CHANGED\n  " << "metric                       golden          now             difference\n";
    same = false;
    std::string k = key;
    k.resize(std::max<std::size_t>(29, k.size() + 1), ' ');
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
      if (same) out << name << ": CHANGED\n";
      same = false;
      out << "  new metric " << key << " = " << valueText(v) << "\n";
    }
  return same;
}

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
    nlohmann::ordered_json now;
    try {
      now = fs::exists(c.compile) ? runCompiledCase(c.compile.string(), config, c.timingOnly) : runProgramCase(c, config);
    } catch (const ProgramError& e) {
      err << "tatami regress: " << e.what() << "\n";
      return kExitBadInput;
    } catch (const UsageError&) {
      throw;
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& e) {
      out << c.name << ": run failed: " << e.what() << "\n";
      ++failed;
      continue;
    }
    nlohmann::ordered_json golden;
    const bool hasGolden = fs::exists(c.golden);
    if (hasGolden) {
      try {
        std::ifstream f(c.golden);
        golden = nlohmann::ordered_json::parse(f).at("metrics");
      } catch (const std::exception& e) {
        if (!update) {
          out << c.name << ": golden.json is unreadable: " << e.what() << "\n";
          ++failed;
          continue;
        }
        golden = nlohmann::ordered_json::object();
      }
    }
    if (update) {
      runtime::writeOutputFile(c.golden.string(), nlohmann::ordered_json{{"case", c.name}, {"metrics", now}}.dump(2) + "\n");
      if (!hasGolden) out << c.name << ": golden written (" << now["cycles"] << " cycles)\n";
      else if (printChanges(c.name, golden, now, out)) out << c.name << ": unchanged (" << now["cycles"] << " cycles)\n";
      else out << c.name << ": golden rewritten\n";
      continue;
    }
    if (!hasGolden) {
      out << c.name << ": no golden.json (create it with 'tatami regress --update --case " << c.name << "')\n";
      ++failed;
      continue;
    }
    if (printChanges(c.name, golden, now, out)) out << c.name << ": ok (" << now["cycles"] << " cycles)\n";
    else ++changed;
  }
  if (changed || failed) {
    out << changed << " case(s) changed, " << failed << " failed. If the change is intended, run 'tatami regress --update'.\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
