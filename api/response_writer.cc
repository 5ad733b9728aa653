// api/response_writer.cc
//
// Plain appends rather than a RapidJSON Writer: every number needs Python's
// (or pydantic's) text form from engine/text_format, and opaque sub-documents
// are spliced verbatim, so a Writer would add nothing but RawValue calls.

#include "api/response_writer.h"

#include <charconv>

#include "engine/datetime.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

void AppendUuid(std::string* out, const Uuid& u) {
  char buf[38];
  buf[0] = '"';
  FormatUuid(u, buf + 1);
  buf[37] = '"';
  out->append(buf, sizeof(buf));
}

void AppendOptionalUuid(std::string* out, const std::optional<Uuid>& u) {
  if (u) {
    AppendUuid(out, *u);
  } else {
    out->append("null");
  }
}

void AppendTimestamp(std::string* out, Micros t) {
  if (t == kNullMicros) {
    out->append("null");
    return;
  }
  out->push_back('"');
  AppendDatetime(out, t);
  out->push_back('"');
}

void AppendNullableBlobString(std::string* out, const BlobColumn& col, RowId row) {
  if (col.IsNull(row)) {
    out->append("null");
  } else {
    AppendJsonString(out, col.Get(row));
  }
}

void AppendInt64(std::string* out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void AppendUint64(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void AppendTags(std::string* out, const Store& store, RowId row) {
  out->push_back('[');
  bool first = true;
  for (uint32_t code : store.task_runs.tags.Of(row)) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, store.tags.Get(code));
  }
  out->push_back(']');
}

// A template column of the row (engine/template_column.h), holes filled.
void AppendText(std::string* out, const Store& store, const TemplateColumn& col, RowId row,
                Micros now) {
  col.Render(row, out, [&](uint8_t hole, std::string* o) {
    AppendTaskRunHole(store, row, hole, now, o);
  });
}

}  // namespace

int64_t EstimatedRunTimeMicros(const Store& store, RowId row, Micros now) {
  const TaskRunTable& t = store.task_runs;
  int64_t total = t.total_run_time_us[row];
  if (t.state_type[row] == static_cast<uint8_t>(StateType::kRunning) &&
      t.state_timestamp[row] != kNullMicros) {
    return total + (now - t.state_timestamp[row]);
  }
  return total;
}

int64_t EstimatedStartTimeDeltaMicros(const Store& store, RowId row, Micros now) {
  const TaskRunTable& t = store.task_runs;
  Micros start = t.start_time[row];
  Micros expected = t.expected_start_time[row];
  if (start != kNullMicros && expected != kNullMicros && start > expected) {
    return start - expected;
  }
  if (start == kNullMicros && expected != kNullMicros && expected < now) {
    uint8_t type = t.state_type[row];
    bool terminal = type != kNullStateType && IsTerminal(static_cast<StateType>(type));
    if (!terminal) return now - expected;
  }
  return 0;
}

void AppendTaskRunResponse(const Store& store, RowId row, Micros now, std::string* out) {
  const TaskRunTable& t = store.task_runs;
  out->append("{\"id\":");
  AppendUuid(out, t.id[row]);
  out->append(",\"created\":");
  AppendTimestamp(out, t.created[row]);
  out->append(",\"updated\":");
  AppendTimestamp(out, t.updated[row]);
  out->append(",\"name\":");
  AppendJsonString(out, store.task_run_names.Get(t.name[row]));
  out->append(",\"flow_run_id\":");
  AppendOptionalUuid(out, t.flow_run_id[row]);
  out->append(",\"task_key\":");
  AppendJsonString(out, store.task_keys.Get(t.task_key[row]));
  out->append(",\"state_id\":");
  AppendOptionalUuid(out, t.state_id[row]);
  out->append(",\"state\":");
  AppendText(out, store, t.state, row, now);
  out->append(",\"task_version\":");
  AppendText(out, store, t.task_version, row, now);
  out->append(",\"parameters\":");
  out->append(t.parameters_json.Get(row));
  out->append(",\"task_inputs\":");
  out->append(t.task_inputs_json.Get(row));
  out->append(",\"context\":");
  out->append(t.context_json.Get(row));
  out->append(",\"empirical_policy\":");
  AppendText(out, store, t.empirical_policy, row, now);
  out->append(",\"tags\":");
  AppendTags(out, store, row);
  out->append(",\"start_time\":");
  AppendTimestamp(out, t.start_time[row]);
  out->append(",\"end_time\":");
  AppendTimestamp(out, t.end_time[row]);
  out->append(",\"total_run_time\":");
  AppendDurationSeconds(out, t.total_run_time_us[row]);
  out->append(",\"estimated_run_time\":");
  AppendDurationSeconds(out, EstimatedRunTimeMicros(store, row, now));
  out->append(",\"estimated_start_time_delta\":");
  AppendDurationSeconds(out, EstimatedStartTimeDeltaMicros(store, row, now));
  out->push_back('}');
}

void AppendTaskRunFull(const Store& store, RowId row, Micros now, std::string* out) {
  const TaskRunTable& t = store.task_runs;
  out->append("{\"id\":");
  AppendUuid(out, t.id[row]);
  out->append(",\"created\":");
  AppendTimestamp(out, t.created[row]);
  out->append(",\"updated\":");
  AppendTimestamp(out, t.updated[row]);
  out->append(",\"name\":");
  AppendJsonString(out, store.task_run_names.Get(t.name[row]));
  out->append(",\"flow_run_id\":");
  AppendOptionalUuid(out, t.flow_run_id[row]);
  out->append(",\"task_key\":");
  AppendJsonString(out, store.task_keys.Get(t.task_key[row]));
  out->append(",\"dynamic_key\":");
  AppendJsonString(out, t.dynamic_key.Get(row));
  out->append(",\"cache_key\":");
  AppendNullableBlobString(out, t.cache_key, row);
  out->append(",\"cache_expiration\":");
  AppendTimestamp(out, t.cache_expiration[row]);
  out->append(",\"task_version\":");
  AppendText(out, store, t.task_version, row, now);
  out->append(",\"empirical_policy\":");
  AppendText(out, store, t.empirical_policy, row, now);
  out->append(",\"tags\":");
  AppendTags(out, store, row);
  out->append(",\"labels\":");
  AppendText(out, store, t.labels, row, now);
  out->append(",\"state_id\":");
  AppendOptionalUuid(out, t.state_id[row]);
  out->append(",\"task_inputs\":");
  out->append(t.task_inputs_json.Get(row));
  out->append(",\"state_type\":");
  if (t.state_type[row] == kNullStateType) {
    out->append("null");
  } else {
    out->push_back('"');
    out->append(StateTypeName(static_cast<StateType>(t.state_type[row])));
    out->push_back('"');
  }
  out->append(",\"state_name\":");
  if (t.state_name[row] == kNullCode) {
    out->append("null");
  } else {
    AppendJsonString(out, store.state_names.Get(t.state_name[row]));
  }
  out->append(",\"run_count\":");
  AppendInt64(out, t.run_count[row]);
  out->append(",\"flow_run_run_count\":");
  AppendInt64(out, t.flow_run_run_count[row]);
  out->append(",\"expected_start_time\":");
  AppendTimestamp(out, t.expected_start_time[row]);
  out->append(",\"next_scheduled_start_time\":");
  AppendTimestamp(out, t.next_scheduled_start_time[row]);
  out->append(",\"start_time\":");
  AppendTimestamp(out, t.start_time[row]);
  out->append(",\"end_time\":");
  AppendTimestamp(out, t.end_time[row]);
  out->append(",\"total_run_time\":");
  AppendPydanticDurationSeconds(out, t.total_run_time_us[row]);
  out->append(",\"estimated_run_time\":");
  AppendPydanticDurationSeconds(out, EstimatedRunTimeMicros(store, row, now));
  out->append(",\"estimated_start_time_delta\":");
  AppendPydanticDurationSeconds(out, EstimatedStartTimeDeltaMicros(store, row, now));
  out->append(",\"state\":");
  AppendText(out, store, t.state, row, now);
  out->append(t.extras_json.Get(row));
  out->push_back('}');
}

void AppendTaskRunFullArray(const Store& store, std::span<const RowId> rows, Micros now,
                            std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendTaskRunFull(store, rows[i], now, out);
  }
  out->push_back(']');
}

uint64_t PageCount(uint64_t count, int64_t limit) {
  if (limit <= 0) return 0;
  uint64_t l = static_cast<uint64_t>(limit);
  return count / l + (count % l != 0 ? 1 : 0);
}

void AppendPaginateResponse(const Store& store, std::span<const RowId> rows, uint64_t count,
                            int64_t limit, std::string_view page_text, Micros now,
                            std::string* out) {
  // One reservation for the whole page: the spliced JSON blobs plus a
  // generous bound for the fixed keys and formatted scalars of a row, so a
  // 200-row page never regrows the buffer.
  const TaskRunTable& t = store.task_runs;
  size_t need = 128;
  for (RowId row : rows) {
    need += 1024 + 4 * 38 + t.state.LiteralBytes(row) + t.parameters_json.Get(row).size() +
            t.task_inputs_json.Get(row).size() + t.context_json.Get(row).size() +
            t.empirical_policy.LiteralBytes(row) + t.task_version.LiteralBytes(row) +
            store.task_run_names.Get(t.name[row]).size() +
            store.task_keys.Get(t.task_key[row]).size() + 16 * t.tags.Of(row).size();
  }
  out->reserve(out->size() + need);
  out->append("{\"results\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendTaskRunResponse(store, rows[i], now, out);
  }
  out->append("],\"count\":");
  AppendUint64(out, count);
  out->append(",\"limit\":");
  AppendInt64(out, limit);
  out->append(",\"pages\":");
  AppendUint64(out, PageCount(count, limit));
  out->append(",\"page\":");
  out->append(page_text);
  out->push_back('}');
}

}  // namespace taskdex
