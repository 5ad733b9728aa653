// tests/testing/random_scale_query.cc

#include "tests/testing/random_scale_query.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/random_scale_data.h"

namespace taskdex {
namespace {

// Patterns that exercise the token rules of paginate.md 4.2.
const std::vector<std::string> kMetaPatterns = {
    "%",     "_",      "\\",   "\\_",  "\\%", "a\\", "_\\", "%\\",      "-_",      "_0",
    "x\\_y", "100\\%", "\\\\", "s\\%", "%%",  "__",  "e_",  "\xc3\xa9", "\xc3\x89"};

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string FlipCase(TestRng& rng, std::string s) {
  for (char& c : s) {
    if (!rng.Percent(50)) continue;
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

// A substring of `s` of `len` code points (fewer if `s` is shorter), cut at
// code-point boundaries.
std::string Piece(TestRng& rng, const std::string& s, size_t len) {
  std::vector<size_t> cuts;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || !IsContinuationByte(s[i])) cuts.push_back(i);
  }
  const size_t points = cuts.size() - 1;
  len = std::min(len, points);
  const size_t a = rng.Uniform(points - len + 1);
  return s.substr(cuts[a], cuts[a + len] - cuts[a]);
}

template <typename T>
void Distinct(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

BoolOp RandomOp(TestRng& rng) { return rng.Percent(45) ? BoolOp::kOr : BoolOp::kAnd; }

// Length 0 (8%) or 1-3.
uint64_t ListLength(TestRng& rng) { return rng.Percent(8) ? 0 : 1 + rng.Uniform(3); }

}  // namespace

// Draws every piece of a FilterSet from the generator's pools.
class ScaleQueryGen::Builder {
 public:
  Builder(const ScaleQueryGen& g, TestRng& rng) : g_(g), rng_(rng) {}

  FilterSet Set() {
    const uint64_t shape = rng_.Uniform(100);
    if (shape < 25) return SelectiveWithShortLike();
    if (shape < 40) return Dense();
    if (shape < 50) return OrShapes();
    return General();
  }

  // --- Values -------------------------------------------------------------

  std::vector<Uuid> Ids(const std::vector<Uuid>& pool) {
    std::vector<Uuid> v;
    const uint64_t n = ListLength(rng_);
    for (uint64_t i = 0; i < n; ++i) {
      v.push_back(pool.empty() || rng_.Percent(10) ? rng_.Pick(ScaleUnknownIds())
                                                   : rng_.Pick(pool));
    }
    return v;
  }

  // Exact-match values: usually as in the data, sometimes a case variant.
  std::vector<std::string> Strings(const std::vector<std::string>& pool) {
    std::vector<std::string> v;
    const uint64_t n = ListLength(rng_);
    for (uint64_t i = 0; i < n && !pool.empty(); ++i) {
      std::string s = rng_.Pick(pool);
      if (rng_.Percent(10)) s = FlipCase(rng_, s);
      v.push_back(std::move(s));
    }
    return v;
  }

  std::vector<std::string> Tags() {
    return Strings(rng_.Percent(55) ? g_.row_tags_ : g_.distinct_tags_);
  }

  std::vector<StateType> StateTypes() {
    std::vector<StateType> v;
    const uint64_t n = ListLength(rng_);
    for (uint64_t i = 0; i < n; ++i) {
      // The dominant COMPLETED a third of the time.
      v.push_back(rng_.Percent(33) ? StateType::kCompleted
                                   : static_cast<StateType>(rng_.Uniform(kNumStateTypes)));
    }
    return v;
  }

  // Bounds from a column's values in row order: after_ at a row, before_ a
  // few or many rows later, so the range holds from a handful of rows to
  // nearly all; now and then one bound only, or an off-by-one.
  TimeFilter Time(const std::vector<Micros>& col, bool has_is_null) {
    TimeFilter f;
    if (!col.empty() && !rng_.Percent(10)) {
      static constexpr uint64_t kWidths[] = {0, 3, 30, 300, 3000};
      const uint64_t pick = rng_.Uniform(7);
      const uint64_t width = pick < 5 ? kWidths[pick] : col.size() / (pick == 5 ? 4 : 1);
      const size_t a = rng_.Uniform(col.size());
      const size_t b = std::min<size_t>(a + width, col.size() - 1);
      Micros lo = std::min(col[a], col[b]);
      Micros hi = std::max(col[a], col[b]);
      if (rng_.Percent(10)) lo += 1;
      if (rng_.Percent(10)) hi -= 1;
      const uint64_t sides = rng_.Uniform(100);
      if (sides < 70) {
        f.after = lo;
        f.before = hi;
      } else if (sides < 85) {
        f.after = lo;
      } else {
        f.before = hi;
      }
    }
    if (has_is_null && rng_.Percent(25)) f.is_null = rng_.Percent(50);
    return f;
  }

  // --- Leaves -------------------------------------------------------------

  NameFilter Name(const std::vector<std::string>& pool, bool has_any) {
    NameFilter f;
    if (has_any && rng_.Percent(40)) f.any = Strings(pool);
    if (!f.any || rng_.Percent(50)) f.like = g_.Like(rng_, pool);
    return f;
  }

  TagsFilter TagsLeaf(bool has_any) {
    TagsFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(60)) f.all = Tags();
    if (has_any && rng_.Percent(50)) f.any = Tags();
    if (rng_.Percent(20)) f.is_null = rng_.Percent(50);
    return f;
  }

  StringsFilter StringsLeaf(const std::vector<std::string>& pool, bool has_not_any,
                            bool has_is_null, bool has_op) {
    StringsFilter f;
    if (has_op) f.op = RandomOp(rng_);
    if (rng_.Percent(65)) f.any = Strings(pool);
    if (has_not_any && rng_.Percent(40)) f.not_any = Strings(pool);
    if (has_is_null && rng_.Percent(30)) f.is_null = rng_.Percent(50);
    return f;
  }

  StateFilter State(bool flow_run) {
    StateFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(65)) {
      StateTypesFilter t;
      if (rng_.Percent(75)) t.any = StateTypes();
      if (flow_run && rng_.Percent(40)) t.not_any = StateTypes();
      f.type = t;
    }
    if (!f.type || rng_.Percent(40)) f.name = StringsLeaf(g_.state_names_, flow_run, false, false);
    return f;
  }

  UuidRefFilter Ref(const std::vector<Uuid>& pool, bool has_is_null) {
    UuidRefFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(60)) f.any = Ids(pool);
    if (has_is_null && rng_.Percent(45)) f.is_null = rng_.Percent(50);
    return f;
  }

  // As the parser builds it: is_null_ absent means false, explicit null is
  // nullopt (paginate.md 4.4.9). Flow runs drawn per task run, so big runs
  // come up often.
  UuidRefFilter TaskRunFlowRunId() {
    UuidRefFilter r;
    r.op = RandomOp(rng_);
    if (rng_.Percent(60)) r.any = Ids(rng_.Percent(50) ? g_.task_run_flow_runs_ : g_.flow_run_ids_);
    const uint64_t k = rng_.Uniform(3);
    r.is_null = k == 0 ? std::optional<bool>() : std::optional<bool>(k == 1);
    return r;
  }

  // --- Filters ------------------------------------------------------------

  TaskRunFilter TaskRuns(int p) {
    TaskRunFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(p)) {
      IdFilter id;
      id.any = Ids(g_.task_run_ids_);
      f.id = id;
    }
    if (rng_.Percent(p)) f.name = Name(g_.task_run_names_, true);
    if (rng_.Percent(p)) f.tags = TagsLeaf(false);
    if (rng_.Percent(p)) f.state = State(false);
    if (rng_.Percent(p)) f.start_time = Time(g_.tr_start_, true);
    if (rng_.Percent(p)) f.end_time = Time(g_.tr_end_, true);
    if (rng_.Percent(p)) f.expected_start_time = Time(g_.tr_expected_, false);
    if (rng_.Percent(p)) {
      SubflowRunsFilter s;
      if (rng_.Percent(85)) s.exists = rng_.Percent(50);
      f.subflow_runs = s;
    }
    if (rng_.Percent(p)) f.flow_run_id = TaskRunFlowRunId();
    return f;
  }

  FlowRunFilter FlowRuns(int p) {
    FlowRunFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(p)) {
      IdFilter id;
      if (rng_.Percent(70)) id.any = Ids(g_.task_run_flow_runs_);
      if (rng_.Percent(40)) id.not_any = Ids(g_.flow_run_ids_);
      f.id = id;
    }
    if (rng_.Percent(p)) f.name = Name(g_.flow_run_names_, true);
    if (rng_.Percent(p)) f.tags = TagsLeaf(true);
    if (rng_.Percent(p)) f.deployment_id = Ref(g_.deployment_ids_, true);
    if (rng_.Percent(p)) f.work_queue_name = StringsLeaf(g_.work_queues_, false, true, true);
    if (rng_.Percent(p)) f.flow_version = StringsLeaf(g_.flow_versions_, false, false, false);
    if (rng_.Percent(p)) f.state = State(true);
    if (rng_.Percent(p)) f.start_time = Time(g_.fr_start_, true);
    if (rng_.Percent(p)) f.end_time = Time(g_.fr_end_, true);
    if (rng_.Percent(p)) f.expected_start_time = Time(g_.fr_expected_, false);
    if (rng_.Percent(p)) f.next_scheduled_start_time = Time(g_.fr_next_, false);
    if (rng_.Percent(p)) f.parent_flow_run_id = Ref(g_.task_run_flow_runs_, false);
    if (rng_.Percent(p)) {
      f.parent_task_run_id = Ref(rng_.Percent(70) ? g_.subflow_parents_ : g_.task_run_ids_, true);
    }
    if (rng_.Percent(p)) f.idempotency_key = StringsLeaf(g_.idempotency_keys_, true, false, false);
    if (rng_.Percent(p)) {
      CreatedByFilter c;
      c.op = RandomOp(rng_);
      if (rng_.Percent(50)) c.id = Ids(ScaleCreatorIds());
      if (rng_.Percent(50)) c.type = Strings(g_.creator_types_);
      if (rng_.Percent(35)) c.is_null = rng_.Percent(50);
      f.created_by = c;
    }
    return f;
  }

  FlowFilter Flows(int p) {
    FlowFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(p)) {
      IdFilter id;
      if (rng_.Percent(70)) id.any = Ids(g_.flow_ids_);
      if (rng_.Percent(40)) id.not_any = Ids(g_.flow_ids_);
      f.id = id;
    }
    if (rng_.Percent(p)) {
      FlowDeploymentFilter d;
      d.op = RandomOp(rng_);
      if (rng_.Percent(85)) d.is_null = rng_.Percent(50);
      f.deployment = d;
    }
    if (rng_.Percent(p)) f.name = Name(g_.flow_names_, true);
    if (rng_.Percent(p)) f.tags = TagsLeaf(false);
    return f;
  }

  DeploymentFilter Deployments(int p) {
    DeploymentFilter f;
    f.op = RandomOp(rng_);
    if (rng_.Percent(p)) {
      IdFilter id;
      if (rng_.Percent(70)) id.any = Ids(g_.deployment_ids_);
      if (rng_.Percent(40)) id.not_any = Ids(g_.deployment_ids_);
      f.id = id;
    }
    if (rng_.Percent(p)) f.name = Name(g_.deployment_names_, true);
    if (rng_.Percent(p)) {
      NameFilter n;
      if (rng_.Percent(85))
        n.like = g_.Like(rng_, rng_.Percent(50) ? g_.flow_names_ : g_.deployment_names_);
      f.flow_or_deployment_name = n;
    }
    if (rng_.Percent(p)) {
      PausedFilter pf;
      if (rng_.Percent(85)) pf.eq = rng_.Percent(50);
      f.paused = pf;
    }
    if (rng_.Percent(p)) f.tags = TagsLeaf(true);
    if (rng_.Percent(p)) f.work_queue_name = StringsLeaf(g_.work_queues_, false, false, false);
    f.has_concurrency_limit = rng_.Percent(10);
    return f;
  }

  // --- Shapes -------------------------------------------------------------

  FilterSet General() {
    FilterSet fs;
    if (rng_.Percent(60)) fs.task_runs = TaskRuns(25);
    if (rng_.Percent(35)) fs.flow_runs = FlowRuns(15);
    if (rng_.Percent(15)) fs.flows = Flows(40);
    if (rng_.Percent(15)) fs.deployments = Deployments(35);
    if (!fs.task_runs && !fs.flow_runs && !fs.flows && !fs.deployments && rng_.Percent(85)) {
      fs.task_runs = TaskRuns(25);
    }
    return fs;
  }

  // One selective leaf (one flow run, a few task runs, a few names) and a
  // like_ of one or two letters (or mixed case), and sometimes a dense
  // sibling (subflow_runs.exists_ false, the common tag, COMPLETED).
  FilterSet SelectiveWithShortLike() {
    FilterSet fs;
    TaskRunFilter& t = fs.task_runs.emplace();
    const uint64_t which = rng_.Uniform(4);
    if (which == 0) {
      UuidRefFilter r;
      r.any = std::vector<Uuid>{
          rng_.Pick(rng_.Percent(50) ? g_.task_run_flow_runs_ : g_.flow_run_ids_)};
      r.is_null = false;
      t.flow_run_id = r;
    } else if (which == 1) {
      IdFilter id;
      id.any = std::vector<Uuid>{rng_.Pick(g_.task_run_ids_), rng_.Pick(g_.task_run_ids_)};
      t.id = id;
    } else if (which == 2) {
      FlowRunFilter& f = fs.flow_runs.emplace();
      IdFilter id;
      id.any = std::vector<Uuid>{rng_.Pick(g_.task_run_flow_runs_)};
      f.id = id;
    }
    NameFilter name;
    if (which == 3)
      name.any =
          std::vector<std::string>{rng_.Pick(g_.task_run_names_), rng_.Pick(g_.task_run_names_)};
    std::string like = Piece(rng_, rng_.Pick(g_.task_run_names_), 1 + rng_.Uniform(2));
    if (rng_.Percent(40)) like = FlipCase(rng_, like);
    name.like = like;
    t.name = name;
    if (rng_.Percent(40)) t.subflow_runs = SubflowRunsFilter{false};
    if (rng_.Percent(25)) {
      TagsFilter tags;
      tags.all = std::vector<std::string>{"prod"};
      t.tags = tags;
    }
    if (rng_.Percent(25)) t.state = State(false);
    return fs;
  }

  // Dense leaves ANDed (COMPLETED, the common tag, has a flow run, a wide
  // range, a short like_), so the match is a large share of the rows.
  FilterSet Dense() {
    FilterSet fs;
    TaskRunFilter& t = fs.task_runs.emplace();
    const int parts = 1 + static_cast<int>(rng_.Uniform(3));
    for (int i = 0; i < parts; ++i) {
      switch (rng_.Uniform(6)) {
        case 0: {
          StateFilter s;
          StateTypesFilter types;
          types.any = std::vector<StateType>{StateType::kCompleted};
          s.type = types;
          t.state = s;
          break;
        }
        case 1: {
          TagsFilter tags;
          tags.all = std::vector<std::string>{"prod"};
          t.tags = tags;
          break;
        }
        case 2: {
          UuidRefFilter r;
          r.is_null = false;
          t.flow_run_id = r;
          break;
        }
        case 3: {
          TimeFilter range;
          if (!g_.tr_expected_.empty()) range.after = g_.tr_expected_[g_.tr_expected_.size() / 8];
          t.expected_start_time = range;
          break;
        }
        case 4: {
          NameFilter name;
          name.like = FlipCase(rng_, Piece(rng_, rng_.Pick(g_.task_run_names_), 1));
          t.name = name;
          break;
        }
        default: {
          FlowRunFilter& f = fs.flow_runs.emplace();
          StateFilter s;
          StateTypesFilter types;
          types.any = std::vector<StateType>{StateType::kCompleted, StateType::kFailed};
          s.type = types;
          f.state = s;
          break;
        }
      }
    }
    return fs;
  }

  // or_ across state name / tags / like_ on task runs, or flow-run or_ with
  // deployment_id.is_null_ and tags.
  FilterSet OrShapes() {
    FilterSet fs;
    if (rng_.Percent(50)) {
      TaskRunFilter& t = fs.task_runs.emplace();
      t.op = BoolOp::kOr;
      StateFilter s;
      s.name = StringsLeaf(g_.state_names_, false, false, false);
      t.state = s;
      t.tags = TagsLeaf(false);
      NameFilter name;
      name.like = g_.Like(rng_, g_.task_run_names_);
      t.name = name;
    } else {
      FlowRunFilter& f = fs.flow_runs.emplace();
      f.op = BoolOp::kOr;
      UuidRefFilter d;
      d.is_null = rng_.Percent(70);
      f.deployment_id = d;
      f.tags = TagsLeaf(true);
      if (rng_.Percent(30)) f.state = State(true);
      if (rng_.Percent(40)) fs.task_runs = TaskRuns(20);
    }
    return fs;
  }

 private:
  const ScaleQueryGen& g_;
  TestRng& rng_;
};

ScaleQueryGen::ScaleQueryGen(const SnapshotRecords& data) {
  auto add_time = [](std::vector<Micros>* col, const std::optional<Micros>& t) {
    if (t.has_value()) col->push_back(*t);
  };
  std::set<std::string> state_names = {"Completed", "completed", "Failed"};
  std::set<std::string> tags;
  for (const TaskRunRecord& t : data.task_runs) {
    task_run_ids_.push_back(t.id);
    if (t.flow_run_id.has_value()) task_run_flow_runs_.push_back(*t.flow_run_id);
    task_run_names_.push_back(t.name);
    if (!t.tags.empty()) row_tags_.push_back(t.tags[row_tags_.size() % t.tags.size()]);
    tags.insert(t.tags.begin(), t.tags.end());
    if (t.state_name.has_value()) state_names.insert(*t.state_name);
    add_time(&tr_start_, t.start_time);
    add_time(&tr_end_, t.end_time);
    add_time(&tr_expected_, t.expected_start_time);
  }
  std::set<std::string> queues = {"default", "Default"}, versions = {"1.0"}, keys = {"k"};
  std::set<std::string> creator_types = {"DEPLOYMENT"};
  for (const FlowRunRecord& r : data.flow_runs) {
    flow_run_ids_.push_back(r.id);
    flow_run_names_.push_back(r.name);
    if (r.parent_task_run_id.has_value()) subflow_parents_.push_back(*r.parent_task_run_id);
    tags.insert(r.tags.begin(), r.tags.end());
    if (r.state_name.has_value()) state_names.insert(*r.state_name);
    if (r.work_queue_name.has_value()) queues.insert(*r.work_queue_name);
    if (r.flow_version.has_value()) versions.insert(*r.flow_version);
    if (r.idempotency_key.has_value()) keys.insert(*r.idempotency_key);
    if (r.created_by_type.has_value()) creator_types.insert(*r.created_by_type);
    add_time(&fr_start_, r.start_time);
    add_time(&fr_end_, r.end_time);
    add_time(&fr_expected_, r.expected_start_time);
    add_time(&fr_next_, r.next_scheduled_start_time);
  }
  for (const FlowRecord& f : data.flows) {
    flow_ids_.push_back(f.id);
    flow_names_.push_back(f.name);
    tags.insert(f.tags.begin(), f.tags.end());
  }
  for (const DeploymentRecord& d : data.deployments) {
    deployment_ids_.push_back(d.id);
    deployment_names_.push_back(d.name);
    tags.insert(d.tags.begin(), d.tags.end());
    if (d.work_queue_name.has_value()) queues.insert(*d.work_queue_name);
  }
  distinct_tags_.assign(tags.begin(), tags.end());
  if (row_tags_.empty()) row_tags_ = distinct_tags_;
  if (row_tags_.empty()) row_tags_ = {"prod"};
  if (distinct_tags_.empty()) distinct_tags_ = {"prod"};
  state_names_.assign(state_names.begin(), state_names.end());
  work_queues_.assign(queues.begin(), queues.end());
  flow_versions_.assign(versions.begin(), versions.end());
  idempotency_keys_.assign(keys.begin(), keys.end());
  creator_types_.assign(creator_types.begin(), creator_types.end());
  // Keep each pool non-empty so Pick never sees an empty vector.
  for (auto* names : {&task_run_names_, &flow_run_names_, &flow_names_, &deployment_names_}) {
    if (names->empty()) names->push_back("none");
  }
  for (auto* ids : {&task_run_ids_, &flow_run_ids_, &flow_ids_, &deployment_ids_,
                    &task_run_flow_runs_, &subflow_parents_}) {
    if (ids->empty()) ids->push_back(ScaleUnknownIds().front());
  }
}

std::string ScaleQueryGen::Like(TestRng& rng, const std::vector<std::string>& names) const {
  const uint64_t kind = rng.Uniform(100);
  if (kind < 15) return rng.Pick(kMetaPatterns);
  const std::string& name = rng.Pick(names);
  if (kind < 50) {
    std::string s = Piece(rng, name, 1 + rng.Uniform(2));  // one or two letters
    return rng.Percent(40) ? FlipCase(rng, s) : s;
  }
  if (kind < 75) {
    std::string s = FlipCase(rng, Piece(rng, name, 3 + rng.Uniform(6)));  // mixed case
    if (!s.empty() && rng.Percent(25)) {
      const size_t at = rng.Uniform(s.size());
      if (static_cast<unsigned char>(s[at]) < 0x80) s[at] = '_';
    }
    return s;
  }
  if (kind < 90) {
    // Selective: the name's tail (its suffix) or the whole name.
    return rng.Percent(50) ? name : Piece(rng, name, 5 + rng.Uniform(4));
  }
  std::string s = Piece(rng, name, 2 + rng.Uniform(4));
  s.insert(rng.Uniform(s.size() + 1), 1, rng.Percent(50) ? '%' : '_');
  if (rng.Percent(30)) s.push_back('\\');
  return s;
}

FilterSet ScaleQueryGen::Filters(TestRng& rng) const { return Builder(*this, rng).Set(); }

PaginateQuery ScaleQueryGen::Query(TestRng& rng) const {
  PaginateQuery q;
  q.filters = Filters(rng);
  q.sort = static_cast<TaskRunSort>(rng.Uniform(kNumTaskRunSorts));
  q.limit = 10;
  q.offset = 0;
  return q;
}

std::vector<PageCut> ScalePages(TestRng& rng, uint64_t count) {
  auto limit = [&]() -> int64_t {
    const uint64_t l = rng.Uniform(100);
    if (l < 5) return 0;
    if (l < 35) return 1 + static_cast<int64_t>(rng.Uniform(10));
    if (l < 70) return 10 + static_cast<int64_t>(rng.Uniform(50));
    return 60 + static_cast<int64_t>(rng.Uniform(141));
  };
  std::vector<PageCut> cuts;
  auto page = [&](int64_t l, uint64_t p) {  // p >= 1
    cuts.push_back(PageCut{l, (p - 1) * static_cast<uint64_t>(l)});
  };
  page(limit(), 1);
  for (int k = 0; k < 2; ++k) {  // a page in the middle, the last page
    const int64_t l = std::max<int64_t>(1, limit());
    const uint64_t pages = (count + static_cast<uint64_t>(l) - 1) / static_cast<uint64_t>(l);
    if (pages > 1) page(l, k == 0 ? 1 + rng.Uniform(pages) : pages);
  }
  const int64_t l = std::max<int64_t>(1, limit());
  page(l, count / static_cast<uint64_t>(l) + 2);                     // past the end
  if (rng.Percent(5)) cuts.push_back(PageCut{limit(), UINT64_MAX});  // page beyond 64 bits
  return cuts;
}

}  // namespace taskdex
