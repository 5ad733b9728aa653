// engine/internal/sqlite_source.cc: DbSource over the SQLite C API
// (engine/db_source.h).
//
// The file is opened read-only (SQLITE_OPEN_READONLY): taskdex never
// writes Prefect's database. Prefect runs SQLite in WAL mode, where a
// reader neither blocks the writer nor is blocked by it; a read
// transaction sees one snapshot from its first SELECT to its COMMIT. A
// busy database (a checkpoint, or a writer in rollback-journal mode) is
// waited on for kBusyTimeoutMs, then reported as Unavailable and retried by
// the follower.
//
// Prefect's SQLite storage (prefect-schema.md 1): timestamps are UTC text
// "YYYY-MM-DD HH:MM:SS.ffffff"; an interval is the text of 1970-01-01 plus
// the duration, or '0' when only the server default filled it; booleans
// are 0/1.

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/internal/db_dialects.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex::engine_internal {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// Prefect's fixed-width UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which
// compares as the instants do.
std::string SqliteTime(Micros t) {
  std::string iso = FormatDatetime(t);  // ...THH:MM:SS[.ffffff]Z
  std::string fraction = iso.size() > 20 ? iso.substr(19, iso.size() - 20) : ".000000";
  return iso.substr(0, 10) + " " + iso.substr(11, 8) + fraction;
}

class SqliteSource final : public DbSource {
 public:
  SqliteSource(std::string url, std::string path)
      : url_(std::move(url)), path_(std::move(path)) {}
  ~SqliteSource() override { Disconnect(); }

  std::string_view dialect() const override { return "sqlite"; }
  const std::string& display_url() const override { return url_; }

  absl::Status Connect() override {
    if (db_ != nullptr) return absl::OkStatus();
    int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
    if (rc != SQLITE_OK) {
      absl::Status s = absl::UnavailableError(
          absl::StrCat("cannot open ", path_, ": ",
                       db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
      Disconnect();
      return s;
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return absl::OkStatus();
  }

  void Disconnect() override {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  absl::Status BeginRead() override { return Exec("BEGIN"); }
  absl::Status EndRead() override { return Exec("COMMIT"); }

  absl::Status Read(EntityKind entity, std::optional<Micros> since, std::span<const Uuid> ids,
                    const std::function<absl::Status(DbRow)>& on_row) override {
    std::span<const DbColumn> columns = DbColumns(entity);
    std::string sql = "SELECT ";
    for (size_t i = 0; i < columns.size(); ++i) {
      absl::StrAppend(&sql, i > 0 ? ", " : "", columns[i].expr);
    }
    absl::StrAppend(&sql, " FROM ", std::string(DbFrom(entity)));
    std::string alias(DbAlias(entity));
    if (!ids.empty()) {
      sql += IdListWhere(entity, ids);
    } else if (since) {
      absl::StrAppend(&sql, " WHERE ", alias, ".updated >= '", SqliteTime(*since), "'");
    }
    sqlite3_stmt* stmt = nullptr;
    std::string what = absl::StrCat("reading ", std::string(DbTable(entity)));
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return ErrorOf(what);
    }
    std::vector<std::optional<std::string_view>> row(columns.size());
    std::vector<std::string> converted(columns.size());
    absl::Status status = absl::OkStatus();
    int rc;
    while (status.ok() && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (size_t i = 0; i < columns.size() && status.ok(); ++i) {
        int c = static_cast<int>(i);
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row[i].reset();
          continue;
        }
        const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        std::string_view v(text, static_cast<size_t>(sqlite3_column_bytes(stmt, c)));
        switch (columns[i].kind) {
          case DbColumnKind::kTime:
            if (!DbTimeToIso(v, &converted[i])) status = Unreadable(entity, row, columns[i], v);
            v = converted[i];
            break;
          case DbColumnKind::kSeconds:
            if (!IntervalToSeconds(v, &converted[i])) {
              status = Unreadable(entity, row, columns[i], v);
            }
            v = converted[i];
            break;
          case DbColumnKind::kBool:
            v = (v == "0" || v == "false") ? "false" : "true";
            break;
          default:
            break;
        }
        row[i] = v;
      }
      if (status.ok()) status = on_row(row);
    }
    if (status.ok() && rc != SQLITE_DONE) status = ErrorOf(what);
    sqlite3_finalize(stmt);
    return status;
  }

  // The keys alone (DbSource::ReadKeys): the base table, no joins.
  absl::Status ReadKeys(
      EntityKind entity, std::optional<Micros> since,
      const std::function<absl::Status(const Uuid&, Micros)>& on_key) override {
    std::string sql = absl::StrCat("SELECT id, updated FROM ", std::string(DbTable(entity)));
    if (since) absl::StrAppend(&sql, " WHERE updated >= '", SqliteTime(*since), "'");
    std::string what = absl::StrCat("reading keys of ", std::string(DbTable(entity)));
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return ErrorOf(what);
    }
    absl::Status status = absl::OkStatus();
    std::string iso;
    int rc;
    while (status.ok() && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      auto text = [&](int c) {
        const char* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        return std::string_view(t == nullptr ? "" : t,
                                static_cast<size_t>(sqlite3_column_bytes(stmt, c)));
      };
      std::optional<Uuid> id = ParseUuid(text(0));
      DatetimeResult t;
      bool ok = id && DbTimeToIso(text(1), &iso);
      if (ok) {
        t = ParseDatetimeString(iso);
        ok = t.ok();
      }
      if (!ok) {
        status = absl::InternalError(absl::StrCat(what, ": unreadable key \"",
                                                  std::string(text(0)), "\""));
      } else {
        status = on_key(*id, t.value);
      }
    }
    if (status.ok() && rc != SQLITE_DONE) status = ErrorOf(what);
    sqlite3_finalize(stmt);
    return status;
  }

  absl::Status ReadIds(EntityKind entity,
                       const std::function<void(const Uuid&)>& on_id) override {
    std::string sql = absl::StrCat("SELECT id FROM ", std::string(DbTable(entity)));
    std::string what = absl::StrCat("reading ids of ", std::string(DbTable(entity)));
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return ErrorOf(what);
    }
    absl::Status status = absl::OkStatus();
    int rc;
    while (status.ok() && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      std::string_view v(text == nullptr ? "" : text,
                         static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
      std::optional<Uuid> id = ParseUuid(v);
      if (!id) {
        status = absl::InternalError(absl::StrCat(what, ": unreadable id \"", std::string(v), "\""));
      } else {
        on_id(*id);
      }
    }
    if (status.ok() && rc != SQLITE_DONE) status = ErrorOf(what);
    sqlite3_finalize(stmt);
    return status;
  }

 private:
  static absl::Status Unreadable(EntityKind entity,
                                 const std::vector<std::optional<std::string_view>>& row,
                                 const DbColumn& column, std::string_view v) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(DbTable(entity)), " ", std::string(row[0].value_or("?")),
                                                   ": ", column.expr, ": unreadable value \"",
                                                   std::string(v), "\""));
  }

  // prefect-schema.md 1: "1970-01-01 00:00:55.000000" is 55 s; '0' is 0.
  static bool IntervalToSeconds(std::string_view v, std::string* out) {
    out->clear();
    if (v == "0") {
      out->append("0");
      return true;
    }
    std::string iso;
    if (!DbTimeToIso(v, &iso)) return false;
    DatetimeResult t = ParseDatetimeString(iso);
    if (!t.ok()) return false;
    AppendDurationSeconds(out, t.value);
    return true;
  }

  // Unavailable for a busy or locked database and a file that went away
  // (retry), FailedPrecondition for a schema that is not Prefect's.
  absl::Status ErrorOf(const std::string& what) {
    int code = sqlite3_errcode(db_);
    std::string text = absl::StrCat(what, ": ", sqlite3_errmsg(db_));
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
        code == SQLITE_CANTOPEN) {
      return absl::UnavailableError(text);
    }
    if (absl::StrContains(text, "no such table") || absl::StrContains(text, "no such column")) {
      return absl::FailedPreconditionError(
          absl::StrCat(text, " (is this a Prefect database of a supported version?)"));
    }
    return absl::InternalError(text);
  }

  absl::Status Exec(const char* sql) {
    if (db_ == nullptr) return absl::UnavailableError("not connected");
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return ErrorOf(sql);
    return absl::OkStatus();
  }

  std::string url_;
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DbSource>> OpenSqliteSource(const std::string& url) {
  // sqlite:///abs/path (SQLAlchemy's form, as in PREFECT_API_DATABASE_CONNECTION_URL
  // "sqlite+aiosqlite:///..."): the path follows "sqlite://".
  std::string path = url.substr(std::string_view("sqlite://").size());
  if (path.empty()) return absl::InvalidArgumentError("--source: sqlite URL without a path");
  return std::unique_ptr<DbSource>(new SqliteSource(url, path));
}

}  // namespace taskdex::engine_internal
