// api/checkpointer.h
//
// `taskdex serve --checkpoint-dir DIR [--checkpoint-every DURATION]`: binary
// snapshots of the served engine (engine/binary_snapshot.h), on request
// (POST /taskdex/v1/checkpoint) and on a timer. With --source, each one
// records the follower's position, taken before the version is pinned, so
// that everything it covers is in the snapshot; `serve --source URL
// --snapshot DIR` then resumes following from there (a catch-up poll with
// reconciliation) instead of reloading the database.
//
// A checkpoint holds the live store's writer lock only to pin the version
// and copy the model's pointers (LiveStore::Checkpoint); readers never
// wait. Segments never change, so each checkpoint writes only the
// segments the last one did not (new batches, merges) and the small
// "dims" file (model and tombstones); the others' files are reused. Checkpoints run one at a time: a second request waits for the
// first and then writes its own.
//
// Thread safety: every method from any thread.

#ifndef TASKDEX_API_CHECKPOINTER_H_
#define TASKDEX_API_CHECKPOINTER_H_

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "api/taskdex.h"
#include "engine/db_follow_loop.h"

namespace taskdex {

// "90", "90s", "15m", "2h" as seconds (> 0); nullopt for anything else.
std::optional<int64_t> ParseDurationSeconds(std::string_view text);

// Loads the binary snapshot `dir` (a live store: background merges, ready
// for writes) and sets `follower` to resume from it (DbFollowLoop::Resume)
// from the position its manifest records or, without one, from its newest
// task run; the first poll reconciles. The follower is not started.
// Errors: the load's, or InvalidArgument for a "source" that is not a
// database position.
absl::StatusOr<std::unique_ptr<Engine>> OpenForResume(const std::string& dir,
                                                      DbFollowLoop* follower,
                                                      const LoadOptions& options);

class Checkpointer {
 public:
  // `follower` may be null (a snapshot served without a database); `log`
  // gets one line per checkpoint (may be null).
  Checkpointer(std::string dir, const DbFollowLoop* follower, FILE* log);
  ~Checkpointer();

  // The engine to checkpoint, once loaded (not owned; must outlive Stop()).
  // When it was loaded from a binary snapshot in the checkpoint directory,
  // the first checkpoint reuses that snapshot's segment files.
  void SetEngine(const Engine* engine);

  // Writes a checkpoint now. 200 {"snapshot_id":..,"dir":..,"version":N,
  // "segments":N,"bytes":N,"seconds":S,"source":<position or null>}; 503
  // while loading; 500 {"detail":<why>} when it cannot be written.
  Response CheckpointNow();

  // A checkpoint every `seconds`, on a thread of its own, until Stop().
  void StartEvery(int64_t seconds);
  void Stop();

 private:
  const std::string dir_;
  const DbFollowLoop* const follower_;
  FILE* const log_;
  std::atomic<const Engine*> engine_{nullptr};
  std::mutex run_mu_;        // one checkpoint at a time
  SegmentFileCache cache_;  // guarded by run_mu_: segment files to reuse

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool stop_ = false;
  std::thread timer_;
};

}  // namespace taskdex

#endif  // TASKDEX_API_CHECKPOINTER_H_
