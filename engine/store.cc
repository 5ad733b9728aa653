#include "engine/store.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <numeric>
#include <span>
#include <vector>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "engine/index_build.h"

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
    if (s.empty()) return std::string_view();
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

uint32_t Dictionary::size() const { return static_cast<uint32_t>(rep_->strings.size()); }

size_t Dictionary::MemoryBytes() const {
  const Rep& r = *rep_;
  return r.arena_bytes + r.blocks.capacity() * sizeof(void*) +
         r.strings.capacity() * sizeof(std::string_view) +
         r.codes.capacity() * (sizeof(std::pair<std::string_view, uint32_t>) + 1);
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

size_t Store::MemoryBytes() const {
  size_t n = sizeof(Store);
  const TaskRunTable& t = task_runs;
  n += VectorBytes(t.id) + VectorBytes(t.created) + VectorBytes(t.updated) + VectorBytes(t.name) +
       VectorBytes(t.flow_run_id) + VectorBytes(t.flow_run_row) + VectorBytes(t.task_key) +
       t.dynamic_key.MemoryBytes() + t.cache_key.MemoryBytes() + VectorBytes(t.cache_expiration) +
       t.task_version.MemoryBytes() + t.empirical_policy_json.MemoryBytes() +
       CodeListsBytes(t.tags) + t.labels_json.MemoryBytes() + VectorBytes(t.state_id) +
       t.task_inputs_json.MemoryBytes() + VectorBytes(t.state_type) + VectorBytes(t.state_name) +
       VectorBytes(t.run_count) + VectorBytes(t.flow_run_run_count) +
       VectorBytes(t.expected_start_time) + VectorBytes(t.next_scheduled_start_time) +
       VectorBytes(t.start_time) + VectorBytes(t.end_time) + VectorBytes(t.total_run_time_us) +
       t.state_json.MemoryBytes() + VectorBytes(t.state_timestamp) +
       VectorBytes(t.state_scheduled_time_null_offset) + t.parameters_json.MemoryBytes() +
       t.context_json.MemoryBytes() + t.extras_json.MemoryBytes();
  const FlowRunTable& f = flow_runs;
  n += VectorBytes(f.id) + VectorBytes(f.flow_id) + VectorBytes(f.flow_row) + VectorBytes(f.name) +
       VectorBytes(f.deployment_id) + VectorBytes(f.deployment_row) +
       VectorBytes(f.work_queue_name) + f.flow_version.MemoryBytes() +
       f.idempotency_key.MemoryBytes() + CodeListsBytes(f.tags) + VectorBytes(f.has_created_by) +
       f.created_by_id.MemoryBytes() + f.created_by_type.MemoryBytes() + VectorBytes(f.state_type) +
       VectorBytes(f.state_name) + VectorBytes(f.expected_start_time) +
       VectorBytes(f.next_scheduled_start_time) + VectorBytes(f.start_time) +
       VectorBytes(f.end_time) + VectorBytes(f.parent_task_run_id) +
       VectorBytes(f.parent_task_run_row);
  n += VectorBytes(flows.id) + VectorBytes(flows.name) + CodeListsBytes(flows.tags);
  n += VectorBytes(deployments.id) + VectorBytes(deployments.name) +
       VectorBytes(deployments.flow_id) + VectorBytes(deployments.flow_row) +
       VectorBytes(deployments.paused) + CodeListsBytes(deployments.tags) +
       VectorBytes(deployments.work_queue_name);
  for (const Dictionary* d : {&task_run_names, &task_keys, &flow_run_names, &flow_names,
                              &deployment_names, &state_names, &work_queue_names, &tags}) {
    n += d->MemoryBytes();
  }
  n += MapBytes(task_run_by_id) + MapBytes(flow_run_by_id) + MapBytes(flow_by_id) +
       MapBytes(deployment_by_id);
  n += VectorBytes(task_runs_of_flow_run);
  for (const Bitmap& b : task_runs_of_flow_run) n += b.getSizeInBytes();
  n += task_runs_with_flow_run.getSizeInBytes() + task_runs_with_subflow.getSizeInBytes();
  n += VectorBytes(flow_has_deployment);
  n += task_run_index.MemoryBytes();
  n += flow_run_index.state_type.MemoryBytes() + flow_run_index.tags.MemoryBytes();
  n += trigrams.task_run_names.MemoryBytes() + trigrams.flow_run_names.MemoryBytes() +
       trigrams.flow_names.MemoryBytes() + trigrams.deployment_names.MemoryBytes();
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
         next_scheduled_start_time_asc.MemoryBytes() + end_time_desc.MemoryBytes();
}

namespace {

Bitmap NonNull(const std::vector<Micros>& col) {
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < col.size(); ++r) {
    if (col[r] != kNullMicros) rows.push_back(r);
  }
  Bitmap b;
  if (!rows.empty()) b.addMany(rows.size(), rows.data());
  b.runOptimize();
  b.shrinkToFit();
  return b;
}

// Postings from a single-valued column; `skip` codes (NULL) are left out.
void BuildPostings(const std::vector<uint32_t>& codes, uint32_t skip, PostingIndex* out) {
  for (uint32_t r = 0; r < codes.size(); ++r) {
    if (codes[r] != skip) out->Add(r, codes[r]);
  }
  out->Optimize();
}

void BuildPostings(const CodeLists& lists, uint32_t n, PostingIndex* out) {
  for (uint32_t r = 0; r < n; ++r) {
    std::span<const uint32_t> have = lists.Of(r);
    for (size_t i = 0; i < have.size(); ++i) {
      // A row once per distinct code (lists keep duplicates).
      if (std::find(have.begin(), have.begin() + static_cast<ptrdiff_t>(i), have[i]) ==
          have.begin() + static_cast<ptrdiff_t>(i)) {
        out->Add(r, have[i]);
      }
    }
  }
  out->Optimize();
}

std::vector<uint32_t> Widen(const std::vector<uint8_t>& v) {
  return std::vector<uint32_t>(v.begin(), v.end());
}

void BuildTrigrams(const Dictionary& dict, TrigramIndex* out) {
  for (uint32_t c = 0; c < dict.size(); ++c) out->Add(c, dict.Get(c));
  out->Optimize();
}

void BuildIndexes(Store& s) {
  const TaskRunTable& t = s.task_runs;
  const uint32_t n = t.size();
  TaskRunIndexes& x = s.task_run_index;
  BuildPostings(t.tags, n, &x.tags);
  BuildPostings(Widen(t.state_type), kNullStateType, &x.state_type);
  BuildPostings(t.state_name, kNullCode, &x.state_name);
  BuildPostings(t.name, kNullCode, &x.name);
  for (uint32_t r = 0; r < n; ++r) {
    if (!t.tags.Of(r).empty()) x.has_tags.add(r);
  }
  x.has_tags.runOptimize();
  x.has_start_time = NonNull(t.start_time);
  x.has_end_time = NonNull(t.end_time);
  x.has_expected_start_time = NonNull(t.expected_start_time);

  using Opts = SortedOrder::Options;
  x.id_desc = SortedOrder(Opts{});
  x.id_desc.Build(n, TaskRunIdKeys{&t.id});
  const TaskRunTimeKeys expected{&t.expected_start_time, &t.id};
  x.expected_start_time_asc = SortedOrder(Opts{false, false});
  x.expected_start_time_asc.Build(n, expected);
  x.expected_start_time_desc = SortedOrder(Opts{true, true});
  x.expected_start_time_desc.Build(n, expected);
  const TaskRunCodeKeys names{&t.name, &t.id};
  x.name_asc = SortedOrder(Opts{false, false});
  x.name_asc.Build(n, names);
  x.name_desc = SortedOrder(Opts{true, true});
  x.name_desc.Build(n, names);
  x.next_scheduled_start_time_asc = SortedOrder(Opts{false, false});
  x.next_scheduled_start_time_asc.Build(n, TaskRunTimeKeys{&t.next_scheduled_start_time, &t.id});
  x.end_time_desc = SortedOrder(Opts{true, true});
  x.end_time_desc.Build(n, TaskRunTimeKeys{&t.end_time, &t.id});
  x.built = true;

  const FlowRunTable& fr = s.flow_runs;
  BuildPostings(Widen(fr.state_type), kNullStateType, &s.flow_run_index.state_type);
  BuildPostings(fr.tags, fr.size(), &s.flow_run_index.tags);

  BuildTrigrams(s.task_run_names, &s.trigrams.task_run_names);
  BuildTrigrams(s.flow_run_names, &s.trigrams.flow_run_names);
  BuildTrigrams(s.flow_names, &s.trigrams.flow_names);
  BuildTrigrams(s.deployment_names, &s.trigrams.deployment_names);
}

}  // namespace

// --- StoreBuilder -------------------------------------------------------------

namespace {

// Records of one entity with replace-by-id: a repeated id overwrites the
// earlier record in place (keeping its position) and is counted.
template <typename Record>
struct Pending {
  std::vector<Record> records;
  absl::flat_hash_map<Uuid, size_t> index;
  uint64_t replaced = 0;

  void Add(Record r) {
    auto [it, inserted] = index.try_emplace(r.id, records.size());
    if (inserted) {
      records.push_back(std::move(r));
    } else {
      records[it->second] = std::move(r);
      ++replaced;
    }
  }
};

Micros OrNull(const std::optional<Micros>& t) { return t ? *t : kNullMicros; }

uint8_t OrNull(const std::optional<StateType>& t) {
  return t ? static_cast<uint8_t>(*t) : kNullStateType;
}

uint32_t InternOrNull(Dictionary& d, const std::optional<std::string>& s) {
  return s ? d.Intern(*s) : kNullCode;
}

void AppendTags(Dictionary& dict, const std::vector<std::string>& tags, CodeLists* out) {
  for (const std::string& t : tags) out->codes.push_back(dict.Intern(t));
  out->offsets.push_back(static_cast<uint32_t>(out->codes.size()));
}

void Remap(const std::vector<uint32_t>& remap, std::vector<uint32_t>* codes) {
  for (uint32_t& c : *codes) {
    if (c != kNullCode) c = remap[c];
  }
}

}  // namespace

struct StoreBuilder::Rep {
  Pending<FlowRecord> flows;
  Pending<DeploymentRecord> deployments;
  Pending<FlowRunRecord> flow_runs;
  Pending<TaskRunRecord> task_runs;
};

StoreBuilder::StoreBuilder() : rep_(std::make_unique<Rep>()) {}
StoreBuilder::~StoreBuilder() = default;

void StoreBuilder::AddFlow(FlowRecord r) { rep_->flows.Add(std::move(r)); }
void StoreBuilder::AddDeployment(DeploymentRecord r) { rep_->deployments.Add(std::move(r)); }
void StoreBuilder::AddFlowRun(FlowRunRecord r) { rep_->flow_runs.Add(std::move(r)); }
void StoreBuilder::AddTaskRun(TaskRunRecord r) { rep_->task_runs.Add(std::move(r)); }

void StoreBuilder::AddAll(SnapshotRecords records) {
  for (auto& r : records.flows) AddFlow(std::move(r));
  for (auto& r : records.deployments) AddDeployment(std::move(r));
  for (auto& r : records.flow_runs) AddFlowRun(std::move(r));
  for (auto& r : records.task_runs) AddTaskRun(std::move(r));
}

std::unique_ptr<Store> StoreBuilder::Build() {
  auto store = std::make_unique<Store>();
  Store& s = *store;
  Rep rep = std::move(*rep_);
  *rep_ = Rep();
  BuildReport& report = s.report;
  report.replaced_flows = rep.flows.replaced;
  report.replaced_deployments = rep.deployments.replaced;
  report.replaced_flow_runs = rep.flow_runs.replaced;
  report.replaced_task_runs = rep.task_runs.replaced;

  // Flows.
  {
    FlowTable& t = s.flows;
    const size_t n = rep.flows.records.size();
    t.id.reserve(n);
    t.name.reserve(n);
    s.flow_by_id.reserve(n);
    for (FlowRecord& r : rep.flows.records) {
      s.flow_by_id.emplace(r.id, static_cast<RowId>(t.id.size()));
      t.id.push_back(r.id);
      t.name.push_back(s.flow_names.Intern(r.name));
      AppendTags(s.tags, r.tags, &t.tags);
    }
    rep.flows = {};
  }
  auto flow_row = [&s](const Uuid& id) {
    auto it = s.flow_by_id.find(id);
    return it == s.flow_by_id.end() ? kNoRow : it->second;
  };

  // Deployments.
  {
    DeploymentTable& t = s.deployments;
    const size_t n = rep.deployments.records.size();
    t.id.reserve(n);
    s.deployment_by_id.reserve(n);
    s.flow_has_deployment.assign(s.flows.size(), 0);
    for (DeploymentRecord& r : rep.deployments.records) {
      s.deployment_by_id.emplace(r.id, static_cast<RowId>(t.id.size()));
      t.id.push_back(r.id);
      t.name.push_back(s.deployment_names.Intern(r.name));
      t.flow_id.push_back(r.flow_id);
      RowId fr = flow_row(r.flow_id);
      t.flow_row.push_back(fr);
      if (fr == kNoRow) {
        ++report.deployments_missing_flow;
      } else {
        s.flow_has_deployment[fr] = 1;
      }
      t.paused.push_back(r.paused ? 1 : 0);
      AppendTags(s.tags, r.tags, &t.tags);
      t.work_queue_name.push_back(InternOrNull(s.work_queue_names, r.work_queue_name));
    }
    rep.deployments = {};
  }

  // Task-run ids first: flow runs resolve parent_task_run_id against them.
  {
    const size_t n = rep.task_runs.records.size();
    s.task_run_by_id.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      s.task_run_by_id.emplace(rep.task_runs.records[i].id, static_cast<RowId>(i));
    }
  }

  // Flow runs.
  std::vector<RowId> subflow_parents;
  {
    FlowRunTable& t = s.flow_runs;
    const size_t n = rep.flow_runs.records.size();
    t.id.reserve(n);
    s.flow_run_by_id.reserve(n);
    for (FlowRunRecord& r : rep.flow_runs.records) {
      s.flow_run_by_id.emplace(r.id, static_cast<RowId>(t.id.size()));
      t.id.push_back(r.id);
      t.flow_id.push_back(r.flow_id);
      RowId fr = flow_row(r.flow_id);
      if (fr == kNoRow) ++report.flow_runs_missing_flow;
      t.flow_row.push_back(fr);
      t.name.push_back(s.flow_run_names.Intern(r.name));
      t.deployment_id.push_back(r.deployment_id);
      RowId dr = kNoRow;
      if (r.deployment_id) {
        auto it = s.deployment_by_id.find(*r.deployment_id);
        if (it == s.deployment_by_id.end()) {
          ++report.flow_runs_dangling_deployment;
        } else {
          dr = it->second;
        }
      }
      t.deployment_row.push_back(dr);
      t.work_queue_name.push_back(InternOrNull(s.work_queue_names, r.work_queue_name));
      t.flow_version.Append(r.flow_version);
      t.idempotency_key.Append(r.idempotency_key);
      AppendTags(s.tags, r.tags, &t.tags);
      t.has_created_by.push_back(r.has_created_by ? 1 : 0);
      t.created_by_id.Append(r.created_by_id);
      t.created_by_type.Append(r.created_by_type);
      t.state_type.push_back(OrNull(r.state_type));
      t.state_name.push_back(InternOrNull(s.state_names, r.state_name));
      t.expected_start_time.push_back(OrNull(r.expected_start_time));
      t.next_scheduled_start_time.push_back(OrNull(r.next_scheduled_start_time));
      t.start_time.push_back(OrNull(r.start_time));
      t.end_time.push_back(OrNull(r.end_time));
      t.parent_task_run_id.push_back(r.parent_task_run_id);
      RowId pr = kNoRow;
      if (r.parent_task_run_id) {
        auto it = s.task_run_by_id.find(*r.parent_task_run_id);
        if (it == s.task_run_by_id.end()) {
          ++report.flow_runs_missing_parent_task_run;
        } else {
          pr = it->second;
          subflow_parents.push_back(pr);
        }
      }
      t.parent_task_run_row.push_back(pr);
    }
    rep.flow_runs = {};
  }

  // Task runs.
  {
    TaskRunTable& t = s.task_runs;
    const size_t n = rep.task_runs.records.size();
    t.id.reserve(n);
    t.created.reserve(n);
    t.updated.reserve(n);
    t.name.reserve(n);
    t.flow_run_id.reserve(n);
    t.flow_run_row.reserve(n);
    t.task_key.reserve(n);
    t.cache_expiration.reserve(n);
    t.tags.offsets.reserve(n + 1);
    t.state_id.reserve(n);
    t.state_type.reserve(n);
    t.state_name.reserve(n);
    t.run_count.reserve(n);
    t.flow_run_run_count.reserve(n);
    t.expected_start_time.reserve(n);
    t.next_scheduled_start_time.reserve(n);
    t.start_time.reserve(n);
    t.end_time.reserve(n);
    t.total_run_time_us.reserve(n);
    t.state_timestamp.reserve(n);
    t.state_scheduled_time_null_offset.reserve(n);
    s.task_runs_of_flow_run.resize(s.flow_runs.size());
    for (TaskRunRecord& r : rep.task_runs.records) {
      const RowId row = static_cast<RowId>(t.id.size());
      t.id.push_back(r.id);
      t.created.push_back(OrNull(r.created));
      t.updated.push_back(OrNull(r.updated));
      t.name.push_back(s.task_run_names.Intern(r.name));
      t.flow_run_id.push_back(r.flow_run_id);
      RowId fr = kNoRow;
      if (r.flow_run_id) {
        auto it = s.flow_run_by_id.find(*r.flow_run_id);
        if (it == s.flow_run_by_id.end()) {
          ++report.orphan_task_runs;
        } else {
          fr = it->second;
          s.task_runs_of_flow_run[fr].add(row);
          s.task_runs_with_flow_run.add(row);
        }
      }
      t.flow_run_row.push_back(fr);
      t.task_key.push_back(s.task_keys.Intern(r.task_key));
      t.dynamic_key.Append(std::string_view(r.dynamic_key));
      t.cache_key.Append(r.cache_key);
      t.cache_expiration.push_back(OrNull(r.cache_expiration));
      t.task_version.Append(r.task_version);
      t.empirical_policy_json.Append(std::string_view(r.empirical_policy_json));
      AppendTags(s.tags, r.tags, &t.tags);
      t.labels_json.Append(std::string_view(r.labels_json));
      t.state_id.push_back(r.state_id);
      t.task_inputs_json.Append(std::string_view(r.task_inputs_json));
      t.state_type.push_back(OrNull(r.state_type));
      t.state_name.push_back(InternOrNull(s.state_names, r.state_name));
      t.run_count.push_back(r.run_count);
      t.flow_run_run_count.push_back(r.flow_run_run_count);
      t.expected_start_time.push_back(OrNull(r.expected_start_time));
      t.next_scheduled_start_time.push_back(OrNull(r.next_scheduled_start_time));
      t.start_time.push_back(OrNull(r.start_time));
      t.end_time.push_back(OrNull(r.end_time));
      t.total_run_time_us.push_back(r.total_run_time_us);
      t.state_json.Append(std::string_view(r.state_json));
      t.state_timestamp.push_back(OrNull(r.state_timestamp));
      t.state_scheduled_time_null_offset.push_back(r.state_scheduled_time_null_offset);
      t.parameters_json.Append(std::string_view(r.parameters_json));
      t.context_json.Append(std::string_view(r.context_json));
      t.extras_json.Append(std::string_view(r.extras_json));
      r = TaskRunRecord();  // release its memory as we go
    }
    rep.task_runs = {};
  }
  for (RowId row : subflow_parents) s.task_runs_with_subflow.add(row);

  // Freeze the dictionaries: code order becomes bytewise string order.
  {
    auto r = s.task_run_names.Freeze();
    Remap(r, &s.task_runs.name);
  }
  {
    auto r = s.task_keys.Freeze();
    Remap(r, &s.task_runs.task_key);
  }
  {
    auto r = s.flow_run_names.Freeze();
    Remap(r, &s.flow_runs.name);
  }
  {
    auto r = s.flow_names.Freeze();
    Remap(r, &s.flows.name);
  }
  {
    auto r = s.deployment_names.Freeze();
    Remap(r, &s.deployments.name);
  }
  {
    auto r = s.state_names.Freeze();
    Remap(r, &s.task_runs.state_name);
    Remap(r, &s.flow_runs.state_name);
  }
  {
    auto r = s.work_queue_names.Freeze();
    Remap(r, &s.flow_runs.work_queue_name);
    Remap(r, &s.deployments.work_queue_name);
  }
  {
    auto r = s.tags.Freeze();
    Remap(r, &s.task_runs.tags.codes);
    Remap(r, &s.flow_runs.tags.codes);
    Remap(r, &s.flows.tags.codes);
    Remap(r, &s.deployments.tags.codes);
  }

  for (Bitmap& b : s.task_runs_of_flow_run) b.runOptimize();
  s.task_runs_with_flow_run.runOptimize();
  s.task_runs_with_subflow.runOptimize();
  BuildIndexes(s);
  BuildJoinIndexes(s);
  return store;
}

}  // namespace taskdex
