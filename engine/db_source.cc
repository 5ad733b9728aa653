// engine/db_source.cc: the columns read from Prefect's tables and a row's
// way to a record (engine/db_source.h).

#include "engine/db_source.h"

#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/internal/db_dialects.h"
#include "engine/snapshot_loader.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

using K = DbColumnKind;

// prefect-schema.md 2.1 and 2.2; the order is the line's (entities.md 2.1).
constexpr DbColumn kTaskRunColumns[] = {
    {"tr.id", K::kUuid, "id"},
    {"tr.updated", K::kTime, "updated"},
    {"tr.created", K::kTime, "created"},
    {"tr.name", K::kText, "name"},
    {"tr.flow_run_id", K::kUuid, "flow_run_id"},
    {"tr.task_key", K::kText, "task_key"},
    {"tr.dynamic_key", K::kText, "dynamic_key"},
    {"tr.cache_key", K::kText, "cache_key"},
    {"tr.cache_expiration", K::kTime, "cache_expiration"},
    {"tr.task_version", K::kText, "task_version"},
    {"tr.empirical_policy", K::kJson, "empirical_policy"},
    {"tr.tags", K::kJson, "tags"},
    {"tr.labels", K::kJson, "labels"},
    {"tr.state_id", K::kUuid, "state_id"},
    {"tr.task_inputs", K::kJson, "task_inputs"},
    {"tr.state_type", K::kText, "state_type"},
    {"tr.state_name", K::kText, "state_name"},
    {"tr.run_count", K::kInt, "run_count"},
    {"tr.flow_run_run_count", K::kInt, "flow_run_run_count"},
    {"tr.expected_start_time", K::kTime, "expected_start_time"},
    {"tr.next_scheduled_start_time", K::kTime, "next_scheduled_start_time"},
    {"tr.start_time", K::kTime, "start_time"},
    {"tr.end_time", K::kTime, "end_time"},
    {"tr.total_run_time", K::kSeconds, "total_run_time"},
    {"tr.state_timestamp", K::kTime, ""},  // kTrStateTimestamp
    {"s.id", K::kUuid, "state.id"},        // kTrSId
    {"s.type", K::kText, "state.type"},
    {"s.name", K::kText, "state.name"},
    {"s.timestamp", K::kTime, "state.timestamp"},
    {"s.message", K::kText, "state.message"},
    {"s.state_details", K::kJson, "state.state_details"},
    {"s.data", K::kJson, "state.data"},  // kTrSData
    {"a.data", K::kJson, ""},            // kTrArtifactData
};
using namespace engine_internal;  // NOLINT: the TaskRunColumn positions

// The positions of db_dialects.h name the columns of this table.
constexpr bool TaskRunColumnsAre(std::initializer_list<std::pair<size_t, std::string_view>> want) {
  for (const auto& [i, expr] : want) {
    if (std::string_view(kTaskRunColumns[i].expr) != expr) return false;
  }
  return true;
}
static_assert(std::size(kTaskRunColumns) == kTrColumnCount);
static_assert(TaskRunColumnsAre({{kTrId, "tr.id"}, {kTrUpdated, "tr.updated"},
    {kTrCreated, "tr.created"}, {kTrName, "tr.name"}, {kTrFlowRunId, "tr.flow_run_id"},
    {kTrTaskKey, "tr.task_key"}, {kTrDynamicKey, "tr.dynamic_key"},
    {kTrCacheKey, "tr.cache_key"}, {kTrCacheExpiration, "tr.cache_expiration"},
    {kTrTaskVersion, "tr.task_version"}, {kTrEmpiricalPolicy, "tr.empirical_policy"},
    {kTrTags, "tr.tags"}, {kTrLabels, "tr.labels"}, {kTrStateId, "tr.state_id"},
    {kTrTaskInputs, "tr.task_inputs"}, {kTrStateType, "tr.state_type"},
    {kTrStateName, "tr.state_name"}, {kTrRunCount, "tr.run_count"},
    {kTrFlowRunRunCount, "tr.flow_run_run_count"},
    {kTrExpectedStartTime, "tr.expected_start_time"},
    {kTrNextScheduledStartTime, "tr.next_scheduled_start_time"},
    {kTrStartTime, "tr.start_time"}, {kTrEndTime, "tr.end_time"},
    {kTrTotalRunTime, "tr.total_run_time"}, {kTrStateTimestamp, "tr.state_timestamp"},
    {kTrSId, "s.id"}, {kTrSType, "s.type"}, {kTrSName, "s.name"},
    {kTrSTimestamp, "s.timestamp"}, {kTrSMessage, "s.message"},
    {kTrSStateDetails, "s.state_details"}, {kTrSData, "s.data"},
    {kTrArtifactData, "a.data"}}));

// prefect-schema.md 2.3: the columns entities.md 2.2 reads.
constexpr DbColumn kFlowRunColumns[] = {
    {"fr.id", K::kUuid, "id"},
    {"fr.updated", K::kTime, "updated"},
    {"fr.flow_id", K::kUuid, "flow_id"},
    {"fr.name", K::kText, "name"},
    {"fr.deployment_id", K::kUuid, "deployment_id"},
    {"fr.work_queue_name", K::kText, "work_queue_name"},
    {"fr.flow_version", K::kText, "flow_version"},
    {"fr.idempotency_key", K::kText, "idempotency_key"},
    {"fr.tags", K::kJson, "tags"},
    {"fr.created_by", K::kJson, "created_by"},
    {"fr.state_type", K::kText, "state_type"},
    {"fr.state_name", K::kText, "state_name"},
    {"fr.expected_start_time", K::kTime, "expected_start_time"},
    {"fr.next_scheduled_start_time", K::kTime, "next_scheduled_start_time"},
    {"fr.start_time", K::kTime, "start_time"},
    {"fr.end_time", K::kTime, "end_time"},
    {"fr.parent_task_run_id", K::kUuid, "parent_task_run_id"},
};

constexpr DbColumn kFlowColumns[] = {
    {"f.id", K::kUuid, "id"},
    {"f.updated", K::kTime, "updated"},
    {"f.name", K::kText, "name"},
    {"f.tags", K::kJson, "tags"},
};

constexpr DbColumn kDeploymentColumns[] = {
    {"d.id", K::kUuid, "id"},
    {"d.updated", K::kTime, "updated"},
    {"d.name", K::kText, "name"},
    {"d.flow_id", K::kUuid, "flow_id"},
    {"d.paused", K::kBool, "paused"},
    {"d.tags", K::kJson, "tags"},
    {"d.work_queue_name", K::kText, "work_queue_name"},
};

void AppendValue(std::string* line, const DbColumn& column,
                 const std::optional<std::string_view>& value) {
  if (!value) {
    line->append("null");
    return;
  }
  switch (column.kind) {
    case K::kText:
    case K::kUuid:
    case K::kTime:
      AppendJsonString(line, *value);
      return;
    case K::kSeconds:
    case K::kBool:
    case K::kInt:
    case K::kJson:
      line->append(*value);
      return;
  }
}

void AppendKey(std::string* line, std::string_view key, bool* first) {
  if (!*first) line->push_back(',');
  *first = false;
  AppendJsonString(line, key);
  line->push_back(':');
}

// The snapshot line of a row: every column with a plain key, then the
// task run's `state` object from the "state." columns (null when the
// state row is missing: the LEFT JOIN found nothing).
std::string RowToLine(EntityKind entity, DbRow row) {
  std::span<const DbColumn> columns = DbColumns(entity);
  size_t bytes = 0;
  for (const auto& v : row) bytes += v ? v->size() : 0;
  std::string line;
  line.reserve(bytes + 32 * columns.size());  // keys, quotes, commas: one allocation
  line.push_back('{');
  bool first = true;
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string_view key = columns[i].key;
    if (key.empty() || key.starts_with("state.")) continue;
    AppendKey(&line, key, &first);
    AppendValue(&line, columns[i], row[i]);
  }
  if (entity == EntityKind::kTaskRun) {
    AppendKey(&line, "state", &first);
    AppendDbTaskRunState(row, &line);
  }
  line.push_back('}');
  return line;
}

}  // namespace

void engine_internal::AppendDbTaskRunState(DbRow row, std::string* line) {
  if (!row[kTrSId]) {
    line->append("null");
    return;
  }
  line->push_back('{');
  bool first_in_state = true;
  for (size_t i = kTrSId; i < std::size(kTaskRunColumns); ++i) {
    std::string_view key = kTaskRunColumns[i].key;
    if (!key.starts_with("state.")) continue;
    AppendKey(line, key.substr(6), &first_in_state);
    std::optional<std::string_view> value = row[i];
    // prefect-schema.md 2.2: data if truthy, else the artifact's.
    if (i == kTrSData && !(value && JsonTruthy(*value))) {
      value = row[kTrArtifactData];
    }
    AppendValue(line, kTaskRunColumns[i], value);
  }
  line->push_back('}');
}

std::span<const DbColumn> DbColumns(EntityKind entity) {
  switch (entity) {
    case EntityKind::kFlow:
      return kFlowColumns;
    case EntityKind::kDeployment:
      return kDeploymentColumns;
    case EntityKind::kFlowRun:
      return kFlowRunColumns;
    case EntityKind::kTaskRun:
      return kTaskRunColumns;
  }
  return {};
}

std::string_view DbFrom(EntityKind entity) {
  switch (entity) {
    case EntityKind::kFlow:
      return "flow f";
    case EntityKind::kDeployment:
      return "deployment d";
    case EntityKind::kFlowRun:
      return "flow_run fr";
    case EntityKind::kTaskRun:
      return "task_run tr LEFT JOIN task_run_state s ON s.id = tr.state_id "
             "LEFT JOIN artifact a ON a.id = s.result_artifact_id";
  }
  return {};
}

std::string_view DbAlias(EntityKind entity) {
  switch (entity) {
    case EntityKind::kFlow:
      return "f";
    case EntityKind::kDeployment:
      return "d";
    case EntityKind::kFlowRun:
      return "fr";
    case EntityKind::kTaskRun:
      return "tr";
  }
  return {};
}

std::string_view DbTable(EntityKind entity) { return EntityKindName(entity); }

bool JsonTruthy(std::string_view json) {
  size_t b = json.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return true;
  size_t e = json.find_last_not_of(" \t\r\n");
  std::string_view v = json.substr(b, e - b + 1);
  if (v == "null" || v == "false" || v == "\"\"") return false;
  if ((v.front() == '{' && v.back() == '}') || (v.front() == '[' && v.back() == ']')) {
    return v.substr(1, v.size() - 2).find_first_not_of(" \t\r\n") != std::string_view::npos;
  }
  if (v.front() == '-' || (v.front() >= '0' && v.front() <= '9')) {
    std::string number(v);
    char* end = nullptr;
    double d = std::strtod(number.c_str(), &end);
    return !(end == number.c_str() + number.size() && d == 0);
  }
  return true;
}

absl::StatusOr<Change> DbRowToUpsert(EntityKind entity, DbRow row) {
  std::string line = RowToLine(entity, row);
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(DbTable(entity)), " ", std::string(row[0].value_or("?")), ": ", s.message()));
  };
  Change change;
  change.op = ChangeOp::kUpsert;
  change.entity = entity;
  switch (entity) {
    case EntityKind::kFlow: {
      absl::StatusOr<FlowRecord> r = ParseFlowLine(line);
      if (!r.ok()) return fail(r.status());
      change.id = r->id;
      change.row = *std::move(r);
      break;
    }
    case EntityKind::kDeployment: {
      absl::StatusOr<DeploymentRecord> r = ParseDeploymentLine(line);
      if (!r.ok()) return fail(r.status());
      change.id = r->id;
      change.row = *std::move(r);
      break;
    }
    case EntityKind::kFlowRun: {
      absl::StatusOr<FlowRunRecord> r = ParseFlowRunLine(line);
      if (!r.ok()) return fail(r.status());
      change.id = r->id;
      change.row = *std::move(r);
      break;
    }
    case EntityKind::kTaskRun: {
      absl::StatusOr<TaskRunRecord> r = ParseTaskRunLine(line);
      if (!r.ok()) return fail(r.status());
      // prefect-schema.md 2.1: a connector reads the column.
      r->state_timestamp.reset();
      if (const auto& ts = row[kTrStateTimestamp]) {
        DatetimeResult t = ParseDatetimeString(*ts);
        if (!t.ok()) return fail(absl::InvalidArgumentError("state_timestamp: " + t.reason));
        r->state_timestamp = t.value;
      }
      change.id = r->id;
      change.row = *std::move(r);
      break;
    }
  }
  return change;
}

absl::Status DbSource::ReadKeys(EntityKind entity, std::optional<Micros> since,
                                const std::function<absl::Status(const Uuid&, Micros)>& on_key) {
  return Read(entity, since, {}, [&](DbRow row) -> absl::Status {
    std::optional<Uuid> id = row[0] ? ParseUuid(*row[0]) : std::nullopt;
    DatetimeResult t = row[1] ? ParseDatetimeString(*row[1]) : DatetimeResult{};
    if (!id || !row[1] || !t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(DbTable(entity)),
                                                     ": unreadable id or updated"));
    }
    return on_key(*id, t.value);
  });
}

absl::Status DbSource::OpenChangeStream(const std::string&) {
  return absl::UnimplementedError(
      absl::StrCat("logical decoding needs PostgreSQL; ", std::string(dialect()), " is polled"));
}
absl::StatusOr<std::string> DbSource::ReadChangeStream(
    size_t, int, const std::function<void(EntityKind, ChangeOp, const Uuid&)>&) {
  return absl::UnimplementedError("no change stream");
}
absl::Status DbSource::ConfirmChangeStream(const std::string&) {
  return absl::UnimplementedError("no change stream");
}
std::string DbSource::ChangeStreamNote() const { return ""; }
absl::Status DbSource::DropChangeStream() { return absl::UnimplementedError("no change stream"); }

absl::StatusOr<std::unique_ptr<DbSource>> OpenDbSource(const std::string& given) {
  // Prefect's own connection URLs name a driver ("postgresql+asyncpg://",
  // "sqlite+aiosqlite:///"): the driver is dropped.
  std::string url = given;
  size_t plus = url.find('+');
  size_t scheme_end = url.find("://");
  if (plus != std::string::npos && scheme_end != std::string::npos && plus < scheme_end) {
    url.erase(plus, scheme_end - plus);
  }
  if (std::string_view(url).starts_with("postgresql://") || std::string_view(url).starts_with("postgres://")) {
    return engine_internal::OpenPgSource(url);
  }
  if (std::string_view(url).starts_with("sqlite://")) return engine_internal::OpenSqliteSource(url);
  return absl::InvalidArgumentError(
      absl::StrCat("--source: unknown database URL \"", url,
                   "\"; expected postgresql://USER@HOST:PORT/DB or sqlite:///path/to/prefect.db"));
}

namespace engine_internal {

std::string IdListWhere(EntityKind entity, std::span<const Uuid> ids) {
  std::string sql = " WHERE " + std::string(DbAlias(entity)) + ".id IN (";
  for (size_t i = 0; i < ids.size(); ++i) {
    sql += i > 0 ? ",'" : "'";
    sql += UuidToString(ids[i]);
    sql += "'";
  }
  sql += ")";
  return sql;
}

bool DbTimeToIso(std::string_view text, std::string* out) {
  // "YYYY-MM-DD HH:MM:SS" at least, then an optional fraction and offset.
  if (text.size() < 19 || (text[10] != ' ' && text[10] != 'T') || text[4] != '-') return false;
  size_t end = 19;
  if (end < text.size() && text[end] == '.') {
    ++end;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  }
  std::string_view offset = text.substr(end);
  out->assign(text.substr(0, end));
  (*out)[10] = 'T';
  if (offset.empty() || offset == "Z" || offset == "+00" || offset == "+00:00") {
    out->push_back('Z');
  } else if (offset.size() == 3 && (offset[0] == '+' || offset[0] == '-')) {
    out->append(offset).append(":00");  // PostgreSQL's "+02"
  } else {
    out->append(offset);
  }
  return true;
}

}  // namespace engine_internal
}  // namespace taskdex
