// Every case of the spec's examples.jsonl (examples.md) through the public
// API, end to end: snapshot load -> JSON body -> response JSON.

#include <fstream>
#include <string>
#include <vector>

#include "api/taskdex.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace taskdex {
namespace {

constexpr char kNow[] = "2024-05-01T12:00:00Z";

struct ExampleCase {
  std::string name;
  std::string body;  // compact JSON of the case's body
  std::string expect;  // compact JSON of the case's expectation
};

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

std::vector<ExampleCase> LoadCases() {
  std::vector<ExampleCase> cases;
  std::ifstream in(std::string(TASKDEX_EXAMPLES_DIR) + "/examples.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject()) {
      ADD_FAILURE() << "bad examples.jsonl line: " << line;
      continue;
    }
    cases.push_back({d["name"].GetString(), Compact(d["body"]), Compact(d["expect"])});
  }
  return cases;
}

class ExamplesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto engine = Engine::Open(std::string(TASKDEX_EXAMPLES_DIR) + "/snapshot");
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Micros Now() { return *ParseInstant(kNow); }
  static Engine* engine_;
};
Engine* ExamplesTest::engine_ = nullptr;

std::vector<std::string> IdsOf(const rapidjson::Value& results) {
  std::vector<std::string> ids;
  for (const auto& r : results.GetArray()) ids.push_back(r["id"].GetString());
  return ids;
}

TEST_F(ExamplesTest, EveryCaseOfExamplesJsonl) {
  std::vector<ExampleCase> cases = LoadCases();
  ASSERT_GE(cases.size(), 60u);
  for (const ExampleCase& c : cases) {
    SCOPED_TRACE(c.name + " body=" + c.body);
    Response r = engine_->PaginateJson(c.body, Now());
    rapidjson::Document expect;
    expect.Parse(c.expect.c_str());
    rapidjson::Document got;
    got.Parse(r.body.c_str());
    ASSERT_FALSE(got.HasParseError()) << r.body;
    if (expect.HasMember("status")) {
      EXPECT_EQ(r.status, expect["status"].GetInt()) << r.body;
      if (expect.HasMember("detail")) {
        ASSERT_TRUE(got.HasMember("detail")) << r.body;
        EXPECT_EQ(Compact(got["detail"]), Compact(expect["detail"]));
      }
      if (expect.HasMember("errors")) {
        ASSERT_TRUE(got.HasMember("exception_detail")) << r.body;
        const auto& want = expect["errors"].GetArray();
        const auto& have = got["exception_detail"].GetArray();
        ASSERT_EQ(have.Size(), want.Size()) << r.body;
        for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
          EXPECT_EQ(Compact(have[i]["type"]), Compact(want[i]["type"])) << r.body;
          EXPECT_EQ(Compact(have[i]["loc"]), Compact(want[i]["loc"])) << r.body;
        }
      }
      continue;
    }
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<std::string> want_ids;
    for (const auto& id : expect["ids"].GetArray()) want_ids.push_back(id.GetString());
    EXPECT_EQ(IdsOf(got["results"]), want_ids);
    EXPECT_EQ(got["count"].GetUint64(), expect["count"].GetUint64());
    EXPECT_EQ(got["pages"].GetUint64(), expect["pages"].GetUint64());
    EXPECT_EQ(got["limit"].GetInt64(), expect["limit"].GetInt64());
    EXPECT_EQ(got["page"].GetInt64(), expect["page"].GetInt64());
  }
}

// examples.md example 1: <T1> exactly, and the envelope around it.
TEST_F(ExamplesTest, EmptyBodyRendersT1Exactly) {
  constexpr char kT1[] =
      R"({"id":"00000000-0000-4000-8000-000000000001","created":"2024-05-01T09:59:58.250000Z","updated":"2024-05-01T10:01:00.000001Z","name":"extract_a","flow_run_id":"a1000000-0000-4000-8000-000000000000","task_key":"extract_a","state_id":"5e000000-0000-4000-8000-000000000001","state":{"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}},"task_version":null,"parameters":{},"task_inputs":{"source":[{"input_type":"parameter","name":"source"}]},"context":{},"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null},"tags":["io"],"start_time":"2024-05-01T10:00:05Z","end_time":"2024-05-01T10:01:00Z","total_run_time":55.0,"estimated_run_time":55.0,"estimated_start_time_delta":5.0})";
  for (std::string_view body : {"", "{}", "null"}) {
    SCOPED_TRACE(std::string("body=") + std::string(body));
    Response r = engine_->PaginateJson(body, Now());
    ASSERT_EQ(r.status, 200);
    std::string tail = std::string(kT1) + R"(],"count":7,"limit":200,"pages":1,"page":1})";
    ASSERT_GE(r.body.size(), tail.size());
    EXPECT_EQ(r.body.substr(r.body.size() - tail.size()), tail);
    EXPECT_EQ(r.body.rfind(R"({"results":[{"id":"00000000-0000-4000-8000-000000000007")", 0), 0u);
  }
}

// examples.md example 1, the clock-dependent fields, with now = 12:00Z.
TEST_F(ExamplesTest, ComputedFieldsFollowTheClock) {
  Response r = engine_->PaginateJson("{}", Now());
  ASSERT_EQ(r.status, 200);
  rapidjson::Document got;
  got.Parse(r.body.c_str());
  const auto& results = got["results"].GetArray();
  ASSERT_EQ(results.Size(), 7u);
  // Results are T7..T1.
  auto field = [&](int t, const char* key) { return results[7 - t][key].GetDouble(); };
  // T4 RUNNING since 10:04:00, total 0: now - 10:04 = 6,960 s; started on time.
  EXPECT_DOUBLE_EQ(field(4, "estimated_run_time"), 6960.0);
  EXPECT_DOUBLE_EQ(field(4, "estimated_start_time_delta"), 0.0);
  // T6 SCHEDULED, expected 10:10, no start: late by now - 10:10 = 6,600 s.
  EXPECT_DOUBLE_EQ(field(6, "estimated_start_time_delta"), 6600.0);
  // T5 has no expected start time.
  EXPECT_DOUBLE_EQ(field(5, "estimated_start_time_delta"), 0.0);
  // T7: null state type is not terminal; expected 10:03, no start: 7,020 s.
  EXPECT_DOUBLE_EQ(field(7, "estimated_start_time_delta"), 7020.0);
  // T3 and T2 started on time.
  EXPECT_DOUBLE_EQ(field(3, "estimated_start_time_delta"), 0.0);
  EXPECT_DOUBLE_EQ(field(2, "estimated_start_time_delta"), 0.0);
  EXPECT_DOUBLE_EQ(field(2, "estimated_run_time"), 180.0);
}

TEST_F(ExamplesTest, FullShapeCarriesExtrasAfterState) {
  absl::StatusOr<std::string> t1 =
      engine_->TaskRunJson("00000000-0000-4000-8000-000000000001", Now());
  ASSERT_TRUE(t1.ok()) << t1.status();
  EXPECT_NE(t1->find(R"("dynamic_key":"0")"), std::string::npos) << *t1;
  std::string tail = R"(}},"future_field":{"k":1}})";
  ASSERT_GE(t1->size(), tail.size());
  EXPECT_EQ(t1->substr(t1->size() - tail.size()), tail) << *t1;

  EXPECT_EQ(engine_->TaskRunJson("00000000-0000-4000-8000-0000000000ff", Now()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->TaskRunJson("nope", Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExamplesTest, LoadReportsOnlyTheDanglingDeployment) {
  const LoadReport& report = engine_->load_report();
  EXPECT_EQ(report.task_runs, 7u);
  EXPECT_EQ(report.flow_runs, 4u);
  EXPECT_EQ(report.flows, 3u);
  EXPECT_EQ(report.deployments, 2u);
  EXPECT_EQ(report.build.flow_runs_dangling_deployment, 1u);
  EXPECT_EQ(report.build.orphan_task_runs, 0u);
  EXPECT_EQ(report.build.flow_runs_missing_flow, 0u);
  EXPECT_EQ(report.build.flow_runs_missing_parent_task_run, 0u);
  EXPECT_EQ(report.build.deployments_missing_flow, 0u);
}

}  // namespace
}  // namespace taskdex
