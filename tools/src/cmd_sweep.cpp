// `tatami sweep SPEC`: the points of a sweep (sweep_spec.h) run in parallel processes, each point
// kept in a file of its own as it finishes (so an interrupted sweep resumes where it stopped),
// then one tidy table: CSV and HDF5, a row per point, a column per parameter and metric.
// `--emit-jobs` writes the unfinished points as command lines for GNU Parallel or a Slurm array;
// `--collect` makes the table from the point files alone.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "command.h"
#include "metrics.h"
#include "progress.h"
#include "sweep_spec.h"
#include "tatami/runtime/output_file.h"
#include "tatami/runtime/results.h"

extern char** environ;

namespace tatami::cli {

using Json = nlohmann::ordered_json;

namespace {

std::atomic<bool> stopRequested{false};
extern "C" void onSweepSignal(int) { stopRequested = true; }

std::string pointFile(const std::string& dir, std::size_t k) { return dir + "/point-" + std::to_string(k) + ".json"; }

/// The point's finished result, if its file holds this very point (same description).
bool finished(const std::string& dir, const SweepPoint& p, Json* result = nullptr) {
  std::ifstream in(pointFile(dir, p.index));
  if (!in) return false;
  try {
    Json j = Json::parse(in);
    if (!j.contains("describe") || j["describe"] != p.describe) return false;
    if (result) *result = std::move(j);
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;  // a torn or foreign file: the point runs again
  }
}

/// Runs one point in this process and writes its file (an error is a result too: a point that
/// cannot run under its configuration is recorded, not retried).
int runPoint(const SweepSpec& spec, const std::vector<SweepPoint>& points, std::size_t k, const std::string& dir, std::ostream& err) {
  if (k >= points.size()) throw UsageError("--point " + std::to_string(k) + ": the sweep has " + std::to_string(points.size()) + " points");
  const SweepPoint& p = points[k];
  Json j = {{"point", k}, {"describe", p.describe}, {"workload", p.workload->name}};
  Json params = Json::object();
  for (const auto& [key, v] : p.params) params[key] = v;
  j["params"] = params;
  try {
    j["metrics"] = measurePoint(spec, p);
  } catch (const std::exception& e) {
    j["error"] = e.what();
    err << "tatami sweep: point " << k << ": " << e.what() << "\n";
  }
  runtime::writeOutputFile(pointFile(dir, k), j.dump(1) + "\n");
  return kExitOk;
}

runtime::TableColumn column(const std::string& name) {
  runtime::TableColumn c;
  c.name = name;
  return c;
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string numberText(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

/// The table of every finished point: point, workload, the axes, then every metric (a column
/// holds text when any of its values is not a number), error last. Returns the points missing.
std::size_t writeTables(const SweepSpec& spec, const std::vector<SweepPoint>& points, const std::string& dir, const std::string& prefix,
                        std::ostream& out) {
  std::vector<Json> rows;
  std::size_t missing = 0;
  for (const SweepPoint& p : points) {
    Json j;
    if (finished(dir, p, &j)) rows.push_back(std::move(j));
    else ++missing;
  }
  std::vector<std::string> metrics;
  std::set<std::string> seen, textual;
  bool anyError = false;
  for (const Json& r : rows) {
    anyError = anyError || r.contains("error");
    if (!r.contains("metrics")) continue;
    for (const auto& [k, v] : r["metrics"].items()) {
      if (seen.insert(k).second) metrics.push_back(k);
      if (!v.is_number()) textual.insert(k);
    }
  }
  std::vector<runtime::TableColumn> cols;
  cols.push_back(column("point"));
  cols.push_back(column("workload"));
  for (const auto& a : spec.axes) cols.push_back(column(a.key));
  for (const auto& m : metrics) cols.push_back(column(m));
  if (anyError) cols.push_back(column("error"));
  for (auto& c : cols) {
    if (const MetricInfo* m = findMetric(c.name)) c.unit = m->unit, c.description = m->description;
    else if (const ParamSpec* p = findParam(c.name)) c.unit = p->unit, c.description = std::string("the machine parameter (an axis of the sweep): ") + p->description;
  }
  std::vector<std::vector<std::string>> csv;
  for (const Json& r : rows) {
    std::vector<std::string> line;
    std::size_t c = 0;
    const auto number = [&](double v, bool present) {
      cols[c].numbers.push_back(present ? v : std::nan(""));
      line.push_back(present ? numberText(v) : "");
      ++c;
    };
    const auto text = [&](const std::string& v) {
      cols[c].text.push_back(v);
      line.push_back(csvField(v));
      ++c;
    };
    number(r["point"].get<double>(), true);
    text(r["workload"].get<std::string>());
    for (const auto& a : spec.axes) {
      // An axis of numbers is a numeric column; of names (die.routing), a text column.
      const std::string v = r["params"][a.key].get<std::string>();
      const ParamSpec* ps = findParam(a.key);
      if (ps && (ps->kind == ParamKind::Int || ps->kind == ParamKind::Real)) number(std::stod(v), true);
      else text(v);
    }
    for (const auto& m : metrics) {
      const bool has = r.contains("metrics") && r["metrics"].contains(m);
      if (textual.count(m)) text(has ? (r["metrics"][m].is_string() ? r["metrics"][m].get<std::string>() : r["metrics"][m].dump()) : "");
      else number(has ? r["metrics"][m].get<double>() : 0, has);
    }
    if (anyError) text(r.contains("error") ? r["error"].get<std::string>() : "");
    csv.push_back(std::move(line));
  }
  std::ostringstream os;
  for (std::size_t c = 0; c < cols.size(); ++c) os << (c ? "," : "") << csvField(cols[c].name);
  os << "\n";
  for (const auto& line : csv) {
    for (std::size_t c = 0; c < line.size(); ++c) os << (c ? "," : "") << line[c];
    os << "\n";
  }
  runtime::writeOutputFile(prefix + ".csv", os.str());
  runtime::writeTable(prefix + ".h5", cols, {{"spec", spec.path}});
  out << "wrote " << prefix << ".csv and " << prefix << ".h5 (" << rows.size() << " rows, " << cols.size() << " columns)";
  if (missing) out << "; " << missing << " point(s) not finished: run the sweep again to finish them";
  out << "\n";
  return missing;
}

std::string shellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string selfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, std::size_t(n)) : std::string("tatami");
}

/// Starts `tatami sweep SPEC --point K --dir DIR` with its output in the point's log.
pid_t startPoint(const std::string& self, const std::string& specPath, std::size_t k, const std::string& dir) {
  const std::string log = dir + "/point-" + std::to_string(k) + ".log", index = std::to_string(k);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args = {self, "sweep", specPath, "--point", index, "--dir", dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start a point's process: " + std::string(std::strerror(rc)));
  return pid;
}

}  // namespace

int cmdSweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  std::string specPath, prefix, dir, emitJobs;
  unsigned jobs = 1;
  long point = -1;
  desc.add_options()("help,h", "show this help")
      ("jobs,j", po::value<unsigned>(&jobs)->default_value(1), "points run at once, each in a process of its own")
      ("output,o", po::value<std::string>(&prefix)->value_name("PREFIX"),
       "the table: PREFIX.csv and PREFIX.h5 (default: the spec's path without .ini)")
      ("dir", po::value<std::string>(&dir)->value_name("DIR"), "where each point's result is kept (default: PREFIX.points)")
      ("emit-jobs", po::value<std::string>(&emitJobs)->value_name("FILE"),
       "write the unfinished points as command lines (one per line) for GNU Parallel or a Slurm job array, and stop")
      ("collect", "make the table from the points finished so far, running none")
      ("point", po::value<long>(&point)->value_name("K"), "run point K alone and keep its result in DIR (what each process runs)");
  po::positional_options_description pos;
  pos.add("spec", 1);
  po::options_description hidden;
  hidden.add_options()("spec", po::value<std::string>(&specPath));
  po::variables_map vm;
  const std::string usage =
      "Usage: tatami sweep SPEC [--jobs N] [-o PREFIX] [--emit-jobs FILE | --collect]\n"
      "Runs every point of a sweep (workloads x parameter axes, docs/sweep.md) in parallel processes, keeps each\n"
      "point's result as it finishes (run it again to resume), and writes one table: PREFIX.csv and PREFIX.h5.";
  if (!parseArgs(args, desc, &pos, vm, usage, out, &hidden)) return kExitOk;
  if (specPath.empty()) throw UsageError("no sweep spec given");
  if (jobs == 0 || jobs > 256) throw UsageError("--jobs " + std::to_string(jobs) + ": between 1 and 256");
  if (vm.count("point") && point < 0) throw UsageError("--point " + std::to_string(point) + ": a point number from 0");
  SweepSpec spec;
  try {
    spec = readSweepSpec(specPath);  // a bad spec is bad input (InputError), not bad usage: no hint to --help
  } catch (const ConfigError& e) {
    err << "tatami sweep: " << e.what() << "\n";
    return kExitBadInput;
  }
  const std::vector<SweepPoint> points = sweepPoints(spec);
  if (prefix.empty()) prefix = specPath.size() > 4 && specPath.substr(specPath.size() - 4) == ".ini" ? specPath.substr(0, specPath.size() - 4) : specPath;
  if (dir.empty()) dir = prefix + ".points";
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    err << "tatami sweep: cannot make the points folder '" << dir << "': " << std::strerror(errno) << "\n";
    return kExitBadInput;
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    err << "tatami sweep: '" << dir << "' is not a folder\n";
    return kExitBadInput;
  }
  try {
    if (point >= 0) return runPoint(spec, points, std::size_t(point), dir, err);
    if (vm.count("collect")) return writeTables(spec, points, dir, prefix, out) ? kExitRunFailed : kExitOk;
    runtime::checkOutputPath(prefix + ".csv");
    runtime::checkOutputPath(prefix + ".h5");
    std::vector<std::size_t> todo;
    for (const SweepPoint& p : points)
      if (!finished(dir, p)) todo.push_back(p.index);
    if (!emitJobs.empty()) {
      std::ostringstream os;
      const std::string self = selfPath();
      for (std::size_t k : todo)
        os << shellQuote(self) << " sweep " << shellQuote(specPath) << " --point " << k << " --dir " << shellQuote(dir) << "\n";
      runtime::writeOutputFile(emitJobs, os.str());
      out << "wrote " << todo.size() << " job(s) to " << emitJobs << "; run them with `parallel < " << emitJobs
          << "`, or as a Slurm array (`sbatch --array=1-" << todo.size() << "`, each task running line $SLURM_ARRAY_TASK_ID), "
          << "then `tatami sweep " << specPath << " --collect`\n";
      return kExitOk;
    }
    err << "tatami sweep: " << points.size() << " points (" << points.size() - todo.size() << " finished before, " << todo.size()
        << " to run), " << jobs << " at once\n";
    stopRequested = false;
    // Without SA_RESTART, so that waitpid returns at once and the points in flight are stopped
    // (they leave no result: they run again on resume).
    struct sigaction action {}, oldInt {}, oldTerm {};
    action.sa_handler = onSweepSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &oldInt);
    sigaction(SIGTERM, &action, &oldTerm);
    const std::string self = selfPath();
    const bool tty = stderrIsTerminal();
    ProgressBar bar(err, todo.size(), "points", tty);
    std::map<pid_t, std::size_t> running;
    std::size_t next = 0, done = 0, failed = 0;
    while ((next < todo.size() && !stopRequested) || !running.empty()) {
      while (!stopRequested && next < todo.size() && running.size() < jobs) {
        running[startPoint(self, specPath, todo[next], dir)] = todo[next];
        ++next;
      }
      int status = 0;
      const pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) {
          if (stopRequested)
            for (const auto& [child, k] : running) kill(child, SIGTERM);
          continue;
        }
        break;
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const std::size_t k = it->second;
      running.erase(it);
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) || !finished(dir, points[k])) {
        if (!stopRequested) {
          ++failed;
          bar.clear();
          err << "tatami sweep: point " << k << " did not finish (see " << dir << "/point-" << k << ".log)\n";
        }
        continue;
      }
      ++done;
      bar.update(done, failed);
    }
    bar.finish();
    sigaction(SIGINT, &oldInt, nullptr);
    sigaction(SIGTERM, &oldTerm, nullptr);
    if (stopRequested) {
      err << "tatami sweep: interrupted: " << (points.size() - todo.size() + done) << " of " << points.size()
          << " points finished and kept; run the same command again to resume\n";
      return kExitInterrupted;
    }
    const std::size_t missing = writeTables(spec, points, dir, prefix, out);
    return missing || failed ? kExitRunFailed : kExitOk;
  } catch (const runtime::OutputError& e) {
    err << "tatami sweep: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace tatami::cli
