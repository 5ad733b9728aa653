// tests/bench/generated_compare_test.cc
//
// `taskdex bench --compare-sqlite` in CI: a small generated data set
// (bench/generator.h, fixed seed, in a temporary directory removed at the
// end) is loaded into the engine and into the SQLite mirror
// (bench/sqlite_compare.h); the generator's own query mix and seeded random
// queries aimed at the data must give the same ids in order and the same
// count on both.
//
// The random queries follow tests/testing/random_data.cc (the same filter
// classes, operators and Prefect-class restrictions), but take their values
// from the generated rows: each query has an "anchor" task run, and most
// values (names, tags, ids, states, time bounds around its times) come from
// it, its flow run, flow and deployment, so that most queries match rows
// instead of the tiny test vocabularies, which name nothing here.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/paginate_request.h"
#include "bench/bench_runner.h"
#include "bench/generator.h"
#include "bench/sqlite_compare.h"
#include "engine/executor.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"

namespace taskdex {
namespace {

constexpr uint64_t kTaskRuns = 20000;
constexpr uint64_t kGeneratorSeed = 20261128;
constexpr uint64_t kQuerySeed = 9182736455;
// Random queries per run; TASKDEX_GENCMP_QUERIES=N runs N instead (for a
// longer local check). SQLite takes most of the time: ~10 ms per query here.
constexpr int kRandomQueries = 600;

int RandomQueryCount() {
  const char* env = std::getenv("TASKDEX_GENCMP_QUERIES");
  if (env == nullptr || *env == '\0') return kRandomQueries;
  const int n = std::atoi(env);
  return n > 0 ? n : kRandomQueries;
}

std::vector<Uuid> EngineIds(const Store& store, const PageResult& page) {
  std::vector<Uuid> ids;
  for (RowId row : page.rows) ids.push_back(store.task_runs.id[row]);
  return ids;
}

std::string IdsText(const std::vector<Uuid>& ids) {
  std::string out;
  for (const Uuid& id : ids) out += UuidToString(id) + " ";
  return out;
}

// ---- queries aimed at the data ---------------------------------------------------------

class AimedQueryGen {
 public:
  AimedQueryGen(TestRng& rng, const SnapshotRecords& data) : rng_(rng), data_(data) {
    for (size_t i = 0; i < data.flow_runs.size(); ++i) flow_run_at_[data.flow_runs[i].id] = i;
    for (size_t i = 0; i < data.flows.size(); ++i) flow_at_[data.flows[i].id] = i;
    for (size_t i = 0; i < data.deployments.size(); ++i) {
      deployment_at_[data.deployments[i].id] = i;
    }
  }

  PaginateQuery Query() {
    Anchor();
    PaginateQuery q;
    if (rng_.Percent(55)) q.filters.task_runs = TaskRuns();
    if (rng_.Percent(35)) q.filters.flow_runs = FlowRuns();
    if (rng_.Percent(20)) q.filters.flows = Flows();
    if (rng_.Percent(20)) q.filters.deployments = Deployments();
    if (!q.filters.task_runs && !q.filters.flow_runs && !q.filters.flows &&
        !q.filters.deployments && rng_.Percent(80)) {
      q.filters.task_runs = TaskRuns();
    }
    RandomSortAndPage(rng_, &q);
    // Mostly first pages: deep random pages are usually past the end.
    if (rng_.Percent(60)) q.offset = 0;
    return q;
  }

 private:
  // Picks the anchor rows the values come from (each may be absent).
  void Anchor() {
    tr_ = &data_.task_runs[rng_.Uniform(data_.task_runs.size())];
    fr_ = nullptr;
    flow_ = nullptr;
    dep_ = nullptr;
    if (tr_->flow_run_id) {
      auto it = flow_run_at_.find(*tr_->flow_run_id);
      if (it != flow_run_at_.end()) fr_ = &data_.flow_runs[it->second];
    }
    if (fr_ == nullptr && rng_.Percent(50)) fr_ = &rng_.Pick(data_.flow_runs);
    if (fr_ != nullptr) {
      auto f = flow_at_.find(fr_->flow_id);
      if (f != flow_at_.end()) flow_ = &data_.flows[f->second];
      if (fr_->deployment_id) {
        auto d = deployment_at_.find(*fr_->deployment_id);
        if (d != deployment_at_.end()) dep_ = &data_.deployments[d->second];
      }
    }
    if (flow_ == nullptr) flow_ = &rng_.Pick(data_.flows);
    if (dep_ == nullptr && rng_.Percent(50)) dep_ = &rng_.Pick(data_.deployments);
  }

  bool Field(int percent) { return rng_.Percent(percent); }
  // Mostly AND, so that values taken from the anchor keep it matching.
  BoolOp Op() { return rng_.Percent(25) ? BoolOp::kOr : BoolOp::kAnd; }
  uint64_t Len() { return rng_.Percent(5) ? 0 : 1 + rng_.Uniform(3); }

  // A list led by `own` (if set) plus random others; its length may be 0.
  template <typename T, typename F>
  std::vector<T> List(const std::optional<T>& own, F other) {
    std::vector<T> v;
    const uint64_t n = Len();
    for (uint64_t i = 0; i < n; ++i) {
      if (i == 0 && own && rng_.Percent(85)) {
        v.push_back(*own);
      } else {
        v.push_back(other());
      }
    }
    return v;
  }

  // A list of values none of which is `own` (for not_any_), usually.
  template <typename T, typename F>
  std::vector<T> Others(const std::optional<T>& own, F other) {
    std::vector<T> v;
    const uint64_t n = Len();
    for (uint64_t i = 0; i < n; ++i) {
      T x = other();
      if (own && x == *own && rng_.Percent(80)) continue;
      v.push_back(x);
    }
    return v;
  }

  Uuid AnyTaskRunId() { return rng_.Pick(data_.task_runs).id; }
  Uuid AnyFlowRunId() { return rng_.Pick(data_.flow_runs).id; }
  Uuid AnyFlowId() { return rng_.Pick(data_.flows).id; }
  Uuid AnyDeploymentId() { return rng_.Pick(data_.deployments).id; }

  // Flips the case of some letters now and then (a variant that must not
  // match exact lists, and must match like_).
  std::string Vary(std::string s, int percent) {
    if (!rng_.Percent(percent)) return s;
    for (char& c : s) {
      if (!rng_.Percent(50)) continue;
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      else if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  }

  // A like_ pattern from a piece of `name`: case-varied, sometimes with `_`
  // or `%` inside, now and then a string that matches little.
  std::string Like(const std::string& name) {
    if (rng_.Percent(8)) return rng_.Percent(50) ? "zz_no_such" : "";
    std::string s = name;
    if (!s.empty() && rng_.Percent(70)) {
      size_t a = rng_.Uniform(s.size());
      size_t len = 1 + rng_.Uniform(std::min<size_t>(8, s.size() - a));
      s = s.substr(a, len);
    }
    s = Vary(s, 40);
    if (!s.empty() && rng_.Percent(15)) s[rng_.Uniform(s.size())] = '_';
    if (rng_.Percent(8)) s.insert(rng_.Uniform(s.size() + 1), "%");
    return s;
  }

  NameFilter Name(const std::string& own, const std::vector<std::string>& pool) {
    NameFilter f;
    if (Field(40)) {
      f.any = List<std::string>(own, [&] { return Vary(rng_.Pick(pool), 15); });
    }
    if (Field(60)) f.like = Like(rng_.Percent(85) ? own : rng_.Pick(pool));
    return f;
  }

  std::string AnyTag() {
    // The generator's tags are Zipf; a row's own tags are the common ones.
    const auto& row = rng_.Pick(data_.task_runs);
    if (!row.tags.empty()) return rng_.Pick(row.tags);
    return "tag-" + std::to_string(rng_.Uniform(120));
  }

  TagsFilter Tags(const std::vector<std::string>& own, bool has_any) {
    TagsFilter f;
    f.op = Op();
    auto own_or_any = [&] { return own.empty() || rng_.Percent(25) ? AnyTag() : rng_.Pick(own); };
    if (Field(55)) {
      std::vector<std::string> v;
      const uint64_t n = rng_.Uniform(3);
      for (uint64_t i = 0; i < n; ++i) v.push_back(own_or_any());
      f.all = v;
    }
    if (has_any && Field(45)) {
      std::vector<std::string> v;
      const uint64_t n = Len();
      for (uint64_t i = 0; i < n; ++i) v.push_back(own_or_any());
      f.any = v;
    }
    if (Field(20)) f.is_null = rng_.Percent(25) ? !own.empty() : own.empty();
    return f;
  }

  // Bounds around the anchor's time (or any of the field's times).
  TimeFilter Time(std::optional<Micros> own, bool has_is_null) {
    TimeFilter f;
    Micros at = own ? *own : kGeneratorDefaultNow - static_cast<Micros>(rng_.Uniform(30)) *
                                                       86'400'000'000LL;
    auto spread = [&] {
      static const Micros kSpreads[] = {0, 1, 1'000'000, 60'000'000, 3'600'000'000LL,
                                        86'400'000'000LL, 10 * 86'400'000'000LL};
      return kSpreads[rng_.Uniform(std::size(kSpreads))];
    };
    const bool flip = rng_.Percent(10);  // a range that misses the anchor
    if (Field(55)) f.before = flip ? at - 1 - spread() : at + spread();
    if (Field(55)) f.after = flip ? at + 1 + spread() : at - spread();
    if (has_is_null && Field(25)) f.is_null = rng_.Percent(80) ? !own.has_value() : own.has_value();
    return f;
  }

  StateFilter State(std::optional<StateType> own_type, const std::optional<std::string>& own_name,
                    const std::vector<std::string>& names, bool flow_run) {
    StateFilter f;
    f.op = Op();
    auto type = [&] { return static_cast<StateType>(rng_.Uniform(kNumStateTypes)); };
    if (Field(60)) {
      StateTypesFilter t;
      if (Field(70)) t.any = List<StateType>(own_type, type);
      if (flow_run && Field(40)) t.not_any = Others<StateType>(own_type, type);
      f.type = t;
    }
    if (Field(45)) {
      StringsFilter s;
      auto name = [&] { return Vary(rng_.Pick(names), 10); };
      if (Field(70)) s.any = List<std::string>(own_name, name);
      if (flow_run && Field(40)) s.not_any = Others<std::string>(own_name, name);
      f.name = s;
    }
    return f;
  }

  UuidRefFilter Ref(std::optional<Uuid> own, Uuid (AimedQueryGen::*other)(), bool has_is_null) {
    UuidRefFilter f;
    f.op = Op();
    if (Field(60)) f.any = List<Uuid>(own, [&] { return (this->*other)(); });
    if (has_is_null && Field(35)) f.is_null = rng_.Percent(80) ? !own.has_value() : own.has_value();
    return f;
  }

  StringsFilter Strings(const std::optional<std::string>& own,
                        const std::vector<std::string>& pool, bool has_not_any, bool has_is_null,
                        bool has_op) {
    StringsFilter f;
    if (has_op) f.op = Op();
    auto other = [&] { return pool.empty() ? std::string("none") : Vary(rng_.Pick(pool), 10); };
    if (Field(65)) f.any = List<std::string>(own, other);
    if (has_not_any && Field(40)) f.not_any = Others<std::string>(own, other);
    if (has_is_null && Field(30)) f.is_null = rng_.Percent(80) ? !own.has_value() : own.has_value();
    return f;
  }

  // Distinct values of a field, collected on first use.
  template <typename Rows, typename F>
  static std::vector<std::string> Distinct(const Rows& rows, F field) {
    std::map<std::string, int> seen;
    for (const auto& r : rows) {
      std::optional<std::string> v = field(r);
      if (v) seen[*v] = 0;
    }
    std::vector<std::string> out;
    for (const auto& [k, v] : seen) out.push_back(k);
    return out;
  }

  const std::vector<std::string>& Pool(int which) {
    if (pools_.empty()) {
      auto opt = [](const std::string& s) { return std::optional<std::string>(s); };
      pools_.push_back(Distinct(data_.task_runs, [&](const TaskRunRecord& r) { return opt(r.name); }));
      pools_.push_back(Distinct(data_.flow_runs, [&](const FlowRunRecord& r) { return opt(r.name); }));
      pools_.push_back(Distinct(data_.flows, [&](const FlowRecord& r) { return opt(r.name); }));
      pools_.push_back(Distinct(data_.deployments, [&](const DeploymentRecord& r) { return opt(r.name); }));
      pools_.push_back(Distinct(data_.task_runs, [](const TaskRunRecord& r) { return r.state_name; }));
      pools_.push_back(Distinct(data_.flow_runs, [](const FlowRunRecord& r) { return r.work_queue_name; }));
      pools_.push_back(Distinct(data_.flow_runs, [](const FlowRunRecord& r) { return r.flow_version; }));
      pools_.push_back(Distinct(data_.flow_runs, [](const FlowRunRecord& r) { return r.idempotency_key; }));
      pools_.push_back(Distinct(data_.flow_runs, [](const FlowRunRecord& r) { return r.created_by_type; }));
      pools_.push_back(Distinct(data_.flow_runs, [](const FlowRunRecord& r) { return r.state_name; }));
    }
    return pools_[static_cast<size_t>(which)];
  }
  enum { kTaskNames, kFlowRunNames, kFlowNames, kDeploymentNames, kTaskStateNames, kQueues,
         kVersions, kIdemKeys, kCreatorTypes, kFlowRunStateNames };

  TaskRunFilter TaskRuns() {
    TaskRunFilter f;
    f.op = Op();
    const int p = 25;
    if (Field(p)) {
      IdFilter id;
      id.any = List<Uuid>(tr_->id, [&] { return AnyTaskRunId(); });
      f.id = id;
    }
    if (Field(p)) f.name = Name(tr_->name, Pool(kTaskNames));
    if (Field(p)) f.tags = Tags(tr_->tags, false);
    if (Field(p)) f.state = State(tr_->state_type, tr_->state_name, Pool(kTaskStateNames), false);
    if (Field(p)) f.start_time = Time(tr_->start_time, true);
    if (Field(p)) f.end_time = Time(tr_->end_time, true);
    if (Field(p)) f.expected_start_time = Time(tr_->expected_start_time, false);
    if (Field(10)) {
      SubflowRunsFilter s;
      if (Field(80)) s.exists = rng_.Percent(30);
      f.subflow_runs = s;
    }
    if (Field(p)) {
      UuidRefFilter r;
      r.op = Op();
      if (Field(70)) r.any = List<Uuid>(tr_->flow_run_id, [&] { return AnyFlowRunId(); });
      const uint64_t k = rng_.Uniform(4);
      r.is_null = k == 0 ? std::optional<bool>() : std::optional<bool>(k == 3);
      f.flow_run_id = r;
    }
    return f;
  }

  FlowRunFilter FlowRuns() {
    FlowRunFilter f;
    f.op = Op();
    const int p = 16;
    static const FlowRunRecord kNoFlowRun;
    const FlowRunRecord& fr = fr_ != nullptr ? *fr_ : kNoFlowRun;
    if (Field(p)) {
      IdFilter id;
      if (Field(80)) id.any = List<Uuid>(fr.id, [&] { return AnyFlowRunId(); });
      if (Field(30)) id.not_any = Others<Uuid>(fr.id, [&] { return AnyFlowRunId(); });
      f.id = id;
    }
    if (Field(p)) f.name = Name(fr.name, Pool(kFlowRunNames));
    if (Field(p)) f.tags = Tags(fr.tags, true);
    if (Field(p)) f.deployment_id = Ref(fr.deployment_id, &AimedQueryGen::AnyDeploymentId, true);
    if (Field(p)) f.work_queue_name = Strings(fr.work_queue_name, Pool(kQueues), false, true, true);
    if (Field(p)) f.flow_version = Strings(fr.flow_version, Pool(kVersions), false, false, false);
    if (Field(p)) f.state = State(fr.state_type, fr.state_name, Pool(kFlowRunStateNames), true);
    if (Field(p)) f.start_time = Time(fr.start_time, true);
    if (Field(p)) f.end_time = Time(fr.end_time, true);
    if (Field(p)) f.expected_start_time = Time(fr.expected_start_time, false);
    if (Field(p)) f.next_scheduled_start_time = Time(fr.next_scheduled_start_time, false);
    if (Field(8)) f.parent_flow_run_id = Ref(std::nullopt, &AimedQueryGen::AnyFlowRunId, false);
    if (Field(p)) {
      f.parent_task_run_id = Ref(fr.parent_task_run_id, &AimedQueryGen::AnyTaskRunId, true);
    }
    if (Field(p)) {
      f.idempotency_key = Strings(fr.idempotency_key, Pool(kIdemKeys), true, false, false);
    }
    if (Field(p)) {
      CreatedByFilter c;
      c.op = Op();
      if (Field(30)) {
        std::optional<Uuid> own;
        if (fr.created_by_id) own = ParseUuid(*fr.created_by_id);
        c.id = List<Uuid>(own, [&] {
          const FlowRunRecord& other = rng_.Pick(data_.flow_runs);
          std::optional<Uuid> u;
          if (other.created_by_id) u = ParseUuid(*other.created_by_id);
          return u.value_or(AnyFlowRunId());
        });
      }
      if (Field(50)) {
        c.type = List<std::string>(fr.created_by_type, [&] {
          const auto& pool = Pool(kCreatorTypes);
          return pool.empty() ? std::string("USER") : rng_.Pick(pool);
        });
      }
      if (Field(30)) c.is_null = rng_.Percent(80) ? !fr.has_created_by : fr.has_created_by;
      f.created_by = c;
    }
    return f;
  }

  FlowFilter Flows() {
    FlowFilter f;
    f.op = Op();
    const int p = 40;
    if (Field(p)) {
      IdFilter id;
      if (Field(80)) id.any = List<Uuid>(flow_->id, [&] { return AnyFlowId(); });
      if (Field(30)) id.not_any = Others<Uuid>(flow_->id, [&] { return AnyFlowId(); });
      f.id = id;
    }
    if (Field(20)) {
      FlowDeploymentFilter d;
      d.op = Op();
      if (Field(80)) d.is_null = rng_.Percent(30);
      f.deployment = d;
    }
    if (Field(p)) f.name = Name(flow_->name, Pool(kFlowNames));
    if (Field(p)) f.tags = Tags(flow_->tags, false);
    return f;
  }

  DeploymentFilter Deployments() {
    DeploymentFilter f;
    f.op = Op();
    const int p = 35;
    static const DeploymentRecord kNoDeployment;
    const DeploymentRecord& d = dep_ != nullptr ? *dep_ : kNoDeployment;
    if (Field(p)) {
      IdFilter id;
      if (Field(80)) id.any = List<Uuid>(d.id, [&] { return AnyDeploymentId(); });
      if (Field(30)) id.not_any = Others<Uuid>(d.id, [&] { return AnyDeploymentId(); });
      f.id = id;
    }
    if (Field(p)) f.name = Name(d.name, Pool(kDeploymentNames));
    if (Field(25)) {
      NameFilter n;
      if (Field(85)) n.like = Like(rng_.Percent(50) ? d.name : flow_->name);
      f.flow_or_deployment_name = n;
    }
    if (Field(25)) {
      PausedFilter pf;
      if (Field(80)) pf.eq = rng_.Percent(80) ? d.paused : !d.paused;
      f.paused = pf;
    }
    if (Field(p)) f.tags = Tags(d.tags, true);
    if (Field(p)) f.work_queue_name = Strings(d.work_queue_name, Pool(kQueues), false, false, false);
    f.has_concurrency_limit = Field(5);
    return f;
  }

  TestRng& rng_;
  const SnapshotRecords& data_;
  std::map<Uuid, size_t> flow_run_at_, flow_at_, deployment_at_;
  std::vector<std::vector<std::string>> pools_;
  const TaskRunRecord* tr_ = nullptr;
  const FlowRunRecord* fr_ = nullptr;
  const FlowRecord* flow_ = nullptr;
  const DeploymentRecord* dep_ = nullptr;
};

// ---- the test ---------------------------------------------------------------------------

class GeneratedCompareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "taskdex_gencmp_" +
                           std::to_string(::getpid()));
    GenerateOptions opt;
    opt.task_runs = kTaskRuns;
    opt.seed = kGeneratorSeed;
    opt.out_dir = *dir_;
    opt.queries_file = *dir_ + "/queries.jsonl";
    GenerateSummary summary;
    absl::Status st = GenerateSnapshot(opt, &summary);
    ASSERT_TRUE(st.ok()) << st;
    auto records = ReadSnapshotRecords(*dir_, {}, nullptr);
    ASSERT_TRUE(records.ok()) << records.status();
    data_ = new SnapshotRecords(std::move(*records));
    std::ifstream in(opt.queries_file, std::ios::binary);
    ASSERT_TRUE(in);
    queries_ = new std::string((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    StoreBuilder builder;
    builder.AddAll(*data_);
    store_ = builder.Build().release();
    auto mirror = SqliteMirror::Create(*data_);
    ASSERT_TRUE(mirror.ok()) << mirror.status();
    mirror_ = mirror->release();
  }

  static void TearDownTestSuite() {
    delete mirror_;
    delete store_;
    delete data_;
    delete queries_;
    if (dir_ != nullptr) {
      std::error_code ignored;  // best effort: a leftover temp dir is no failure
      std::filesystem::remove_all(*dir_, ignored);
    }
    delete dir_;
    mirror_ = nullptr;
    store_ = nullptr;
    data_ = nullptr;
    queries_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(mirror_, nullptr) << "the generated data set did not load";
  }

  // Compares one query; returns false (after a failure) on a mismatch.
  static bool Agree(const PaginateQuery& query, const std::string& what) {
    const PageResult page = Paginate(*store_, query);
    auto answer = mirror_->Run(query);
    if (!answer.ok()) {
      ADD_FAILURE() << what << ": sqlite: " << answer.status();
      return false;
    }
    const std::vector<Uuid> engine_ids = EngineIds(*store_, page);
    if (answer->count == page.count && answer->ids == engine_ids) return true;
    ADD_FAILURE() << what << "\nquery: " << DescribeQuery(query)
                  << "\nsql: " << TranslateQuery(query).page_sql << "\nengine count "
                  << page.count << " ids " << IdsText(engine_ids) << "\nsqlite count "
                  << answer->count << " ids " << IdsText(answer->ids);
    return false;
  }

  static std::string* dir_;
  static SnapshotRecords* data_;
  static std::string* queries_;
  static Store* store_;
  static SqliteMirror* mirror_;
};

std::string* GeneratedCompareTest::dir_ = nullptr;
SnapshotRecords* GeneratedCompareTest::data_ = nullptr;
std::string* GeneratedCompareTest::queries_ = nullptr;
Store* GeneratedCompareTest::store_ = nullptr;
SqliteMirror* GeneratedCompareTest::mirror_ = nullptr;

TEST_F(GeneratedCompareTest, AgreesOnGeneratedQueryMix) {
  EXPECT_EQ(data_->task_runs.size(), kTaskRuns);
  EXPECT_EQ(mirror_->task_run_rows(), kTaskRuns);
  int compared = 0, nonempty = 0;
  for (const BenchBody& body : ParseBodiesFile(*queries_)) {
    auto parsed = ParsePaginateBody(body.body);
    const auto* request = std::get_if<PaginateRequest>(&parsed);
    ASSERT_NE(request, nullptr) << "the generator wrote an invalid body: " << body.body;
    ++compared;
    nonempty += Agree(request->query, body.name + ": " + body.body) &&
                Paginate(*store_, request->query).count > 0;
  }
  EXPECT_GE(compared, 20);
  // The mix's ids and names come from the data: nearly all match rows.
  EXPECT_GE(nonempty, compared - 3);
}

TEST_F(GeneratedCompareTest, AgreesOnRandomQueriesAimedAtTheData) {
  const int total = RandomQueryCount();
  TestRng rng(kQuerySeed);
  AimedQueryGen gen(rng, *data_);
  int mismatches = 0, nonempty = 0, partial = 0, rows = 0;
  for (int i = 0; i < total && mismatches < 5; ++i) {
    const PaginateQuery query = gen.Query();
    const PageResult page = Paginate(*store_, query);
    nonempty += page.count > 0;
    partial += page.count > 0 && page.count < kTaskRuns;
    rows += !page.rows.empty();
    if (!Agree(query, "random query " + std::to_string(i) + " (seed " +
                          std::to_string(kQuerySeed) + ")")) {
      ++mismatches;
    }
  }
  std::printf("aimed random queries: %d, count > 0: %d, filtered (0 < count < all): %d, "
              "non-empty page: %d\n",
              total, nonempty, partial, rows);
  // The queries are not vacuous: most match rows, and most of those filter.
  EXPECT_GT(nonempty, total * 6 / 10);
  EXPECT_GT(partial, total * 4 / 10);
  EXPECT_GT(rows, total / 2);
}

}  // namespace
}  // namespace taskdex
