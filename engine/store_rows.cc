#include "engine/store_rows.h"

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text_format.h"

namespace taskdex {
namespace {

std::optional<Micros> TimeOrNull(Micros t) {
  return t == kNullMicros ? std::nullopt : std::optional<Micros>(t);
}

std::optional<StateType> StateTypeOrNull(uint8_t t) {
  return t == kNullStateType ? std::nullopt : std::optional<StateType>(static_cast<StateType>(t));
}

std::optional<std::string> CodeOrNull(const Dictionary& dict, uint32_t code) {
  return code == kNullCode ? std::nullopt : std::optional<std::string>(dict.Get(code));
}

std::optional<std::string> BlobOrNull(const BlobColumn& col, RowId row) {
  return col.IsNull(row) ? std::nullopt : std::optional<std::string>(col.Get(row));
}

std::vector<std::string> Tags(const Store& store, const CodeLists& col, RowId row) {
  std::vector<std::string> out;
  for (uint32_t code : col.Of(row)) out.emplace_back(store.tags.Get(code));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits at s[i..i+4); -1 if malformed.
int64_t Hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int64_t v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    const int h = HexValue(s[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// The string a JSON string literal (with its quotes) stands for: the inverse
// of AppendJsonString (engine/text_format.h), which task_version was written
// with; any other valid escape is decoded too. nullopt if malformed.
std::optional<std::string> DecodeJsonString(std::string_view lit) {
  if (lit.size() < 2 || lit.front() != '"' || lit.back() != '"') return std::nullopt;
  const std::string_view s = lit.substr(1, lit.size() - 2);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '"':
      case '\\':
      case '/':
        out.push_back(s[i]);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        int64_t cp = Hex4(s, i + 1);
        if (cp < 0) return std::nullopt;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < s.size() && s[i + 1] == '\\' &&
            s[i + 2] == 'u') {
          const int64_t low = Hex4(s, i + 3);
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(&out, static_cast<uint32_t>(cp));
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// Renders a task-run template column at `row` as the record held it: every
// hole from the row's columns, except kScheduledNow, which is written as
// `null` (the text the record had there) and its offset stored in
// *now_offset (-1 if the template has none).
std::string RenderRecordText(const Store& store, const TemplateColumn& col, RowId row,
                             int32_t* now_offset) {
  std::string out;
  *now_offset = -1;
  col.Render(row, &out, [&](uint8_t hole, std::string* o) {
    if (hole == static_cast<uint8_t>(TaskRunHole::kScheduledNow)) {
      *now_offset = static_cast<int32_t>(o->size());
      o->append("null");
    } else {
      AppendTaskRunHole(store, row, hole, /*now=*/0, o);
    }
  });
  return out;
}

}  // namespace

TaskRunRecord ReadTaskRunRecord(const Store& store, RowId row) {
  const TaskRunTable& t = store.task_runs;
  assert(row < t.size());
  TaskRunRecord r;
  r.id = t.id[row];
  r.created = TimeOrNull(t.created[row]);
  r.updated = TimeOrNull(t.updated[row]);
  r.name = std::string(store.task_run_names.Get(t.name[row]));
  r.flow_run_id = t.flow_run_id[row];
  r.task_key = std::string(store.task_keys.Get(t.task_key[row]));
  r.dynamic_key = std::string(t.dynamic_key.Get(row));
  r.cache_key = BlobOrNull(t.cache_key, row);
  r.cache_expiration = TimeOrNull(t.cache_expiration[row]);

  // Templates; only `state` may hold the kScheduledNow hole (the builder
  // forces it there alone, and its hole text is never matched).
  int32_t unused_offset = -1;
  const std::string version = RenderRecordText(store, t.task_version, row, &unused_offset);
  if (version != "null") {
    std::optional<std::string> decoded = DecodeJsonString(version);
    assert(decoded.has_value());  // the builder wrote AppendJsonString text
    r.task_version = decoded ? std::move(*decoded) : version;
  }
  r.empirical_policy_json = RenderRecordText(store, t.empirical_policy, row, &unused_offset);
  r.tags = Tags(store, t.tags, row);
  r.labels_json = RenderRecordText(store, t.labels, row, &unused_offset);
  r.state_id = t.state_id[row];
  r.task_inputs_json = std::string(t.task_inputs_json.Get(row));
  r.state_type = StateTypeOrNull(t.state_type[row]);
  r.state_name = CodeOrNull(store.state_names, t.state_name[row]);
  r.run_count = t.run_count[row];
  r.flow_run_run_count = t.flow_run_run_count[row];
  r.expected_start_time = TimeOrNull(t.expected_start_time[row]);
  r.next_scheduled_start_time = TimeOrNull(t.next_scheduled_start_time[row]);
  r.start_time = TimeOrNull(t.start_time[row]);
  r.end_time = TimeOrNull(t.end_time[row]);
  r.total_run_time_us = t.total_run_time_us[row];
  r.state_json = RenderRecordText(store, t.state, row, &r.state_scheduled_time_null_offset);
  r.state_timestamp = TimeOrNull(t.state_timestamp[row]);
  r.parameters_json = std::string(t.parameters_json.Get(row));
  r.context_json = std::string(t.context_json.Get(row));
  r.extras_json = std::string(t.extras_json.Get(row));
  return r;
}

FlowRunRecord ReadFlowRunRecord(const Store& store, RowId row) {
  const FlowRunTable& t = store.flow_runs;
  assert(row < t.size());
  FlowRunRecord r;
  r.id = t.id[row];
  r.flow_id = t.flow_id[row];
  r.name = std::string(store.flow_run_names.Get(t.name[row]));
  r.deployment_id = t.deployment_id[row];
  r.work_queue_name = CodeOrNull(store.work_queue_names, t.work_queue_name[row]);
  r.flow_version = BlobOrNull(t.flow_version, row);
  r.idempotency_key = BlobOrNull(t.idempotency_key, row);
  r.tags = Tags(store, t.tags, row);
  r.has_created_by = t.has_created_by[row] != 0;
  r.created_by_id = BlobOrNull(t.created_by_id, row);
  r.created_by_type = BlobOrNull(t.created_by_type, row);
  r.state_type = StateTypeOrNull(t.state_type[row]);
  r.state_name = CodeOrNull(store.state_names, t.state_name[row]);
  r.expected_start_time = TimeOrNull(t.expected_start_time[row]);
  r.next_scheduled_start_time = TimeOrNull(t.next_scheduled_start_time[row]);
  r.start_time = TimeOrNull(t.start_time[row]);
  r.end_time = TimeOrNull(t.end_time[row]);
  r.parent_task_run_id = t.parent_task_run_id[row];
  return r;
}

FlowRecord ReadFlowRecord(const Store& store, RowId row) {
  const FlowTable& t = store.flows;
  assert(row < t.size());
  FlowRecord r;
  r.id = t.id[row];
  r.name = std::string(store.flow_names.Get(t.name[row]));
  r.tags = Tags(store, t.tags, row);
  return r;
}

DeploymentRecord ReadDeploymentRecord(const Store& store, RowId row) {
  const DeploymentTable& t = store.deployments;
  assert(row < t.size());
  DeploymentRecord r;
  r.id = t.id[row];
  r.name = std::string(store.deployment_names.Get(t.name[row]));
  r.flow_id = t.flow_id[row];
  r.paused = t.paused[row] != 0;
  r.tags = Tags(store, t.tags, row);
  r.work_queue_name = CodeOrNull(store.work_queue_names, t.work_queue_name[row]);
  return r;
}

}  // namespace taskdex
