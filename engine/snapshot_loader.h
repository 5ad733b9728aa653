// engine/snapshot_loader.h
//
// Reads a snapshot directory (entities.md 4) into records and a Store:
// four NDJSON files parsed with simdjson's iterate_many, every known key
// type-checked, sub-documents normalized (entities.md 2.1), unknown task-run
// keys kept as extras. A bad line fails the load with
// "<file>:<line>: <key>: <reason>", unless skip_bad_lines is set, in which
// case it is counted and the first reasons are kept.

#ifndef TASKDEX_ENGINE_SNAPSHOT_LOADER_H_
#define TASKDEX_ENGINE_SNAPSHOT_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/records.h"
#include "engine/store.h"

namespace taskdex {

struct LoadProgress {
  // "parse" while the files are read; "build" once, when LoadSnapshot
  // starts building from what was parsed (joins, dictionary freezes), then
  // "indexes" once, when the index builds start (StoreBuilder::Build's
  // second phase). A binary snapshot: "read"; a save: "save".
  std::string_view phase = "parse";
  std::string_view file;  // e.g. "task_runs.ndjson"
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // of all four files
  uint64_t lines_done = 0;
};

struct LoadOptions {
  bool skip_bad_lines = false;
  // Threads that parse the files (the calling thread adds what they parse
  // to the store, and parses too when it would otherwise wait) and then run
  // the independent parts of StoreBuilder::Build. 0: all cores.
  int threads = 0;
  // Threads for StoreBuilder::Build alone, when not `threads` (0). 1 is the
  // sequential build of the earlier loader: for same-run comparisons (the
  // bench command's --build-threads).
  int build_threads = 0;
  // Files are read and parsed in blocks of whole lines of about this many
  // bytes (0: 4 MiB); at most a few blocks per thread are held at once.
  // Small values are for tests of block boundaries.
  size_t block_bytes = 0;
  // Binary snapshots: false (the default), pages are touched as the
  // sections are checked and decoded, so a cold file's reading overlaps the
  // decoding; true, each file is mapped with its pages prefaulted
  // (MAP_POPULATE: the page tables filled, and a cold file read, in one
  // call before decoding starts). Measured at 10M (bench/RESULTS.md
  // "Session 14"): alike warm (2.15-2.18 s), lazily 0.8-1 s faster cold.
  // The commands' --prefault and --no-prefault.
  bool prefault = false;
  // Called now and then from the loading thread; may be empty.
  std::function<void(const LoadProgress&)> progress;
  // Engine::Open only: once built, move the store onto 2 MiB pages
  // (engine/huge_pages.h; best effort). Off by default: it measured slower
  // on the 1M query mix (api/taskdex.cc says why). The commands set it from
  // TASKDEX_HUGE_PAGES=1 (HugePagesFromEnvironment, api/taskdex.h).
  bool huge_pages = false;
};

struct LoadReport {
  // What was found at the path: "NDJSON snapshot" or "binary snapshot"
  // (engine/binary_snapshot.h).
  std::string_view format = "NDJSON snapshot";
  std::vector<std::string> missing_files;  // optional files not found
  uint64_t bytes = 0;
  uint64_t flows = 0, deployments = 0, flow_runs = 0, task_runs = 0;  // rows kept
  uint64_t skipped_lines = 0;
  std::vector<std::string> first_errors;  // up to 10, "<file>:<line>: <key>: <reason>"
  BuildReport build;
  double seconds = 0;
  // Wall seconds per phase of LoadSnapshot, in order: "parse+add <file>"
  // per file read (parsing on the workers overlaps adding on the calling
  // thread), then the phases of StoreBuilder::Build ("build.*").
  std::vector<std::pair<std::string, double>> phases;
  // Human-readable multi-line summary (what was loaded, what was reported).
  std::string Summary() const;
};

// Parses the four files into records (the same block pipeline as
// LoadSnapshot). Repeated ids are kept here (the StoreBuilder replaces them);
// `report` may be null.
absl::StatusOr<SnapshotRecords> ReadSnapshotRecords(const std::string& dir,
                                                    const LoadOptions& options,
                                                    LoadReport* report);

// Streams the four files into a StoreBuilder, then builds: blocks of lines
// are parsed on `threads - 1` worker threads (and the calling thread when it
// would otherwise wait) and handed to the builder on the calling thread in
// line order, so the result equals ReadSnapshotRecords + AddAll + Build while
// only a bounded number of blocks and their records are held at once.
absl::StatusOr<std::unique_ptr<Store>> LoadSnapshot(const std::string& dir,
                                                    const LoadOptions& options,
                                                    LoadReport* report);

// One line of each file, for tests and other sources. Errors are
// "<key>: <reason>" (no file or line).
absl::StatusOr<TaskRunRecord> ParseTaskRunLine(std::string_view line);
absl::StatusOr<FlowRunRecord> ParseFlowRunLine(std::string_view line);
absl::StatusOr<FlowRecord> ParseFlowLine(std::string_view line);
absl::StatusOr<DeploymentRecord> ParseDeploymentLine(std::string_view line);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_SNAPSHOT_LOADER_H_
