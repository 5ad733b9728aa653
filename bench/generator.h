// bench/generator.h
//
// The synthetic data generator behind `taskdex generate`: writes a snapshot
// directory (entities.md 4) of realistic shape for a given number of task
// runs, and optionally request bodies shaped like the Prefect UI's calls.
// Lines are shaped exactly like the elements of Prefect's /filter answers
// (full TaskRun with normalized sub-documents, lowercase UUIDs, Prefect's
// datetime text), as in data/sample/.
//
// Not a test oracle and not a copy of any real server: the shape is
// plausible (about 50 flows, 200 deployments, N/20 flow runs, skewed task
// counts, Zipf tags, a realistic state mix), not measured.
//
// Names come in two shapes (GenerateShape). The realistic default names task
// runs as Prefect 3 does ("<task name>-<3 characters of a random dynamic
// key>", some tasks with templated names carrying dates and parameter values:
// about 780,000 distinct names in 1M task runs) and flow runs adjective-noun from
// thousands of words; the legacy shape is the generator's first output, byte
// for byte (about 2 distinct names in 100 task runs at 1M). Everything but
// the names and dynamic keys is the same in both shapes for the same seed.
//
// Output is a pure function of the options (shape, name options, task_runs,
// seed, now): the thread count does not change a byte. Generation streams: memory holds the flow and
// deployment tables and a few bytes per flow run, never all task runs.
//
// Thread safety: GenerateSnapshot may run concurrently with itself on
// different output directories; it uses its own worker threads.

#ifndef TASKDEX_BENCH_GENERATOR_H_
#define TASKDEX_BENCH_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "engine/types.h"

namespace taskdex {

// The default clock of generated data: 2026-11-27T12:00:00Z.
inline constexpr Micros kGeneratorDefaultNow = 1795780800LL * 1000000;

enum class GenerateShape {
  kRealistic,  // Prefect 3's names over bench/name_model.h's vocabularies
  kLegacy,     // "<step name>-<map index>", 34 x 30 flow-run names
};

// Task names of the realistic shape when GenerateOptions::task_names is 0.
inline constexpr uint32_t kDefaultTaskNames = 700;

struct GenerateOptions {
  uint64_t task_runs = 0;            // exact number of task runs written
  uint64_t seed = 1;                 // same seed, same bytes
  Micros now = kGeneratorDefaultNow;  // the dump time; runs lie in the 30 days before
  std::string out_dir;               // created if absent; the four files are replaced
  std::string queries_file;          // empty: no request bodies
  int threads = 2;                   // worker threads (1..64)
  GenerateShape shape = GenerateShape::kRealistic;
  // Realistic shape only (InvalidArgument with kLegacy when set):
  // task_names: distinct task names, the prefixes of the task-run names,
  // 1..1000000 (0: kDefaultTaskNames); the ~200 steps of the 50 flows share
  // them when fewer, or each step calls one of several when more.
  // name_suffix_width: characters of the dynamic key after "<task name>-",
  // 1..8 (a UUID's first hex digits, Prefect 3), or 0: the legacy suffix (the
  // map index, an integer dynamic key); -1: 3.
  uint32_t task_names = 0;
  int name_suffix_width = -1;
  // Render every line but write no snapshot file (out_dir is not touched):
  // measures the generator's CPU side without the disk.
  bool discard = false;
  // Called from the writing thread about twice a second; may be empty.
  std::function<void(uint64_t task_runs_done, uint64_t bytes_done, double seconds)> progress;
};

struct GenerateSummary {
  uint64_t flows = 0, deployments = 0, flow_runs = 0, task_runs = 0;
  uint64_t subflow_runs = 0, autonomous_task_runs = 0, queries = 0;
  uint64_t flows_bytes = 0, deployments_bytes = 0, flow_runs_bytes = 0, task_runs_bytes = 0;
  uint64_t queries_bytes = 0;
  double seconds = 0;
  uint64_t total_bytes() const {
    return flows_bytes + deployments_bytes + flow_runs_bytes + task_runs_bytes;
  }
};

// Writes <out_dir>/{flows,deployments,flow_runs,task_runs}.ndjson and, if
// options.queries_file is set, one {"name": ..., "body": ...} per line there.
// Errors: InvalidArgument (task_runs 0 or above 2^32-1, threads out of range,
// name options out of range or given with the legacy shape),
// Internal (a file cannot be created or written; the message names it).
absl::Status GenerateSnapshot(const GenerateOptions& options, GenerateSummary* summary);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_GENERATOR_H_
