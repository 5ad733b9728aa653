// bench/synthetic_records.h
//
// Deterministic in-memory data sets for the Google Benchmark suites, built
// directly as SnapshotRecords (no files): flows, deployments, flow runs
// (one per 10 task runs) and task runs with a small tag and name
// vocabulary, all nine state types, times over 30 days and some NULLs, so
// that every access path has work to do. Not Prefect-realistic in detail;
// `taskdex generate` is the data set for end-to-end figures.
//
// Thread safety: a pure function.

#ifndef TASKDEX_BENCH_SYNTHETIC_RECORDS_H_
#define TASKDEX_BENCH_SYNTHETIC_RECORDS_H_

#include <cstdint>

#include "engine/records.h"

namespace taskdex {

// Tags are "tag-0".."tag-49"; task names "<verb>_<noun>-<n>" (e.g.
// "send_email-17"); the first time is 2026-11-01T00:00:00Z.
SnapshotRecords SyntheticRecords(uint64_t task_runs, uint64_t seed);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_SYNTHETIC_RECORDS_H_
