// engine/internal/row_parse_pool.cc (engine/internal/row_parse_pool.h).

#include "engine/internal/row_parse_pool.h"

#include <optional>
#include <string_view>
#include <utility>

#include "engine/internal/task_run_row.h"

namespace taskdex::engine_internal {

RowParsePool::RowParsePool(EntityKind entity, int workers)
    : entity_(entity),
      columns_(DbColumns(entity).size()),
      max_queued_(2 * static_cast<size_t>(workers < 1 ? 1 : workers)) {
  for (int i = 0; i < (workers < 1 ? 1 : workers); ++i) workers_.emplace_back([this] { Work(); });
}

RowParsePool::~RowParsePool() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    queue_.clear();
  }
  queued_.notify_all();
  taken_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void RowParsePool::Add(DbRow row) {
  for (size_t i = 0; i < columns_; ++i) {
    if (!row[i]) {
      current_.values.emplace_back(0, -1);
      continue;
    }
    current_.values.emplace_back(static_cast<uint32_t>(current_.text.size()),
                                 static_cast<int32_t>(row[i]->size()));
    current_.text.append(*row[i]);
  }
  if (current_.values.size() >= kRowsPerBlock * columns_) Flush();
}

void RowParsePool::Flush() {
  if (current_.values.empty()) return;
  current_.index = blocks_++;
  std::unique_lock lock(mu_);
  taken_.wait(lock, [&] { return queue_.size() < max_queued_; });
  results_.emplace_back();
  queue_.push_back(std::move(current_));
  current_ = Block{};
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  }
  lock.unlock();
  queued_.notify_one();
}

void RowParsePool::Work() {
  std::vector<std::optional<std::string_view>> row(columns_);
  TaskRunRowReader reader;  // this worker's typed path and caches
  while (true) {
    Block block;
    {
      std::unique_lock lock(mu_);
      queued_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      block = std::move(queue_.front());
      queue_.pop_front();
    }
    taken_.notify_one();
    Result result;
    result.changes.reserve(block.values.size() / columns_);
    for (size_t at = 0; at < block.values.size() && result.status.ok(); at += columns_) {
      for (size_t c = 0; c < columns_; ++c) {
        auto [off, len] = block.values[at + c];
        if (len < 0) {
          row[c].reset();
        } else {
          row[c] = std::string_view(block.text.data() + off, static_cast<size_t>(len));
        }
      }
      absl::StatusOr<Change> change = DbRowToUpsertFast(reader, entity_, row);
      if (!change.ok()) {
        result.status = change.status();
      } else {
        result.changes.push_back(*std::move(change));
      }
    }
    result.done = true;
    block.text.clear();
    block.values.clear();
    {
      std::lock_guard lock(mu_);
      results_[block.index] = std::move(result);
      spare_.push_back(std::move(block));
    }
    finished_.notify_all();
  }
}

absl::Status RowParsePool::Finish(std::vector<Change>* out) {
  Flush();
  absl::Status status = absl::OkStatus();
  for (size_t i = 0; i < blocks_; ++i) {
    std::unique_lock lock(mu_);
    finished_.wait(lock, [&] { return results_[i].done; });
    Result r = std::move(results_[i]);
    lock.unlock();
    if (status.ok() && !r.status.ok()) status = r.status;
    if (status.ok()) {
      for (Change& c : r.changes) out->push_back(std::move(c));
    }
  }
  return status;
}

}  // namespace taskdex::engine_internal
