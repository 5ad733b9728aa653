// engine/history.h
//
// POST /api/task_runs/history (paginate.md 9.4): the matching task runs
// bucketed by expected_start_time into fixed intervals (PostgreSQL's form: at
// most 500 intervals [start + k*i, start + (k+1)*i) while start + k*i < end),
// grouped by (state_type, state_name), with counts and sums of
// max(0, estimated_run_time) and max(0, estimated_start_time_delta).
// Task runs with a NULL state type or expected_start_time are left out.
//
// Not for: request validation or JSON (api/history_request.h, which also
// writes the response).
//
// Thread safety: pure functions of their arguments.

#ifndef TASKDEX_ENGINE_HISTORY_H_
#define TASKDEX_ENGINE_HISTORY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/store.h"
#include "engine/types.h"
#include "index/bitmap.h"

namespace taskdex {

inline constexpr int kMaxHistoryIntervals = 500;

struct HistoryState {
  StateType state_type = StateType::kScheduled;
  // A view into a Store's state-name dictionary (valid while that Store
  // lives); nullopt for a NULL state name.
  std::optional<std::string_view> state_name;
  uint64_t count_runs = 0;
  int64_t sum_estimated_run_time_us = 0;  // sum of max(0, x)
  int64_t sum_estimated_lateness_us = 0;  // sum of max(0, x)
};

struct HistoryInterval {
  Micros start = 0;
  Micros end = 0;
  // Ordered by state type name, then state name, bytewise, a NULL name first
  // (a group of its own, apart from "").
  std::vector<HistoryState> states;
};

// The interval bounds: empty when start >= end. REQUIRES: interval_us >= 1.
std::vector<HistoryInterval> MakeHistoryIntervals(Micros start, Micros end, int64_t interval_us);

// Per-row microseconds of estimated_run_time / estimated_start_time_delta.
using RowMicrosFn = std::function<int64_t(RowId)>;

// The task runs `rows` of `store` (one segment of a version).
struct HistorySource {
  const Store* store;
  const Bitmap* rows;
  RowMicrosFn estimated_run_time;
  RowMicrosFn estimated_lateness;
};

// Fills the intervals with the task runs of every source.
std::vector<HistoryInterval> TaskRunHistory(std::span<const HistorySource> sources, Micros start,
                                            Micros end, int64_t interval_us);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_HISTORY_H_
