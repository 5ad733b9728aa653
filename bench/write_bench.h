// bench/write_bench.h
//
// `taskdex bench --writes RATE`: the live store under writes (engine/
// live_store.h), with generated Prefect activity (bench/change_stream.h:
// state changes of task runs in flight and new task runs, batches of
// `batch` upserts). Four phases on one loaded engine, each `seconds` long,
// every figure measured in the same run (ratios, not yesterday's numbers):
//   1. reads alone, on the store as loaded: the mix round-robin, p50/p99/max;
//   2. apply at full speed, no readers: upserts/s and apply latency; then
//      the merges it queued run to the end ("settle", segments before and
//      after), so phase 3 starts from a settled store;
//   3. reads while a writer applies RATE upserts/s: read p50/p99/max and
//      their ratio to phase 1, the write rate achieved, and the visibility
//      lag (a probe thread polls Pin() and records when each version is
//      first seen, against when its Apply returned), and the segments
//      left at its end;
//   4. reads alone again on the store the writes left (segments, merges):
//      its p50/p99 against phase 1; then memory of that store against the
//      same rows merged into one segment (MergeAll: a fresh build).
// Reads time Engine::PaginateJson (parse, plan, page, response).
//
// Thread safety: runs its own threads; the engine is shared.

#ifndef TASKDEX_BENCH_WRITE_BENCH_H_
#define TASKDEX_BENCH_WRITE_BENCH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "api/taskdex.h"
#include "bench/bench_runner.h"

namespace taskdex {

struct WriteBenchOptions {
  double rate = 10000;   // upserts per second in phase 3
  size_t batch = 1000;   // upserts per Apply
  double seconds = 10;   // per phase
  uint64_t seed = 1;
  Micros now = 0;
  bool json = false;
};

// Returns false when a phase failed (an Apply error).
bool RunWriteBench(Engine& engine, const std::vector<BenchBody>& bodies,
                   const WriteBenchOptions& options);

// `taskdex bench --checkpoint DIR --writes RATE`: two checkpoints
// (Engine::Save) of the live store into DIR while a writer applies RATE
// upserts/s and a reader runs the mix round-robin, `seconds` apart: the
// first writes every segment, the next reuses the files of unchanged
// ones (SegmentFileCache, as serve's checkpoints do). Prints each one's
// time and bytes, and the reads and applies that overlapped it against
// those of the `seconds` before it (p50, p99, max: the stall a checkpoint
// causes). False when a checkpoint or an Apply failed.
bool RunCheckpointBench(Engine& engine, const std::vector<BenchBody>& bodies,
                        const WriteBenchOptions& options, const std::string& dir);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_WRITE_BENCH_H_
