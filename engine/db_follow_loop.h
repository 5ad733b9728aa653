// engine/db_follow_loop.h
//
// Runs a DbFollower (engine/db_follower.h) for a server: the initial load,
// retried until the database answers, then a poll every poll_interval on a
// thread of its own, a reconciliation every reconcile_interval, and the
// faults of a database that restarts, refuses connections, drops one
// mid-poll or answers slowly.
//
// Faults. A poll that fails applies nothing (the follower's polls are all
// or nothing), so the engine keeps serving the last good version. The
// connection is dropped and retried with exponential backoff from
// kBackoffMin to kBackoffMax. Errors are counted by kind (DbErrorKind) and
// logged one line per change of state ("connection lost: ...",
// "reconnected after 3 attempts", "schema error: ..."), not once per
// retry. Staleness is the time since the start of the last successful poll
// (everything committed before that start is visible); /readyz answers 503
// when it exceeds max_staleness.
//
// Logical decoding (DbFollowOptions::slot): the slot is opened before the
// initial load's snapshot (or before the catch-up poll after Seed), then
// read every decode_interval_ms (DbFollower::StreamOnce): over the
// streaming replication protocol when the server takes a replication
// connection from the user (changes are pushed as they commit; an idle
// read waits for the first), else through the SQL functions (logged once:
// slower, each read decodes the WAL again). Reconciliation is not needed
// and not run. Refused (no logical wal_level, no privilege,
// SQLite): one warning, then polling as above.
//
// Thread safety: Load, Seed, Start and Stop from one controlling thread;
// Status, MetricsText and NotReady from any thread (a mutex guards the
// status, never held across a database call or an apply).

#ifndef TASKDEX_ENGINE_DB_FOLLOW_LOOP_H_
#define TASKDEX_ENGINE_DB_FOLLOW_LOOP_H_

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "engine/db_follower.h"
#include "engine/db_source.h"

namespace taskdex {

// Retry delays after a failed load or poll, doubling per failure.
inline constexpr int kBackoffMinMs = 100;
inline constexpr int kBackoffMaxMs = 5000;

struct DbFollowOptions {
  int poll_interval_ms = 250;
  int reconcile_interval_s = 300;
  int max_staleness_s = 30;
  // Logical decoding through this replication slot (empty: poll). When the
  // database cannot (not PostgreSQL, wal_level not logical, no REPLICATION
  // privilege), a warning is logged and the loop polls.
  std::string slot;
  // How often the slot is read; a streaming replication read also waits
  // this long for the first change when none is there.
  int decode_interval_ms = 20;
  bool drop_slot = false;       // drop the slot at Stop()
  DbFollowerOptions follower;
};

// What a failure was: the connection (refused, lost: retried), the schema
// (a table or column missing: not Prefect's, or an unknown version), a row
// the snapshot format rejects, the apply, or anything else the database
// said.
enum class DbErrorKind : uint8_t { kConnection, kSchema, kData, kApply, kOther };
inline constexpr int kDbErrorKinds = 5;
std::string_view DbErrorKindName(DbErrorKind kind);  // "connection", "schema", ...

struct DbSourceStatus {
  bool loaded = false;     // the initial load is done
  bool connected = false;  // the last call to the database succeeded
  uint64_t rows_loaded = 0;
  double load_seconds = 0;
  Micros last_success_start = 0;  // of the last successful load or poll; 0: none
  Micros last_success_end = 0;
  uint64_t polls = 0;  // successful
  uint64_t reconciliations = 0;
  uint64_t rows_read = 0;        // by successful polls
  uint64_t rows_unchanged = 0;   // of those, skipped
  uint64_t rows_upserted = 0;    // applied by polls
  uint64_t rows_deleted = 0;     // applied by reconciliations
  uint64_t reconnects = 0;       // successful reconnections after a failure
  double phase_seconds[kDbPollPhases] = {};  // of successful polls (DbPollPhase)
  bool streaming = false;        // following by logical decoding
  uint64_t errors[kDbErrorKinds] = {};
  std::string last_error;
  // Seconds since last_success_start at `now`; infinity before the first.
  double Staleness(Micros now) const;
};

class DbFollowLoop {
 public:
  // `log`: one line per state change (nullptr: none).
  DbFollowLoop(std::unique_ptr<DbSource> source, DbFollowOptions options, FILE* log);
  ~DbFollowLoop();  // Stop()
  DbFollowLoop(const DbFollowLoop&) = delete;
  DbFollowLoop& operator=(const DbFollowLoop&) = delete;

  const std::string& display_url() const { return url_; }

  // The initial load (DbFollower::Load), retried with backoff while the
  // error is Unavailable, until it succeeds or Stop(); other errors are
  // returned. `progress` gets the rows read so far.
  absl::StatusOr<SnapshotRecords> Load(const std::function<void(uint64_t rows)>& progress = {});
  // DbFollower::Seed, and the first poll reconciles.
  void Seed(const SnapshotRecords& records);
  // Instead of Load, after the engine was loaded from a checkpoint of this
  // loop's database: DbFollower::Resume, and the first poll reconciles.
  void Resume(const std::array<std::vector<Uuid>, 4>& held, const DbPosition& position);
  // The follower's position after its last successful load or poll; any
  // thread. Everything it covers was applied before it moved, so a
  // checkpoint takes it first and then pins the version it writes.
  DbPosition position() const;

  // Polls on a thread until Stop, applying each batch with `apply`.
  void Start(std::function<absl::Status(const Batch&)> apply);
  void Stop();

  // One poll on the calling thread, as the thread does it (tests).
  absl::Status PollOnce(const std::function<absl::Status(const Batch&)>& apply);

  DbSourceStatus Status() const;
  // Waits until a poll that started at or after `t` (wall-clock micros)
  // has succeeded, at most `timeout_ms`; true if one did (read-your-writes:
  // a change committed before `t` is then visible).
  bool WaitForPollAfter(Micros t, int timeout_ms) const;
  // The wall clock the status and WaitForPollAfter use.
  static Micros Now();
  // Prometheus text (taskdex_source_* metrics) at `now`.
  std::string MetricsText(Micros now) const;
  // Why /readyz should answer 503 (loading, or staleness over
  // max_staleness), or nullopt when ready.
  std::optional<std::string> NotReady(Micros now) const;

 private:
  // After Seed or Resume: the first poll reconciles; the status says loaded
  // with `rows` rows, at the follower's position.
  void Seeded(uint64_t rows);
  void Run();
  void Failed(const absl::Status& status, bool in_load);
  void Succeeded();
  bool SleepFor(int ms);  // false when stopped

  DbFollowOptions options_;
  std::string url_;
  FILE* log_;
  DbFollower follower_;
  std::function<absl::Status(const Batch&)> apply_;
  Micros last_reconcile_ = 0;
  bool reconcile_next_ = false;
  bool stream_decided_ = false;  // the slot was opened, or refused for good
  absl::Status DecideStream();
  int failures_in_row_ = 0;
  std::string failing_with_;  // the message last logged, to log changes only

  mutable std::mutex mu_;
  std::condition_variable wake_;
  mutable std::condition_variable polled_;  // after each successful poll
  bool stop_ = false;
  bool slot_dropped_ = false;  // Stop() runs again from the destructor
  DbSourceStatus status_;
  DbPosition position_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_DB_FOLLOW_LOOP_H_
