#include "engine/snapshot_loader.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/datetime.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_snapshot.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

const char kT1[] =
    R"({"id":"00000000-0000-4000-8000-000000000001","created":"2024-05-01T09:59:58.250000Z","updated":"2024-05-01T10:01:00.000001Z","name":"extract_a","flow_run_id":"a1000000-0000-4000-8000-000000000000","task_key":"extract_a","dynamic_key":"0","cache_key":null,"cache_expiration":null,"task_version":null,"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null},"tags":["io"],"labels":{},"state_id":"5e000000-0000-4000-8000-000000000001","task_inputs":{"source":[{"input_type":"parameter","name":"source"}]},"state_type":"COMPLETED","state_name":"Completed","run_count":1,"flow_run_run_count":1,"expected_start_time":"2024-05-01T10:00:00Z","next_scheduled_start_time":null,"start_time":"2024-05-01T10:00:05Z","end_time":"2024-05-01T10:01:00Z","total_run_time":55.0,"estimated_run_time":55.0,"estimated_start_time_delta":5.0,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001"}},"future_field":{"k":1}})";

// examples.md example 1, <T1>: the sub-documents as /paginate prints them.
const char kT1State[] =
    R"({"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}})";
const char kT1Policy[] =
    R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})";
const char kT1Inputs[] = R"({"source":[{"input_type":"parameter","name":"source"}]})";

// A minimal valid task-run line with id ...n.
std::string TaskLine(int n, std::string_view more = "") {
  return absl::StrFormat(
      R"({"id":"00000000-0000-4000-8000-%012d","name":"t%d","task_key":"k","dynamic_key":"0"%s})",
      n, n, more);
}

absl::StatusOr<SnapshotRecords> Read(const TempSnapshot& s, LoadReport* report = nullptr,
                                     LoadOptions options = {}) {
  if (options.threads == 0) options.threads = 1;
  return ReadSnapshotRecords(s.dir(), options, report);
}

TEST(SnapshotLoaderTest, LoadsTheExamplesSnapshot) {
  LoadReport report;
  auto store = LoadSnapshot(TASKDEX_EXAMPLES_DIR "/snapshot", LoadOptions{}, &report);
  ASSERT_TRUE(store.ok()) << store.status();
  const Store& s = **store;
  EXPECT_EQ(s.flows.size(), 3u);
  EXPECT_EQ(s.deployments.size(), 2u);
  EXPECT_EQ(s.flow_runs.size(), 4u);
  EXPECT_EQ(s.task_runs.size(), 7u);
  EXPECT_EQ(report.flows, 3u);
  EXPECT_EQ(report.task_runs, 7u);
  EXPECT_TRUE(report.missing_files.empty());
  EXPECT_EQ(report.skipped_lines, 0u);
  const BuildReport& b = report.build;
  EXPECT_EQ(b.flow_runs_dangling_deployment, 1u);
  EXPECT_EQ(b.orphan_task_runs, 0u);
  EXPECT_EQ(b.flow_runs_missing_flow, 0u);
  EXPECT_EQ(b.flow_runs_missing_parent_task_run, 0u);
  EXPECT_EQ(b.deployments_missing_flow, 0u);
  EXPECT_EQ(b.replaced_task_runs + b.replaced_flow_runs + b.replaced_flows + b.replaced_deployments,
            0u);
  EXPECT_NE(report.Summary().find("deployment_id names no deployment"), std::string::npos);

  // T2 has a subflow (FR3); T5 has no flow run.
  RowId t2 = s.task_run_by_id.at(*ParseUuid("00000000-0000-4000-8000-000000000002"));
  RowId t5 = s.task_run_by_id.at(*ParseUuid("00000000-0000-4000-8000-000000000005"));
  EXPECT_TRUE(s.task_runs_with_subflow.contains(t2));
  EXPECT_EQ(s.task_runs_with_subflow.cardinality(), 1u);
  EXPECT_FALSE(s.task_runs_with_flow_run.contains(t5));
  EXPECT_EQ(s.task_runs_with_flow_run.cardinality(), 6u);
}

TEST(SnapshotLoaderTest, NormalizesT1AsExampleOnePrintsIt) {
  auto r = ParseTaskRunLine(kT1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state_json, kT1State);
  EXPECT_EQ(r->empirical_policy_json, kT1Policy);
  EXPECT_EQ(r->task_inputs_json, kT1Inputs);
  EXPECT_EQ(r->extras_json, R"(,"future_field":{"k":1})");
  EXPECT_EQ(r->labels_json, "{}");
  EXPECT_EQ(r->parameters_json, "{}");
  EXPECT_EQ(r->context_json, "{}");
  EXPECT_EQ(FormatDatetime(*r->created), "2024-05-01T09:59:58.250000Z");
  EXPECT_EQ(FormatDatetime(*r->updated), "2024-05-01T10:01:00.000001Z");
  EXPECT_EQ(FormatDatetime(*r->state_timestamp), "2024-05-01T10:01:00Z");
  EXPECT_EQ(r->state_scheduled_time_null_offset, -1);
  EXPECT_EQ(r->total_run_time_us, 55'000'000);
  EXPECT_EQ(r->run_count, 1);
  EXPECT_EQ(r->state_type, StateType::kCompleted);
  EXPECT_EQ(r->state_name, "Completed");
  EXPECT_EQ(r->tags, std::vector<std::string>{"io"});
  EXPECT_FALSE(r->next_scheduled_start_time.has_value());
  EXPECT_EQ(UuidToString(*r->flow_run_id), "a1000000-0000-4000-8000-000000000000");
}

TEST(SnapshotLoaderTest, DefaultsForAMinimalLine) {
  auto r = ParseTaskRunLine(TaskLine(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state_json, "null");
  EXPECT_FALSE(r->state_timestamp.has_value());
  EXPECT_EQ(r->empirical_policy_json, kT1Policy);
  EXPECT_EQ(r->task_inputs_json, "{}");
  EXPECT_EQ(r->labels_json, "{}");
  EXPECT_EQ(r->extras_json, "");
  EXPECT_FALSE(r->flow_run_id.has_value());
  EXPECT_FALSE(r->state_type.has_value());
  EXPECT_EQ(r->total_run_time_us, 0);
  EXPECT_TRUE(r->tags.empty());
}

TEST(SnapshotLoaderTest, KeepsExtrasInLineOrderWithNumberText) {
  auto r = ParseTaskRunLine(TaskLine(
      1,
      R"(, "zeta" : 1.50 ,"alpha":[1e5, 2, {"x" : -0.0}],"b\u00e9":"x\u00e9\n","n":null,"t":true)"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->extras_json,
            R"(,"zeta":1.50,"alpha":[1e5,2,{"x":-0.0}],"b\u00e9":"x\u00e9\n","n":null,"t":true)");
}

// A value nested past kMaxJsonDepth is a clear error, not a stack overflow
// (the minifying walk is recursive) nor simdjson's debug-build abort.
TEST(SnapshotLoaderTest, TooDeepNestingIsAnErrorNotACrash) {
  auto nested = [](size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  auto ok = ParseTaskRunLine(TaskLine(1, ",\"extra\":" + nested(900)));
  ASSERT_TRUE(ok.ok()) << ok.status();
  for (size_t levels : {size_t{1500}, size_t{2000000}}) {
    auto r = ParseTaskRunLine(TaskLine(1, ",\"extra\":" + nested(levels)));
    ASSERT_FALSE(r.ok()) << levels;
    EXPECT_NE(r.status().message().find("extra"), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("deep"), std::string::npos) << r.status();
  }
}

TEST(SnapshotLoaderTest, ParametersAndContextAreKept) {
  auto r = ParseTaskRunLine(TaskLine(1, R"(,"parameters":{"a": 1.0},"context":{})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parameters_json, R"({"a":1.0})");
  EXPECT_EQ(r->context_json, "{}");
  EXPECT_EQ(r->extras_json, R"(,"parameters":{"a":1.0},"context":{})");
}

TEST(SnapshotLoaderTest, ScheduledStateWithoutScheduledTimeRecordsTheOffset) {
  auto r = ParseTaskRunLine(TaskLine(
      1,
      R"(,"state":{"id":"5E000000-0000-4000-8000-000000000001","type":"SCHEDULED","timestamp":"2024-05-01T12:00:00+02:00","data":0})"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(r->state_scheduled_time_null_offset, 0);
  EXPECT_EQ(r->state_json.substr(r->state_scheduled_time_null_offset - 17, 21),
            R"("scheduled_time":null)");
  EXPECT_NE(
      r->state_json.find(
          R"("id":"5e000000-0000-4000-8000-000000000001","type":"SCHEDULED","name":"Scheduled","timestamp":"2024-05-01T10:00:00Z","message":null,"data":null)"),
      std::string::npos)
      << r->state_json;
  EXPECT_EQ(FormatDatetime(*r->state_timestamp), "2024-05-01T10:00:00Z");
}

TEST(SnapshotLoaderTest, FlowRunDeploymentAndFlowLines) {
  auto fr = ParseFlowRunLine(
      R"({"id":"a1000000-0000-4000-8000-000000000000","name":"happy-otter","flow_id":"f1000000-0000-4000-8000-000000000000","deployment_id":null,"tags":["prod"],"state_type":"COMPLETED","state_name":"Completed","work_queue_name":"default","created_by":{"id":"C0000000-0000-4000-8000-000000000000","type":7,"display_value":"x"},"parent_task_run_id":"00000000-0000-4000-8000-000000000002","start_time":"2024-05-01T10:00:00","unknown":[1]})");
  ASSERT_TRUE(fr.ok()) << fr.status();
  EXPECT_EQ(fr->name, "happy-otter");
  EXPECT_FALSE(fr->deployment_id.has_value());
  EXPECT_TRUE(fr->has_created_by);
  EXPECT_EQ(fr->created_by_id, "C0000000-0000-4000-8000-000000000000");
  EXPECT_EQ(fr->created_by_type, "7");
  EXPECT_EQ(fr->work_queue_name, "default");
  EXPECT_EQ(FormatDatetime(*fr->start_time), "2024-05-01T10:00:00Z");
  EXPECT_EQ(UuidToString(*fr->parent_task_run_id), "00000000-0000-4000-8000-000000000002");

  auto cb_null = ParseFlowRunLine(
      R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000","created_by":null})");
  ASSERT_TRUE(cb_null.ok());
  EXPECT_FALSE(cb_null->has_created_by);

  auto d = ParseDeploymentLine(
      R"({"id":"d2000000-0000-4000-8000-000000000000","name":"report_main","flow_id":"f3000000-0000-4000-8000-000000000000","paused":true,"tags":[],"work_queue_name":null,"other":{}})");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->paused);
  EXPECT_FALSE(d->work_queue_name.has_value());

  auto f = ParseFlowLine(
      R"({"id":"f1000000-0000-4000-8000-000000000000","name":"etl","tags":["prod","db"],"labels":{}})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->tags, (std::vector<std::string>{"prod", "db"}));
}

struct BadLine {
  const char* file;
  std::string line;
  const char* expected;  // prefix of the message after "<file>:2: "
};

TEST(SnapshotLoaderTest, BadLinesFailWithFileLineAndKey) {
  const std::string fr_ok =
      R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000"})";
  const std::vector<BadLine> cases = {
      {"task_runs.ndjson", R"({"id": "00000000-0000-4000-8000-000000000002", "name":)",
       "(line): not valid JSON"},
      {"task_runs.ndjson", "not json", "(line): expected a JSON object"},
      {"task_runs.ndjson", "[1, 2]", "(line): expected a JSON object"},
      {"task_runs.ndjson", "12", "(line): expected a JSON object"},
      {"task_runs.ndjson", TaskLine(2) + " {}", "(line): not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"start_time":12.5e400)"), "start_time:"},
      {"task_runs.ndjson", TaskLine(2, R"(,"start_time":true)"),
       "start_time: expected an ISO 8601 datetime string, a Unix time or null, got true"},
      {"task_runs.ndjson", TaskLine(2, R"(,"start_time":"2024-13-01T00:00:00Z")"),
       "start_time: invalid datetime \"2024-13-01T00:00:00Z\""},
      {"task_runs.ndjson", TaskLine(2, R"(,"created":{})"), "created: expected an ISO 8601"},
      {"task_runs.ndjson",
       R"({"id":"00000000-0000-4000-8000-00000000000X","name":"a","task_key":"k","dynamic_key":"0"})",
       "id: invalid UUID \"00000000-0000-4000-8000-00000000000X\""},
      {"task_runs.ndjson", TaskLine(2, R"(,"flow_run_id":5)"),
       "flow_run_id: expected a string or null, got 5"},
      {"task_runs.ndjson", TaskLine(2, R"(,"state_id":"abc")"), "state_id: invalid UUID"},
      {"task_runs.ndjson", TaskLine(2, R"(,"name":5)"), "name: expected a string, got 5"},
      {"task_runs.ndjson", TaskLine(2, R"(,"cache_key":[])"),
       "cache_key: expected a string or null, got an array"},
      {"task_runs.ndjson", TaskLine(2, R"(,"tags":"io")"), "tags: expected a list of strings"},
      {"task_runs.ndjson", TaskLine(2, R"(,"tags":["a",1])"), "tags[1]: expected a string, got 1"},
      {"task_runs.ndjson", TaskLine(2, R"(,"tags":null)"), "tags: expected a list of strings"},
      {"task_runs.ndjson", TaskLine(2, R"(,"run_count":"1")"),
       "run_count: expected an integer, got \"1\""},
      {"task_runs.ndjson", TaskLine(2, R"(,"run_count":1.5)"), "run_count: expected an integer"},
      {"task_runs.ndjson", TaskLine(2, R"(,"total_run_time":null)"),
       "total_run_time: expected a number of seconds, got null"},
      {"task_runs.ndjson", TaskLine(2, R"(,"labels":[])"),
       "labels: expected an object or null, got an array"},
      {"task_runs.ndjson", TaskLine(2, R"(,"empirical_policy":[])"),
       "empirical_policy: expected an object, got an array"},
      {"task_runs.ndjson", TaskLine(2, R"(,"empirical_policy":{"retries":"3"})"),
       "empirical_policy.retries: expected an integer or null, got \"3\""},
      {"task_runs.ndjson", TaskLine(2, R"(,"task_inputs":{"x":{}})"),
       "task_inputs.x: expected a list of inputs, got an object"},
      {"task_runs.ndjson",
       TaskLine(2, R"(,"task_inputs":{"x":[{"input_type":"task_run","id":"zz"}]})"),
       "task_inputs.x[0].id: invalid UUID"},
      {"task_runs.ndjson", TaskLine(2, R"(,"state_type":"RUNING")"),
       "state_type: unknown state type \"RUNING\""},
      {"task_runs.ndjson", TaskLine(2, R"(,"state_type":1)"),
       "state_type: expected a state type string or null, got 1"},
      {"task_runs.ndjson", TaskLine(2, R"(,"state_name":false)"),
       "state_name: expected a string or null, got false"},
      {"task_runs.ndjson", TaskLine(2, R"(,"state":"RUNNING")"),
       "state: expected an object or null"},
      {"task_runs.ndjson",
       TaskLine(
           2,
           R"(,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"RUNING","timestamp":"2024-05-01T10:00:00Z"})"),
       "state.type: unknown state type \"RUNING\""},
      {"task_runs.ndjson",
       TaskLine(2, R"(,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"RUNNING"})"),
       "state.timestamp: missing required key"},
      {"task_runs.ndjson",
       TaskLine(2, R"(,"state":{"type":"RUNNING","timestamp":"2024-05-01T10:00:00Z"})"),
       "state.id: missing required key"},
      {"task_runs.ndjson",
       TaskLine(
           2,
           R"(,"state":{"id":"5e000000-0000-4000-8000-000000000001","timestamp":"2024-05-01T10:00:00Z"})"),
       "state.type: missing required key"},
      {"task_runs.ndjson",
       TaskLine(
           2,
           R"(,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":{"scheduled_time":"soon"}})"),
       "state.state_details.scheduled_time: invalid datetime \"soon\""},
      {"task_runs.ndjson",
       R"({"id":"00000000-0000-4000-8000-000000000002","name":"a","dynamic_key":"0"})",
       "task_key: missing required key"},
      {"task_runs.ndjson",
       R"({"id":"00000000-0000-4000-8000-000000000002","task_key":"a","dynamic_key":"0"})",
       "name: missing required key"},
      {"task_runs.ndjson", R"({"name":"a","task_key":"a","dynamic_key":"0"})",
       "id: missing required key"},
      {"task_runs.ndjson", TaskLine(2, R"(,"extra":[1,})"), "extra: not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"extra":"\u12")"), "extra: not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"extra":01)"), "extra: not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"name":"a\x")"), "name: not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"estimated_run_time":[1,})"),
       "estimated_run_time: not valid JSON"},
      {"task_runs.ndjson", TaskLine(2, R"(,"empirical_policy":{"foo":tru})"),
       "empirical_policy.foo: not valid JSON"},
      {"task_runs.ndjson",
       TaskLine(
           2,
           R"(,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":{"zz":"\q"}})"),
       "state.state_details.zz: not valid JSON"},
      {"flows.ndjson",
       R"({"id":"f1000000-0000-4000-8000-000000000000","name":"x","labels":{"a":nul}})",
       "labels: not valid JSON"},
      {"flow_runs.ndjson", R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n"})",
       "flow_id: missing required key"},
      {"flow_runs.ndjson",
       R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000","created_by":"me"})",
       "created_by: expected an object or null"},
      {"flow_runs.ndjson",
       R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000","end_time":"yesterday"})",
       "end_time: invalid datetime"},
      {"deployments.ndjson",
       R"({"id":"d1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000","paused":"no"})",
       "paused: expected a boolean, got \"no\""},
      {"deployments.ndjson", R"({"id":"d1000000-0000-4000-8000-000000000000","name":"n"})",
       "flow_id: missing required key"},
      {"flows.ndjson", R"({"id":"f1000000-0000-4000-8000-000000000000"})",
       "name: missing required key"},
      {"flows.ndjson", R"({"id":"f1000000-0000-4000-8000-000000000000","name":"x","tags":[null]})",
       "tags[0]: expected a string, got null"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(c.line);
    TempSnapshot snap;
    snap.Write("task_runs.ndjson", TaskLine(1) + "\n");
    std::string good;
    if (std::string_view(c.file) == "task_runs.ndjson") good = TaskLine(1);
    if (std::string_view(c.file) == "flow_runs.ndjson") good = fr_ok;
    if (std::string_view(c.file) == "deployments.ndjson") {
      good =
          R"({"id":"d9000000-0000-4000-8000-000000000000","name":"n","flow_id":"f1000000-0000-4000-8000-000000000000"})";
    }
    if (std::string_view(c.file) == "flows.ndjson") {
      good = R"({"id":"f9000000-0000-4000-8000-000000000000","name":"n"})";
    }
    snap.Write(c.file, good + "\n" + c.line + "\n" + good + "\n");
    auto records = Read(snap);
    ASSERT_FALSE(records.ok());
    EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
    std::string want = absl::StrFormat("%s:2: %s", c.file, c.expected);
    EXPECT_EQ(std::string(records.status().message()).substr(0, want.size()), want)
        << records.status().message();
  }
}

TEST(SnapshotLoaderTest, SkipBadLinesCountsAndKeepsTheRest) {
  TempSnapshot snap;
  std::string text = TaskLine(1) + "\n" + "oops\n" + TaskLine(3) + "\n" +
                     TaskLine(4, R"(,"tags":5)") + "\n" + TaskLine(5) + "\n" +
                     R"({"id":"bad","name":"a","task_key":"k","dynamic_key":"0"})" + "\n";
  snap.Write("task_runs.ndjson", text);
  LoadOptions options;
  options.skip_bad_lines = true;
  LoadReport report;
  auto records = Read(snap, &report, options);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->task_runs.size(), 3u);
  EXPECT_EQ(records->task_runs[1].name, "t3");
  EXPECT_EQ(report.skipped_lines, 3u);
  ASSERT_EQ(report.first_errors.size(), 3u);
  EXPECT_EQ(report.first_errors[0].substr(0, 27), "task_runs.ndjson:2: (line):");
  EXPECT_EQ(report.first_errors[1].substr(0, 26), "task_runs.ndjson:4: tags: ");
  EXPECT_EQ(report.first_errors[2].substr(0, 24), "task_runs.ndjson:6: id: ");
  EXPECT_NE(report.Summary().find("skipped 3 bad lines"), std::string::npos);
}

TEST(SnapshotLoaderTest, SkipBadLinesKeepsTenReasons) {
  TempSnapshot snap;
  std::string text;
  for (int i = 0; i < 25; ++i) text += "{bad\n";
  text += TaskLine(1) + "\n";
  snap.Write("task_runs.ndjson", text);
  LoadOptions options;
  options.skip_bad_lines = true;
  LoadReport report;
  auto records = Read(snap, &report, options);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->task_runs.size(), 1u);
  EXPECT_EQ(report.skipped_lines, 25u);
  EXPECT_EQ(report.first_errors.size(), 10u);
}

TEST(SnapshotLoaderTest, TruncatedLastLineFailsLoudly) {
  TempSnapshot snap;
  std::string cut = TaskLine(3);
  cut.resize(cut.size() - 10);
  snap.Write("task_runs.ndjson", TaskLine(1) + "\n" + TaskLine(2) + "\n" + cut);
  auto records = Read(snap);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(std::string(records.status().message()).substr(0, 20), "task_runs.ndjson:3: ");

  // Cut right after a complete key/value, before the closing brace.
  snap.Write("task_runs.ndjson",
             TaskLine(1) + "\n" + R"({"id":"00000000-0000-4000-8000-000000000002")");
  records = Read(snap);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(std::string(records.status().message()).substr(0, 20), "task_runs.ndjson:2: ");
}

TEST(SnapshotLoaderTest, CompleteLastLineWithoutNewlineIsFine) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson", TaskLine(1) + "\n" + TaskLine(2));
  auto records = Read(snap);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->task_runs.size(), 2u);
}

TEST(SnapshotLoaderTest, CrlfAndBlankLines) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson", "\r\n" + TaskLine(1) + "\r\n   \r\n\t\n\n" + TaskLine(2) + "\r\n" +
                                     TaskLine(3, R"(,"name":7)") + "\r\n");
  auto records = Read(snap);
  ASSERT_FALSE(records.ok());
  // Blank lines still count: the bad line is the 7th.
  EXPECT_EQ(std::string(records.status().message()).substr(0, 26), "task_runs.ndjson:7: name: ");

  snap.Write("task_runs.ndjson", "\r\n" + TaskLine(1) + "\r\n   \r\n\t\n\n" + TaskLine(2) + "\r\n");
  records = Read(snap);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->task_runs.size(), 2u);
  EXPECT_EQ(records->task_runs[1].name, "t2");
}

TEST(SnapshotLoaderTest, EmptyAndMissingFiles) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson", "");
  snap.Write("flows.ndjson", "\n\n");
  LoadReport report;
  auto records = Read(snap, &report);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(records->task_runs.empty());
  EXPECT_TRUE(records->flows.empty());
  EXPECT_EQ(report.missing_files,
            (std::vector<std::string>{"flow_runs.ndjson", "deployments.ndjson"}));
  EXPECT_NE(report.Summary().find("missing optional file flow_runs.ndjson"), std::string::npos);

  auto store = LoadSnapshot(snap.dir(), LoadOptions{}, nullptr);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->task_runs.size(), 0u);
}

TEST(SnapshotLoaderTest, MissingTaskRunsIsAnError) {
  TempSnapshot snap;
  snap.Write("flows.ndjson", "");
  auto records = Read(snap);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(records.status().message().find("task_runs.ndjson"), std::string::npos);
}

TEST(SnapshotLoaderTest, RepeatedIdsKeepTheLastLineAndAreCounted) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson",
             TaskLine(1) + "\n" + TaskLine(2) + "\n" + TaskLine(1, R"(,"name":"again")") + "\n");
  snap.Write("flows.ndjson", R"({"id":"f1000000-0000-4000-8000-000000000000","name":"a"})"
                             "\n"
                             R"({"id":"f1000000-0000-4000-8000-000000000000","name":"b"})"
                             "\n");
  LoadReport report;
  auto store = LoadSnapshot(snap.dir(), LoadOptions{}, &report);
  ASSERT_TRUE(store.ok()) << store.status();
  const Store& s = **store;
  ASSERT_EQ(s.task_runs.size(), 2u);
  RowId row = s.task_run_by_id.at(*ParseUuid("00000000-0000-4000-8000-000000000001"));
  EXPECT_EQ(s.task_run_names.Get(s.task_runs.name[row]), "again");
  EXPECT_EQ(report.build.replaced_task_runs, 1u);
  EXPECT_EQ(report.build.replaced_flows, 1u);
  EXPECT_EQ(s.flow_names.Get(s.flows.name[0]), "b");
  EXPECT_EQ(report.task_runs, 2u);
}

TEST(SnapshotLoaderTest, CountsEveryDanglingReference) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson",
             TaskLine(1, R"(,"flow_run_id":"a9000000-0000-4000-8000-000000000000")") + "\n" +
                 TaskLine(2, R"(,"flow_run_id":"a1000000-0000-4000-8000-000000000000")") + "\n");
  snap.Write(
      "flow_runs.ndjson",
      R"({"id":"a1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f9000000-0000-4000-8000-000000000000","deployment_id":"d9000000-0000-4000-8000-000000000000","parent_task_run_id":"00000000-0000-4000-8000-000000000099"})"
      "\n");
  snap.Write(
      "deployments.ndjson",
      R"({"id":"d1000000-0000-4000-8000-000000000000","name":"n","flow_id":"f8000000-0000-4000-8000-000000000000"})"
      "\n");
  LoadReport report;
  auto store = LoadSnapshot(snap.dir(), LoadOptions{}, &report);
  ASSERT_TRUE(store.ok()) << store.status();
  const BuildReport& b = report.build;
  EXPECT_EQ(b.orphan_task_runs, 1u);
  EXPECT_EQ(b.flow_runs_missing_flow, 1u);
  EXPECT_EQ(b.flow_runs_dangling_deployment, 1u);
  EXPECT_EQ(b.flow_runs_missing_parent_task_run, 1u);
  EXPECT_EQ(b.deployments_missing_flow, 1u);
  EXPECT_EQ(report.missing_files, std::vector<std::string>{"flows.ndjson"});
  const Store& s = **store;
  EXPECT_EQ(s.task_runs.flow_run_row[0], kNoRow);
  EXPECT_TRUE(s.task_runs.flow_run_id[0].has_value());  // still the stored id
  EXPECT_EQ(s.task_runs.flow_run_row[1], 0u);
  EXPECT_EQ(s.flow_runs.deployment_row[0], kNoRow);
  EXPECT_TRUE(s.flow_runs.deployment_id[0].has_value());
}

// --- multi-threaded parse ------------------------------------------------

std::string Describe(const TaskRunRecord& r) {
  auto t = [](const std::optional<Micros>& m) { return m ? std::to_string(*m) : "null"; };
  std::string tags;
  for (const auto& tag : r.tags) tags += tag + "|";
  return absl::StrFormat(
      "%s %s %s %s %s %s %s %s %s %s %s %d %d %s %s %d %s %s %d %s %s %s %s", UuidToString(r.id),
      t(r.created), t(r.updated), r.name, r.flow_run_id ? UuidToString(*r.flow_run_id) : "-",
      r.task_key, r.dynamic_key, r.cache_key.value_or("-"), r.empirical_policy_json, tags,
      r.labels_json, r.state_type ? static_cast<int>(*r.state_type) : -1, r.run_count,
      t(r.start_time), t(r.end_time), r.total_run_time_us, r.state_json, t(r.state_timestamp),
      r.state_scheduled_time_null_offset, r.task_inputs_json, r.parameters_json, r.extras_json,
      t(r.expected_start_time));
}

std::string GeneratedTaskRuns(int n, int bad_every) {
  std::mt19937 rng(12345);
  const char* types[] = {"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED"};
  std::string text;
  for (int i = 1; i <= n; ++i) {
    if (bad_every > 0 && i % bad_every == 0) {
      text += "{\"id\": broken\n";
      continue;
    }
    int ty = rng() % 5;
    std::string more = absl::StrFormat(
        R"(,"flow_run_id":"a%07d-0000-4000-8000-000000000000","tags":["t%d","u%d"],"state_type":"%s","expected_start_time":"2024-05-01T%02d:%02d:00Z","total_run_time":%d.%03d,"empirical_policy":{"max_retries":%d,"retry_delay_seconds":%d},"task_inputs":{"x":[{"id":"00000000-0000-4000-8000-%012d"}]},"state":{"id":"5e000000-0000-4000-8000-%012d","type":"%s","timestamp":"2024-05-01T10:00:00Z","data":{"v":%d}},"extra_%d":[%d.50])",
        rng() % 1000, rng() % 7, rng() % 3, types[ty], rng() % 24, rng() % 60, rng() % 100,
        rng() % 1000, rng() % 3, rng() % 4, rng() % 1000, i, types[ty], rng() % 5, rng() % 4, i);
    text += TaskLine(i, more);
    text += (i % 3 == 0) ? "\r\n" : "\n";
    if (i % 97 == 0) text += "\n";
  }
  return text;
}

TEST(SnapshotLoaderTest, MultiThreadedParseEqualsSingleThreaded) {
  TempSnapshot snap;
  std::string text = GeneratedTaskRuns(8000, 0);
  ASSERT_GT(text.size(), 3u << 20);
  snap.Write("task_runs.ndjson", text);
  LoadOptions one;
  one.threads = 1;
  LoadOptions many;
  many.threads = 4;
  std::vector<LoadProgress> progress;
  many.progress = [&progress](const LoadProgress& p) { progress.push_back(p); };
  auto a = ReadSnapshotRecords(snap.dir(), one, nullptr);
  auto b = ReadSnapshotRecords(snap.dir(), many, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->task_runs.size(), 8000u);
  ASSERT_EQ(b->task_runs.size(), a->task_runs.size());
  for (size_t i = 0; i < a->task_runs.size(); ++i) {
    ASSERT_EQ(Describe(a->task_runs[i]), Describe(b->task_runs[i])) << i;
  }
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().bytes_done, text.size());
  EXPECT_EQ(progress.back().bytes_total, text.size());
}

TEST(SnapshotLoaderTest, ProgressNamesTheParseThenBuildThenIndexPhases) {
  TempSnapshot snap;
  snap.Write("task_runs.ndjson", GeneratedTaskRuns(300, 0));
  LoadOptions options;
  std::vector<std::string> phases;
  uint64_t lines_at_indexes = 0;
  options.progress = [&](const LoadProgress& p) {
    if (phases.empty() || phases.back() != p.phase) phases.emplace_back(p.phase);
    if (p.phase == "indexes") lines_at_indexes = p.lines_done;
  };
  absl::StatusOr<std::unique_ptr<Store>> store = LoadSnapshot(snap.dir(), options, nullptr);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(phases, (std::vector<std::string>{"parse", "build", "indexes"}));
  EXPECT_EQ(lines_at_indexes, 300u);
}

TEST(SnapshotLoaderTest, MultiThreadedSkipAndFailReportTheSameLines) {
  TempSnapshot snap;
  std::string text = GeneratedTaskRuns(8000, 1500);
  snap.Write("task_runs.ndjson", text);
  for (bool skip : {true, false}) {
    SCOPED_TRACE(skip);
    LoadOptions one;
    one.threads = 1;
    one.skip_bad_lines = skip;
    LoadOptions many = one;
    many.threads = 3;
    LoadReport ra, rb;
    auto a = ReadSnapshotRecords(snap.dir(), one, &ra);
    auto b = ReadSnapshotRecords(snap.dir(), many, &rb);
    if (!skip) {
      ASSERT_FALSE(a.ok());
      EXPECT_EQ(a.status(), b.status());
      EXPECT_EQ(std::string(a.status().message()).substr(0, 23),
                "task_runs.ndjson:1515: ");  // 15 blank lines before it
      continue;
    }
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(ra.skipped_lines, 5u);
    EXPECT_EQ(rb.skipped_lines, 5u);
    EXPECT_EQ(ra.first_errors, rb.first_errors);
    EXPECT_EQ(a->task_runs.size(), b->task_runs.size());
  }
}

// --- blocks: the file is read and parsed in blocks of whole lines ------------

// Every block size (down to one byte, where every line is longer than its
// block), every thread count: the same records as one whole-file parse.
TEST(SnapshotLoaderBlocksTest, AnyBlockSizeParsesTheSameRecords) {
  TempSnapshot snap;
  std::string text = GeneratedTaskRuns(600, 0);
  snap.Write("task_runs.ndjson", text);
  LoadOptions whole;
  whole.threads = 1;
  whole.block_bytes = text.size() * 2;
  auto want = ReadSnapshotRecords(snap.dir(), whole, nullptr);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(want->task_runs.size(), 600u);
  for (size_t block : {size_t{1}, size_t{7}, size_t{500}, size_t{4096}, size_t{65536}}) {
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(absl::StrFormat("block %d threads %d", block, threads));
      LoadOptions options;
      options.threads = threads;
      options.block_bytes = block;
      std::vector<LoadProgress> progress;
      options.progress = [&progress](const LoadProgress& p) { progress.push_back(p); };
      LoadReport report;
      auto got = ReadSnapshotRecords(snap.dir(), options, &report);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->task_runs.size(), want->task_runs.size());
      for (size_t i = 0; i < got->task_runs.size(); ++i) {
        ASSERT_EQ(Describe(got->task_runs[i]), Describe(want->task_runs[i])) << i;
      }
      EXPECT_EQ(report.bytes, text.size());
      ASSERT_FALSE(progress.empty());
      EXPECT_EQ(progress.back().bytes_done, text.size());
      EXPECT_EQ(progress.back().lines_done,
                static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')));
    }
  }
}

// A line cut by a block boundary, with CRLF, blank lines and a last line
// without a newline: block sizes around the cut.
TEST(SnapshotLoaderBlocksTest, LinesSplitAcrossBlocks) {
  TempSnapshot snap;
  std::string first = TaskLine(1);
  std::string text = first + "\r\n\n  \r\n" + TaskLine(2) + "\n" + TaskLine(3);
  snap.Write("task_runs.ndjson", text);
  for (size_t block = first.size() - 2; block < first.size() + 8; ++block) {
    SCOPED_TRACE(block);
    LoadOptions options;
    options.threads = 2;
    options.block_bytes = block;
    auto got = ReadSnapshotRecords(snap.dir(), options, nullptr);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->task_runs.size(), 3u);
    EXPECT_EQ(got->task_runs[0].name, "t1");
    EXPECT_EQ(got->task_runs[1].name, "t2");
    EXPECT_EQ(got->task_runs[2].name, "t3");
  }
}

// The first bad line fails the load with its own number however many blocks
// (and threads) came before it, also when a later block fails too.
TEST(SnapshotLoaderBlocksTest, ErrorInALateBlockNamesItsLine) {
  TempSnapshot snap;
  std::string text;
  for (int i = 1; i <= 3000; ++i) {
    if (i == 2718 || i == 2900) {
      text += TaskLine(i, R"(,"run_count":"x")") + "\n";
    } else {
      text += TaskLine(i) + (i % 10 == 0 ? "\n\n" : "\n");
    }
  }
  // Line numbers count the blank lines: 271 before line 2718's record.
  snap.Write("task_runs.ndjson", text);
  for (int threads : {1, 2, 4}) {
    for (size_t block : {size_t{64}, size_t{1000}, size_t{1} << 20}) {
      SCOPED_TRACE(absl::StrFormat("block %d threads %d", block, threads));
      LoadOptions options;
      options.threads = threads;
      options.block_bytes = block;
      auto got = ReadSnapshotRecords(snap.dir(), options, nullptr);
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(std::string(got.status().message()).substr(0, 34),
                "task_runs.ndjson:2989: run_count: ");
      auto store = LoadSnapshot(snap.dir(), options, nullptr);
      ASSERT_FALSE(store.ok());
      EXPECT_EQ(store.status(), got.status());

      options.skip_bad_lines = true;
      LoadReport report;
      got = ReadSnapshotRecords(snap.dir(), options, &report);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->task_runs.size(), 2998u);
      EXPECT_EQ(report.skipped_lines, 2u);
      ASSERT_EQ(report.first_errors.size(), 2u);
      EXPECT_EQ(report.first_errors[0].substr(0, 22), "task_runs.ndjson:2989:");
      EXPECT_EQ(report.first_errors[1].substr(0, 22), "task_runs.ndjson:3189:");
    }
  }
}

// Ten kept reasons are the first ten in line order, across blocks.
TEST(SnapshotLoaderBlocksTest, KeptReasonsAreTheFirstInLineOrder) {
  TempSnapshot snap;
  std::string text;
  for (int i = 1; i <= 400; ++i) text += (i % 20 == 0 ? "{bad" : TaskLine(i)) + "\n";
  snap.Write("task_runs.ndjson", text);
  LoadOptions options;
  options.threads = 3;
  options.block_bytes = 100;
  options.skip_bad_lines = true;
  LoadReport report;
  auto got = ReadSnapshotRecords(snap.dir(), options, &report);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(report.skipped_lines, 20u);
  ASSERT_EQ(report.first_errors.size(), 10u);
  for (int k = 0; k < 10; ++k) {
    std::string prefix = absl::StrFormat("task_runs.ndjson:%d: ", 20 * (k + 1));
    EXPECT_EQ(report.first_errors[k].substr(0, prefix.size()), prefix);
  }
}

// A repeated id keeps its last line whichever blocks the two lines fall in.
TEST(SnapshotLoaderBlocksTest, RepeatedIdsAcrossBlocksKeepTheLastLine) {
  TempSnapshot snap;
  std::string text;
  for (int i = 1; i <= 500; ++i) text += TaskLine(i) + "\n";
  for (int i = 1; i <= 500; i += 7) {
    text += TaskLine(i, absl::StrFormat(R"(,"name":"again%d")", i)) + "\n";
  }
  snap.Write("task_runs.ndjson", text);
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    LoadOptions options;
    options.threads = threads;
    options.block_bytes = 300;
    LoadReport report;
    auto store = LoadSnapshot(snap.dir(), options, &report);
    ASSERT_TRUE(store.ok()) << store.status();
    const Store& s = **store;
    ASSERT_EQ(s.task_runs.size(), 500u);
    EXPECT_EQ(report.build.replaced_task_runs, 72u);
    for (int i : {1, 8, 498}) {
      RowId row = s.task_run_by_id.at(
          *ParseUuid(absl::StrFormat("00000000-0000-4000-8000-%012d", i)));
      EXPECT_EQ(s.task_run_names.Get(s.task_runs.name[row]), absl::StrFormat("again%d", i));
    }
    RowId row = s.task_run_by_id.at(*ParseUuid("00000000-0000-4000-8000-000000000002"));
    EXPECT_EQ(s.task_run_names.Get(s.task_runs.name[row]), "t2");
  }
}

}  // namespace
}  // namespace taskdex
