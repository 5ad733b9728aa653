// tests/bench/generator_test.cc
//
// The synthetic generator's contract: its snapshot loads cleanly, has the
// promised shape, is a pure function of the seed, and its request bodies are
// answered. Names: the realistic default is nearly unique and follows its
// options; the legacy shape keeps the first generator's bytes.

#include "bench/generator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/taskdex.h"
#include "bench/name_model.h"
#include "engine/datetime.h"
#include "engine/text_format.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace taskdex {
namespace {

constexpr Micros kNow = kGeneratorDefaultNow;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Every directory NewDir hands out, removed (with its sibling query files)
// when the test program ends, so runs leave nothing behind in TempDir().
std::vector<std::string>& CreatedDirs() {
  static auto* dirs = new std::vector<std::string>();
  return *dirs;
}

class RemoveCreatedDirs : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const std::string& dir : CreatedDirs()) {
      std::error_code ignored;  // best effort: a leftover temp dir is no failure
      std::filesystem::remove_all(dir, ignored);
      for (const char* suffix : {".queries.jsonl", ".q"}) {
        std::filesystem::remove(dir + suffix, ignored);
      }
    }
  }
};
const ::testing::Environment* const kRemoveCreatedDirs =
    ::testing::AddGlobalTestEnvironment(new RemoveCreatedDirs);

std::string NewDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/taskdex_gen_" + name + "_" +
                    std::to_string(::getpid());
  CreatedDirs().push_back(dir);
  return dir;
}

GenerateSummary Generate(const std::string& dir, uint64_t n, uint64_t seed, int threads = 2,
                         const std::string& queries = "", GenerateOptions o = {}) {
  o.task_runs = n;
  o.seed = seed;
  o.out_dir = dir;
  o.threads = threads;
  o.queries_file = queries;
  GenerateSummary s;
  absl::Status st = GenerateSnapshot(o, &s);
  EXPECT_TRUE(st.ok()) << st;
  return s;
}

class GeneratorSnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(NewDir("main"));
    queries_ = new std::string(*dir_ + ".queries.jsonl");
    summary_ = new GenerateSummary(Generate(*dir_, kN, 7, 2, *queries_));
    auto engine = Engine::Open(*dir_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete summary_;
    delete queries_;
    delete dir_;
  }
  static uint64_t Count(const std::string& body) {
    Response r = engine_->PaginateJson(body, kNow);
    EXPECT_EQ(r.status, 200) << body << " -> " << r.body;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (!d.IsObject() || !d.HasMember("count")) return 0;
    return d["count"].GetUint64();
  }

  static constexpr uint64_t kN = 3000;
  static std::string* dir_;
  static std::string* queries_;
  static GenerateSummary* summary_;
  static Engine* engine_;
};
std::string* GeneratorSnapshotTest::dir_ = nullptr;
std::string* GeneratorSnapshotTest::queries_ = nullptr;
GenerateSummary* GeneratorSnapshotTest::summary_ = nullptr;
Engine* GeneratorSnapshotTest::engine_ = nullptr;

TEST_F(GeneratorSnapshotTest, LoadsWithoutErrorsOrDanglingReferences) {
  const LoadReport& r = engine_->load_report();
  EXPECT_TRUE(r.missing_files.empty());
  EXPECT_EQ(r.task_runs, kN);
  EXPECT_EQ(r.flows, 50u);
  EXPECT_EQ(r.deployments, 200u);
  EXPECT_EQ(r.flow_runs, summary_->flow_runs);
  EXPECT_EQ(r.build.orphan_task_runs, 0u);
  EXPECT_EQ(r.build.flow_runs_missing_flow, 0u);
  EXPECT_EQ(r.build.flow_runs_dangling_deployment, 0u);
  EXPECT_EQ(r.build.flow_runs_missing_parent_task_run, 0u);
  EXPECT_EQ(r.build.deployments_missing_flow, 0u);
  EXPECT_EQ(r.build.replaced_task_runs, 0u);
  EXPECT_EQ(r.build.replaced_flow_runs, 0u);
  EXPECT_EQ(summary_->task_runs, kN);
  EXPECT_EQ(Lines(*dir_ + "/task_runs.ndjson").size(), kN);
}

TEST_F(GeneratorSnapshotTest, HasTheRequestedProportions) {
  double n = static_cast<double>(kN);
  double flow_runs = static_cast<double>(summary_->flow_runs);
  EXPECT_GT(flow_runs, n / 20 * 0.75);
  EXPECT_LT(flow_runs, n / 20 * 1.3);
  uint64_t no_flow_run = Count(R"({"task_runs":{"flow_run_id":{"is_null_":true}}})");
  EXPECT_EQ(no_flow_run, summary_->autonomous_task_runs);
  EXPECT_NEAR(no_flow_run / n, 0.02, 0.005);
  uint64_t empty_tags = Count(R"({"task_runs":{"tags":{"is_null_":true}}})");
  EXPECT_NEAR(empty_tags / n, 0.20, 0.04);
  uint64_t subflows = 0;
  std::set<std::string> parents;
  for (const std::string& line : Lines(*dir_ + "/flow_runs.ndjson")) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject());
    if (d["parent_task_run_id"].IsString()) {
      ++subflows;
      parents.insert(d["parent_task_run_id"].GetString());
    }
  }
  EXPECT_EQ(subflows, summary_->subflow_runs);
  EXPECT_NEAR(subflows / flow_runs, 0.08, 0.035);
  // Every parent task run exists, and the subflow_runs filter sees each.
  EXPECT_EQ(Count(R"({"task_runs":{"subflow_runs":{"exists_":true}}})"), parents.size());
  for (const char* type : {"COMPLETED", "FAILED", "RUNNING", "SCHEDULED", "PENDING",
                           "CANCELLED", "CRASHED", "PAUSED", "CANCELLING"}) {
    std::string body =
        std::string(R"({"task_runs":{"state":{"type":{"any_":[")") + type + R"("]}}}})";
    EXPECT_GT(Count(body), 0u) << type;
  }
  uint64_t completed = Count(R"({"task_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})");
  EXPECT_GT(completed, kN / 2);
  for (const char* name : {"Completed", "Cached", "Failed", "Running", "Pending", "Cancelled"}) {
    std::string body =
        std::string(R"({"task_runs":{"state":{"name":{"any_":[")") + name + R"("]}}}})";
    EXPECT_GT(Count(body), 0u) << name;
  }
}

TEST_F(GeneratorSnapshotTest, LinesHaveTheFilterShape) {
  static const char* const kKeys[] = {
      "id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key",
      "cache_key", "cache_expiration", "task_version", "empirical_policy", "tags", "labels",
      "state_id", "task_inputs", "state_type", "state_name", "run_count", "flow_run_run_count",
      "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
      "total_run_time", "estimated_run_time", "estimated_start_time_delta", "state"};
  int no_state = 0, checked_durations = 0;
  for (const std::string& line : Lines(*dir_ + "/task_runs.ndjson")) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject()) << line;
    ASSERT_EQ(d.MemberCount(), std::size(kKeys));
    int i = 0;
    for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it, ++i) {
      ASSERT_STREQ(it->name.GetString(), kKeys[i]);
    }
    if (d["state"].IsNull()) {
      ++no_state;
    } else {
      ASSERT_EQ(d["state"]["state_details"].MemberCount(), 18u);
      EXPECT_STREQ(d["state"]["type"].GetString(), d["state_type"].GetString());
    }
    // Datetimes are Prefect's text: formatting the parsed value gives it back.
    for (const char* key : {"created", "updated", "expected_start_time", "start_time",
                            "end_time", "next_scheduled_start_time"}) {
      if (d[key].IsNull()) continue;
      DatetimeResult t = ParseDatetimeString(d[key].GetString());
      ASSERT_TRUE(t.ok()) << key << " " << d[key].GetString();
      EXPECT_EQ(FormatDatetime(t.value), d[key].GetString());
      EXPECT_LE(t.value, kNow + 2 * 86400000000LL) << key;
    }
    // Durations are Python's float repr of the seconds.
    size_t at = line.find("\"total_run_time\":");
    ASSERT_NE(at, std::string::npos);
    at += 17;
    std::string text = line.substr(at, line.find(',', at) - at);
    auto micros = static_cast<int64_t>(std::llround(std::stod(text) * 1e6));
    std::string expect;
    AppendDurationSeconds(&expect, micros);
    EXPECT_EQ(text, expect);
    ++checked_durations;
    // Times agree with the state.
    const auto& st = d["state_type"];
    if (st.IsString()) {
      std::string type = st.GetString();
      bool terminal = type == "COMPLETED" || type == "FAILED" || type == "CANCELLED" ||
                      type == "CRASHED";
      if (terminal) {
        EXPECT_TRUE(d["start_time"].IsString() && d["end_time"].IsString()) << line;
      }
      if (type == "RUNNING" || type == "PAUSED" || type == "CANCELLING") {
        EXPECT_TRUE(d["start_time"].IsString() && d["end_time"].IsNull()) << line;
      }
      if (type == "PENDING") {
        EXPECT_TRUE(d["start_time"].IsNull()) << line;
      }
      if (type == "SCHEDULED") {
        EXPECT_TRUE(d["next_scheduled_start_time"].IsString()) << line;
      }
    }
  }
  EXPECT_GE(no_state, 2);
  EXPECT_EQ(checked_durations, static_cast<int>(kN));
}

TEST_F(GeneratorSnapshotTest, EveryQueryIsAnsweredAndMostReturnRows) {
  std::vector<std::string> lines = Lines(*queries_);
  ASSERT_GE(lines.size(), 25u);
  int with_rows = 0;
  std::set<std::string> sorts;
  for (const std::string& line : lines) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("name") && d.HasMember("body")) << line;
    size_t at = line.find("\"body\":");
    std::string body = line.substr(at + 7, line.size() - at - 8);
    Response r = engine_->PaginateJson(body, kNow);
    ASSERT_EQ(r.status, 200) << d["name"].GetString() << ": " << r.body;
    rapidjson::Document rd;
    rd.Parse(r.body.c_str());
    if (rd["results"].Size() > 0) ++with_rows;
    if (d["body"].HasMember("sort")) sorts.insert(d["body"]["sort"].GetString());
  }
  EXPECT_GE(with_rows, static_cast<int>(lines.size()) * 8 / 10);
  EXPECT_EQ(sorts.size(), 7u);
}

// The planner's hard shapes (issue 9) are in the mix, and match rows.
TEST_F(GeneratorSnapshotTest, QueryMixHasThePlannerShapes) {
  std::map<std::string, std::string> bodies;
  for (const std::string& line : Lines(*queries_)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject()) << line;
    size_t at = line.find("\"body\":");
    bodies[d["name"].GetString()] = line.substr(at + 7, line.size() - at - 8);
  }
  for (const char* name :
       {"like_one_letter_common", "like_one_letter_rare_name_desc", "like_two_letters",
        "like_mixed_case_name_asc", "like_date_fragment",
        "one_flow_run_like_one_letter_no_subflow", "task_run_ids_like", "names_any_three_like",
        "or_state_name_tags_like", "flow_run_or_no_deployment_or_tags",
        "deployments_paused_with_tag", "subflow_parents_six_days",
        "dense_completed_id_desc", "dense_completed_expected_start_time_asc",
        "dense_completed_expected_start_time_desc", "dense_completed_name_asc",
        "dense_completed_name_desc", "dense_completed_next_scheduled_start_time_asc",
        "dense_completed_end_time_desc", "deep_page_completed_expected_desc",
        "deep_page_tag_name_asc"}) {
    auto it = bodies.find(name);
    ASSERT_NE(it, bodies.end()) << name;
    EXPECT_GT(Count(it->second), 0u) << name << ": " << it->second;
  }
  // Dense means most rows; a deep page is a full page past the first ones.
  EXPECT_GT(Count(bodies["dense_completed_name_asc"]), kN / 2);
  for (const char* name : {"deep_page_completed_expected_desc", "deep_page_tag_name_asc"}) {
    Response r = engine_->PaginateJson(bodies[name], kNow);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("page")) << r.body;
    EXPECT_GT(d["page"].GetUint64(), 1u) << name;
    EXPECT_EQ(d["results"].Size(), d["limit"].GetUint64()) << name;
  }
}

TEST(GeneratorTest, SameSeedSameBytesWhateverTheThreads) {
  std::string a = NewDir("a"), b = NewDir("b"), c = NewDir("c");
  Generate(a, 2500, 42, 2, a + ".q");
  Generate(b, 2500, 42, 1, b + ".q");
  Generate(c, 2500, 43, 2, c + ".q");
  for (const char* f : {"/flows.ndjson", "/deployments.ndjson", "/flow_runs.ndjson",
                        "/task_runs.ndjson"}) {
    std::string fa = Slurp(a + f);
    EXPECT_FALSE(fa.empty()) << f;
    EXPECT_EQ(fa, Slurp(b + f)) << f;
    EXPECT_NE(fa, Slurp(c + f)) << f;
  }
  EXPECT_EQ(Slurp(a + ".q"), Slurp(b + ".q"));
  EXPECT_NE(Slurp(a + ".q"), Slurp(c + ".q"));
}

std::vector<std::string> Names(const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(path)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    out.push_back(d["name"].GetString());
  }
  return out;
}

double DistinctShare(const std::vector<std::string>& names) {
  return static_cast<double>(std::set<std::string>(names.begin(), names.end()).size()) /
         static_cast<double>(names.size());
}

TEST(GeneratorTest, RealisticNamesAreNearlyDistinctLegacyNamesAreNot) {
  std::string real = NewDir("real"), legacy = NewDir("legacy");
  Generate(real, 20000, 9);
  GenerateOptions o;
  o.shape = GenerateShape::kLegacy;
  Generate(legacy, 20000, 9, 2, "", o);
  double real_tasks = DistinctShare(Names(real + "/task_runs.ndjson"));
  double legacy_tasks = DistinctShare(Names(legacy + "/task_runs.ndjson"));
  double real_flows = DistinctShare(Names(real + "/flow_runs.ndjson"));
  double legacy_flows = DistinctShare(Names(legacy + "/flow_runs.ndjson"));
  EXPECT_GT(real_tasks, 0.9);     // ~0.98 (~0.78 at 1M)
  EXPECT_LT(legacy_tasks, 0.35);  // ~0.26 (~0.02 at 1M)
  EXPECT_GT(real_flows, 0.97);    // 2,500 x 2,500 words
  EXPECT_LT(legacy_flows, 0.8);   // 34 x 30 words
  // Only names and dynamic keys differ between the shapes.
  EXPECT_EQ(Slurp(real + "/flows.ndjson"), Slurp(legacy + "/flows.ndjson"));
  EXPECT_EQ(Slurp(real + "/deployments.ndjson"), Slurp(legacy + "/deployments.ndjson"));
  std::vector<std::string> a = Lines(real + "/task_runs.ndjson");
  std::vector<std::string> b = Lines(legacy + "/task_runs.ndjson");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i += 97) {
    rapidjson::Document da, db;
    da.Parse(a[i].c_str());
    db.Parse(b[i].c_str());
    for (const char* key : {"id", "flow_run_id", "tags", "state_type", "expected_start_time",
                            "end_time", "state"}) {
      EXPECT_TRUE(da[key] == db[key]) << key << " line " << i;
    }
  }
}

uint64_t Fnv64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The legacy shape is the first generator's output: FNV-1a 64 of its files
// for 2,500 task runs, seed 42, as the generator before the realistic shape
// (commit 99d1870) wrote them; the query file keeps those 28 lines first.
TEST(GeneratorTest, LegacyShapeKeepsThePreviousBytes) {
  std::string dir = NewDir("pinned");
  GenerateOptions o;
  o.shape = GenerateShape::kLegacy;
  Generate(dir, 2500, 42, 3, dir + ".q", o);
  EXPECT_EQ(Fnv64(Slurp(dir + "/flows.ndjson")), 0x9990ae6093289232ULL);
  EXPECT_EQ(Fnv64(Slurp(dir + "/deployments.ndjson")), 0xba76f6aafe6bd754ULL);
  EXPECT_EQ(Fnv64(Slurp(dir + "/flow_runs.ndjson")), 0x4fd19e89a0eceaf0ULL);
  EXPECT_EQ(Fnv64(Slurp(dir + "/task_runs.ndjson")), 0x9b9ae4f9b41c5398ULL);
  std::vector<std::string> q = Lines(dir + ".q");
  ASSERT_GT(q.size(), 28u);
  std::string first;
  for (size_t i = 0; i < 28; ++i) first += q[i] + "\n";
  EXPECT_EQ(Fnv64(first), 0x5380efc269a32267ULL);
  // Every body of the mix is answered on legacy data too.
  auto engine = Engine::Open(dir);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (const std::string& line : q) {
    size_t at = line.find("\"body\":");
    Response r = (*engine)->PaginateJson(line.substr(at + 7, line.size() - at - 8), kNow);
    EXPECT_EQ(r.status, 200) << line << " -> " << r.body;
  }
}

bool Digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<param>-<n>" with a template parameter word.
bool ParamValue(std::string_view s) {
  for (const char* p : TemplateParams()) {
    std::string head = std::string(p) + "-";
    if (s.substr(0, head.size()) == head && Digits(s.substr(head.size()))) return true;
  }
  return false;
}

// "YYYY-MM-DD", "YYYY-MM-DD-<param>-<n>" or "<param>-<n>".
bool TemplatedRest(std::string_view s) {
  bool date = s.size() >= 10 && Digits(s.substr(0, 4)) && s[4] == '-' &&
              Digits(s.substr(5, 2)) && s[7] == '-' && Digits(s.substr(8, 2));
  if (date) return s.size() == 10 || (s[10] == '-' && ParamValue(s.substr(11)));
  return ParamValue(s);
}

// The task name `name` starts with (followed by '-'), or "".
std::string PrefixOf(const std::string& name, const std::vector<std::string>& vocabulary) {
  for (const std::string& v : vocabulary) {
    if (name.compare(0, v.size() + 1, v + "-") == 0) return v;
  }
  return "";
}

TEST(GeneratorTest, TaskRunNamesFollowTheNameOptions) {
  std::string dir = NewDir("names");
  GenerateOptions o;
  o.task_names = 7;
  o.name_suffix_width = 5;
  Generate(dir, 4000, 21, 2, "", o);
  const std::vector<std::string> vocabulary = TaskNameVocabulary(21, 7);
  std::set<std::string> parents;  // subflows' parent task runs: named after the child flow
  for (const std::string& line : Lines(dir + "/flow_runs.ndjson")) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d["parent_task_run_id"].IsString()) parents.insert(d["parent_task_run_id"].GetString());
  }
  std::set<std::string> prefixes;
  int suffixed = 0, templated = 0, background = 0;
  for (const std::string& line : Lines(dir + "/task_runs.ndjson")) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    std::string name = d["name"].GetString(), dyn = d["dynamic_key"].GetString();
    if (d["flow_run_id"].IsNull() || parents.count(d["id"].GetString())) {
      ++background;
      EXPECT_EQ(name.substr(name.size() - 6), "-" + dyn.substr(0, 5)) << name;
      continue;
    }
    std::string prefix = PrefixOf(name, vocabulary);
    ASSERT_FALSE(prefix.empty()) << name << " has none of the 7 task names";
    prefixes.insert(prefix);
    std::string rest = name.substr(prefix.size() + 1);
    if (rest == dyn.substr(0, 5)) {
      ++suffixed;
    } else {
      EXPECT_TRUE(TemplatedRest(rest)) << name;
      ++templated;
    }
  }
  EXPECT_LE(prefixes.size(), 7u);
  EXPECT_GE(prefixes.size(), 3u);
  EXPECT_GT(suffixed, 100);
  EXPECT_GT(templated, 100);
  EXPECT_GT(background, 0);
  // Width 0: the map index, an integer dynamic key, as in the legacy shape.
  std::string zero = NewDir("width0");
  o.name_suffix_width = 0;
  Generate(zero, 500, 21, 2, "", o);
  int integer_keys = 0;
  for (const std::string& line : Lines(zero + "/task_runs.ndjson")) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    std::string dyn = d["dynamic_key"].GetString(), name = d["name"].GetString();
    std::string prefix = PrefixOf(name, vocabulary);
    if (!Digits(dyn) || prefix.empty()) continue;  // background and subflow parents
    ++integer_keys;
    std::string rest = name.substr(prefix.size() + 1);
    EXPECT_TRUE(rest == dyn.substr(0, 3) || TemplatedRest(rest)) << name;
  }
  EXPECT_GT(integer_keys, 350);
}

TEST(GeneratorTest, ExactCountsForTinyAndOddSizes) {
  for (uint64_t n : {1u, 2u, 7u, 51u, 1234u}) {
    std::string dir = NewDir("n" + std::to_string(n));
    GenerateSummary s = Generate(dir, n, 3);
    EXPECT_EQ(s.task_runs, n);
    auto engine = Engine::Open(dir);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_EQ((*engine)->load_report().task_runs, n);
    EXPECT_EQ((*engine)->load_report().build.orphan_task_runs, 0u);
    EXPECT_EQ((*engine)->load_report().build.flow_runs_missing_parent_task_run, 0u);
  }
}

TEST(GeneratorTest, DiscardRendersTheSameBytesAndWritesNothing) {
  const std::string written = NewDir("written"), discarded = NewDir("discarded");
  GenerateSummary w = Generate(written, 20000, 11, 1);
  GenerateOptions o;
  o.task_runs = 20000;
  o.seed = 11;
  o.out_dir = discarded;
  o.threads = 5;
  o.discard = true;
  GenerateSummary d;
  absl::Status st = GenerateSnapshot(o, &d);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_FALSE(std::filesystem::exists(discarded));
  EXPECT_EQ(d.task_runs, 20000u);
  EXPECT_EQ(d.task_runs_bytes, w.task_runs_bytes);
  EXPECT_EQ(d.flow_runs_bytes, w.flow_runs_bytes);
  EXPECT_EQ(d.total_bytes(), w.total_bytes());
  EXPECT_EQ(w.task_runs_bytes, std::filesystem::file_size(written + "/task_runs.ndjson"));
}

TEST(GeneratorTest, RejectsBadOptions) {
  GenerateOptions o;
  o.out_dir = NewDir("bad");
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInvalidArgument);
  o.task_runs = 10;
  o.threads = 0;
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInvalidArgument);
  o.threads = 1;
  o.name_suffix_width = 9;
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInvalidArgument);
  o.name_suffix_width = -1;
  o.shape = GenerateShape::kLegacy;
  o.task_names = 10;  // the legacy shape has no name options
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInvalidArgument);
  o.shape = GenerateShape::kRealistic;
  o.task_names = 1000001;
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInvalidArgument);
  o.task_names = 0;
  o.out_dir = "/proc/no/such/dir";
  EXPECT_EQ(GenerateSnapshot(o, nullptr).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace taskdex
