// engine/index_build.h
//
// Builds the join postings of TaskRunIndexes (engine/store.h): task runs by
// their flow run's flow, deployment and state type. Called once by
// StoreBuilder::Build after the joins are resolved; owned by the planner
// (engine/executor.cc uses the postings). Not thread-safe: mutates `store`.

#ifndef TASKDEX_ENGINE_INDEX_BUILD_H_
#define TASKDEX_ENGINE_INDEX_BUILD_H_

#include "engine/store.h"

namespace taskdex {

// Fills task_run_index.by_flow, by_deployment and by_flow_run_state_type
// and sets joins_built. REQUIRES: task_runs.flow_run_row and the flow runs'
// flow_row, deployment_row and state_type are final.
void BuildJoinIndexes(Store& store);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_INDEX_BUILD_H_
