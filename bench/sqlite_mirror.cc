// bench/sqlite_mirror.cc: the SqliteMirror half of sqlite_compare.h: the
// schema and Prefect's indexes, loading records, running statements.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/sqlite_compare.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

void PgIlikeFunction(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const auto* a = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const int na = sqlite3_value_bytes(argv[0]);
  const auto* b = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  const int nb = sqlite3_value_bytes(argv[1]);
  sqlite3_result_int(ctx, PgContainsILike(std::string_view(a, na), std::string_view(b, nb)));
}


constexpr const char* kSchema = R"sql(
CREATE TABLE flow (
  id CHAR(36) NOT NULL, name VARCHAR NOT NULL, tags JSON NOT NULL DEFAULT '[]',
  CONSTRAINT pk_flow PRIMARY KEY (id));
CREATE TABLE deployment (
  id CHAR(36) NOT NULL, name VARCHAR NOT NULL, flow_id CHAR(36) NOT NULL,
  paused BOOLEAN NOT NULL DEFAULT 0, tags JSON NOT NULL DEFAULT '[]', work_queue_name VARCHAR,
  CONSTRAINT pk_deployment PRIMARY KEY (id));
CREATE TABLE flow_run (
  id CHAR(36) NOT NULL, name VARCHAR NOT NULL, flow_id CHAR(36) NOT NULL,
  deployment_id CHAR(36), work_queue_name VARCHAR, flow_version VARCHAR,
  idempotency_key VARCHAR, tags JSON NOT NULL DEFAULT '[]', created_by JSON,
  state_type VARCHAR(9), state_name VARCHAR, expected_start_time INTEGER,
  next_scheduled_start_time INTEGER, start_time INTEGER, end_time INTEGER,
  parent_task_run_id CHAR(36),
  CONSTRAINT pk_flow_run PRIMARY KEY (id));
CREATE TABLE task_run (
  id CHAR(36) NOT NULL, name VARCHAR NOT NULL, flow_run_id CHAR(36),
  task_key VARCHAR NOT NULL, dynamic_key VARCHAR NOT NULL, tags JSON NOT NULL DEFAULT '[]',
  state_type VARCHAR(9), state_name VARCHAR, expected_start_time INTEGER,
  next_scheduled_start_time INTEGER, start_time INTEGER, end_time INTEGER,
  CONSTRAINT pk_task_run PRIMARY KEY (id));
)sql";

// Prefect's indexes on these columns (prefect-schema.md 2.1-2.5); `updated`
// and columns not loaded are left out, unique ones are plain (header).
constexpr const char* kIndexes = R"sql(
CREATE INDEX ix_task_run__name ON task_run (name);
CREATE INDEX ix_task_run__flow_run_id ON task_run (flow_run_id);
CREATE INDEX uq_task_run__flow_run_id_task_key_dynamic_key ON task_run (flow_run_id, task_key, dynamic_key);
CREATE INDEX ix_task_run__expected_start_time_desc ON task_run (expected_start_time DESC);
CREATE INDEX ix_task_run__next_scheduled_start_time_asc ON task_run (next_scheduled_start_time);
CREATE INDEX ix_task_run__end_time_desc ON task_run (end_time DESC);
CREATE INDEX ix_task_run__start_time ON task_run (start_time);
CREATE INDEX ix_task_run__state_type ON task_run (state_type);
CREATE INDEX ix_task_run__state_type_start_time ON task_run (state_type, start_time);
CREATE INDEX ix_task_run__state_name ON task_run (state_name);
CREATE INDEX ix_flow_run__name ON flow_run (name);
CREATE INDEX ix_flow_run__flow_id ON flow_run (flow_id);
CREATE INDEX ix_flow_run__deployment_id ON flow_run (deployment_id);
CREATE INDEX ix_flow_run__work_queue_name ON flow_run (work_queue_name);
CREATE INDEX ix_flow_run__flow_version ON flow_run (flow_version);
CREATE INDEX ix_flow_run__parent_task_run_id ON flow_run (parent_task_run_id);
CREATE INDEX uq_flow_run__flow_id_idempotency_key ON flow_run (flow_id, idempotency_key);
CREATE INDEX ix_flow_run__coalesce_start_time_expected_start_time_desc ON flow_run (COALESCE(start_time, expected_start_time) DESC);
CREATE INDEX ix_flow_run__coalesce_start_time_expected_start_time_asc ON flow_run (COALESCE(start_time, expected_start_time));
CREATE INDEX ix_flow_run__expected_start_time_desc ON flow_run (expected_start_time DESC);
CREATE INDEX ix_flow_run__next_scheduled_start_time_asc ON flow_run (next_scheduled_start_time);
CREATE INDEX ix_flow_run__end_time_desc ON flow_run (end_time DESC);
CREATE INDEX ix_flow_run__start_time ON flow_run (start_time);
CREATE INDEX ix_flow_run__state_type ON flow_run (state_type);
CREATE INDEX ix_flow_run__state_name ON flow_run (state_name);
CREATE INDEX uq_flow__name ON flow (name);
CREATE INDEX uq_deployment__flow_id_name ON deployment (flow_id, name);
CREATE INDEX ix_deployment__flow_id ON deployment (flow_id);
CREATE INDEX ix_deployment__work_queue_name ON deployment (work_queue_name);
CREATE INDEX ix_deployment__paused ON deployment (paused);
ANALYZE;
)sql";

// Binds values to one prepared statement, column by column.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}
  void Text(std::string_view s) {
    sqlite3_bind_text(stmt_, ++i_, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Null() { sqlite3_bind_null(stmt_, ++i_); }
  void Int(int64_t v) { sqlite3_bind_int64(stmt_, ++i_, v); }
  void Uuid(const taskdex::Uuid& u) { Text(UuidToString(u)); }
  void OptUuid(const std::optional<taskdex::Uuid>& u) { u ? Uuid(*u) : Null(); }
  void OptText(const std::optional<std::string>& s) { s ? Text(*s) : Null(); }
  void OptTime(const std::optional<Micros>& t) { t ? Int(*t) : Null(); }
  void OptState(const std::optional<StateType>& t) { t ? Text(StateTypeName(*t)) : Null(); }

 private:
  sqlite3_stmt* stmt_;
  int i_ = 0;
};

// Last record per id, in first-seen order.
template <typename R>
std::vector<const R*> LastById(const std::vector<R>& records) {
  absl::flat_hash_map<Uuid, size_t> at;
  std::vector<const R*> out;
  for (const R& r : records) {
    auto [it, inserted] = at.try_emplace(r.id, out.size());
    if (inserted) {
      out.push_back(&r);
    } else {
      out[it->second] = &r;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteMirror>> SqliteMirror::Create(
    const SnapshotRecords& records) {
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("sqlite3_open: ", message));
  }
  std::unique_ptr<SqliteMirror> mirror(new SqliteMirror(db));
  if (sqlite3_create_function(db, "pg_ilike", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                              &PgIlikeFunction, nullptr, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("sqlite3_create_function: ", sqlite3_errmsg(db)));
  }
  absl::Status s = mirror->Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
  if (s.ok()) s = mirror->Exec(kSchema);
  if (s.ok()) s = mirror->Load(records);
  if (s.ok()) s = mirror->Exec(kIndexes);
  if (!s.ok()) return s;
  return mirror;
}

SqliteMirror::~SqliteMirror() { sqlite3_close(db_); }

absl::Status SqliteMirror::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

absl::Status SqliteMirror::Load(const SnapshotRecords& records) {
  absl::Status status = Exec("BEGIN");
  if (!status.ok()) return status;
  auto insert = [&](const char* sql, auto& rows, auto bind) -> absl::Status {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("sqlite prepare: ", sqlite3_errmsg(db_)));
    }
    for (const auto* r : rows) {
      Binder binder(stmt);
      bind(*r, binder);
      if (sqlite3_step(stmt) != SQLITE_DONE) {
        std::string message = sqlite3_errmsg(db_);
        sqlite3_finalize(stmt);
        return absl::InternalError(absl::StrCat("sqlite insert: ", message));
      }
      sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return absl::OkStatus();
  };
  auto flows = LastById(records.flows);
  status = insert("INSERT INTO flow (id, name, tags) VALUES (?, ?, ?)", flows,
                  [](const FlowRecord& r, Binder& b) {
                    b.Uuid(r.id);
                    b.Text(r.name);
                    b.Text(TagsJson(r.tags));
                  });
  if (!status.ok()) return status;
  auto deployments = LastById(records.deployments);
  status = insert(
      "INSERT INTO deployment (id, name, flow_id, paused, tags, work_queue_name) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      deployments, [](const DeploymentRecord& r, Binder& b) {
        b.Uuid(r.id);
        b.Text(r.name);
        b.Uuid(r.flow_id);
        b.Int(r.paused ? 1 : 0);
        b.Text(TagsJson(r.tags));
        b.OptText(r.work_queue_name);
      });
  if (!status.ok()) return status;
  auto flow_runs = LastById(records.flow_runs);
  status = insert(
      "INSERT INTO flow_run (id, name, flow_id, deployment_id, work_queue_name, flow_version, "
      "idempotency_key, tags, created_by, state_type, state_name, expected_start_time, "
      "next_scheduled_start_time, start_time, end_time, parent_task_run_id) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? THEN json_object('id', ?, 'type', ?) END, "
      "?, ?, ?, ?, ?, ?, ?)",
      flow_runs, [](const FlowRunRecord& r, Binder& b) {
        b.Uuid(r.id);
        b.Text(r.name);
        b.Uuid(r.flow_id);
        b.OptUuid(r.deployment_id);
        b.OptText(r.work_queue_name);
        b.OptText(r.flow_version);
        b.OptText(r.idempotency_key);
        b.Text(TagsJson(r.tags));
        b.Int(r.has_created_by ? 1 : 0);
        b.OptText(r.created_by_id);
        b.OptText(r.created_by_type);
        b.OptState(r.state_type);
        b.OptText(r.state_name);
        b.OptTime(r.expected_start_time);
        b.OptTime(r.next_scheduled_start_time);
        b.OptTime(r.start_time);
        b.OptTime(r.end_time);
        b.OptUuid(r.parent_task_run_id);
      });
  if (!status.ok()) return status;
  auto task_runs = LastById(records.task_runs);
  status = insert(
      "INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, tags, state_type, "
      "state_name, expected_start_time, next_scheduled_start_time, start_time, end_time) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      task_runs, [](const TaskRunRecord& r, Binder& b) {
        b.Uuid(r.id);
        b.Text(r.name);
        b.OptUuid(r.flow_run_id);
        b.Text(r.task_key);
        b.Text(r.dynamic_key);
        b.Text(TagsJson(r.tags));
        b.OptState(r.state_type);
        b.OptText(r.state_name);
        b.OptTime(r.expected_start_time);
        b.OptTime(r.next_scheduled_start_time);
        b.OptTime(r.start_time);
        b.OptTime(r.end_time);
      });
  if (!status.ok()) return status;
  task_run_rows_ = task_runs.size();
  return Exec("COMMIT");
}

absl::StatusOr<SqliteAnswer> SqliteMirror::Run(const PaginateQuery& query, SqlFlavor flavor) {
  return Run(TranslateQuery(query, flavor));
}

absl::StatusOr<SqliteAnswer> SqliteMirror::Run(const SqliteQuery& q) {
  SqliteAnswer answer;
  auto run = [&](const std::string& sql, bool page) -> absl::Status {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return absl::InternalError(
          absl::StrCat("sqlite prepare: ", sqlite3_errmsg(db_), " in: ", sql));
    }
    int i = 0;
    for (const SqliteQuery::Param& p : q.params) {
      if (p.is_int) {
        sqlite3_bind_int64(stmt, ++i, p.i);
      } else {
        sqlite3_bind_text(stmt, ++i, p.s.data(), static_cast<int>(p.s.size()), SQLITE_STATIC);
      }
    }
    if (page) {
      sqlite3_bind_int64(stmt, ++i, q.limit);
      sqlite3_bind_int64(stmt, ++i, q.offset);
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (page) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        std::optional<Uuid> id = ParseUuid(std::string_view(text, sqlite3_column_bytes(stmt, 0)));
        answer.ids.push_back(id.value_or(Uuid{}));
      } else {
        answer.count = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
      }
    }
    std::string message = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("sqlite step: ", message));
    return absl::OkStatus();
  };
  absl::Status s = run(q.page_sql, true);
  if (s.ok()) s = run(q.count_sql, false);
  if (!s.ok()) return s;
  return answer;
}

}  // namespace taskdex
