// bench/prefect_db.h
//
// PrefectDb writes taskdex records into Prefect's own relational schema
// (prefect-schema.md), in PostgreSQL or SQLite, the way Prefect's server
// writes them. It is the other side of a database source: tests and
// benchmarks fill a real database with it, then check or time a reader
// that follows the database through the `updated` column. It is not a
// reader and never reads records back.
//
// What "as Prefect does" means here (prefect-schema.md 1 and 4):
//  - Inserts set `created` and `updated` to a client-side ("Python") UTC
//    time: the record's own `created`/`updated` for task runs when present,
//    else the `at` argument, else the current time.
//  - Updates set `updated` to the database's clock: PostgreSQL `now()` (the
//    start of the transaction), SQLite
//    strftime('%Y-%m-%d %H:%M:%f000','now') (milliseconds, then 000).
//  - Deletes are plain DELETEs; the database's cascades (ON DELETE CASCADE /
//    SET NULL) do the rest and move no `updated`.
//  - Storage per database as prefect-schema.md 1: PostgreSQL uuid,
//    timestamptz, jsonb (artifact.data: json), interval, enum types
//    state_type and deployment_status, extension pg_trgm and the GIN
//    trigram indexes; SQLite CHAR(36) lowercase uuids, DATETIME text
//    'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, JSON text as Python's json.dumps
//    writes it (", " and ": " separators, non-ASCII as \uXXXX), VARCHAR(9)
//    enums, intervals as '1970-01-01 00:00:55.000000' text, booleans 0/1,
//    PRAGMA journal_mode=WAL and foreign_keys=ON.
//
// Mapping from records (engine/records.h) to columns:
//  - task_run.total_run_time <- total_run_time_us (interval);
//    tags -> JSON array; labels <- labels_json (the JSON value null when
//    labels_json is "null", as SQLAlchemy's JSON type stores None);
//    empirical_policy <- empirical_policy_json ("{}" when empty);
//    task_inputs <- task_inputs_json; state_id, state_timestamp from the
//    state (below). parameters_json, context_json and extras_json have no
//    task_run column and are not written.
//  - The state: when state_json is not "null" a task_run_state row is
//    written from it (id, type, name, timestamp, message, state_details,
//    data; data NULL when JSON null) and task_run.state_id = state.id,
//    task_run.state_timestamp = state.timestamp. With state_json "null",
//    task_run.state_id is record.state_id (it may dangle: there is no FK).
//    task_run.state_type / state_name are the record's.
//  - flow_run.created_by <- {"id": .., "type": .., "display_value": null}
//    when has_created_by (id/type JSON strings or null), else SQL NULL.
//    Columns the records lack get Prefect's Python-side defaults ({} for
//    parameters, context, empirical_policy, job_variables; total_run_time
//    0; deployment status NOT_READY, enforce_parameter_schema true).
//
// Round trip: a normalized record (as the snapshot loader makes it) written
// here and read back by a correct reader compares equal, except where the
// database cannot hold what the record says: a task run without
// created/updated comes back with the insert time, an empty
// empirical_policy_json as the normalized policy of "{}", and a falsy
// state `data` ({} , [], 0, "", false) as null (prefect-schema.md 2.2).
// created_by id/type are written as JSON strings, so a non-string id kept
// as text ("123") reads back as the same text.
//
// Tables. Besides the six of the spec (flow, deployment, flow_run,
// task_run, task_run_state, artifact), CreateSchema creates minimal
// tables (id, created, updated, name; flow_run_state with its state
// columns) for block_document, work_queue, concurrency_limit_v2 and
// flow_run_state, so that every FK of prefect-schema.md 2 exists with its
// real ON DELETE action; none is omitted. PostgreSQL creates the
// flow_run <-> task_run cycle (parent_task_run_id) and flow_run.state_id
// with ALTER TABLE after both tables exist.
//
// Data must be representable: Prefect's FKs and unique indexes forbid
// dangling flow_id / flow_run_id references and duplicate flow names (see
// MakeRepresentable). A violating insert fails with the database's message.
//
// Not modelled: flow-run state changes, total_run_time accrual on leaving
// RUNNING, artifacts (the table exists, nothing writes it).
//
// Thread safety: a PrefectDb is one connection and not thread-safe. Open
// another PrefectDb (or a plain client) for a second connection.

#ifndef TASKDEX_BENCH_PREFECT_DB_H_
#define TASKDEX_BENCH_PREFECT_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/mutation.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

enum class PrefectDbKind : uint8_t { kPostgres, kSqlite };

// Formats `t` as Prefect's SQLite DATETIME text, 'YYYY-MM-DD HH:MM:SS.ffffff'
// (UTC, always 6 fraction digits). REQUIRES: t within years 1..9999.
std::string SqliteDatetime(Micros t);

// Re-serializes JSON text the way Python's json.dumps writes it with its
// defaults (", " and ": " separators, ensure_ascii escapes). Numbers keep
// their text. InvalidArgument for text that is not one JSON value.
absl::StatusOr<std::string> PythonJson(std::string_view json);

// The records with what Prefect's constraints forbid repaired, so that
// InsertAll succeeds: deployments and flow runs whose flow is missing and
// task runs whose flow run is missing are dropped (with what they own);
// parent_task_run_id naming a missing task run is cleared; repeated unique
// keys get a " #<n>" suffix (flow name, deployment (flow_id, name), flow run
// (flow_id, idempotency_key), task run dynamic_key). Ids must be unique per
// entity (SnapshotRecords).
SnapshotRecords MakeRepresentable(SnapshotRecords records);

class PrefectDb {
 public:
  // url: "postgresql://..." or "postgres://..." (any libpq URI; a
  // "+driver" suffix such as postgresql+asyncpg is dropped), a libpq
  // "key=value" conninfo, or "sqlite:///abs/path.db" (also
  // "sqlite+aiosqlite:///..."; the file is created if missing).
  // InvalidArgument for another scheme, Unavailable if the connection fails.
  static absl::StatusOr<std::unique_ptr<PrefectDb>> Open(const std::string& url);
  ~PrefectDb();
  PrefectDb(const PrefectDb&) = delete;
  PrefectDb& operator=(const PrefectDb&) = delete;

  PrefectDbKind kind() const { return kind_; }

  // Creates the types, tables, FKs and every index of prefect-schema.md 2
  // (header). REQUIRES: none of the tables exists.
  absl::Status CreateSchema();

  // Runs one or more statements; results are discarded.
  absl::Status Exec(const std::string& sql);

  // An explicit transaction: writes between Begin and Commit are one
  // transaction (the methods below then open none of their own).
  // FailedPrecondition for Begin inside a transaction or Commit/Rollback
  // outside one.
  absl::Status Begin();
  absl::Status Commit();
  absl::Status Rollback();
  bool in_transaction() const { return in_transaction_; }

  // One row each, created = updated = `at` (default: the current UTC time).
  absl::Status InsertFlow(const FlowRecord& record, std::optional<Micros> at = std::nullopt);
  absl::Status InsertDeployment(const DeploymentRecord& record,
                                std::optional<Micros> at = std::nullopt);
  absl::Status InsertFlowRun(const FlowRunRecord& record, std::optional<Micros> at = std::nullopt);
  // The task_run row and, when record.state_json != "null", its
  // task_run_state row, in one transaction unless one is open. created /
  // updated: the record's, else `at`, else now. InvalidArgument when
  // state_json is not a state object (id, type, name, timestamp needed).
  absl::Status InsertTaskRun(const TaskRunRecord& record, std::optional<Micros> at = std::nullopt);

  // A state change as Prefect's orchestration writes it, in one transaction
  // unless one is open: inserts a task_run_state row (new random id; type,
  // name, timestamp `ts`, state_details {flow_run_id, task_run_id, and
  // scheduled_time = ts for SCHEDULED}), then sets task_run's state_id,
  // state_type, state_name, state_timestamp = ts, start_time = ts when
  // entering RUNNING with start_time NULL, run_count + 1 when entering
  // RUNNING, end_time = ts when entering a terminal state, and updated =
  // the database's now(). Returns the new state id. NotFound if no such
  // task run; the unique (task_run_id, timestamp) index rejects two states
  // of one task run at the same `ts`.
  absl::StatusOr<Uuid> SetTaskRunState(const Uuid& task_run, StateType type,
                                       const std::string& name, Micros ts);

  // UPDATE task_run SET name, updated = database now(). NotFound if no row.
  absl::Status UpdateTaskRunName(const Uuid& id, const std::string& name);

  // DELETE FROM <table> WHERE id = `id`; a missing id is not an error.
  absl::Status Delete(EntityKind entity, const Uuid& id);

  // Bulk load of all records, in one transaction unless one is open
  // (REQUIRES: data representable, see MakeRepresentable). Order: flows,
  // deployments, flow runs (parent_task_run_id NULL), task runs and their
  // states, then parent_task_run_id set by a plain UPDATE that leaves
  // `updated` alone (the final rows equal one-by-one inserts).
  // PostgreSQL: COPY FROM STDIN (text format); SQLite: prepared
  // statements. `progress`, when set, gets the running count of rows
  // written (task_run_state rows included) now and then and once at the end.
  absl::Status InsertAll(const SnapshotRecords& records,
                         std::function<void(uint64_t rows)> progress = {});

  // Internal: one bound value of a statement (public for the .cc helpers).
  struct Param {
    enum class Kind : uint8_t { kNull, kText, kInt } kind = Kind::kNull;
    std::string text;
    int64_t i = 0;
  };

 private:
  class Backend;
  class PgBackend;
  class SqliteBackend;
  PrefectDb(PrefectDbKind kind, std::unique_ptr<Backend> backend);

  // Runs `body` inside a transaction: the open one, or its own.
  absl::Status InTransaction(const std::function<absl::Status()>& body);
  Param Time(std::optional<Micros> t) const;
  Param Interval(int64_t us) const;
  std::string NowSql() const;

  PrefectDbKind kind_;
  std::unique_ptr<Backend> backend_;
  bool in_transaction_ = false;
};

}  // namespace taskdex

#endif  // TASKDEX_BENCH_PREFECT_DB_H_
