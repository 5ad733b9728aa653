// engine/internal/entity_filters.h
//
// FlowRunFilter (paginate.md 4.5), FlowFilter (4.6) and DeploymentFilter
// (4.7), each evaluated on its own table's rows (flow runs, flows,
// deployments: tables much smaller than the task runs), with the leaf
// evaluators of leaf_eval.h. The result is carried to task runs by
// task_run_plan.cc. nullopt means TRUE (every row of the table).
//
// Thread safety: pure functions of a const Store and their arguments.

#ifndef TASKDEX_ENGINE_INTERNAL_ENTITY_FILTERS_H_
#define TASKDEX_ENGINE_INTERNAL_ENTITY_FILTERS_H_

#include "engine/filter_ast.h"
#include "engine/internal/exec_context.h"
#include "engine/internal/leaf_eval.h"

namespace taskdex::engine_internal {

// Flow-run rows passing `f`.
Pred EvalFlowRuns(const ExecContext& ctx, const FlowRunFilter& f);
// Flow rows passing `f`.
Pred EvalFlows(const ExecContext& ctx, const FlowFilter& f);
// Deployment rows passing `f`.
Pred EvalDeployments(const ExecContext& ctx, const DeploymentFilter& f);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_ENTITY_FILTERS_H_
