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
  for (auto& [view, code] : r.codes) code = remap[code];
  r.frozen = true;
  return remap;
}

std::optional<uint32_t> Dictionary::Find(std::string_view s) const {
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
  if (!bytes.empty()) {
    r.blocks.push_back(std::make_unique<char[]>(bytes.size()));
    r.block_size = r.block_used = r.arena_bytes = bytes.size();
    std::memcpy(r.blocks.back().get(), bytes.data(), bytes.size());
  }
  const char* arena = bytes.empty() ? "" : r.blocks.back().get();
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
  r.codes.reserve(r.strings.size());
  for (size_t c = 0; c < r.strings.size(); ++c) {
    r.codes.emplace(r.strings[c], static_cast<uint32_t>(c));
  }
  r.frozen = true;
}

// --- Store --------------------------------------------------------------------

namespace {

template <typename T>
size_t VectorBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
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

// --- StoreBuilder -------------------------------------------------------------

namespace {

Micros OrNull(const std::optional<Micros>& t) { return t ? *t : kNullMicros; }

uint8_t OrNull(const std::optional<StateType>& t) {
  return t ? static_cast<uint8_t>(*t) : kNullStateType;
}

uint32_t InternOrNull(Dictionary& d, const std::optional<std::string>& s) {
  return s ? d.Intern(*s) : kNullCode;
}

// Writes `v` at `row`, appending when row is the next new row.
template <typename T, typename V>
void Put(std::vector<T>& col, RowId row, V&& v) {
  if (row == col.size()) {
    col.push_back(std::forward<V>(v));
  } else {
    col[row] = std::forward<V>(v);
  }
}

// Variable-width values of replaced rows, applied at Build by rewriting
// the columns (replacement is rare; appends stay cheap).
using BlobOverrides = absl::flat_hash_map<RowId, std::optional<std::string>>;
using TagOverrides = absl::flat_hash_map<RowId, std::vector<uint32_t>>;

void PutBlob(BlobColumn& col, BlobOverrides& overrides, RowId row,
             const std::optional<std::string>& v) {
  if (row == col.size()) {
    col.Append(v);
  } else {
    overrides[row] = v;
  }
}

void PutBlob(BlobColumn& col, BlobOverrides& overrides, RowId row, std::string&& v) {
  if (row == col.size()) {
    col.Append(std::string_view(v));
  } else {
    overrides[row] = std::move(v);
  }
}

void PutTags(Dictionary& dict, const std::vector<std::string>& tags, CodeLists& col,
             TagOverrides& overrides, RowId row) {
  if (row + 1 == col.offsets.size()) {
    for (const std::string& t : tags) col.codes.push_back(dict.Intern(t));
    col.offsets.push_back(static_cast<uint32_t>(col.codes.size()));
  } else {
    std::vector<uint32_t>& codes = overrides[row];
    codes.clear();
    for (const std::string& t : tags) codes.push_back(dict.Intern(t));
  }
}

void ApplyOverrides(BlobColumn& col, const BlobOverrides& overrides) {
  if (overrides.empty()) {
    col.ShrinkToFit();
    return;
  }
  BlobColumn fresh;
  for (RowId r = 0; r < col.size(); ++r) {
    auto it = overrides.find(r);
    if (it != overrides.end()) {
      fresh.Append(it->second);
    } else if (col.IsNull(r)) {
      fresh.AppendNull();
    } else {
      fresh.Append(col.Get(r));
    }
  }
  fresh.ShrinkToFit();
  col = std::move(fresh);
}

void ApplyOverrides(CodeLists& col, const TagOverrides& overrides) {
  if (!overrides.empty()) {
    CodeLists fresh;
    const uint32_t n = static_cast<uint32_t>(col.offsets.size() - 1);
    fresh.offsets.reserve(n + 1);
    for (RowId r = 0; r < n; ++r) {
      auto it = overrides.find(r);
      if (it != overrides.end()) {
        fresh.codes.insert(fresh.codes.end(), it->second.begin(), it->second.end());
      } else {
        std::span<const uint32_t> have = col.Of(r);
        fresh.codes.insert(fresh.codes.end(), have.begin(), have.end());
      }
      fresh.offsets.push_back(static_cast<uint32_t>(fresh.codes.size()));
    }
    col = std::move(fresh);
  }
  col.offsets.shrink_to_fit();
  col.codes.shrink_to_fit();
}

template <typename T>
void Shrink(std::vector<T>& v) {
  v.shrink_to_fit();
}

// Freezes `dict` and remaps `cols`. Strings no column uses any more (those of
// replaced rows) are dropped first, so a Store's dictionaries hold exactly
// the strings of its rows.
void FreezeAndRemap(Dictionary& dict, std::initializer_list<std::vector<uint32_t>*> cols) {
  std::vector<uint8_t> used(dict.size(), 0);
  for (std::vector<uint32_t>* col : cols) {
    for (uint32_t c : *col) {
      if (c != kNullCode) used[c] = 1;
    }
  }
  std::vector<uint32_t> remap;
  if (std::find(used.begin(), used.end(), 0) == used.end()) {
    remap = dict.Freeze();
  } else {
    Dictionary kept;
    std::vector<uint32_t> to_kept(dict.size(), kNullCode);
    for (uint32_t c = 0; c < dict.size(); ++c) {
      if (used[c]) to_kept[c] = kept.Intern(dict.Get(c));
    }
    std::vector<uint32_t> kept_remap = kept.Freeze();
    remap.assign(dict.size(), kNullCode);
    for (uint32_t c = 0; c < dict.size(); ++c) {
      if (used[c]) remap[c] = kept_remap[to_kept[c]];
    }
    dict = std::move(kept);
  }
  for (std::vector<uint32_t>* col : cols) {
    for (uint32_t& c : *col) {
      if (c != kNullCode) c = remap[c];
    }
    col->shrink_to_fit();
  }
}

// Returns the row of `id` in `by_id`, adding the next row if new; counts a
// repeat in `replaced`.
RowId RowFor(absl::flat_hash_map<Uuid, RowId>& by_id, const Uuid& id, uint32_t size,
             uint64_t* replaced) {
  auto [it, inserted] = by_id.try_emplace(id, size);
  if (!inserted) ++*replaced;
  return it->second;
}

}  // namespace

struct StoreBuilder::Rep {
  std::unique_ptr<Store> store = std::make_unique<Store>();
  // Variable-width values of replaced rows.
  BlobOverrides tr_dynamic_key, tr_cache_key, tr_task_inputs, tr_parameters, tr_context, tr_extras;
  TagOverrides tr_tags;
  BlobOverrides fr_flow_version, fr_idempotency_key, fr_created_by_id, fr_created_by_type;
  TagOverrides fr_tags, flow_tags, deployment_tags;
};

StoreBuilder::StoreBuilder() : rep_(std::make_unique<Rep>()) {}
StoreBuilder::~StoreBuilder() = default;

void StoreBuilder::AddFlow(FlowRecord r) {
  Store& s = *rep_->store;
  FlowTable& t = s.flows;
  const RowId row = RowFor(s.flow_by_id, r.id, t.size(), &s.report.replaced_flows);
  Put(t.id, row, r.id);
  Put(t.name, row, s.flow_names.Intern(r.name));
  PutTags(s.tags, r.tags, t.tags, rep_->flow_tags, row);
}

void StoreBuilder::AddDeployment(DeploymentRecord r) {
  Store& s = *rep_->store;
  DeploymentTable& t = s.deployments;
  const RowId row = RowFor(s.deployment_by_id, r.id, t.size(), &s.report.replaced_deployments);
  Put(t.id, row, r.id);
  Put(t.name, row, s.deployment_names.Intern(r.name));
  Put(t.flow_id, row, r.flow_id);
  Put(t.paused, row, static_cast<uint8_t>(r.paused ? 1 : 0));
  PutTags(s.tags, r.tags, t.tags, rep_->deployment_tags, row);
  Put(t.work_queue_name, row, InternOrNull(s.work_queue_names, r.work_queue_name));
}

void StoreBuilder::AddFlowRun(FlowRunRecord r) {
  Rep& rep = *rep_;
  Store& s = *rep.store;
  FlowRunTable& t = s.flow_runs;
  const RowId row = RowFor(s.flow_run_by_id, r.id, t.size(), &s.report.replaced_flow_runs);
  Put(t.id, row, r.id);
  Put(t.flow_id, row, r.flow_id);
  Put(t.name, row, s.flow_run_names.Intern(r.name));
  Put(t.deployment_id, row, r.deployment_id);
  Put(t.work_queue_name, row, InternOrNull(s.work_queue_names, r.work_queue_name));
  PutBlob(t.flow_version, rep.fr_flow_version, row, r.flow_version);
  PutBlob(t.idempotency_key, rep.fr_idempotency_key, row, r.idempotency_key);
  PutTags(s.tags, r.tags, t.tags, rep.fr_tags, row);
  Put(t.has_created_by, row, static_cast<uint8_t>(r.has_created_by ? 1 : 0));
  PutBlob(t.created_by_id, rep.fr_created_by_id, row, r.created_by_id);
  PutBlob(t.created_by_type, rep.fr_created_by_type, row, r.created_by_type);
  Put(t.state_type, row, OrNull(r.state_type));
  Put(t.state_name, row, InternOrNull(s.state_names, r.state_name));
  Put(t.expected_start_time, row, OrNull(r.expected_start_time));
  Put(t.next_scheduled_start_time, row, OrNull(r.next_scheduled_start_time));
  Put(t.start_time, row, OrNull(r.start_time));
  Put(t.end_time, row, OrNull(r.end_time));
  Put(t.parent_task_run_id, row, r.parent_task_run_id);
}

void StoreBuilder::AddTaskRun(TaskRunRecord r) {
  PreparedTaskRun p;
  p.record = std::move(r);
  PrepareTaskRun(&p);
  AddTaskRun(std::move(p));
}

void StoreBuilder::AddTaskRun(PreparedTaskRun p) {
  TaskRunRecord& r = p.record;
  Rep& rep = *rep_;
  Store& s = *rep.store;
  TaskRunTable& t = s.task_runs;
  const RowId row = RowFor(s.task_run_by_id, r.id, t.size(), &s.report.replaced_task_runs);
  Put(t.id, row, r.id);
  Put(t.created, row, OrNull(r.created));
  Put(t.updated, row, OrNull(r.updated));
  Put(t.name, row, s.task_run_names.Intern(r.name));
  Put(t.flow_run_id, row, r.flow_run_id);
  Put(t.task_key, row, s.task_keys.Intern(r.task_key));
  PutBlob(t.dynamic_key, rep.tr_dynamic_key, row, std::move(r.dynamic_key));
  PutBlob(t.cache_key, rep.tr_cache_key, row, r.cache_key);
  Put(t.cache_expiration, row, OrNull(r.cache_expiration));
  PutTags(s.tags, r.tags, t.tags, rep.tr_tags, row);
  Put(t.state_id, row, r.state_id);
  PutBlob(t.task_inputs_json, rep.tr_task_inputs, row, std::move(r.task_inputs_json));
  Put(t.state_type, row, OrNull(r.state_type));
  Put(t.state_name, row, InternOrNull(s.state_names, r.state_name));
  Put(t.run_count, row, r.run_count);
  Put(t.flow_run_run_count, row, r.flow_run_run_count);
  Put(t.expected_start_time, row, OrNull(r.expected_start_time));
  Put(t.next_scheduled_start_time, row, OrNull(r.next_scheduled_start_time));
  Put(t.start_time, row, OrNull(r.start_time));
  Put(t.end_time, row, OrNull(r.end_time));
  Put(t.total_run_time_us, row, r.total_run_time_us);
  Put(t.state_timestamp, row, OrNull(r.state_timestamp));
  PutBlob(t.parameters_json, rep.tr_parameters, row, std::move(r.parameters_json));
  PutBlob(t.context_json, rep.tr_context, row, std::move(r.context_json));
  PutBlob(t.extras_json, rep.tr_extras, row, std::move(r.extras_json));

  t.task_version.SetTemplate(row, std::move(p.task_version_template));
  t.empirical_policy.SetTemplate(row, std::move(p.empirical_policy_template));
  t.labels.SetTemplate(row, std::move(p.labels_template));
  t.state.SetTemplate(row, std::move(p.state_template));
}

void StoreBuilder::AddAll(SnapshotRecords records) {
  for (auto& r : records.flows) AddFlow(std::move(r));
  records.flows = {};
  for (auto& r : records.deployments) AddDeployment(std::move(r));
  records.deployments = {};
  for (auto& r : records.flow_runs) AddFlowRun(std::move(r));
  records.flow_runs = {};
  for (auto& r : records.task_runs) {
    AddTaskRun(std::move(r));
    r = TaskRunRecord();  // release its memory as we go
  }
}

namespace {

// Resolves the references of every table (entities.md 1.1) and counts the
// dangling ones in s.report: deployments and flow runs to flows, flow runs to
// deployments and parent task runs, task runs to flow runs (and the reverse
// postings). Reads the id columns and by_id maps; writes only the *_row
// columns, the reverse joins and the report's reference counts.
void ResolveJoins(Store& s) {
  BuildReport& report = s.report;
  auto flow_row = [&s](const Uuid& id) {
    auto it = s.flow_by_id.find(id);
    return it == s.flow_by_id.end() ? kNoRow : it->second;
  };

  // Deployments -> flows.
  {
    DeploymentTable& t = s.deployments;
    s.flow_has_deployment.assign(s.flows.size(), 0);
    t.flow_row.resize(t.size());
    for (RowId r = 0; r < t.size(); ++r) {
      const RowId fr = flow_row(t.flow_id[r]);
      t.flow_row[r] = fr;
      if (fr == kNoRow) {
        ++report.deployments_missing_flow;
      } else {
        s.flow_has_deployment[fr] = 1;
      }
    }
  }

  // Flow runs -> flows, deployments, parent task runs.
  std::vector<RowId> subflow_parents;
  {
    FlowRunTable& t = s.flow_runs;
    const uint32_t n = t.size();
    t.flow_row.resize(n);
    t.deployment_row.resize(n);
    t.parent_task_run_row.resize(n);
    for (RowId r = 0; r < n; ++r) {
      const RowId fr = flow_row(t.flow_id[r]);
      if (fr == kNoRow) ++report.flow_runs_missing_flow;
      t.flow_row[r] = fr;
      RowId dr = kNoRow;
      if (t.deployment_id[r]) {
        auto it = s.deployment_by_id.find(*t.deployment_id[r]);
        if (it == s.deployment_by_id.end()) {
          ++report.flow_runs_dangling_deployment;
        } else {
          dr = it->second;
        }
      }
      t.deployment_row[r] = dr;
      RowId pr = kNoRow;
      if (t.parent_task_run_id[r]) {
        auto it = s.task_run_by_id.find(*t.parent_task_run_id[r]);
        if (it == s.task_run_by_id.end()) {
          ++report.flow_runs_missing_parent_task_run;
        } else {
          pr = it->second;
          subflow_parents.push_back(pr);
        }
      }
      t.parent_task_run_row[r] = pr;
    }
  }

  // Task runs -> flow runs.
  {
    TaskRunTable& t = s.task_runs;
    Shrink(t.flow_run_id);
    const uint32_t n = t.size();
    t.flow_run_row.assign(n, kNoRow);
    s.task_runs_of_flow_run.resize(s.flow_runs.size());
    for (RowId row = 0; row < n; ++row) {
      if (!t.flow_run_id[row]) continue;
      auto it = s.flow_run_by_id.find(*t.flow_run_id[row]);
      if (it == s.flow_run_by_id.end()) {
        ++report.orphan_task_runs;
      } else {
        t.flow_run_row[row] = it->second;
        s.task_runs_of_flow_run[it->second].add(row);
        s.task_runs_with_flow_run.add(row);
      }
    }
  }
  for (RowId row : subflow_parents) s.task_runs_with_subflow.add(row);
  for (Bitmap& b : s.task_runs_of_flow_run) b.runOptimize();
  s.task_run_counts_of_flow_run.reserve(s.task_runs_of_flow_run.size());
  for (const Bitmap& b : s.task_runs_of_flow_run) {
    s.task_run_counts_of_flow_run.push_back(static_cast<uint32_t>(b.cardinality()));
  }
  s.task_runs_with_flow_run.runOptimize();
  s.task_runs_with_subflow.runOptimize();
}

// The writer's row-major block, rows [begin, end). REQUIRES: codes final
// (after the freezes), flow_run_row resolved, t.hot sized.
void FillHot(TaskRunTable& t, RowId begin, RowId end) {
  for (RowId row = begin; row < end; ++row) {
    TaskRunHot& h = t.hot[row];
    h.id = t.id[row];
    if (t.state_id[row]) {
      h.state_id = *t.state_id[row];
      h.flags |= TaskRunHot::kHasStateId;
    }
    h.created = t.created[row];
    h.updated = t.updated[row];
    h.expected_start_time = t.expected_start_time[row];
    h.start_time = t.start_time[row];
    h.end_time = t.end_time[row];
    h.state_timestamp = t.state_timestamp[row];
    h.total_run_time_us = t.total_run_time_us[row];
    h.flow_run_row = t.flow_run_row[row];
    h.name = t.name[row];
    h.task_key = t.task_key[row];
    h.state_name = t.state_name[row];
    h.state_code = t.state.code(row);
    h.task_version_code = t.task_version.code(row);
    h.empirical_policy_code = t.empirical_policy.code(row);
    h.state_type = t.state_type[row];
  }
}

// Seconds since the last Mark, appended under a name when asked for.
class PhaseClock {
 public:
  explicit PhaseClock(std::vector<std::pair<std::string, double>>* out) : out_(out) {}
  void Mark(std::string name) {
    const auto now = std::chrono::steady_clock::now();
    if (out_) out_->emplace_back(std::move(name), std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  std::vector<std::pair<std::string, double>>* out_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Rows of the row-major block filled per task: enough tasks to spread the
// copy over 2-4 cores, few enough that starting them is free.
constexpr RowId kHotRowsPerTask = 1 << 18;

}  // namespace

// Two phases, each a TaskGroup of closures that write disjoint members of
// the Store (engine/internal/task_group.h); with options.threads <= 1 they
// run in order on this thread, as the sequential build did. Phase 1: the
// columns of replaced rows, the template freezes, the joins, and each
// dictionary's freeze with its code columns. Phase 2 (codes and joins
// final): the row-major block and every index (engine/index_build.h).
std::unique_ptr<Store> StoreBuilder::Build(const BuildOptions& options) {
  Rep rep = std::move(*rep_);
  *rep_ = Rep();
  std::unique_ptr<Store> store = std::move(rep.store);
  Store& s = *store;
  PhaseClock clock(options.phase_seconds);
  engine_internal::TaskGroup group;
  TaskRunTable& t = s.task_runs;
  FlowRunTable& f = s.flow_runs;

  // Phase 1, longest first (measured at 1M task runs, session 13): the
  // task-run names' freeze (0.85 s: ~1M distinct names sorted), the state
  // templates' (0.6 s), the joins (0.2 s); the rest is under 0.2 s each.
  group.Add([&s] { FreezeAndRemap(s.task_run_names, {&s.task_runs.name}); });
  group.Add([&t] { t.state.Freeze(); });
  group.Add([&s] { ResolveJoins(s); });
  group.Add([&t] { t.labels.Freeze(); });
  group.Add([&s] { FreezeAndRemap(s.task_keys, {&s.task_runs.task_key}); });
  group.Add([&s, &rep] {
    // Tag overrides hold unfrozen codes: applied before the freeze.
    ApplyOverrides(s.task_runs.tags, rep.tr_tags);
    ApplyOverrides(s.flow_runs.tags, rep.fr_tags);
    ApplyOverrides(s.flows.tags, rep.flow_tags);
    ApplyOverrides(s.deployments.tags, rep.deployment_tags);
    FreezeAndRemap(s.tags, {&s.task_runs.tags.codes, &s.flow_runs.tags.codes,
                            &s.flows.tags.codes, &s.deployments.tags.codes});
  });
  group.Add([&t, &rep] {
    ApplyOverrides(t.parameters_json, rep.tr_parameters);
    ApplyOverrides(t.context_json, rep.tr_context);
  });
  group.Add([&t, &rep] {
    ApplyOverrides(t.dynamic_key, rep.tr_dynamic_key);
    ApplyOverrides(t.cache_key, rep.tr_cache_key);
    ApplyOverrides(t.task_inputs_json, rep.tr_task_inputs);
    ApplyOverrides(t.extras_json, rep.tr_extras);
  });
  group.Add([&t] {
    t.task_version.Freeze();
    t.empirical_policy.Freeze();
    // flow_run_id is the joins' (ResolveJoins shrinks it).
    Shrink(t.id);
    Shrink(t.created);
    Shrink(t.updated);
    Shrink(t.cache_expiration);
    Shrink(t.state_id);
    Shrink(t.state_type);
    Shrink(t.run_count);
    Shrink(t.flow_run_run_count);
    Shrink(t.expected_start_time);
    Shrink(t.next_scheduled_start_time);
    Shrink(t.start_time);
    Shrink(t.end_time);
    Shrink(t.total_run_time_us);
    Shrink(t.state_timestamp);
  });
  group.Add([&s, &f, &rep] {
    ApplyOverrides(f.flow_version, rep.fr_flow_version);
    ApplyOverrides(f.idempotency_key, rep.fr_idempotency_key);
    ApplyOverrides(f.created_by_id, rep.fr_created_by_id);
    ApplyOverrides(f.created_by_type, rep.fr_created_by_type);
    FreezeAndRemap(s.flow_run_names, {&f.name});
    FreezeAndRemap(s.flow_names, {&s.flows.name});
    FreezeAndRemap(s.deployment_names, {&s.deployments.name});
    FreezeAndRemap(s.state_names, {&s.task_runs.state_name, &f.state_name});
    FreezeAndRemap(s.work_queue_names, {&f.work_queue_name, &s.deployments.work_queue_name});
  });
  group.Run(options.threads);
  clock.Mark("build.joins+freeze");

  // Phase 2.
  AddIndexTasks(s, options.name_trigrams, &group);
  t.hot.resize(t.size());
  for (RowId begin = 0; begin < t.size(); begin += kHotRowsPerTask) {
    const RowId end = std::min<RowId>(t.size(), begin + kHotRowsPerTask);
    group.Add([&t, begin, end] { FillHot(t, begin, end); });
  }
  group.Run(options.threads);
  FinishIndexes(s, options.name_trigrams);
  clock.Mark("build.indexes");
#if defined(__GLIBC__)
  // Give the builder's freed growth buffers back to the OS.
  if (options.trim_heap) malloc_trim(0);
#endif
  clock.Mark("build.trim_heap");
  return store;
}

}  // namespace taskdex
