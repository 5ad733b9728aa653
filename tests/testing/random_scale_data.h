// tests/testing/random_scale_data.h
//
// Seeded data sets at realistic scale for the differential suite (issue 9):
// thousands to ~100k task runs shaped like a real Prefect history, so that
// the automatic planner's thresholds (posting union vs column scan, walk vs
// partial sort, probe vs postings, sorted range vs scan vs row filter) flip
// both ways on the same data.
//
// Shape, per data set (every proportion drawn from the seed, so the sets
// differ):
//   - task-run names `<task>-<suffix>`: mostly unique (4-hex suffix), some
//     shared (a handful of common suffixes), some templated with a date, a
//     few bare task names; task names include mixed case, like_
//     metacharacters (`%`, `_`, `\`) and multibyte characters;
//   - skewed values: most task runs COMPLETED, one tag on most rows, a few
//     flow runs holding a large share of the task runs, next to rare tags,
//     rare states and small flow runs;
//   - times increasing with row order (rows arrive in time order), with
//     ties (minute-truncated values) and NULLs;
//   - flows, deployments (some paused, some of a missing flow), hundreds to
//     a few thousand flow runs (some of a deleted deployment, some subflows
//     of a task run), orphan and autonomous task runs.
// Ids are unique within each entity. Uses TestRng (random_data.h), so a seed
// replays the same data on every platform. Pure functions; not thread-safe
// per TestRng.

#ifndef TASKDEX_TESTS_TESTING_RANDOM_SCALE_DATA_H_
#define TASKDEX_TESTS_TESTING_RANDOM_SCALE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/records.h"
#include "engine/types.h"
#include "tests/testing/random_data.h"

namespace taskdex {

// A data set of exactly `task_runs` task runs (task_runs >= 1).
SnapshotRecords RandomRecordsAtScale(TestRng& rng, uint32_t task_runs);

// Ids that name no record of any generated data set (scale or small).
const std::vector<Uuid>& ScaleUnknownIds();

// The created_by.id values scale data sets use, as UUIDs (the records hold
// their text).
const std::vector<Uuid>& ScaleCreatorIds();

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_RANDOM_SCALE_DATA_H_
