// engine/live_store.h
//
// The live store: versions of segments (engine/version.h) that take batches
// of upserts and deletes (engine/mutation.h) while readers query
// (DESIGN.md "Segments, versions and live updates").
//
// Layout. A version is a list of segments; each segment is an immutable
// Store built by StoreBuilder, plus a tombstone bitmap of its task-run
// rows. Every batch that writes task runs adds one small segment; a merge
// folds segments into one larger segment. A task run counts in exactly one
// segment of a version.
//
// Why a segment carries copies of flow runs, flows and deployments ("the
// dimension rows travel with their task runs"): the executor answers a
// task-run query inside one Store, its joins resolved to rows of that Store.
// So a segment holds, for each task run T that counts in it, the closure of
// T: its flow run R; R's flow and one deployment of that flow, if it has
// any (a flow's `deployment.is_null_` asks only whether one exists); R's
// deployment and that
// deployment's flow; the task run R.parent_task_run_id names (for
// `parent_flow_run_id`; when it counts elsewhere it is a tombstoned
// "phantom" row carrying only its flow_run_id); and every flow run whose
// parent_task_run_id is T (has-subflow). The invariant: these copies are
// current for every task run that counts. The writer keeps it by moving T
// (tombstone, then copy into the batch's new segment with a fresh closure)
// whenever something in T's closure changes:
//   - a flow run upserted or deleted: its task runs move (orphans too: a
//     task run that arrived before its flow run joins it now);
//   - a flow changed: the task runs of its flow runs and of the flow runs
//     of its deployments move;
//   - a deployment changed: the task runs of its flow runs move, and, when
//     a flow gains its first deployment or loses its last, those of that
//     flow's flow runs;
//   - a flow run's parent_task_run_id set, cleared or changed, or the flow
//     run created or deleted: the old and new parent task runs move;
//   - a task run created, deleted or given another flow run: the task runs
//     of its child flow runs move (their parent_flow_run_id changed).
// An upsert equal to the current row changes nothing. Changing a flow or a
// deployment is rare in Prefect, and moves every task run under it.
//
// Mutations follow entities.md 3: upsert replaces the whole row; deleting a
// task run clears parent_task_run_id of its subflows; deleting a flow run
// deletes its task runs; deleting a flow deletes its deployments and flow
// runs; deleting a deployment deletes its SCHEDULED flow runs and leaves
// the others dangling. A batch is checked before anything is applied, then
// applied in order, and published as one version: readers see all of it or
// none.
//
// Merges. MergeOnce() picks segments by the policy below and replaces them
// by one segment of their task runs that count (tombstones reclaimed). The
// task runs are read without the lock; the closure is taken from the
// writer's model under the lock, consistent with the pinned version; rows
// tombstoned while the merge ran are tombstoned again in the result when
// it is published. Policy: segments whose sizes share a tier (a factor of
// kMergeFanIn) are merged once kMergeFanIn of them exist; a segment with
// over kMaxDeadShare of its rows tombstoned is rewritten. With
// Options::background_merges a thread runs merges after each Apply.
//
// Costs. Apply: for each task-run upsert a hash lookup per segment (to
// find the old row) and a bitmap set; then one StoreBuilder build of the
// new segment (its task runs and their closures), and for each segment
// that lost rows its tombstones' sort positions (engine/tombstones.h: a
// copy of 7 small bitmaps plus 7 adds a row; a segment's first tombstone
// builds its row -> position map once, ~28 bytes a row). Memory: the writer's
// model of every flow run, flow and deployment (records), besides the
// segments.
//
// Thread safety: Pin() and Stats() from any thread, at any time; Apply and
// the merges serialize on one writer mutex; no lock is held while a query
// runs, and readers never wait for a writer (Pin copies a pointer under a
// mutex held only for that copy).

#ifndef TASKDEX_ENGINE_LIVE_STORE_H_
#define TASKDEX_ENGINE_LIVE_STORE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/mutation.h"
#include "engine/store.h"
#include "engine/version.h"

namespace taskdex {

// Merge policy constants (see above). Each segment costs a query its own
// plan (~10-100 us by --explain: the mix's p50 was 3.4x the single-segment
// one with 10 segments after `taskdex bench --writes 10000` on 1M task
// runs). Merging all small segments into one whenever more than 3 exist
// (tried) rewrote the growing one on every merge and fell behind: 28
// segments and half the apply rate in the same benchmark. Tiers of 4 bound
// the rewrites of a row to log4 of the segment sizes.
inline constexpr uint32_t kMergeFanIn = 4;
inline constexpr double kMaxDeadShare = 0.25;

struct ApplyResult {
  uint64_t version = 0;
  // Rows written and removed, per entity (EntityKind order), cascades
  // included; `moved` task runs were copied to the new segment because
  // their closure changed.
  uint64_t upserted[4] = {0, 0, 0, 0};
  uint64_t deleted[4] = {0, 0, 0, 0};
  uint64_t moved_task_runs = 0;
  uint64_t unchanged = 0;  // upserts equal to the current row
  double micros = 0;
};

struct LiveStats {
  uint64_t version = 0;
  uint64_t segments = 0;
  uint64_t task_runs = 0;    // that count
  uint64_t tombstones = 0;   // tombstoned task-run rows still held
  uint64_t applies = 0;
  uint64_t merges = 0;
  double apply_micros_total = 0;
  double apply_micros_max = 0;
  double merge_seconds_total = 0;
  size_t memory_bytes = 0;
};

// A segment of a checkpoint being restored (engine/binary_snapshot.h).
struct RestoredSegment {
  std::unique_ptr<Store> store;
  Bitmap dead;  // its task-run rows that do not count
};

class LiveStore {
 public:
  struct Options {
    bool background_merges = false;
    // Build the loaded segment's row -> sort position map
    // (engine/tombstones.h) with the load instead of under the writer's
    // lock at its first tombstone (one Apply took 1.58 s for it at 10M
    // task runs in `taskdex bench --writes`); costs ~0.15 s of load and 28
    // bytes a task run per million. For stores that will take writes.
    bool expect_writes = false;
  };
  // Takes a loaded Store as the first segment.
  LiveStore(std::unique_ptr<Store> initial, Options options);
  // Restores a live store from a checkpoint (Checkpoint below): its
  // segments, oldest first, with their tombstones; the writer's model of
  // flow runs, flows and deployments as a Store of those rows (`dims`);
  // and the number of the version it was.
  LiveStore(std::vector<RestoredSegment> segments, const Store& dims, uint64_t version,
            Options options);
  ~LiveStore();
  LiveStore(const LiveStore&) = delete;
  LiveStore& operator=(const LiveStore&) = delete;

  std::shared_ptr<const Version> Pin() const;

  // Applies `batch` atomically and publishes it before returning. Errors
  // (InvalidArgument, nothing applied): "change <i>: <reason>" with i the
  // 0-based index in the batch.
  absl::StatusOr<ApplyResult> Apply(const Batch& batch);

  // One merge by the policy; false when the policy wants none.
  bool MergeOnce();
  // Merges every segment into one (tests, benchmarks, before a snapshot).
  void MergeAll();

  LiveStats Stats() const;

  // What a checkpoint writes: a version, and the writer's model of flow
  // runs, flows and deployments as it was for that version (rows a segment
  // does not carry live there only: a flow run without task runs, say).
  // The writer's lock is held only to pin the version and copy the
  // model's record pointers (~1 ms per 50,000 flow runs); `dims` is built
  // from them after, without it. Readers never wait.
  struct CheckpointState {
    std::shared_ptr<const Version> version;
    std::unique_ptr<Store> dims;
  };
  CheckpointState Checkpoint() const;

  // Every id held, per entity (EntityKind order: flows, deployments, flow
  // runs from the writer's model; task runs that count), and the newest
  // task-run `updated`: what a database follower resuming from a
  // checkpoint holds (DbFollower::Resume).
  struct HeldIds {
    std::array<std::vector<Uuid>, 4> ids;
    std::optional<Micros> newest_task_run_updated;
  };
  HeldIds Held() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_LIVE_STORE_H_
