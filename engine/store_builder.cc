// engine/store_builder.cc
//
// StoreBuilder (engine/store.h): records written into columns as they
// arrive, then Build(): joins resolved, dictionaries frozen, indexes built,
// the independent parts on several threads (engine/internal/task_group.h).

#include <algorithm>
#include <array>
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

#include "engine/datetime.h"
#include "engine/index_build.h"
#include "engine/internal/task_group.h"
#include "engine/store.h"
#include "engine/task_run_batch.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {

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
template <typename T, typename V>
void Put(ArrayColumn<T>& col, RowId row, V&& v) {
  Put(col.owned(), row, std::forward<V>(v));
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

// Writes a row's tag codes (interned already) at `row`.
void PutTagCodes(std::span<const uint32_t> codes, CodeLists& col, TagOverrides& overrides,
                 RowId row) {
  if (row + 1 == col.offsets.size()) {
    std::vector<uint32_t>& all = col.codes.owned();
    all.insert(all.end(), codes.begin(), codes.end());
    col.offsets.owned().push_back(static_cast<uint32_t>(all.size()));
  } else {
    overrides[row].assign(codes.begin(), codes.end());
  }
}

std::vector<uint32_t> InternTags(Dictionary& dict, const std::vector<std::string>& tags) {
  std::vector<uint32_t> codes;
  codes.reserve(tags.size());
  for (const std::string& t : tags) codes.push_back(dict.Intern(t));
  return codes;
}

void PutTags(Dictionary& dict, const std::vector<std::string>& tags, CodeLists& col,
             TagOverrides& overrides, RowId row) {
  PutTagCodes(InternTags(dict, tags), col, overrides, row);
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
    std::vector<uint32_t>& offsets = fresh.offsets.owned();
    std::vector<uint32_t>& codes = fresh.codes.owned();
    const uint32_t n = static_cast<uint32_t>(col.offsets.size() - 1);
    offsets.reserve(n + 1);
    for (RowId r = 0; r < n; ++r) {
      auto it = overrides.find(r);
      if (it != overrides.end()) {
        codes.insert(codes.end(), it->second.begin(), it->second.end());
      } else {
        std::span<const uint32_t> have = col.Of(r);
        codes.insert(codes.end(), have.begin(), have.end());
      }
      offsets.push_back(static_cast<uint32_t>(codes.size()));
    }
    col = std::move(fresh);
  }
  col.offsets.ShrinkToFit();
  col.codes.ShrinkToFit();
}

template <typename T>
void Shrink(std::vector<T>& v) {
  v.shrink_to_fit();
}
template <typename T>
void Shrink(ArrayColumn<T>& v) {
  v.ShrinkToFit();
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

// A task run's dictionary and template codes (global, not yet frozen).
struct TaskRunCodes {
  uint32_t task_key = kNullCode;
  uint32_t state_name = kNullCode;
  std::span<const uint32_t> tags;
  std::array<uint32_t, kBatchTemplates> templates{};  // TaskRunBatch::templates order
};

}  // namespace

struct StoreBuilder::Rep {
  std::unique_ptr<Store> store = std::make_unique<Store>();
  // Variable-width values of replaced rows.
  BlobOverrides tr_dynamic_key, tr_cache_key, tr_task_inputs, tr_parameters, tr_context, tr_extras;
  TagOverrides tr_tags;
  BlobOverrides fr_flow_version, fr_idempotency_key, fr_created_by_id, fr_created_by_type;
  TagOverrides fr_tags, flow_tags, deployment_tags;

  // Adds `r` with its task_key, state_name, tags and templates as `codes`
  // (r's own are not read).
  void AddTaskRun(TaskRunRecord& r, const TaskRunCodes& codes);
};

namespace {

// The task-run columns of TaskRunBatch::templates, in its order.
constexpr TemplateColumn TaskRunTable::*kTemplateColumns[kBatchTemplates] = {
    &TaskRunTable::task_version, &TaskRunTable::empirical_policy, &TaskRunTable::labels,
    &TaskRunTable::state};

}  // namespace

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
  Store& s = *rep_->store;
  TaskRunTable& t = s.task_runs;
  TaskRunCodes codes;
  codes.task_key = s.task_keys.Intern(p.record.task_key);
  const std::vector<uint32_t> tags = InternTags(s.tags, p.record.tags);
  codes.tags = tags;
  codes.state_name = InternOrNull(s.state_names, p.record.state_name);
  std::string* templates[kBatchTemplates] = {&p.task_version_template, &p.empirical_policy_template,
                                             &p.labels_template, &p.state_template};
  for (int k = 0; k < kBatchTemplates; ++k) {
    codes.templates[k] = (t.*kTemplateColumns[k]).InternTemplate(std::move(*templates[k]));
  }
  rep_->AddTaskRun(p.record, codes);
}

void StoreBuilder::AddTaskRuns(TaskRunBatch* batch) {
  Store& s = *rep_->store;
  TaskRunTable& t = s.task_runs;
  // Each distinct string of the batch interned once: local code -> global.
  const std::vector<uint32_t> task_keys = batch->task_keys.InternAll(s.task_keys);
  const std::vector<uint32_t> state_names = batch->state_names.InternAll(s.state_names);
  const std::vector<uint32_t> tags = batch->tags.InternAll(s.tags);
  std::array<std::vector<uint32_t>, kBatchTemplates> templates;
  for (int k = 0; k < kBatchTemplates; ++k) {
    templates[k] = batch->templates[k].InternAll(t.*kTemplateColumns[k]);
  }
  std::vector<uint32_t> row_tags;
  for (size_t i = 0; i < batch->size(); ++i) {
    TaskRunCodes codes;
    codes.task_key = task_keys[batch->task_key[i]];
    const uint32_t state_name = batch->state_name[i];
    codes.state_name = state_name == kNullCode ? kNullCode : state_names[state_name];
    row_tags.clear();
    for (uint32_t c : batch->TagsOf(i)) row_tags.push_back(tags[c]);
    codes.tags = row_tags;
    for (int k = 0; k < kBatchTemplates; ++k) {
      codes.templates[k] = templates[k][batch->template_codes[i][k]];
    }
    rep_->AddTaskRun(batch->records[i].record, codes);
  }
}

void StoreBuilder::Rep::AddTaskRun(TaskRunRecord& r, const TaskRunCodes& codes) {
  Rep& rep = *this;
  Store& s = *rep.store;
  TaskRunTable& t = s.task_runs;
  const RowId row = RowFor(s.task_run_by_id, r.id, t.size(), &s.report.replaced_task_runs);
  Put(t.id, row, r.id);
  Put(t.created, row, OrNull(r.created));
  Put(t.updated, row, OrNull(r.updated));
  Put(t.name, row, s.task_run_names.Intern(r.name));
  Put(t.flow_run_id, row, r.flow_run_id);
  Put(t.task_key, row, codes.task_key);
  PutBlob(t.dynamic_key, rep.tr_dynamic_key, row, std::move(r.dynamic_key));
  PutBlob(t.cache_key, rep.tr_cache_key, row, r.cache_key);
  Put(t.cache_expiration, row, OrNull(r.cache_expiration));
  PutTagCodes(codes.tags, t.tags, rep.tr_tags, row);
  Put(t.state_id, row, r.state_id);
  PutBlob(t.task_inputs_json, rep.tr_task_inputs, row, std::move(r.task_inputs_json));
  Put(t.state_type, row, OrNull(r.state_type));
  Put(t.state_name, row, codes.state_name);
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

  for (int k = 0; k < kBatchTemplates; ++k) {
    (t.*kTemplateColumns[k]).SetCode(row, codes.templates[k]);
  }
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
    std::vector<RowId>& flow_run_row = t.flow_run_row.owned();
    flow_run_row.assign(n, kNoRow);
    s.task_runs_of_flow_run.resize(s.flow_runs.size());
    for (RowId row = 0; row < n; ++row) {
      if (!t.flow_run_id[row]) continue;
      auto it = s.flow_run_by_id.find(*t.flow_run_id[row]);
      if (it == s.flow_run_by_id.end()) {
        ++report.orphan_task_runs;
      } else {
        flow_run_row[row] = it->second;
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
// (after the freezes), flow_run_row resolved, `hot` (t.hot's) sized.
void FillHot(const TaskRunTable& t, std::vector<TaskRunHot>& hot, RowId begin, RowId end) {
  for (RowId row = begin; row < end; ++row) {
    TaskRunHot& h = hot[row];
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
  group.Add([&s] { FreezeAndRemap(s.task_run_names, {&s.task_runs.name.owned()}); });
  group.Add([&t] { t.state.Freeze(); });
  group.Add([&s] { ResolveJoins(s); });
  group.Add([&t] { t.labels.Freeze(); });
  group.Add([&s] { FreezeAndRemap(s.task_keys, {&s.task_runs.task_key.owned()}); });
  group.Add([&s, &rep] {
    // Tag overrides hold unfrozen codes: applied before the freeze.
    ApplyOverrides(s.task_runs.tags, rep.tr_tags);
    ApplyOverrides(s.flow_runs.tags, rep.fr_tags);
    ApplyOverrides(s.flows.tags, rep.flow_tags);
    ApplyOverrides(s.deployments.tags, rep.deployment_tags);
    FreezeAndRemap(s.tags, {&s.task_runs.tags.codes.owned(), &s.flow_runs.tags.codes.owned(),
                            &s.flows.tags.codes.owned(), &s.deployments.tags.codes.owned()});
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
    FreezeAndRemap(s.state_names, {&s.task_runs.state_name.owned(), &f.state_name});
    FreezeAndRemap(s.work_queue_names, {&f.work_queue_name, &s.deployments.work_queue_name});
  });
  group.Run(options.threads);
  clock.Mark("build.joins+freeze");

  // Phase 2.
  if (options.on_phase) options.on_phase("indexes");
  AddIndexTasks(s, options.name_trigrams, &group);
  std::vector<TaskRunHot>& hot = t.hot.owned();
  hot.resize(t.size());
  for (RowId begin = 0; begin < t.size(); begin += kHotRowsPerTask) {
    const RowId end = std::min<RowId>(t.size(), begin + kHotRowsPerTask);
    group.Add([&t, &hot, begin, end] { FillHot(t, hot, begin, end); });
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
