// engine/internal/pg_replication.h
//
// Logical decoding over PostgreSQL's streaming replication protocol: a
// replication connection (`replication=database`) runs
//   START_REPLICATION SLOT "<slot>" LOGICAL <lsn> ("include-xids" '1', "skip-empty-xacts" '1')
// and the server pushes test_decoding's text for each change as it is
// committed (CopyData 'w' messages); the client confirms what it has
// applied with standby status updates ('r': flush position). The slot is
// created by the SQL connection (pg_source.cc); this is only the stream.
//
// Why not the SQL functions alone (pg_logical_slot_peek_changes, then
// pg_replication_slot_advance): each call decodes the WAL again from the
// slot's restart_lsn, which moves only with a running-transactions record
// (every ~15 s, or at a checkpoint), so under a steady writer each 20 ms
// read re-decoded up to seconds of WAL, twice (peek, then advance). At 1M
// task runs and 1,000 changes a second that gave a p99 staleness of 564 ms
// (bench/RESULTS.md, session 10). The walsender decodes each record once,
// continuously, and sends a transaction as soon as it commits. The SQL
// functions stay as the fallback when the server refuses replication
// connections: max_wal_senders = 0 or all in use, or a connection pooler
// in between. (A logical replication connection names a database, so
// pg_hba.conf's database lines govern it, not its `replication` lines; the
// REPLICATION attribute is needed for the slot either way.)
//
// Status updates report as written the end of what has been received
// (`received_`) and as flushed what has been confirmed: the slot moves with
// the flushed position only, and a server shutting down waits for a
// walsender until its client has written all that was sent, so keepalives
// that ask for a reply are answered at once by the next Read.
//
// Delivery: Read returns whole transactions only; a transaction still
// arriving when Read returns is kept for the next Read. A Read that follows
// a Read whose changes were never confirmed (the caller failed before
// applying them) restarts the stream from the last confirmed position, so
// no change is lost; changes may come twice, which the follower tolerates.
//
// Costs: one connection; per change, the server's decoding and ~1-2 KB of
// text (test_decoding prints every column); here one scan of each line for
// its table and id.
//
// Thread safety: one thread at a time.

#ifndef TASKDEX_ENGINE_INTERNAL_PG_REPLICATION_H_
#define TASKDEX_ENGINE_INTERNAL_PG_REPLICATION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/mutation.h"
#include "engine/uuid.h"

namespace taskdex::engine_internal {

// One line of test_decoding's output, e.g.
//   table public.task_run: UPDATE: id[uuid]:'1f0c...' created[timestamp with time zone]:...
//   table public.task_run_state: INSERT: id[uuid]:'..' ... task_run_id[uuid]:'..' ...
//   table public.flow: DELETE: id[uuid]:'..'
// as (entity, op, id) appended to `out`; tables other than the four and
// task_run_state, BEGIN and COMMIT are skipped.
absl::Status ParseDecodedChange(std::string_view data,
                                std::vector<std::tuple<EntityKind, ChangeOp, Uuid>>* out);

// Whether a server error says the slot is held by another connection (a
// walsender just closed may hold it for a moment after).
bool SlotIsBusy(std::string_view error);
// How long a busy slot is waited for (Start here, the drop in pg_source.cc),
// and how often it is tried.
inline constexpr int kSlotReleaseWaitMs = 2000;
inline constexpr int kSlotRetryMs = 50;

// "BEGIN 1234" -> 1234 (test_decoding with include-xids).
std::optional<uint32_t> ParseBeginXid(std::string_view line);

// Whether every transaction of `xids` (32-bit ids of committed
// transactions, as decoding gives them) is visible in `snapshot`, the text
// of pg_current_snapshot() ("xmin:xmax:xip,xip,..", 64-bit ids). A
// transaction reaches the stream once its commit record is flushed, a
// moment before it is visible to new snapshots: rows read by id in a
// snapshot taken in that moment would miss it.
absl::StatusOr<bool> VisibleInSnapshot(std::string_view snapshot,
                                       const std::vector<uint32_t>& xids);

// "16/B374D848" <-> 0x16B374D848.
std::optional<uint64_t> ParseLsn(std::string_view text);
std::string FormatLsn(uint64_t lsn);

class PgReplicationStream {
 public:
  // `url`: the source's connection string; `slot`: an existing logical
  // slot with the test_decoding plugin.
  PgReplicationStream(std::string url, std::string display_url, std::string slot);
  ~PgReplicationStream();
  PgReplicationStream(const PgReplicationStream&) = delete;
  PgReplicationStream& operator=(const PgReplicationStream&) = delete;

  // Opens a replication connection and closes it: whether the server
  // accepts them (FailedPrecondition with its reason when not).
  absl::Status Probe();

  // The changes of the transactions committed after the confirmed
  // position: waits up to `wait_ms` for the first one, then takes what has
  // arrived, stopping at a commit once `max_changes` are given. Returns the
  // position after the last transaction given ("" when none).
  // The transaction ids of the transactions given are appended to `xids`.
  absl::StatusOr<std::string> Read(
      size_t max_changes, int wait_ms,
      const std::function<void(EntityKind, ChangeOp, const Uuid&)>& on_change,
      std::vector<uint32_t>* xids);
  // Reports `position` (from Read) applied: the server may drop the WAL
  // before it.
  absl::Status Confirm(const std::string& position);
  void Close();

 private:
  absl::Status Start();
  absl::Status SendStatus(bool reply_requested);
  absl::Status Failed(const std::string& what);

  std::string url_, display_, slot_;
  PGconn* conn_ = nullptr;
  uint64_t confirmed_ = 0;  // last position confirmed (0: the slot's own)
  uint64_t given_ = 0;      // last position Read returned
  uint64_t received_ = 0;   // end of the WAL the server has sent
  std::vector<std::tuple<EntityKind, ChangeOp, Uuid>> open_txn_;  // not yet committed
  uint32_t open_xid_ = 0;
};

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_PG_REPLICATION_H_
