// tests/testing/random_data.cc

#include "tests/testing/random_data.h"

#include <string>
#include <utility>
#include <vector>

namespace taskdex {
namespace {

constexpr Micros kSecond = 1'000'000;
// 2024-05-01T10:00:00Z.
constexpr Micros kBase = Micros{1714557600} * kSecond;

// Id kinds (first byte), so dumps are readable.
constexpr uint8_t kTaskRunKind = 0x01;
constexpr uint8_t kFlowRunKind = 0xa0;
constexpr uint8_t kFlowKind = 0xf0;
constexpr uint8_t kDeploymentKind = 0xd0;
constexpr uint8_t kUnknownKind = 0xee;
constexpr uint8_t kCreatorKind = 0xc0;

Uuid MakeId(TestRng& rng, uint8_t kind, uint32_t n) {
  Uuid u;
  u.bytes[0] = kind;
  // Random middle bytes so that id order is unrelated to creation order.
  for (int i = 1; i < 4; ++i) u.bytes[i] = static_cast<uint8_t>(rng.Uniform(256));
  u.bytes[6] = 0x40;
  u.bytes[8] = 0x80;
  u.bytes[14] = static_cast<uint8_t>(n >> 8);
  u.bytes[15] = static_cast<uint8_t>(n);
  return u;
}

// Fixed ids that name nothing in any data set.
const std::vector<Uuid>& UnknownIds() {
  static const std::vector<Uuid>* ids = [] {
    auto* v = new std::vector<Uuid>;
    for (uint8_t n = 1; n <= 3; ++n) {
      Uuid u;
      u.bytes[0] = kUnknownKind;
      u.bytes[15] = n;
      v->push_back(u);
    }
    return v;
  }();
  return *ids;
}

// created_by.id values (entities.md 2.2).
const std::vector<Uuid>& CreatorIds() {
  static const std::vector<Uuid>* ids = [] {
    auto* v = new std::vector<Uuid>;
    for (uint8_t n = 1; n <= 3; ++n) {
      Uuid u;
      u.bytes[0] = kCreatorKind;
      u.bytes[6] = 0x40;
      u.bytes[8] = 0x80;
      u.bytes[15] = n;
      v->push_back(u);
    }
    return v;
  }();
  return *ids;
}

std::string HexUuid(const Uuid& u, bool upper) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[u.bytes[i] >> 4]);
    out.push_back(hex[u.bytes[i] & 0xF]);
  }
  return out;
}

// Vocabularies: small, with case variants, like_ metacharacters, a
// backslash and multibyte characters.
const std::vector<std::string> kFlowNames = {
    "etl", "ETL", "ml_train", "Report-Daily", "100%", "back\\slash", "caf\xc3\xa9", "etl"};
const std::vector<std::string> kDeploymentNames = {
    "d-1-1", "d-1-2", "d_1", "etl-nightly", "report_main", "Nightly%", "d\xc3\xa9p"};
const std::vector<std::string> kFlowRunNames = {
    "happy-otter", "sad_llama", "Quick%Fox", "x\\y", "\xc3\xb1" "and\xc3\xba", "happy-otter"};
const std::vector<std::string> kTaskRunNames = {
    "extract_a", "extract-b", "extractXa", "Extract_A", "load",  "Load", "",
    "%",         "_x",        "a\\b",      "\xc3\xa9t\xc3\xa9", "\xc3\x89T\xc3\x89",
    "Transform", "cleanup"};
const std::vector<std::string> kTags = {"a", "b", "prod", "Prod", "\xc3\xa9"};
const std::vector<std::string> kStateNames = {"Completed", "Cached",    "Failed",   "Running",
                                              "Pending",   "Scheduled", "completed"};
const std::vector<std::string> kWorkQueues = {"default", "q1", "Q1"};
const std::vector<std::string> kFlowVersions = {"1.0", "2.0", "1.0 "};
const std::vector<std::string> kIdempotencyKeys = {"k", "K", "k2"};
const std::vector<std::string> kCreatorTypes = {"DEPLOYMENT", "AUTOMATION", "deployment"};
// Patterns that exercise the token rules of paginate.md 4.2 directly.
const std::vector<std::string> kLikePatterns = {
    "",   "_",     "%",      "\\",    "\\\\", "\\_", "\\%", "a\\", "_\\", "%\\", "\xc3\xa9",
    "\xc3\x89", "__", "t_a", "ct\\_a", "x%a", "-", "%5", "e_", "\\x", "A"};

std::vector<std::string> RandomTags(TestRng& rng) {
  std::vector<std::string> tags;
  if (rng.Percent(30)) return tags;
  const uint64_t n = 1 + rng.Uniform(3);
  for (uint64_t i = 0; i < n; ++i) tags.push_back(rng.Pick(kTags));  // duplicates allowed
  return tags;
}

std::optional<Micros> RandomTime(TestRng& rng, int null_percent) {
  if (rng.Percent(null_percent)) return std::nullopt;
  return rng.Pick(TestInstants());
}

std::optional<StateType> RandomStateType(TestRng& rng) {
  if (rng.Percent(15)) return std::nullopt;
  return static_cast<StateType>(rng.Uniform(kNumStateTypes));
}

std::optional<std::string> RandomOptional(TestRng& rng, const std::vector<std::string>& vocab,
                                          int null_percent) {
  if (rng.Percent(null_percent)) return std::nullopt;
  return rng.Pick(vocab);
}

// ---------------------------------------------------------------------------
// Filters

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

// A value for an exact-match list: usually from the vocabulary, sometimes a
// case variant that must not match.
std::string PickValue(TestRng& rng, const std::vector<std::string>& vocab) {
  std::string s = rng.Pick(vocab);
  if (rng.Percent(15)) s = FlipCase(rng, s);
  return s;
}

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// A like_ pattern: a fixed metacharacter case, or a piece of a name from the
// vocabulary, case-flipped, with a wildcard or an escape added.
std::string RandomLike(TestRng& rng, const std::vector<std::string>& names) {
  if (rng.Percent(35)) return rng.Pick(kLikePatterns);
  const std::string& name = rng.Pick(names);
  std::vector<size_t> cuts;  // code-point boundaries
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || !IsContinuationByte(name[i])) cuts.push_back(i);
  }
  size_t a = rng.Uniform(cuts.size());
  size_t b = rng.Uniform(cuts.size());
  if (a > b) std::swap(a, b);
  std::string s = name.substr(cuts[a], cuts[b] - cuts[a]);
  if (rng.Percent(40)) s = FlipCase(rng, s);
  if (!s.empty() && rng.Percent(20)) {
    size_t at = rng.Uniform(s.size());
    if (!IsContinuationByte(s[at]) && static_cast<unsigned char>(s[at]) < 0x80) s[at] = '_';
  }
  if (rng.Percent(10)) s.insert(rng.Uniform(s.size() + 1), "%");
  if (rng.Percent(10)) s.insert(rng.Uniform(s.size() + 1), "\\");
  if (rng.Percent(8)) s.push_back('\\');
  return s;
}

// Length 0 (10%) or 1-3.
uint64_t RandomListLength(TestRng& rng) { return rng.Percent(10) ? 0 : 1 + rng.Uniform(3); }

std::vector<std::string> RandomStrings(TestRng& rng, const std::vector<std::string>& vocab) {
  std::vector<std::string> v;
  const uint64_t n = RandomListLength(rng);
  for (uint64_t i = 0; i < n; ++i) v.push_back(PickValue(rng, vocab));
  return v;
}

std::vector<StateType> RandomStateTypes(TestRng& rng) {
  std::vector<StateType> v;
  const uint64_t n = RandomListLength(rng);
  for (uint64_t i = 0; i < n; ++i) v.push_back(static_cast<StateType>(rng.Uniform(kNumStateTypes)));
  return v;
}

BoolOp RandomOp(TestRng& rng) { return rng.Percent(45) ? BoolOp::kOr : BoolOp::kAnd; }

Micros RandomBound(TestRng& rng) {
  Micros t = rng.Pick(TestInstants());
  if (rng.Percent(10)) t += 1;
  if (rng.Percent(10)) t -= 1;
  return t;
}

class FilterGen {
 public:
  FilterGen(TestRng& rng, const SnapshotRecords& data) : rng_(rng) {
    for (const auto& r : data.task_runs) task_run_ids_.push_back(r.id);
    for (const auto& r : data.flow_runs) flow_run_ids_.push_back(r.id);
    for (const auto& r : data.flows) flow_ids_.push_back(r.id);
    for (const auto& r : data.deployments) deployment_ids_.push_back(r.id);
  }

  FilterSet Set() {
    FilterSet fs;
    if (rng_.Percent(50)) fs.task_runs = TaskRuns();
    if (rng_.Percent(35)) fs.flow_runs = FlowRuns();
    if (rng_.Percent(20)) fs.flows = Flows();
    if (rng_.Percent(20)) fs.deployments = Deployments();
    // An empty FilterSet now and then, not a third of the time.
    if (!fs.task_runs && !fs.flow_runs && !fs.flows && !fs.deployments && rng_.Percent(80)) {
      fs.task_runs = TaskRuns();
    }
    return fs;
  }

 private:
  bool Field(int percent) { return rng_.Percent(percent); }

  std::vector<Uuid> Ids(const std::vector<Uuid>& pool) {
    std::vector<Uuid> v;
    const uint64_t n = RandomListLength(rng_);
    for (uint64_t i = 0; i < n; ++i) {
      if (pool.empty() || rng_.Percent(12)) {
        v.push_back(rng_.Pick(UnknownIds()));
      } else {
        v.push_back(rng_.Pick(pool));
      }
    }
    return v;
  }

  IdFilter Id(const std::vector<Uuid>& pool, bool has_not_any) {
    IdFilter f;
    if (Field(60)) f.any = Ids(pool);
    if (has_not_any && Field(40)) f.not_any = Ids(pool);
    return f;
  }

  NameFilter Name(const std::vector<std::string>& vocab) {
    NameFilter f;
    if (Field(40)) f.any = RandomStrings(rng_, vocab);
    if (Field(60)) f.like = RandomLike(rng_, vocab);
    return f;
  }

  TagsFilter Tags(bool has_any) {
    TagsFilter f;
    f.op = RandomOp(rng_);
    if (Field(50)) f.all = RandomStrings(rng_, kTags);
    if (has_any && Field(50)) f.any = RandomStrings(rng_, kTags);
    if (Field(30)) f.is_null = rng_.Percent(50);
    return f;
  }

  TimeFilter Time(bool has_is_null) {
    TimeFilter f;
    if (Field(50)) f.before = RandomBound(rng_);
    if (Field(50)) f.after = RandomBound(rng_);
    if (has_is_null && Field(30)) f.is_null = rng_.Percent(50);
    return f;
  }

  StringsFilter Strings(const std::vector<std::string>& vocab, bool has_not_any,
                        bool has_is_null, bool has_op) {
    StringsFilter f;
    if (has_op) f.op = RandomOp(rng_);
    if (Field(60)) f.any = RandomStrings(rng_, vocab);
    if (has_not_any && Field(45)) f.not_any = RandomStrings(rng_, vocab);
    if (has_is_null && Field(35)) f.is_null = rng_.Percent(50);
    return f;
  }

  StateFilter State(bool flow_run) {
    StateFilter f;
    f.op = RandomOp(rng_);
    if (Field(60)) {
      StateTypesFilter t;
      if (Field(65)) t.any = RandomStateTypes(rng_);
      if (flow_run && Field(45)) t.not_any = RandomStateTypes(rng_);
      f.type = t;
    }
    if (Field(50)) f.name = Strings(kStateNames, flow_run, false, false);
    return f;
  }

  UuidRefFilter Ref(const std::vector<Uuid>& pool, bool has_is_null) {
    UuidRefFilter f;
    f.op = RandomOp(rng_);
    if (Field(55)) f.any = Ids(pool);
    if (has_is_null && Field(45)) f.is_null = rng_.Percent(50);
    return f;
  }

  TaskRunFilter TaskRuns() {
    TaskRunFilter f;
    f.op = RandomOp(rng_);
    const int p = 22;
    if (Field(p)) f.id = Id(task_run_ids_, false);
    if (Field(p)) f.name = Name(kTaskRunNames);
    if (Field(p)) f.tags = Tags(false);
    if (Field(p)) f.state = State(false);
    if (Field(p)) f.start_time = Time(true);
    if (Field(p)) f.end_time = Time(true);
    if (Field(p)) f.expected_start_time = Time(false);
    if (Field(p)) {
      SubflowRunsFilter s;
      if (Field(80)) s.exists = rng_.Percent(50);
      f.subflow_runs = s;
    }
    if (Field(p)) {
      // As the parser builds it: is_null_ absent means false, an explicit
      // null is nullopt (paginate.md 4.4.9).
      UuidRefFilter r;
      r.op = RandomOp(rng_);
      if (Field(55)) r.any = Ids(flow_run_ids_);
      const uint64_t k = rng_.Uniform(3);
      r.is_null = k == 0 ? std::optional<bool>() : std::optional<bool>(k == 1);
      f.flow_run_id = r;
    }
    return f;
  }

  FlowRunFilter FlowRuns() {
    FlowRunFilter f;
    f.op = RandomOp(rng_);
    const int p = 14;
    if (Field(p)) f.id = Id(flow_run_ids_, true);
    if (Field(p)) f.name = Name(kFlowRunNames);
    if (Field(p)) f.tags = Tags(true);
    if (Field(p)) f.deployment_id = Ref(deployment_ids_, true);
    if (Field(p)) f.work_queue_name = Strings(kWorkQueues, false, true, true);
    if (Field(p)) f.flow_version = Strings(kFlowVersions, false, false, false);
    if (Field(p)) f.state = State(true);
    if (Field(p)) f.start_time = Time(true);
    if (Field(p)) f.end_time = Time(true);
    if (Field(p)) f.expected_start_time = Time(false);
    if (Field(p)) f.next_scheduled_start_time = Time(false);
    if (Field(p)) f.parent_flow_run_id = Ref(flow_run_ids_, false);
    if (Field(p)) f.parent_task_run_id = Ref(task_run_ids_, true);
    if (Field(p)) f.idempotency_key = Strings(kIdempotencyKeys, true, false, false);
    if (Field(p)) {
      CreatedByFilter c;
      c.op = RandomOp(rng_);
      if (Field(50)) {
        std::vector<Uuid> ids;
        const uint64_t n = RandomListLength(rng_);
        for (uint64_t i = 0; i < n; ++i) {
          ids.push_back(rng_.Percent(85) ? rng_.Pick(CreatorIds()) : rng_.Pick(UnknownIds()));
        }
        c.id = ids;
      }
      if (Field(50)) c.type = RandomStrings(rng_, kCreatorTypes);
      if (Field(35)) c.is_null = rng_.Percent(50);
      f.created_by = c;
    }
    return f;
  }

  FlowFilter Flows() {
    FlowFilter f;
    f.op = RandomOp(rng_);
    const int p = 35;
    if (Field(p)) f.id = Id(flow_ids_, true);
    if (Field(p)) {
      FlowDeploymentFilter d;
      d.op = RandomOp(rng_);
      if (Field(80)) d.is_null = rng_.Percent(50);
      f.deployment = d;
    }
    if (Field(p)) f.name = Name(kFlowNames);
    if (Field(p)) f.tags = Tags(false);
    return f;
  }

  DeploymentFilter Deployments() {
    DeploymentFilter f;
    f.op = RandomOp(rng_);
    const int p = 30;
    if (Field(p)) f.id = Id(deployment_ids_, true);
    if (Field(p)) f.name = Name(kDeploymentNames);
    if (Field(p)) {
      NameFilter n;
      if (Field(80)) {
        std::vector<std::string> both = kDeploymentNames;
        both.insert(both.end(), kFlowNames.begin(), kFlowNames.end());
        n.like = RandomLike(rng_, both);
      }
      f.flow_or_deployment_name = n;
    }
    if (Field(p)) {
      PausedFilter pf;
      if (Field(80)) pf.eq = rng_.Percent(50);
      f.paused = pf;
    }
    if (Field(p)) f.tags = Tags(true);
    if (Field(p)) f.work_queue_name = Strings(kWorkQueues, false, false, false);
    f.has_concurrency_limit = Field(15);
    return f;
  }

  TestRng& rng_;
  std::vector<Uuid> task_run_ids_;
  std::vector<Uuid> flow_run_ids_;
  std::vector<Uuid> flow_ids_;
  std::vector<Uuid> deployment_ids_;
};

template <typename T>
void Shuffle(TestRng& rng, std::vector<T>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.Uniform(i)]);
}

template <typename T>
void Shuffle(TestRng& rng, List<T>& v) {
  if (v.has_value()) Shuffle(rng, *v);
}

template <typename T, typename F>
void Each(std::optional<T>& x, F f) {
  if (x.has_value()) f(*x);
}

}  // namespace

uint64_t TestRng::Next() {
  // splitmix64.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t TestRng::Uniform(uint64_t n) { return Next() % n; }

bool TestRng::Percent(int percent) { return static_cast<int>(Uniform(100)) < percent; }

const std::vector<Micros>& TestInstants() {
  static const std::vector<Micros>* instants = new std::vector<Micros>{
      kBase, kBase + 1, kBase + 60 * kSecond, kBase + 120 * kSecond, kBase + 3600 * kSecond};
  return *instants;
}

SnapshotRecords RandomRecords(TestRng& rng) {
  SnapshotRecords data;
  // Mostly non-empty tables; an empty one now and then.
  auto size = [&](uint32_t max) {
    return rng.Percent(8) ? 0 : 1 + static_cast<uint32_t>(rng.Uniform(max));
  };
  const uint32_t n_flows = size(5);
  const uint32_t n_deployments = size(5);
  const uint32_t n_flow_runs = size(12);
  const uint32_t n_task_runs = size(40);

  // Ids first, so references can point forward (parent_task_run_id).
  std::vector<Uuid> flow_ids, deployment_ids, flow_run_ids, task_run_ids;
  for (uint32_t i = 0; i < n_flows; ++i) flow_ids.push_back(MakeId(rng, kFlowKind, i));
  for (uint32_t i = 0; i < n_deployments; ++i) {
    deployment_ids.push_back(MakeId(rng, kDeploymentKind, i));
  }
  for (uint32_t i = 0; i < n_flow_runs; ++i) flow_run_ids.push_back(MakeId(rng, kFlowRunKind, i));
  for (uint32_t i = 0; i < n_task_runs; ++i) task_run_ids.push_back(MakeId(rng, kTaskRunKind, i));

  auto flow_ref = [&]() -> Uuid {
    if (flow_ids.empty() || rng.Percent(8)) return rng.Pick(UnknownIds());
    return rng.Pick(flow_ids);
  };

  for (uint32_t i = 0; i < n_flows; ++i) {
    FlowRecord f;
    f.id = flow_ids[i];
    f.name = rng.Pick(kFlowNames);
    f.tags = RandomTags(rng);
    data.flows.push_back(std::move(f));
  }
  for (uint32_t i = 0; i < n_deployments; ++i) {
    DeploymentRecord d;
    d.id = deployment_ids[i];
    d.name = rng.Pick(kDeploymentNames);
    d.flow_id = flow_ref();
    d.paused = rng.Percent(35);
    d.tags = RandomTags(rng);
    d.work_queue_name = RandomOptional(rng, kWorkQueues, 30);
    data.deployments.push_back(std::move(d));
  }
  for (uint32_t i = 0; i < n_flow_runs; ++i) {
    FlowRunRecord r;
    r.id = flow_run_ids[i];
    r.flow_id = flow_ref();
    r.name = rng.Pick(kFlowRunNames);
    const uint64_t dep = rng.Uniform(100);
    if (dep < 30) {
      r.deployment_id = std::nullopt;
    } else if (dep < 85 && !deployment_ids.empty()) {
      r.deployment_id = rng.Pick(deployment_ids);
    } else {
      r.deployment_id = rng.Pick(UnknownIds());  // deleted deployment
    }
    r.work_queue_name = RandomOptional(rng, kWorkQueues, 40);
    r.flow_version = RandomOptional(rng, kFlowVersions, 40);
    r.idempotency_key = RandomOptional(rng, kIdempotencyKeys, 50);
    r.tags = RandomTags(rng);
    if (rng.Percent(60)) {
      r.has_created_by = true;
      const uint64_t k = rng.Uniform(10);
      if (k < 6) {
        r.created_by_id = HexUuid(rng.Pick(CreatorIds()), false);
      } else if (k == 6) {
        r.created_by_id = HexUuid(rng.Pick(CreatorIds()), true);  // never matches id_
      } else if (k == 7) {
        r.created_by_id = "123";  // a non-string JSON value, as text
      }  // else: key missing or null
      if (rng.Percent(75)) r.created_by_type = rng.Pick(kCreatorTypes);
    }
    r.state_type = RandomStateType(rng);
    r.state_name = RandomOptional(rng, kStateNames, 15);
    r.expected_start_time = RandomTime(rng, 40);
    r.next_scheduled_start_time = RandomTime(rng, 60);
    r.start_time = RandomTime(rng, 45);
    r.end_time = RandomTime(rng, 50);
    const uint64_t parent = rng.Uniform(100);
    if (parent < 30 && !task_run_ids.empty()) {
      r.parent_task_run_id = rng.Pick(task_run_ids);
    } else if (parent < 40) {
      r.parent_task_run_id = rng.Pick(UnknownIds());  // deleted parent task
    }
    data.flow_runs.push_back(std::move(r));
  }
  for (uint32_t i = 0; i < n_task_runs; ++i) {
    TaskRunRecord t;
    t.id = task_run_ids[i];
    t.name = rng.Pick(kTaskRunNames);
    t.task_key = t.name;
    t.dynamic_key = "0";
    const uint64_t fr = rng.Uniform(100);
    if (fr < 15 || (flow_run_ids.empty() && fr < 90)) {
      t.flow_run_id = std::nullopt;  // autonomous task
    } else if (fr < 90) {
      t.flow_run_id = rng.Pick(flow_run_ids);
    } else {
      t.flow_run_id = rng.Pick(UnknownIds());  // orphan
    }
    t.tags = RandomTags(rng);
    t.state_type = RandomStateType(rng);
    t.state_name = RandomOptional(rng, kStateNames, 15);
    t.expected_start_time = RandomTime(rng, 25);
    t.next_scheduled_start_time = RandomTime(rng, 65);
    t.start_time = RandomTime(rng, 40);
    t.end_time = RandomTime(rng, 45);
    data.task_runs.push_back(std::move(t));
  }
  return data;
}

FilterSet RandomFilterSet(TestRng& rng, const SnapshotRecords& data) {
  FilterGen gen(rng, data);
  return gen.Set();
}

void RandomSortAndPage(TestRng& rng, PaginateQuery* query) {
  query->sort = static_cast<TaskRunSort>(rng.Uniform(kNumTaskRunSorts));
  const uint64_t l = rng.Uniform(100);
  if (l < 8) {
    query->limit = 0;
  } else if (l < 55) {
    query->limit = 1 + static_cast<int64_t>(rng.Uniform(5));
  } else if (l < 80) {
    query->limit = 6 + static_cast<int64_t>(rng.Uniform(15));
  } else {
    query->limit = 21 + static_cast<int64_t>(rng.Uniform(180));
  }
  const uint64_t p = rng.Uniform(100);
  uint64_t page = 1;
  if (p < 65) {
    page = 1;
  } else if (p < 88) {
    page = 2 + rng.Uniform(4);
  } else if (p < 95) {
    page = 6 + rng.Uniform(100);
  } else {
    page = UINT64_MAX - rng.Uniform(3);  // beyond 64 bits once multiplied
  }
  const auto limit = static_cast<uint64_t>(query->limit);
  if (limit != 0 && page - 1 > UINT64_MAX / limit) {
    query->offset = UINT64_MAX;
  } else {
    query->offset = (page - 1) * limit;
  }
  if (rng.Percent(2)) query->offset = UINT64_MAX;
}

PaginateQuery RandomQuery(TestRng& rng, const SnapshotRecords& data) {
  PaginateQuery q;
  q.filters = RandomFilterSet(rng, data);
  RandomSortAndPage(rng, &q);
  return q;
}

FilterSet ShuffleLists(TestRng& rng, FilterSet fs) {
  auto id = [&](IdFilter& f) {
    Shuffle(rng, f.any);
    Shuffle(rng, f.not_any);
  };
  auto name = [&](NameFilter& f) { Shuffle(rng, f.any); };
  auto tags = [&](TagsFilter& f) {
    Shuffle(rng, f.all);
    Shuffle(rng, f.any);
  };
  auto strings = [&](StringsFilter& f) {
    Shuffle(rng, f.any);
    Shuffle(rng, f.not_any);
  };
  auto state = [&](StateFilter& f) {
    Each(f.type, [&](StateTypesFilter& t) {
      Shuffle(rng, t.any);
      Shuffle(rng, t.not_any);
    });
    Each(f.name, strings);
  };
  auto ref = [&](UuidRefFilter& f) { Shuffle(rng, f.any); };
  Each(fs.task_runs, [&](TaskRunFilter& f) {
    Each(f.id, id);
    Each(f.name, name);
    Each(f.tags, tags);
    Each(f.state, state);
    Each(f.flow_run_id, ref);
  });
  Each(fs.flow_runs, [&](FlowRunFilter& f) {
    Each(f.id, id);
    Each(f.name, name);
    Each(f.tags, tags);
    Each(f.deployment_id, ref);
    Each(f.work_queue_name, strings);
    Each(f.flow_version, strings);
    Each(f.state, state);
    Each(f.parent_flow_run_id, ref);
    Each(f.parent_task_run_id, ref);
    Each(f.idempotency_key, strings);
    Each(f.created_by, [&](CreatedByFilter& c) {
      Shuffle(rng, c.id);
      Shuffle(rng, c.type);
    });
  });
  Each(fs.flows, [&](FlowFilter& f) {
    Each(f.id, id);
    Each(f.name, name);
    Each(f.tags, tags);
  });
  Each(fs.deployments, [&](DeploymentFilter& f) {
    Each(f.id, id);
    Each(f.name, name);
    Each(f.tags, tags);
    Each(f.work_queue_name, strings);
  });
  return fs;
}

}  // namespace taskdex
