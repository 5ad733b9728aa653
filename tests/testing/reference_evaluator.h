// tests/testing/reference_evaluator.h
//
// The test oracle: a naive reference evaluator for /paginate (paginate.md
// 4-7) and its siblings /filter, GET /{id} and /history (paginate.md 9.1,
// 9.3, 9.4), with the computed fields of paginate.md 8.6. It reads plain rows (engine/records.h) and the Filter AST
// (engine/filter_ast.h) and nothing else of the engine: every task run is
// checked row by row with code written straight from the spec text, the
// matches are ordered with std::stable_sort and a comparator implementing
// paginate.md 6.2, then `offset` rows are skipped and `limit` taken.
//
// Written to be obviously right, not fast: every task run is checked with
// every criterion, like_ is a dynamic program over code points. The only
// preparation is RefData's lookups by id (hash maps), built once per data set
// so that data sets of ~100k task runs stay affordable (a query costs one
// pass over the task runs and a sort of the matches). Test-only; never link
// it into the engine. Pure functions and const RefData: thread-safe.
//
// Repeated ids: like the StoreBuilder, a later record with the same id
// replaces an earlier one (entities.md 4.1), so only the last record of each
// id is seen by the evaluator.

#ifndef TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_
#define TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

struct ReferenceResult {
  std::vector<Uuid> ids;      // the page, in order
  uint64_t count = 0;         // all matches, ignoring offset and limit
  int64_t limit = 0;          // the limit used
  uint64_t pages = 0;         // RefPages(count, limit)
  std::vector<Uuid> all_ids;  // every match, in sort order (the page comes from it)
};

// A data set with its lookups by id prepared: the last record of each id,
// the task runs some flow run names as parent (subflow_runs, 4.4.8) and the
// flows some deployment names (flows.deployment.is_null_, 4.6). Holds a
// reference to `records`, which must outlive it and not change.
class RefData {
 public:
  explicit RefData(const SnapshotRecords& records);
  RefData(const RefData&) = delete;
  RefData& operator=(const RefData&) = delete;

  const SnapshotRecords& records() const { return records_; }
  // The last record with this id, or nullptr.
  const FlowRecord* FindFlow(const Uuid& id) const;
  const DeploymentRecord* FindDeployment(const Uuid& id) const;
  const FlowRunRecord* FindFlowRun(const Uuid& id) const;
  const TaskRunRecord* FindTaskRun(const Uuid& id) const;
  // True if records().task_runs[i] is the last record of its id.
  bool IsLastTaskRun(size_t i) const;
  // A (last) flow run has parent_task_run_id == task_run_id.
  bool IsSubflowParent(const Uuid& task_run_id) const;
  // A (last) deployment has flow_id == flow_id.
  bool FlowHasDeployment(const Uuid& flow_id) const;

 private:
  using LastIndex = absl::flat_hash_map<Uuid, size_t>;  // id -> index of its last record
  const SnapshotRecords& records_;
  LastIndex last_flow_;
  LastIndex last_deployment_;
  LastIndex last_flow_run_;
  LastIndex last_task_run_;
  std::vector<bool> is_last_task_run_;  // by index into records_.task_runs
  absl::flat_hash_set<Uuid> subflow_parents_;
  absl::flat_hash_set<Uuid> flows_with_deployment_;
};

// Answers `query` over `records` (paginate.md 5-7).
ReferenceResult RefPaginate(const SnapshotRecords& records, const PaginateQuery& query);
ReferenceResult RefPaginate(const RefData& data, const PaginateQuery& query);

// The task runs selected by `filters`, in record order (last record of each id).
std::vector<Uuid> RefMatchingIds(const SnapshotRecords& records, const FilterSet& filters);
std::vector<Uuid> RefMatchingIds(const RefData& data, const FilterSet& filters);

// `pages` of paginate.md 7: ceil(count / limit), and 0 when limit is 0.
uint64_t RefPages(uint64_t count, int64_t limit);

// True if `text` matches `'%' + pattern + '%'` under PostgreSQL's ILIKE with
// a C locale (paginate.md 4.2). Independent of the engine's LikeMatches.
bool RefLikeMatches(std::string_view text, std::string_view pattern);

// Lowercase hyphenated text of a UUID (written here, not taken from engine/).
std::string RefUuidText(const Uuid& u);

// ---------------------------------------------------------------------------
// Sibling endpoints (paginate.md 9)

// POST /api/task_runs/filter (9.1): the matches in `sort` order (6.2), rows
// [offset, offset + limit).
std::vector<Uuid> RefFilterIds(const RefData& data, const FilterSet& filters, TaskRunSort sort,
                               uint64_t offset, uint64_t limit);

// GET /api/task_runs/{id} (9.3): the task run with this id (its last
// record), or nullptr for the 404.
const TaskRunRecord* RefReadTaskRun(const RefData& data, const Uuid& id);

// paginate.md 8.6, in microseconds, at clock `now`.
int64_t RefEstimatedRunTimeMicros(const TaskRunRecord& t, Micros now);
int64_t RefEstimatedStartTimeDeltaMicros(const TaskRunRecord& t, Micros now);

// The text of a StateType (paginate.md 8.3), e.g. "COMPLETED".
std::string RefStateTypeName(StateType type);

struct RefHistoryState {
  std::string state_type;  // RefStateTypeName
  std::optional<std::string> state_name;
  uint64_t count_runs = 0;
  int64_t sum_estimated_run_time_us = 0;  // sum over the runs of max(0, x)
  int64_t sum_estimated_lateness_us = 0;

  bool operator==(const RefHistoryState&) const = default;
};

struct RefHistoryInterval {
  Micros start = 0;
  Micros end = 0;
  std::vector<RefHistoryState> states;

  bool operator==(const RefHistoryInterval&) const = default;
};

// POST /api/task_runs/history (9.4), for a validated request: intervals
// [start + k*i, start + (k+1)*i) while start + k*i < end, at most 500; each
// selected task run with a state type and an expected_start_time inside an
// interval counts in its (state_type, state_name) group; groups ordered by
// state type text, then state name, bytewise, a NULL name first (the spec
// does not place NULL; this is the engine's choice). An interval end past
// the int64 range is clamped to INT64_MAX (Prefect would overflow).
// REQUIRES: interval_us >= 1.
std::vector<RefHistoryInterval> RefHistory(const RefData& data, const FilterSet& filters,
                                           Micros history_start, Micros history_end,
                                           int64_t interval_us, Micros now);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_
