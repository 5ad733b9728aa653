// engine/internal/plan_node.h
//
// Late materialization (DESIGN.md "Planner and executor"): every criterion
// over the task-run rows is a PlanNode that can run two ways --
// materialize (produce its rows from an index or a column scan) or check
// (test one candidate row from its columns) -- with an estimate of its rows
// and the cost of each way (engine/plan_cost.h). An AND runs its cheapest
// criterion as the driver, then, for each other criterion in order of
// selectivity, either checks it on the candidates left so far or
// materializes and intersects it, whichever costs less for the candidates
// actually left; an OR unions its children (or, checked as a whole, tests
// them in turn). A node's estimate may be lazy (a `like_` samples rows):
// it is computed only when a decision needs it.
//
// Conventions: std::optional<PlanNode> nullopt is TRUE (no criterion: every
// row); a node with estimate 0 that materializes to the empty set is FALSE.
// ExecOptions::conjunct forces every decision one way, for the differential
// tests. Costs are nanoseconds.
//
// Thread safety: nodes are built and run by one thread, for one query.

#ifndef TASKDEX_ENGINE_INTERNAL_PLAN_NODE_H_
#define TASKDEX_ENGINE_INTERNAL_PLAN_NODE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/internal/exec_context.h"
#include "index/bitmap.h"

namespace taskdex::engine_internal {

struct PlanNode {
  std::string what;  // the criterion, e.g. "task_runs.name.like_"
  std::string path;  // how it materializes, e.g. "posting union"
  // Rows it yields. `estimate` is used when `estimate_fn` is empty; else
  // estimate_fn() is called once, when a decision needs it, and `estimate`
  // is its cheap upper bound until then.
  uint64_t estimate = 0;
  std::function<uint64_t()> estimate_fn;
  // The exact number of rows without materializing them, when the node
  // knows it (disjoint postings); may be empty.
  std::function<uint64_t()> exact_count;
  double materialize_ns = 0;
  double check_ns = 0;  // per candidate row
  std::function<Bitmap()> materialize;
  std::function<bool(RowId)> check;
  // Where the check reads, for prefetching a few rows ahead; may be empty.
  std::function<const void*(RowId)> check_addr;
  // Must be checked, never materialized, once there are candidates (a
  // forced probe of the join).
  bool force_check = false;
  // Optional: a cheaper check bought once (a like_'s codes computed from the
  // dictionary, then a bit test per row): costs prepare_ns, then
  // prepared_check_ns a row. RunAnd buys it when that costs less.
  std::function<std::function<bool(RowId)>()> prepare_check;
  double prepare_ns = 0;
  double prepared_check_ns = 0;
  bool estimated = false;
  // FALSE for certain (NoRows): an AND with it is FALSE, and nothing else
  // of that AND is estimated or evaluated (a like_'s estimate samples rows).
  bool no_rows = false;
  // Every row it yields has a key of `key_column` (a task-run column,
  // identified by its vector's address) in [key_lo, key_hi], non-NULL: a
  // page in that column's order is cut from that key range alone (the
  // sort-order window of page_cut.h). nullptr: no such bound.
  const void* key_column = nullptr;
  int64_t key_lo = 0;
  int64_t key_hi = 0;

  uint64_t Estimate() {
    if (estimate_fn && !estimated) {
      estimate = estimate_fn();
      estimated = true;
    }
    return estimate;
  }
};

// A node whose rows are already known (an eager leaf: ids, a few postings).
PlanNode KnownRows(std::string what, Bitmap rows, double check_ns);
// FALSE: no row.
PlanNode NoRows(std::string what);

// The level of `op` over `kids` (nullopt kids are TRUE), with `any_criteria`
// whether the level had criteria at all (paginate.md 4.1: an empty level,
// and an AND of only TRUE criteria, is TRUE; an OR with a TRUE criterion is
// TRUE). `n` is the table's row count.
std::optional<PlanNode> MakeLevel(const ExecContext& ctx, BoolOp op, std::string what,
                                  std::vector<std::optional<PlanNode>> kids, uint32_t n);

// Runs an AND of `kids` over rows [0, n) (TRUE when empty).
Bitmap RunAnd(const ExecContext& ctx, std::vector<PlanNode>& kids, uint32_t n);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_PLAN_NODE_H_
