// engine/db_follower.h
//
// Follows a Prefect database (engine/db_source.h) as prefect-schema.md 3-4
// says: one consistent full load, parents first; then polls by the
// `updated` watermark with overlap; deletes found by reconciliation. Each
// poll becomes one Batch (engine/mutation.h), handed to an apply callback
// (the live store's Apply), so readers see a whole poll or none of it.
//
// State, per entity:
//  - watermark: the largest `updated` read so far. A poll reads
//    `updated >= watermark - overlap`: a PostgreSQL transaction that began
//    before the last poll and committed after it wrote `updated` (its start
//    time, now()) below the watermark, and Python's clock on insert and the
//    database's on update may disagree (prefect-schema.md 4.1).
//  - recent: (id -> updated) of the rows read with `updated` inside the
//    overlap window. A poll reads the window's keys (id, updated) first and
//    then, by id, only the rows not in `recent` as they are: at 1,000
//    changes a second most of the 60 s window is unchanged, and reading it
//    whole each poll (1.8 KB a task run) made a poll take ~300 ms at 1M
//    (bench-source, RESULTS.md). Pruned to the window after each poll: its
//    size is the rows changed in `overlap`.
//  - held: every id the engine holds. Reconciliation reads every id of the
//    four tables in the poll's snapshot, deletes the held ids that are gone
//    (flow, deployment, flow_run, task_run: the order of 4.2; the live
//    store applies entities.md 3's cascades, the SET NULL of
//    parent_task_run_id included), and reads by id the rows that exist but
//    were never read (a transaction that stayed open longer than `overlap`).
//
// A poll is all or nothing: rows are read inside one read transaction, the
// batch is applied, and only then do the watermarks, `recent` and `held`
// move. A poll that fails anywhere (connection lost, bad row, apply error)
// leaves them as they were, so the next poll reads the same rows again.
//
// Costs: a poll reads the keys of every row changed in the last `overlap`
// (at 1,000 state changes a second and 60 s, 60,000 keys) and the new or
// changed rows whole, 500 ids per SELECT. A reconciliation reads
// every id (16 bytes a row in `held`, ~20 MB at 1M task runs).
//
// Thread safety: one thread at a time.

#ifndef TASKDEX_ENGINE_DB_FOLLOWER_H_
#define TASKDEX_ENGINE_DB_FOLLOWER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/db_source.h"
#include "engine/mutation.h"
#include "engine/records.h"

namespace taskdex {

struct DbFollowerOptions {
  int64_t overlap_us = 60'000'000;  // prefect-schema.md 4.1's default
  // Threads of the initial load (0: all cores): one receives the rows, the
  // others parse them (engine/internal/row_parse_pool.h).
  int load_threads = 0;
};

// Where a follower is: per entity (EntityKind order) the largest
// `updated` it has read (none: read every row at the next poll). Kept in a
// checkpoint's manifest (engine/binary_snapshot.h "source") so that a
// server started from it resumes from here (DbFollower::Resume).
struct DbPosition {
  std::optional<Micros> watermark[4];
};
// {"kind":"database","watermark_us":{"flow":N|null,"deployment":..,
// "flow_run":..,"task_run":..}}, and back. Errors: InvalidArgument naming
// the field.
std::string DbPositionJson(const DbPosition& p);
absl::StatusOr<DbPosition> ParseDbPosition(std::string_view json);

struct DbLoadProgress {
  EntityKind entity = EntityKind::kFlow;  // the table being read
  uint64_t rows_done = 0;                 // of all four tables
};

struct DbPollStats {
  uint64_t rows_read = 0;   // rows the poll's SELECTs returned
  uint64_t unchanged = 0;   // skipped: (id, updated) already applied
  uint64_t upserts = 0;     // in the batch
  uint64_t deletes = 0;     // in the batch (reconciliation)
  uint64_t recovered = 0;   // rows found by reconciliation, read by id
  uint64_t stream_changes = 0;  // row changes the change stream gave
  bool reconciled = false;
  // Where the poll's time went (DbPollPhase order), for /metrics and
  // `taskdex bench-source`.
  double phase_seconds[4] = {0, 0, 0, 0};
};

// The phases of a poll or a change-stream read: kChanges reads what changed
// (the window's keys, or the slot's changes; reconciliation's ids too),
// kRows reads those rows by id, kApply is the apply callback (the live
// store's Apply), kConfirm confirms the slot's position (decoding only).
enum class DbPollPhase { kChanges, kRows, kApply, kConfirm };
inline constexpr int kDbPollPhases = 4;
const char* DbPollPhaseName(DbPollPhase phase);

class DbFollower {
 public:
  DbFollower(std::unique_ptr<DbSource> source, DbFollowerOptions options);
  ~DbFollower();

  DbSource& source() { return *source_; }

  // The whole database, in one read transaction, flows first. On success
  // the follower holds every row read and polls from here on.
  absl::StatusOr<SnapshotRecords> Load(
      const std::function<void(const DbLoadProgress&)>& progress = {});

  // Instead of Load, after the engine was loaded from a snapshot of the
  // same database: holds its rows, and polls from its newest task run's
  // `updated` less the overlap (the snapshot's flow runs, flows and
  // deployments carry no `updated`). Call ReconcileNext() too, so the first
  // poll removes what was deleted since the snapshot.
  void Seed(const SnapshotRecords& records);
  // Instead of Load, after the engine was loaded from a checkpoint of this
  // follower (engine/binary_snapshot.h): holds `held` (ids per entity,
  // EntityKind order) and polls from `position` less the overlap. Call
  // ReconcileNext() too (DbFollowLoop::Resume does).
  void Resume(const std::array<std::vector<Uuid>, 4>& held, const DbPosition& position);
  DbPosition position() const;

  // One poll (and reconciliation, when `reconcile`): reads the changes,
  // calls `apply` with them as one batch (not called when there are none),
  // and advances only if both succeed. Errors: the source's (Unavailable
  // when the connection is gone), InvalidArgument for a row the snapshot
  // format rejects, or apply's.
  absl::Status Poll(bool reconcile, const std::function<absl::Status(const Batch&)>& apply,
                    DbPollStats* stats);

  // Logical decoding instead of polling (engine/db_source.h): opens the
  // source's change stream on `slot`. Call before Load or the first Poll,
  // so that no change falls between their snapshot and the stream's start
  // (a change seen by both is applied twice, harmlessly: rows are re-read
  // by id). The source's error when it cannot; the follower then polls.
  absl::Status UseChangeStream(const std::string& slot);
  bool streaming() const { return streaming_; }
  // One read of the change stream: the ids changed since the slot's
  // confirmed position (commit order), their rows read by id in one
  // snapshot (a row gone by then is skipped: its delete follows in the
  // stream), deletes as deletes, applied as one batch, and only then the
  // position confirmed. A crash between apply and confirm re-reads the
  // same changes: applying them again changes nothing. No reconciliation
  // is needed: cascaded deletes and the SET NULL of parent_task_run_id are
  // rows of the stream too. A source that is sent changes (PostgreSQL's
  // streaming replication) waits up to `wait_ms` for the first one.
  absl::Status StreamOnce(const std::function<absl::Status(const Batch&)>& apply,
                          DbPollStats* stats, int wait_ms = 0);


 private:
  struct Table {
    std::optional<Micros> watermark;
    absl::flat_hash_map<Uuid, Micros> recent;
    absl::flat_hash_set<Uuid> held;
  };
  void Remember(Table& table, const Uuid& id, Micros updated);
  void Prune(Table& table);

  std::unique_ptr<DbSource> source_;
  DbFollowerOptions options_;
  bool streaming_ = false;
  Table tables_[4];
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_DB_FOLLOWER_H_
