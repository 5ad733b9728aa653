// engine/internal/db_dialects.h
//
// The two DbSource dialects (engine/db_source.h), each in its own file:
// pg_source.cc (libpq, COPY ... TO STDOUT) and sqlite_source.cc (the SQLite
// C API, read-only). Only OpenDbSource calls these.

#ifndef TASKDEX_ENGINE_INTERNAL_DB_DIALECTS_H_
#define TASKDEX_ENGINE_INTERNAL_DB_DIALECTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/db_source.h"

namespace taskdex::engine_internal {

absl::StatusOr<std::unique_ptr<DbSource>> OpenPgSource(const std::string& url);
absl::StatusOr<std::unique_ptr<DbSource>> OpenSqliteSource(const std::string& url);

// " WHERE <alias>.id IN ('<uuid>',...)" for `entity` (UUIDs are written by
// us, in the 36-character form: safe as literals in both dialects).
std::string IdListWhere(EntityKind entity, std::span<const Uuid> ids);

// "2024-05-01 12:00:00.5+00" or "2024-05-01 12:00:00.500000" (a database's
// UTC timestamp text) as "2024-05-01T12:00:00.5Z" into `out`; false when
// `text` has neither form.
bool DbTimeToIso(std::string_view text, std::string* out);

// The position of each task_run column in DbColumns(kTaskRun) (checked
// against the table in db_source.cc at compile time): the typed path of
// engine/internal/task_run_row.h reads the row by them.
enum TaskRunColumn : size_t {
  kTrId, kTrUpdated, kTrCreated, kTrName, kTrFlowRunId, kTrTaskKey, kTrDynamicKey,
  kTrCacheKey, kTrCacheExpiration, kTrTaskVersion, kTrEmpiricalPolicy, kTrTags, kTrLabels,
  kTrStateId, kTrTaskInputs, kTrStateType, kTrStateName, kTrRunCount, kTrFlowRunRunCount,
  kTrExpectedStartTime, kTrNextScheduledStartTime, kTrStartTime, kTrEndTime,
  kTrTotalRunTime, kTrStateTimestamp, kTrSId, kTrSType, kTrSName, kTrSTimestamp,
  kTrSMessage, kTrSStateDetails, kTrSData, kTrArtifactData, kTrColumnCount
};

// Appends a task run row's `state` as the JSON object of the snapshot line
// (its "state." columns, `data` falling back to the result artifact's,
// prefect-schema.md 2.2), or null when the row has no state row (the LEFT
// JOIN found none). The one builder of it: DbRowToUpsert's line and the
// typed path both hand this text to the state normalizer.
void AppendDbTaskRunState(DbRow row, std::string* out);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_DB_DIALECTS_H_
