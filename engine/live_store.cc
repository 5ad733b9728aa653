#include "engine/live_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "engine/internal/dim_model.h"
#include "engine/store_rows.h"

namespace taskdex {
namespace {

using engine_internal::DimModel;
using Clock = std::chrono::steady_clock;

// Writer-side facts of one segment: its task runs whose flow run was absent
// when it was built, by flow_run_id (they join when the flow run arrives).
struct SegmentMeta {
  absl::flat_hash_map<Uuid, std::vector<RowId>> orphans;
};

SegmentMeta MetaOf(const Store& store) {
  SegmentMeta m;
  const TaskRunTable& t = store.task_runs;
  for (RowId r = 0; r < t.size(); ++r) {
    if (t.flow_run_row[r] == kNoRow && t.flow_run_id[r]) m.orphans[*t.flow_run_id[r]].push_back(r);
  }
  return m;
}

// A parent task run that counts in another segment: carried as a
// tombstoned row with only its id and flow_run_id.
struct Phantom {
  Uuid id;
  std::optional<Uuid> flow_run_id;
};

struct BuiltSegment {
  std::shared_ptr<const Store> store;
  std::shared_ptr<Bitmap> dead;
  std::shared_ptr<const OrderInverse> inverse;  // may be null: made on first tombstone
};

// Below this many task runs a segment has no name trigram indexes: a
// `like_` scans its folded names instead, ~0.1 ns a byte (plan_cost.h
// kLikeScanByteNs), so at most ~0.15 ms for 50,000 names of ~30 bytes,
// while the trigram build took 2.3 ms of a 337-task-run batch's 3.9 ms
// segment build (instrumented `taskdex apply --batch 1000`, 100k generated
// task runs, 200k generated changes).
constexpr size_t kSegmentTrigramMinTaskRuns = 50000;

// Builds a segment: the closure's rows, then the task runs `add_task_runs`
// adds to the builder (about `task_runs` of them), then the phantoms
// (tombstoned).
template <typename AddTaskRuns>
BuiltSegment BuildSegment(const DimModel::Closure& closure, const std::vector<Phantom>& phantoms,
                          size_t task_runs, AddTaskRuns add_task_runs) {
  StoreBuilder b;
  for (const auto& [id, f] : closure.flows) b.AddFlow(*f);
  for (const auto& [id, d] : closure.deployments) b.AddDeployment(*d);
  for (const auto& [id, r] : closure.flow_runs) b.AddFlowRun(*r);
  add_task_runs(b);
  for (const Phantom& p : phantoms) {
    TaskRunRecord t;
    t.id = p.id;
    t.flow_run_id = p.flow_run_id;
    b.AddTaskRun(std::move(t));
  }
  BuiltSegment out;
  StoreBuilder::BuildOptions options;
  options.trim_heap = false;
  options.name_trigrams = task_runs >= kSegmentTrigramMinTaskRuns;
  std::shared_ptr<Store> store = b.Build(options);
  out.dead = std::make_shared<Bitmap>();
  for (const Phantom& p : phantoms) out.dead->add(store->task_run_by_id.at(p.id));
  out.store = std::move(store);
  return out;
}

SegmentView ViewOf(uint64_t id, BuiltSegment built) {
  SegmentView v;
  v.id = id;
  v.live = built.store->task_runs.size() - static_cast<uint32_t>(built.dead->cardinality());
  v.store = std::move(built.store);
  v.dead = std::move(built.dead);
  v.inverse = std::move(built.inverse);
  if (!v.dead->isEmpty()) {
    // Phantoms, or rows tombstoned while a merge ran: their positions too
    // (engine/tombstones.h), so no segment falls back to checking rows.
    if (!v.inverse) v.inverse = OrderInverse::Of(*v.store);
    v.dead_positions = DeadPositions::With(nullptr, *v.inverse, *v.dead);
  }
  return v;
}

int Tier(uint32_t rows) {
  return rows <= 1 ? 0 : static_cast<int>(std::log(static_cast<double>(rows)) /
                                          std::log(static_cast<double>(kMergeFanIn)));
}

}  // namespace

struct LiveStore::Rep {
  Options options;

  mutable std::mutex publish_mu;  // guards `current` and `stats`
  std::shared_ptr<const Version> current;
  LiveStats stats;

  std::mutex writer_mu;  // Apply and the merge steps
  // Merge steps waiting for writer_mu. std::mutex is not fair: a writer
  // calling Apply back to back took it again before the woken merger ran
  // (70 merges in 10 s of full-speed Apply, 238 segments left, which a
  // settle then merged to 8 in 0.75 s), so Apply lets a waiting merge
  // step go first.
  std::atomic<int> merge_waiting{0};
  std::unique_lock<std::mutex> LockForMerge() {
    merge_waiting.fetch_add(1, std::memory_order_acq_rel);
    std::unique_lock<std::mutex> lock(writer_mu);
    merge_waiting.fetch_sub(1, std::memory_order_acq_rel);
    return lock;
  }
  // The writer's model of flow runs, flows and deployments. Guarded by
  // writer_mu, like every use of it. A store loaded without expect_writes
  // builds it at its first use (Dims()) from the store it was loaded with,
  // which no write has changed before then: at 10M task runs the model is
  // ~2 s of a load that read-only commands never need.
  DimModel& Dims() {
    if (dims_from != nullptr) {
      dims = DimModel::FromStore(*dims_from);
      dims_from.reset();
    }
    return dims;
  }
  DimModel dims;
  std::shared_ptr<const Store> dims_from;
  absl::flat_hash_map<uint64_t, SegmentMeta> meta;  // by segment id
  uint64_t next_segment_id = 2;

  std::mutex merge_mu;
  std::condition_variable merge_cv;
  bool merge_wake = false;
  bool stop = false;
  std::thread merger;

  void Publish(std::shared_ptr<const Version> v) {
    std::lock_guard<std::mutex> lock(publish_mu);
    current = std::move(v);
  }
  std::shared_ptr<const Version> Current() const {
    std::lock_guard<std::mutex> lock(publish_mu);
    return current;
  }
  // The current version and the model's records as they are for it: both
  // taken under the writer's lock, which is held for nothing else.
  DimModel::Records PinWithModel(std::shared_ptr<const Version>* version) {
    std::lock_guard<std::mutex> lock(writer_mu);
    *version = Current();
    return Dims().AllRecords();
  }

  // Ids of the segments of `v` the policy would merge; empty: none.
  static std::vector<uint64_t> PickMerge(const Version& v);
  // Merges the segments with these ids (false if one is gone). One merge
  // at a time (merge_run_mu).
  bool Merge(const std::vector<uint64_t>& pick);
  std::mutex merge_run_mu;
  void MergeLoop();
};

// --- Apply ---------------------------------------------------------------------

namespace {

// The state of one Apply: the segments with copy-on-write tombstones, and
// the task runs bound for the new segment.
class Batcher {
 public:
  Batcher(const Version& base, DimModel* dims,
          const absl::flat_hash_map<uint64_t, SegmentMeta>* meta, ApplyResult* result)
      : segs_(base.segments), owned_(base.segments.size()), dims_(dims), meta_(meta),
        result_(result) {}

  void Do(const Change& c) {
    const bool up = c.op == ChangeOp::kUpsert;
    switch (c.entity) {
      case EntityKind::kTaskRun:
        up ? UpsertTaskRun(std::get<TaskRunRecord>(c.row)) : DeleteTaskRun(c.id);
        break;
      case EntityKind::kFlowRun:
        up ? UpsertFlowRun(std::get<FlowRunRecord>(c.row)) : DeleteFlowRun(c.id);
        break;
      case EntityKind::kFlow:
        up ? UpsertFlow(std::get<FlowRecord>(c.row)) : DeleteFlow(c.id);
        break;
      case EntityKind::kDeployment:
        up ? UpsertDeployment(std::get<DeploymentRecord>(c.row)) : DeleteDeployment(c.id);
        break;
    }
  }

  // The new version's segments: the old ones that still hold rows that
  // count, with their new tombstones, then the batch's segment.
  std::vector<SegmentView> Finish(uint64_t* next_segment_id,
                                  absl::flat_hash_map<uint64_t, SegmentMeta>* new_meta) {
    std::vector<SegmentView> out;
    for (size_t i = 0; i < segs_.size(); ++i) {
      if (owned_[i] && segs_[i].live != 0) {
        // The new tombstones' positions in the sort orders: the old ones
        // plus the rows killed by this batch (all of them when the
        // segment had none known).
        SegmentView& s = segs_[i];
        if (!s.inverse) s.inverse = OrderInverse::Of(*s.store);
        Bitmap newly = *owned_[i];
        if (s.dead_positions) newly -= *s.dead;
        s.dead_positions = DeadPositions::With(s.dead_positions.get(), *s.inverse, newly);
      }
      if (owned_[i]) segs_[i].dead = owned_[i];
      if (segs_[i].live != 0) out.push_back(segs_[i]);
    }
    if (pending_.empty()) return out;
    DimModel::Closure closure;
    for (const auto& [id, t] : pending_) dims_->AddTaskRunClosure(id, t.flow_run_id, &closure);
    std::vector<Phantom> phantoms;
    for (const Uuid& p : closure.parents) {
      if (pending_.contains(p)) continue;
      if (std::optional<RowRef> at = Locate(p)) {
        phantoms.push_back({p, segs_[at->segment].store->task_runs.flow_run_id[at->row]});
      }
    }
    BuiltSegment built = BuildSegment(closure, phantoms, pending_.size(), [&](StoreBuilder& b) {
      for (auto& [id, t] : pending_) b.AddTaskRun(std::move(t));
    });
    const uint64_t id = (*next_segment_id)++;
    (*new_meta)[id] = MetaOf(*built.store);
    out.push_back(ViewOf(id, std::move(built)));
    return out;
  }

 private:
  std::optional<RowRef> Locate(const Uuid& id) const {
    for (size_t i = segs_.size(); i-- > 0;) {
      const Store& s = *segs_[i].store;
      auto it = s.task_run_by_id.find(id);
      if (it != s.task_run_by_id.end() && !Dead(i, it->second)) {
        return RowRef{static_cast<uint32_t>(i), it->second};
      }
    }
    return std::nullopt;
  }
  bool Dead(size_t seg, RowId row) const {
    return owned_[seg] ? owned_[seg]->contains(row) : segs_[seg].dead->contains(row);
  }
  void Kill(size_t seg, RowId row) {
    if (!owned_[seg]) owned_[seg] = std::make_shared<Bitmap>(*segs_[seg].dead);
    owned_[seg]->add(row);
    --segs_[seg].live;
  }
  // Copies a task run that counts in a segment into the new segment.
  void Move(size_t seg, RowId row) {
    const Store& s = *segs_[seg].store;
    pending_[s.task_runs.id[row]] = ReadTaskRunRecord(s, row);
    Kill(seg, row);
    ++result_->moved_task_runs;
  }
  void MoveTaskRun(const Uuid& id) {
    if (pending_.contains(id)) return;
    if (std::optional<RowRef> at = Locate(id)) Move(at->segment, at->row);
  }
  // Every task run (that counts) whose flow_run_id is `flow_run`.
  std::vector<RowRef> TaskRunsOfFlowRun(const Uuid& flow_run) const {
    std::vector<RowRef> out;
    for (size_t i = 0; i < segs_.size(); ++i) {
      if (segs_[i].live == 0) continue;
      const Store& s = *segs_[i].store;
      auto f = s.flow_run_by_id.find(flow_run);
      if (f != s.flow_run_by_id.end()) {
        ForEachRow(s.task_runs_of_flow_run[f->second], [&](RowId r) {
          if (!Dead(i, r)) out.push_back({static_cast<uint32_t>(i), r});
        });
      }
      const SegmentMeta& m = meta_->at(segs_[i].id);
      auto o = m.orphans.find(flow_run);
      if (o != m.orphans.end()) {
        for (RowId r : o->second) {
          if (!Dead(i, r)) out.push_back({static_cast<uint32_t>(i), r});
        }
      }
    }
    return out;
  }
  void MoveTaskRunsOfFlowRun(const Uuid& flow_run) {
    for (const RowRef& at : TaskRunsOfFlowRun(flow_run)) Move(at.segment, at.row);
  }
  void MoveTaskRunsOfFlow(const Uuid& flow) {
    for (const Uuid& r : dims_->FlowRunsOfFlow(flow)) MoveTaskRunsOfFlowRun(r);
  }
  void MoveChildrenOf(const Uuid& task_run) {
    for (const Uuid& r : dims_->ChildFlowRuns(task_run)) MoveTaskRunsOfFlowRun(r);
  }

  void UpsertTaskRun(const TaskRunRecord& t) {
    std::optional<std::optional<Uuid>> old_flow_run;
    if (auto p = pending_.find(t.id); p != pending_.end()) {
      old_flow_run = p->second.flow_run_id;
    } else if (std::optional<RowRef> at = Locate(t.id)) {
      old_flow_run = segs_[at->segment].store->task_runs.flow_run_id[at->row];
      Kill(at->segment, at->row);
    }
    // A new task run, or one under another flow run: its subflows'
    // parent_flow_run_id changed.
    if (!old_flow_run || *old_flow_run != t.flow_run_id) MoveChildrenOf(t.id);
    pending_[t.id] = t;
    ++result_->upserted[static_cast<int>(EntityKind::kTaskRun)];
  }

  void DeleteTaskRun(const Uuid& id) {
    if (pending_.erase(id) == 0) {
      std::optional<RowRef> at = Locate(id);
      if (!at) return;
      Kill(at->segment, at->row);
    }
    ++result_->deleted[static_cast<int>(EntityKind::kTaskRun)];
    // ON DELETE SET NULL of flow_run.parent_task_run_id.
    for (const Uuid& child : dims_->ChildFlowRuns(id)) {
      FlowRunRecord r = *dims_->FlowRun(child);
      r.parent_task_run_id.reset();
      PutFlowRun(std::move(r));
    }
  }

  void PutFlowRun(FlowRunRecord r) {
    const FlowRunRecord* old = dims_->FlowRun(r.id);
    const std::optional<Uuid> old_parent = old ? old->parent_task_run_id : std::nullopt;
    const bool parent_changed = old == nullptr || old_parent != r.parent_task_run_id;
    const std::optional<Uuid> new_parent = r.parent_task_run_id;
    const Uuid id = r.id;
    dims_->PutFlowRun(std::move(r));
    MoveTaskRunsOfFlowRun(id);
    if (parent_changed) {
      if (old_parent) MoveTaskRun(*old_parent);
      if (new_parent) MoveTaskRun(*new_parent);
    }
  }

  void UpsertFlowRun(const FlowRunRecord& r) {
    const FlowRunRecord* old = dims_->FlowRun(r.id);
    if (old != nullptr && *old == r) {
      ++result_->unchanged;
      return;
    }
    PutFlowRun(r);
    ++result_->upserted[static_cast<int>(EntityKind::kFlowRun)];
  }

  void DeleteFlowRun(const Uuid& id) {
    // ON DELETE CASCADE of task_run.flow_run_id (orphans included).
    std::vector<Uuid> doomed;
    for (const RowRef& at : TaskRunsOfFlowRun(id)) {
      doomed.push_back(segs_[at.segment].store->task_runs.id[at.row]);
    }
    for (const auto& [tid, t] : pending_) {
      if (t.flow_run_id == id) doomed.push_back(tid);
    }
    for (const Uuid& t : doomed) DeleteTaskRun(t);
    const FlowRunRecord* old = dims_->FlowRun(id);
    if (old == nullptr) return;
    const std::optional<Uuid> parent = old->parent_task_run_id;
    dims_->EraseFlowRun(id);
    ++result_->deleted[static_cast<int>(EntityKind::kFlowRun)];
    if (parent) MoveTaskRun(*parent);  // its has-subflow may have changed
  }

  void UpsertFlow(const FlowRecord& f) {
    const FlowRecord* old = dims_->Flow(f.id);
    if (old != nullptr && *old == f) {
      ++result_->unchanged;
      return;
    }
    dims_->PutFlow(f);
    ++result_->upserted[static_cast<int>(EntityKind::kFlow)];
    MoveTaskRunsOfFlow(f.id);
    for (const Uuid& d : dims_->DeploymentsOfFlow(f.id)) {
      for (const Uuid& r : dims_->FlowRunsOfDeployment(d)) MoveTaskRunsOfFlowRun(r);
    }
  }

  void DeleteFlow(const Uuid& id) {
    // ON DELETE CASCADE of deployment.flow_id and flow_run.flow_id.
    for (const Uuid& d : dims_->DeploymentsOfFlow(id)) {
      dims_->EraseDeployment(d);
      ++result_->deleted[static_cast<int>(EntityKind::kDeployment)];
      // Flow runs of other flows now name a deployment that is gone.
      for (const Uuid& r : dims_->FlowRunsOfDeployment(d)) MoveTaskRunsOfFlowRun(r);
    }
    for (const Uuid& r : dims_->FlowRunsOfFlow(id)) DeleteFlowRun(r);
    if (dims_->Flow(id) == nullptr) return;
    dims_->EraseFlow(id);
    ++result_->deleted[static_cast<int>(EntityKind::kFlow)];
  }

  void UpsertDeployment(const DeploymentRecord& d) {
    const DeploymentRecord* old = dims_->Deployment(d.id);
    if (old != nullptr && *old == d) {
      ++result_->unchanged;
      return;
    }
    const std::optional<Uuid> old_flow = old ? std::optional<Uuid>(old->flow_id) : std::nullopt;
    const bool new_flow_had_none = dims_->DeploymentsOfFlow(d.flow_id).empty();
    dims_->PutDeployment(d);
    ++result_->upserted[static_cast<int>(EntityKind::kDeployment)];
    for (const Uuid& r : dims_->FlowRunsOfDeployment(d.id)) MoveTaskRunsOfFlowRun(r);
    // A flow's `deployment.is_null_` changes when it gains its first
    // deployment or loses its last.
    if (old_flow != d.flow_id) {
      if (new_flow_had_none) MoveTaskRunsOfFlow(d.flow_id);
      if (old_flow && dims_->DeploymentsOfFlow(*old_flow).empty()) MoveTaskRunsOfFlow(*old_flow);
    }
  }

  void DeleteDeployment(const Uuid& id) {
    const DeploymentRecord* old = dims_->Deployment(id);
    if (old == nullptr) return;
    const Uuid flow = old->flow_id;
    // Prefect's delete_deployment first deletes its scheduled flow runs.
    for (const Uuid& r : dims_->FlowRunsOfDeployment(id)) {
      const FlowRunRecord* run = dims_->FlowRun(r);
      if (run->state_type == StateType::kScheduled) DeleteFlowRun(r);
    }
    dims_->EraseDeployment(id);
    ++result_->deleted[static_cast<int>(EntityKind::kDeployment)];
    for (const Uuid& r : dims_->FlowRunsOfDeployment(id)) MoveTaskRunsOfFlowRun(r);
    if (dims_->DeploymentsOfFlow(flow).empty()) MoveTaskRunsOfFlow(flow);
  }

  std::vector<SegmentView> segs_;
  std::vector<std::shared_ptr<Bitmap>> owned_;  // tombstones copied for writing
  absl::flat_hash_map<Uuid, TaskRunRecord> pending_;
  DimModel* dims_;
  const absl::flat_hash_map<uint64_t, SegmentMeta>* meta_;
  ApplyResult* result_;
};

// "change <i>: <reason>" for a change that cannot be applied.
absl::Status CheckChange(const Change& c, size_t i) {
  auto fail = [i](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("change %d: %s", i, why));
  };
  if (c.op == ChangeOp::kDelete) {
    if (!std::holds_alternative<std::monostate>(c.row)) return fail("a delete carries no row");
    return absl::OkStatus();
  }
  const Uuid* id = nullptr;
  switch (c.entity) {
    case EntityKind::kTaskRun:
      if (auto* r = std::get_if<TaskRunRecord>(&c.row)) id = &r->id;
      break;
    case EntityKind::kFlowRun:
      if (auto* r = std::get_if<FlowRunRecord>(&c.row)) id = &r->id;
      break;
    case EntityKind::kFlow:
      if (auto* r = std::get_if<FlowRecord>(&c.row)) id = &r->id;
      break;
    case EntityKind::kDeployment:
      if (auto* r = std::get_if<DeploymentRecord>(&c.row)) id = &r->id;
      break;
  }
  if (id == nullptr) return fail(absl::StrFormat("row is not a %s", EntityKindName(c.entity)));
  if (!(*id == c.id)) return fail("id differs from the row's id");
  return absl::OkStatus();
}

}  // namespace

LiveStore::LiveStore(std::unique_ptr<Store> initial, Options options)
    : rep_(std::make_unique<Rep>()) {
  rep_->options = options;
  rep_->meta[1] = MetaOf(*initial);
  std::shared_ptr<const Store> store(std::move(initial));
  if (options.expect_writes) {
    rep_->dims = DimModel::FromStore(*store);
  } else {
    rep_->dims_from = store;
  }
  auto first = std::make_shared<Version>(*SingleSegmentVersion(store));
  if (options.expect_writes) first->segments[0].inverse = OrderInverse::Of(*store);
  rep_->Publish(std::move(first));
  if (options.background_merges) rep_->merger = std::thread([this] { rep_->MergeLoop(); });
}

LiveStore::LiveStore(std::vector<RestoredSegment> segments, const Store& dims, uint64_t version,
                     Options options)
    : rep_(std::make_unique<Rep>()) {
  rep_->options = options;
  rep_->dims = DimModel::FromStore(dims);
  auto v = std::make_shared<Version>();
  v->number = version;
  uint64_t id = 1;
  for (RestoredSegment& r : segments) {
    rep_->meta[id] = MetaOf(*r.store);
    BuiltSegment built;
    built.store = std::shared_ptr<const Store>(std::move(r.store));
    built.dead = std::make_shared<Bitmap>(std::move(r.dead));
    if (options.expect_writes) built.inverse = OrderInverse::Of(*built.store);
    v->segments.push_back(ViewOf(id, std::move(built)));
    ++id;
  }
  rep_->next_segment_id = id;
  rep_->Publish(std::move(v));
  if (options.background_merges) rep_->merger = std::thread([this] { rep_->MergeLoop(); });
}

LiveStore::CheckpointState LiveStore::Checkpoint() const {
  CheckpointState out;
  DimModel::Records records = rep_->PinWithModel(&out.version);
  StoreBuilder b;
  for (const auto& f : records.flows) b.AddFlow(*f);
  for (const auto& d : records.deployments) b.AddDeployment(*d);
  for (const auto& r : records.flow_runs) b.AddFlowRun(*r);
  StoreBuilder::BuildOptions options;
  options.trim_heap = false;
  options.name_trigrams = false;
  out.dims = b.Build(options);
  return out;
}

LiveStore::HeldIds LiveStore::Held() const {
  HeldIds out;
  std::shared_ptr<const Version> version;
  const DimModel::Records records = rep_->PinWithModel(&version);
  for (const auto& f : records.flows) out.ids[0].push_back(f->id);
  for (const auto& d : records.deployments) out.ids[1].push_back(d->id);
  for (const auto& r : records.flow_runs) out.ids[2].push_back(r->id);
  for (const SegmentView& seg : version->segments) {
    const TaskRunTable& t = seg.store->task_runs;
    for (RowId r = 0; r < t.size(); ++r) {
      if (seg.dead->contains(r)) continue;
      out.ids[3].push_back(t.id[r]);
      if (t.updated[r] != kNullMicros &&
          (!out.newest_task_run_updated || t.updated[r] > *out.newest_task_run_updated)) {
        out.newest_task_run_updated = t.updated[r];
      }
    }
  }
  return out;
}

LiveStore::~LiveStore() {
  {
    std::lock_guard<std::mutex> lock(rep_->merge_mu);
    rep_->stop = true;
  }
  rep_->merge_cv.notify_all();
  if (rep_->merger.joinable()) rep_->merger.join();
}

std::shared_ptr<const Version> LiveStore::Pin() const { return rep_->Current(); }

absl::StatusOr<ApplyResult> LiveStore::Apply(const Batch& batch) {
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    if (absl::Status s = CheckChange(batch.changes[i], i); !s.ok()) return s;
  }
  ApplyResult result;
  // The version replaced; freed (with any segment only it held) after the
  // locks are released, so neither readers' Pin nor the next writer waits
  // for the frees.
  std::shared_ptr<const Version> retired;
  {
    while (rep_->merge_waiting.load(std::memory_order_acquire) > 0) std::this_thread::yield();
    std::lock_guard<std::mutex> lock(rep_->writer_mu);
    std::shared_ptr<const Version> base = rep_->Current();
    Batcher batcher(*base, &rep_->Dims(), &rep_->meta, &result);
    for (const Change& c : batch.changes) batcher.Do(c);
    absl::flat_hash_map<uint64_t, SegmentMeta> new_meta;
    auto next = std::make_shared<Version>();
    next->number = base->number + 1;
    next->segments = batcher.Finish(&rep_->next_segment_id, &new_meta);
    for (auto& [id, m] : new_meta) rep_->meta[id] = std::move(m);
    absl::flat_hash_set<uint64_t> kept;
    for (const SegmentView& s : next->segments) kept.insert(s.id);
    for (const SegmentView& s : base->segments) {
      if (!kept.contains(s.id)) rep_->meta.erase(s.id);
    }
    result.version = next->number;
    result.micros = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    std::lock_guard<std::mutex> plock(rep_->publish_mu);
    retired = std::exchange(rep_->current, std::move(next));
    ++rep_->stats.applies;
    rep_->stats.apply_micros_total += result.micros;
    rep_->stats.apply_micros_max = std::max(rep_->stats.apply_micros_max, result.micros);
  }
  if (rep_->options.background_merges) {
    {
      std::lock_guard<std::mutex> lock(rep_->merge_mu);
      rep_->merge_wake = true;
    }
    rep_->merge_cv.notify_one();
  }
  return result;
}

// --- Merges --------------------------------------------------------------------

std::vector<uint64_t> LiveStore::Rep::PickMerge(const Version& v) {
  absl::flat_hash_map<int, std::vector<uint64_t>> tiers;
  for (const SegmentView& s : v.segments) tiers[Tier(s.store->task_runs.size())].push_back(s.id);
  for (auto& [tier, members] : tiers) {
    if (members.size() >= kMergeFanIn) return members;
  }
  for (const SegmentView& s : v.segments) {
    const double rows = s.store->task_runs.size();
    if (rows > 0 && rows - s.live > kMaxDeadShare * rows) return {s.id};
  }
  return {};
}

bool LiveStore::Rep::Merge(const std::vector<uint64_t>& pick) {
  std::lock_guard<std::mutex> one_at_a_time(merge_run_mu);
  const Clock::time_point start = Clock::now();
  std::vector<SegmentView> from;
  DimModel::Closure closure;
  std::vector<Phantom> phantoms;
  {
    std::unique_lock<std::mutex> lock = LockForMerge();
    std::shared_ptr<const Version> v0 = Current();
    for (uint64_t id : pick) {
      auto it = std::find_if(v0->segments.begin(), v0->segments.end(),
                             [id](const SegmentView& s) { return s.id == id; });
      if (it == v0->segments.end()) return false;
      from.push_back(*it);
    }
    auto counts = [&](const Uuid& id) {
      for (const SegmentView& s : from) {
        auto it = s.store->task_run_by_id.find(id);
        if (it != s.store->task_run_by_id.end() && !s.dead->contains(it->second)) return true;
      }
      return false;
    };
    DimModel& model = Dims();
    for (const SegmentView& s : from) {
      const TaskRunTable& t = s.store->task_runs;
      for (RowId r = 0; r < t.size(); ++r) {
        if (!s.dead->contains(r) && t.flow_run_id[r]) {
          model.AddTaskRunClosure(t.id[r], t.flow_run_id[r], &closure);
        }
      }
    }
    for (const auto& [parent, children] : model.children_by_parent()) {
      if (counts(parent)) model.AddTaskRunClosure(parent, std::nullopt, &closure);
    }
    for (const Uuid& p : closure.parents) {
      if (counts(p)) continue;
      if (std::optional<RowRef> at = FindTaskRun(*v0, p)) {
        phantoms.push_back({p, v0->segments[at->segment].store->task_runs.flow_run_id[at->row]});
      }
    }
  }
  // Off the lock: read the task runs that counted at v0 and build.
  std::shared_ptr<const Version> retired;  // freed after the locks (see Apply)
  size_t counted = 0;
  for (const SegmentView& s : from) counted += s.live;
  BuiltSegment built = BuildSegment(closure, phantoms, counted, [&](StoreBuilder& b) {
    for (const SegmentView& s : from) {
      const uint32_t n = s.store->task_runs.size();
      for (RowId r = 0; r < n; ++r) {
        if (!s.dead->contains(r)) b.AddTaskRun(ReadTaskRunRecord(*s.store, r));
      }
    }
  });
  // Still off the lock: the row -> sort position maps its tombstones will
  // need (one pass over each order), not under the writer's lock later.
  built.inverse = OrderInverse::Of(*built.store);
  std::unique_lock<std::mutex> lock = LockForMerge();
  std::shared_ptr<const Version> now = Current();
  // Rows tombstoned since v0 stay tombstoned in the merged segment.
  absl::flat_hash_set<uint64_t> merged_ids;
  for (const SegmentView& old : from) {
    merged_ids.insert(old.id);
    const SegmentView* cur = nullptr;
    for (const SegmentView& s : now->segments) {
      if (s.id == old.id) cur = &s;
    }
    Bitmap newly = AllRows(old.store->task_runs.size());
    if (cur != nullptr) newly = *cur->dead;
    newly -= *old.dead;
    ForEachRow(newly, [&](RowId r) {
      auto it = built.store->task_run_by_id.find(old.store->task_runs.id[r]);
      if (it != built.store->task_run_by_id.end()) built.dead->add(it->second);
    });
  }
  const uint64_t id = next_segment_id++;
  SegmentMeta m = MetaOf(*built.store);
  SegmentView merged = ViewOf(id, std::move(built));
  auto next = std::make_shared<Version>();
  next->number = now->number + 1;
  bool placed = false;
  for (const SegmentView& s : now->segments) {
    if (!merged_ids.contains(s.id)) {
      next->segments.push_back(s);
    } else if (!placed) {
      if (merged.live != 0) next->segments.push_back(merged);
      placed = true;
    }
  }
  if (!placed && merged.live != 0) next->segments.push_back(merged);
  for (uint64_t old : merged_ids) meta.erase(old);
  if (merged.live != 0) meta[id] = std::move(m);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::lock_guard<std::mutex> plock(publish_mu);
  retired = std::exchange(current, std::move(next));
  ++stats.merges;
  stats.merge_seconds_total += seconds;
  return true;
}

void LiveStore::Rep::MergeLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(merge_mu);
      merge_cv.wait(lock, [this] { return stop || merge_wake; });
      if (stop) return;
      merge_wake = false;
    }
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(merge_mu);
        if (stop) return;
      }
      std::vector<uint64_t> pick = PickMerge(*Current());
      if (pick.empty() || !Merge(pick)) break;
    }
  }
}

bool LiveStore::MergeOnce() {
  std::vector<uint64_t> pick = Rep::PickMerge(*rep_->Current());
  return !pick.empty() && rep_->Merge(pick);
}

void LiveStore::MergeAll() {
  // Merge() fails when a picked segment is gone by the time it runs:
  // another merge (the background merger, MergeOnce on another thread)
  // replaced it, or an Apply tombstoned its last row. Then pick again from
  // the newer version; each failure means such a version was published.
  for (;;) {
    std::shared_ptr<const Version> v = rep_->Current();
    if (v->segments.size() == 1 && v->segments[0].dead->isEmpty()) return;
    if (v->segments.empty()) return;
    std::vector<uint64_t> all;
    for (const SegmentView& s : v->segments) all.push_back(s.id);
    if (rep_->Merge(all)) return;
  }
}

LiveStats LiveStore::Stats() const {
  std::shared_ptr<const Version> v;
  LiveStats s;
  {
    std::lock_guard<std::mutex> lock(rep_->publish_mu);
    v = rep_->current;
    s = rep_->stats;
  }
  s.version = v->number;
  s.segments = v->segments.size();
  s.task_runs = v->LiveTaskRuns();
  s.tombstones = v->DeadTaskRuns();
  s.memory_bytes = v->MemoryBytes();
  return s;
}

}  // namespace taskdex
