// bench/pg_compare.h
//
// The statements Prefect's server sends to PostgreSQL for one
// POST /api/task_runs/paginate, for `taskdex bench --compare-postgres` (the
// anchor of "taskdex is N x faster than Prefect on PostgreSQL") and its test.
// The database is Prefect's real schema and indexes (bench/prefect_db.h
// CreateSchema + InsertAll); PgCompare only reads it.
//
// What is sent, per body (models/task_runs.py read_task_runs and
// count_task_runs, both through _apply_task_run_filters; schemas/filters.py
// as_sql_filter of every criterion, compiled for PostgreSQL):
//  - the page: `SELECT t.* FROM task_run t WHERE <task_runs> AND
//    EXISTS (SELECT 1 FROM flow_run fr [JOIN flow f ON f.id = fr.flow_id]
//    [JOIN deployment d ON d.id = fr.deployment_id] WHERE fr.id =
//    t.flow_run_id AND <flow_runs> AND <flows> AND <deployments>)
//    ORDER BY <one term> LIMIT $n OFFSET $m` (paginate.md 5; SQLAlchemy
//    lists every flow_run column where this writes `SELECT 1`, and
//    PostgreSQL ignores the select list of an EXISTS). ORDER BY is
//    TaskRunSort.as_sql_sort: one term, PostgreSQL's default NULL placement,
//    no tie-break (paginate.md 6.1), so ties may come in another order than
//    the engine's (paginate.md 6.2).
//  - Prefect's fast path: flow_runs holding only a non-empty id.any_, no
//    flows, no deployments: `t.flow_run_id IN (...)` instead of the EXISTS,
//    for the page and the count (both go through _apply_task_run_filters in
//    Prefect's source; paginate.md 5 says the count keeps the EXISTS, which
//    gives the same set without orphans, and MakeRepresentable data has none).
//  - the count: `SELECT count(*) FROM task_run t WHERE <same>`.
//  - the ORM's selectin load of the page's current states (TaskRun._state,
//    lazy="selectin"): `SELECT task_run_state.* FROM task_run_state WHERE
//    task_run_state.id IN (...)` over the distinct non-null state_id of the
//    page (SQLAlchemy batches 500 keys; a page has at most 200), skipped when
//    there are none, as SQLAlchemy skips it.
// Operators (PostgreSQL dialect; bind casts as SQLAlchemy's asyncpg dialect
// renders them, `$1::UUID`, `$1::VARCHAR`, ...):
//  - any_ / not_any_: `col IN ($1::UUID, ...)` / `col NOT IN (...)`
//    (PostgreSQL plans an IN list as `col = ANY (ARRAY[...])`); an empty
//    any_ is SQLAlchemy's empty IN, `col IN (SELECT CAST(NULL AS type)
//    WHERE 1!=1)`;
//  - like_: `col ILIKE $1::VARCHAR` bound to '%' || s || '%', unescaped;
//  - tags all_: `col @> $1::JSONB` (Prefect's json_contains), bound to the
//    list as JSON; tags any_: `col ?| ARRAY[$1::VARCHAR, ...]` (its
//    json_has_any_key; empty: `CAST(ARRAY[] AS VARCHAR[])`); tags is_null_:
//    `col = $1::JSONB` / `col != $1::JSONB` bound to '[]';
//  - times: `col <= $1::TIMESTAMP WITH TIME ZONE` / `>=`, flow-run start_time
//    on coalesce(start_time, expected_start_time); is_null_: IS [NOT] NULL;
//  - subflow_runs.exists_: [NOT] EXISTS (SELECT 1 FROM flow_run WHERE
//    t.id = flow_run.parent_task_run_id); flows.deployment.is_null_:
//    `f.id [NOT] IN (SELECT DISTINCT deployment.flow_id FROM deployment)`;
//    flow_or_deployment_name: `d.name ILIKE $1 OR EXISTS (SELECT 1 FROM flow
//    WHERE flow.id = d.flow_id AND flow.name ILIKE $2)`; parent_flow_run_id
//    as paginate.md 4.5 quotes it; created_by: `(fr.created_by ->> 'id') IN
//    (...)`; paused: `d.paused IS true|false`; state nodes keep a child only
//    when it yields one criterion (paginate.md 4.1).
// Statements are prepared once per distinct SQL text (PQprepare, then
// PQexecPrepared), as asyncpg's statement cache does, all parameters bound
// as text. Not included: the BEGIN/COMMIT (or ROLLBACK) round trips of
// Prefect's sessions; Prefect's two sessions running page and count
// concurrently (here they run one after the other on one connection);
// asyncpg's cache size limit (100; this cache is unbounded); the
// result_artifact selectin of the states (no state has one: bench data
// writes no artifacts); decoding rows into Python objects and the JSON
// response. So PostgreSQL's time here is a lower bound of Prefect's.
//
// Thread safety: a PgCompare is one connection and not thread-safe.

#ifndef TASKDEX_BENCH_PG_COMPARE_H_
#define TASKDEX_BENCH_PG_COMPARE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/filter_ast.h"
#include "engine/types.h"

struct pg_conn;

namespace taskdex {

// The SQL of one body: page and count statements and the text values of
// their parameters. The WHERE parameters are $1..$k in both statements;
// the page adds LIMIT $k+1 OFFSET $k+2 (the last two entries of `params`,
// which the count statement does not use).
struct PgQuery {
  std::string page_sql;
  std::string count_sql;
  std::vector<std::string> params;
  size_t count_params = 0;  // the first count_params entries are the count's
};

PgQuery TranslateQueryPostgres(const PaginateQuery& query);

// One answer: the page's ids in order, the count, and how many
// task_run_state rows the selectin load read.
struct PgAnswer {
  std::vector<Uuid> ids;
  uint64_t count = 0;
  uint64_t states_loaded = 0;
};

class PgCompare {
 public:
  // `url`: a libpq URI or conninfo ("postgresql+asyncpg://" is accepted).
  // Unavailable when the connection fails.
  static absl::StatusOr<std::unique_ptr<PgCompare>> Connect(const std::string& url);
  ~PgCompare();
  PgCompare(const PgCompare&) = delete;
  PgCompare& operator=(const PgCompare&) = delete;

  // Runs page, state load and count once (TranslateQueryPostgres(query)).
  absl::StatusOr<PgAnswer> Run(const PaginateQuery& query);
  absl::StatusOr<PgAnswer> Run(const PgQuery& sql);

  // Runs one statement without parameters (VACUUM ANALYZE, ...).
  absl::Status Exec(const std::string& sql);

 private:
  explicit PgCompare(pg_conn* conn) : conn_(conn) {}
  // Prepares `sql` once; returns its statement name.
  absl::StatusOr<std::string> Prepared(const std::string& sql, int nparams);

  pg_conn* conn_;
  std::unordered_map<std::string, std::string> statements_;  // SQL -> name
};

}  // namespace taskdex

#endif  // TASKDEX_BENCH_PG_COMPARE_H_
