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
// Count is the cardinality of the final bitmap.

#include "engine/executor.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/internal/exec_context.h"
#include "engine/internal/page_cut.h"
#include "engine/internal/task_run_plan.h"

namespace taskdex {
namespace {

const ExecOptions& DefaultOptions() {
  static const ExecOptions kDefault;
  return kDefault;
}

}  // namespace

Bitmap MatchTaskRuns(const Store& store, const FilterSet& filters) {
  const engine_internal::ExecContext ctx{store, DefaultOptions()};
  return engine_internal::MatchTaskRunRows(ctx, filters);
}

std::vector<RowId> SortedPage(const Store& store, const Bitmap& rows, TaskRunSort sort,
                              uint64_t offset, uint64_t limit) {
  const engine_internal::ExecContext ctx{store, DefaultOptions()};
  return engine_internal::CutSortedPage(ctx, rows, sort, offset, limit);
}

PageResult Paginate(const Store& store, const PaginateQuery& query, const ExecOptions& options) {
  const engine_internal::ExecContext ctx{store, options};
  PageResult result;
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  std::vector<engine_internal::PlanNode> kids = engine_internal::PlanTaskRunRows(ctx, query.filters);
  if (kids.size() == 1 && kids[0].exact_count) {
    // One criterion whose count needs no rows: the page may come from a
    // walk of the sort order that checks rows (dense results).
    engine_internal::StepTimer step(ctx, kids[0].what, "exact count without rows");
    const uint64_t count = kids[0].exact_count();
    step.Done(count);
    if (std::optional<std::vector<RowId>> page = engine_internal::CutPageByChecking(
            ctx, kids[0], count, query.sort, query.offset, limit,
            engine_internal::SortWindow(ctx, kids, query.sort))) {
      result.count = count;
      result.rows = std::move(*page);
      return result;
    }
  }
  std::optional<engine_internal::OrderWindow> window;
  if (store.task_run_index.built) window = engine_internal::SortWindow(ctx, kids, query.sort);
  const Bitmap rows = engine_internal::RunAnd(ctx, kids, store.task_runs.size());
  result.count = rows.cardinality();
  result.rows =
      engine_internal::CutSortedPage(ctx, rows, query.sort, query.offset, limit, window);
  return result;
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
