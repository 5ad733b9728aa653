// engine/internal/pg_source.cc: DbSource over libpq (engine/db_source.h).
//
// Every read is one `COPY (SELECT ...) TO STDOUT` in text format: rows
// stream as they are produced, one PQgetCopyData call per row, with no
// result set held in memory (PQexec of a SELECT would hold all of it) and
// no per-row round trip (a cursor's FETCH would). The session runs in UTC
// with ISO dates, so a timestamptz prints as "2024-05-01 12:00:00.5+00";
// intervals are read as EXTRACT(EPOCH FROM ...), numeric seconds.
//
// COPY text format: fields split by TAB, rows by LF, NULL is \N, and
// backslash escapes (\\ \t \n \r \b \f \v, \ooo octal, \xhh hex).

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/internal/db_dialects.h"
#include "engine/internal/pg_copy_row.h"
#include "engine/internal/pg_replication.h"
#include "engine/uuid.h"

namespace taskdex::engine_internal {
namespace {

std::string Quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q.push_back('\'');
    q.push_back(c);
  }
  q.push_back('\'');
  return q;
}

// The URL with the password (user:PASSWORD@) replaced by ***.
std::string MaskPassword(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// COPY (SELECT <the entity's columns> FROM ... [WHERE ...]) TO STDOUT.
std::string CopySql(EntityKind entity, std::optional<Micros> since, std::span<const Uuid> ids) {
  std::span<const DbColumn> columns = DbColumns(entity);
  std::string sql = "COPY (SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) sql += ", ";
    if (columns[i].kind == DbColumnKind::kSeconds) {
      absl::StrAppend(&sql, "EXTRACT(EPOCH FROM ", columns[i].expr, ")");
    } else {
      sql += columns[i].expr;
    }
  }
  absl::StrAppend(&sql, " FROM ", std::string(DbFrom(entity)));
  std::string alias(DbAlias(entity));
  if (!ids.empty()) {
    sql += IdListWhere(entity, ids);
  } else if (since) {
    absl::StrAppend(&sql, " WHERE ", alias, ".updated >= ", Quote(FormatDatetime(*since)));
  }
  sql += ") TO STDOUT";
  return sql;
}

// How long BeginRead waits for the transactions of a change stream read to
// be visible, and how often it looks: the gap is the committing backend's
// few instructions between flushing its commit record and leaving the
// proc array, so the first retry nearly always finds it closed.
constexpr int kVisibleWaitUs = 5'000'000;
constexpr int kVisibleRetryUs = 200;

class PgSource final : public DbSource {
 public:
  explicit PgSource(std::string url) : url_(std::move(url)), display_(MaskPassword(url_)) {}
  ~PgSource() override { Disconnect(); }

  std::string_view dialect() const override { return "postgresql"; }
  const std::string& display_url() const override { return display_; }

  absl::Status Connect() override {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    Disconnect();
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      absl::Status s = absl::UnavailableError(
          absl::StrCat("cannot connect to ", display_, ": ", Trimmed(PQerrorMessage(conn_))));
      Disconnect();
      return s;
    }
    return Exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
                "SET application_name = 'taskdex'");
  }

  void Disconnect() override {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  // After a change stream read, the snapshot must see the transactions it
  // gave (VisibleInSnapshot in pg_replication.h says why it may not, for a
  // moment): taken again until it does.
  absl::Status BeginRead() override {
    for (int waited_us = 0;; waited_us += kVisibleRetryUs) {
      if (absl::Status s = Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) {
        return s;
      }
      if (stream_xids_.empty()) return absl::OkStatus();
      absl::StatusOr<std::vector<std::vector<std::string>>> snap =
          Query("SELECT pg_current_snapshot()::text", {});
      if (!snap.ok()) return snap.status();
      absl::StatusOr<bool> visible = VisibleInSnapshot((*snap)[0][0], stream_xids_);
      if (!visible.ok()) return visible.status();
      if (*visible) return absl::OkStatus();
      if (absl::Status s = Exec("ROLLBACK"); !s.ok()) return s;
      if (waited_us >= kVisibleWaitUs) {
        return absl::UnavailableError(absl::StrCat(
            "transactions given by logical decoding are still not visible after ",
            kVisibleWaitUs / 1000, " ms"));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(kVisibleRetryUs));
    }
  }
  absl::Status EndRead() override { return Exec("COMMIT"); }

  absl::Status Read(EntityKind entity, std::optional<Micros> since, std::span<const Uuid> ids,
                    const std::function<absl::Status(DbRow)>& on_row) override {
    std::span<const DbColumn> columns = DbColumns(entity);
    std::string sql = CopySql(entity, since, ids);

    std::string buf;
    std::vector<std::optional<std::string_view>> row;
    std::vector<std::string> converted(columns.size());
    return Copy(sql, entity, [&](std::string_view line) -> absl::Status {
      SplitCopyRow(line, &buf, &row);
      if (row.size() != columns.size()) {
        return absl::InternalError(absl::StrCat("COPY row of ", std::string(DbTable(entity)), " has ",
                                                row.size(), " fields, expected ",
                                                columns.size()));
      }
      for (size_t i = 0; i < columns.size(); ++i) {
        if (!row[i]) continue;
        std::string_view v = *row[i];
        switch (columns[i].kind) {
          case DbColumnKind::kTime:
            if (!DbTimeToIso(v, &converted[i])) {
              return absl::InvalidArgumentError(absl::StrCat(
                  std::string(DbTable(entity)), " ", std::string(row[0].value_or("?")), ": ", columns[i].expr,
                  ": unreadable timestamp \"", std::string(v), "\""));
            }
            v = converted[i];
            break;
          case DbColumnKind::kBool:
            v = (v == "t") ? "true" : "false";
            break;
          default:
            break;
        }
        row[i] = v;
      }
      return on_row(row);
    });
  }

  absl::Status OpenChangeStream(const std::string& slot) override {
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<std::vector<std::vector<std::string>>> level = Query("SHOW wal_level", {});
    if (!level.ok()) return level.status();
    if (level->empty() || (*level)[0][0] != "logical") {
      return absl::FailedPreconditionError(absl::StrCat(
          "wal_level is ", level->empty() ? "?" : (*level)[0][0],
          ", not logical (set wal_level = logical in postgresql.conf and restart)"));
    }
    absl::StatusOr<std::vector<std::vector<std::string>>> found = Query(
        "SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", {slot});
    if (!found.ok()) return found.status();
    if (!found->empty()) {
      if ((*found)[0][0] != "test_decoding") {
        return absl::FailedPreconditionError(absl::StrCat(
            "replication slot ", slot, " exists with plugin ", (*found)[0][0],
            ", not test_decoding; drop it or name another with --slot"));
      }
    } else {
      absl::StatusOr<std::vector<std::vector<std::string>>> made = Query(
          "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'test_decoding')", {slot});
      if (!made.ok()) return made.status();
    }
    slot_ = slot;
    // Streaming replication when the server takes a replication
    // connection from this user; the SQL functions when not.
    stream_ = std::make_unique<PgReplicationStream>(url_, display_, slot);
    if (absl::Status probe = stream_->Probe(); probe.ok()) {
      stream_note_ = "streaming replication";
    } else {
      stream_.reset();
      stream_note_ = absl::StrCat("read through SQL functions, slower: ", probe.message(),
                                  " (the stream needs max_wal_senders > 0 with one free, and "
                                  "no connection pooler in between)");
    }
    return absl::OkStatus();
  }

  std::string ChangeStreamNote() const override { return stream_note_; }

  absl::StatusOr<std::string> ReadChangeStream(
      size_t max_changes, int wait_ms,
      const std::function<void(EntityKind, ChangeOp, const Uuid&)>& on_change) override {
    if (slot_.empty()) return absl::FailedPreconditionError("no change stream open");
    if (stream_ != nullptr) {
      stream_xids_.clear();
      absl::StatusOr<std::string> position =
          stream_->Read(max_changes, wait_ms, on_change, &stream_xids_);
      // A lost stream is most often a database restart, which broke this
      // connection too: reconnected on its next use.
      if (position.status().code() == absl::StatusCode::kUnavailable) Disconnect();
      return position;
    }
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<std::vector<std::vector<std::string>>> rows = Query(
        "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2, "
        "'include-xids', '1', 'skip-empty-xacts', '1')",
        {slot_, std::to_string(max_changes)});
    if (!rows.ok()) return rows.status();
    stream_xids_.clear();
    std::string confirmed;
    std::vector<std::tuple<EntityKind, ChangeOp, Uuid>> txn;
    uint32_t xid = 0;
    for (const std::vector<std::string>& row : *rows) {
      const std::string& data = row[1];
      if (data.starts_with("BEGIN")) {
        txn.clear();
        xid = ParseBeginXid(data).value_or(0);
      } else if (data.starts_with("COMMIT")) {
        for (const auto& [entity, op, id] : txn) on_change(entity, op, id);
        txn.clear();
        stream_xids_.push_back(xid);
        confirmed = row[0];
      } else if (absl::Status s = ParseDecodedChange(data, &txn); !s.ok()) {
        return s;
      }
    }
    return confirmed;
  }

  absl::Status ConfirmChangeStream(const std::string& position) override {
    stream_xids_.clear();
    if (stream_ != nullptr) return stream_->Confirm(position);
    if (absl::Status s = Connect(); !s.ok()) return s;
    return Query("SELECT pg_replication_slot_advance($1, $2::pg_lsn)", {slot_, position})
        .status();
  }

  absl::Status DropChangeStream() override {
    if (slot_.empty()) return absl::OkStatus();
    stream_.reset();
    if (absl::Status s = Connect(); !s.ok()) return s;
    // The walsender of the stream just closed may hold the slot a moment.
    absl::Status s;
    for (int waited = 0;; waited += kSlotRetryMs) {
      s = Query("SELECT pg_drop_replication_slot($1)", {slot_}).status();
      if (s.ok() || !SlotIsBusy(std::string(s.message())) || waited >= kSlotReleaseWaitMs) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(kSlotRetryMs));
    }
    if (s.ok()) slot_.clear();
    return s;
  }

  absl::Status ReadKeys(
      EntityKind entity, std::optional<Micros> since,
      const std::function<absl::Status(const Uuid&, Micros)>& on_key) override {
    std::string sql = absl::StrCat("COPY (SELECT id, updated FROM ", std::string(DbTable(entity)));
    if (since) absl::StrAppend(&sql, " WHERE updated >= ", Quote(FormatDatetime(*since)));
    sql += ") TO STDOUT";
    std::string iso;
    return Copy(sql, entity, [&](std::string_view line) -> absl::Status {
      size_t tab = line.find('\t');
      std::optional<Uuid> id =
          tab == std::string_view::npos ? std::nullopt : ParseUuid(line.substr(0, tab));
      DatetimeResult t;
      bool ok = id && DbTimeToIso(line.substr(tab + 1), &iso);
      if (ok) {
        t = ParseDatetimeString(iso);
        ok = t.ok();
      }
      if (!ok) {
        return absl::InternalError(
            absl::StrCat("reading ", std::string(DbTable(entity)), ": unreadable key \"",
                         std::string(line), "\""));
      }
      return on_key(*id, t.value);
    });
  }

  absl::Status ReadIds(EntityKind entity,
                       const std::function<void(const Uuid&)>& on_id) override {
    std::string sql = absl::StrCat("COPY (SELECT id FROM ", std::string(DbTable(entity)), ") TO STDOUT");
    return Copy(sql, entity, [&](std::string_view line) -> absl::Status {
      std::optional<Uuid> id = ParseUuid(line);
      if (!id) return absl::InternalError(absl::StrCat("unreadable id \"", std::string(line), "\""));
      on_id(*id);
      return absl::OkStatus();
    });
  }

 private:
  static std::string Trimmed(const char* message) {
    std::string s = message == nullptr ? "" : message;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  // The error of a failed statement: Unavailable when the connection is
  // gone (reconnect and retry), FailedPrecondition when the schema is not
  // Prefect's (a missing table or column: SQLSTATE class 42), else Internal.
  absl::Status ErrorOf(PGresult* res, const std::string& what) {
    std::string message = Trimmed(res != nullptr ? PQresultErrorMessage(res) : "");
    if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string text = absl::StrCat(what, ": ", message);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return absl::UnavailableError(text);
    }
    if (state != nullptr && state[0] == '4' && state[1] == '2') {
      return absl::FailedPreconditionError(
          absl::StrCat(text, " (is this a Prefect database of a supported version?)"));
    }
    if (state != nullptr && (state[0] == '0' && state[1] == '8')) {
      return absl::UnavailableError(text);
    }
    return absl::InternalError(text);
  }

  // A statement with text parameters; every row's values as text.
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      const char* sql, const std::vector<std::string>& params) {
    if (conn_ == nullptr) return absl::UnavailableError("not connected");
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* res = PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      absl::Status s = ErrorOf(res, std::string(sql).substr(0, 60));
      PQclear(res);
      return s;
    }
    std::vector<std::vector<std::string>> rows(PQntuples(res));
    for (int r = 0; r < PQntuples(res); ++r) {
      for (int c = 0; c < PQnfields(res); ++c) rows[r].emplace_back(PQgetvalue(res, r, c));
    }
    PQclear(res);
    return rows;
  }

  absl::Status Exec(const std::string& sql) {
    if (conn_ == nullptr) return absl::UnavailableError("not connected");
    PGresult* res = PQexec(conn_, sql.c_str());
    absl::Status s = absl::OkStatus();
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
      s = ErrorOf(res, sql.substr(0, 40));
    }
    PQclear(res);
    return s;
  }

  absl::Status Copy(const std::string& sql, EntityKind entity,
                    const std::function<absl::Status(std::string_view)>& on_line) {
    if (conn_ == nullptr) return absl::UnavailableError("not connected");
    std::string what = absl::StrCat("reading ", std::string(DbTable(entity)));
    PGresult* res = PQexec(conn_, sql.c_str());
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
      absl::Status s = ErrorOf(res, what);
      PQclear(res);
      return s;
    }
    PQclear(res);
    absl::Status status = absl::OkStatus();
    while (true) {
      char* data = nullptr;
      int n = PQgetCopyData(conn_, &data, 0);
      if (n == -1) break;  // done
      if (n == -2) {
        return absl::UnavailableError(
            absl::StrCat(what, ": ", Trimmed(PQerrorMessage(conn_))));
      }
      if (status.ok()) {
        std::string_view line(data, static_cast<size_t>(n));
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        status = on_line(line);
      }
      PQfreemem(data);
    }
    // The COPY's own result: an error that struck mid-stream shows here.
    while ((res = PQgetResult(conn_)) != nullptr) {
      if (status.ok() && PQresultStatus(res) != PGRES_COMMAND_OK) status = ErrorOf(res, what);
      PQclear(res);
    }
    if (status.ok() && PQstatus(conn_) != CONNECTION_OK) {
      status = absl::UnavailableError(absl::StrCat(what, ": connection lost"));
    }
    return status;
  }

  std::string url_;
  std::string display_;
  PGconn* conn_ = nullptr;
  std::string slot_;  // the change stream's, once open
  std::unique_ptr<PgReplicationStream> stream_;  // null: the SQL functions
  std::string stream_note_;
  // The transactions of the last change stream read, until confirmed.
  std::vector<uint32_t> stream_xids_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DbSource>> OpenPgSource(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "unparsable";
    if (error != nullptr) PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return absl::InvalidArgumentError(absl::StrCat("--source: ", message));
  }
  PQconninfoFree(options);
  return std::unique_ptr<DbSource>(new PgSource(url));
}

}  // namespace taskdex::engine_internal

namespace taskdex {
std::string PostgresCopyStatement(EntityKind entity) {
  return engine_internal::CopySql(entity, std::nullopt, {});
}
}  // namespace taskdex
