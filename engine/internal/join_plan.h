// engine/internal/join_plan.h
//
// The join of paginate.md 5 as plan nodes over task-run rows: the
// flow-run, flow and deployment filters are evaluated on their own tables
// (entity_filters.h), then each side becomes a PlanNode that materializes
// through the task-run join postings (by flow, deployment, flow-run state
// type) or the flow runs' task-run postings -- a union of few postings, a
// pass over task_runs.flow_run_row, or the joined task runs minus the
// postings of the flow runs that fail (most flow runs pass: a flow-run
// `or_` with `is_null_`) -- and checks a candidate by probing its flow run
// in a bitset. ExecOptions::join forces the older shapes (all sides on the
// flow-run table first, postings / scan / probe) for the differential tests.
//
// Thread safety: pure function of a const Store.

#ifndef TASKDEX_ENGINE_INTERNAL_JOIN_PLAN_H_
#define TASKDEX_ENGINE_INTERNAL_JOIN_PLAN_H_

#include <vector>

#include "engine/filter_ast.h"
#include "engine/internal/exec_context.h"
#include "engine/internal/plan_node.h"

namespace taskdex::engine_internal {

// Appends the join's sides for `filters` (flows, flow_runs, deployments).
void AddJoinSides(const ExecContext& ctx, const FilterSet& filters, std::vector<PlanNode>* kids);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_JOIN_PLAN_H_
