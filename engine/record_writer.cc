// engine/record_writer.cc
//
// Each line is built key by key into one string. The helpers below write
// one JSON value each; the line functions list the keys in the order the
// loader's tables (entities.md 2) give them, so a diff against a Prefect
// dump is easy to read.

#include "engine/record_writer.h"

#include <optional>
#include <string_view>

#include "engine/datetime.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// `,"key":` (no comma before the first key).
void Key(std::string* out, std::string_view key) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void UuidValue(std::string* out, const Uuid& u) {
  char buf[36];
  FormatUuid(u, buf);
  out->push_back('"');
  out->append(buf, sizeof(buf));
  out->push_back('"');
}

void UuidValue(std::string* out, const std::optional<Uuid>& u) {
  if (u) {
    UuidValue(out, *u);
  } else {
    out->append("null");
  }
}

void TimeValue(std::string* out, const std::optional<Micros>& t) {
  if (!t) {
    out->append("null");
    return;
  }
  out->push_back('"');
  AppendDatetime(out, *t);
  out->push_back('"');
}

void StringValue(std::string* out, std::string_view s) { AppendJsonString(out, s); }

void NullableStringValue(std::string* out, const std::optional<std::string>& s) {
  if (s) {
    AppendJsonString(out, *s);
  } else {
    out->append("null");
  }
}

void StateTypeValue(std::string* out, const std::optional<StateType>& t) {
  if (!t) {
    out->append("null");
    return;
  }
  out->push_back('"');
  out->append(StateTypeName(*t));
  out->push_back('"');
}

void TagsValue(std::string* out, const std::vector<std::string>& tags) {
  out->push_back('[');
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, tags[i]);
  }
  out->push_back(']');
}

void IntValue(std::string* out, int64_t v) { out->append(std::to_string(v)); }

}  // namespace

void AppendTaskRunLine(const TaskRunRecord& r, std::string* out) {
  out->push_back('{');
  Key(out, "id");
  UuidValue(out, r.id);
  Key(out, "created");
  TimeValue(out, r.created);
  Key(out, "updated");
  TimeValue(out, r.updated);
  Key(out, "name");
  StringValue(out, r.name);
  Key(out, "flow_run_id");
  UuidValue(out, r.flow_run_id);
  Key(out, "task_key");
  StringValue(out, r.task_key);
  Key(out, "dynamic_key");
  StringValue(out, r.dynamic_key);
  Key(out, "cache_key");
  NullableStringValue(out, r.cache_key);
  Key(out, "cache_expiration");
  TimeValue(out, r.cache_expiration);
  Key(out, "task_version");
  NullableStringValue(out, r.task_version);
  Key(out, "empirical_policy");
  out->append(r.empirical_policy_json);
  Key(out, "tags");
  TagsValue(out, r.tags);
  Key(out, "labels");
  out->append(r.labels_json);
  Key(out, "state_id");
  UuidValue(out, r.state_id);
  Key(out, "task_inputs");
  out->append(r.task_inputs_json);
  Key(out, "state_type");
  StateTypeValue(out, r.state_type);
  Key(out, "state_name");
  NullableStringValue(out, r.state_name);
  Key(out, "run_count");
  IntValue(out, r.run_count);
  Key(out, "flow_run_run_count");
  IntValue(out, r.flow_run_run_count);
  Key(out, "expected_start_time");
  TimeValue(out, r.expected_start_time);
  Key(out, "next_scheduled_start_time");
  TimeValue(out, r.next_scheduled_start_time);
  Key(out, "start_time");
  TimeValue(out, r.start_time);
  Key(out, "end_time");
  TimeValue(out, r.end_time);
  Key(out, "total_run_time");
  AppendPydanticDurationSeconds(out, r.total_run_time_us);
  // state_timestamp and state_scheduled_time_null_offset are read back
  // from the state object itself.
  Key(out, "state");
  out->append(r.state_json);
  out->append(r.extras_json);  // leading comma included; holds parameters/context
  out->push_back('}');
}

void AppendFlowRunLine(const FlowRunRecord& r, std::string* out) {
  out->push_back('{');
  Key(out, "id");
  UuidValue(out, r.id);
  Key(out, "flow_id");
  UuidValue(out, r.flow_id);
  Key(out, "name");
  StringValue(out, r.name);
  Key(out, "deployment_id");
  UuidValue(out, r.deployment_id);
  Key(out, "work_queue_name");
  NullableStringValue(out, r.work_queue_name);
  Key(out, "flow_version");
  NullableStringValue(out, r.flow_version);
  Key(out, "idempotency_key");
  NullableStringValue(out, r.idempotency_key);
  Key(out, "tags");
  TagsValue(out, r.tags);
  Key(out, "created_by");
  if (r.has_created_by) {
    // A non-string id/type was kept as its JSON text; written back as a
    // string it reads back as the same text.
    out->push_back('{');
    Key(out, "id");
    NullableStringValue(out, r.created_by_id);
    Key(out, "type");
    NullableStringValue(out, r.created_by_type);
    out->push_back('}');
  } else {
    out->append("null");
  }
  Key(out, "state_type");
  StateTypeValue(out, r.state_type);
  Key(out, "state_name");
  NullableStringValue(out, r.state_name);
  Key(out, "expected_start_time");
  TimeValue(out, r.expected_start_time);
  Key(out, "next_scheduled_start_time");
  TimeValue(out, r.next_scheduled_start_time);
  Key(out, "start_time");
  TimeValue(out, r.start_time);
  Key(out, "end_time");
  TimeValue(out, r.end_time);
  Key(out, "parent_task_run_id");
  UuidValue(out, r.parent_task_run_id);
  out->push_back('}');
}

void AppendFlowLine(const FlowRecord& r, std::string* out) {
  out->push_back('{');
  Key(out, "id");
  UuidValue(out, r.id);
  Key(out, "name");
  StringValue(out, r.name);
  Key(out, "tags");
  TagsValue(out, r.tags);
  out->push_back('}');
}

void AppendDeploymentLine(const DeploymentRecord& r, std::string* out) {
  out->push_back('{');
  Key(out, "id");
  UuidValue(out, r.id);
  Key(out, "name");
  StringValue(out, r.name);
  Key(out, "flow_id");
  UuidValue(out, r.flow_id);
  Key(out, "paused");
  out->append(r.paused ? "true" : "false");
  Key(out, "tags");
  TagsValue(out, r.tags);
  Key(out, "work_queue_name");
  NullableStringValue(out, r.work_queue_name);
  out->push_back('}');
}

std::string TaskRunLine(const TaskRunRecord& r) {
  std::string s;
  AppendTaskRunLine(r, &s);
  return s;
}
std::string FlowRunLine(const FlowRunRecord& r) {
  std::string s;
  AppendFlowRunLine(r, &s);
  return s;
}
std::string FlowLine(const FlowRecord& r) {
  std::string s;
  AppendFlowLine(r, &s);
  return s;
}
std::string DeploymentLine(const DeploymentRecord& r) {
  std::string s;
  AppendDeploymentLine(r, &s);
  return s;
}

}  // namespace taskdex
