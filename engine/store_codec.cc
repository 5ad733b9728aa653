// engine/store_codec.cc
//
// Each table and index group is listed once, in a Visit* function that
// names every member; the writer, the reader and the size check walk the
// same list, so a column added to the Store and to its Visit* function is
// saved, loaded and checked, and one missing from it fails the round-trip
// test (tests/engine/binary_snapshot_test.cc compares answers, not bytes).

#include "engine/store_codec.h"

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace taskdex {
namespace {

template <typename S>  // S: Store or const Store
void VisitDictionaries(S& s, auto& v) {
  v("task_run_names", s.task_run_names);
  v("task_keys", s.task_keys);
  v("flow_run_names", s.flow_run_names);
  v("flow_names", s.flow_names);
  v("deployment_names", s.deployment_names);
  v("state_names", s.state_names);
  v("work_queue_names", s.work_queue_names);
  v("tags", s.tags);
}

template <typename T>  // TaskRunTable or const TaskRunTable
void VisitTaskRuns(T& t, auto& v) {
  v("id", t.id);
  v("created", t.created);
  v("updated", t.updated);
  v("name", t.name);
  v("flow_run_id", t.flow_run_id);
  v("flow_run_row", t.flow_run_row);
  v("task_key", t.task_key);
  v("dynamic_key", t.dynamic_key);
  v("cache_key", t.cache_key);
  v("cache_expiration", t.cache_expiration);
  v("task_version", t.task_version);
  v("empirical_policy", t.empirical_policy);
  v("tags", t.tags);
  v("labels", t.labels);
  v("state_id", t.state_id);
  v("task_inputs_json", t.task_inputs_json);
  v("state_type", t.state_type);
  v("state_name", t.state_name);
  v("run_count", t.run_count);
  v("flow_run_run_count", t.flow_run_run_count);
  v("expected_start_time", t.expected_start_time);
  v("next_scheduled_start_time", t.next_scheduled_start_time);
  v("start_time", t.start_time);
  v("end_time", t.end_time);
  v("total_run_time_us", t.total_run_time_us);
  v("state", t.state);
  v("state_timestamp", t.state_timestamp);
  v("parameters_json", t.parameters_json);
  v("context_json", t.context_json);
  v("extras_json", t.extras_json);
  v("hot", t.hot);
}

template <typename T>
void VisitFlowRuns(T& t, auto& v) {
  v("id", t.id);
  v("flow_id", t.flow_id);
  v("flow_row", t.flow_row);
  v("name", t.name);
  v("deployment_id", t.deployment_id);
  v("deployment_row", t.deployment_row);
  v("work_queue_name", t.work_queue_name);
  v("flow_version", t.flow_version);
  v("idempotency_key", t.idempotency_key);
  v("tags", t.tags);
  v("has_created_by", t.has_created_by);
  v("created_by_id", t.created_by_id);
  v("created_by_type", t.created_by_type);
  v("state_type", t.state_type);
  v("state_name", t.state_name);
  v("expected_start_time", t.expected_start_time);
  v("next_scheduled_start_time", t.next_scheduled_start_time);
  v("start_time", t.start_time);
  v("end_time", t.end_time);
  v("parent_task_run_id", t.parent_task_run_id);
  v("parent_task_run_row", t.parent_task_run_row);
}

template <typename T>
void VisitFlows(T& t, auto& v) {
  v("id", t.id);
  v("name", t.name);
  v("tags", t.tags);
}

template <typename T>
void VisitDeployments(T& t, auto& v) {
  v("id", t.id);
  v("name", t.name);
  v("flow_id", t.flow_id);
  v("flow_row", t.flow_row);
  v("paused", t.paused);
  v("tags", t.tags);
  v("work_queue_name", t.work_queue_name);
}

template <typename S>
void VisitJoins(S& s, auto& v) {
  v("task_runs_of_flow_run", s.task_runs_of_flow_run);
  v("task_run_counts_of_flow_run", s.task_run_counts_of_flow_run);
  v("task_runs_with_flow_run", s.task_runs_with_flow_run);
  v("task_runs_with_subflow", s.task_runs_with_subflow);
  v("flow_has_deployment", s.flow_has_deployment);
}

template <typename I>
void VisitTaskRunIndexes(I& x, auto& v) {
  v("built", x.built);
  v("tags", x.tags);
  v("state_type", x.state_type);
  v("state_name", x.state_name);
  v("name", x.name);
  v("has_tags", x.has_tags);
  v("has_start_time", x.has_start_time);
  v("has_end_time", x.has_end_time);
  v("has_expected_start_time", x.has_expected_start_time);
  v("id_desc", x.id_desc);
  v("expected_start_time_asc", x.expected_start_time_asc);
  v("expected_start_time_desc", x.expected_start_time_desc);
  v("name_asc", x.name_asc);
  v("name_desc", x.name_desc);
  v("next_scheduled_start_time_asc", x.next_scheduled_start_time_asc);
  v("end_time_desc", x.end_time_desc);
  v("joins_built", x.joins_built);
  v("by_flow", x.by_flow);
  v("by_deployment", x.by_deployment);
  v("by_flow_run_state_type", x.by_flow_run_state_type);
}

template <typename S>
void VisitNameIndexes(S& s, auto& v) {
  v("flow_run_state_type", s.flow_run_index.state_type);
  v("flow_run_tags", s.flow_run_index.tags);
  v("trigrams_built", s.trigrams.built);
  v("trigrams.task_run_names", s.trigrams.task_run_names);
  v("trigrams.flow_run_names", s.trigrams.flow_run_names);
  v("trigrams.flow_names", s.trigrams.flow_names);
  v("trigrams.deployment_names", s.trigrams.deployment_names);
  v("folded.task_run_names", s.folded.task_run_names);
  v("folded.flow_run_names", s.folded.flow_run_names);
  v("folded.flow_names", s.folded.flow_names);
  v("folded.deployment_names", s.folded.deployment_names);
}

// Writes every member it is shown.
struct Writer {
  SerialWriter& w;
  template <typename T>
  void operator()(std::string_view, const std::vector<T>& v) {
    w.PutArray(v);
  }
  void operator()(std::string_view, const std::vector<Bitmap>& v) { w.PutBitmaps(v); }
  void operator()(std::string_view, const Bitmap& b) { w.PutBitmap(b); }
  void operator()(std::string_view, bool b) { w.Put(static_cast<uint8_t>(b)); }
  template <typename T>
    requires requires(const T& t, SerialWriter& sw) { t.Save(sw); }
  void operator()(std::string_view, const T& t) {
    t.Save(w);
  }
};

// Reads every member it is shown, in the Writer's order.
struct Reader {
  SerialReader& r;
  template <typename T>
  void operator()(std::string_view, std::vector<T>& v) {
    v = r.GetArray<T>();
  }
  void operator()(std::string_view, std::vector<Bitmap>& v) { v = r.GetBitmaps(); }
  void operator()(std::string_view, Bitmap& b) { b = r.GetBitmap(); }
  void operator()(std::string_view, bool& b) { b = r.Get<uint8_t>() != 0; }
  template <typename T>
    requires requires(T& t, SerialReader& sr) { t.Load(sr); }
  void operator()(std::string_view, T& t) {
    t.Load(r);
  }
};

// Checks that each column holds `rows` rows (a CSR list rows + 1 offsets).
struct SizeCheck {
  std::string_view table;
  uint64_t rows;
  std::string error;
  void Check(std::string_view column, uint64_t got) {
    if (error.empty() && got != rows) {
      error = absl::StrCat(std::string(table), ".", std::string(column), ": ", got,
                           " rows, the table has ", rows);
    }
  }
  template <typename T>
  void operator()(std::string_view c, const std::vector<T>& v) {
    Check(c, v.size());
  }
  template <typename T>
  void operator()(std::string_view c, const ArrayColumn<T>& v) {
    Check(c, v.size());
  }
  void operator()(std::string_view c, const BlobColumn& b) { Check(c, b.size()); }
  void operator()(std::string_view c, const TemplateColumn& t) { Check(c, t.size()); }
  void operator()(std::string_view c, const CodeLists& l) { Check(c, l.offsets.size() - 1); }
};

struct Meta {
  uint64_t task_runs = 0, flow_runs = 0, flows = 0, deployments = 0;
};

// Passes on the `want`th member it is shown only.
template <typename V>
struct Nth {
  Nth(uint32_t w, V& v) : want(w), inner(v) {}
  uint32_t want;
  V& inner;
  uint32_t at = 0;
  std::string_view name;
  template <typename X>
  void operator()(std::string_view n, X& x) {
    if (at++ == want) {
      name = n;
      inner(n, x);
    }
  }
};

// The name of task-run column i.
struct NameOnly {
  template <typename X>
  void operator()(std::string_view, const X&) {}
};
std::string_view TaskRunColumnName(uint32_t i) {
  static const TaskRunTable* empty = new TaskRunTable;
  NameOnly none;
  Nth<NameOnly> nth(i, none);
  VisitTaskRuns(*empty, nth);
  return nth.name;
}

struct Counter {
  uint32_t n = 0;
  template <typename X>
  void operator()(std::string_view, const X&) {
    ++n;
  }
};

template <typename S>
void VisitSection(S& s, StoreSection section, auto& v) {
  const uint32_t kind = static_cast<uint32_t>(section);
  if (kind >= static_cast<uint32_t>(StoreSection::kTaskRunColumn0)) {
    Nth<std::remove_reference_t<decltype(v)>> nth(
        kind - static_cast<uint32_t>(StoreSection::kTaskRunColumn0), v);
    VisitTaskRuns(s.task_runs, nth);
    return;
  }
  switch (section) {
    case StoreSection::kMeta:
    case StoreSection::kTaskRunColumn0:
      break;  // meta is written by hand (Meta and BuildReport)
    case StoreSection::kDictionaries:
      VisitDictionaries(s, v);
      break;
    case StoreSection::kFlowRuns:
      VisitFlowRuns(s.flow_runs, v);
      break;
    case StoreSection::kDimensions:
      VisitFlows(s.flows, v);
      VisitDeployments(s.deployments, v);
      break;
    case StoreSection::kJoins:
      VisitJoins(s, v);
      break;
    case StoreSection::kTaskRunIndexes:
      VisitTaskRunIndexes(s.task_run_index, v);
      break;
    case StoreSection::kNameIndexes:
      VisitNameIndexes(s, v);
      break;
  }
}

static_assert(std::is_trivially_copyable_v<BuildReport>);

}  // namespace

void BlobColumn::Load(SerialReader& r) {
  bytes_.Load(r);
  const std::string_view bytes = bytes_.view();
  ends_.Load(r);
  uint64_t last = 0;
  for (uint64_t e : ends_) {
    e &= ~kNullBit;
    if (e < last || e > bytes.size()) {
      r.Fail("a blob column's offsets are not ascending within its bytes");
      return;
    }
    last = e;
  }
}

void CodeLists::Load(SerialReader& r) {
  offsets.Load(r);
  codes.Load(r);
  bool good = !offsets.empty() && offsets.front() == 0 && offsets.back() == codes.size();
  for (size_t i = 1; good && i < offsets.size(); ++i) good = offsets[i] >= offsets[i - 1];
  if (!good && r.ok()) r.Fail("a list column's offsets are not ascending within its codes");
  if (offsets.empty()) offsets.owned().push_back(0);
}

const std::vector<StoreSection>& AllStoreSections() {
  static const std::vector<StoreSection>* all = [] {
    Counter count;
    TaskRunTable empty;
    VisitTaskRuns(empty, count);
    assert(count.n == kTaskRunColumns);
    auto* v = new std::vector<StoreSection>{StoreSection::kMeta, StoreSection::kDictionaries};
    for (uint32_t i = 0; i < kTaskRunColumns; ++i) {
      v->push_back(static_cast<StoreSection>(static_cast<uint32_t>(StoreSection::kTaskRunColumn0) + i));
    }
    for (StoreSection s : {StoreSection::kFlowRuns, StoreSection::kDimensions, StoreSection::kJoins,
                           StoreSection::kTaskRunIndexes, StoreSection::kNameIndexes}) {
      v->push_back(s);
    }
    return v;
  }();
  return *all;
}

bool IsStoreSection(uint32_t section) {
  const uint32_t first_column = static_cast<uint32_t>(StoreSection::kTaskRunColumn0);
  return (section >= 1 && section <= 8 && section != 3) ||
         (section >= first_column && section < first_column + kTaskRunColumns);
}

std::string StoreSectionName(uint32_t section) {
  const uint32_t first_column = static_cast<uint32_t>(StoreSection::kTaskRunColumn0);
  if (section >= first_column && section < first_column + kTaskRunColumns) {
    return "task_runs." + std::string(TaskRunColumnName(section - first_column));
  }
  switch (static_cast<StoreSection>(section)) {
    case StoreSection::kTaskRunColumn0:
      break;
    case StoreSection::kMeta:
      return "meta";
    case StoreSection::kDictionaries:
      return "dictionaries";
    case StoreSection::kFlowRuns:
      return "flow_runs";
    case StoreSection::kDimensions:
      return "dimensions";
    case StoreSection::kJoins:
      return "joins";
    case StoreSection::kTaskRunIndexes:
      return "task_run_indexes";
    case StoreSection::kNameIndexes:
      return "name_indexes";
  }
  return "unknown section";
}

void EncodeSection(const Store& store, StoreSection section, SerialWriter& w) {
  if (section == StoreSection::kMeta) {
    w.Put(Meta{store.task_runs.size(), store.flow_runs.size(), store.flows.size(),
               store.deployments.size()});
    w.Put(store.report);
    return;
  }
  Writer writer{w};
  VisitSection(store, section, writer);
}

namespace {

template <typename Table>
bool BuildIdMap(const Table& t, absl::flat_hash_map<Uuid, RowId>* map) {
  map->clear();
  map->reserve(t.id.size());
  for (RowId r = 0; r < t.size(); ++r) {
    if (!map->emplace(t.id[r], r).second) return false;
  }
  return true;
}

}  // namespace

absl::Status DecodeSection(StoreSection section, std::span<const char> bytes, Store* store,
                           std::shared_ptr<const void> backing, bool* kept_views) {
  SerialReader r(bytes, std::move(backing));
  if (kept_views != nullptr) *kept_views = false;
  if (section == StoreSection::kMeta) {
    r.Get<Meta>();  // FinishStore checks the tables against their columns
    store->report = r.Get<BuildReport>();
  } else {
    Reader reader{r};
    VisitSection(*store, section, reader);
  }
  if (r.ok() && !r.at_end()) {
    r.Fail(absl::StrCat(bytes.size() - r.position(), " bytes left over at byte ", r.position()));
  }
  // The id maps, on the thread that decoded their table (they need only it).
  if (r.ok() && section == StoreSection::kTaskRunColumn0 &&  // the id column
      !BuildIdMap(store->task_runs, &store->task_run_by_id)) {
    r.Fail("id: a task-run id repeats");
  }
  if (r.ok() && section == StoreSection::kFlowRuns &&
      !BuildIdMap(store->flow_runs, &store->flow_run_by_id)) {
    r.Fail("id: a flow-run id repeats");
  }
  if (r.ok() && section == StoreSection::kDimensions &&
      (!BuildIdMap(store->flows, &store->flow_by_id) ||
       !BuildIdMap(store->deployments, &store->deployment_by_id))) {
    r.Fail("id: a flow or deployment id repeats");
  }
  if (!r.ok()) {
    return absl::DataLossError(
        absl::StrCat(StoreSectionName(static_cast<uint32_t>(section)), ": ", r.error()));
  }
  if (kept_views != nullptr) *kept_views = r.backing_shared();
  return absl::OkStatus();
}

namespace {

std::string CheckSizes(const Store& s) {
  SizeCheck tr{"task_runs", s.task_runs.id.size(), {}};
  VisitTaskRuns(s.task_runs, tr);
  if (!tr.error.empty()) return tr.error;
  SizeCheck fr{"flow_runs", s.flow_runs.id.size(), {}};
  VisitFlowRuns(s.flow_runs, fr);
  if (!fr.error.empty()) return fr.error;
  SizeCheck fl{"flows", s.flows.id.size(), {}};
  VisitFlows(s.flows, fl);
  if (!fl.error.empty()) return fl.error;
  SizeCheck dp{"deployments", s.deployments.id.size(), {}};
  VisitDeployments(s.deployments, dp);
  if (!dp.error.empty()) return dp.error;
  SizeCheck joins{"joins", s.flow_runs.id.size(), {}};
  joins("task_runs_of_flow_run", s.task_runs_of_flow_run);
  joins("task_run_counts_of_flow_run", s.task_run_counts_of_flow_run);
  if (!joins.error.empty()) return joins.error;
  if (s.flow_has_deployment.size() != s.flows.id.size()) {
    return "joins.flow_has_deployment: not one entry per flow";
  }
  return {};
}

// Every value below `limit`, or equal to `null_value`.
bool AllBelow(std::span<const uint32_t> v, uint32_t limit, uint32_t null_value) {
  for (uint32_t x : v) {
    if (x >= limit && x != null_value) return false;
  }
  return true;
}

bool CodesBelow(const CodeLists& l, uint32_t limit) {
  return l.offsets.back() == l.codes.size() && AllBelow(l.codes, limit, limit);
}

std::string CheckReferences(const Store& s) {
  const TaskRunTable& t = s.task_runs;
  const FlowRunTable& f = s.flow_runs;
  const uint32_t tags = s.tags.size();
  struct Ref {
    const char* part;
    bool ok;
  };
  const Ref refs[] = {
      {"task_runs.name", AllBelow(t.name, s.task_run_names.size(), kNullCode)},
      {"task_runs.task_key", AllBelow(t.task_key, s.task_keys.size(), kNullCode)},
      {"task_runs.state_name", AllBelow(t.state_name, s.state_names.size(), kNullCode)},
      {"task_runs.flow_run_row", AllBelow(t.flow_run_row, f.size(), kNoRow)},
      {"task_runs.tags", CodesBelow(t.tags, tags)},
      {"flow_runs.name", AllBelow(f.name, s.flow_run_names.size(), kNullCode)},
      {"flow_runs.work_queue_name", AllBelow(f.work_queue_name, s.work_queue_names.size(), kNullCode)},
      {"flow_runs.state_name", AllBelow(f.state_name, s.state_names.size(), kNullCode)},
      {"flow_runs.flow_row", AllBelow(f.flow_row, s.flows.size(), kNoRow)},
      {"flow_runs.deployment_row", AllBelow(f.deployment_row, s.deployments.size(), kNoRow)},
      {"flow_runs.parent_task_run_row", AllBelow(f.parent_task_run_row, t.size(), kNoRow)},
      {"flow_runs.tags", CodesBelow(f.tags, tags)},
      {"flows.name", AllBelow(s.flows.name, s.flow_names.size(), kNullCode)},
      {"flows.tags", CodesBelow(s.flows.tags, tags)},
      {"deployments.name", AllBelow(s.deployments.name, s.deployment_names.size(), kNullCode)},
      {"deployments.flow_row", AllBelow(s.deployments.flow_row, s.flows.size(), kNoRow)},
      {"deployments.work_queue_name",
       AllBelow(s.deployments.work_queue_name, s.work_queue_names.size(), kNullCode)},
      {"deployments.tags", CodesBelow(s.deployments.tags, tags)},
  };
  for (const Ref& ref : refs) {
    if (!ref.ok) return absl::StrCat(ref.part, ": a code or row is out of range");
  }
  for (const TaskRunHot& h : t.hot) {
    if (h.flow_run_row != kNoRow && h.flow_run_row >= f.size()) {
      return "task_runs.hot: a flow-run row is out of range";
    }
  }
  const TaskRunIndexes& x = s.task_run_index;
  const PostingIndex* postings[] = {&x.tags,    &x.state_type,    &x.state_name,
                                    &x.by_flow, &x.by_deployment, &x.by_flow_run_state_type};
  for (const PostingIndex* p : postings) {
    if (!p->RowsBelow(t.size())) return "task_run_indexes: a posting holds a row out of range";
  }
  if (!x.name.RowsBelow(t.size())) {
    return "task_run_indexes: a name posting holds a row out of range or out of order";
  }
  const SortedOrder* orders[] = {&x.id_desc,       &x.expected_start_time_asc,
                                 &x.expected_start_time_desc,
                                 &x.name_asc,      &x.name_desc,
                                 &x.next_scheduled_start_time_asc, &x.end_time_desc};
  for (const SortedOrder* o : orders) {
    if (!o->RowsBelow(t.size())) return "task_run_indexes: a page order holds a row out of range";
  }
  for (const Bitmap* b : {&x.has_tags, &x.has_start_time, &x.has_end_time,
                          &x.has_expected_start_time, &s.task_runs_with_flow_run,
                          &s.task_runs_with_subflow}) {
    if (!b->isEmpty() && b->maximum() >= t.size()) {
      return "task_run_indexes: a bitmap holds a row out of range";
    }
  }
  for (const Bitmap& b : s.task_runs_of_flow_run) {
    if (!b.isEmpty() && b.maximum() >= t.size()) {
      return "joins.task_runs_of_flow_run: a row out of range";
    }
  }
  if (!s.flow_run_index.state_type.RowsBelow(f.size()) ||
      !s.flow_run_index.tags.RowsBelow(f.size())) {
    return "name_indexes: a flow-run posting holds a row out of range";
  }
  const NameTrigrams& g = s.trigrams;
  if (!g.task_run_names.CodesBelow(s.task_run_names.size()) ||
      !g.flow_run_names.CodesBelow(s.flow_run_names.size()) ||
      !g.flow_names.CodesBelow(s.flow_names.size()) ||
      !g.deployment_names.CodesBelow(s.deployment_names.size())) {
    return "name_indexes: a trigram posting holds a code out of range";
  }
  const FoldedNameSet& n = s.folded;
  if (n.task_run_names.size() != s.task_run_names.size() ||
      n.flow_run_names.size() != s.flow_run_names.size() ||
      n.flow_names.size() != s.flow_names.size() ||
      n.deployment_names.size() != s.deployment_names.size()) {
    return "name_indexes: folded names disagree with their dictionaries";
  }
  return {};
}

}  // namespace

absl::Status FinishStore(Store* store) {
  std::string error = CheckSizes(*store);
  if (error.empty()) error = CheckReferences(*store);
  if (!error.empty()) return absl::DataLossError(error);
  return absl::OkStatus();
}

}  // namespace taskdex
