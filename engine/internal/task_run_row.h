// engine/internal/task_run_row.h
//
// The typed path of a task run's database row: the COPY fields of
// DbColumns(kTaskRun) straight to a TaskRunRecord, for the initial load,
// where the canonical path (DbRowToUpsert, engine/db_source.h: write the row
// as a snapshot line, then parse the line with simdjson) was the load's
// largest cost (bench/RESULTS.md, session 12).
//
// What it does itself: the scalar columns (UUIDs, timestamps, integers,
// seconds, text) are read as the line parser would read their JSON, without
// the JSON; `tags` when it is a plain list of strings. What it hands to the
// canonical rules: `empirical_policy`, `task_inputs` and `labels` go
// through the normalizers of engine/internal/json_util.h, parsed alone and
// remembered by their text (a load repeats a few policies and inputs
// millions of times); `state` is built by AppendDbTaskRunState
// (db_dialects.h, the same text the line holds) and normalized by
// NormalizeStateValue. So every normalization rule still has one home.
//
// Fallback: anything unusual (a NULL in a required column, a number that is
// not a plain literal, a timestamp or UUID the readers refuse, invalid
// UTF-8, a tags value that is not a plain list of strings, JSON a
// normalizer rejects...) makes TryRead give up, and DbRowToUpsertFast then
// runs DbRowToUpsert on the row: the canonical path decides, and writes the
// error. tests/engine/task_run_row_test.cc pins the two paths to equal
// records over random and edge-case rows.
//
// Why not a typed path for `state` too: its rules (key order, every
// StateDetails key with its default, name and data defaults) are the
// normalizer's; a second copy would drift. Parsing the state alone costs
// a fraction of parsing the whole line.
//
// Thread safety: a TaskRunRowReader is used by one thread at a time (its
// caches and buffers); use one per thread.

#ifndef TASKDEX_ENGINE_INTERNAL_TASK_RUN_ROW_H_
#define TASKDEX_ENGINE_INTERNAL_TASK_RUN_ROW_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "engine/db_source.h"
#include "engine/mutation.h"

namespace taskdex::engine_internal {

class TaskRunRowReader {
 public:
  TaskRunRowReader();
  ~TaskRunRowReader();
  TaskRunRowReader(const TaskRunRowReader&) = delete;
  TaskRunRowReader& operator=(const TaskRunRowReader&) = delete;

  // The upsert DbRowToUpsert(kTaskRun, row) gives, or nullopt when the row
  // needs the canonical path (see the header comment).
  std::optional<Change> TryRead(DbRow row);

  // Rows read by TryRead, and rows it gave up on.
  uint64_t fast_rows() const { return fast_rows_; }
  uint64_t fallback_rows() const { return fallback_rows_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  uint64_t fast_rows_ = 0;
  uint64_t fallback_rows_ = 0;
};

// DbRowToUpsert(entity, row), through `reader`'s typed path for task runs.
absl::StatusOr<Change> DbRowToUpsertFast(TaskRunRowReader& reader, EntityKind entity, DbRow row);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_TASK_RUN_ROW_H_
