// engine/internal/pg_replication.cc: logical decoding over the streaming
// replication protocol (engine/internal/pg_replication.h).
//
// Messages (PostgreSQL's "Streaming Replication Protocol", CopyBoth mode;
// integers big-endian, positions and times as int64):
//   server 'w' XLogData:   'w' dataStart walEnd sendTime <test_decoding text>
//   server 'k' keepalive:  'k' walEnd sendTime replyRequested(1 byte)
//   client 'r' status:     'r' written flushed applied sendTime replyRequested
// Times are microseconds since 2000-01-01. test_decoding sends one message
// per line: "BEGIN", "table ...: OP: ...", "COMMIT"; the dataStart of a
// COMMIT is the transaction's end position, the value the SQL functions
// give as its `lsn` and the one a slot is advanced to.

#include "engine/internal/pg_replication.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/db_source.h"

namespace taskdex::engine_internal {
namespace {

// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
constexpr int64_t kPgEpochUnixMicros = 946'684'800'000'000;

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string Trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool SlotIsBusy(std::string_view error) {
  return error.find("is active for PID") != std::string_view::npos;
}

// The id is the first column of every Prefect table (Base), so it is the
// first `id[uuid]:'` of the line (after "new-tuple: " when an UPDATE also
// prints its old key).
absl::Status ParseDecodedChange(std::string_view data,
                                std::vector<std::tuple<EntityKind, ChangeOp, Uuid>>* out) {
  if (!data.starts_with("table ")) return absl::OkStatus();
  size_t colon = data.find(": ");
  if (colon == std::string_view::npos) return absl::OkStatus();
  std::string_view name = data.substr(6, colon - 6);
  if (size_t dot = name.rfind('.'); dot != std::string_view::npos) name = name.substr(dot + 1);
  if (name.size() >= 2 && name.front() == '"') name = name.substr(1, name.size() - 2);
  std::string_view rest = data.substr(colon + 2);
  ChangeOp op = ChangeOp::kUpsert;
  if (rest.starts_with("DELETE: ")) {
    op = ChangeOp::kDelete;
  } else if (!rest.starts_with("INSERT: ") && !rest.starts_with("UPDATE: ")) {
    // TRUNCATE and messages: not followed (Prefect never truncates its
    // tables; README, "Logical decoding").
    return absl::OkStatus();
  }
  if (size_t n = rest.find("new-tuple: "); n != std::string_view::npos) rest = rest.substr(n);
  auto uuid_after = [&](std::string_view key) -> std::optional<Uuid> {
    size_t at = rest.find(key);
    while (at != std::string_view::npos && at > 0 && rest[at - 1] != ' ') {
      at = rest.find(key, at + 1);
    }
    if (at == std::string_view::npos) return std::nullopt;
    return ParseUuid(rest.substr(at + key.size(), 36));
  };
  std::optional<EntityKind> entity;
  std::optional<Uuid> id;
  if (name == "task_run_state") {
    if (op == ChangeOp::kDelete) return absl::OkStatus();  // its task run's delete follows
    entity = EntityKind::kTaskRun;
    id = uuid_after("task_run_id[uuid]:'");
  } else {
    for (EntityKind e : {EntityKind::kFlow, EntityKind::kDeployment, EntityKind::kFlowRun,
                         EntityKind::kTaskRun}) {
      if (name == DbTable(e)) entity = e;
    }
    if (!entity) return absl::OkStatus();
    id = uuid_after("id[uuid]:'");
  }
  if (!id) {
    return absl::InternalError(absl::StrCat("logical decoding: no id in \"",
                                            std::string(data.substr(0, 200)), "\""));
  }
  out->emplace_back(*entity, op, *id);
  return absl::OkStatus();
}

std::optional<uint32_t> ParseBeginXid(std::string_view line) {
  if (!line.starts_with("BEGIN ")) return std::nullopt;
  uint64_t xid = 0;
  std::string_view digits = line.substr(6);
  if (digits.empty() || digits.size() > 10) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    xid = xid * 10 + static_cast<uint64_t>(c - '0');
  }
  if (xid > 0xffffffffu) return std::nullopt;
  return static_cast<uint32_t>(xid);
}

absl::StatusOr<bool> VisibleInSnapshot(std::string_view snapshot,
                                       const std::vector<uint32_t>& xids) {
  auto number = [](std::string_view text) -> std::optional<uint64_t> {
    if (text.empty() || text.size() > 20) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  };
  auto bad = [&] {
    return absl::InternalError(absl::StrCat("unreadable snapshot \"", std::string(snapshot), "\""));
  };
  size_t c1 = snapshot.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : snapshot.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return bad();
  std::optional<uint64_t> xmax = number(snapshot.substr(c1 + 1, c2 - c1 - 1));
  if (!xmax) return bad();
  std::vector<uint64_t> in_progress;
  for (std::string_view rest = snapshot.substr(c2 + 1); !rest.empty();) {
    size_t comma = rest.find(',');
    std::optional<uint64_t> x = number(rest.substr(0, comma));
    if (!x || (comma != std::string_view::npos && comma + 1 == rest.size())) return bad();
    in_progress.push_back(*x);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  for (uint32_t xid : xids) {
    // The 64-bit id with these low 32 bits nearest xmax (ids in use span
    // less than 2^31): at or above it, not yet begun for this snapshot;
    // below it, visible unless listed in progress.
    uint64_t full = (*xmax & ~uint64_t{0xffffffff}) | xid;
    if (full >= *xmax) {
      if (full - *xmax < (uint64_t{1} << 31) || full < (uint64_t{1} << 32)) return false;
      full -= uint64_t{1} << 32;  // the epoch before xmax's
    } else if (*xmax - full > (uint64_t{1} << 31)) {
      return false;  // the next epoch: not yet begun
    }
    for (uint64_t x : in_progress) {
      if (x == full) return false;
    }
  }
  return true;
}

std::optional<uint64_t> ParseLsn(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 8 || text.size() - slash - 1 == 0 ||
      text.size() - slash - 1 > 8) {
    return std::nullopt;
  }
  uint64_t hi = 0, lo = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == slash) continue;
    char c = text[i];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (d < 0) return std::nullopt;
    uint64_t& part = i < slash ? hi : lo;
    part = part * 16 + static_cast<uint64_t>(d);
  }
  return (hi << 32) | lo;
}

std::string FormatLsn(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

PgReplicationStream::PgReplicationStream(std::string url, std::string display_url,
                                         std::string slot)
    : url_(std::move(url)), display_(std::move(display_url)), slot_(std::move(slot)) {}

PgReplicationStream::~PgReplicationStream() { Close(); }

void PgReplicationStream::Close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  open_txn_.clear();
  given_ = confirmed_;
}

// Why PQconnectdbParams with expand_dbname: the source's string (a URL or
// "key=value" pairs) is taken whole as the dbname, and `replication` is
// added after it, whatever form the user wrote.
static PGconn* ConnectForReplication(const std::string& url) {
  const char* keys[] = {"dbname", "replication", "application_name", nullptr};
  const char* values[] = {url.c_str(), "database", "taskdex", nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

absl::Status PgReplicationStream::Probe() {
  PGconn* conn = ConnectForReplication(url_);
  absl::Status s = absl::OkStatus();
  if (PQstatus(conn) != CONNECTION_OK) {
    s = absl::FailedPreconditionError(absl::StrCat(
        "the server refuses a replication connection: ", Trimmed(PQerrorMessage(conn))));
  }
  PQfinish(conn);
  return s;
}

absl::Status PgReplicationStream::Failed(const std::string& what) {
  std::string message = conn_ != nullptr ? Trimmed(PQerrorMessage(conn_)) : "";
  Close();
  return absl::UnavailableError(absl::StrCat("replication stream from ", display_, ": ", what,
                                             message.empty() ? "" : ": ", message));
}

absl::Status PgReplicationStream::Start() {
  conn_ = ConnectForReplication(url_);
  if (PQstatus(conn_) != CONNECTION_OK) return Failed("cannot connect");
  std::string quoted = "\"";
  for (char c : slot_) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  std::string sql = absl::StrCat("START_REPLICATION SLOT ", quoted, " LOGICAL ",
                                 FormatLsn(confirmed_),
                                 " (\"include-xids\" '1', \"skip-empty-xacts\" '1')");
  // A walsender of ours that was just closed may still hold the slot for
  // a moment ("replication slot ... is active for PID"): tried again for
  // up to kSlotReleaseWaitMs.
  ExecStatusType status = PGRES_FATAL_ERROR;
  std::string error;
  for (int waited = 0;; waited += kSlotRetryMs) {
    PGresult* res = PQexec(conn_, sql.c_str());
    status = PQresultStatus(res);
    error = Trimmed(PQresultErrorMessage(res));
    PQclear(res);
    if (status == PGRES_COPY_BOTH || !SlotIsBusy(error) ||
        waited >= kSlotReleaseWaitMs) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kSlotRetryMs));
  }
  if (status != PGRES_COPY_BOTH) {
    Close();
    return absl::UnavailableError(
        absl::StrCat("replication stream from ", display_, ": START_REPLICATION: ", error));
  }
  open_txn_.clear();
  given_ = confirmed_;
  // Tells the slot a position confirmed while the stream was down.
  return SendStatus(false);
}

absl::Status PgReplicationStream::SendStatus(bool reply_requested) {
  if (conn_ == nullptr) return absl::OkStatus();
  int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count() -
                kPgEpochUnixMicros;
  std::string msg = "r";
  // 0 (InvalidXLogRecPtr) is ignored by the server: nothing confirmed yet.
  PutU64(std::max(received_, confirmed_), &msg);  // written
  PutU64(confirmed_, &msg);  // flushed: what the slot moves to
  PutU64(confirmed_, &msg);  // applied
  PutU64(static_cast<uint64_t>(now), &msg);
  msg.push_back(reply_requested ? 1 : 0);
  if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_) != 0) {
    return Failed("sending the confirmed position");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PgReplicationStream::Read(
    size_t max_changes, int wait_ms,
    const std::function<void(EntityKind, ChangeOp, const Uuid&)>& on_change,
    std::vector<uint32_t>* xids) {
  // What was given last time was not confirmed (its apply failed): start
  // again from what was.
  if (conn_ != nullptr && given_ != confirmed_) Close();
  if (conn_ == nullptr) {
    if (absl::Status s = Start(); !s.ok()) return s;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  std::vector<std::tuple<EntityKind, ChangeOp, Uuid>> committed;
  std::vector<uint32_t> committed_xids;
  uint64_t position = 0;
  while (position == 0 || committed.size() < max_changes) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, /*async=*/1);
    if (n > 0) {
      std::string_view msg(buf, static_cast<size_t>(n));
      absl::Status s = absl::OkStatus();
      if (msg[0] == 'w' && msg.size() >= 25) {
        received_ = std::max(received_, GetU64(buf + 9));
        std::string_view text = msg.substr(25);
        if (text.starts_with("BEGIN")) {
          open_txn_.clear();
          std::optional<uint32_t> xid = ParseBeginXid(text);
          if (!xid) s = absl::InternalError(absl::StrCat("logical decoding: \"", std::string(text), "\""));
          open_xid_ = xid.value_or(0);
        } else if (text.starts_with("COMMIT")) {
          committed.insert(committed.end(), open_txn_.begin(), open_txn_.end());
          committed_xids.push_back(open_xid_);
          open_txn_.clear();
          position = GetU64(buf + 1);
        } else {
          s = ParseDecodedChange(text, &open_txn_);
        }
      } else if (msg[0] == 'k' && msg.size() >= 18) {
        received_ = std::max(received_, GetU64(buf + 1));
        if (msg[17] != 0) s = SendStatus(false);
      }
      PQfreemem(buf);
      if (!s.ok()) {
        Close();
        return s;
      }
      continue;
    }
    if (n == -1) return Failed("the server ended the stream");
    if (n != 0) return Failed("reading");
    // Nothing whole is buffered: take what the socket holds; when it
    // holds nothing, return what has committed, or wait for more.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    int timeout = position != 0 ? 0 : static_cast<int>(std::max<int64_t>(left, 0));
    pollfd fd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
    int ready = poll(&fd, 1, timeout);
    if (ready < 0 && errno != EINTR) return Failed("poll");
    if (ready <= 0 && (position != 0 || left <= 0)) break;
    if (PQconsumeInput(conn_) == 0) return Failed("reading");
  }
  for (const auto& [entity, op, id] : committed) on_change(entity, op, id);
  xids->insert(xids->end(), committed_xids.begin(), committed_xids.end());
  if (position == 0) return std::string();
  given_ = position;
  return FormatLsn(position);
}

absl::Status PgReplicationStream::Confirm(const std::string& position) {
  std::optional<uint64_t> lsn = ParseLsn(position);
  if (!lsn) return absl::InvalidArgumentError(absl::StrCat("not a position: \"", position, "\""));
  confirmed_ = *lsn;
  given_ = std::max(given_, confirmed_);
  if (given_ == confirmed_) return SendStatus(false);
  return absl::OkStatus();
}

}  // namespace taskdex::engine_internal
