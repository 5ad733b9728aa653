// api/main.cc
//
// The taskdex command line. It uses the public API of api/taskdex.h only.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/progress_printer.h"
#include "api/save_command.h"
#include "api/serve_command.h"
#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "bench/commands.h"

namespace {

constexpr char kMainHelp[] = R"(taskdex: Prefect's task-run queries, answered from memory.

Usage: taskdex <command> [options]

Commands:
  query     Answer POST /api/task_runs/paginate request bodies against a snapshot.
  generate  Write a synthetic snapshot of N task runs (and matching request bodies).
  bench     Time request bodies against a snapshot (optionally against SQLite too).
  bench-source  Time loading and following Prefect's PostgreSQL (a throwaway server).
  serve     Serve Prefect's task-run read API over HTTP from a snapshot or from
            Prefect's database (PostgreSQL, SQLite), following its changes.
  apply     Load a snapshot, apply a change file (upserts, deletes), answer bodies.
  save      Write a snapshot as a binary snapshot, which loads without parsing.

Run `taskdex <command> --help` for the options of a command.
)";

constexpr char kQueryHelp[] = R"(Usage:
  taskdex query --snapshot DIR [--body FILE] [options]
  taskdex query --snapshot DIR --bodies FILE [options]

Loads the snapshot directory DIR (flows.ndjson, deployments.ndjson,
flow_runs.ndjson, task_runs.ndjson; only task_runs.ndjson is required; or a
binary snapshot written by `taskdex save`, found by its manifest.json) and
answers request bodies of POST /api/task_runs/paginate exactly as Prefect does.

Options:
  --snapshot DIR      Snapshot directory to load (required).
  --body FILE         Read one request body from FILE ("-" or absent: stdin).
                      Prints the response body. An empty body (0 bytes) means
                      "no body": every field takes its default.
  --bodies FILE       Read one request body per line (JSON Lines; "-" = stdin).
                      Prints one line per body, in order:
                        {"status":<HTTP status>,"body":<response body>}
                      Blank lines are skipped. The snapshot is loaded once.
                      A line {"name": ..., "body": ...} (exactly those two
                      keys, as `taskdex generate --queries` writes) stands for
                      its body.
  --now TIME          Clock for estimated_run_time / estimated_start_time_delta
                      and for SCHEDULED states without scheduled_time, e.g.
                      2026-11-28T12:00:00Z (default: the current time).
  --skip-bad-lines    Load the snapshot's valid lines and report how many were
                      skipped (default: a bad line fails the load).
  --load-threads N    Threads used to load the snapshot: parse the files, then
                      build the indexes (default 0: all cores). --threads N is
                      the same.
  --prefault, --no-prefault
                      Binary snapshots: read every page of the mapped files
                      before decoding, or (the default) fault them in as the
                      sections are checked, overlapping a cold read with the
                      decoding.
  --quiet             Do not print the load summary, nor the load progress
                      that a terminal shows, on stderr.
  --explain           Also print each body's query plan on stderr: per step
                      the access path (posting union, sorted range, trigram
                      candidates, column scan, join direction, page cut) with
                      estimated and actual rows and microseconds.
  -h, --help          Show this help.

Exit status:
  0  the response is 200 (with --bodies: every line was answered)
  2  the response is an error (422, 400); its body is printed (--body only)
  1  the snapshot could not be loaded or an option is wrong (reason on stderr)
)";

struct QueryOptions {
  std::string snapshot;
  std::optional<std::string> body_file;
  std::optional<std::string> bodies_file;
  std::optional<std::string> now;
  bool skip_bad_lines = false;
  int threads = 0;
  bool prefault = false;
  bool quiet = false;
  bool explain = false;
};

int Usage(const char* message) {
  std::fprintf(stderr, "taskdex query: %s\nRun `taskdex query --help` for usage.\n", message);
  return 1;
}

bool ReadAll(const std::string& path, std::string* out) {
  if (path == "-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Answers one request body per line of `input` (JSON Lines; a line
// {"name":..,"body":..} stands for its body), printing
// {"status":..,"body":..} per line.
void AnswerBodyLines(const taskdex::Engine& engine, std::string_view input, taskdex::Micros now,
                     bool explain) {
  std::string out;
  size_t start = 0;
  while (start < input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    std::string_view line(input.data() + start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    std::optional<taskdex::BenchBody> named = taskdex::ParseBodyLine(line, 0);
    const std::string_view body = named ? std::string_view(named->body) : line;
    if (explain) std::fputs(engine.Explain(body).c_str(), stderr);
    taskdex::Response r = engine.PaginateJson(body, now);
    out.clear();
    out.append("{\"status\":").append(std::to_string(r.status)).append(",\"body\":");
    out.append(r.body).append("}\n");
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
}

int RunQuery(int argc, char** argv) {
  QueryOptions opt;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      (void)name;
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kQueryHelp, stdout);
      return 0;
    } else if (arg == "--snapshot") {
      auto v = value("--snapshot");
      if (!v) return Usage("--snapshot needs a directory");
      opt.snapshot = *v;
    } else if (arg == "--body") {
      auto v = value("--body");
      if (!v) return Usage("--body needs a file");
      opt.body_file = *v;
    } else if (arg == "--bodies") {
      auto v = value("--bodies");
      if (!v) return Usage("--bodies needs a file");
      opt.bodies_file = *v;
    } else if (arg == "--now") {
      auto v = value("--now");
      if (!v) return Usage("--now needs a time, e.g. 2026-11-28T12:00:00Z");
      opt.now = *v;
    } else if (arg == "--skip-bad-lines") {
      opt.skip_bad_lines = true;
    } else if (arg == "--prefault" || arg == "--no-prefault") {
      opt.prefault = arg == "--prefault";
    } else if (arg == "--threads" || arg == "--load-threads") {
      auto v = value("--load-threads");
      char* end = nullptr;
      long n = v ? std::strtol(v->c_str(), &end, 10) : -1;
      if (!v || *end != '\0' || n < 0 || n > 1024) {
        return Usage("--load-threads needs a number 0..1024");
      }
      opt.threads = static_cast<int>(n);
    } else if (arg == "--quiet") {
      opt.quiet = true;
    } else if (arg == "--explain") {
      opt.explain = true;
    } else {
      std::string message = "unknown option: " + std::string(arg);
      return Usage(message.c_str());
    }
  }
  if (opt.snapshot.empty()) return Usage("--snapshot DIR is required");
  if (opt.body_file && opt.bodies_file) return Usage("give --body or --bodies, not both");

  taskdex::Micros now = taskdex::NowMicros();
  if (opt.now) {
    absl::StatusOr<taskdex::Micros> parsed = taskdex::ParseInstant(*opt.now);
    if (!parsed.ok()) {
      std::string message = "--now: " + std::string(parsed.status().message());
      return Usage(message.c_str());
    }
    now = *parsed;
  }

  // Read the input before loading, so a missing body file fails fast.
  std::string input;
  std::string input_path = opt.bodies_file ? *opt.bodies_file : opt.body_file.value_or("-");
  if (!ReadAll(input_path, &input)) {
    std::fprintf(stderr, "taskdex query: cannot read %s: %s\n", input_path.c_str(),
                 std::strerror(errno));
    return 1;
  }

  taskdex::LoadOptions load_options;
  load_options.skip_bad_lines = opt.skip_bad_lines;
  load_options.threads = opt.threads;
  load_options.prefault = opt.prefault;
  load_options.huge_pages = taskdex::HugePagesFromEnvironment();
  taskdex::ProgressPrinter progress("taskdex query", opt.quiet,
                                    taskdex::ProgressPrinter::WhenNotTerminal::kSilent);
  load_options.progress = progress.Callback();
  absl::StatusOr<std::unique_ptr<taskdex::Engine>> engine =
      taskdex::Engine::Open(opt.snapshot, load_options);
  progress.Finish();
  if (!engine.ok()) {
    std::fprintf(stderr, "taskdex query: cannot load snapshot %s: %s\n", opt.snapshot.c_str(),
                 std::string(engine.status().message()).c_str());
    return 1;
  }
  if (!opt.quiet) std::fputs((*engine)->load_report().Summary().c_str(), stderr);

  if (!opt.bodies_file) {
    if (opt.explain) std::fputs((*engine)->Explain(input).c_str(), stderr);
    taskdex::Response r = (*engine)->PaginateJson(input, now);
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    std::fputc('\n', stdout);
    return r.status == 200 ? 0 : 2;
  }

  AnswerBodyLines(**engine, input, now, opt.explain);
  return 0;
}
constexpr char kApplyHelp[] = R"(Usage:
  taskdex apply --snapshot DIR --changes FILE [--batch N] [--bodies FILE] [options]

Loads the snapshot directory DIR, applies the change file FILE to it, then
answers request bodies of POST /api/task_runs/paginate on the result, exactly
as `taskdex query --bodies` does.

A change file is NDJSON, one change per line:
  {"op": "upsert", "entity": E, "row": {...a line of E's snapshot file...}}
  {"op": "delete", "entity": E, "id": "<uuid>"}
with E one of flow, deployment, flow_run, task_run. An upsert replaces the
row with the same id whole; deletes cascade as in Prefect (a flow run's task
runs, a flow's deployments and flow runs, a deployment's scheduled flow runs;
a deleted task run's subflows lose their parent_task_run_id).

Options:
  --snapshot DIR      Snapshot directory to load (required).
  --changes FILE      The change file ("-" = stdin) (required).
  --batch N           Apply the changes in batches of N lines (default 0: all
                      in one batch). Each batch is atomic: a bad line rejects
                      its whole batch (reported with its line number and
                      reason on stderr) and the next batches still apply.
  --bodies FILE       Request bodies to answer after the changes, one per line
                      (as `taskdex query --bodies`); without it nothing is
                      printed on stdout.
  --now TIME          Clock of the computed fields (default: the current time).
  --load-threads N    Threads used to load the snapshot: parse the files, then
                      build the indexes (default 0: all cores). --threads N is
                      the same.
  --prefault, --no-prefault
                      Binary snapshots: read every page before decoding, or
                      (the default) as the sections are checked.
  --quiet             Do not print the load and apply summaries, nor the load
                      progress that a terminal shows, on stderr.
  --explain           Also print each body's query plan on stderr, per
                      segment of the version the changes left.
  -h, --help          Show this help.

Exit status:
  0  every batch applied (and every body answered)
  2  some batch was rejected (the others applied; bodies still answered)
  1  the snapshot or a file could not be read, or an option is wrong
)";

int ApplyUsage(const char* message) {
  std::fprintf(stderr, "taskdex apply: %s\nRun `taskdex apply --help` for usage.\n", message);
  return 1;
}

int RunApply(int argc, char** argv) {
  std::string snapshot, changes;
  std::optional<std::string> bodies_file, now_text;
  size_t batch = 0;
  int threads = 0;
  bool prefault = false;
  bool quiet = false;
  bool explain = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kApplyHelp, stdout);
      return 0;
    } else if (arg == "--snapshot") {
      auto v = value();
      if (!v) return ApplyUsage("--snapshot needs a directory");
      snapshot = *v;
    } else if (arg == "--changes") {
      auto v = value();
      if (!v) return ApplyUsage("--changes needs a file");
      changes = *v;
    } else if (arg == "--bodies") {
      auto v = value();
      if (!v) return ApplyUsage("--bodies needs a file");
      bodies_file = *v;
    } else if (arg == "--now") {
      auto v = value();
      if (!v) return ApplyUsage("--now needs a time, e.g. 2026-11-28T12:00:00Z");
      now_text = *v;
    } else if (arg == "--prefault" || arg == "--no-prefault") {
      prefault = arg == "--prefault";
    } else if (arg == "--batch" || arg == "--threads" || arg == "--load-threads") {
      auto v = value();
      char* end = nullptr;
      long long n = v ? std::strtoll(v->c_str(), &end, 10) : -1;
      if (!v || *end != '\0' || n < 0 || n > (arg == "--batch" ? 1000000000LL : 1024)) {
        return ApplyUsage(arg == "--batch" ? "--batch needs a number of lines >= 0"
                                           : "--load-threads needs a number 0..1024");
      }
      if (arg == "--batch") {
        batch = static_cast<size_t>(n);
      } else {
        threads = static_cast<int>(n);
      }
    } else if (arg == "--quiet") {
      quiet = true;
    } else if (arg == "--explain") {
      explain = true;
    } else {
      std::string message = "unknown option: " + std::string(arg);
      return ApplyUsage(message.c_str());
    }
  }
  if (snapshot.empty()) return ApplyUsage("--snapshot DIR is required");
  if (changes.empty()) return ApplyUsage("--changes FILE is required");
  taskdex::Micros now = taskdex::NowMicros();
  if (now_text) {
    absl::StatusOr<taskdex::Micros> parsed = taskdex::ParseInstant(*now_text);
    if (!parsed.ok()) {
      std::string message = "--now: " + std::string(parsed.status().message());
      return ApplyUsage(message.c_str());
    }
    now = *parsed;
  }
  std::string bodies;
  if (bodies_file && !ReadAll(*bodies_file, &bodies)) {
    std::fprintf(stderr, "taskdex apply: cannot read %s: %s\n", bodies_file->c_str(),
                 std::strerror(errno));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<taskdex::ChangeFileReader>> reader =
      taskdex::ChangeFileReader::Open(changes == "-" ? "/dev/stdin" : changes, batch);
  if (!reader.ok()) {
    std::fprintf(stderr, "taskdex apply: cannot read %s: %s\n", changes.c_str(),
                 std::string(reader.status().message()).c_str());
    return 1;
  }
  taskdex::LoadOptions load_options;
  load_options.threads = threads;
  load_options.prefault = prefault;
  load_options.huge_pages = taskdex::HugePagesFromEnvironment();
  taskdex::ProgressPrinter progress("taskdex apply", quiet,
                                    taskdex::ProgressPrinter::WhenNotTerminal::kSilent);
  load_options.progress = progress.Callback();
  absl::StatusOr<std::unique_ptr<taskdex::Engine>> engine =
      taskdex::Engine::Open(snapshot, load_options,
                            {.background_merges = true, .expect_writes = true});
  progress.Finish();
  if (!engine.ok()) {
    std::fprintf(stderr, "taskdex apply: cannot load snapshot %s: %s\n", snapshot.c_str(),
                 std::string(engine.status().message()).c_str());
    return 1;
  }
  if (!quiet) std::fputs((*engine)->load_report().Summary().c_str(), stderr);
  const auto start = std::chrono::steady_clock::now();
  uint64_t applied = 0, rejected = 0, change_count = 0;
  taskdex::Batch b;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&b);
    if (!more.ok()) {
      if (!absl::IsInvalidArgument(more.status())) {
        std::fprintf(stderr, "taskdex apply: %s: %s\n", changes.c_str(),
                     std::string(more.status().message()).c_str());
        return 1;
      }
      ++rejected;
      std::fprintf(stderr, "taskdex apply: %s:%s (batch %llu rejected, nothing of it applied)\n",
                   changes.c_str(), std::string(more.status().message()).c_str(),
                   static_cast<unsigned long long>((*reader)->batches_read()));
      continue;
    }
    if (!*more) break;
    absl::StatusOr<taskdex::ApplyResult> r = (*engine)->Apply(b);
    if (!r.ok()) {
      ++rejected;
      std::fprintf(stderr, "taskdex apply: batch ending at line %llu rejected: %s\n",
                   static_cast<unsigned long long>((*reader)->lines_read()),
                   std::string(r.status().message()).c_str());
      continue;
    }
    ++applied;
    change_count += b.changes.size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!quiet) {
    const taskdex::LiveStats s = (*engine)->Stats();
    std::fprintf(stderr,
                 "applied %llu changes in %llu batches (%llu rejected) in %.3f s (%.0f changes/s); "
                 "version %llu: %llu segments, %llu task runs, %llu tombstones\n",
                 static_cast<unsigned long long>(change_count),
                 static_cast<unsigned long long>(applied),
                 static_cast<unsigned long long>(rejected), seconds,
                 seconds > 0 ? static_cast<double>(change_count) / seconds : 0.0,
                 static_cast<unsigned long long>(s.version),
                 static_cast<unsigned long long>(s.segments),
                 static_cast<unsigned long long>(s.task_runs),
                 static_cast<unsigned long long>(s.tombstones));
  }
  if (bodies_file) AnswerBodyLines(**engine, bodies, now, explain);
  return rejected == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kMainHelp, stderr);
    return 1;
  }
  std::string_view command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kMainHelp, stdout);
    return 0;
  }
  if (command == "query") return RunQuery(argc - 2, argv + 2);
  if (command == "generate") return taskdex::RunGenerate(argc - 2, argv + 2);
  if (command == "bench") return taskdex::RunBench(argc - 2, argv + 2);
  if (command == "bench-source") return taskdex::RunBenchSource(argc - 2, argv + 2);
  if (command == "serve") return taskdex::RunServe(argc - 2, argv + 2);
  if (command == "apply") return RunApply(argc - 2, argv + 2);
  if (command == "save") return taskdex::RunSave(argc - 2, argv + 2);
  std::fprintf(stderr, "taskdex: unknown command \"%s\"\n\n%s", argv[1], kMainHelp);
  return 1;
}
