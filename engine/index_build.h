// engine/index_build.h
//
// Builds the secondary indexes of a Store once its columns, joins and
// dictionaries are final: the task-run postings, null bitmaps and sorted
// orders, the flow-run postings, the name trigrams and folded names
// (AddIndexTasks), and the join postings of TaskRunIndexes (task runs by
// their flow run's flow, deployment and state type). Called by
// StoreBuilder::Build; owned by the planner (engine/executor.cc uses them).
//
// Thread safety: each task added by AddIndexTasks writes one member of the
// Store and only reads its columns, so the tasks may run concurrently
// (engine/internal/task_group.h); nothing else may touch the Store
// meanwhile. BuildJoinIndexes mutates `store` and is one such task.

#ifndef TASKDEX_ENGINE_INDEX_BUILD_H_
#define TASKDEX_ENGINE_INDEX_BUILD_H_

#include "engine/internal/task_group.h"
#include "engine/store.h"

namespace taskdex {

// Fills task_run_index.by_flow, by_deployment and by_flow_run_state_type
// and sets joins_built. REQUIRES: task_runs.flow_run_row and the flow runs'
// flow_row, deployment_row and state_type are final.
void BuildJoinIndexes(Store& store);

// Adds to `group` one task per index of `store` (BuildJoinIndexes among
// them), longest first; `name_trigrams` as StoreBuilder::BuildOptions. Once
// the group has run, call FinishIndexes. REQUIRES: columns, joins and
// dictionaries final (the end of StoreBuilder::Build); `store` outlives the
// group's Run.
void AddIndexTasks(Store& store, bool name_trigrams, engine_internal::TaskGroup* group);
// Sets the `built` flags of what AddIndexTasks built.
void FinishIndexes(Store& store, bool name_trigrams);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_INDEX_BUILD_H_
