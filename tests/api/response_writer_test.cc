#include "api/response_writer.h"

#include <memory>
#include <string>
#include <vector>

#include "engine/datetime.h"
#include "engine/records.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/text_format.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

// <T1> of examples.md example 1, exactly.
constexpr char kT1Paginate[] =
    R"json({"id":"00000000-0000-4000-8000-000000000001","created":"2024-05-01T09:59:58.250000Z","updated":"2024-05-01T10:01:00.000001Z","name":"extract_a","flow_run_id":"a1000000-0000-4000-8000-000000000000","task_key":"extract_a","state_id":"5e000000-0000-4000-8000-000000000001","state":{"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}},"task_version":null,"parameters":{},"task_inputs":{"source":[{"input_type":"parameter","name":"source"}]},"context":{},"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null},"tags":["io"],"start_time":"2024-05-01T10:00:05Z","end_time":"2024-05-01T10:01:00Z","total_run_time":55.0,"estimated_run_time":55.0,"estimated_start_time_delta":5.0})json";

// T1 in the full TaskRun shape: its snapshot line with `state` normalized
// and the extra `future_field` after it.
constexpr char kT1Full[] =
    R"json({"id":"00000000-0000-4000-8000-000000000001","created":"2024-05-01T09:59:58.250000Z","updated":"2024-05-01T10:01:00.000001Z","name":"extract_a","flow_run_id":"a1000000-0000-4000-8000-000000000000","task_key":"extract_a","dynamic_key":"0","cache_key":null,"cache_expiration":null,"task_version":null,"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null},"tags":["io"],"labels":{},"state_id":"5e000000-0000-4000-8000-000000000001","task_inputs":{"source":[{"input_type":"parameter","name":"source"}]},"state_type":"COMPLETED","state_name":"Completed","run_count":1,"flow_run_run_count":1,"expected_start_time":"2024-05-01T10:00:00Z","next_scheduled_start_time":null,"start_time":"2024-05-01T10:00:05Z","end_time":"2024-05-01T10:01:00Z","total_run_time":55.0,"estimated_run_time":55.0,"estimated_start_time_delta":5.0,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}},"future_field":{"k":1}})json";

// T1's normalized state (as it appears in kT1Paginate).
constexpr char kT1State[] =
    R"json({"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}})json";

Micros At(const char* iso) {
  DatetimeResult r = ParseDatetimeString(iso);
  EXPECT_TRUE(r.ok()) << iso;
  return r.value;
}

Uuid Id(const char* text) {
  std::optional<Uuid> u = ParseUuid(text);
  EXPECT_TRUE(u.has_value()) << text;
  return u.value_or(Uuid{});
}


constexpr char kPolicy[] =
    R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})";

// A minimal line of examples-snapshot/task_runs.ndjson, normalized.
TaskRunRecord Minimal(const char* id, const char* name) {
  TaskRunRecord r;
  r.id = Id(id);
  r.name = name;
  r.task_key = name;
  r.dynamic_key = "0";
  r.empirical_policy_json = kPolicy;
  return r;
}

TaskRunRecord T1() {
  TaskRunRecord r = Minimal("00000000-0000-4000-8000-000000000001", "extract_a");
  r.created = At("2024-05-01T09:59:58.250000Z");
  r.updated = At("2024-05-01T10:01:00.000001Z");
  r.flow_run_id = Id("a1000000-0000-4000-8000-000000000000");
  r.tags = {"io"};
  r.state_id = Id("5e000000-0000-4000-8000-000000000001");
  r.task_inputs_json = R"({"source":[{"input_type":"parameter","name":"source"}]})";
  r.state_type = StateType::kCompleted;
  r.state_name = "Completed";
  r.run_count = 1;
  r.flow_run_run_count = 1;
  r.expected_start_time = At("2024-05-01T10:00:00Z");
  r.start_time = At("2024-05-01T10:00:05Z");
  r.end_time = At("2024-05-01T10:01:00Z");
  r.total_run_time_us = 55000000;
  r.state_json = kT1State;
  r.state_timestamp = At("2024-05-01T10:01:00Z");
  r.extras_json = R"(,"future_field":{"k":1})";
  return r;
}

TaskRunRecord T4() {  // RUNNING since 10:04, with its state
  TaskRunRecord r = Minimal("00000000-0000-4000-8000-000000000004", "load");
  r.flow_run_id = Id("a3000000-0000-4000-8000-000000000000");
  r.state_type = StateType::kRunning;
  r.state_name = "Running";
  r.expected_start_time = At("2024-05-01T10:04:00Z");
  r.start_time = At("2024-05-01T10:04:00Z");
  r.state_id = Id("5e000000-0000-4000-8000-000000000004");
  r.state_json = "{}";  // content irrelevant here
  r.state_timestamp = At("2024-05-01T10:04:00Z");
  return r;
}

TaskRunRecord T6() {  // SCHEDULED for 10:10, no start, state null
  TaskRunRecord r = Minimal("00000000-0000-4000-8000-000000000006", "extractXa");
  r.flow_run_id = Id("a4000000-0000-4000-8000-000000000000");
  r.tags = {"io"};
  r.state_type = StateType::kScheduled;
  r.state_name = "Scheduled";
  r.expected_start_time = At("2024-05-01T10:10:00Z");
  r.next_scheduled_start_time = At("2024-05-01T10:10:00Z");
  return r;
}

TaskRunRecord T7() {  // null state type, expected 10:03, ended 10:04, never started
  TaskRunRecord r = Minimal("00000000-0000-4000-8000-000000000007", "cleanup");
  r.flow_run_id = Id("a2000000-0000-4000-8000-000000000000");
  r.expected_start_time = At("2024-05-01T10:03:00Z");
  r.end_time = At("2024-05-01T10:04:00Z");
  return r;
}

std::string Paginated(const Store& store, RowId row, Micros now) {
  std::string s;
  AppendTaskRunResponse(store, row, now, &s);
  return s;
}

std::string Full(const Store& store, RowId row, Micros now) {
  std::string s;
  AppendTaskRunFull(store, row, now, &s);
  return s;
}

// The text of `key`'s value in a compact object with scalar values.
std::string Field(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = json.find(needle);
  if (at == std::string::npos) return "<absent>";
  at += needle.size();
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

TEST(ResponseWriterTest, T1RendersExactlyAsExampleOne) {
  StoreBuilder builder;
  builder.AddTaskRun(T1());
  auto built = builder.Build();
  const Store& store = *built;
  // T1's computed fields do not depend on `now` (COMPLETED, started late).
  EXPECT_EQ(Paginated(store, 0, At("2024-05-01T12:00:00Z")), kT1Paginate);
  EXPECT_EQ(Paginated(store, 0, At("2030-01-01T00:00:00Z")), kT1Paginate);
}

TEST(ResponseWriterTest, FullShapeHasEveryKeyAndExtrasAfterState) {
  StoreBuilder builder;
  builder.AddTaskRun(T1());
  auto built = builder.Build();
  const Store& store = *built;
  EXPECT_EQ(Full(store, 0, At("2024-05-01T12:00:00Z")), kT1Full);
}

TEST(ResponseWriterTest, RunningRowEstimatesRunTimeFromStateTimestamp) {
  StoreBuilder builder;
  builder.AddTaskRun(T4());
  auto built = builder.Build();
  const Store& store = *built;
  std::string s = Paginated(store, 0, At("2024-05-01T10:05:30.5Z"));
  EXPECT_EQ(Field(s, "total_run_time"), "0.0");
  EXPECT_EQ(Field(s, "estimated_run_time"), "90.5");
  EXPECT_EQ(Field(s, "estimated_start_time_delta"), "0.0");  // started on time
  // A state timestamp in the future gives a negative estimate.
  s = Paginated(store, 0, At("2024-05-01T10:03:59.5Z"));
  EXPECT_EQ(Field(s, "estimated_run_time"), "-0.5");
  // Full shape: same numbers in pydantic's notation.
  s = Full(store, 0, At("2024-05-01T10:04:00.00001Z"));
  EXPECT_EQ(Field(s, "estimated_run_time"), "0.00001");
  s = Paginated(store, 0, At("2024-05-01T10:04:00.00001Z"));
  EXPECT_EQ(Field(s, "estimated_run_time"), "1e-05");
}

TEST(ResponseWriterTest, RunningWithoutTimestampUsesTotalRunTime) {
  StoreBuilder builder;
  TaskRunRecord r = T4();
  r.state_json = "null";
  r.state_timestamp.reset();
  r.total_run_time_us = 12500000;
  builder.AddTaskRun(r);
  auto built = builder.Build();
  const Store& store = *built;
  std::string s = Paginated(store, 0, At("2024-05-01T11:00:00Z"));
  EXPECT_EQ(Field(s, "estimated_run_time"), "12.5");
  EXPECT_EQ(Field(s, "state"), "null");
}

TEST(ResponseWriterTest, ScheduledRowIsLateOnlyAfterItsExpectedStart) {
  StoreBuilder builder;
  builder.AddTaskRun(T6());
  auto built = builder.Build();
  const Store& store = *built;
  std::string s = Paginated(store, 0, At("2024-05-01T10:15:00Z"));
  EXPECT_EQ(Field(s, "estimated_start_time_delta"), "300.0");
  EXPECT_EQ(Field(s, "estimated_run_time"), "0.0");
  EXPECT_EQ(Field(s, "start_time"), "null");
  EXPECT_EQ(Field(s, "state"), "null");
  EXPECT_EQ(Field(s, "tags"), "[\"io\"]");
  s = Paginated(store, 0, At("2024-05-01T10:10:00Z"));  // not yet late
  EXPECT_EQ(Field(s, "estimated_start_time_delta"), "0.0");
}

TEST(ResponseWriterTest, NullStateTypeCountsAsNotTerminal) {
  StoreBuilder builder;
  builder.AddTaskRun(T7());
  TaskRunRecord done = T7();
  done.id = Id("00000000-0000-4000-8000-0000000000f7");
  done.state_type = StateType::kCompleted;
  builder.AddTaskRun(done);
  auto built = builder.Build();
  const Store& store = *built;
  Micros now = At("2024-05-01T10:15:00.25Z");
  EXPECT_EQ(Field(Paginated(store, 0, now), "estimated_start_time_delta"), "720.25");
  EXPECT_EQ(Field(Paginated(store, 1, now), "estimated_start_time_delta"), "0.0");
  std::string full = Full(store, 0, now);
  EXPECT_EQ(Field(full, "state_type"), "null");
  EXPECT_EQ(Field(full, "state_name"), "null");
  EXPECT_EQ(Field(full, "end_time"), "\"2024-05-01T10:04:00Z\"");
  EXPECT_EQ(Field(Full(store, 1, now), "state_type"), "\"COMPLETED\"");
}

TEST(ResponseWriterTest, NullScheduledTimeBecomesNow) {
  const std::string before =
      R"({"id":"5e000000-0000-4000-8000-000000000006","type":"SCHEDULED","name":"Scheduled","timestamp":"2024-05-01T09:00:00Z","message":null,"data":null,"state_details":{"flow_run_id":null,"task_run_id":null,"child_flow_run_id":null,"scheduled_time":)";
  const std::string after = R"(,"cache_key":null}})";
  TaskRunRecord r = T6();
  r.state_json = before + "null" + after;
  r.state_scheduled_time_null_offset = static_cast<int32_t>(before.size());
  r.state_timestamp = At("2024-05-01T09:00:00Z");
  StoreBuilder builder;
  builder.AddTaskRun(r);
  auto built = builder.Build();
  const Store& store = *built;
  Micros now = At("2024-05-01T10:15:00.123Z");
  std::string want = before + "\"2024-05-01T10:15:00.123000Z\"" + after;
  std::string s = Paginated(store, 0, now);
  EXPECT_NE(s.find(",\"state\":" + want + ",\"task_version\":"), std::string::npos) << s;
  s = Full(store, 0, now);
  EXPECT_NE(s.find(",\"state\":" + want + "}"), std::string::npos) << s;
}

TEST(ResponseWriterTest, EscapesStringsAndWritesOptionalFields) {
  TaskRunRecord r = Minimal("00000000-0000-4000-8000-00000000000a", "we\"ird\n\xc3\xa9");
  r.task_key = "k\\1";
  r.dynamic_key = "d\t";
  r.cache_key = "ck";
  r.cache_expiration = At("2024-05-02T00:00:00.5Z");
  r.task_version = "1.0";
  r.tags = {"a", "b/c"};
  r.labels_json = R"({"x":1.50})";
  r.parameters_json = R"({"p":[1,2]})";
  r.context_json = R"({"c":null})";
  StoreBuilder builder;
  builder.AddTaskRun(r);
  auto built = builder.Build();
  const Store& store = *built;
  std::string s = Paginated(store, 0, 0);
  EXPECT_EQ(Field(s, "name"), "\"we\\\"ird\\n\xc3\xa9\"");
  EXPECT_EQ(Field(s, "task_key"), "\"k\\\\1\"");
  EXPECT_EQ(Field(s, "task_version"), "\"1.0\"");
  EXPECT_EQ(Field(s, "created"), "null");
  EXPECT_EQ(Field(s, "flow_run_id"), "null");
  EXPECT_EQ(Field(s, "state_id"), "null");
  EXPECT_NE(s.find(R"("parameters":{"p":[1,2]},"task_inputs":{},"context":{"c":null},)"),
            std::string::npos);
  EXPECT_NE(s.find(R"("tags":["a","b/c"])"), std::string::npos);
  EXPECT_EQ(Field(s, "dynamic_key"), "<absent>");
  EXPECT_EQ(Field(s, "labels"), "<absent>");
  std::string full = Full(store, 0, 0);
  EXPECT_EQ(Field(full, "dynamic_key"), "\"d\\t\"");
  EXPECT_EQ(Field(full, "cache_key"), "\"ck\"");
  EXPECT_EQ(Field(full, "cache_expiration"), "\"2024-05-02T00:00:00.500000Z\"");
  EXPECT_NE(full.find(R"("labels":{"x":1.50},"state_id":null,)"), std::string::npos);
  EXPECT_EQ(Field(full, "parameters"), "<absent>");
  EXPECT_EQ(full.back(), '}');
  EXPECT_NE(full.find(R"(,"state":null})"), std::string::npos);
}

class EnvelopeTest : public ::testing::Test {
 protected:
  static std::unique_ptr<Store> Make() {
    StoreBuilder builder;
    builder.AddTaskRun(T7());
    builder.AddTaskRun(T6());
    builder.AddTaskRun(T1());
    return builder.Build();
  }
  std::unique_ptr<Store> built_ = Make();
  const Store& store_ = *built_;
};

TEST_F(EnvelopeTest, WrapsResultsInOrderWithCounts) {
  std::vector<RowId> rows = {2, 0};
  Micros now = At("2024-05-01T12:00:00Z");
  std::string s;
  AppendPaginateResponse(store_, rows, 7, 2, "1", now, &s);
  std::string a, b;
  AppendTaskRunResponse(store_, 2, now, &a);
  AppendTaskRunResponse(store_, 0, now, &b);
  EXPECT_EQ(s, "{\"results\":[" + a + "," + b + "],\"count\":7,\"limit\":2,\"pages\":4,\"page\":1}");
}

TEST_F(EnvelopeTest, ZeroLimitHasZeroPages) {
  std::string s;
  AppendPaginateResponse(store_, {}, 7, 0, "1", 0, &s);
  EXPECT_EQ(s, R"({"results":[],"count":7,"limit":0,"pages":0,"page":1})");
}

TEST_F(EnvelopeTest, PagePastTheEndEchoesThePage) {
  std::string s;
  AppendPaginateResponse(store_, {}, 7, 200, "5", 0, &s);
  EXPECT_EQ(s, R"({"results":[],"count":7,"limit":200,"pages":1,"page":5})");
  s.clear();
  AppendPaginateResponse(store_, {}, 7, 3, "123456789012345678901234567890", 0, &s);
  EXPECT_EQ(s,
            R"({"results":[],"count":7,"limit":3,"pages":3,"page":123456789012345678901234567890})");
  s.clear();
  AppendPaginateResponse(store_, {}, 0, 200, "1", 0, &s);
  EXPECT_EQ(s, R"({"results":[],"count":0,"limit":200,"pages":0,"page":1})");
}

TEST(ResponseWriterTest, PageCountIsCeiling) {
  EXPECT_EQ(PageCount(0, 1), 0u);
  EXPECT_EQ(PageCount(1, 1), 1u);
  EXPECT_EQ(PageCount(200, 200), 1u);
  EXPECT_EQ(PageCount(201, 200), 2u);
  EXPECT_EQ(PageCount(7, 0), 0u);
  EXPECT_EQ(PageCount(UINT64_MAX, 1), UINT64_MAX);
  EXPECT_EQ(PageCount(UINT64_MAX, 2), UINT64_MAX / 2 + 1);
}

TEST(ResponseWriterTest, FullArrayJoinsObjects) {
  StoreBuilder builder;
  builder.AddTaskRun(T1());
  auto built = builder.Build();
  const Store& store = *built;
  std::vector<RowId> rows = {0, 0};
  std::string s;
  AppendTaskRunFullArray(store, rows, 0, &s);
  EXPECT_EQ(s, "[" + std::string(kT1Full) + "," + kT1Full + "]");
  s.clear();
  AppendTaskRunFullArray(store, {}, 0, &s);
  EXPECT_EQ(s, "[]");
}

// The same checks on the examples data set as the snapshot loader builds it.
TEST(ResponseWriterTest, LoadedExampleSnapshotRendersT1Exactly) {
  LoadReport report;
  absl::StatusOr<std::unique_ptr<Store>> store =
      LoadSnapshot(std::string(TASKDEX_EXAMPLES_DIR) + "/snapshot", LoadOptions{}, &report);
  ASSERT_TRUE(store.ok()) << store.status();
  const Store& st = **store;
  auto row = [&](const char* id) { return st.task_run_by_id.at(Id(id)); };
  Micros now = At("2024-05-01T10:15:00Z");
  EXPECT_EQ(Paginated(st, row("00000000-0000-4000-8000-000000000001"), now), kT1Paginate);
  EXPECT_EQ(Full(st, row("00000000-0000-4000-8000-000000000001"), now), kT1Full);

  std::string t4 = Paginated(st, row("00000000-0000-4000-8000-000000000004"), now);
  EXPECT_EQ(Field(t4, "estimated_run_time"), "660.0");  // 10:15 - 10:04
  EXPECT_EQ(Field(t4, "estimated_start_time_delta"), "0.0");
  std::string t6 = Paginated(st, row("00000000-0000-4000-8000-000000000006"), now);
  EXPECT_EQ(Field(t6, "estimated_start_time_delta"), "300.0");  // 10:15 - 10:10
  EXPECT_EQ(Field(t6, "state"), "null");
  std::string t7 = Paginated(st, row("00000000-0000-4000-8000-000000000007"), now);
  EXPECT_EQ(Field(t7, "estimated_start_time_delta"), "720.0");  // 10:15 - 10:03
  std::string t5 = Paginated(st, row("00000000-0000-4000-8000-000000000005"), now);
  EXPECT_EQ(Field(t5, "estimated_start_time_delta"), "0.0");  // no expected start
  EXPECT_EQ(Field(t5, "flow_run_id"), "null");
  // Minimal lines: no extras, so the full shape ends with the state.
  EXPECT_NE(Full(st, row("00000000-0000-4000-8000-000000000002"), now).find(",\"state\":null}"),
            std::string::npos);
}

}  // namespace
}  // namespace taskdex

namespace taskdex {
namespace {

// The writer's own number and time formatting agrees with engine/text_format
// and engine/datetime on every path (fast and fallback).
TEST(ResponseWriterTest, DurationsAndTimesMatchTheEngineFormatters) {
  const int64_t durations[] = {0,         1,          5,           10,          99,
                               100,       101,        -100,        -500000,     55000000,
                               2410871,   1000000,    123456789,   -99,         999999999999999,
                               1000000000000000, 1234567890123456, INT64_C(-1000000000000001),
                               86400000000, 7};
  const Micros times[] = {0,
                          1,
                          -1,
                          At("2024-05-01T10:01:00Z"),
                          At("2024-05-01T10:01:00.000001Z"),
                          At("2026-10-28T12:00:09.976501Z"),
                          At("9999-12-31T23:59:59.999999Z"),
                          At("0001-01-01T00:00:00Z"),
                          At("1969-12-31T23:59:59.5Z"),
                          At("2000-02-29T00:00:00Z")};
  StoreBuilder builder;
  int n = 0;
  for (int64_t d : durations) {
    for (Micros t : times) {
      TaskRunRecord r = Minimal("00000000-0000-4000-8000-000000000000", "x");
      r.id.bytes[15] = static_cast<uint8_t>(n);
      r.id.bytes[14] = static_cast<uint8_t>(n >> 8);
      ++n;
      r.total_run_time_us = d;
      r.created = t;
      builder.AddTaskRun(std::move(r));
    }
  }
  auto built = builder.Build();
  RowId row = 0;
  for (int64_t d : durations) {
    for (Micros t : times) {
      std::string want_py, want_pyd, want_time = "\"";
      AppendDurationSeconds(&want_py, d);
      AppendPydanticDurationSeconds(&want_pyd, d);
      AppendDatetime(&want_time, t);
      want_time += "\"";
      std::string s = Paginated(*built, row, 0);
      EXPECT_EQ(Field(s, "total_run_time"), want_py) << d;
      EXPECT_EQ(Field(s, "created"), want_time) << t;
      EXPECT_EQ(Field(Full(*built, row, 0), "total_run_time"), want_pyd) << d;
      ++row;
    }
  }
}

}  // namespace
}  // namespace taskdex

namespace taskdex {
namespace {

// The page writers hint rows ahead of the row they write (RowPrefetcher in
// response_writer.cc) and AppendPaginateResponse walks the page twice; the
// bytes must be exactly the rows written one at a time, in page order, for
// every page size around the lookahead and for repeated and reversed rows.
class PageWriterTest : public ::testing::Test {
 protected:
  static const Store& Sample() {
    static const Store* store = [] {
      auto loaded = LoadSnapshot(std::string(TASKDEX_SOURCE_DIR) + "/data/sample",
                                 LoadOptions{}, nullptr);
      EXPECT_TRUE(loaded.ok()) << loaded.status();
      return loaded.ok() ? loaded->release() : nullptr;
    }();
    return *store;
  }

  // `n` rows scattered over the table (a fixed sequence), with repeats.
  static std::vector<RowId> Scattered(size_t n, uint32_t table_rows) {
    std::vector<RowId> rows;
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      rows.push_back(static_cast<RowId>(x % table_rows));
    }
    if (n >= 4) rows[n - 1] = rows[0];  // a repeat
    return rows;
  }

  static std::string RowByRowPaginate(const Store& st, const std::vector<RowId>& rows,
                                      Micros now) {
    std::string s = "{\"results\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) s += ",";
      AppendTaskRunResponse(st, rows[i], now, &s);
    }
    return s + "],\"count\":3170,\"limit\":200,\"pages\":16,\"page\":1}";
  }

  static std::string RowByRowFull(const Store& st, const std::vector<RowId>& rows, Micros now) {
    std::string s = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) s += ",";
      AppendTaskRunFull(st, rows[i], now, &s);
    }
    return s + "]";
  }

  static constexpr Micros kNow = 1796083200000000;  // 2026-12-01T00:00:00Z
};

TEST_F(PageWriterTest, PaginatePagesEqualRowByRowOutput) {
  const Store& st = Sample();
  ASSERT_EQ(st.task_runs.size(), 3170u);
  for (size_t n : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 50, 199, 200}) {
    std::vector<RowId> rows = Scattered(n, st.task_runs.size());
    std::string page = "prefix:";
    AppendPaginateResponse(st, rows, 3170, 200, "1", kNow, &page);
    EXPECT_EQ(page, "prefix:" + RowByRowPaginate(st, rows, kNow)) << n << " rows";
  }
}

TEST_F(PageWriterTest, FullArraysEqualRowByRowOutput) {
  const Store& st = Sample();
  for (size_t n : {0, 1, 2, 3, 5, 6, 7, 8, 13, 200}) {
    std::vector<RowId> rows = Scattered(n, st.task_runs.size());
    std::string array = "prefix:";
    AppendTaskRunFullArray(st, rows, kNow, &array);
    EXPECT_EQ(array, "prefix:" + RowByRowFull(st, rows, kNow)) << n << " rows";
  }
}

TEST_F(PageWriterTest, WholeTableInBothDirectionsEqualsRowByRowOutput) {
  const Store& st = Sample();
  std::vector<RowId> rows(st.task_runs.size());
  for (RowId r = 0; r < rows.size(); ++r) rows[r] = r;
  std::string all;
  AppendTaskRunFullArray(st, rows, kNow, &all);
  EXPECT_EQ(all, RowByRowFull(st, rows, kNow));
  std::vector<RowId> reversed(rows.rbegin(), rows.rbegin() + 200);
  std::string page;
  AppendPaginateResponse(st, reversed, 3170, 200, "1", kNow, &page);
  EXPECT_EQ(page, RowByRowPaginate(st, reversed, kNow));
}

}  // namespace
}  // namespace taskdex
