// bench/sqlite_compare.h
//
// A second, independent implementation of POST /api/task_runs/paginate on
// SQLite, for `taskdex bench --compare-sqlite` and its test: the records are
// loaded into an in-memory SQLite database with Prefect's tables and indexes
// (prefect-schema.md 2), and each PaginateQuery is translated into SQL in one
// of two flavors:
//
//  - SqlFlavor::kExact, for the correctness check: the statement that gives
//    exactly the engine's answer. The EXISTS join of section 5, the
//    empty-list rules, tags as JSON text read with json_each, and NULL order
//    and an `id DESC` tie-break that make the order PostgreSQL's
//    (paginate.md 6.2); `like_` calls a registered function implementing
//    PostgreSQL ILIKE under a C locale (paginate.md 4.2).
//  - SqlFlavor::kPrefect, the one that is timed: the statements Prefect
//    itself sends on SQLite (models/task_runs.py, schemas/filters.py,
//    utilities/database.py): `SELECT task_run.*` with Prefect's ORDER BY
//    term only (no NULL placement, no tie-break; SQLite puts NULLs first
//    ascending), `lower(col) LIKE lower('%s%')` for `like_`, tags `all_` as
//    Prefect's json_contains (distinct matches of json_each(tags) joined with
//    json_each(list) >= distinct list values), tags `any_` as EXISTS over
//    json_each, the same EXISTS join, and Prefect's fast path: a flow-run
//    filter of only `id.any_` without flows/deployments becomes
//    `flow_run_id IN (...)` (for the count too, as _apply_task_run_filters
//    does). Its answers can differ from the engine's where the semantics do:
//    ties and NULLs in the order, backslashes in `like_`, orphan task runs
//    under the fast path. Not included: the selectin load of the page's
//    task_run_state rows Prefect's ORM issues after the page (the mirror has
//    no state table), so SQLite's time is a lower bound of Prefect's.
//
// Storage: UUIDs as lowercase hyphenated text (text order = uuid order),
// times as integer microseconds (Prefect writes text of fixed width; the
// order and the index use are the same), state types as their labels.
// Prefect's unique indexes are created as plain indexes (snapshots may
// repeat a flow name; the engine enforces none of them). Indexes on columns
// the mirror does not load (updated, created, state_id, work_queue_id, ...)
// are left out; no filter reads those columns.
//
// Thread safety: a SqliteMirror is not thread-safe (one connection).

#ifndef TASKDEX_BENCH_SQLITE_COMPARE_H_
#define TASKDEX_BENCH_SQLITE_COMPARE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"

struct sqlite3;

namespace taskdex {

// One answer: the ids of the page in order and the total count.
struct SqliteAnswer {
  std::vector<Uuid> ids;
  uint64_t count = 0;
};

// The SQL of one query: the page statement, the count statement, and the
// values bound to their `?` parameters, in order (both statements share the
// WHERE clause; the page one binds limit and offset after it).
struct SqliteQuery {
  std::string page_sql;
  std::string count_sql;
  struct Param {
    bool is_int = false;
    int64_t i = 0;
    std::string s;
  };
  std::vector<Param> params;  // of the WHERE clause
  int64_t limit = 0;
  int64_t offset = 0;
};

// Which SQL TranslateQuery writes (header).
enum class SqlFlavor : uint8_t {
  kExact,    // the engine's exact answer: checks correctness
  kPrefect,  // the statements Prefect sends on SQLite: timed
};

// Translates a query into SQL for this schema.
SqliteQuery TranslateQuery(const PaginateQuery& query, SqlFlavor flavor = SqlFlavor::kExact);

// A tag list as JSON text, as Python's json.dumps writes it (`["a", "b"]`):
// what the mirror stores and what Prefect binds for tags `all_`.
std::string TagsJson(const std::vector<std::string>& tags);

// PostgreSQL `text ILIKE '%' || s || '%'` under the C locale (paginate.md 4.2).
bool PgContainsILike(std::string_view text, std::string_view s);

class SqliteMirror {
 public:
  // Creates the database (in memory) and loads `records`; when an id
  // repeats within an entity the last record wins.
  static absl::StatusOr<std::unique_ptr<SqliteMirror>> Create(const SnapshotRecords& records);
  ~SqliteMirror();

  // Runs the page and count statements of TranslateQuery(query, flavor).
  // The page statement's first column must be the task run's id.
  absl::StatusOr<SqliteAnswer> Run(const PaginateQuery& query,
                                   SqlFlavor flavor = SqlFlavor::kExact);
  absl::StatusOr<SqliteAnswer> Run(const SqliteQuery& sql);

  uint64_t task_run_rows() const { return task_run_rows_; }

 private:
  explicit SqliteMirror(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  absl::Status Load(const SnapshotRecords& records);

  sqlite3* db_;
  uint64_t task_run_rows_ = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_BENCH_SQLITE_COMPARE_H_
