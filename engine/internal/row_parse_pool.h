// engine/internal/row_parse_pool.h
//
// Turns database rows into records (DbRowToUpsertFast: the typed path of
// engine/internal/task_run_row.h for task runs, else DbRowToUpsert) on
// worker threads while the reading thread goes on receiving rows: the
// initial load's parse overlaps the database's COPY instead of following
// each row.
//
// Layout: Add copies a row into the current block (one string of the
// values, their offsets and NULL flags); every kRowsPerBlock rows the block
// is queued; workers parse blocks into vectors of Change, kept by block
// number, so Finish returns the rows in the order they were added. At most
// 2 blocks per worker wait in the queue (Add blocks the reader beyond), so
// memory is bounded by the blocks in flight plus the results.
//
// Costs: one copy of each row's text (the reader's buffer is reused per
// row); the parse itself (one TaskRunRowReader per worker).
//
// Thread safety: Add and Finish from one thread; the workers are internal.

#ifndef TASKDEX_ENGINE_INTERNAL_ROW_PARSE_POOL_H_
#define TASKDEX_ENGINE_INTERNAL_ROW_PARSE_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "engine/db_source.h"
#include "engine/mutation.h"

namespace taskdex::engine_internal {

class RowParsePool {
 public:
  static constexpr size_t kRowsPerBlock = 2048;

  // `workers` >= 1 threads parse rows of `entity`.
  RowParsePool(EntityKind entity, int workers);
  ~RowParsePool();  // joins (after Finish, or dropping what is left)
  RowParsePool(const RowParsePool&) = delete;
  RowParsePool& operator=(const RowParsePool&) = delete;

  void Add(DbRow row);
  // Waits for every row; appends the changes in Add order to `out`. The
  // first row error (in Add order) if any.
  absl::Status Finish(std::vector<Change>* out);

 private:
  struct Block {
    size_t index = 0;
    std::string text;
    std::vector<std::pair<uint32_t, int32_t>> values;  // (offset, length); length -1: NULL
  };
  struct Result {
    std::vector<Change> changes;
    absl::Status status;
    bool done = false;
  };
  void Flush();
  void Work();

  const EntityKind entity_;
  const size_t columns_;
  Block current_;
  size_t blocks_ = 0;

  std::mutex mu_;
  std::condition_variable queued_, taken_, finished_;
  std::deque<Block> queue_;
  std::deque<Result> results_;  // by block index
  // Parsed blocks, emptied, for Flush to fill again: their ~2 MB buffers
  // are reused instead of being allocated and freed per block (glibc
  // consolidated its free lists on every such free: a measured hot spot).
  std::vector<Block> spare_;
  size_t max_queued_;
  bool closing_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_ROW_PARSE_POOL_H_
