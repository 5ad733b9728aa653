#include "engine/normalize.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

// engine/internal/json_util.h, without simdjson's header in this test.
namespace taskdex::engine_internal {
std::string_view OnDemandKernelName();
}  // namespace taskdex::engine_internal

namespace taskdex {
namespace {

struct Case {
  const char* input;
  const char* output;
};

TEST(NormalizeTest, EmpiricalPolicyFollowsTaskRunPolicy) {
  const Case cases[] = {
      {"{}",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})"},
      // Deprecated copy: max_retries -> retries, converted by the int field.
      {R"({"max_retries":2.0})",
       R"({"max_retries":2,"retry_delay_seconds":0.0,"retries":2,"retry_delay":null,"retry_jitter_factor":null})"},
      {R"({"max_retries":3,"retries":0})",
       R"({"max_retries":3,"retry_delay_seconds":0.0,"retries":3,"retry_delay":null,"retry_jitter_factor":null})"},
      {R"({"max_retries":3,"retries":null})",
       R"({"max_retries":3,"retry_delay_seconds":0.0,"retries":3,"retry_delay":null,"retry_jitter_factor":null})"},
      {R"({"max_retries":3,"retries":1})",
       R"({"max_retries":3,"retry_delay_seconds":0.0,"retries":1,"retry_delay":null,"retry_jitter_factor":null})"},
      {R"({"max_retries":0,"retries":0})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":0,"retry_delay":null,"retry_jitter_factor":null})"},
      {R"({"retries":3.0})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":3,"retry_delay":null,"retry_jitter_factor":null})"},
      // retry_delay_seconds is a float; its copy keeps the JSON type (smart union).
      {R"({"retry_delay_seconds":5})",
       R"({"max_retries":0,"retry_delay_seconds":5.0,"retries":null,"retry_delay":5,"retry_jitter_factor":null})"},
      {R"({"retry_delay_seconds":5.0,"retry_delay":0})",
       R"({"max_retries":0,"retry_delay_seconds":5.0,"retries":null,"retry_delay":5.0,"retry_jitter_factor":null})"},
      {R"({"retry_delay_seconds":2,"retry_delay":[]})",
       R"({"max_retries":0,"retry_delay_seconds":2.0,"retries":null,"retry_delay":2,"retry_jitter_factor":null})"},
      {R"({"retry_delay_seconds":2,"retry_delay":[3]})",
       R"({"max_retries":0,"retry_delay_seconds":2.0,"retries":null,"retry_delay":[3],"retry_jitter_factor":null})"},
      {R"({"retry_delay_seconds":0.0,"retry_delay":0.0})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":0.0,"retry_jitter_factor":null})"},
      // retry_delay: smart union of int, float, list[int], list[float].
      {R"({"retry_delay":5})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":5,"retry_jitter_factor":null})"},
      {R"({"retry_delay":5.0})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":5.0,"retry_jitter_factor":null})"},
      {R"({"retry_delay":[1,2]})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":[1,2],"retry_jitter_factor":null})"},
      {R"({"retry_delay":[1, 2.5]})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":[1.0,2.5],"retry_jitter_factor":null})"},
      {R"({"retry_delay":[1,2.0]})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":[1.0,2.0],"retry_jitter_factor":null})"},
      {R"({"retry_delay":[]})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":[],"retry_jitter_factor":null})"},
      {R"({"retry_delay":1e-05})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":1e-05,"retry_jitter_factor":null})"},
      {R"({"retry_jitter_factor":1})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":1.0})"},
      {R"({"retry_jitter_factor":0.50})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":0.5})"},
      // Unknown keys dropped; key order canonical.
      {R"({"retry_jitter_factor":null,"foo":[1],"retries":4,"max_retries":0})",
       R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":4,"retry_delay":null,"retry_jitter_factor":null})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto out = NormalizeEmpiricalPolicyJson(c.input);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, c.output);
    // Normalizing twice changes nothing.
    auto again = NormalizeEmpiricalPolicyJson(*out);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *out);
  }
  EXPECT_EQ(*NormalizeEmpiricalPolicyJson("{}"), kDefaultEmpiricalPolicyJson);
}

TEST(NormalizeTest, EmpiricalPolicyRejectsBadTypes) {
  const Case cases[] = {
      {"[]", "empirical_policy: expected an object, got an array"},
      {"null", "empirical_policy: expected an object, got null"},
      {R"({"retries":2.5})", "empirical_policy.retries: expected an integer, got 2.5"},
      {R"({"max_retries":null})", "empirical_policy.max_retries: expected an integer, got null"},
      {R"({"max_retries":"2"})", "empirical_policy.max_retries: expected an integer, got \"2\""},
      {R"({"retry_delay_seconds":true})",
       "empirical_policy.retry_delay_seconds: expected a number, got true"},
      {R"({"retry_delay":"5"})",
       "empirical_policy.retry_delay: expected null, a number or a list of numbers, got \"5\""},
      {R"({"retry_delay":[1,"2"]})", "empirical_policy.retry_delay[1]: expected a number"},
      {R"({"retry_jitter_factor":{}})",
       "empirical_policy.retry_jitter_factor: expected a number or null, got an object"},
      {R"({"retries":1)", "empirical_policy: not valid JSON"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto out = NormalizeEmpiricalPolicyJson(c.input);
    ASSERT_FALSE(out.ok()) << *out;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(out.status().message()).substr(0, std::string(c.output).size()), c.output)
        << out.status().message();
  }
}

TEST(NormalizeTest, TaskInputsCanonicalForm) {
  const Case cases[] = {
      {"{}", "{}"},
      {R"({"source":[{"input_type":"parameter","name":"source"}]})",
       R"({"source":[{"input_type":"parameter","name":"source"}]})"},
      // Key order, unknown keys, UUID case.
      {R"({"x":[{"id":"A0000000-0000-4000-8000-00000000000F","input_type":"task_run","extra":1}]})",
       R"({"x":[{"input_type":"task_run","id":"a0000000-0000-4000-8000-00000000000f"}]})"},
      {R"({"x":[{"input_type":"flow_run","id":"a0000000000040008000000000000001"}]})",
       R"({"x":[{"input_type":"flow_run","id":"a0000000-0000-4000-8000-000000000001"}]})"},
      // Without input_type: recognized by the key.
      {R"({"x":[{"id":"a0000000-0000-4000-8000-000000000001"},{"name":"p"},{"type":"int"}]})",
       R"({"x":[{"input_type":"task_run","id":"a0000000-0000-4000-8000-000000000001"},{"input_type":"parameter","name":"p"},{"input_type":"constant","type":"int"}]})"},
      {R"({"a":[],"b":[{"type":"str","name":7}]})",
       R"({"a":[],"b":[{"input_type":"constant","type":"str"}]})"},
      {R"({"x":[{"input_type":"constant","type":"a\"b\u00e9"}]})",
       "{\"x\":[{\"input_type\":\"constant\",\"type\":\"a\\\"b\xC3\xA9\"}]}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto out = NormalizeTaskInputsJson(c.input);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, c.output);
  }
}

TEST(NormalizeTest, TaskInputsRejectsBadInputs) {
  const Case cases[] = {
      {"[]", "task_inputs: expected an object, got an array"},
      {R"({"x":5})", "task_inputs.x: expected a list of inputs, got 5"},
      {R"({"x":[5]})", "task_inputs.x[0]: expected an input object, got 5"},
      {R"({"x":[{"input_type":"bogus","id":"a0000000-0000-4000-8000-000000000001"}]})",
       "task_inputs.x[0].input_type: expected"},
      {R"({"x":[{"input_type":"parameter"}]})", "task_inputs.x[0].name: missing required key"},
      {R"({"x":[{"input_type":"task_run","id":"nope"}]})", "task_inputs.x[0].id: invalid UUID"},
      {R"({"x":[{"id":"nope"}]})", "task_inputs.x[0].id: invalid UUID"},
      {R"({"x":[{}]})", "task_inputs.x[0]: expected a task_run"},
      {R"({"x":[{"name":1}]})", "task_inputs.x[0]: expected a task_run"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto out = NormalizeTaskInputsJson(c.input);
    ASSERT_FALSE(out.ok()) << *out;
    EXPECT_EQ(std::string(out.status().message()).substr(0, std::string(c.output).size()), c.output)
        << out.status().message();
  }
}

constexpr char kDefaultDetailsTail[] =
    R"("cache_key":null,"cache_expiration":null,"deferred":false,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":false,"pause_key":null,"run_input_keyset":null,"refresh_cache":null,"retriable":null,"transition_id":null,"task_parameters_id":null,"traceparent":null,"deployment_concurrency_lease_id":null})";

TEST(NormalizeTest, StateFillsDefaultsAndRewritesScalars) {
  auto s = NormalizeStateJson(
      R"({"type":"RUNNING","timestamp":"2024-05-01T12:04:00.5+02:00","id":"5E000000-0000-4000-8000-000000000004","extra":1})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(
      s->json,
      std::string(
          R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","name":"Running","timestamp":"2024-05-01T10:04:00.500000Z","message":null,"data":null,"state_details":{"flow_run_id":null,"task_run_id":null,"child_flow_run_id":null,"scheduled_time":null,)") +
          kDefaultDetailsTail + "}");
  EXPECT_EQ(s->type, StateType::kRunning);
  EXPECT_EQ(s->scheduled_time_null_offset, -1);  // not SCHEDULED

  auto named = NormalizeStateJson(
      R"({"id":"5e000000-0000-4000-8000-000000000004","type":"CANCELLING","name":null,"timestamp":"2024-05-01T10:00:00Z","message":"m\u00e9\t"})");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_NE(named->json.find("\"name\":\"Cancelling\""), std::string::npos);
  EXPECT_NE(named->json.find("\"message\":\"m\xC3\xA9\\t\""), std::string::npos) << named->json;

  auto cached = NormalizeStateJson(
      R"({"id":"5e000000-0000-4000-8000-000000000004","type":"COMPLETED","name":"Cached","timestamp":"2024-05-01T10:00:00Z"})");
  ASSERT_TRUE(cached.ok());
  EXPECT_NE(cached->json.find("\"name\":\"Cached\""), std::string::npos);

  auto null_state = NormalizeStateJson("null");
  ASSERT_TRUE(null_state.ok());
  EXPECT_EQ(null_state->json, "null");
  EXPECT_FALSE(null_state->timestamp.has_value());
}

TEST(NormalizeTest, StateDetailsNormalized) {
  auto s = NormalizeStateJson(
      R"({"id":"5e000000-0000-4000-8000-000000000004","type":"SCHEDULED","timestamp":"2024-05-01T10:00:00Z","state_details":{"unknown":1,"task_run_id":"00000000-0000-4000-8000-0000000000AB","scheduled_time":"2024-05-01T12:00:00+02:00","cache_expiration":"2024-05-02","deferred":null,"pause_reschedule":true,"run_input_keyset":{"a":"b"},"retriable":false,"traceparent":"tp"}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(
      s->json,
      R"({"id":"5e000000-0000-4000-8000-000000000004","type":"SCHEDULED","name":"Scheduled","timestamp":"2024-05-01T10:00:00Z","message":null,"data":null,"state_details":{"flow_run_id":null,"task_run_id":"00000000-0000-4000-8000-0000000000ab","child_flow_run_id":null,"scheduled_time":"2024-05-01T10:00:00Z","cache_key":null,"cache_expiration":"2024-05-02T00:00:00Z","deferred":null,"untrackable_result":false,"pause_timeout":null,"pause_reschedule":true,"pause_key":null,"run_input_keyset":{"a":"b"},"refresh_cache":null,"retriable":false,"transition_id":null,"task_parameters_id":null,"traceparent":"tp","deployment_concurrency_lease_id":null}})");
  EXPECT_EQ(s->scheduled_time_null_offset, -1);  // it has a scheduled_time

  auto pending = NormalizeStateJson(
      R"({"id":"5e000000-0000-4000-8000-000000000004","type":"SCHEDULED","timestamp":"2024-05-01T10:00:00Z","state_details":{"scheduled_time":null}})");
  ASSERT_TRUE(pending.ok());
  ASSERT_GT(pending->scheduled_time_null_offset, 0);
  EXPECT_EQ(pending->json.substr(pending->scheduled_time_null_offset, 5), "null,");
  EXPECT_EQ(pending->json.substr(pending->scheduled_time_null_offset - 17, 17),
            "\"scheduled_time\":");
}

TEST(NormalizeTest, StateDataFalsyReadsBackAsNull) {
  const Case cases[] = {
      {"0", "null"},
      {"0.0", "null"},
      {"-0", "null"},
      {"0e10", "null"},
      {"\"\"", "null"},
      {"[]", "null"},
      {"{}", "null"},
      {"false", "null"},
      {"null", "null"},
      {"1", "1"},
      {"1.50", "1.50"},
      {"0.001", "0.001"},
      {"true", "true"},
      {"\" \"", "\" \""},
      {"[0]", "[0]"},
      {"{\"a\" : 1e5}", "{\"a\":1e5}"},
      {"\"\\u00e9\"", "\"\\u00e9\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto s = NormalizeStateJson(
        std::string(
            R"({"id":"5e000000-0000-4000-8000-000000000004","type":"FAILED","timestamp":"2024-05-01T10:00:00Z","data":)") +
        c.input + "}");
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_NE(s->json.find(std::string("\"data\":") + c.output + ",\"state_details\""),
              std::string::npos)
        << s->json;
  }
}

TEST(NormalizeTest, StateRejectsBadFields) {
  const Case cases[] = {
      {"5", "state: expected an object or null, got 5"},
      {R"({"type":"RUNNING","timestamp":"2024-05-01T10:00:00Z"})",
       "state.id: missing required key"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","timestamp":"2024-05-01T10:00:00Z"})",
       "state.type: missing required key"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING"})",
       "state.timestamp: missing required key"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":null})",
       "state.timestamp: expected an ISO 8601 datetime string, got null"},
      {R"({"id":"x","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z"})",
       "state.id: invalid UUID"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"running","timestamp":"2024-05-01T10:00:00Z"})",
       "state.type: unknown state type \"running\""},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","name":3})",
       "state.name: expected a string or null, got 3"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":null})",
       "state.state_details: expected an object, got null"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":{"untrackable_result":null}})",
       "state.state_details.untrackable_result: expected a boolean, got null"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":{"flow_run_id":"zz"}})",
       "state.state_details.flow_run_id: invalid UUID"},
      {R"({"id":"5e000000-0000-4000-8000-000000000004","type":"RUNNING","timestamp":"2024-05-01T10:00:00Z","state_details":{"run_input_keyset":{"a":1}}})",
       "state.state_details.run_input_keyset.a: expected a string, got 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    auto s = NormalizeStateJson(c.input);
    ASSERT_FALSE(s.ok()) << s->json;
    EXPECT_EQ(std::string(s.status().message()).substr(0, std::string(c.output).size()), c.output)
        << s.status().message();
  }
}

// With -march enabling AVX2 (TASKDEX_MARCH), simdjson's on-demand front end,
// which is compiled into engine/, must use a SIMD kernel, not its fallback.
TEST(NormalizeTest, OnDemandKernelMatchesTheBuildFlags) {
  std::string_view kernel = engine_internal::OnDemandKernelName();
  EXPECT_FALSE(kernel.empty());
#if defined(__AVX2__) && defined(__PCLMUL__) && defined(__BMI__) && defined(__LZCNT__)
  EXPECT_NE(kernel, "fallback");
#endif
}

}  // namespace
}  // namespace taskdex
