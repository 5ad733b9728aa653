// bench/change_stream.h
//
// A stream of change batches (engine/mutation.h) that looks like Prefect
// activity on top of a snapshot, for benchmarks of the live store: task runs
// moving PENDING -> RUNNING -> COMPLETED or FAILED (or SCHEDULED -> PENDING
// first, CANCELLING -> CANCELLED, PAUSED -> RUNNING), and new task runs
// created PENDING inside existing flow runs, at a given share. Each change
// is an upsert of the whole task-run row with the fields a state transition
// sets in Prefect updated together: state_id, state_type, state_name, the
// normalized `state` object and state_timestamp, updated, start_time,
// end_time, run_count, total_run_time (entities.md 3; paginate.md 9.5).
//
// Not a model of a real server's rates: a clock that starts at `now` and
// moves 1 ms to 2 s per change, uniform choices among the runs in flight.
// Output is a pure function of the records and the options.
//
// Thread safety: a ChangeStream is used by one thread at a time.

#ifndef TASKDEX_BENCH_CHANGE_STREAM_H_
#define TASKDEX_BENCH_CHANGE_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/mutation.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

struct ChangeStreamOptions {
  uint64_t seed = 1;
  // Share of changes that create a task run, in [0, 1]; the others move a
  // task run in flight to its next state. When no run is in flight, a
  // change creates one whatever the share, so once the snapshot's runs in
  // flight are done the real share is at least about 1/3 (a new run takes
  // two more changes to finish).
  double new_task_run_share = 0.2;
  // Share of finished runs that end FAILED rather than COMPLETED, in [0, 1].
  double failed_share = 0.1;
  Micros now = 0;  // the clock of the first change
};

class ChangeStream {
 public:
  // Copies the task runs of `records` that are not in a terminal state (the
  // runs in flight) and the flow-run ids; keeps no reference to `records`.
  ChangeStream(const SnapshotRecords& records, const ChangeStreamOptions& options);

  // The next change: an upsert of a task run.
  Change Next();
  // The next `n` changes as one batch.
  Batch NextBatch(size_t n);

  size_t runs_in_flight() const { return in_flight_.size(); }
  uint64_t created() const { return created_; }
  uint64_t transitions() const { return transitions_; }
  Micros clock() const { return clock_; }

 private:
  uint64_t Rand();
  double Uniform();  // [0, 1)
  Uuid NewUuid();
  TaskRunRecord NewTaskRun();
  // Moves `r` to `type` at the current clock, setting every field that
  // Prefect's transition sets.
  void SetState(TaskRunRecord* r, StateType type);

  ChangeStreamOptions options_;
  uint64_t rng_;
  Micros clock_;
  std::vector<Uuid> flow_runs_;
  std::vector<TaskRunRecord> in_flight_;
  uint64_t created_ = 0;
  uint64_t transitions_ = 0;
};

// Writes `lines` changes of a ChangeStream over `records` to `path` (a
// change file, engine/change_file.h), one per line. InvalidArgument if the
// shares are outside [0, 1]; Internal with the path on a write error.
absl::Status WriteChangeFile(const SnapshotRecords& records, const ChangeStreamOptions& options,
                             uint64_t lines, const std::string& path);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_CHANGE_STREAM_H_
