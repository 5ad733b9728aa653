// engine/db_source.h
//
// A Prefect database (PostgreSQL or SQLite) as a source of rows
// (prefect-schema.md): what is read, and how a database row becomes a record.
//
// Layout. DbSource is one connection to one database, in one of two
// dialects (engine/internal/pg_source.cc, engine/internal/sqlite_source.cc).
// It runs the SELECTs of prefect-schema.md 3 whose columns are listed here,
// once per entity (DbColumns), and hands each row over as text in one
// canonical form per column kind, whatever the database stored:
//
//   kind        canonical text (never quoted)                 PostgreSQL         SQLite
//   kText       the string                                    text               text
//   kUuid       the UUID as stored (parsed by the line parser) uuid text          CHAR(36)
//   kTime       "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC)          timestamptz        'YYYY-MM-DD HH:MM:SS.ffffff'
//   kSeconds    a JSON number of seconds                      EXTRACT(EPOCH ..)  1970-01-01 + duration, or '0'
//   kBool       "true" / "false"                             t / f              0 / 1
//   kInt        a JSON integer                                integer            INTEGER
//   kJson       JSON text                                     jsonb / json text  JSON text
//   (NULL is a null pointer, whatever the kind.)
//
// DbRowToRecord then writes the row as a line of the snapshot format
// (entities.md 4) and reads it with the snapshot's line parser, so every
// normalization rule (entities.md 2.1; paginate.md 8.3-8.5) lives in one
// place, the parser, and a database row and the same row dumped through
// Prefect's API load to equal records. The two rules that are the
// connector's own are here: `state.data` is the state's `data` if truthy,
// else the result artifact's `data` (prefect-schema.md 2.2), and a task
// run's `state_timestamp` is the column, not `state.timestamp`.
//
// Why text and not typed binary values: the line parser is the one place
// that knows the API shape. The initial load of task runs takes a typed
// path (engine/internal/task_run_row.h) that reads the scalar columns
// itself, hands the JSON columns and the state to the same normalizers,
// and falls back to DbRowToUpsert for any row it does not read exactly as
// the line parser would; a test pins the two to equal records. Measured
// cost: see bench/RESULTS.md ("load from PostgreSQL", session 12).
//
// Thread safety: a DbSource is used by one thread at a time;
// DbRowToRecord is thread-safe.

#ifndef TASKDEX_ENGINE_DB_SOURCE_H_
#define TASKDEX_ENGINE_DB_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/mutation.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

enum class DbColumnKind : uint8_t { kText, kUuid, kTime, kSeconds, kBool, kInt, kJson };

// One selected column: its SQL expression over the entity's FROM clause
// (the same text in both dialects), its kind, and the snapshot-line key it
// fills ("state.<key>" inside the task run's state; "" for a column only
// the connector reads).
struct DbColumn {
  const char* expr;
  DbColumnKind kind;
  const char* key;
};

// The columns read for `entity`, in order. Column 0 is the id and column 1
// `updated` for every entity.
std::span<const DbColumn> DbColumns(EntityKind entity);
// The FROM clause for `entity`, e.g. "task_run tr LEFT JOIN task_run_state s ..."
// and the alias of its own table ("tr").
std::string_view DbFrom(EntityKind entity);
std::string_view DbAlias(EntityKind entity);
// Prefect's table name: "flow", "deployment", "flow_run", "task_run".
std::string_view DbTable(EntityKind entity);

// One row in canonical text, one entry per DbColumns(entity) entry.
using DbRow = std::span<const std::optional<std::string_view>>;

// A row of `entity` as a record (the matching alternative of Change::row).
// Errors: InvalidArgument "<table> <id>: <key>: <reason>".
absl::StatusOr<Change> DbRowToUpsert(EntityKind entity, DbRow row);

// Python truthiness of a JSON value (null, false, 0, "", [] and {} are
// false), for `state.data` (prefect-schema.md 2.2). Malformed text is true.
bool JsonTruthy(std::string_view json);

class DbSource {
 public:
  virtual ~DbSource() = default;

  // "postgresql" or "sqlite", and the URL with any password masked.
  virtual std::string_view dialect() const = 0;
  virtual const std::string& display_url() const = 0;

  // (Re)connects if not connected. Unavailable with the database's words
  // when it cannot.
  virtual absl::Status Connect() = 0;
  // Drops the connection (the next call reconnects).
  virtual void Disconnect() = 0;

  // A consistent read: PostgreSQL REPEATABLE READ, READ ONLY; SQLite one
  // read transaction (WAL readers do not block the writer). Every Read*
  // between Begin and End sees one snapshot.
  virtual absl::Status BeginRead() = 0;
  virtual absl::Status EndRead() = 0;

  // The rows of `entity` with `updated >= since` (all rows when nullopt),
  // ordered by updated, id; or, when `ids` is non-empty, the rows with
  // those ids. `on_row` returning an error stops the read with it.
  virtual absl::Status Read(EntityKind entity, std::optional<Micros> since,
                            std::span<const Uuid> ids,
                            const std::function<absl::Status(DbRow)>& on_row) = 0;
  // The id and `updated` of the rows of `entity` with `updated >= since`
  // (all rows when nullopt): what a poll reads first, so that only the
  // rows that changed are read whole. The default reads whole rows.
  virtual absl::Status ReadKeys(EntityKind entity, std::optional<Micros> since,
                                const std::function<absl::Status(const Uuid&, Micros)>& on_key);
  // Every id of `entity`.
  virtual absl::Status ReadIds(EntityKind entity,
                               const std::function<void(const Uuid&)>& on_id) = 0;

  // Logical decoding (PostgreSQL only; engine/internal/pg_source.cc): a
  // replication slot named `slot` with the test_decoding plugin, created
  // if missing (an existing one is resumed). Unimplemented (SQLite) or
  // FailedPrecondition (wal_level is not logical, no REPLICATION privilege,
  // no slot left) when the database cannot.
  virtual absl::Status OpenChangeStream(const std::string& slot);
  // The changes committed after the slot's confirmed position, in commit
  // order, whole transactions, about `max_changes` at most: for each row
  // changed in the four tables, its entity, kUpsert or kDelete, and its id.
  // A change to a task_run_state row is given as an upsert of its task run
  // (the state is read through the task run). Returns the position after
  // the last one, to confirm once they are applied ("" when none). A
  // source that is sent changes as they commit waits up to `wait_ms` for
  // the first one; one that must ask for them returns at once.
  virtual absl::StatusOr<std::string> ReadChangeStream(
      size_t max_changes, int wait_ms,
      const std::function<void(EntityKind, ChangeOp, const Uuid&)>& on_change);
  // How the open change stream is read, for the log line that says it is
  // followed (e.g. "streaming replication", or why not).
  virtual std::string ChangeStreamNote() const;
  // Moves the slot's confirmed position to `position`: the database may
  // drop the WAL before it.
  virtual absl::Status ConfirmChangeStream(const std::string& position);
  // Drops the slot (--drop-slot).
  virtual absl::Status DropChangeStream();
};

// The statement the PostgreSQL source runs to read every row of `entity`:
// COPY (SELECT <DbColumns> FROM <DbFrom>) TO STDOUT. The load benchmark
// (bench/source_bench.h) times it alone as the database's own cost.
std::string PostgresCopyStatement(EntityKind entity);

// Opens (without connecting) "postgresql://..." / "postgres://..." (a libpq
// URI: the password may come from PGPASSWORD or ~/.pgpass as libpq reads
// them) or "sqlite:///abs/path.db" (opened read-only). InvalidArgument for
// any other scheme.
absl::StatusOr<std::unique_ptr<DbSource>> OpenDbSource(const std::string& url);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_DB_SOURCE_H_
