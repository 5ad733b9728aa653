// tests/bench/random_bodies_test.cc
//
// bench/random_bodies.h on the sample snapshot (data/sample, ~3,000 task
// runs): every body is valid (status 200 through the full request path), a
// good share match rows, every filter field, operator and sort is drawn, and
// the same seed gives the same bodies.

#include "bench/random_bodies.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace taskdex {
namespace {

constexpr int kBodies = 400;

// True when no object in `v` repeats a key (JSON allows it; a body should
// not rely on which one wins).
bool UniqueKeys(const rapidjson::Value& v) {
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (!UniqueKeys(e)) return false;
    }
  }
  if (!v.IsObject()) return true;
  std::set<std::string> seen;
  for (const auto& m : v.GetObject()) {
    if (!seen.insert(m.name.GetString()).second || !UniqueKeys(m.value)) return false;
  }
  return true;
}

class RandomBodiesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto engine = Engine::Open(std::string(TASKDEX_SOURCE_DIR) + "/data/sample");
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Engine* engine_;
};

Engine* RandomBodiesTest::engine_ = nullptr;

TEST_F(RandomBodiesTest, EveryBodyIsValidAndManyMatch) {
  const RandomBodies gen(*engine_->Pin()->segments.at(0).store);
  const std::vector<BenchBody> bodies = gen.Generate(1, kBodies);
  ASSERT_EQ(bodies.size(), static_cast<size_t>(kBodies));
  int matching = 0, partial = 0;
  const uint64_t total = engine_->Pin()->segments.at(0).store->task_runs.size();
  for (const BenchBody& b : bodies) {
    rapidjson::Document doc;
    doc.Parse(b.body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << b.body;
    EXPECT_TRUE(UniqueKeys(doc)) << b.body;
    const Response r = engine_->PaginateJson(b.body, 0);
    ASSERT_EQ(r.status, 200) << b.name << ": " << b.body << "\n" << r.body;
    const std::optional<uint64_t> count = ResponseCount(r.body);
    ASSERT_TRUE(count.has_value()) << r.body;
    matching += *count > 0;
    partial += *count > 0 && *count < total;
  }
  // Not vacuous: many bodies select some rows, and most of those filter.
  EXPECT_GE(matching, kBodies * 40 / 100) << matching << " of " << kBodies;
  EXPECT_GE(partial, kBodies * 25 / 100) << partial << " of " << kBodies;
}

TEST_F(RandomBodiesTest, SameSeedSameBodiesOtherSeedOthers) {
  const RandomBodies gen(*engine_->Pin()->segments.at(0).store);
  const std::vector<BenchBody> a = gen.Generate(7, 50);
  const std::vector<BenchBody> b = RandomBodies(*engine_->Pin()->segments.at(0).store).Generate(7, 50);
  const std::vector<BenchBody> c = gen.Generate(8, 50);
  int same_as_other_seed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].body, b[i].body);
    same_as_other_seed += a[i].body == c[i].body;
  }
  EXPECT_LT(same_as_other_seed, 5);
}

TEST_F(RandomBodiesTest, DrawsEveryFieldOperatorAndSort) {
  const RandomBodies gen(*engine_->Pin()->segments.at(0).store);
  std::string all;
  for (const BenchBody& b : gen.Generate(1, kBodies)) all += b.body;
  // Every field of paginate.md 4.4-4.7 and the leaf operators.
  const std::vector<std::string> keys = {"task_runs",
                                         "flow_runs",
                                         "flows",
                                         "deployments",
                                         "operator",
                                         "id",
                                         "name",
                                         "tags",
                                         "state",
                                         "type",
                                         "start_time",
                                         "end_time",
                                         "expected_start_time",
                                         "subflow_runs",
                                         "exists_",
                                         "flow_run_id",
                                         "deployment_id",
                                         "work_queue_name",
                                         "flow_version",
                                         "next_scheduled_start_time",
                                         "parent_flow_run_id",
                                         "parent_task_run_id",
                                         "idempotency_key",
                                         "created_by",
                                         "id_",
                                         "type_",
                                         "deployment",
                                         "flow_or_deployment_name",
                                         "paused",
                                         "eq_",
                                         "concurrency_limit",
                                         "ge_",
                                         "le_",
                                         "any_",
                                         "not_any_",
                                         "all_",
                                         "like_",
                                         "is_null_",
                                         "before_",
                                         "after_",
                                         "sort",
                                         "limit",
                                         "page"};
  for (const std::string& key : keys) {
    EXPECT_NE(all.find("\"" + key + "\": "), std::string::npos) << key;
  }
  EXPECT_NE(all.find("\"or_\""), std::string::npos);
  EXPECT_NE(all.find("\"and_\""), std::string::npos);
  for (int s = 0; s < kNumTaskRunSorts; ++s) {
    const std::string name(TaskRunSortName(static_cast<TaskRunSort>(s)));
    EXPECT_NE(all.find("\"" + name + "\""), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace taskdex
