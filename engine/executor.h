// engine/executor.h
//
// Evaluates a FilterSet against a Store (paginate.md 4-5) and cuts the sorted
// page (6-7). Shape (DESIGN.md "Planner and executor"): every leaf yields a
// Bitmap of rows, levels AND/OR their children's bitmaps, flow-run, flow and
// deployment filters are evaluated on their own tables and carried to task
// runs through the join postings; count is the cardinality of the final
// bitmap; the page is cut from the sort order (id DESC tie-break, NULLs as
// PostgreSQL places them). Thread-safe on a const Store.

#ifndef TASKDEX_ENGINE_EXECUTOR_H_
#define TASKDEX_ENGINE_EXECUTOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/like_pattern.h"  // LikeMatches, for callers of the old header
#include "engine/store.h"
#include "engine/tombstones.h"
#include "index/bitmap.h"

namespace taskdex {

struct PageResult {
  std::vector<RowId> rows;  // task-run rows of the page, in order
  uint64_t count = 0;       // all matches, ignoring offset/limit
};

// Planner overrides, for tests (every access path, join direction and page
// cut must give the same answer) and for --explain. kAuto lets the planner
// choose by estimated cardinality.
enum class AccessPathChoice : uint8_t { kAuto, kIndex, kScan };
// kJoinPostings: flow, deployment and flow-run sides each become task-run
// rows through the task-run join postings (TaskRunIndexes::by_flow, ...) or
// a probe of the smallest side's rows; the others go through the matching
// flow runs (postings of task_runs_of_flow_run, a scan, or a probe).
enum class JoinChoice : uint8_t {
  kAuto,
  kPostings,
  kScanTaskRuns,
  kProbeTaskRuns,
  kJoinPostings,
};
// kWalkOrder tests each visited row with Bitmap::contains, kWalkOrderMask
// with a flat bitset of the matches built first (index/row_mask.h).
// kWalkChecking: when the whole filter is one criterion whose count is
// exact without its rows (disjoint postings: a state type, a flow run's or
// flow's task runs), count from the postings and walk the sort order
// checking each row, never materializing the matches (forced: whenever
// possible, without a budget). kWalkBackward: walk the order from its far
// end, skipping the matches after the page (kAuto does so for a page past
// the middle of the matches; forced: at any offset, without a budget, where
// the order has no tombstones or pending changes to step over).
enum class PageCutChoice : uint8_t {
  kAuto,
  kWalkOrder,
  kPartialSort,
  kWalkOrderMask,
  kWalkChecking,
  kWalkBackward,
};
// How the criteria of a task-run AND (the task-run filter's own criteria
// and the flow-run, flow and deployment sides) are combined: after the first
// (driving) criterion is materialized, each other one is either
// materialized and intersected, or checked row by row on the candidates
// left so far. kAuto chooses per criterion by cost (engine/plan_cost.h);
// kMaterialize materializes every criterion; kFilterCandidates checks every
// criterion after the driver (an OR level's children included).
enum class ConjunctChoice : uint8_t { kAuto, kMaterialize, kFilterCandidates };
// How `like_` finds the matching dictionary codes: the trigram candidates
// verified one by one, a scan of the case-folded contiguous copy, or the
// matcher on every dictionary entry.
enum class LikeChoice : uint8_t { kAuto, kTrigram, kFoldedScan, kEntryScan };

// How a version of several segments (engine/version.h) merges a page:
// kPages merges each segment's sorted page; kRankSelection, for a query
// without criteria, selects the page by rank over the segments' live
// orders (kAuto: past an offset, engine/version.cc).
enum class SegmentMergeChoice : uint8_t { kAuto, kPages, kRankSelection };

// One executed plan step, for Explain.
struct PlanStep {
  std::string what;      // e.g. "task_runs.tags.any_"
  std::string path;      // e.g. "posting union", "column scan"
  int64_t estimate = -1;  // estimated rows, -1 if unknown
  uint64_t actual = 0;    // rows produced
  double micros = 0;      // wall time of the step
  // The alternatives the planner weighed for this step with their
  // estimated costs, e.g. "check 0.4us < materialize 310us"; may be empty.
  std::string alternatives;
};

struct ExecOptions {
  AccessPathChoice access = AccessPathChoice::kAuto;
  JoinChoice join = JoinChoice::kAuto;
  PageCutChoice page_cut = PageCutChoice::kAuto;
  ConjunctChoice conjunct = ConjunctChoice::kAuto;
  LikeChoice like = LikeChoice::kAuto;
  SegmentMergeChoice segment_merge = SegmentMergeChoice::kAuto;
  // Read and fill the Store's `like_` cache (engine/like_cache.h). Tests of
  // forced paths turn it off so each path computes its own answer.
  bool use_like_cache = true;
  std::vector<PlanStep>* trace = nullptr;  // filled when non-null
};

// Task-run rows selected by `filters` (paginate.md 5).
Bitmap MatchTaskRuns(const Store& store, const FilterSet& filters);

// The forms over one segment of a live store (engine/version.h): `dead`
// holds the task-run rows that no longer count (replaced or deleted since
// the segment was built, or only carried for a join); every result leaves
// them out. nullptr or empty: every row counts. Paginate also takes their
// positions in the sort orders, when known (engine/tombstones.h).
Bitmap MatchTaskRuns(const Store& store, const Bitmap* dead, const FilterSet& filters);
PageResult Paginate(const Store& store, const Tombstones& dead, const PaginateQuery& query,
                    const ExecOptions& options);

// Rows [offset, offset+limit) of `rows` in `sort` order.
std::vector<RowId> SortedPage(const Store& store, const Bitmap& rows, TaskRunSort sort,
                              uint64_t offset, uint64_t limit);

// Count and page from the same Store.
PageResult Paginate(const Store& store, const PaginateQuery& query);
PageResult Paginate(const Store& store, const PaginateQuery& query, const ExecOptions& options);

// Runs `query` with a trace and renders the plan: one line per step with
// its access path, estimated and actual rows and time, and under it the
// alternatives the planner weighed with their estimated costs.
std::string Explain(const Store& store, const PaginateQuery& query);

uint64_t Count(const Store& store, const FilterSet& filters);


}  // namespace taskdex

#endif  // TASKDEX_ENGINE_EXECUTOR_H_
