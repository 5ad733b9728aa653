// bench/sqlite_compare.h
//
// A second, independent implementation of POST /api/task_runs/paginate on
// SQLite, for `taskdex bench --compare-sqlite` and its test: the records are
// loaded into an in-memory SQLite database with Prefect's tables and indexes
// (prefect-schema.md 2), and each PaginateQuery is translated into the SQL
// Prefect would emit (paginate.md 4-7): the EXISTS join of section 5, the
// empty-list rules, tags as JSON text read with json_each, and NULL order and
// an `id DESC` tie-break that make the order PostgreSQL's (paginate.md 6.2).
// `like_` calls a registered function implementing PostgreSQL ILIKE under a
// C locale (paginate.md 4.2), since SQLite's LIKE has other rules.
//
// Storage: UUIDs as lowercase hyphenated text (text order = uuid order),
// times as integer microseconds, state types as their labels.
// Prefect's unique indexes are created as plain indexes (snapshots may
// repeat a flow name; the engine enforces none of them).
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

// Translates a query into Prefect's SQL for this schema.
SqliteQuery TranslateQuery(const PaginateQuery& query);

// PostgreSQL `text ILIKE '%' || s || '%'` under the C locale (paginate.md 4.2).
bool PgContainsILike(std::string_view text, std::string_view s);

class SqliteMirror {
 public:
  // Creates the database (in memory) and loads `records`; when an id
  // repeats within an entity the last record wins.
  static absl::StatusOr<std::unique_ptr<SqliteMirror>> Create(const SnapshotRecords& records);
  ~SqliteMirror();

  // Runs the page and count statements of TranslateQuery(query).
  absl::StatusOr<SqliteAnswer> Run(const PaginateQuery& query);
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
