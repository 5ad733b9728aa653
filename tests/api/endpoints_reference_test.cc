// tests/api/endpoints_reference_test.cc
//
// POST /api/task_runs/filter, GET /api/task_runs/{id} and POST
// /api/task_runs/history (paginate.md 9.1, 9.3, 9.4) against expectations
// that do not come from the code the handlers run:
//
//  - hand-derived cases on the examples data set (examples.md), each stating
//    its rows, buckets and sums as literals, with the arithmetic in a
//    comment;
//  - every example of examples.jsonl with a result, sent to /filter with
//    `offset = (page - 1) * limit` instead of `page` (the filter rules are
//    the same, 9);
//  - seeded random data sets (tests/testing/random_data.h, enriched here
//    with run times, state timestamps, empty state names, extras and
//    repeated ids), compared with the reference evaluator
//    (tests/testing/reference_evaluator.h: RefFilterIds, RefReadTaskRun,
//    RefHistory, written from the spec), before and after a batch of writes
//    that gives the engine several segments.
//
// Each endpoint goes through the same request path as its HTTP handler in
// api/http_server.cc: ParseRequestBody(kFilter) + Engine::Filter +
// AppendTaskRunFullArray; Engine::TaskRunJson; ParseHistoryBody +
// HistoryResponseJson. Full TaskRun objects are checked key by key (the 27
// keys of 9.1 in order, then the record's extras) against the plain record;
// history against the reference's buckets, key order included.
//
// The seed is fixed; set TASKDEX_TEST_SEED to explore others.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/history_request.h"
#include "api/paginate_request.h"
#include "api/version_writer.h"
#include "api/taskdex.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/testing/test_seed.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"
#include "tests/testing/reference_evaluator.h"

namespace taskdex {
namespace {

constexpr Micros kSecond = 1'000'000;
constexpr uint64_t kDefaultSeed = 20240501;
constexpr char kDefaultPolicy[] =
    R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})";

// ---------------------------------------------------------------------------
// The request paths (as api/http_server.cc runs them)

Response FilterEndpoint(const Engine& engine, std::string_view body, Micros now) {
  auto parsed = ParseRequestBody(body, BodyKind::kFilter);
  if (auto* error = std::get_if<ApiResponse>(&parsed)) return {error->status, error->body};
  const RequestFields& f = std::get<RequestFields>(parsed);
  const std::shared_ptr<const Version> at = engine.Pin();
  const TaskRunPage page =
      engine.Filter(f.filters, f.sort, f.offset, static_cast<uint64_t>(f.limit), at);
  Response r;
  AppendTaskRunFullArray(*at, page.rows, now, &r.body);
  return r;
}

Response HistoryEndpoint(const Engine& engine, std::string_view body, Micros now) {
  auto parsed = ParseHistoryBody(body);
  if (auto* error = std::get_if<ApiResponse>(&parsed)) return {error->status, error->body};
  return {200, HistoryResponseJson(*engine.Pin(), std::get<HistoryRequest>(parsed), now)};
}

// The typed forms, for filters whose strings are not valid UTF-8 (the
// random like_ patterns can cut a character in two): no JSON body can carry
// them, but the engine takes them all the same.
Response FilterTyped(const Engine& engine, const FilterSet& fs, TaskRunSort sort, uint64_t offset,
                     int64_t limit, Micros now) {
  const std::shared_ptr<const Version> at = engine.Pin();
  const TaskRunPage page = engine.Filter(fs, sort, offset, static_cast<uint64_t>(limit), at);
  Response r;
  AppendTaskRunFullArray(*at, page.rows, now, &r.body);
  return r;
}

Response HistoryTyped(const Engine& engine, const HistoryRequest& request, Micros now) {
  return {200, HistoryResponseJson(*engine.Pin(), request, now)};
}

// Well-formed sequences only (lead byte, then its continuation bytes).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;  // continuation bytes
    if ((b & 0xE0) == 0xC0) {
      n = 1;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3;
    } else if (b >= 0x80) {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

// 200 with the object, or 404 {"detail":"Task not found"} (9.3); a bad id
// is the router's 404 and not this call's business.
Response ReadEndpoint(const Engine& engine, std::string_view id, Micros now) {
  absl::StatusOr<std::string> r = engine.TaskRunJson(id, now);
  if (r.ok()) return {200, *r};
  if (r.status().code() == absl::StatusCode::kNotFound) {
    return {404, R"({"detail":"Task not found"})"};
  }
  return {500, std::string(r.status().message())};
}

// ---------------------------------------------------------------------------
// JSON helpers

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text.substr(0, 2000);
  return d;
}

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

// Minified JSON text -> its compact rapidjson form (so both sides of a
// comparison go through the same writer).
std::string Recompact(const std::string& json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseFullPrecisionFlag>(json.c_str(), json.size());
  if (d.HasParseError()) return "<unparsable: " + json + ">";
  return Compact(d);
}

std::vector<std::string> Keys(const rapidjson::Value& obj) {
  std::vector<std::string> keys;
  for (const auto& m : obj.GetObject()) keys.emplace_back(m.name.GetString(), m.name.GetStringLength());
  return keys;
}

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

// A JSON value as comparable text: null, a string, or the compact form.
std::string Text(const rapidjson::Value& v) { return Compact(v); }
std::string OptTime(const std::optional<Micros>& t) {
  return t.has_value() ? Quote(DescribeMicros(*t)) : "null";
}
std::string OptUuid(const std::optional<Uuid>& u) {
  return u.has_value() ? Quote(RefUuidText(*u)) : "null";
}
std::string OptString(const std::optional<std::string>& s) {
  return s.has_value() ? Quote(*s) : "null";
}

// Seconds as the API writes them, read back as microseconds (exact for the
// magnitudes here: a duration is a whole number of microseconds and its
// shortest repr reads back as the same double).
int64_t MicrosOf(const rapidjson::Value& v) {
  EXPECT_TRUE(v.IsNumber()) << Compact(v);
  return v.IsNumber() ? std::llround(v.GetDouble() * 1e6) : INT64_MIN;
}

// ---------------------------------------------------------------------------
// Full TaskRun objects (9.1) against a record

const std::vector<std::string>& FullKeys() {
  static const std::vector<std::string> keys = {
      "id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key",
      "cache_key", "cache_expiration", "task_version", "empirical_policy", "tags", "labels",
      "state_id", "task_inputs", "state_type", "state_name", "run_count", "flow_run_run_count",
      "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
      "total_run_time", "estimated_run_time", "estimated_start_time_delta", "state"};
  return keys;
}

// The `state` object as 8.3 says it is written: the record's normalized
// state, with `now` as the scheduled_time of a SCHEDULED state that has none.
std::string ExpectedState(const TaskRunRecord& t, Micros now) {
  std::string s = t.state_json;
  if (t.state_scheduled_time_null_offset >= 0) {
    s.replace(static_cast<size_t>(t.state_scheduled_time_null_offset), 4,
              Quote(DescribeMicros(now)));
  }
  return s;
}

void ExpectFullTaskRun(const rapidjson::Value& got, const TaskRunRecord& t, Micros now) {
  SCOPED_TRACE("task run " + RefUuidText(t.id));
  ASSERT_TRUE(got.IsObject()) << Compact(got);
  std::vector<std::string> want_keys = FullKeys();
  rapidjson::Document extras;
  if (!t.extras_json.empty()) {
    const std::string obj = "{" + t.extras_json.substr(1) + "}";
    extras.Parse<rapidjson::kParseFullPrecisionFlag>(obj.c_str(), obj.size());
    ASSERT_FALSE(extras.HasParseError()) << obj;
    for (const std::string& k : Keys(extras)) want_keys.push_back(k);
  }
  ASSERT_EQ(Keys(got), want_keys);
  EXPECT_EQ(Text(got["id"]), Quote(RefUuidText(t.id)));
  EXPECT_EQ(Text(got["created"]), OptTime(t.created));
  EXPECT_EQ(Text(got["updated"]), OptTime(t.updated));
  EXPECT_EQ(Text(got["name"]), Quote(t.name));
  EXPECT_EQ(Text(got["flow_run_id"]), OptUuid(t.flow_run_id));
  EXPECT_EQ(Text(got["task_key"]), Quote(t.task_key));
  EXPECT_EQ(Text(got["dynamic_key"]), Quote(t.dynamic_key));
  EXPECT_EQ(Text(got["cache_key"]), OptString(t.cache_key));
  EXPECT_EQ(Text(got["cache_expiration"]), OptTime(t.cache_expiration));
  EXPECT_EQ(Text(got["task_version"]), OptString(t.task_version));
  EXPECT_EQ(Text(got["empirical_policy"]), Recompact(t.empirical_policy_json));
  std::string tags = "[";
  for (size_t i = 0; i < t.tags.size(); ++i) tags += (i > 0 ? "," : "") + Quote(t.tags[i]);
  EXPECT_EQ(Text(got["tags"]), tags + "]");
  EXPECT_EQ(Text(got["labels"]), Recompact(t.labels_json));
  EXPECT_EQ(Text(got["state_id"]), OptUuid(t.state_id));
  EXPECT_EQ(Text(got["task_inputs"]), Recompact(t.task_inputs_json));
  EXPECT_EQ(Text(got["state_type"]),
            t.state_type.has_value() ? Quote(RefStateTypeName(*t.state_type)) : "null");
  EXPECT_EQ(Text(got["state_name"]), OptString(t.state_name));
  EXPECT_EQ(Text(got["run_count"]), std::to_string(t.run_count));
  EXPECT_EQ(Text(got["flow_run_run_count"]), std::to_string(t.flow_run_run_count));
  EXPECT_EQ(Text(got["expected_start_time"]), OptTime(t.expected_start_time));
  EXPECT_EQ(Text(got["next_scheduled_start_time"]), OptTime(t.next_scheduled_start_time));
  EXPECT_EQ(Text(got["start_time"]), OptTime(t.start_time));
  EXPECT_EQ(Text(got["end_time"]), OptTime(t.end_time));
  EXPECT_EQ(MicrosOf(got["total_run_time"]), t.total_run_time_us);
  EXPECT_EQ(MicrosOf(got["estimated_run_time"]), RefEstimatedRunTimeMicros(t, now));
  EXPECT_EQ(MicrosOf(got["estimated_start_time_delta"]), RefEstimatedStartTimeDeltaMicros(t, now));
  EXPECT_EQ(Text(got["state"]), Recompact(ExpectedState(t, now)));
  if (!t.extras_json.empty()) {
    for (const auto& m : extras.GetObject()) {
      EXPECT_EQ(Text(got[m.name]), Compact(m.value)) << m.name.GetString();
    }
  }
}

std::string IdsText(const std::vector<Uuid>& ids) { return DescribeIds(ids); }

std::vector<Uuid> IdsOf(const rapidjson::Value& array) {
  std::vector<Uuid> ids;
  for (const auto& v : array.GetArray()) {
    ids.push_back(v.IsObject() && v.HasMember("id") && v["id"].IsString()
                      ? UuidFromText(v["id"].GetString())
                      : Uuid{});
  }
  return ids;
}

// A /filter answer against the reference: ids in order, then each object.
void ExpectFilterAnswer(const Response& r, const RefData& ref, const std::vector<Uuid>& want,
                        Micros now) {
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document got = Parse(r.body);
  ASSERT_TRUE(got.IsArray()) << r.body;
  ASSERT_EQ(IdsText(IdsOf(got)), IdsText(want));
  for (rapidjson::SizeType i = 0; i < got.Size(); ++i) {
    ExpectFullTaskRun(got[i], *RefReadTaskRun(ref, want[i]), now);
  }
}

// ---------------------------------------------------------------------------
// /history answers as comparable text

// One line per interval, "start..end" then "type/name n run late" per group
// (sums in microseconds), for readable diffs. Also checks key order (9.4).
std::string HistoryText(const rapidjson::Value& got) {
  if (!got.IsArray()) return "<not an array: " + Compact(got) + ">";
  std::string out;
  for (const auto& iv : got.GetArray()) {
    if (!iv.IsObject() ||
        Keys(iv) != std::vector<std::string>{"interval_start", "interval_end", "states"}) {
      return out + "<bad interval: " + Compact(iv) + ">";
    }
    out += std::string(iv["interval_start"].GetString()) + ".." + iv["interval_end"].GetString();
    for (const auto& s : iv["states"].GetArray()) {
      if (Keys(s) != std::vector<std::string>{"state_type", "state_name", "count_runs",
                                              "sum_estimated_run_time",
                                              "sum_estimated_lateness"}) {
        return out + "<bad state: " + Compact(s) + ">";
      }
      out += " | " + Compact(s["state_type"]) + "/" + Compact(s["state_name"]) + " " +
             Compact(s["count_runs"]) + " " + std::to_string(MicrosOf(s["sum_estimated_run_time"])) +
             " " + std::to_string(MicrosOf(s["sum_estimated_lateness"]));
    }
    out += "\n";
  }
  return out;
}

std::string HistoryText(const std::vector<RefHistoryInterval>& intervals) {
  std::string out;
  for (const RefHistoryInterval& iv : intervals) {
    out += DescribeMicros(iv.start) + ".." + DescribeMicros(iv.end);
    for (const RefHistoryState& s : iv.states) {
      out += " | " + Quote(s.state_type) + "/" + OptString(s.state_name) + " " +
             std::to_string(s.count_runs) + " " + std::to_string(s.sum_estimated_run_time_us) +
             " " + std::to_string(s.sum_estimated_lateness_us);
    }
    out += "\n";
  }
  return out;
}

// The body's filter keys (DescribeFilterSet) without the outer braces.
std::string FilterKeys(const FilterSet& filters) {
  const std::string obj = DescribeFilterSet(filters);
  return obj.substr(1, obj.size() - 2);
}

std::string WithKeys(std::string head, const std::string& more) {
  if (!more.empty()) head += "," + more;
  return "{" + head + "}";
}

std::string IntervalText(int64_t us) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld.%06lld", static_cast<long long>(us / kSecond),
                static_cast<long long>(us % kSecond));
  return buf;
}

std::string HistoryBody(Micros start, Micros end, int64_t interval_us, const FilterSet& filters) {
  return WithKeys("\"history_start\":" + Quote(DescribeMicros(start)) + ",\"history_end\":" +
                      Quote(DescribeMicros(end)) +
                      ",\"history_interval_seconds\":" + IntervalText(interval_us),
                  FilterKeys(filters));
}

// ===========================================================================
// The examples data set, hand-derived (examples.md; now = 12:00Z)

// 2024-05-01 at hh:mm:ss UTC.
Micros At(int hh, int mm, int ss = 0) {
  return (Micros{1714521600} + hh * 3600 + mm * 60 + ss) * kSecond;
}
std::string T(int n) { return "00000000-0000-4000-8000-00000000000" + std::to_string(n); }

class ExamplesEndpointsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = std::string(TASKDEX_EXAMPLES_DIR) + "/snapshot";
    auto engine = Engine::Open(dir);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
    auto records = ReadSnapshotRecords(dir, {}, nullptr);
    ASSERT_TRUE(records.ok()) << records.status();
    records_ = new SnapshotRecords(*std::move(records));
    ref_ = new RefData(*records_);
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete ref_;
    delete records_;
  }
  static std::vector<std::string> FilterIds(const std::string& body) {
    Response r = FilterEndpoint(*engine_, body, At(12, 0));
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document d = Parse(r.body);
    std::vector<std::string> ids;
    if (!d.IsArray()) return ids;
    for (const auto& v : d.GetArray()) ids.push_back(v["id"].GetString());
    return ids;
  }
  static std::string History(const std::string& body, Micros now = At(12, 0)) {
    Response r = HistoryEndpoint(*engine_, body, now);
    if (r.status != 200) return std::to_string(r.status) + " " + r.body;
    return HistoryText(Parse(r.body));
  }

  static Engine* engine_;
  static SnapshotRecords* records_;
  static RefData* ref_;
};
Engine* ExamplesEndpointsTest::engine_ = nullptr;
SnapshotRecords* ExamplesEndpointsTest::records_ = nullptr;
RefData* ExamplesEndpointsTest::ref_ = nullptr;

// GET /{id} of T1: the snapshot line itself (it is a /filter element), with
// state_details filled with every default (8.3, as <T1> of example 1) and
// `future_field` after `state` (entities.md 4.3). T1 is COMPLETED, so its
// estimates do not follow the clock: 55.0 and 10:00:05 - 10:00:00 = 5.0.
TEST_F(ExamplesEndpointsTest, ReadT1IsTheSnapshotLineWithStateDefaults) {
  constexpr char kT1Full[] =
      R"({"id":"00000000-0000-4000-8000-000000000001","created":"2024-05-01T09:59:58.250000Z","updated":"2024-05-01T10:01:00.000001Z","name":"extract_a","flow_run_id":"a1000000-0000-4000-8000-000000000000","task_key":"extract_a","dynamic_key":"0","cache_key":null,"cache_expiration":null,"task_version":null,"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null},"tags":["io"],"labels":{},"state_id":"5e000000-0000-4000-8000-000000000001","task_inputs":{"source":[{"input_type":"parameter","name":"source"}]},"state_type":"COMPLETED","state_name":"Completed","run_count":1,"flow_run_run_count":1,"expected_start_time":"2024-05-01T10:00:00Z","next_scheduled_start_time":null,"start_time":"2024-05-01T10:00:05Z","end_time":"2024-05-01T10:01:00Z","total_run_time":55.0,"estimated_run_time":55.0,"estimated_start_time_delta":5.0,"state":{"id":"5e000000-0000-4000-8000-000000000001","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:01:00Z","message":null,"data":null,"state_details":{"flow_run_id":"a1000000-0000-4000-8000-000000000000","task_run_id":"00000000-0000-4000-8000-000000000001","child_flow_run_id":null,"scheduled_time":null,"cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null}},"future_field":{"k":1}})";
  for (Micros now : {At(12, 0), At(9, 0)}) {
    Response r = ReadEndpoint(*engine_, T(1), now);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, kT1Full);
  }
  // The same object is the last element of an unfiltered /filter.
  Response all = FilterEndpoint(*engine_, "{}", At(12, 0));
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body.substr(all.body.size() - sizeof(kT1Full)), std::string(kT1Full) + "]");
}

// GET of T4 (RUNNING since 10:04, total 0, started on time) and T6
// (SCHEDULED for 10:10, no start): the clock-dependent fields (8.6).
TEST_F(ExamplesEndpointsTest, ReadComputesEstimatesAtTheRequestClock) {
  struct Case {
    int task;
    Micros now;
    const char* run;
    const char* late;
  };
  const Case cases[] = {
      {4, At(12, 0), "6960.0", "0.0"},     // 12:00 - 10:04 = 6,960 s
      {4, At(10, 0), "-240.0", "0.0"},     // the state lies 240 s ahead: negative
      {6, At(12, 0), "0.0", "6600.0"},     // 12:00 - 10:10
      {6, At(10, 10), "0.0", "0.0"},       // expected == now: not late yet
      {7, At(12, 0), "0.0", "7020.0"},     // NULL state type is not terminal: 12:00 - 10:03
      {5, At(12, 0), "0.0", "0.0"},        // no expected start time
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("T" + std::to_string(c.task) + " now=" + DescribeMicros(c.now));
    Response r = ReadEndpoint(*engine_, T(c.task), c.now);
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(std::string("\"estimated_run_time\":") + c.run + ","), std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find(std::string("\"estimated_start_time_delta\":") + c.late + ","),
              std::string::npos)
        << r.body;
  }
}

TEST_F(ExamplesEndpointsTest, ReadFindsEveryTaskRunAndNothingElse) {
  EXPECT_EQ(ReadEndpoint(*engine_, "00000000-0000-4000-8000-000000000008", At(12, 0)).status, 404);
  EXPECT_EQ(ReadEndpoint(*engine_, "00000000-0000-4000-8000-00000000000a", At(12, 0)).status, 404);
  EXPECT_EQ(ReadEndpoint(*engine_, "a1000000-0000-4000-8000-000000000000", At(12, 0)).status,
            404);  // a flow run's id
  Response t2 = ReadEndpoint(*engine_, T(2), At(12, 0));
  ASSERT_EQ(t2.status, 200);
  EXPECT_EQ(t2.body.rfind(R"({"id":"00000000-0000-4000-8000-000000000002",)", 0), 0u);
  // Every task run, against its record.
  for (int n = 1; n <= 7; ++n) {
    Response r = ReadEndpoint(*engine_, T(n), At(12, 0));
    ASSERT_EQ(r.status, 200);
    ExpectFullTaskRun(Parse(r.body), *RefReadTaskRun(*ref_, UuidFromText(T(n))), At(12, 0));
  }
}

// Rows of /filter (9.1) under sorts, offset and limit, derived by hand from
// the task-run table of examples.md.
TEST_F(ExamplesEndpointsTest, FilterRowsByHand) {
  const std::string t1 = T(1), t2 = T(2), t3 = T(3), t4 = T(4), t5 = T(5), t6 = T(6), t7 = T(7);
  using Ids = std::vector<std::string>;
  // ID_DESC by default.
  EXPECT_EQ(FilterIds("{}"), (Ids{t7, t6, t5, t4, t3, t2, t1}));
  EXPECT_EQ(FilterIds(R"({"offset":5})"), (Ids{t2, t1}));
  EXPECT_EQ(FilterIds(R"({"offset":7})"), Ids{});
  EXPECT_EQ(FilterIds(R"({"limit":0})"), Ids{});
  // NAME_ASC bytewise: Transform < cleanup < extract-b < extractXa <
  // extract_a < load < notify ('T' < 'c'; '-' < 'X' < '_').
  EXPECT_EQ(FilterIds(R"({"sort":"NAME_ASC"})"), (Ids{t3, t7, t2, t6, t1, t4, t5}));
  EXPECT_EQ(FilterIds(R"({"sort":"NAME_ASC","offset":1,"limit":3})"), (Ids{t7, t2, t6}));
  EXPECT_EQ(FilterIds(R"({"sort":"NAME_DESC","limit":2})"), (Ids{t5, t4}));
  // END_TIME_DESC: NULLs first (T6, T5, T4 by id desc), 10:05 T2, 10:04 T7
  // and T3 (tie: id desc), 10:01 T1.
  EXPECT_EQ(FilterIds(R"({"sort":"END_TIME_DESC"})"), (Ids{t6, t5, t4, t2, t7, t3, t1}));
  // EXPECTED_START_TIME_ASC: 10:00 T1, 10:02 T2, 10:03 T7 T3, 10:04 T4,
  // 10:10 T6, NULL last T5.
  EXPECT_EQ(FilterIds(R"({"sort":"EXPECTED_START_TIME_ASC","offset":5})"), (Ids{t6, t5}));
  EXPECT_EQ(FilterIds(R"({"sort":"EXPECTED_START_TIME_DESC","limit":3})"), (Ids{t5, t6, t4}));
  // NEXT_SCHEDULED_START_TIME_ASC: only T6 has one; NULLs after, id desc.
  EXPECT_EQ(FilterIds(R"({"sort":"NEXT_SCHEDULED_START_TIME_ASC","limit":3})"),
            (Ids{t6, t7, t5}));
  // Example 4's like_, and flows by name: F1 "etl" runs FR1 (T1, T2) and FR4 (T6).
  EXPECT_EQ(FilterIds(R"({"task_runs":{"name":{"like_":"ct_a"}}})"), (Ids{t6, t1}));
  EXPECT_EQ(FilterIds(R"({"flows":{"name":{"any_":["etl"]}}})"), (Ids{t6, t2, t1}));
  EXPECT_EQ(FilterIds(R"({"flows":{"name":{"any_":["etl"]}},"limit":1,"offset":1})"), (Ids{t2}));
  // Deployments: D1 has FR1 (T1, T2); FR4's D9 is gone, so T6 never matches.
  EXPECT_EQ(FilterIds(R"({"deployments":{"id":{"any_":["d1000000-0000-4000-8000-000000000000","d9000000-0000-4000-8000-000000000000"]}},"sort":"NAME_ASC"})"),
            (Ids{t2, t1}));
  // A bad offset is the 422 of 9.1.
  EXPECT_EQ(FilterEndpoint(*engine_, R"({"offset":-1})", At(12, 0)).status, 422);
}

// The C++ API's "all rows": a limit of UINT64_MAX once wrapped to -1 and
// returned no rows (with the right count).
TEST_F(ExamplesEndpointsTest, FilterWithoutALimitReturnsEveryRow) {
  const TaskRunPage page = engine_->Filter(FilterSet{}, TaskRunSort::kIdDesc, 0,
                                           std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(page.rows.size(), 7u);
  EXPECT_EQ(page.count, 7u);
}

// Every examples.jsonl case with a result, through /filter: the same rows
// (the spec's, checked on PostgreSQL) with offset = (page - 1) * limit.
TEST_F(ExamplesEndpointsTest, FilterAnswersEveryExampleWithRows) {
  std::ifstream in(std::string(TASKDEX_EXAMPLES_DIR) + "/examples.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line;
    if (!d["expect"].HasMember("ids")) continue;
    rapidjson::Value& body = d["body"];
    if (!body.IsObject()) continue;
    int64_t limit = 200;
    int64_t page = 1;
    if (body.HasMember("limit")) {
      if (!body["limit"].IsInt64()) continue;  // coercion cases belong to /paginate
      limit = body["limit"].GetInt64();
    }
    if (body.HasMember("page")) {
      if (!body["page"].IsInt64()) continue;
      page = body["page"].GetInt64();
      body.RemoveMember("page");
    }
    if (page > 1000) continue;
    body.AddMember("offset", (page - 1) * limit, d.GetAllocator());
    SCOPED_TRACE(d["name"].GetString() + std::string(" ") + Compact(body));
    std::vector<std::string> want;
    for (const auto& id : d["expect"]["ids"].GetArray()) want.push_back(id.GetString());
    EXPECT_EQ(FilterIds(Compact(body)), want);
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

// /history (9.4) by hand. Runs with a state type and an expected start
// (now = 12:00): T1 COMPLETED/Completed 10:00 (run 55, late 5), T2
// COMPLETED/Cached 10:02 (run 180, late 0), T3 FAILED/Failed 10:03 (60, 0),
// T4 RUNNING/Running 10:04 (0 + 12:00 - 10:04 = 6960, 0), T6
// SCHEDULED/Scheduled 10:10 (0, 12:00 - 10:10 = 6600). T5 has no expected
// start; T7 has a NULL state type (left out).
TEST_F(ExamplesEndpointsTest, HistoryByHand) {
  const std::string c_cached = R"( | "COMPLETED"/"Cached" 1 180000000 0)";
  const std::string c_completed = R"( | "COMPLETED"/"Completed" 1 55000000 5000000)";
  const std::string failed = R"( | "FAILED"/"Failed" 1 60000000 0)";
  const std::string running = R"( | "RUNNING"/"Running" 1 6960000000 0)";
  const std::string scheduled = R"( | "SCHEDULED"/"Scheduled" 1 0 6600000000)";
  auto body = [](const std::string& start, const std::string& end, const std::string& seconds,
                 const std::string& filters = "") {
    return WithKeys(R"("history_start":")" + start + R"(","history_end":")" + end +
                        R"(","history_interval_seconds":)" + seconds,
                    filters);
  };
  // Two 5-minute intervals; 10:10 is not < end, so no third; T6 at 10:10
  // falls in none. States ordered by type text, then name.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T10:10:00Z", "300")),
            "2024-05-01T10:00:00Z..2024-05-01T10:05:00Z" + c_cached + c_completed + failed +
                running + "\n2024-05-01T10:05:00Z..2024-05-01T10:10:00Z\n");
  // One microsecond more: a third interval [10:10, 10:15) holds T6.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T10:10:00.000001Z", "300")),
            "2024-05-01T10:00:00Z..2024-05-01T10:05:00Z" + c_cached + c_completed + failed +
                running +
                "\n2024-05-01T10:05:00Z..2024-05-01T10:10:00Z\n"
                "2024-05-01T10:10:00Z..2024-05-01T10:15:00Z" + scheduled + "\n");
  // The last interval runs past history_end, and counts what it contains:
  // [10:00, 10:10:01) holds T6 (10:10) though history_end is 10:09.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T10:09:00Z", "601")),
            "2024-05-01T10:00:00Z..2024-05-01T10:10:01Z" + c_cached + c_completed + failed +
                running + scheduled + "\n");
  // ... but [10:00, 10:10) does not (the end is open).
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T10:09:00Z", "600")),
            "2024-05-01T10:00:00Z..2024-05-01T10:10:00Z" + c_cached + c_completed + failed +
                running + "\n");
  // The start is closed: 10:02 holds T2; a microsecond later it does not.
  EXPECT_EQ(History(body("2024-05-01T10:02:00Z", "2024-05-01T10:03:00Z", "60")),
            "2024-05-01T10:02:00Z..2024-05-01T10:03:00Z" + c_cached + "\n");
  EXPECT_EQ(History(body("2024-05-01T10:02:00.000001Z", "2024-05-01T10:03:00Z", "60")),
            "2024-05-01T10:02:00.000001Z..2024-05-01T10:03:00.000001Z" + failed + "\n");
  // start >= end: no intervals at all (PostgreSQL's form).
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "60")), "");
  EXPECT_EQ(History(body("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z", "60")), "");
  // At most 500 intervals: 1 s each from 10:00 gives [10:00:00, 10:08:20);
  // T1 in #0, T2 in #120, T3 in #180, T4 in #240; T6 (#600) is cut.
  {
    Response r = HistoryEndpoint(
        *engine_, body("2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z", "1"), At(12, 0));
    ASSERT_EQ(r.status, 200);
    rapidjson::Document d = Parse(r.body);
    ASSERT_EQ(d.Size(), 500u);
    EXPECT_EQ(Text(d[499]["interval_end"]), R"("2024-05-01T10:08:20Z")");
    int with_states = 0;
    for (rapidjson::SizeType k = 0; k < d.Size(); ++k) {
      if (d[k]["states"].Empty()) continue;
      ++with_states;
      EXPECT_TRUE(k == 0 || k == 120 || k == 180 || k == 240) << k;
    }
    EXPECT_EQ(with_states, 4);
  }
  // Filters pick the runs: flows named etl have T1, T2 (FR1) and T6 (FR4).
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "3600",
                         R"("flows":{"name":{"any_":["etl"]}})")),
            "2024-05-01T10:00:00Z..2024-05-01T11:00:00Z" + c_cached + c_completed + scheduled +
                "\n");
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "3600",
                         R"("task_runs":{"state":{"type":{"any_":["RUNNING","FAILED"]}}})")),
            "2024-05-01T10:00:00Z..2024-05-01T11:00:00Z" + failed + running + "\n");
  // T7 alone: its NULL state type keeps it out of every group.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "3600",
                         R"("task_runs":{"id":{"any_":[")" + T(7) + R"("]}})")),
            "2024-05-01T10:00:00Z..2024-05-01T11:00:00Z\n");
  // Clock at 10:00: T4's estimate (0 + 10:00 - 10:04 = -240 s) adds max(0, x)
  // = 0; T6 is not late yet; T1's 5 s lateness does not depend on the clock.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "3600"), At(10, 0)),
            "2024-05-01T10:00:00Z..2024-05-01T11:00:00Z" + c_cached + c_completed + failed +
                R"( | "RUNNING"/"Running" 1 0 0 | "SCHEDULED"/"Scheduled" 1 0 0)" + "\n");
  // Validation (9.4): an interval under 1 s.
  EXPECT_EQ(History(body("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "0.5")),
            R"(422 {"detail":"History interval must not be less than 1 second."})");
}

// The hand-derived history above, once more through the reference, so a
// broken reference cannot hide behind the random tests.
TEST_F(ExamplesEndpointsTest, ReferenceHistoryAgreesWithTheHandDerivedCases) {
  const std::vector<RefHistoryInterval> got =
      RefHistory(*ref_, FilterSet{}, At(10, 0), At(10, 10), 300 * kSecond, At(12, 0));
  EXPECT_EQ(HistoryText(got),
            "2024-05-01T10:00:00Z..2024-05-01T10:05:00Z"
            R"( | "COMPLETED"/"Cached" 1 180000000 0)"
            R"( | "COMPLETED"/"Completed" 1 55000000 5000000)"
            R"( | "FAILED"/"Failed" 1 60000000 0)"
            R"( | "RUNNING"/"Running" 1 6960000000 0)"
            "\n2024-05-01T10:05:00Z..2024-05-01T10:10:00Z\n");
}

// 9.4 groups by (state_type, state_name): a NULL name and "" are two groups,
// as in SQL's GROUP BY (the engine merged them until this test). The order
// of states is the engine's (9.4: by type, then name, bytewise); the spec
// does not place NULL, the engine puts it first.
TEST(HistoryGroupsTest, NullAndEmptyStateNamesAreTwoGroups) {
  SnapshotRecords data;
  const char* const names[] = {nullptr, "", "", "Crashed", nullptr};
  for (int i = 0; i < 5; ++i) {
    TaskRunRecord t;
    t.id.bytes[0] = 0x01;
    t.id.bytes[15] = static_cast<uint8_t>(i);
    t.name = "t";
    t.task_key = "t";
    t.dynamic_key = "0";
    t.empirical_policy_json = kDefaultPolicy;
    t.state_type = StateType::kCrashed;
    if (names[i] != nullptr) t.state_name = names[i];
    t.expected_start_time = At(10, i);
    t.total_run_time_us = (i + 1) * kSecond;
    data.task_runs.push_back(t);
  }
  std::unique_ptr<Engine> engine = Engine::FromRecords(data);
  const std::string body =
      R"({"history_start":"2024-05-01T10:00:00Z","history_end":"2024-05-01T11:00:00Z",)"
      R"("history_interval_seconds":3600})";
  Response r = HistoryEndpoint(*engine, body, At(12, 0));
  ASSERT_EQ(r.status, 200) << r.body;
  // Runs 0 and 4 (NULL: 1 s + 5 s), 1 and 2 ("": 2 s + 3 s), 3 ("Crashed": 4 s).
  EXPECT_EQ(HistoryText(Parse(r.body)),
            "2024-05-01T10:00:00Z..2024-05-01T11:00:00Z"
            R"( | "CRASHED"/null 2 6000000 0 | "CRASHED"/"" 2 5000000 0)"
            R"( | "CRASHED"/"Crashed" 1 4000000 0)"
            "\n");
  RefData ref(data);
  EXPECT_EQ(HistoryText(RefHistory(ref, FilterSet{}, At(10, 0), At(11, 0), 3600 * kSecond,
                                   At(12, 0))),
            HistoryText(Parse(r.body)));
}

// ===========================================================================
// Seeded random data against the reference evaluator

uint64_t BaseSeed() { return TestSeed("endpoints_reference_test", kDefaultSeed); }

uint64_t SetSeed(uint64_t seed, int set) {
  return seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(set) * 0xd1b54a32d192ed03ULL + 7;
}

Micros Jitter(TestRng& rng, Micros t) {
  switch (rng.Uniform(6)) {
    case 0: return t - 1;
    case 1: return t + 1;
    case 2: return t - 30 * kSecond;
    default: return t;
  }
}

// Fills what RandomRecords leaves at defaults and the history reads: run
// times (some under a second), state timestamps (for RUNNING's estimate),
// empty state names next to NULL ones, created/updated, cache keys, run
// counts, extras; and sometimes a later record repeating an id, which
// replaces the earlier one (entities.md 4.1).
void Enrich(TestRng& rng, SnapshotRecords* data) {
  for (TaskRunRecord& t : data->task_runs) {
    t.empirical_policy_json = kDefaultPolicy;
    if (!rng.Percent(30)) {
      t.total_run_time_us = static_cast<int64_t>(rng.Uniform(7200)) * kSecond / 2 +
                            static_cast<int64_t>(rng.Uniform(3));
    }
    if (rng.Percent(70)) t.state_timestamp = Jitter(rng, rng.Pick(TestInstants()));
    if (rng.Percent(12)) t.state_name = "";
    if (rng.Percent(50)) t.created = rng.Pick(TestInstants()) - 5 * kSecond;
    if (rng.Percent(50)) t.updated = Jitter(rng, rng.Pick(TestInstants()));
    if (rng.Percent(20)) t.cache_key = "ck";
    if (rng.Percent(10)) t.cache_expiration = rng.Pick(TestInstants());
    if (rng.Percent(20)) t.task_version = "1.0";
    t.run_count = static_cast<int64_t>(rng.Uniform(3));
    t.flow_run_run_count = static_cast<int64_t>(rng.Uniform(2));
    if (rng.Percent(15)) t.extras_json = R"(,"future_field":{"k":1},"n":2)";
    if (rng.Percent(10)) t.labels_json = R"({"team":"data","n":3})";
  }
  const size_t n = data->task_runs.size();
  for (size_t i = 0; i < n; ++i) {
    if (!rng.Percent(8)) continue;
    TaskRunRecord again = data->task_runs[i];
    again.name = "replaced";
    again.task_key = again.name;
    again.state_type = StateType::kCompleted;
    again.state_name = "Completed";
    again.expected_start_time = rng.Pick(TestInstants());
    data->task_runs.push_back(std::move(again));
  }
}

TaskRunSort RandomSort(TestRng& rng) {
  return static_cast<TaskRunSort>(rng.Uniform(kNumTaskRunSorts));
}

const char* SortName(TaskRunSort s) {
  static const char* const kNames[] = {"ID_DESC",
                                       "EXPECTED_START_TIME_ASC",
                                       "EXPECTED_START_TIME_DESC",
                                       "NAME_ASC",
                                       "NAME_DESC",
                                       "NEXT_SCHEDULED_START_TIME_ASC",
                                       "END_TIME_DESC"};
  return kNames[static_cast<int>(s)];
}

// What the random cases reached, so the test cannot pass by testing nothing.
struct Coverage {
  int reads = 0;             // GET answered 200
  int not_found = 0;         // GET answered 404
  int filter_pages = 0;      // /filter answers with at least one row
  int history_groups = 0;    // (interval, state) groups in /history answers
  int empty_name_groups = 0; // of them, with state_name ""
};

class RandomEndpoints {
 public:
  RandomEndpoints(TestRng& rng, const SnapshotRecords& data, const Engine& engine, Micros now,
                  Coverage* coverage)
      : rng_(rng), data_(data), ref_(data), engine_(engine), now_(now), coverage_(*coverage) {}

  // GET /{id} of every task run (the last record of its id) and of ids that
  // name no task run.
  void Reads() {
    for (const TaskRunRecord& t : data_.task_runs) {
      const TaskRunRecord* want = RefReadTaskRun(ref_, t.id);
      ASSERT_NE(want, nullptr);
      Response r = ReadEndpoint(engine_, RefUuidText(t.id), now_);
      ASSERT_EQ(r.status, 200) << r.body;
      ExpectFullTaskRun(Parse(r.body), *want, now_);
      if (::testing::Test::HasFailure()) return;
      ++coverage_.reads;
      // 9.3: any letter case, hyphens optional; the same object.
      std::string other;
      for (char c : RefUuidText(t.id)) {
        if (c != '-') other.push_back(c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c);
      }
      EXPECT_EQ(ReadEndpoint(engine_, other, now_).body, r.body) << other;
    }
    std::vector<Uuid> others;
    for (const FlowRunRecord& r : data_.flow_runs) others.push_back(r.id);
    Uuid unknown;
    unknown.bytes[0] = 0xee;
    unknown.bytes[15] = 0x42;
    others.push_back(unknown);
    for (const Uuid& id : others) {
      if (RefReadTaskRun(ref_, id) != nullptr) continue;
      EXPECT_EQ(ReadEndpoint(engine_, RefUuidText(id), now_).status, 404) << RefUuidText(id);
      ++coverage_.not_found;
    }
  }

  // /filter with random filters, sort, offset and limit.
  void Filters(int n) {
    for (int q = 0; q < n && !::testing::Test::HasFailure(); ++q) {
      const FilterSet fs = q == 0 ? FilterSet{} : RandomFilterSet(rng_, data_);
      const TaskRunSort sort = RandomSort(rng_);
      const uint64_t offset = rng_.Percent(50) ? 0 : rng_.Uniform(45);
      const int64_t limit = rng_.Percent(20) ? 200 : static_cast<int64_t>(rng_.Uniform(25));
      const std::string body = WithKeys("\"sort\":\"" + std::string(SortName(sort)) +
                                            "\",\"offset\":" + std::to_string(offset) +
                                            ",\"limit\":" + std::to_string(limit),
                                        FilterKeys(fs));
      SCOPED_TRACE("POST /filter " + body);
      const std::vector<Uuid> want =
          RefFilterIds(ref_, fs, sort, offset, static_cast<uint64_t>(limit));
      ExpectFilterAnswer(ValidUtf8(body) ? FilterEndpoint(engine_, body, now_)
                                         : FilterTyped(engine_, fs, sort, offset, limit, now_),
                         ref_, want, now_);
      if (!want.empty()) ++coverage_.filter_pages;
    }
  }

  // /history with and without filters, bounds on and next to the data's
  // instants, intervals that put those instants on bucket edges.
  void Histories(int n) {
    static const int64_t kIntervals[] = {1 * kSecond,  30 * kSecond,   60 * kSecond,
                                         61 * kSecond, 3600 * kSecond, 7200 * kSecond,
                                         kSecond + 1,  60 * kSecond - 1};
    for (int q = 0; q < n && !::testing::Test::HasFailure(); ++q) {
      const FilterSet fs = q < 2 ? FilterSet{} : RandomFilterSet(rng_, data_);
      const Micros start = Jitter(rng_, rng_.Pick(TestInstants()));
      const int64_t interval = kIntervals[rng_.Uniform(std::size(kIntervals))];
      Micros end = start;
      switch (rng_.Uniform(6)) {
        case 0: end = start + static_cast<int64_t>(rng_.Uniform(3)) - 1; break;  // none or one
        case 1: end = start + 120 * kSecond; break;
        case 2: end = start + 3600 * kSecond + 1; break;
        case 3: end = start + 2 * 3600 * kSecond; break;
        case 4: end = Jitter(rng_, rng_.Pick(TestInstants())); break;
        default: end = start + 600 * interval; break;  // past the 500 cap
      }
      const std::string body = HistoryBody(start, end, interval, fs);
      SCOPED_TRACE("POST /history " + body + " now=" + DescribeMicros(now_));
      Response r = ValidUtf8(body)
                       ? HistoryEndpoint(engine_, body, now_)
                       : HistoryTyped(engine_, HistoryRequest{start, end, interval, fs}, now_);
      ASSERT_EQ(r.status, 200) << r.body;
      const std::vector<RefHistoryInterval> want =
          RefHistory(ref_, fs, start, end, interval, now_);
      EXPECT_EQ(HistoryText(Parse(r.body)), HistoryText(want));
      for (const RefHistoryInterval& iv : want) {
        for (const RefHistoryState& st : iv.states) {
          ++coverage_.history_groups;
          if (st.state_name == std::optional<std::string>("")) ++coverage_.empty_name_groups;
        }
      }
    }
  }

 private:
  TestRng& rng_;
  const SnapshotRecords& data_;
  const RefData ref_;
  const Engine& engine_;
  const Micros now_;
  Coverage& coverage_;
};

// A batch of task-run writes (entities.md 3) applied to the engine and, by
// hand, to the plain records: upserts append a record that replaces its id,
// deletes drop the id and clear parent_task_run_id of its subflow runs.
Batch RandomWrites(TestRng& rng, SnapshotRecords* data) {
  Batch batch;
  std::vector<TaskRunRecord> live;  // the last record of each id
  {
    RefData ref(*data);
    for (size_t i = 0; i < data->task_runs.size(); ++i) {
      if (ref.IsLastTaskRun(i)) live.push_back(data->task_runs[i]);
    }
  }
  for (const TaskRunRecord& t : live) {
    const uint64_t roll = rng.Uniform(100);
    if (roll < 15) {
      batch.changes.push_back({ChangeOp::kDelete, EntityKind::kTaskRun, t.id, std::monostate{}});
      std::vector<TaskRunRecord> kept;
      for (TaskRunRecord& r : data->task_runs) {
        if (r.id != t.id) kept.push_back(std::move(r));
      }
      data->task_runs = std::move(kept);
      for (FlowRunRecord& fr : data->flow_runs) {
        if (fr.parent_task_run_id == std::optional<Uuid>(t.id)) fr.parent_task_run_id.reset();
      }
    } else if (roll < 35) {
      TaskRunRecord u = t;
      u.state_type = static_cast<StateType>(rng.Uniform(kNumStateTypes));
      u.state_name = rng.Percent(20) ? std::optional<std::string>() : std::optional<std::string>("Moved");
      u.expected_start_time = rng.Pick(TestInstants());
      u.start_time.reset();
      u.state_timestamp = rng.Pick(TestInstants());
      u.total_run_time_us += kSecond;
      batch.changes.push_back({ChangeOp::kUpsert, EntityKind::kTaskRun, u.id, u});
      data->task_runs.push_back(std::move(u));
    }
  }
  for (int i = 0; i < 3; ++i) {
    TaskRunRecord t = live.empty() ? TaskRunRecord{} : rng.Pick(live);
    t.id = Uuid{};
    t.id.bytes[0] = 0x02;
    t.id.bytes[1] = static_cast<uint8_t>(rng.Uniform(256));
    t.id.bytes[15] = static_cast<uint8_t>(i);
    t.name = "new";
    t.task_key = "new";
    t.dynamic_key = "0";
    t.empirical_policy_json = kDefaultPolicy;
    t.state_type = StateType::kRunning;
    t.state_name = "Running";
    t.expected_start_time = rng.Pick(TestInstants());
    t.state_timestamp = rng.Pick(TestInstants());
    batch.changes.push_back({ChangeOp::kUpsert, EntityKind::kTaskRun, t.id, t});
    data->task_runs.push_back(std::move(t));
  }
  return batch;
}

TEST(EndpointsReferenceTest, RandomDataAgainstTheReference) {
  const uint64_t seed = BaseSeed();
  constexpr int kSets = 120;
  int multi_segment = 0;  // sets whose writes left the engine several segments
  Coverage coverage;
  for (int set = 0; set < kSets && !::testing::Test::HasFailure(); ++set) {
    TestRng rng(SetSeed(seed, set));
    SnapshotRecords data = RandomRecords(rng);
    Enrich(rng, &data);
    std::unique_ptr<Engine> engine = Engine::FromRecords(data);
    const Micros now = Jitter(rng, rng.Pick(TestInstants())) +
                       (rng.Percent(50) ? 0 : static_cast<int64_t>(rng.Uniform(7200)) * kSecond);
    SCOPED_TRACE("set " + std::to_string(set) + " (TASKDEX_TEST_SEED=" + std::to_string(seed) +
                 ")");
    {
      RandomEndpoints check(rng, data, *engine, now, &coverage);
      check.Reads();
      check.Filters(8);
      check.Histories(8);
    }
    // The same after writes: several segments, tombstones, replaced rows.
    if (!::testing::Test::HasFailure()) {
      const Batch batch = RandomWrites(rng, &data);
      absl::StatusOr<ApplyResult> applied = engine->Apply(batch);
      ASSERT_TRUE(applied.ok()) << applied.status();
      if (engine->Stats().segments >= 2) ++multi_segment;
      RandomEndpoints check(rng, data, *engine, now, &coverage);
      check.Reads();
      check.Filters(6);
      check.Histories(6);
    }
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "data set %d:\n%s\n", set, DescribeRecords(data).c_str());
    }
  }
  if (!::testing::Test::HasFailure()) {
    std::fprintf(stderr,
                 "sets %d (several segments: %d); GET 200: %d, 404: %d; /filter pages with "
                 "rows: %d; /history groups: %d (name \"\": %d)\n",
                 kSets, multi_segment, coverage.reads, coverage.not_found, coverage.filter_pages,
                 coverage.history_groups, coverage.empty_name_groups);
    EXPECT_GE(multi_segment, kSets / 2);
    EXPECT_GE(coverage.reads, 1000);
    EXPECT_GE(coverage.not_found, 200);
    EXPECT_GE(coverage.filter_pages, 300);
    EXPECT_GE(coverage.history_groups, 1000);
    EXPECT_GE(coverage.empty_name_groups, 20);
  }
}

}  // namespace
}  // namespace taskdex
