// engine/executor.cc
//
// The public entry points of query execution (engine/executor.h): builds
// the explicit ExecContext of one call and runs the plan. The parts live in
// engine/internal/, one idea each:
//  - task_run_plan.cc: the task-run criteria and the join sides as plan
//    nodes (materialize from an index, or check per candidate row);
//  - plan_node.cc: the cost-based AND/OR of plan nodes (late
//    materialization);
//  - leaf_eval.cc: the leaf evaluators shared by every table;
//  - entity_filters.cc: flow-run, flow and deployment filters on their own
//    tables;
//  - page_cut.cc: the sorted page (slice, walk of the sort order, or
//    partial sort);
//  - engine/like_pattern.cc, like_cache.cc: `like_` matching and caching;
//  - engine/plan_cost.h: the cost constants.
// Count is the cardinality of the final bitmap. A segment of a live store
// has tombstones (`dead`): they are one more criterion of the AND.

#include "engine/executor.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/internal/exec_context.h"
#include "engine/internal/page_cut.h"
#include "engine/internal/task_run_plan.h"
#include "engine/plan_cost.h"

namespace taskdex {
namespace {

const ExecOptions& DefaultOptions() {
  static const ExecOptions kDefault;
  return kDefault;
}

// The rows of a segment that still count: all of [0, n) but `dead`: the
// node of a query without criteria (with criteria, the tombstones come off
// the matches instead).
engine_internal::PlanNode LiveRowsNode(uint32_t n, const Bitmap* dead, uint64_t dead_rows) {
  engine_internal::PlanNode live;
  live.what = "live rows";
  live.path = "all rows but the tombstones";
  live.estimate = n - std::min<uint64_t>(n, dead_rows);
  live.materialize_ns = plan_cost::kBitmapByteNs * static_cast<double>(dead->getSizeInBytes()) +
                        plan_cost::kPostingOpenNs;
  live.materialize = [n, dead] {
    Bitmap rows = AllRows(n);
    rows -= *dead;
    return rows;
  };
  live.check = [dead](RowId r) { return !dead->contains(r); };
  live.check_ns = plan_cost::kCheckRowNs;
  // Alone (a query without criteria), its count needs no rows and its page
  // is a walk of the sort order skipping the tombstones.
  live.exact_count = [n, dead_rows] { return n - std::min<uint64_t>(n, dead_rows); };
  return live;
}

}  // namespace

Bitmap MatchTaskRuns(const Store& store, const FilterSet& filters) {
  const engine_internal::ExecContext ctx{store, DefaultOptions()};
  return engine_internal::MatchTaskRunRows(ctx, filters);
}

Bitmap MatchTaskRuns(const Store& store, const Bitmap* dead, const FilterSet& filters) {
  Bitmap rows = MatchTaskRuns(store, filters);
  if (dead != nullptr) rows -= *dead;
  return rows;
}

std::vector<RowId> SortedPage(const Store& store, const Bitmap& rows, TaskRunSort sort,
                              uint64_t offset, uint64_t limit) {
  const engine_internal::ExecContext ctx{store, DefaultOptions()};
  return engine_internal::CutSortedPage(ctx, rows, sort, offset, limit);
}

PageResult Paginate(const Store& store, const Tombstones& tombstones, const PaginateQuery& query,
                    const ExecOptions& options) {
  const Bitmap* dead = tombstones.rows;
  if (dead != nullptr && dead->isEmpty()) dead = nullptr;
  const engine_internal::ExecContext ctx{store, options};
  PageResult result;
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  std::vector<engine_internal::PlanNode> kids = engine_internal::PlanTaskRunRows(ctx, query.filters);
  const uint64_t dead_rows = dead == nullptr ? 0 : dead->cardinality();
  // The tombstones' positions in the sort's order, when known and the
  // order holds every row: walks step over them instead of checking rows.
  const uint32_t n = store.task_runs.size();
  const Bitmap* skip = nullptr;
  if (dead != nullptr && tombstones.positions != nullptr && store.task_run_index.built &&
      store.task_run_index.OrderFor(query.sort).size() == n) {
    skip = &tombstones.positions->by_sort[static_cast<int>(query.sort)];
  }
  const PageCutChoice forced = options.page_cut;
  if (skip != nullptr && kids.empty() &&
      (forced == PageCutChoice::kAuto || forced == PageCutChoice::kWalkOrder ||
       forced == PageCutChoice::kWalkChecking)) {
    // No criteria: every live row, in order.
    result.count = n - std::min<uint64_t>(n, dead_rows);
    result.rows = engine_internal::CutLivePage(ctx, query.sort, *skip, query.offset, limit);
    return result;
  }
  if (dead != nullptr && kids.empty()) {
    kids.push_back(LiveRowsNode(store.task_runs.size(), dead, dead_rows));
    dead = nullptr;  // the node is the tombstones
  }
  if (kids.size() == 1 && kids[0].exact_count &&
      static_cast<double>(dead == nullptr ? 0 : dead_rows) * kids[0].check_ns <
          kids[0].materialize_ns) {
    // One criterion whose count needs no rows: the page may come from a
    // walk of the sort order that checks rows (dense results). Dead rows
    // are few here: each is checked and taken off the count.
    engine_internal::StepTimer step(ctx, kids[0].what, "exact count without rows");
    uint64_t count = kids[0].exact_count();
    engine_internal::PlanNode live_only;
    const engine_internal::PlanNode* node = &kids[0];
    if (dead != nullptr) {
      ForEachRow(*dead, [&](RowId r) { count -= kids[0].check(r) ? 1 : 0; });
      if (skip == nullptr) {
        live_only = kids[0];
        live_only.check = [check = std::move(live_only.check), dead](RowId r) {
          return !dead->contains(r) && check(r);
        };
        live_only.check_ns += plan_cost::kCheckRowNs;
        node = &live_only;
      }
    }
    step.Done(count);
    if (std::optional<std::vector<RowId>> page = engine_internal::CutPageByChecking(
            ctx, *node, count, query.sort, query.offset, limit,
            engine_internal::SortWindow(ctx, kids, query.sort), skip)) {
      result.count = count;
      result.rows = std::move(*page);
      return result;
    }
  }
  // With criteria, the tombstones come off the matches with one andnot: it
  // touches only the containers the two share, where checking each
  // candidate against them (a node of the AND) costs a lookup per candidate.
  std::optional<engine_internal::OrderWindow> window;
  if (store.task_run_index.built) window = engine_internal::SortWindow(ctx, kids, query.sort);
  Bitmap rows = engine_internal::RunAnd(ctx, kids, store.task_runs.size());
  if (dead != nullptr && skip != nullptr) {
    // Counted off, and stepped over by the page cut: a dense result (a
    // state of most rows) is not copied to take out a few tombstones.
    engine_internal::StepTimer step(ctx, "live rows", "matches and the tombstones' positions",
                                    static_cast<int64_t>(rows.cardinality()));
    result.count = rows.cardinality() - rows.and_cardinality(*dead);
    step.Done(result.count);
    result.rows = engine_internal::CutSortedPage(ctx, rows, query.sort, query.offset, limit,
                                                 window, dead, skip);
    return result;
  }
  if (dead != nullptr && !rows.isEmpty()) {
    engine_internal::StepTimer step(ctx, "live rows", "matches minus the tombstones",
                                    static_cast<int64_t>(rows.cardinality()));
    rows -= *dead;
    step.Done(rows.cardinality());
  }
  result.count = rows.cardinality();
  result.rows =
      engine_internal::CutSortedPage(ctx, rows, query.sort, query.offset, limit, window);
  return result;
}

PageResult Paginate(const Store& store, const PaginateQuery& query, const ExecOptions& options) {
  return Paginate(store, Tombstones{}, query, options);
}

PageResult Paginate(const Store& store, const PaginateQuery& query) {
  return Paginate(store, query, DefaultOptions());
}

uint64_t Count(const Store& store, const FilterSet& filters) {
  return MatchTaskRuns(store, filters).cardinality();
}

std::string Explain(const Store& store, const PaginateQuery& query) {
  std::vector<PlanStep> trace;
  ExecOptions options;
  options.trace = &trace;
  const auto start = std::chrono::steady_clock::now();
  const PageResult result = Paginate(store, query, options);
  const double total_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::string out = absl::StrFormat("plan: %d task runs, count=%d, page rows=%d, total %.1f us\n",
                                    store.task_runs.size(), result.count, result.rows.size(),
                                    total_us);
  for (const PlanStep& step : trace) {
    out += absl::StrFormat("  %-34s %-40s est=%-10s actual=%-10d %.1f us\n", step.what, step.path,
                           step.estimate < 0 ? std::string("?") : std::to_string(step.estimate),
                           step.actual, step.micros);
    if (!step.alternatives.empty()) {
      out += absl::StrFormat("  %-34s   (%s)\n", "", step.alternatives);
    }
  }
  return out;
}

}  // namespace taskdex
