#include "engine/store.h"

#include <algorithm>
#include <chrono>
#include <cassert>
#include <cstring>
#include <numeric>
#include <span>
#include <vector>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/index_build.h"
#include "engine/internal/task_group.h"
#include "engine/datetime.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// absl::Hash of the bytes; Debian's Abseil has its own string_view type.
struct StringViewHash {
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

constexpr size_t kArenaBlockBytes = size_t{64} << 10;

}  // namespace

// --- Dictionary ---------------------------------------------------------------

struct Dictionary::Rep {
  // Arena: blocks are never reallocated, so views into them stay valid.
  std::vector<std::unique_ptr<char[]>> blocks;
  size_t block_used = 0;
  size_t block_size = 0;
  size_t arena_bytes = 0;
  std::vector<std::string_view> strings;  // by code
  absl::flat_hash_map<std::string_view, uint32_t, StringViewHash> codes;
  bool frozen = false;
  // A loaded dictionary's strings may lie in a mapped file (Load).
  std::shared_ptr<const void> backing;

  std::string_view Copy(std::string_view s) {
    // Non-null data: readers memcpy views, and memcpy from null is undefined
    // even for 0 bytes (UBSan stops the writer on an empty task-run name).
    if (s.empty()) return std::string_view("", 0);
    if (s.size() > kArenaBlockBytes / 4) {
      // A large string gets a block of its own; the current block stays open.
      blocks.insert(blocks.begin(), std::make_unique<char[]>(s.size()));
      std::memcpy(blocks.front().get(), s.data(), s.size());
      arena_bytes += s.size();
      return std::string_view(blocks.front().get(), s.size());
    }
    if (blocks.empty() || block_size - block_used < s.size()) {
      blocks.push_back(std::make_unique<char[]>(kArenaBlockBytes));
      block_used = 0;
      block_size = kArenaBlockBytes;
      arena_bytes += kArenaBlockBytes;
    }
    char* dst = blocks.back().get() + block_used;
    std::memcpy(dst, s.data(), s.size());
    block_used += s.size();
    return std::string_view(dst, s.size());
  }
};

Dictionary::Dictionary() : rep_(std::make_unique<Rep>()) {}
Dictionary::Dictionary(Dictionary&&) noexcept = default;
Dictionary& Dictionary::operator=(Dictionary&&) noexcept = default;
Dictionary::~Dictionary() = default;

uint32_t Dictionary::Intern(std::string_view s) {
  assert(!rep_->frozen);
  auto it = rep_->codes.find(s);
  if (it != rep_->codes.end()) return it->second;
  std::string_view stored = rep_->Copy(s);
  uint32_t code = static_cast<uint32_t>(rep_->strings.size());
  rep_->strings.push_back(stored);
  rep_->codes.emplace(stored, code);
  return code;
}

std::vector<uint32_t> Dictionary::Freeze() {
  Rep& r = *rep_;
  const uint32_t n = static_cast<uint32_t>(r.strings.size());
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // std::string_view compares with char_traits<char>::compare, i.e. memcmp:
  // bytewise, as unsigned bytes.
  std::sort(order.begin(), order.end(),
            [&r](uint32_t a, uint32_t b) { return r.strings[a] < r.strings[b]; });
  std::vector<uint32_t> remap(n);
  std::vector<std::string_view> sorted(n);
  for (uint32_t new_code = 0; new_code < n; ++new_code) {
    remap[order[new_code]] = new_code;
    sorted[new_code] = r.strings[order[new_code]];
  }
  r.strings = std::move(sorted);
  r.codes = {};  // Find searches the sorted strings from now on
  r.frozen = true;
  return remap;
}

std::optional<uint32_t> Dictionary::Find(std::string_view s) const {
  if (rep_->frozen) {
    const auto& v = rep_->strings;
    const auto at = std::lower_bound(v.begin(), v.end(), s);
    if (at == v.end() || *at != s) return std::nullopt;
    return static_cast<uint32_t>(at - v.begin());
  }
  auto it = rep_->codes.find(s);
  if (it == rep_->codes.end()) return std::nullopt;
  return it->second;
}

std::string_view Dictionary::Get(uint32_t code) const { return rep_->strings[code]; }

const std::string_view* Dictionary::views() const { return rep_->strings.data(); }

uint32_t Dictionary::size() const { return static_cast<uint32_t>(rep_->strings.size()); }

size_t Dictionary::MemoryBytes() const {
  const Rep& r = *rep_;
  return r.arena_bytes + r.blocks.capacity() * sizeof(void*) +
         r.strings.capacity() * sizeof(std::string_view) +
         r.codes.capacity() * (sizeof(std::pair<std::string_view, uint32_t>) + 1);
}

void Dictionary::Save(SerialWriter& w) const {
  const Rep& r = *rep_;
  std::vector<uint64_t> ends(r.strings.size());
  uint64_t end = 0;
  for (size_t c = 0; c < r.strings.size(); ++c) ends[c] = end += r.strings[c].size();
  std::string bytes;
  bytes.reserve(end);
  for (std::string_view s : r.strings) bytes.append(s);
  w.PutArray(ends);
  w.PutString(bytes);
}

void Dictionary::Load(SerialReader& in) {
  rep_ = std::make_unique<Rep>();
  Rep& r = *rep_;
  const std::vector<uint64_t> ends = in.GetArray<uint64_t>();
  const std::string_view bytes = in.GetStringView();
  if (!in.ok()) return;
  if (ends.size() >= kNullCode || (ends.empty() ? !bytes.empty() : ends.back() != bytes.size())) {
    in.Fail("dictionary: string ends disagree with its byte count");
    return;
  }
  // With a backing (a mapped file), the strings stay where they lie, as
  // BlobColumn's bytes do; otherwise one arena block holds a copy.
  r.backing = in.ShareBacking();
  if (r.backing == nullptr && !bytes.empty()) {
    r.blocks.push_back(std::make_unique<char[]>(bytes.size()));
    std::memcpy(r.blocks.back().get(), bytes.data(), bytes.size());
  }
  r.block_size = r.block_used = r.arena_bytes = bytes.size();
  const char* arena = bytes.empty() ? "" : r.backing != nullptr ? bytes.data() : r.blocks.back().get();
  r.strings.resize(ends.size());
  uint64_t begin = 0;
  for (size_t c = 0; c < ends.size(); ++c) {
    if (ends[c] < begin) {
      in.Fail("dictionary: string end offsets descend");
      return;
    }
    r.strings[c] = std::string_view(arena + begin, ends[c] - begin);
    begin = ends[c];
  }
  // Find's binary search needs what Freeze made: strictly ascending.
  for (size_t c = 1; c < r.strings.size(); ++c) {
    if (!(r.strings[c - 1] < r.strings[c])) {
      in.Fail(absl::StrCat("dictionary: strings ", c - 1, " and ", c,
                           " are not in ascending order (or repeat)"));
      return;
    }
  }
  r.frozen = true;
}

// --- Store --------------------------------------------------------------------

namespace {

template <typename T>
size_t VectorBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}
template <typename T>
size_t VectorBytes(const ArrayColumn<T>& v) {
  return v.MemoryBytes();
}

size_t CodeListsBytes(const CodeLists& c) { return VectorBytes(c.offsets) + VectorBytes(c.codes); }

template <typename K, typename V>
size_t MapBytes(const absl::flat_hash_map<K, V>& m) {
  return m.capacity() * (sizeof(std::pair<const K, V>) + 1);
}

}  // namespace

std::vector<std::pair<std::string, size_t>> Store::MemoryBreakdown() const {
  std::vector<std::pair<std::string, size_t>> out;
  auto add = [&out](std::string name, size_t bytes) { out.emplace_back(std::move(name), bytes); };
  const TaskRunTable& t = task_runs;
  add("task_runs.id", VectorBytes(t.id));
  add("task_runs.hot", VectorBytes(t.hot));
  add("task_runs.created+updated", VectorBytes(t.created) + VectorBytes(t.updated));
  add("task_runs.name+task_key", VectorBytes(t.name) + VectorBytes(t.task_key));
  add("task_runs.flow_run_id+row", VectorBytes(t.flow_run_id) + VectorBytes(t.flow_run_row));
  add("task_runs.dynamic_key", t.dynamic_key.MemoryBytes());
  add("task_runs.cache_key+expiration", t.cache_key.MemoryBytes() + VectorBytes(t.cache_expiration));
  add("task_runs.task_version", t.task_version.MemoryBytes());
  add("task_runs.empirical_policy", t.empirical_policy.MemoryBytes());
  add("task_runs.tags", CodeListsBytes(t.tags));
  add("task_runs.labels", t.labels.MemoryBytes());
  add("task_runs.state_id", VectorBytes(t.state_id));
  add("task_runs.task_inputs", t.task_inputs_json.MemoryBytes());
  add("task_runs.state_type+name", VectorBytes(t.state_type) + VectorBytes(t.state_name));
  add("task_runs.run_counts", VectorBytes(t.run_count) + VectorBytes(t.flow_run_run_count));
  add("task_runs.times", VectorBytes(t.expected_start_time) +
                             VectorBytes(t.next_scheduled_start_time) + VectorBytes(t.start_time) +
                             VectorBytes(t.end_time) + VectorBytes(t.total_run_time_us) +
                             VectorBytes(t.state_timestamp));
  add("task_runs.state", t.state.MemoryBytes());
  add("task_runs.parameters+context+extras",
      t.parameters_json.MemoryBytes() + t.context_json.MemoryBytes() + t.extras_json.MemoryBytes());
  const FlowRunTable& f = flow_runs;
  add("flow_runs",
      VectorBytes(f.id) + VectorBytes(f.flow_id) + VectorBytes(f.flow_row) + VectorBytes(f.name) +
          VectorBytes(f.deployment_id) + VectorBytes(f.deployment_row) +
          VectorBytes(f.work_queue_name) + f.flow_version.MemoryBytes() +
          f.idempotency_key.MemoryBytes() + CodeListsBytes(f.tags) +
          VectorBytes(f.has_created_by) + f.created_by_id.MemoryBytes() +
          f.created_by_type.MemoryBytes() + VectorBytes(f.state_type) + VectorBytes(f.state_name) +
          VectorBytes(f.expected_start_time) + VectorBytes(f.next_scheduled_start_time) +
          VectorBytes(f.start_time) + VectorBytes(f.end_time) + VectorBytes(f.parent_task_run_id) +
          VectorBytes(f.parent_task_run_row));
  add("flows+deployments",
      VectorBytes(flows.id) + VectorBytes(flows.name) + CodeListsBytes(flows.tags) +
          VectorBytes(deployments.id) + VectorBytes(deployments.name) +
          VectorBytes(deployments.flow_id) + VectorBytes(deployments.flow_row) +
          VectorBytes(deployments.paused) + CodeListsBytes(deployments.tags) +
          VectorBytes(deployments.work_queue_name));
  add("dict.task_run_names", task_run_names.MemoryBytes());
  add("dict.task_keys", task_keys.MemoryBytes());
  add("dict.other", flow_run_names.MemoryBytes() + flow_names.MemoryBytes() +
                        deployment_names.MemoryBytes() + state_names.MemoryBytes() +
                        work_queue_names.MemoryBytes() + tags.MemoryBytes());
  add("by_id.task_runs", MapBytes(task_run_by_id));
  add("by_id.other", MapBytes(flow_run_by_id) + MapBytes(flow_by_id) + MapBytes(deployment_by_id));
  size_t joins = VectorBytes(task_runs_of_flow_run) + task_runs_with_flow_run.getSizeInBytes() +
                 task_runs_with_subflow.getSizeInBytes() + VectorBytes(flow_has_deployment);
  for (const Bitmap& b : task_runs_of_flow_run) joins += b.getSizeInBytes();
  joins += VectorBytes(task_run_counts_of_flow_run);
  add("joins", joins);
  const TaskRunIndexes& x = task_run_index;
  add("index.postings", x.tags.MemoryBytes() + x.state_type.MemoryBytes() +
                            x.state_name.MemoryBytes() + x.name.MemoryBytes() +
                            x.has_tags.getSizeInBytes() + x.has_start_time.getSizeInBytes() +
                            x.has_end_time.getSizeInBytes() +
                            x.has_expected_start_time.getSizeInBytes() +
                            flow_run_index.state_type.MemoryBytes() +
                            flow_run_index.tags.MemoryBytes());
  add("index.join_postings", x.by_flow.MemoryBytes() + x.by_deployment.MemoryBytes() +
                                 x.by_flow_run_state_type.MemoryBytes());
  add("index.sorted_orders",
      x.id_desc.MemoryBytes() + x.expected_start_time_asc.MemoryBytes() +
          x.expected_start_time_desc.MemoryBytes() + x.name_asc.MemoryBytes() +
          x.name_desc.MemoryBytes() + x.next_scheduled_start_time_asc.MemoryBytes() +
          x.end_time_desc.MemoryBytes());
  add("index.folded_names", folded.task_run_names.MemoryBytes() +
                                folded.flow_run_names.MemoryBytes() +
                                folded.flow_names.MemoryBytes() +
                                folded.deployment_names.MemoryBytes());
  add("index.trigrams", trigrams.task_run_names.MemoryBytes() +
                            trigrams.flow_run_names.MemoryBytes() +
                            trigrams.flow_names.MemoryBytes() +
                            trigrams.deployment_names.MemoryBytes());
  return out;
}

size_t Store::MemoryBytes() const {
  size_t n = sizeof(Store);
  for (const auto& [name, bytes] : MemoryBreakdown()) n += bytes;
  return n;
}

const SortedOrder& TaskRunIndexes::OrderFor(TaskRunSort sort) const {
  switch (sort) {
    case TaskRunSort::kIdDesc:
      return id_desc;
    case TaskRunSort::kExpectedStartTimeAsc:
      return expected_start_time_asc;
    case TaskRunSort::kExpectedStartTimeDesc:
      return expected_start_time_desc;
    case TaskRunSort::kNameAsc:
      return name_asc;
    case TaskRunSort::kNameDesc:
      return name_desc;
    case TaskRunSort::kNextScheduledStartTimeAsc:
      return next_scheduled_start_time_asc;
    case TaskRunSort::kEndTimeDesc:
      return end_time_desc;
  }
  return id_desc;
}

size_t TaskRunIndexes::MemoryBytes() const {
  return tags.MemoryBytes() + state_type.MemoryBytes() + state_name.MemoryBytes() +
         name.MemoryBytes() + has_tags.getSizeInBytes() + has_start_time.getSizeInBytes() +
         has_end_time.getSizeInBytes() + has_expected_start_time.getSizeInBytes() +
         id_desc.MemoryBytes() + expected_start_time_asc.MemoryBytes() +
         expected_start_time_desc.MemoryBytes() + name_asc.MemoryBytes() + name_desc.MemoryBytes() +
         next_scheduled_start_time_asc.MemoryBytes() + end_time_desc.MemoryBytes() +
         by_flow.MemoryBytes() + by_deployment.MemoryBytes() +
         by_flow_run_state_type.MemoryBytes();
}

// --- Task-run holes -----------------------------------------------------------

namespace {

void AppendQuotedUuid(std::string* out, const Uuid& u) {
  char buf[38];
  buf[0] = '"';
  FormatUuid(u, buf + 1);
  buf[37] = '"';
  out->append(buf, sizeof(buf));
}

void AppendQuotedTime(std::string* out, Micros t) {
  if (t == kNullMicros) return;  // never a hole
  out->push_back('"');
  AppendDatetime(out, t);
  out->push_back('"');
}

}  // namespace

void AppendTaskRunHole(const Store& store, RowId row, uint8_t hole, Micros now, std::string* out) {
  const TaskRunTable& t = store.task_runs;
  switch (static_cast<TaskRunHole>(hole)) {
    case TaskRunHole::kId:
      AppendQuotedUuid(out, t.id[row]);
      return;
    case TaskRunHole::kFlowRunId:
      if (t.flow_run_id[row]) AppendQuotedUuid(out, *t.flow_run_id[row]);
      return;
    case TaskRunHole::kStateId:
      if (t.state_id[row]) AppendQuotedUuid(out, *t.state_id[row]);
      return;
    case TaskRunHole::kStateTimestamp:
      AppendQuotedTime(out, t.state_timestamp[row]);
      return;
    case TaskRunHole::kStateType:
      if (t.state_type[row] != kNullStateType) {
        out->push_back('"');
        out->append(StateTypeName(static_cast<StateType>(t.state_type[row])));
        out->push_back('"');
      }
      return;
    case TaskRunHole::kStateName:
      if (t.state_name[row] != kNullCode) {
        AppendJsonString(out, store.state_names.Get(t.state_name[row]));
      }
      return;
    case TaskRunHole::kScheduledNow:
      out->push_back('"');
      AppendDatetime(out, now);
      out->push_back('"');
      return;
    case TaskRunHole::kExpectedStartTime:
      AppendQuotedTime(out, t.expected_start_time[row]);
      return;
    case TaskRunHole::kNextScheduledStartTime:
      AppendQuotedTime(out, t.next_scheduled_start_time[row]);
      return;
    case TaskRunHole::kStartTime:
      AppendQuotedTime(out, t.start_time[row]);
      return;
    case TaskRunHole::kEndTime:
      AppendQuotedTime(out, t.end_time[row]);
      return;
    case TaskRunHole::kCreated:
      AppendQuotedTime(out, t.created[row]);
      return;
    case TaskRunHole::kUpdated:
      AppendQuotedTime(out, t.updated[row]);
      return;
    case TaskRunHole::kCacheExpiration:
      AppendQuotedTime(out, t.cache_expiration[row]);
      return;
    case TaskRunHole::kCacheKey:
      if (!t.cache_key.IsNull(row)) AppendJsonString(out, t.cache_key.Get(row));
      return;
  }
}

std::string RenderTaskRunText(const Store& store, const TemplateColumn& col, RowId row,
                              Micros now) {
  std::string out;
  col.Render(row, &out, [&](uint8_t hole, std::string* o) {
    AppendTaskRunHole(store, row, hole, now, o);
  });
  return out;
}

namespace {

// Hole `hole` of a task run from its record: the text AppendTaskRunHole
// writes once the record is the row (the same values through the same
// formatting; a time equal to kNullMicros is NULL in both).
void AppendRecordHole(const TaskRunRecord& r, uint8_t hole, std::string* out) {
  auto time = [out](const std::optional<Micros>& t) {
    if (t) AppendQuotedTime(out, *t);
  };
  switch (static_cast<TaskRunHole>(hole)) {
    case TaskRunHole::kId:
      AppendQuotedUuid(out, r.id);
      return;
    case TaskRunHole::kFlowRunId:
      if (r.flow_run_id) AppendQuotedUuid(out, *r.flow_run_id);
      return;
    case TaskRunHole::kStateId:
      if (r.state_id) AppendQuotedUuid(out, *r.state_id);
      return;
    case TaskRunHole::kStateTimestamp:
      time(r.state_timestamp);
      return;
    case TaskRunHole::kStateType:
      if (r.state_type) {
        out->push_back('"');
        out->append(StateTypeName(*r.state_type));
        out->push_back('"');
      }
      return;
    case TaskRunHole::kStateName:
      if (r.state_name) AppendJsonString(out, *r.state_name);
      return;
    case TaskRunHole::kScheduledNow:
      return;  // never matched: its place is forced (the state's null)
    case TaskRunHole::kExpectedStartTime:
      time(r.expected_start_time);
      return;
    case TaskRunHole::kNextScheduledStartTime:
      time(r.next_scheduled_start_time);
      return;
    case TaskRunHole::kStartTime:
      time(r.start_time);
      return;
    case TaskRunHole::kEndTime:
      time(r.end_time);
      return;
    case TaskRunHole::kCreated:
      time(r.created);
      return;
    case TaskRunHole::kUpdated:
      time(r.updated);
      return;
    case TaskRunHole::kCacheExpiration:
      time(r.cache_expiration);
      return;
    case TaskRunHole::kCacheKey:
      if (r.cache_key) AppendJsonString(out, *r.cache_key);
      return;
  }
}

}  // namespace

void PrepareTaskRun(PreparedTaskRun* p) {
  const TaskRunRecord& r = p->record;
  // Per thread, reused: no allocation per row once the texts have grown.
  thread_local std::string hole_text[kNumTaskRunHoles];
  std::string_view holes[kNumTaskRunHoles];
  for (int k = 0; k < kNumTaskRunHoles; ++k) {
    hole_text[k].clear();
    AppendRecordHole(r, static_cast<uint8_t>(k + 1), &hole_text[k]);
    holes[k] = hole_text[k];
  }
  // task_version and empirical_policy: no holes.
  if (r.task_version) {
    std::string text;
    AppendJsonString(&text, *r.task_version);
    p->task_version_template = MakeTemplate(text, {});
  } else {
    p->task_version_template = MakeTemplate("null", {});
  }
  p->empirical_policy_template = MakeTemplate(r.empirical_policy_json, {});
  // labels: its flow-run id (and anything else of the row) becomes a hole.
  const std::span<const std::string_view> all(holes, kNumTaskRunHoles);
  p->labels_template = MakeTemplate(r.labels_json, all);
  ForcedHole now_hole;
  if (r.state_scheduled_time_null_offset >= 0 &&
      static_cast<size_t>(r.state_scheduled_time_null_offset) + 4 <= r.state_json.size()) {
    now_hole.offset = r.state_scheduled_time_null_offset;
    now_hole.size = 4;
    now_hole.hole = static_cast<uint8_t>(TaskRunHole::kScheduledNow);
  }
  p->state_template = MakeTemplate(r.state_json, all, now_hole);
  // The texts live on in the templates: free them here, on the thread that
  // allocated them, rather than on the builder's (a free from another
  // thread takes the allocating arena's lock in glibc).
  std::string().swap(p->record.empirical_policy_json);
  std::string().swap(p->record.labels_json);
  std::string().swap(p->record.state_json);
}

}  // namespace taskdex
