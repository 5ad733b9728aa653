// engine/internal/task_run_plan.h
//
// The task-run side of a query (paginate.md 4.4 and 5): the TaskRunFilter's
// criteria and the flow-run, flow and deployment sides of the join, each
// turned into a PlanNode (plan_node.h) over task-run rows, then run as one
// AND. A leaf's two ways:
//  - task-run leaves: materialize from their index (postings, sorted
//    ranges, the folded dictionary for `like_`, presence bitmaps) or a
//    column scan; check from the row's column (name code, tags, state,
//    time, flow_run_id);
//  - join sides: materialize through the task-run join postings (by flow,
//    deployment, flow-run state type) or the flow runs' task-run postings
//    (or a pass over task_runs.flow_run_row, or the complement of the
//    flow runs that fail); check by probing the row's flow run.
// Filters on flow runs, flows and deployments are first evaluated on their
// own (small) tables (entity_filters.h).
//
// Thread safety: pure function of a const Store (the like_ cache locks).

#ifndef TASKDEX_ENGINE_INTERNAL_TASK_RUN_PLAN_H_
#define TASKDEX_ENGINE_INTERNAL_TASK_RUN_PLAN_H_

#include <vector>

#include "engine/filter_ast.h"
#include "engine/internal/exec_context.h"
#include "engine/internal/plan_node.h"
#include "index/bitmap.h"

namespace taskdex::engine_internal {

// The criteria of the AND that selects `filters`' task runs (empty: TRUE).
std::vector<PlanNode> PlanTaskRunRows(const ExecContext& ctx, const FilterSet& filters);

// Task-run rows selected by `filters` (paginate.md 5).
Bitmap MatchTaskRunRows(const ExecContext& ctx, const FilterSet& filters);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_TASK_RUN_PLAN_H_
