// Snapshot loading (entities.md 4).
//
// Lines, not documents. Each file is read in blocks of whole lines (a few
// MiB, cut after the last '\n'; the partial line after it starts the next
// block) into reused padded buffers, and every line is parsed on its own
// with ondemand::parser::iterate over a padded_string_view into that block
// (the bytes after a line are the next lines or the block's padding, so
// nothing is copied). We do not use iterate_many because:
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
// The pipeline (FilePipeline): worker threads take the next block (reading
// it under the pipeline's lock, so blocks are numbered in file order), parse
// it into a batch of records, and publish the batch; the calling thread
// hands batches to the sink (the StoreBuilder, or vectors for
// ReadSnapshotRecords) strictly in block order, and parses a block itself
// whenever the next batch is not ready. At most 2 * workers + 2 blocks are
// read and not yet consumed, so memory stays bounded whatever the file size.
// Errors carry block-relative line numbers until the consumer, which knows
// how many lines came before, formats "<file>:<line>: <key>: <reason>".

#include "engine/snapshot_loader.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/internal/json_util.h"
#include "engine/normalize.h"
#include "engine/task_run_batch.h"
#include "engine/task_run_fields.h"
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
    // The common case without formatting the element's path.
    ondemand::json_type item_type;
    if (item.type().get(item_type) == simdjson::SUCCESS &&
        item_type == ondemand::json_type::string) {
      std::string_view s;
      if (auto e = item.get_string().get(s); e) {
        return JsonError(absl::StrFormat("%s[%d]", key, out->size()), e);
      }
      out->emplace_back(s);
      continue;
    }
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

using TaskKey = TaskRunField;

struct StringViewHash {
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};
using TaskKeyMap = absl::flat_hash_map<std::string_view, TaskKey, StringViewHash>;

const TaskKeyMap& TaskKeys() {
  static const auto* keys = [] {
    auto* map = new TaskKeyMap;
    for (size_t i = 0; i < kTaskRunFieldCount; ++i) {
      map->emplace(kTaskRunFieldNames[i], static_cast<TaskKey>(i));
    }
    return map;
  }();
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
// For LoadSnapshot: the templating of the record's JSON columns happens
// here, on the parsing thread, rather than on the one builder thread.
absl::Status ParseRecord(ondemand::parser& p, simdjson::padded_string_view l,
                         PreparedTaskRun* r) {
  TASKDEX_RETURN_IF_ERROR(ParseTaskRun(p, l, &r->record));
  PrepareTaskRun(r);
  return absl::OkStatus();
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

// --- files, blocks and the pipeline -----------------------------------------

constexpr size_t kDefaultBlockBytes = size_t{4} << 20;

bool IsBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
  }
  return true;
}

// Whole lines of a file, followed by simdjson's padding. Reused from block
// to block, so a load touches a few fresh pages rather than one per byte.
struct Block {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;  // bytes usable for text (the padding comes after)
  size_t size = 0;

  // Makes room for `n` bytes of text, keeping the first `keep`.
  void Reserve(size_t n, size_t keep) {
    if (n <= capacity) return;
    auto fresh = std::make_unique_for_overwrite<char[]>(n + simdjson::SIMDJSON_PADDING);
    if (keep > 0) std::memcpy(fresh.get(), data.get(), keep);
    data = std::move(fresh);
    capacity = n;
  }
};

// Reads a file as a sequence of blocks, each cut after its last '\n' (the
// partial line after it starts the next block); the last block may end
// without one. A line longer than a block gets a bigger block. Not
// thread-safe.
class BlockReader {
 public:
  BlockReader() = default;
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;
  ~BlockReader() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::NotFoundError(
          absl::StrFormat("%s: cannot read (%s)", path, std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  // Fills `b` with the next lines. False at the end of the file.
  absl::StatusOr<bool> Next(size_t block_bytes, Block* b) {
    if (eof_ && carry_.empty()) return false;
    b->Reserve(std::max(block_bytes, carry_.size() + 1), 0);
    if (!carry_.empty()) std::memcpy(b->data.get(), carry_.data(), carry_.size());
    b->size = carry_.size();
    size_t scanned = b->size;  // the carry holds no '\n'
    carry_.clear();
    while (true) {
      while (!eof_ && b->size < b->capacity) {
        ssize_t n = ::read(fd_, b->data.get() + b->size, b->capacity - b->size);
        if (n < 0) {
          if (errno == EINTR) continue;
          return absl::DataLossError(
              absl::StrFormat("%s: read failed (%s)", path_, std::strerror(errno)));
        }
        if (n == 0) {
          eof_ = true;
          break;
        }
        b->size += static_cast<size_t>(n);
      }
      if (eof_) break;  // the rest of the file, whatever its last byte
      const char* base = b->data.get();
      const void* nl = ::memrchr(base + scanned, '\n', b->size - scanned);
      if (nl != nullptr) {
        size_t cut = static_cast<size_t>(static_cast<const char*>(nl) - base) + 1;
        carry_.assign(base + cut, b->size - cut);
        b->size = cut;
        break;
      }
      scanned = b->size;
      b->Reserve(b->capacity * 2, b->size);  // one line longer than the block
    }
    std::memset(b->data.get() + b->size, 0, simdjson::SIMDJSON_PADDING);
    return b->size > 0;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool eof_ = false;
  std::string carry_;
};

// The records parsed from one block, in line order: a vector, handed to the
// sink one by one.
template <typename Record>
struct BlockRecords {
  std::vector<Record> records;
  void Reserve(size_t n) { records.reserve(n); }
  // Where the next line is parsed to; then Keep() or Drop() it.
  Record* Slot() { return &records.emplace_back(); }
  void Keep() {}
  void Drop() { records.pop_back(); }
  template <typename Sink>
  void Deliver(Sink& sink) {
    for (Record& r : records) sink(std::move(r));
  }
};

// LoadSnapshot's task runs: a TaskRunBatch (engine/task_run_batch.h), their
// repeated strings interned here on the parsing thread, handed to the sink
// whole.
template <>
struct BlockRecords<PreparedTaskRun> {
  TaskRunBatch batch;
  PreparedTaskRun scratch;
  void Reserve(size_t n) { batch.Reserve(n); }
  PreparedTaskRun* Slot() { return &scratch; }
  void Keep() { batch.Add(std::move(scratch)); }
  void Drop() {}
  template <typename Sink>
  void Deliver(Sink& sink) {
    sink(&batch);
  }
};

// The records of one block, and what went wrong in it. Line numbers are
// 0-based within the block until the consumer, which knows how many lines
// came before, formats them.
template <typename Record>
struct ParsedBlock {
  BlockRecords<Record> records;
  bool failed = false;  // stopped at its first bad line (not skipping)
  uint64_t skipped = 0;
  std::vector<std::pair<uint64_t, std::string>> errors;  // first kMaxKeptErrors
  uint64_t lines = 0;
  uint64_t bytes = 0;
};

template <typename Record>
void ParseBlock(ondemand::parser& parser, const Block& block, bool skip_bad_lines,
                ParsedBlock<Record>* out) {
  const char* buf = block.data.get();
  const size_t end = block.size;
  const char* padded_end = buf + end + simdjson::SIMDJSON_PADDING;
  out->bytes = end;
  // Growing the vector would move every record again: reserve about one
  // record per 512 bytes (task-run lines are ~2 KB; untouched capacity
  // costs address space, not memory).
  out->records.Reserve(end / 512 + 8);
  uint64_t line_index = 0;
  size_t pos = 0;
  while (pos < end) {
    const char* line = buf + pos;
    const char* nl = static_cast<const char*>(std::memchr(line, '\n', end - pos));
    size_t len = nl ? static_cast<size_t>(nl - line) : end - pos;
    size_t content = len;
    if (content > 0 && line[content - 1] == '\r') --content;
    if (!IsBlank(line, content)) {
      absl::Status s = ParseRecord(
          parser,
          simdjson::padded_string_view(line, content, static_cast<size_t>(padded_end - line)),
          out->records.Slot());
      if (s.ok()) {
        out->records.Keep();
      } else {
        out->records.Drop();
        ++out->skipped;
        if (out->errors.size() < kMaxKeptErrors) {
          out->errors.emplace_back(line_index, std::string(s.message()));
        }
        if (!skip_bad_lines) {
          out->failed = true;
          out->lines = line_index + 1;
          return;
        }
      }
    }
    ++line_index;
    pos += len + (nl ? 1 : 0);
  }
  out->lines = line_index;
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

// Reads one file block by block: up to `workers` threads (and the calling
// thread whenever the next block in line order is not ready yet) read and
// parse blocks; the calling thread hands their records to `sink` in line
// order. At most `window` blocks are read and not yet consumed, which bounds
// the memory held. The first bad line (in line order) fails the file unless
// skip_bad_lines is set.
template <typename Record, typename Sink>
class FilePipeline {
 public:
  FilePipeline(std::string_view name, BlockReader* reader, const LoadOptions& options,
               int workers, Sink* sink)
      : name_(name),
        reader_(reader),
        block_bytes_(options.block_bytes > 0 ? options.block_bytes : kDefaultBlockBytes),
        skip_bad_lines_(options.skip_bad_lines),
        window_(2 * static_cast<uint64_t>(workers) + 2),
        sink_(sink) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
  }
  FilePipeline(const FilePipeline&) = delete;
  FilePipeline& operator=(const FilePipeline&) = delete;
  ~FilePipeline() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // Seconds spent in the sink: the serial part of the file's load.
  double add_seconds() const { return add_seconds_; }

  // Consumes every block. `lines` and `bytes` count the file so far.
  absl::Status Run(Progress* progress, LoadReport* report, uint64_t* lines, uint64_t* bytes) {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      auto it = ready_.find(consumed_);
      if (it != ready_.end()) {
        ParsedBlock<Record> block = std::move(it->second);
        ready_.erase(it);
        ++consumed_;
        l.unlock();
        cv_.notify_all();
        for (const auto& [index, reason] : block.errors) {
          std::string message = absl::StrFormat("%s:%d: %s", name_, *lines + index + 1, reason);
          if (block.failed) return absl::InvalidArgumentError(message);
          if (report && report->first_errors.size() < kMaxKeptErrors) {
            report->first_errors.push_back(std::move(message));
          }
        }
        if (report) report->skipped_lines += block.skipped;
        const auto deliver_start = std::chrono::steady_clock::now();
        block.records.Deliver(*sink_);
        add_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                      deliver_start).count();
        *lines += block.lines;
        *bytes += block.bytes;
        progress->Report(name_, *bytes, *lines, /*force=*/false);
        l.lock();
        continue;
      }
      if (!read_error_.ok()) return read_error_;
      if (reader_done_ && consumed_ == next_seq_) return absl::OkStatus();
      const bool was_done = reader_done_;
      if (TakeAndParse(l)) continue;
      // TakeAndParse may have found the end of the file (or a read error)
      // itself: look again before sleeping, nobody else would wake us.
      if (reader_done_ != was_done) continue;
      cv_.wait(l);
    }
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (TakeAndParse(l)) continue;
      if (reader_done_) return;
      cv_.wait(l);
    }
  }

  // With `l` held: reads the next block if the window allows, then parses
  // it with `l` released and publishes the result. False if nothing was
  // taken.
  bool TakeAndParse(std::unique_lock<std::mutex>& l) {
    if (stop_ || reader_done_ || !read_error_.ok() || next_seq_ - consumed_ >= window_) {
      return false;
    }
    std::unique_ptr<Block> block;
    if (pool_.empty()) {
      block = std::make_unique<Block>();
    } else {
      block = std::move(pool_.back());
      pool_.pop_back();
    }
    absl::StatusOr<bool> more = reader_->Next(block_bytes_, block.get());
    if (!more.ok() || !*more) {
      if (!more.ok()) read_error_ = more.status();
      reader_done_ = true;
      pool_.push_back(std::move(block));
      cv_.notify_all();
      return false;
    }
    uint64_t seq = next_seq_++;
    l.unlock();
    thread_local ondemand::parser parser;
    ParsedBlock<Record> parsed;
    ParseBlock(parser, *block, skip_bad_lines_, &parsed);
    l.lock();
    ready_.emplace(seq, std::move(parsed));
    pool_.push_back(std::move(block));
    cv_.notify_all();
    return true;
  }

  const std::string_view name_;
  BlockReader* const reader_;
  const size_t block_bytes_;
  const bool skip_bad_lines_;
  const uint64_t window_;
  Sink* const sink_;
  double add_seconds_ = 0;  // Run's thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;          // guarded by mu_
  bool reader_done_ = false;   // guarded by mu_
  absl::Status read_error_;    // guarded by mu_
  uint64_t next_seq_ = 0;      // guarded by mu_: blocks read so far
  uint64_t consumed_ = 0;      // guarded by mu_: blocks handed to the sink
  std::map<uint64_t, ParsedBlock<Record>> ready_;  // guarded by mu_
  std::vector<std::unique_ptr<Block>> pool_;       // guarded by mu_
  std::vector<std::thread> threads_;
};

// Streams one file into `sink` (called on this thread, in line order). A
// missing optional file is listed in the report and reads as empty.
template <typename Record, typename Sink>
absl::Status StreamFile(const std::string& dir, std::string_view name, bool required,
                        const LoadOptions& options, Progress* progress, LoadReport* report,
                        Sink sink) {
  std::filesystem::path path = std::filesystem::path(dir) / std::string(name);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) {
      return absl::NotFoundError(absl::StrFormat("%s: required file not found", path.string()));
    }
    if (report) report->missing_files.push_back(std::string(name));
    return absl::OkStatus();
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) size = 0;
  BlockReader reader;
  TASKDEX_RETURN_IF_ERROR(reader.Open(path.string()));
  size_t block_bytes = options.block_bytes > 0 ? options.block_bytes : kDefaultBlockBytes;
  uint64_t blocks = size / block_bytes + 1;
  int workers = static_cast<int>(
      std::min<uint64_t>(static_cast<uint64_t>(ThreadCount(options) - 1), blocks - 1));
  uint64_t lines = 0, bytes = 0;
  double add_seconds = 0;
  {
    FilePipeline<Record, Sink> pipeline(name, &reader, options, workers, &sink);
    TASKDEX_RETURN_IF_ERROR(pipeline.Run(progress, report, &lines, &bytes));
    add_seconds = pipeline.add_seconds();
  }
  progress->Report(name, bytes, lines, /*force=*/true);
  if (report) {
    report->phases.emplace_back(
        absl::StrFormat("parse+add %s", name),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    // Included in the above; the part no added thread shortens.
    report->phases.emplace_back(absl::StrFormat("(of which add, one thread) %s", name),
                                add_seconds);
  }
  progress->bytes_before += bytes;
  progress->lines_before += lines;
  if (report) report->bytes += bytes;
  return absl::OkStatus();
}

uint64_t FileSize(const std::string& dir, std::string_view name) {
  std::error_code ec;
  auto size = std::filesystem::file_size(std::filesystem::path(dir) / std::string(name), ec);
  return ec ? 0 : size;
}

// The four files, in the order they have always been read (task_runs first:
// it is required, so a wrong directory fails at once), each record handed to
// the matching sink on this thread. Task runs are read as `TaskRun`:
// TaskRunRecord, or PreparedTaskRun (templated on the parsing thread, and
// handed to on_task_run as a TaskRunBatch* per block).
template <typename TaskRun, typename OnTaskRun, typename OnFlowRun, typename OnDeployment,
          typename OnFlow>
absl::Status StreamSnapshot(const std::string& dir, const LoadOptions& options,
                            LoadReport* report, OnTaskRun on_task_run, OnFlowRun on_flow_run,
                            OnDeployment on_deployment, OnFlow on_flow) {
  Progress progress{&options};
  for (std::string_view name :
       {"task_runs.ndjson", "flow_runs.ndjson", "deployments.ndjson", "flows.ndjson"}) {
    progress.bytes_total += FileSize(dir, name);
  }
  TASKDEX_RETURN_IF_ERROR(StreamFile<TaskRun>(dir, "task_runs.ndjson", true, options, &progress,
                                              report, on_task_run));
  TASKDEX_RETURN_IF_ERROR(StreamFile<FlowRunRecord>(dir, "flow_runs.ndjson", false, options,
                                                    &progress, report, on_flow_run));
  TASKDEX_RETURN_IF_ERROR(StreamFile<DeploymentRecord>(dir, "deployments.ndjson", false, options,
                                                       &progress, report, on_deployment));
  TASKDEX_RETURN_IF_ERROR(
      StreamFile<FlowRecord>(dir, "flows.ndjson", false, options, &progress, report, on_flow));
  return absl::OkStatus();
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
  TASKDEX_RETURN_IF_ERROR(StreamSnapshot<TaskRunRecord>(
      dir, options, report,
      [&](TaskRunRecord&& r) { records.task_runs.push_back(std::move(r)); },
      [&](FlowRunRecord&& r) { records.flow_runs.push_back(std::move(r)); },
      [&](DeploymentRecord&& r) { records.deployments.push_back(std::move(r)); },
      [&](FlowRecord&& r) { records.flows.push_back(std::move(r)); }));
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
  StoreBuilder builder;
  uint64_t records = 0;
  TASKDEX_RETURN_IF_ERROR(StreamSnapshot<PreparedTaskRun>(
      dir, options, report,
      [&](TaskRunBatch* batch) {
        builder.AddTaskRuns(batch);
        records += batch->size();
      },
      [&](FlowRunRecord&& r) { builder.AddFlowRun(std::move(r)); ++records; },
      [&](DeploymentRecord&& r) { builder.AddDeployment(std::move(r)); ++records; },
      [&](FlowRecord&& r) { builder.AddFlow(std::move(r)); ++records; }));
  if (options.progress) {
    LoadProgress p;
    p.phase = "build";
    p.lines_done = records;
    options.progress(p);
  }
  StoreBuilder::BuildOptions build;
  build.threads = options.build_threads > 0 ? options.build_threads : ThreadCount(options);
  if (report) build.phase_seconds = &report->phases;
  if (options.progress) {
    build.on_phase = [&options, records](std::string_view phase) {
      LoadProgress p;
      p.phase = phase;
      p.lines_done = records;
      options.progress(p);
    };
  }
  std::unique_ptr<Store> store = builder.Build(build);
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
      "loaded %d task runs, %d flow runs, %d flows, %d deployments (%d bytes of %s) in %.2f s\n",
      task_runs, flow_runs, flows, deployments, bytes, format, seconds);
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
  if (!phases.empty()) {
    s += "phases:";
    for (const auto& [phase, secs] : phases) s += absl::StrFormat(" %s %.2f s;", phase, secs);
    s += "\n";
  }
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
