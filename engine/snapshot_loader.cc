// Snapshot loading (entities.md 4).
//
// Lines, not documents. Each file is read into one padded buffer and cut at
// '\n' with memchr; every line is parsed on its own with
// ondemand::parser::iterate over a padded_string_view into that buffer (the
// bytes after a line are the next lines or the final padding, so nothing is
// copied). We do not use iterate_many because:
//  - a line is the unit of the format: iterate_many would accept two objects
//    on one line, or one object spread over two lines, and both are errors;
//  - with skip_bad_lines, a bad line (an unclosed string, say) must not take
//    the rest of the file with it; iterate_many's stage 1 runs over whole
//    batches and cannot resynchronise at the next newline;
//  - the line number of an error comes for free, instead of counting
//    newlines up to current_index();
//  - a cut-off last line is simply an invalid line, so it fails loudly with
//    its number (iterate_many needs a truncated_bytes() check for that).
// The per-line cost is one stage-1 pass over the line, which is what
// iterate_many does per batch anyway; lines are small, so it stays cheap.
//
// Large files are cut into chunks at line boundaries and parsed on several
// threads, one parser each; the records are concatenated in chunk order, so
// the result equals the single-threaded one.

#include "engine/snapshot_loader.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/internal/json_util.h"
#include "engine/normalize.h"
#include "engine/uuid.h"
#include "index/status_macros.h"

namespace taskdex {
namespace {

namespace ondemand = simdjson::ondemand;
using engine_internal::AppendMinifiedJson;
using engine_internal::DescribeJsonValue;
using engine_internal::JsonValue;
using engine_internal::ReadDatetimeValue;
using engine_internal::ReadUuidValue;
using engine_internal::TrimTrailingSpace;

constexpr uint64_t kProgressEvery = uint64_t{64} << 20;
constexpr size_t kMaxKeptErrors = 10;
// Files below this size per extra thread are parsed on one thread.
constexpr size_t kMinChunkBytes = size_t{1} << 20;

absl::Status Invalid(std::string_view key, std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", key, reason));
}

absl::Status JsonError(std::string_view key, simdjson::error_code e) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: not valid JSON (%s)", key, simdjson::error_message(e)));
}

absl::Status TypeError(std::string_view key, std::string_view want, JsonValue& v) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: expected %s, got %s", key, want, DescribeJsonValue(v)));
}

absl::Status Missing(std::string_view key) { return Invalid(key, "missing required key"); }

// --- typed readers ----------------------------------------------------------

absl::Status ReadType(JsonValue& v, std::string_view key, ondemand::json_type* t) {
  if (auto e = v.type().get(*t); e) return JsonError(key, e);
  return absl::OkStatus();
}

absl::Status ReadString(JsonValue& v, std::string_view key, std::string* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::string) return TypeError(key, "a string", v);
  std::string_view s;
  if (auto e = v.get_string().get(s); e) return JsonError(key, e);
  out->assign(s);
  return absl::OkStatus();
}

absl::Status ReadNullableString(JsonValue& v, std::string_view key,
                                std::optional<std::string>* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t == ondemand::json_type::null) {
    out->reset();
    return absl::OkStatus();
  }
  if (t != ondemand::json_type::string) return TypeError(key, "a string or null", v);
  std::string_view s;
  if (auto e = v.get_string().get(s); e) return JsonError(key, e);
  *out = std::string(s);
  return absl::OkStatus();
}

absl::Status ReadUuid(JsonValue& v, std::string_view key, Uuid* out) {
  std::optional<Uuid> u;
  TASKDEX_RETURN_IF_ERROR(ReadUuidValue(v, key, /*nullable=*/false, &u));
  *out = *u;
  return absl::OkStatus();
}

absl::Status ReadNullableUuid(JsonValue& v, std::string_view key, std::optional<Uuid>* out) {
  return ReadUuidValue(v, key, /*nullable=*/true, out);
}

absl::Status ReadDatetime(JsonValue& v, std::string_view key, std::optional<Micros>* out) {
  return ReadDatetimeValue(v, key, out);
}

absl::Status ReadNullableStateType(JsonValue& v, std::string_view key,
                                   std::optional<StateType>* out) {
  std::optional<std::string> s;
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::null && t != ondemand::json_type::string) {
    return TypeError(key, "a state type string or null", v);
  }
  TASKDEX_RETURN_IF_ERROR(ReadNullableString(v, key, &s));
  if (!s) {
    out->reset();
    return absl::OkStatus();
  }
  *out = ParseStateType(*s);
  if (!*out) return Invalid(key, absl::StrFormat("unknown state type \"%s\"", *s));
  return absl::OkStatus();
}

absl::Status ReadTags(JsonValue& v, std::string_view key, std::vector<std::string>* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::array) return TypeError(key, "a list of strings", v);
  ondemand::array arr;
  if (auto e = v.get_array().get(arr); e) return JsonError(key, e);
  out->clear();
  for (auto element : arr) {
    JsonValue item;
    if (auto e = std::move(element).get(item); e) return JsonError(key, e);
    std::string tag;
    TASKDEX_RETURN_IF_ERROR(ReadString(item, absl::StrFormat("%s[%d]", key, out->size()), &tag));
    out->push_back(std::move(tag));
  }
  return absl::OkStatus();
}

absl::Status ReadBool(JsonValue& v, std::string_view key, bool* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::boolean) return TypeError(key, "a boolean", v);
  if (auto e = v.get_bool().get(*out); e) return JsonError(key, e);
  return absl::OkStatus();
}

// An integer; an integral float is accepted as pydantic's lax mode does.
absl::Status ReadInt(JsonValue& v, std::string_view key, int64_t* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::number) return TypeError(key, "an integer", v);
  std::string_view tok = TrimTrailingSpace(v.raw_json_token());
  if (!engine_internal::IsJsonNumberLiteral(tok)) return TypeError(key, "an integer", v);
  if (tok.find_first_of(".eE") == std::string_view::npos) {
    if (v.get_int64().get(*out) != simdjson::SUCCESS) {
      return Invalid(key, absl::StrFormat("integer out of range: %s", tok));
    }
    return absl::OkStatus();
  }
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS || d != std::trunc(d) ||
      !(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
    return TypeError(key, "an integer", v);
  }
  *out = static_cast<int64_t>(d);
  return absl::OkStatus();
}

// A duration in seconds, rounded to the nearest microsecond.
absl::Status ReadSeconds(JsonValue& v, std::string_view key, int64_t* micros) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t != ondemand::json_type::number) return TypeError(key, "a number of seconds", v);
  std::string_view tok = TrimTrailingSpace(v.raw_json_token());
  if (!engine_internal::IsJsonNumberLiteral(tok)) return TypeError(key, "a number of seconds", v);
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d) || std::fabs(d) > 9.0e12) {
    return Invalid(key, absl::StrFormat("duration out of range: %s", tok));
  }
  *micros = std::llround(d * 1e6);
  return absl::OkStatus();
}

// An object kept verbatim (minified); `null_as` is used for null, or null is
// an error when `null_as` is empty.
absl::Status ReadVerbatimObject(JsonValue& v, std::string_view key, std::string_view null_as,
                                std::string* out) {
  ondemand::json_type t;
  TASKDEX_RETURN_IF_ERROR(ReadType(v, key, &t));
  if (t == ondemand::json_type::null && !null_as.empty()) {
    out->assign(null_as);
    return absl::OkStatus();
  }
  if (t != ondemand::json_type::object) {
    return TypeError(key, null_as.empty() ? "an object" : "an object or null", v);
  }
  out->clear();
  if (auto e = AppendMinifiedJson(v, out); e) return JsonError(key, e);
  return absl::OkStatus();
}

// Reads a value that is then thrown away, so that a malformed one (which
// ondemand would otherwise skip unchecked) still fails the line.
absl::Status SkipValue(JsonValue& v, std::string_view key) {
  thread_local std::string scratch;
  scratch.clear();
  if (auto e = AppendMinifiedJson(v, &scratch); e) return JsonError(key, e);
  return absl::OkStatus();
}

// Appends the raw key text (escapes kept) with quotes.
void AppendRawKey(const ondemand::raw_json_string& key, std::string* out) {
  const char* p = key.raw();
  size_t n = 0;
  while (p[n] != '"') {
    if (p[n] == '\\') ++n;
    ++n;
  }
  out->push_back('"');
  out->append(p, n);
  out->push_back('"');
}

// --- key tables -------------------------------------------------------------

enum class TaskKey {
  kId,
  kCreated,
  kUpdated,
  kName,
  kFlowRunId,
  kTaskKey,
  kDynamicKey,
  kCacheKey,
  kCacheExpiration,
  kTaskVersion,
  kEmpiricalPolicy,
  kTags,
  kLabels,
  kStateId,
  kTaskInputs,
  kStateType,
  kStateName,
  kRunCount,
  kFlowRunRunCount,
  kExpectedStartTime,
  kNextScheduledStartTime,
  kStartTime,
  kEndTime,
  kTotalRunTime,
  kEstimatedRunTime,
  kEstimatedStartTimeDelta,
  kState,
  kParameters,
  kContext,
};

struct StringViewHash {
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};
using TaskKeyMap = absl::flat_hash_map<std::string_view, TaskKey, StringViewHash>;

const TaskKeyMap& TaskKeys() {
  static const auto* keys = new TaskKeyMap{
      {"id", TaskKey::kId},
      {"created", TaskKey::kCreated},
      {"updated", TaskKey::kUpdated},
      {"name", TaskKey::kName},
      {"flow_run_id", TaskKey::kFlowRunId},
      {"task_key", TaskKey::kTaskKey},
      {"dynamic_key", TaskKey::kDynamicKey},
      {"cache_key", TaskKey::kCacheKey},
      {"cache_expiration", TaskKey::kCacheExpiration},
      {"task_version", TaskKey::kTaskVersion},
      {"empirical_policy", TaskKey::kEmpiricalPolicy},
      {"tags", TaskKey::kTags},
      {"labels", TaskKey::kLabels},
      {"state_id", TaskKey::kStateId},
      {"task_inputs", TaskKey::kTaskInputs},
      {"state_type", TaskKey::kStateType},
      {"state_name", TaskKey::kStateName},
      {"run_count", TaskKey::kRunCount},
      {"flow_run_run_count", TaskKey::kFlowRunRunCount},
      {"expected_start_time", TaskKey::kExpectedStartTime},
      {"next_scheduled_start_time", TaskKey::kNextScheduledStartTime},
      {"start_time", TaskKey::kStartTime},
      {"end_time", TaskKey::kEndTime},
      {"total_run_time", TaskKey::kTotalRunTime},
      {"estimated_run_time", TaskKey::kEstimatedRunTime},
      {"estimated_start_time_delta", TaskKey::kEstimatedStartTimeDelta},
      {"state", TaskKey::kState},
      {"parameters", TaskKey::kParameters},
      {"context", TaskKey::kContext},
  };
  return *keys;
}

// --- line parsers -----------------------------------------------------------

// Opens `line` as one JSON object. Errors name the key "(line)".
absl::Status OpenObject(ondemand::parser& parser, simdjson::padded_string_view line,
                        ondemand::document* doc, ondemand::object* obj) {
  if (auto e = parser.iterate(line).get(*doc); e) return JsonError("(line)", e);
  ondemand::json_type t;
  if (auto e = doc->type().get(t); e) return JsonError("(line)", e);
  if (t != ondemand::json_type::object) {
    return Invalid("(line)", "expected a JSON object");
  }
  if (auto e = doc->get_object().get(*obj); e) return JsonError("(line)", e);
  return absl::OkStatus();
}

// After the object: anything left on the line is an error.
absl::Status CloseObject(ondemand::document& doc) {
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Invalid("(line)", "not valid JSON (content after the object)");
  }
  return absl::OkStatus();
}

// Iterates the fields of `obj`, calling fn(key, value) for each.
template <typename Fn>
absl::Status ForEachField(ondemand::object& obj, Fn fn) {
  for (auto field_result : obj) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field); e) return JsonError("(line)", e);
    // key() first: unescaped_key() consumes the raw key.
    const ondemand::raw_json_string raw_key = field.key();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return JsonError("(line)", e);
    TASKDEX_RETURN_IF_ERROR(fn(key, field, raw_key));
  }
  return absl::OkStatus();
}

absl::Status ParseTaskRun(ondemand::parser& parser, simdjson::padded_string_view line,
                          TaskRunRecord* r) {
  *r = TaskRunRecord();
  r->empirical_policy_json = std::string(kDefaultEmpiricalPolicyJson);
  ondemand::document doc;
  ondemand::object obj;
  TASKDEX_RETURN_IF_ERROR(OpenObject(parser, line, &doc, &obj));
  bool has_id = false, has_name = false, has_task_key = false, has_dynamic_key = false;
  const auto& keys = TaskKeys();
  absl::Status fields_status = (ForEachField(
      obj,
      [&](std::string_view key, ondemand::field& field,
          const ondemand::raw_json_string& raw_key) -> absl::Status {
        JsonValue& v = field.value();
        auto it = keys.find(key);
        if (it == keys.end()) {
          // An extra: kept verbatim, in line order.
          std::string key_copy(key);
          r->extras_json.push_back(',');
          AppendRawKey(raw_key, &r->extras_json);
          r->extras_json.push_back(':');
          if (auto e = AppendMinifiedJson(v, &r->extras_json); e) return JsonError(key_copy, e);
          return absl::OkStatus();
        }
        switch (it->second) {
          case TaskKey::kId:
            has_id = true;
            return ReadUuid(v, key, &r->id);
          case TaskKey::kCreated:
            return ReadDatetime(v, key, &r->created);
          case TaskKey::kUpdated:
            return ReadDatetime(v, key, &r->updated);
          case TaskKey::kName:
            has_name = true;
            return ReadString(v, key, &r->name);
          case TaskKey::kFlowRunId:
            return ReadNullableUuid(v, key, &r->flow_run_id);
          case TaskKey::kTaskKey:
            has_task_key = true;
            return ReadString(v, key, &r->task_key);
          case TaskKey::kDynamicKey:
            has_dynamic_key = true;
            return ReadString(v, key, &r->dynamic_key);
          case TaskKey::kCacheKey:
            return ReadNullableString(v, key, &r->cache_key);
          case TaskKey::kCacheExpiration:
            return ReadDatetime(v, key, &r->cache_expiration);
          case TaskKey::kTaskVersion:
            return ReadNullableString(v, key, &r->task_version);
          case TaskKey::kEmpiricalPolicy:
            return engine_internal::NormalizeEmpiricalPolicyValue(v, key,
                                                                  &r->empirical_policy_json);
          case TaskKey::kTags:
            return ReadTags(v, key, &r->tags);
          case TaskKey::kLabels:
            return ReadVerbatimObject(v, key, "null", &r->labels_json);
          case TaskKey::kStateId:
            return ReadNullableUuid(v, key, &r->state_id);
          case TaskKey::kTaskInputs:
            return engine_internal::NormalizeTaskInputsValue(v, key, &r->task_inputs_json);
          case TaskKey::kStateType:
            return ReadNullableStateType(v, key, &r->state_type);
          case TaskKey::kStateName:
            return ReadNullableString(v, key, &r->state_name);
          case TaskKey::kRunCount:
            return ReadInt(v, key, &r->run_count);
          case TaskKey::kFlowRunRunCount:
            return ReadInt(v, key, &r->flow_run_run_count);
          case TaskKey::kExpectedStartTime:
            return ReadDatetime(v, key, &r->expected_start_time);
          case TaskKey::kNextScheduledStartTime:
            return ReadDatetime(v, key, &r->next_scheduled_start_time);
          case TaskKey::kStartTime:
            return ReadDatetime(v, key, &r->start_time);
          case TaskKey::kEndTime:
            return ReadDatetime(v, key, &r->end_time);
          case TaskKey::kTotalRunTime:
            return ReadSeconds(v, key, &r->total_run_time_us);
          case TaskKey::kEstimatedRunTime:
          case TaskKey::kEstimatedStartTimeDelta:
            return SkipValue(v, key);  // recomputed on every read (paginate.md 8.6)
          case TaskKey::kState: {
            NormalizedState state;
            TASKDEX_RETURN_IF_ERROR(engine_internal::NormalizeStateValue(v, key, &state));
            r->state_json = std::move(state.json);
            r->state_timestamp = state.timestamp;
            r->state_scheduled_time_null_offset = state.scheduled_time_null_offset;
            return absl::OkStatus();
          }
          case TaskKey::kParameters:
          case TaskKey::kContext: {
            // Written by /paginate (paginate.md 8.2) and, not being in table 2.1,
            // also an extra of the full shape (entities.md 4.3).
            std::string& slot =
                it->second == TaskKey::kParameters ? r->parameters_json : r->context_json;
            std::string key_copy(key);
            ondemand::json_type t;
            TASKDEX_RETURN_IF_ERROR(ReadType(v, key_copy, &t));
            if (t != ondemand::json_type::object && t != ondemand::json_type::null) {
              return TypeError(key_copy, "an object or null", v);
            }
            std::string text;
            if (auto e = AppendMinifiedJson(v, &text); e) return JsonError(key_copy, e);
            slot = t == ondemand::json_type::null ? "{}" : text;
            r->extras_json.append(",\"");
            r->extras_json.append(key_copy);
            r->extras_json.append("\":");
            r->extras_json.append(text);
            return absl::OkStatus();
          }
        }
        return absl::OkStatus();
      }));
  if (!fields_status.ok()) return fields_status;
  if (!has_id) return Missing("id");
  if (!has_name) return Missing("name");
  if (!has_task_key) return Missing("task_key");
  if (!has_dynamic_key) return Missing("dynamic_key");
  return CloseObject(doc);
}

absl::Status ParseFlowRun(ondemand::parser& parser, simdjson::padded_string_view line,
                          FlowRunRecord* r) {
  *r = FlowRunRecord();
  ondemand::document doc;
  ondemand::object obj;
  TASKDEX_RETURN_IF_ERROR(OpenObject(parser, line, &doc, &obj));
  bool has_id = false, has_flow_id = false, has_name = false;
  absl::Status fields_status = (ForEachField(
      obj,
      [&](std::string_view key, ondemand::field& field,
          const ondemand::raw_json_string&) -> absl::Status {
        JsonValue& v = field.value();
        if (key == "id") {
          has_id = true;
          return ReadUuid(v, key, &r->id);
        }
        if (key == "flow_id") {
          has_flow_id = true;
          return ReadUuid(v, key, &r->flow_id);
        }
        if (key == "name") {
          has_name = true;
          return ReadString(v, key, &r->name);
        }
        if (key == "deployment_id") return ReadNullableUuid(v, key, &r->deployment_id);
        if (key == "work_queue_name") return ReadNullableString(v, key, &r->work_queue_name);
        if (key == "flow_version") return ReadNullableString(v, key, &r->flow_version);
        if (key == "idempotency_key") return ReadNullableString(v, key, &r->idempotency_key);
        if (key == "tags") return ReadTags(v, key, &r->tags);
        if (key == "state_type") return ReadNullableStateType(v, key, &r->state_type);
        if (key == "state_name") return ReadNullableString(v, key, &r->state_name);
        if (key == "expected_start_time") return ReadDatetime(v, key, &r->expected_start_time);
        if (key == "next_scheduled_start_time") {
          return ReadDatetime(v, key, &r->next_scheduled_start_time);
        }
        if (key == "start_time") return ReadDatetime(v, key, &r->start_time);
        if (key == "end_time") return ReadDatetime(v, key, &r->end_time);
        if (key == "parent_task_run_id") return ReadNullableUuid(v, key, &r->parent_task_run_id);
        if (key == "created_by") {
          std::string key_copy(key);
          ondemand::json_type t;
          TASKDEX_RETURN_IF_ERROR(ReadType(v, key_copy, &t));
          r->has_created_by = false;
          r->created_by_id.reset();
          r->created_by_type.reset();
          if (t == ondemand::json_type::null) return absl::OkStatus();
          if (t != ondemand::json_type::object) return TypeError(key_copy, "an object or null", v);
          r->has_created_by = true;
          ondemand::object cb;
          if (auto e = v.get_object().get(cb); e) return JsonError(key_copy, e);
          return ForEachField(cb,
                              [&](std::string_view cb_key, ondemand::field& cb_field,
                                  const ondemand::raw_json_string&) -> absl::Status {
                                if (cb_key != "id" && cb_key != "type") {
                                  return SkipValue(cb_field.value(), "created_by");
                                }
                                std::optional<std::string>& slot =
                                    cb_key == "id" ? r->created_by_id : r->created_by_type;
                                std::string path = absl::StrFormat("created_by.%s", cb_key);
                                JsonValue& cv = cb_field.value();
                                ondemand::json_type ct;
                                TASKDEX_RETURN_IF_ERROR(ReadType(cv, path, &ct));
                                if (ct == ondemand::json_type::null) {
                                  slot.reset();
                                } else if (ct == ondemand::json_type::string) {
                                  std::string s;
                                  TASKDEX_RETURN_IF_ERROR(ReadString(cv, path, &s));
                                  slot = std::move(s);
                                } else {
                                  std::string text;
                                  if (auto e = AppendMinifiedJson(cv, &text); e)
                                    return JsonError(path, e);
                                  slot = std::move(text);
                                }
                                return absl::OkStatus();
                              });
        }
        return SkipValue(v, key);  // other keys are dropped
      }));
  if (!fields_status.ok()) return fields_status;
  if (!has_id) return Missing("id");
  if (!has_flow_id) return Missing("flow_id");
  if (!has_name) return Missing("name");
  return CloseObject(doc);
}

absl::Status ParseFlow(ondemand::parser& parser, simdjson::padded_string_view line, FlowRecord* r) {
  *r = FlowRecord();
  ondemand::document doc;
  ondemand::object obj;
  TASKDEX_RETURN_IF_ERROR(OpenObject(parser, line, &doc, &obj));
  bool has_id = false, has_name = false;
  absl::Status fields_status = (ForEachField(obj,
                                             [&](std::string_view key, ondemand::field& field,
                                                 const ondemand::raw_json_string&) -> absl::Status {
                                               JsonValue& v = field.value();
                                               if (key == "id") {
                                                 has_id = true;
                                                 return ReadUuid(v, key, &r->id);
                                               }
                                               if (key == "name") {
                                                 has_name = true;
                                                 return ReadString(v, key, &r->name);
                                               }
                                               if (key == "tags") return ReadTags(v, key, &r->tags);
                                               return SkipValue(v, key);  // other keys are dropped
                                             }));
  if (!fields_status.ok()) return fields_status;
  if (!has_id) return Missing("id");
  if (!has_name) return Missing("name");
  return CloseObject(doc);
}

absl::Status ParseDeployment(ondemand::parser& parser, simdjson::padded_string_view line,
                             DeploymentRecord* r) {
  *r = DeploymentRecord();
  ondemand::document doc;
  ondemand::object obj;
  TASKDEX_RETURN_IF_ERROR(OpenObject(parser, line, &doc, &obj));
  bool has_id = false, has_name = false, has_flow_id = false;
  absl::Status fields_status =
      (ForEachField(obj,
                    [&](std::string_view key, ondemand::field& field,
                        const ondemand::raw_json_string&) -> absl::Status {
                      JsonValue& v = field.value();
                      if (key == "id") {
                        has_id = true;
                        return ReadUuid(v, key, &r->id);
                      }
                      if (key == "name") {
                        has_name = true;
                        return ReadString(v, key, &r->name);
                      }
                      if (key == "flow_id") {
                        has_flow_id = true;
                        return ReadUuid(v, key, &r->flow_id);
                      }
                      if (key == "paused") return ReadBool(v, key, &r->paused);
                      if (key == "tags") return ReadTags(v, key, &r->tags);
                      if (key == "work_queue_name")
                        return ReadNullableString(v, key, &r->work_queue_name);
                      return SkipValue(v, key);  // other keys are dropped
                    }));
  if (!fields_status.ok()) return fields_status;
  if (!has_id) return Missing("id");
  if (!has_name) return Missing("name");
  if (!has_flow_id) return Missing("flow_id");
  return CloseObject(doc);
}

// Parser dispatch by record type.
absl::Status ParseRecord(ondemand::parser& p, simdjson::padded_string_view l, TaskRunRecord* r) {
  return ParseTaskRun(p, l, r);
}
absl::Status ParseRecord(ondemand::parser& p, simdjson::padded_string_view l, FlowRunRecord* r) {
  return ParseFlowRun(p, l, r);
}
absl::Status ParseRecord(ondemand::parser& p, simdjson::padded_string_view l, FlowRecord* r) {
  return ParseFlow(p, l, r);
}
absl::Status ParseRecord(ondemand::parser& p, simdjson::padded_string_view l, DeploymentRecord* r) {
  return ParseDeployment(p, l, r);
}

template <typename Record>
absl::StatusOr<Record> ParseOneLine(std::string_view line) {
  thread_local ondemand::parser parser;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  simdjson::padded_string padded(line);
  Record r;
  TASKDEX_RETURN_IF_ERROR(ParseRecord(parser, padded, &r));
  return r;
}

// --- files and chunks -------------------------------------------------------

bool IsBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
  }
  return true;
}

template <typename Record>
struct ChunkResult {
  std::vector<Record> records;
  absl::Status error;  // first error, when not skipping
  uint64_t skipped = 0;
  std::vector<std::string> errors;  // first kMaxKeptErrors, when skipping
  uint64_t lines = 0;
};

// Parses the lines of buf[begin, end). `first_line` is the 1-based number of
// the line starting at `begin`. `padded_end` is the end of the allocation.
template <typename Record>
void ParseChunk(std::string_view file, const char* buf, size_t begin, size_t end,
                const char* padded_end, uint64_t first_line, bool skip_bad_lines,
                std::atomic<uint64_t>* bytes_done, ChunkResult<Record>* out) {
  ondemand::parser parser;
  uint64_t line_no = first_line;
  size_t pos = begin;
  uint64_t reported = begin;
  while (pos < end) {
    const char* line = buf + pos;
    const char* nl = static_cast<const char*>(std::memchr(line, '\n', end - pos));
    size_t len = nl ? static_cast<size_t>(nl - line) : end - pos;
    size_t next = pos + len + (nl ? 1 : 0);
    size_t content = len;
    if (content > 0 && line[content - 1] == '\r') --content;
    if (!IsBlank(line, content)) {
      Record r;
      absl::Status s = ParseRecord(
          parser,
          simdjson::padded_string_view(line, content, static_cast<size_t>(padded_end - line)), &r);
      if (s.ok()) {
        out->records.push_back(std::move(r));
      } else {
        std::string message = absl::StrFormat("%s:%d: %s", file, line_no, s.message());
        if (!skip_bad_lines) {
          out->error = absl::InvalidArgumentError(message);
          return;
        }
        ++out->skipped;
        if (out->errors.size() < kMaxKeptErrors) out->errors.push_back(std::move(message));
      }
    }
    ++line_no;
    ++out->lines;
    pos = next;
    if (pos - reported >= (size_t{1} << 20)) {
      bytes_done->fetch_add(pos - reported, std::memory_order_relaxed);
      reported = pos;
    }
  }
  bytes_done->fetch_add(pos - reported, std::memory_order_relaxed);
}

struct Progress {
  const LoadOptions* options;
  uint64_t bytes_total = 0;
  uint64_t bytes_before = 0;  // of files already done
  uint64_t lines_before = 0;
  uint64_t next_report = kProgressEvery;
  void Report(std::string_view file, uint64_t file_bytes, uint64_t file_lines, bool force) {
    if (!options->progress) return;
    uint64_t done = bytes_before + file_bytes;
    if (!force && done < next_report) return;
    while (next_report <= done) next_report += kProgressEvery;
    LoadProgress p;
    p.file = file;
    p.bytes_done = done;
    p.bytes_total = bytes_total;
    p.lines_done = lines_before + file_lines;
    options->progress(p);
  }
};

int ThreadCount(const LoadOptions& options) {
  if (options.threads > 0) return options.threads;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Reads one file into `out`. A missing optional file leaves `out` empty and
// is listed in the report.
template <typename Record>
absl::Status ReadFile(const std::string& dir, std::string_view name, bool required,
                      const LoadOptions& options, Progress* progress, LoadReport* report,
                      std::vector<Record>* out) {
  std::filesystem::path path = std::filesystem::path(dir) / std::string(name);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) {
      return absl::NotFoundError(absl::StrFormat("%s: required file not found", path.string()));
    }
    if (report) report->missing_files.push_back(std::string(name));
    return absl::OkStatus();
  }
  simdjson::padded_string data;
  if (auto e = simdjson::padded_string::load(path.string()).get(data); e) {
    return absl::NotFoundError(
        absl::StrFormat("%s: cannot read (%s)", path.string(), simdjson::error_message(e)));
  }
  const char* buf = data.data();
  size_t size = data.size();
  const char* padded_end = buf + size + simdjson::SIMDJSON_PADDING;

  // Chunks at line boundaries.
  size_t max_chunks = std::max<size_t>(1, size / kMinChunkBytes);
  size_t chunks = std::min<size_t>(static_cast<size_t>(ThreadCount(options)), max_chunks);
  std::vector<size_t> starts{0};
  for (size_t k = 1; k < chunks; ++k) {
    size_t target = std::max(starts.back(), size * k / chunks);
    const void* nl = target < size ? std::memchr(buf + target, '\n', size - target) : nullptr;
    if (nl == nullptr) break;
    size_t start = static_cast<const char*>(nl) - buf + 1;
    if (start >= size) break;
    if (start > starts.back()) starts.push_back(start);
  }
  std::vector<uint64_t> first_lines{1};
  for (size_t k = 1; k < starts.size(); ++k) {
    first_lines.push_back(first_lines.back() +
                          std::count(buf + starts[k - 1], buf + starts[k], '\n'));
  }
  std::vector<ChunkResult<Record>> results(starts.size());
  std::atomic<uint64_t> bytes_done{0};
  auto run = [&](size_t k) {
    size_t end = k + 1 < starts.size() ? starts[k + 1] : size;
    ParseChunk<Record>(name, buf, starts[k], end, padded_end, first_lines[k],
                       options.skip_bad_lines, &bytes_done, &results[k]);
  };
  if (starts.size() == 1 && !options.progress) {
    run(0);
  } else {
    std::vector<std::future<void>> futures;
    for (size_t k = 0; k < starts.size(); ++k) {
      futures.push_back(std::async(std::launch::async, run, k));
    }
    for (auto& f : futures) {
      while (f.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        progress->Report(name, bytes_done.load(std::memory_order_relaxed), 0, false);
      }
    }
  }
  uint64_t lines = 0;
  size_t total = 0;
  for (auto& r : results) {
    if (!r.error.ok()) return r.error;
    total += r.records.size();
    lines += r.lines;
  }
  out->clear();
  out->reserve(total);
  for (auto& r : results) {
    for (auto& rec : r.records) out->push_back(std::move(rec));
    if (report) {
      report->skipped_lines += r.skipped;
      for (auto& e : r.errors) {
        if (report->first_errors.size() < kMaxKeptErrors) report->first_errors.push_back(e);
      }
    }
  }
  progress->Report(name, size, lines, /*force=*/true);
  progress->bytes_before += size;
  progress->lines_before += lines;
  if (report) report->bytes += size;
  return absl::OkStatus();
}

uint64_t FileSize(const std::string& dir, std::string_view name) {
  std::error_code ec;
  auto size = std::filesystem::file_size(std::filesystem::path(dir) / std::string(name), ec);
  return ec ? 0 : size;
}

}  // namespace

absl::StatusOr<TaskRunRecord> ParseTaskRunLine(std::string_view line) {
  return ParseOneLine<TaskRunRecord>(line);
}
absl::StatusOr<FlowRunRecord> ParseFlowRunLine(std::string_view line) {
  return ParseOneLine<FlowRunRecord>(line);
}
absl::StatusOr<FlowRecord> ParseFlowLine(std::string_view line) {
  return ParseOneLine<FlowRecord>(line);
}
absl::StatusOr<DeploymentRecord> ParseDeploymentLine(std::string_view line) {
  return ParseOneLine<DeploymentRecord>(line);
}

absl::StatusOr<SnapshotRecords> ReadSnapshotRecords(const std::string& dir,
                                                    const LoadOptions& options,
                                                    LoadReport* report) {
  auto start = std::chrono::steady_clock::now();
  SnapshotRecords records;
  Progress progress{&options};
  for (std::string_view name :
       {"task_runs.ndjson", "flow_runs.ndjson", "deployments.ndjson", "flows.ndjson"}) {
    progress.bytes_total += FileSize(dir, name);
  }
  // task_runs first: it is required, so a wrong directory fails at once.
  TASKDEX_RETURN_IF_ERROR(
      ReadFile(dir, "task_runs.ndjson", true, options, &progress, report, &records.task_runs));
  TASKDEX_RETURN_IF_ERROR(
      ReadFile(dir, "flow_runs.ndjson", false, options, &progress, report, &records.flow_runs));
  TASKDEX_RETURN_IF_ERROR(
      ReadFile(dir, "deployments.ndjson", false, options, &progress, report, &records.deployments));
  TASKDEX_RETURN_IF_ERROR(
      ReadFile(dir, "flows.ndjson", false, options, &progress, report, &records.flows));
  if (report) {
    report->flows = records.flows.size();
    report->deployments = records.deployments.size();
    report->flow_runs = records.flow_runs.size();
    report->task_runs = records.task_runs.size();
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return records;
}

absl::StatusOr<std::unique_ptr<Store>> LoadSnapshot(const std::string& dir,
                                                    const LoadOptions& options,
                                                    LoadReport* report) {
  auto start = std::chrono::steady_clock::now();
  TASKDEX_ASSIGN_OR_RETURN(SnapshotRecords records, ReadSnapshotRecords(dir, options, report));
  StoreBuilder builder;
  builder.AddAll(std::move(records));
  std::unique_ptr<Store> store = builder.Build();
  if (report) {
    report->build = store->report;
    report->flows = store->flows.size();
    report->deployments = store->deployments.size();
    report->flow_runs = store->flow_runs.size();
    report->task_runs = store->task_runs.size();
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return store;
}

std::string LoadReport::Summary() const {
  std::string s = absl::StrFormat(
      "loaded %d task runs, %d flow runs, %d flows, %d deployments (%d bytes) in %.2f s\n",
      task_runs, flow_runs, flows, deployments, bytes, seconds);
  for (const std::string& f : missing_files) {
    s += absl::StrFormat("missing optional file %s (read as empty)\n", f);
  }
  if (skipped_lines > 0) {
    s += absl::StrFormat("skipped %d bad lines; first errors:\n", skipped_lines);
    for (const std::string& e : first_errors) s += absl::StrFormat("  %s\n", e);
  }
  auto line = [&s](uint64_t n, std::string_view what) {
    if (n > 0) s += absl::StrFormat("%d %s\n", n, what);
  };
  line(build.replaced_task_runs, "task-run lines replaced by a later line with the same id");
  line(build.replaced_flow_runs, "flow-run lines replaced by a later line with the same id");
  line(build.replaced_flows, "flow lines replaced by a later line with the same id");
  line(build.replaced_deployments, "deployment lines replaced by a later line with the same id");
  line(build.orphan_task_runs, "task runs whose flow_run_id names no flow run (orphans)");
  line(build.flow_runs_missing_flow, "flow runs whose flow_id names no flow");
  line(build.flow_runs_dangling_deployment,
       "flow runs whose deployment_id names no deployment (legal: deleted deployment)");
  line(build.flow_runs_missing_parent_task_run,
       "flow runs whose parent_task_run_id names no task run");
  line(build.deployments_missing_flow, "deployments whose flow_id names no flow");
  return s;
}

}  // namespace taskdex
