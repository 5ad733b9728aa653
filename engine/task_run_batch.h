// engine/task_run_batch.h
//
// A block of task runs as a parsing thread hands them to the one builder
// thread (engine/snapshot_loader.cc). Adding a task run used to intern, on
// the builder thread, its task key, state name, tags and four JSON
// templates (hashing and comparing a few hundred bytes per row, then freeing
// them): the serial part of a load. Here those strings are interned on the
// parsing thread into dictionaries local to the batch, so that
// StoreBuilder::AddTaskRuns interns each distinct string once per batch
// (tens of them in a few thousand rows) and otherwise copies integers.
//
// Thread-compatible: filled on one thread, then handed to another.

#ifndef TASKDEX_ENGINE_TASK_RUN_BATCH_H_
#define TASKDEX_ENGINE_TASK_RUN_BATCH_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/store.h"

namespace taskdex {

// Distinct strings of one column of a batch <-> dense local codes, in first
// use order.
class LocalStrings {
 public:
  uint32_t Intern(std::string_view s);
  // The same, taking `s`'s bytes when it is new.
  uint32_t Intern(std::string&& s);
  uint32_t size() const { return static_cast<uint32_t>(strings_.size()); }
  const std::vector<std::string>& strings() const { return strings_; }
  // The codes of the strings in `dict` (interned if new), by local code.
  std::vector<uint32_t> InternAll(Dictionary& dict) const;
  // The same for templates, moved into `col`: the strings are left empty.
  std::vector<uint32_t> InternAll(TemplateColumn& col);

 private:
  std::vector<std::string> strings_;
  absl::flat_hash_map<std::string, uint32_t> codes_;
};

// The templated columns of a task run: task_version, empirical_policy,
// labels and state, in that order in TaskRunBatch::templates.
inline constexpr int kBatchTemplates = 4;

struct TaskRunBatch {
  // The records, each without its task_key, state_name, tags and templates
  // (those are in the local dictionaries below, freed or moved there by Add).
  std::vector<PreparedTaskRun> records;
  LocalStrings task_keys, state_names, tags;
  std::array<LocalStrings, kBatchTemplates> templates;
  // By record: local codes (kNullCode: a null state name).
  std::vector<uint32_t> task_key, state_name;
  std::vector<std::array<uint32_t, kBatchTemplates>> template_codes;
  // Record i's tags are tag_codes[tag_ends[i - 1] .. tag_ends[i]) (from 0
  // for i == 0), in line order.
  std::vector<uint32_t> tag_ends, tag_codes;

  void Reserve(size_t n);
  // Appends `p` (templated: PrepareTaskRun), interning its strings.
  void Add(PreparedTaskRun&& p);
  size_t size() const { return records.size(); }
  std::span<const uint32_t> TagsOf(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : tag_ends[i - 1];
    return std::span<const uint32_t>(tag_codes).subspan(begin, tag_ends[i] - begin);
  }
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_TASK_RUN_BATCH_H_
