// bench/generate_command.cc
//
// `taskdex generate`: option parsing, progress and summary around
// GenerateSnapshot (bench/generator.h).

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "api/taskdex.h"
#include "bench/change_stream.h"
#include "bench/commands.h"
#include "bench/generator.h"
#include "engine/snapshot_loader.h"

namespace taskdex {
namespace {

constexpr char kGenerateHelp[] = R"(Usage:
  taskdex generate --task-runs N --out DIR [options]

Writes a synthetic snapshot directory (flows.ndjson, deployments.ndjson,
flow_runs.ndjson, task_runs.ndjson) with exactly N task runs, each line shaped
like one element of Prefect's matching /filter answer. The shape: 50 flows,
200 deployments (5 flows have none, some are paused), about N/20 flow runs
(most through a deployment, some ad hoc, about 8% subflows), 1 to 201 task
runs per flow run (median about 10), 2% task runs without a flow run, tags
Zipf-distributed over 100 values, a realistic state mix. Everything lies in
the 30 days before --now; the same options write the same bytes.

Names (--shape realistic, the default) are Prefect 3's: a task run is
"<task name>-<first 3 characters of its dynamic key, a random UUID>" over
X
runs' names with a date and a parameter value
("load_orders-2026-11-03-customer-1842"): about 7 distinct names in 10 task
runs. Flow runs are "<adjective>-<noun>" over 2,500 x 2,500 words.
--shape legacy writes the generator's first shape byte for byte:
"<step name>-<map index>" (about 2 distinct names in 100 task runs at 1M)
and flow-run names from 34 x 30 words. Only names and dynamic keys differ
between the shapes.

Options:
  --task-runs N     Number of task runs to write, 1..4294967295 (required).
                    About 1.9 kB per task run: 10,000,000 take about 19 GB.
  --out DIR         Output directory, created if absent (required). The four
                    files in it are replaced.
  --seed S          Seed of the data, an unsigned integer (default 1).
  --now TIME        The dump time, e.g. 2026-11-27T12:00:00Z (default). Use it
                    as the engine's --now for the intended lateness values.
  --shape S         realistic (default) or legacy: the names, see above.
  --task-names N    Distinct task names, 1..1000000 (default 700; realistic
                    shape only).
  --name-suffix-width W
                    Characters of the dynamic key after "<task name>-", 1..8
                    (default 3), or 0: the map index as in the legacy shape
                    (realistic shape only).
  --queries FILE    Also write request bodies for POST /api/task_runs/paginate,
                    shaped like the Prefect UI's calls and the planner's hard
                    cases (short and mixed-case like_, like_ next to a selective
                    filter, or_ at each level, dense results under each sort,
                    deep pages), with ids and names taken from the data: one
                    {"name": ..., "body": ...} per line.
  --changes FILE    Also write a change file (engine/change_file.h) of activity
                    on the written snapshot: task runs moving PENDING ->
                    RUNNING -> COMPLETED/FAILED and new task runs (20%) in
                    existing flow runs, from --now on, by --seed. Reads the
                    snapshot back first (needs the memory to hold it).
  --change-lines N  Lines of --changes (default 10000).
  --threads N       Worker threads, 1..64 (default: all cores). The output
                    does not depend on it.
  --discard         Render every line but write no snapshot file (writes go
                    to /dev/null; --out may be omitted): the generator's
                    speed without the disk.
  --quiet           No progress and no summary on stderr.
  -h, --help        Show this help.

Exit status: 0 on success, 1 on a bad option or a write error (reason on stderr).
)";

int Usage(const std::string& message) {
  std::fprintf(stderr, "taskdex generate: %s\nRun `taskdex generate --help` for usage.\n",
               message.c_str());
  return 1;
}

bool ParseUint(const char* text, uint64_t max, uint64_t* out) {
  if (text == nullptr || *text == '\0' || *text == '-' || *text == '+') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  GenerateOptions opt;
  opt.threads = static_cast<int>(
      std::clamp(std::thread::hardware_concurrency(), 1u, 64u));
  bool have_n = false, quiet = false;
  std::string changes_file;
  uint64_t change_lines = 10000;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kGenerateHelp, stdout);
      return 0;
    } else if (arg == "--quiet") {
      quiet = true;
      continue;
    } else if (arg == "--discard") {
      opt.discard = true;
      continue;
    }
    if (arg != "--task-runs" && arg != "--seed" && arg != "--now" && arg != "--out" &&
        arg != "--queries" && arg != "--threads" && arg != "--shape" &&
        arg != "--task-names" && arg != "--name-suffix-width" && arg != "--changes" &&
        arg != "--change-lines") {
      return Usage("unknown option: " + std::string(arg));
    }
    if (value == nullptr) return Usage(std::string(arg) + " needs a value");
    ++i;
    if (arg == "--task-runs") {
      uint64_t n = 0;
      if (!ParseUint(value, 0xffffffffULL, &n) || n == 0) {
        return Usage("--task-runs needs a number 1..4294967295, got \"" + std::string(value) +
                     "\"");
      }
      opt.task_runs = n;
      have_n = true;
    } else if (arg == "--seed") {
      if (!ParseUint(value, UINT64_MAX, &opt.seed)) {
        return Usage("--seed needs an unsigned integer, got \"" + std::string(value) + "\"");
      }
    } else if (arg == "--now") {
      absl::StatusOr<Micros> t = ParseInstant(value);
      if (!t.ok()) {
        return Usage("--now needs a time such as 2026-11-27T12:00:00Z, got \"" +
                     std::string(value) + "\": " + std::string(t.status().message()));
      }
      opt.now = *t;
    } else if (arg == "--out") {
      opt.out_dir = value;
    } else if (arg == "--queries") {
      opt.queries_file = value;
    } else if (arg == "--shape") {
      if (std::string_view(value) == "realistic") {
        opt.shape = GenerateShape::kRealistic;
      } else if (std::string_view(value) == "legacy") {
        opt.shape = GenerateShape::kLegacy;
      } else {
        return Usage("--shape needs realistic or legacy, got \"" + std::string(value) + "\"");
      }
    } else if (arg == "--task-names") {
      uint64_t n = 0;
      if (!ParseUint(value, 1000000, &n) || n == 0) {
        return Usage("--task-names needs a number 1..1000000, got \"" + std::string(value) +
                     "\"");
      }
      opt.task_names = static_cast<uint32_t>(n);
    } else if (arg == "--name-suffix-width") {
      uint64_t n = 0;
      if (!ParseUint(value, 8, &n)) {
        return Usage("--name-suffix-width needs a number 0..8, got \"" + std::string(value) +
                     "\"");
      }
      opt.name_suffix_width = static_cast<int>(n);
    } else if (arg == "--changes") {
      changes_file = value;
    } else if (arg == "--change-lines") {
      if (!ParseUint(value, UINT64_MAX, &change_lines)) {
        return Usage("--change-lines needs an unsigned integer, got \"" + std::string(value) +
                     "\"");
      }
    } else if (arg == "--threads") {
      uint64_t n = 0;
      if (!ParseUint(value, 64, &n) || n == 0) {
        return Usage("--threads needs a number 1..64, got \"" + std::string(value) + "\"");
      }
      opt.threads = static_cast<int>(n);
    }
  }
  if (!have_n) return Usage("--task-runs N is required");
  if (opt.shape == GenerateShape::kLegacy &&
      (opt.task_names != 0 || opt.name_suffix_width != -1)) {
    return Usage("--task-names and --name-suffix-width apply to --shape realistic only");
  }
  if (opt.out_dir.empty() && !opt.discard) return Usage("--out DIR is required");
  if (!changes_file.empty() && opt.discard) return Usage("--changes needs a written snapshot");
  if (!quiet) {
    opt.progress = [](uint64_t rows, uint64_t bytes, double seconds) {
      std::fprintf(stderr, "\r%llu task runs, %.0f MB, %.1f MB/s   ",
                   static_cast<unsigned long long>(rows), bytes / 1e6,
                   seconds > 0 ? bytes / 1e6 / seconds : 0.0);
    };
  }
  GenerateSummary s;
  absl::Status st = GenerateSnapshot(opt, &s);
  if (!quiet && s.seconds >= 0.5) std::fputc('\n', stderr);
  if (!st.ok()) {
    std::fprintf(stderr, "taskdex generate: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!quiet) {
    auto mb = [](uint64_t b) { return b / 1e6; };
    std::fprintf(stderr,
                 "%s %s in %.2f s (%.1f MB/s)\n"
                 "  flows.ndjson        %10llu lines %10.1f MB\n"
                 "  deployments.ndjson  %10llu lines %10.1f MB\n"
                 "  flow_runs.ndjson    %10llu lines %10.1f MB  (%llu subflows)\n"
                 "  task_runs.ndjson    %10llu lines %10.1f MB  (%llu without a flow run)\n",
                 opt.discard ? "rendered (discarded)" : "wrote",
                 opt.discard ? "the snapshot" : opt.out_dir.c_str(), s.seconds,
                 s.seconds > 0 ? mb(s.total_bytes()) / s.seconds : 0.0,
                 static_cast<unsigned long long>(s.flows), mb(s.flows_bytes),
                 static_cast<unsigned long long>(s.deployments), mb(s.deployments_bytes),
                 static_cast<unsigned long long>(s.flow_runs), mb(s.flow_runs_bytes),
                 static_cast<unsigned long long>(s.subflow_runs),
                 static_cast<unsigned long long>(s.task_runs), mb(s.task_runs_bytes),
                 static_cast<unsigned long long>(s.autonomous_task_runs));
    if (!opt.queries_file.empty()) {
      std::fprintf(stderr, "  %s: %llu request bodies\n", opt.queries_file.c_str(),
                   static_cast<unsigned long long>(s.queries));
    }
  }
  if (!changes_file.empty()) {
    LoadOptions load;
    load.threads = opt.threads;
    absl::StatusOr<SnapshotRecords> records = ReadSnapshotRecords(opt.out_dir, load, nullptr);
    if (!records.ok()) {
      std::fprintf(stderr, "taskdex generate: %s\n", std::string(records.status().message()).c_str());
      return 1;
    }
    ChangeStreamOptions change_options;
    change_options.seed = opt.seed;
    change_options.now = opt.now;
    absl::Status written = WriteChangeFile(*records, change_options, change_lines, changes_file);
    if (!written.ok()) {
      std::fprintf(stderr, "taskdex generate: %s\n", std::string(written.message()).c_str());
      return 1;
    }
    if (!quiet) {
      std::fprintf(stderr, "  %s: %llu change lines\n", changes_file.c_str(),
                   static_cast<unsigned long long>(change_lines));
    }
  }
  return 0;
}

}  // namespace taskdex
