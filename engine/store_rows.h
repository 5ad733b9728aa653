// engine/store_rows.h
//
// Rows of a built Store read back as records (engine/records.h): the inverse
// of StoreBuilder::AddTaskRun / AddFlowRun / AddFlow / AddDeployment, for the
// live store, which rebuilds segments by feeding the rows of an immutable
// Store to a new StoreBuilder.
//
// Contract: adding the records read from every row of every table of a Store
// to a fresh StoreBuilder (rows in order) builds a Store whose rows answer
// identically: the same columns, and the same task-run JSON from the response
// writer at any `now`. In particular:
//  - the template columns (task_version, empirical_policy, labels, state) are
//    rendered back to their text; a SCHEDULED state's null scheduled_time (the
//    kScheduledNow hole, written as `now` by the response writer) is rendered
//    as `null` and its offset kept in state_scheduled_time_null_offset;
//  - nullable columns (kNullMicros, kNullCode, kNullStateType, BlobColumn
//    nulls) become std::nullopt;
//  - flow_run_id is the stored id, orphan or not; resolved joins (rows) are
//    not part of a record: Build() resolves them again.
//
// Pure functions of a const Store: thread-safe as the Store is.
// REQUIRES (each): row < the table's size().

#ifndef TASKDEX_ENGINE_STORE_ROWS_H_
#define TASKDEX_ENGINE_STORE_ROWS_H_

#include "engine/records.h"
#include "engine/store.h"
#include "engine/types.h"

namespace taskdex {

TaskRunRecord ReadTaskRunRecord(const Store& store, RowId row);
FlowRunRecord ReadFlowRunRecord(const Store& store, RowId row);
FlowRecord ReadFlowRecord(const Store& store, RowId row);
DeploymentRecord ReadDeploymentRecord(const Store& store, RowId row);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_STORE_ROWS_H_
