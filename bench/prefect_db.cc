// bench/prefect_db.cc: PrefectDb (prefect_db.h) over libpq and SQLite.

#include "bench/prefect_db.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "engine/datetime.h"
#include "engine/db_source.h"
#include "engine/uuid.h"
#include "rapidjson/document.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace taskdex {

using Param = PrefectDb::Param;

namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

Param Null() { return Param{}; }
Param Text(std::string s) {
  Param p;
  p.kind = Param::Kind::kText;
  p.text = std::move(s);
  return p;
}
Param Int(int64_t v) {
  Param p;
  p.kind = Param::Kind::kInt;
  p.i = v;
  return p;
}
Param OptText(const std::optional<std::string>& s) { return s ? Text(*s) : Null(); }
Param UuidParam(const Uuid& u) { return Text(UuidToString(u)); }
Param OptUuid(const std::optional<Uuid>& u) { return u ? UuidParam(*u) : Null(); }
Param OptState(const std::optional<StateType>& t) {
  return t ? Text(std::string(StateTypeName(*t))) : Null();
}

Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Uuid RandomUuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Uuid u;
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 8; ++i) u.bytes[half * 8 + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x40);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
  return u;
}

// ---- Python json.dumps ----------------------------------------------------

// Appends `s` (UTF-8) as json.dumps writes a string with ensure_ascii=True.
void AppendPythonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto u4 = [&](uint32_t cp) {
    out->append("\\u");
    for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(cp >> shift) & 0xF]);
  };
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        default:
          if (c < 0x20) {
            u4(c);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Multi-byte sequence (validated by the parser or the caller's data).
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u4(0xD800 + (cp >> 10));
      u4(0xDC00 + (cp & 0x3FF));
    } else {
      u4(cp);
    }
  }
  out->push_back('"');
}

// RapidJSON SAX handler writing Python's json.dumps layout.
class PythonJsonWriter {
 public:
  explicit PythonJsonWriter(std::string* out) : out_(out) {}
  bool Null() { return Raw("null"); }
  bool Bool(bool b) { return Raw(b ? "true" : "false"); }
  bool Int(int v) { return Raw(std::to_string(v)); }
  bool Uint(unsigned v) { return Raw(std::to_string(v)); }
  bool Int64(int64_t v) { return Raw(std::to_string(v)); }
  bool Uint64(uint64_t v) { return Raw(std::to_string(v)); }
  bool Double(double v) { return Raw(absl::StrFormat("%.17g", v)); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return Raw(std::string_view(s, n)); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    BeginValue();
    AppendPythonString(out_, std::string_view(s, n));
    return true;
  }
  bool StartObject() { return Open('{'); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    BeginValue();
    AppendPythonString(out_, std::string_view(s, n));
    out_->append(": ");
    after_key_ = true;
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return Close('}'); }
  bool StartArray() { return Open('['); }
  bool EndArray(rapidjson::SizeType) { return Close(']'); }

 private:
  void BeginValue() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_.empty()) {
      if (!first_.back()) out_->append(", ");
      first_.back() = false;
    }
  }
  bool Raw(std::string_view text) {
    BeginValue();
    out_->append(text);
    return true;
  }
  bool Open(char c) {
    BeginValue();
    out_->push_back(c);
    first_.push_back(true);
    return true;
  }
  bool Close(char c) {
    first_.pop_back();
    out_->push_back(c);
    return true;
  }

  std::string* out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

std::string PythonTags(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ", ";
    AppendPythonString(&out, tags[i]);
  }
  out += "]";
  return out;
}

// Minified text of a DOM value (for state sub-documents).
std::string Minified(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// ---- the state of a task run record ---------------------------------------

struct ParsedState {
  Uuid id;
  std::string type;
  std::string name;
  Micros timestamp = 0;
  std::optional<std::string> message;
  std::string state_details = "{}";  // Python JSON text
  std::optional<std::string> data;   // Python JSON text; nullopt for null
};

absl::StatusOr<ParsedState> ParseState(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.c_str(), json.size());
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("state_json: %s", why));
  };
  if (doc.HasParseError() || !doc.IsObject()) return bad("not a JSON object");
  auto str = [&](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
  };
  ParsedState s;
  const rapidjson::Value* v = str("id");
  std::optional<Uuid> id;
  if (v) id = ParseUuid(std::string_view(v->GetString(), v->GetStringLength()));
  if (!id) return bad("id: expected a UUID string");
  s.id = *id;
  v = str("type");
  if (!v || !ParseStateType(std::string_view(v->GetString(), v->GetStringLength()))) {
    return bad("type: expected a state type");
  }
  s.type.assign(v->GetString(), v->GetStringLength());
  v = str("name");
  s.name = v ? std::string(v->GetString(), v->GetStringLength())
             : std::string(StateTypeDefaultName(*ParseStateType(s.type)));
  v = str("timestamp");
  if (!v) return bad("timestamp: expected a datetime string");
  DatetimeResult ts = ParseDatetimeString(std::string_view(v->GetString(), v->GetStringLength()));
  if (!ts.ok()) return bad("timestamp: expected a datetime string");
  s.timestamp = ts.value;
  if ((v = str("message"))) s.message.emplace(v->GetString(), v->GetStringLength());
  auto details = doc.FindMember("state_details");
  if (details != doc.MemberEnd() && details->value.IsObject()) {
    absl::StatusOr<std::string> text = PythonJson(Minified(details->value));
    if (!text.ok()) return text.status();
    s.state_details = *std::move(text);
  }
  auto data = doc.FindMember("data");
  if (data != doc.MemberEnd() && !data->value.IsNull()) {
    absl::StatusOr<std::string> text = PythonJson(Minified(data->value));
    if (!text.ok()) return text.status();
    s.data = *std::move(text);
  }
  return s;
}

// ---- schema ---------------------------------------------------------------

// Written once for both databases; Placeholders() fills in the types.
constexpr const char* kTables = R"sql(
CREATE TABLE block_document ($BASE, name VARCHAR NOT NULL,
  CONSTRAINT pk_block_document PRIMARY KEY (id));
CREATE TABLE work_queue ($BASE, name VARCHAR NOT NULL,
  CONSTRAINT pk_work_queue PRIMARY KEY (id));
CREATE TABLE concurrency_limit_v2 ($BASE, name VARCHAR NOT NULL,
  CONSTRAINT pk_concurrency_limit_v2 PRIMARY KEY (id));
CREATE TABLE artifact ($BASE, key VARCHAR, task_run_id $UUID, flow_run_id $UUID, type VARCHAR,
  data $PJSON, description VARCHAR, metadata_ $PJSON,
  CONSTRAINT pk_artifact PRIMARY KEY (id));
CREATE TABLE flow ($BASE, name VARCHAR NOT NULL, tags $JSONB DEFAULT '[]' NOT NULL, labels $JSONB,
  CONSTRAINT pk_flow PRIMARY KEY (id),
  CONSTRAINT uq_flow__name UNIQUE (name));
CREATE TABLE deployment ($BASE, name VARCHAR NOT NULL, version VARCHAR, description TEXT,
  work_queue_name VARCHAR, infra_overrides $JSONB DEFAULT '{}' NOT NULL, path VARCHAR,
  entrypoint VARCHAR, last_polled $TS, status $DSTATUS DEFAULT 'NOT_READY' NOT NULL,
  flow_id $UUID NOT NULL, work_queue_id $UUID, paused BOOLEAN DEFAULT $FALSE NOT NULL,
  concurrency_limit INTEGER, concurrency_limit_id $UUID, concurrency_options $JSONB,
  tags $JSONB DEFAULT '[]' NOT NULL, labels $JSONB, parameters $JSONB DEFAULT '{}' NOT NULL,
  pull_steps $JSONB, parameter_openapi_schema $JSONB,
  enforce_parameter_schema BOOLEAN DEFAULT $FALSE NOT NULL, created_by $JSONB, updated_by $JSONB,
  infrastructure_document_id $UUID, storage_document_id $UUID,
  CONSTRAINT pk_deployment PRIMARY KEY (id),
  CONSTRAINT fk_deployment__flow_id__flow FOREIGN KEY (flow_id)
    REFERENCES flow (id) ON DELETE CASCADE,
  CONSTRAINT fk_deployment__work_queue_id__work_queue FOREIGN KEY (work_queue_id)
    REFERENCES work_queue (id) ON DELETE SET NULL,
  CONSTRAINT fk_deployment__concurrency_limit_id__concurrency_limit_v2
    FOREIGN KEY (concurrency_limit_id) REFERENCES concurrency_limit_v2 (id) ON DELETE SET NULL,
  CONSTRAINT fk_deployment__infrastructure_document_id__block_document
    FOREIGN KEY (infrastructure_document_id) REFERENCES block_document (id) ON DELETE CASCADE,
  CONSTRAINT fk_deployment__storage_document_id__block_document
    FOREIGN KEY (storage_document_id) REFERENCES block_document (id) ON DELETE CASCADE);
CREATE TABLE flow_run ($BASE, name VARCHAR NOT NULL, state_type $STATE, state_name VARCHAR,
  state_timestamp $TS, run_count INTEGER DEFAULT 0 NOT NULL, expected_start_time $TS,
  next_scheduled_start_time $TS, start_time $TS, end_time $TS,
  total_run_time $INTERVAL DEFAULT '0' NOT NULL, flow_id $UUID NOT NULL, deployment_id $UUID,
  work_queue_name VARCHAR, flow_version VARCHAR, deployment_version VARCHAR,
  parameters $JSONB DEFAULT '{}' NOT NULL, idempotency_key VARCHAR,
  context $JSONB DEFAULT '{}' NOT NULL, empirical_policy $JSONB DEFAULT '{}' NOT NULL,
  tags $JSONB DEFAULT '[]' NOT NULL, labels $JSONB, created_by $JSONB, infrastructure_pid VARCHAR,
  job_variables $JSONB DEFAULT '{}', infrastructure_document_id $UUID, parent_task_run_id $UUID,
  auto_scheduled BOOLEAN DEFAULT $FALSE NOT NULL, state_id $UUID, work_queue_id $UUID,
  CONSTRAINT pk_flow_run PRIMARY KEY (id),
  CONSTRAINT fk_flow_run__flow_id__flow FOREIGN KEY (flow_id)
    REFERENCES flow (id) ON DELETE CASCADE,
  CONSTRAINT fk_flow_run__infrastructure_document_id__block_document
    FOREIGN KEY (infrastructure_document_id) REFERENCES block_document (id) ON DELETE CASCADE,
  CONSTRAINT fk_flow_run__work_queue_id__work_queue FOREIGN KEY (work_queue_id)
    REFERENCES work_queue (id) ON DELETE SET NULL$INLINE_CYCLE_FKS);
CREATE TABLE task_run ($BASE, name VARCHAR NOT NULL, state_type $STATE, state_name VARCHAR,
  state_timestamp $TS, run_count INTEGER DEFAULT 0 NOT NULL, expected_start_time $TS,
  next_scheduled_start_time $TS, start_time $TS, end_time $TS,
  total_run_time $INTERVAL DEFAULT '0' NOT NULL, task_key VARCHAR NOT NULL,
  dynamic_key VARCHAR NOT NULL, cache_key VARCHAR, cache_expiration $TS, task_version VARCHAR,
  empirical_policy $JSONB DEFAULT '{}' NOT NULL, task_inputs $JSONB DEFAULT '{}' NOT NULL,
  tags $JSONB DEFAULT '[]' NOT NULL, labels $JSONB, flow_run_id $UUID,
  flow_run_run_count INTEGER DEFAULT 0 NOT NULL, state_id $UUID,
  CONSTRAINT pk_task_run PRIMARY KEY (id),
  CONSTRAINT fk_task_run__flow_run_id__flow_run FOREIGN KEY (flow_run_id)
    REFERENCES flow_run (id) ON DELETE CASCADE);
CREATE TABLE task_run_state ($BASE, type $STATE NOT NULL, timestamp $TS DEFAULT $NOW NOT NULL,
  name VARCHAR NOT NULL, message VARCHAR, state_details $JSONB DEFAULT '{}' NOT NULL,
  data $JSONB, task_run_id $UUID NOT NULL, result_artifact_id $UUID,
  CONSTRAINT pk_task_run_state PRIMARY KEY (id),
  CONSTRAINT fk_task_run_state__task_run_id__task_run FOREIGN KEY (task_run_id)
    REFERENCES task_run (id) ON DELETE CASCADE,
  CONSTRAINT fk_task_run_state__result_artifact_id__artifact FOREIGN KEY (result_artifact_id)
    REFERENCES artifact (id) ON DELETE SET NULL);
CREATE TABLE flow_run_state ($BASE, type $STATE NOT NULL, timestamp $TS DEFAULT $NOW NOT NULL,
  name VARCHAR NOT NULL, message VARCHAR, state_details $JSONB DEFAULT '{}' NOT NULL,
  data $JSONB, flow_run_id $UUID NOT NULL, result_artifact_id $UUID,
  CONSTRAINT pk_flow_run_state PRIMARY KEY (id),
  CONSTRAINT fk_flow_run_state__flow_run_id__flow_run FOREIGN KEY (flow_run_id)
    REFERENCES flow_run (id) ON DELETE CASCADE,
  CONSTRAINT fk_flow_run_state__result_artifact_id__artifact FOREIGN KEY (result_artifact_id)
    REFERENCES artifact (id) ON DELETE SET NULL);
)sql";

// SQLite declares the flow_run FKs whose tables come later inline (it
// resolves them at write time); PostgreSQL adds them once both exist.
constexpr const char* kInlineCycleFks = R"sql(,
  CONSTRAINT fk_flow_run__parent_task_run_id__task_run FOREIGN KEY (parent_task_run_id)
    REFERENCES task_run (id) ON DELETE SET NULL,
  CONSTRAINT fk_flow_run__state_id__flow_run_state FOREIGN KEY (state_id)
    REFERENCES flow_run_state (id) ON DELETE SET NULL)sql";
constexpr const char* kPgCycleFks = R"sql(
ALTER TABLE flow_run ADD CONSTRAINT fk_flow_run__parent_task_run_id__task_run
  FOREIGN KEY (parent_task_run_id) REFERENCES task_run (id) ON DELETE SET NULL;
ALTER TABLE flow_run ADD CONSTRAINT fk_flow_run__state_id__flow_run_state
  FOREIGN KEY (state_id) REFERENCES flow_run_state (id) ON DELETE SET NULL;
)sql";

// prefect-schema.md 2.1-2.5, every index (pk_* and uq_flow__name are the
// constraints above).
constexpr const char* kIndexes = R"sql(
CREATE INDEX ix_task_run__updated ON task_run (updated);
CREATE INDEX ix_task_run__name ON task_run (name);
CREATE INDEX ix_task_run__flow_run_id ON task_run (flow_run_id);
CREATE INDEX ix_task_run__state_id ON task_run (state_id);
CREATE UNIQUE INDEX uq_task_run__flow_run_id_task_key_dynamic_key
  ON task_run (flow_run_id, task_key, dynamic_key);
CREATE INDEX ix_task_run__expected_start_time_desc ON task_run (expected_start_time DESC);
CREATE INDEX ix_task_run__next_scheduled_start_time_asc ON task_run (next_scheduled_start_time);
CREATE INDEX ix_task_run__end_time_desc ON task_run (end_time DESC);
CREATE INDEX ix_task_run__start_time ON task_run (start_time);
CREATE INDEX ix_task_run__state_type ON task_run (state_type);
CREATE INDEX ix_task_run__state_type_start_time ON task_run (state_type, start_time);
CREATE INDEX ix_task_run__state_name ON task_run (state_name);
CREATE INDEX ix_task_run__state_timestamp ON task_run (state_timestamp);
CREATE INDEX ix_task_run_state__updated ON task_run_state (updated);
CREATE INDEX ix_task_run_state__type ON task_run_state (type);
CREATE INDEX ix_task_run_state__name ON task_run_state (name);
CREATE INDEX ix_task_run_state__result_artifact_id ON task_run_state (result_artifact_id);
CREATE UNIQUE INDEX uq_task_run_state__task_run_id_timestamp_desc
  ON task_run_state (task_run_id, timestamp DESC);
CREATE INDEX ix_flow_run__updated ON flow_run (updated);
CREATE INDEX ix_flow_run__name ON flow_run (name);
CREATE INDEX ix_flow_run__flow_id ON flow_run (flow_id);
CREATE INDEX ix_flow_run__deployment_id ON flow_run (deployment_id);
CREATE INDEX ix_flow_run__work_queue_name ON flow_run (work_queue_name);
CREATE INDEX ix_flow_run__flow_version ON flow_run (flow_version);
CREATE INDEX ix_flow_run__deployment_version ON flow_run (deployment_version);
CREATE INDEX ix_flow_run__infrastructure_document_id ON flow_run (infrastructure_document_id);
CREATE INDEX ix_flow_run__parent_task_run_id ON flow_run (parent_task_run_id);
CREATE INDEX ix_flow_run__state_id ON flow_run (state_id);
CREATE INDEX ix_flow_run__work_queue_id ON flow_run (work_queue_id);
CREATE UNIQUE INDEX uq_flow_run__flow_id_idempotency_key ON flow_run (flow_id, idempotency_key);
CREATE INDEX ix_flow_run__coalesce_start_time_expected_start_time_desc
  ON flow_run ((COALESCE(start_time, expected_start_time)) DESC);
CREATE INDEX ix_flow_run__coalesce_start_time_expected_start_time_asc
  ON flow_run ((COALESCE(start_time, expected_start_time)));
CREATE INDEX ix_flow_run__expected_start_time_desc ON flow_run (expected_start_time DESC);
CREATE INDEX ix_flow_run__next_scheduled_start_time_asc ON flow_run (next_scheduled_start_time);
CREATE INDEX ix_flow_run__end_time_desc ON flow_run (end_time DESC);
CREATE INDEX ix_flow_run__start_time ON flow_run (start_time);
CREATE INDEX ix_flow_run__state_type ON flow_run (state_type);
CREATE INDEX ix_flow_run__state_name ON flow_run (state_name);
CREATE INDEX ix_flow_run__state_timestamp ON flow_run (state_timestamp);
CREATE INDEX ix_flow_run__scheduler_deployment_id_auto_scheduled_next_schedu
  ON flow_run (deployment_id, auto_scheduled, next_scheduled_start_time)
  WHERE state_type = 'SCHEDULED';
CREATE INDEX ix_flow_run__schedule_id_scheduler
  ON flow_run (deployment_id, $CREATED_BY_ID, next_scheduled_start_time)
  WHERE state_type = 'SCHEDULED';
CREATE INDEX ix_flow__updated ON flow (updated);
CREATE INDEX ix_flow__created ON flow (created);
CREATE INDEX ix_deployment__updated ON deployment (updated);
CREATE UNIQUE INDEX uq_deployment__flow_id_name ON deployment (flow_id, name);
CREATE INDEX ix_deployment__created ON deployment (created);
CREATE INDEX ix_deployment__flow_id ON deployment (flow_id);
CREATE INDEX ix_deployment__work_queue_name ON deployment (work_queue_name);
CREATE INDEX ix_deployment__work_queue_id ON deployment (work_queue_id);
CREATE INDEX ix_deployment__paused ON deployment (paused);
CREATE INDEX ix_artifact__updated ON artifact (updated);
)sql";

constexpr const char* kPgPrelude = R"sql(
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TYPE state_type AS ENUM ('SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED',
  'CANCELLED', 'CRASHED', 'PAUSED', 'CANCELLING');
CREATE TYPE deployment_status AS ENUM ('READY', 'NOT_READY');
)sql";

constexpr const char* kPgTrigramIndexes = R"sql(
CREATE INDEX trgm_ix_task_run_name ON task_run USING gin (name gin_trgm_ops);
CREATE INDEX trgm_ix_flow_run_name ON flow_run USING gin (name gin_trgm_ops);
CREATE INDEX trgm_ix_flow_name ON flow USING gin (name gin_trgm_ops);
CREATE INDEX trgm_ix_deployment_name ON deployment USING gin (name gin_trgm_ops);
)sql";

// The SQLite server default of Prefect's UUID columns (GenerateUUID).
constexpr const char* kSqliteGenUuid =
    "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))),2) || '-' || substr('89ab',abs(random()) % 4 + 1, 1) || "
    "substr(lower(hex(randomblob(2))),2) || '-' || lower(hex(randomblob(6))))";
constexpr const char* kSqliteNow = "strftime('%Y-%m-%d %H:%M:%f000', 'now')";

std::string Placeholders(const std::string& sql, PrefectDbKind kind) {
  const bool pg = kind == PrefectDbKind::kPostgres;
  const std::string now = pg ? "now()" : absl::StrCat("(", kSqliteNow, ")");
  const std::string base = absl::StrCat(
      "id $UUID DEFAULT ", pg ? "gen_random_uuid()" : kSqliteGenUuid,
      " NOT NULL, created $TS DEFAULT ", now, " NOT NULL, updated $TS DEFAULT ", now, " NOT NULL");
  std::string out = absl::StrReplaceAll(sql, {{"$BASE", base}});
  return absl::StrReplaceAll(
      out, {{"$UUID", pg ? "uuid" : "CHAR(36)"},
            {"$TS", pg ? "timestamp with time zone" : "DATETIME"},
            {"$JSONB", pg ? "jsonb" : "JSON"},
            {"$PJSON", pg ? "json" : "JSON"},
            {"$STATE", pg ? "state_type" : "VARCHAR(9)"},
            {"$DSTATUS", pg ? "deployment_status" : "VARCHAR(9)"},
            {"$INTERVAL", pg ? "interval" : "DATETIME"},
            {"$NOW", now},
            {"$FALSE", pg ? "false" : "'0'"},
            {"$INLINE_CYCLE_FKS", pg ? "" : kInlineCycleFks},
            {"$CREATED_BY_ID", pg ? "(created_by ->> 'id')" : "json_extract(created_by, '$.id')"}});
}

// ---- rows -----------------------------------------------------------------

const std::vector<std::string>& FlowColumns() {
  static const auto* c = new std::vector<std::string>{"id", "created", "updated", "name", "tags"};
  return *c;
}
const std::vector<std::string>& DeploymentColumns() {
  static const auto* c =
      new std::vector<std::string>{"id",     "created",         "updated",
                                   "name",   "flow_id",         "paused",
                                   "tags",   "work_queue_name", "infra_overrides",
                                   "status", "parameters",      "enforce_parameter_schema"};
  return *c;
}
const std::vector<std::string>& FlowRunColumns() {
  static const auto* c = new std::vector<std::string>{"id",
                                                      "created",
                                                      "updated",
                                                      "name",
                                                      "flow_id",
                                                      "deployment_id",
                                                      "work_queue_name",
                                                      "flow_version",
                                                      "idempotency_key",
                                                      "tags",
                                                      "created_by",
                                                      "state_type",
                                                      "state_name",
                                                      "expected_start_time",
                                                      "next_scheduled_start_time",
                                                      "start_time",
                                                      "end_time",
                                                      "parent_task_run_id",
                                                      "parameters",
                                                      "context",
                                                      "empirical_policy",
                                                      "job_variables",
                                                      "total_run_time",
                                                      "run_count",
                                                      "auto_scheduled"};
  return *c;
}
const std::vector<std::string>& TaskRunColumns() {
  static const auto* c = new std::vector<std::string>{"id",
                                                      "created",
                                                      "updated",
                                                      "name",
                                                      "flow_run_id",
                                                      "task_key",
                                                      "dynamic_key",
                                                      "cache_key",
                                                      "cache_expiration",
                                                      "task_version",
                                                      "empirical_policy",
                                                      "tags",
                                                      "labels",
                                                      "state_id",
                                                      "task_inputs",
                                                      "state_type",
                                                      "state_name",
                                                      "run_count",
                                                      "flow_run_run_count",
                                                      "expected_start_time",
                                                      "next_scheduled_start_time",
                                                      "start_time",
                                                      "end_time",
                                                      "total_run_time",
                                                      "state_timestamp"};
  return *c;
}
const std::vector<std::string>& TaskRunStateColumns() {
  static const auto* c =
      new std::vector<std::string>{"id",        "created", "updated", "task_run_id",   "type",
                                   "timestamp", "name",    "message", "state_details", "data"};
  return *c;
}

std::string InsertSql(const char* table, const std::vector<std::string>& columns) {
  std::string sql = absl::StrCat("INSERT INTO ", table, " (");
  std::string values;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) {
      sql += ", ";
      values += ", ";
    }
    sql += columns[i];
    values += "?";
  }
  return absl::StrCat(sql, ") VALUES (", values, ")");
}

absl::StatusOr<Param> JsonParam(std::string_view json, std::string_view fallback = "{}") {
  absl::StatusOr<std::string> text = PythonJson(json.empty() ? fallback : json);
  if (!text.ok()) return text.status();
  return Text(*std::move(text));
}

std::string CreatedByJson(const FlowRunRecord& r) {
  std::string out = "{\"id\": ";
  if (r.created_by_id) {
    AppendPythonString(&out, *r.created_by_id);
  } else {
    out += "null";
  }
  out += ", \"type\": ";
  if (r.created_by_type) {
    AppendPythonString(&out, *r.created_by_type);
  } else {
    out += "null";
  }
  out += ", \"display_value\": null}";
  return out;
}

}  // namespace

// ---- formatting -----------------------------------------------------------

std::string SqliteDatetime(Micros t) {
  int64_t days = t / kMicrosPerDay;
  int64_t rem = t % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil inverse).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const int64_t secs = rem / 1'000'000;
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d", y, m, d, secs / 3600, secs / 60 % 60,
                         secs % 60, rem % 1'000'000);
}

absl::StatusOr<std::string> PythonJson(std::string_view json) {
  std::string input(json);  // RapidJSON's string stream wants a terminator
  std::string out;
  out.reserve(json.size() + json.size() / 4);
  PythonJsonWriter writer(&out);
  rapidjson::Reader reader;
  rapidjson::StringStream stream(input.c_str());
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseValidateEncodingFlag;
  if (input.find('\0') != std::string::npos || !reader.Parse<kFlags>(stream, writer)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("not one JSON value: %s", std::string(json.substr(0, 80))));
  }
  return out;
}

// ---- MakeRepresentable ----------------------------------------------------

SnapshotRecords MakeRepresentable(SnapshotRecords in) {
  // Makes `*value` unique among keys `prefix + value` by appending " #<n>".
  auto unique = [](absl::flat_hash_set<std::string>& used, const std::string& prefix,
                   std::string* value) {
    if (used.insert(prefix + *value).second) return;
    for (int n = 2;; ++n) {
      std::string candidate = absl::StrCat(*value, " #", n);
      if (used.insert(prefix + candidate).second) {
        *value = std::move(candidate);
        return;
      }
    }
  };
  SnapshotRecords out;
  absl::flat_hash_set<Uuid> flows;
  absl::flat_hash_set<std::string> used;
  for (FlowRecord& f : in.flows) {
    unique(used, "", &f.name);
    flows.insert(f.id);
    out.flows.push_back(std::move(f));
  }
  used.clear();
  for (DeploymentRecord& d : in.deployments) {
    if (!flows.contains(d.flow_id)) continue;
    unique(used, UuidToString(d.flow_id) + "/", &d.name);
    out.deployments.push_back(std::move(d));
  }
  used.clear();
  absl::flat_hash_set<Uuid> flow_runs;
  for (FlowRunRecord& r : in.flow_runs) {
    if (!flows.contains(r.flow_id)) continue;
    if (r.idempotency_key) unique(used, UuidToString(r.flow_id) + "/", &*r.idempotency_key);
    flow_runs.insert(r.id);
    out.flow_runs.push_back(std::move(r));
  }
  used.clear();
  absl::flat_hash_set<Uuid> task_runs;
  for (TaskRunRecord& t : in.task_runs) {
    if (t.flow_run_id && !flow_runs.contains(*t.flow_run_id)) continue;
    if (t.flow_run_id) {
      unique(
          used,
          absl::StrCat(UuidToString(*t.flow_run_id), "/", t.task_key.size(), ":", t.task_key, "/"),
          &t.dynamic_key);
    }
    task_runs.insert(t.id);
    out.task_runs.push_back(std::move(t));
  }
  for (FlowRunRecord& r : out.flow_runs) {
    if (r.parent_task_run_id && !task_runs.contains(*r.parent_task_run_id)) {
      r.parent_task_run_id.reset();
    }
  }
  return out;
}

// ---- backends -------------------------------------------------------------

// One connection. Statements use `?` placeholders; PostgreSQL's backend
// renumbers them ($1, $2, ...). A `?` must not appear inside a literal.
class PrefectDb::Backend {
 public:
  using Rows = std::vector<std::vector<std::optional<std::string>>>;
  virtual ~Backend() = default;
  virtual absl::Status Exec(const std::string& sql) = 0;
  virtual absl::Status Run(const std::string& sql, const std::vector<Param>& params,
                           int64_t* changed) = 0;
  virtual absl::StatusOr<Rows> Query(const std::string& sql, const std::vector<Param>& params) = 0;
  // Bulk insert of many rows into one table.
  virtual absl::Status BulkBegin(const char* table, const std::vector<std::string>& columns) = 0;
  virtual absl::Status BulkRow(const std::vector<Param>& row) = 0;
  virtual absl::Status BulkEnd() = 0;
};

class PrefectDb::PgBackend : public PrefectDb::Backend {
 public:
  explicit PgBackend(PGconn* conn) : conn_(conn) {}
  ~PgBackend() override { PQfinish(conn_); }

  static absl::StatusOr<std::unique_ptr<Backend>> Connect(const std::string& conninfo) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (conn == nullptr) return absl::ResourceExhaustedError("PQconnectdb: out of memory");
    auto backend = std::make_unique<PgBackend>(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("postgres: connecting: ", Trim(PQerrorMessage(conn))));
    }
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);  // library code never prints
    if (PQsetClientEncoding(conn, "UTF8") != 0) {
      return absl::InternalError(
          absl::StrCat("postgres: client_encoding: ", Trim(PQerrorMessage(conn))));
    }
    return std::unique_ptr<Backend>(std::move(backend));
  }

  absl::Status Exec(const std::string& sql) override {
    return Check(PQexec(conn_, sql.c_str()), sql);
  }

  absl::Status Run(const std::string& sql, const std::vector<Param>& params,
                   int64_t* changed) override {
    PGresult* result = ExecParams(sql, params);
    if (changed != nullptr && result != nullptr) *changed = std::atoll(PQcmdTuples(result));
    return Check(result, sql);
  }

  absl::StatusOr<Rows> Query(const std::string& sql, const std::vector<Param>& params) override {
    PGresult* result = ExecParams(sql, params);
    Rows rows;
    if (result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK) {
      for (int r = 0; r < PQntuples(result); ++r) {
        auto& row = rows.emplace_back();
        for (int c = 0; c < PQnfields(result); ++c) {
          if (PQgetisnull(result, r, c)) {
            row.emplace_back();
          } else {
            row.emplace_back(std::string(PQgetvalue(result, r, c), PQgetlength(result, r, c)));
          }
        }
      }
    }
    absl::Status status = Check(result, sql);
    if (!status.ok()) return status;
    return rows;
  }

  absl::Status BulkBegin(const char* table, const std::vector<std::string>& columns) override {
    std::string sql = absl::StrCat("COPY ", table, " (");
    for (size_t i = 0; i < columns.size(); ++i) absl::StrAppend(&sql, i ? ", " : "", columns[i]);
    sql += ") FROM STDIN";
    PGresult* result = PQexec(conn_, sql.c_str());
    if (result != nullptr && PQresultStatus(result) == PGRES_COPY_IN) {
      PQclear(result);
      buffer_.clear();
      return absl::OkStatus();
    }
    absl::Status status = Check(result, sql);
    return status.ok() ? absl::InternalError("postgres: COPY did not start") : status;
  }

  absl::Status BulkRow(const std::vector<Param>& row) override {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) buffer_.push_back('\t');
      const Param& p = row[i];
      if (p.kind == Param::Kind::kNull) {
        buffer_.append("\\N");
      } else if (p.kind == Param::Kind::kInt) {
        absl::StrAppend(&buffer_, p.i);
      } else {
        for (char c : p.text) {
          switch (c) {
            case '\\':
              buffer_.append("\\\\");
              break;
            case '\n':
              buffer_.append("\\n");
              break;
            case '\r':
              buffer_.append("\\r");
              break;
            case '\t':
              buffer_.append("\\t");
              break;
            default:
              buffer_.push_back(c);
          }
        }
      }
    }
    buffer_.push_back('\n');
    if (buffer_.size() >= (1 << 20)) return Flush();
    return absl::OkStatus();
  }

  absl::Status BulkEnd() override {
    absl::Status status = Flush();
    if (PQputCopyEnd(conn_, status.ok() ? nullptr : "aborted by client") != 1) {
      return absl::UnavailableError(
          absl::StrCat("postgres: COPY end: ", Trim(PQerrorMessage(conn_))));
    }
    PGresult* result;
    while ((result = PQgetResult(conn_)) != nullptr) {
      absl::Status s = Check(result, "COPY");
      if (status.ok()) status = s;
    }
    return status;
  }

 private:
  static std::string Trim(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  absl::Status Flush() {
    if (buffer_.empty()) return absl::OkStatus();
    if (PQputCopyData(conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return absl::UnavailableError(
          absl::StrCat("postgres: COPY data: ", Trim(PQerrorMessage(conn_))));
    }
    buffer_.clear();
    return absl::OkStatus();
  }

  PGresult* ExecParams(const std::string& sql, const std::vector<Param>& params) {
    std::string numbered;
    numbered.reserve(sql.size() + 16);
    int n = 0;
    for (char c : sql) {
      if (c == '?') {
        absl::StrAppend(&numbered, "$", ++n);
      } else {
        numbered.push_back(c);
      }
    }
    std::vector<std::string> ints;
    ints.reserve(params.size());
    std::vector<const char*> values;
    for (const Param& p : params) {
      if (p.kind == Param::Kind::kNull) {
        values.push_back(nullptr);
      } else if (p.kind == Param::Kind::kInt) {
        ints.push_back(std::to_string(p.i));
        values.push_back(ints.back().c_str());
      } else {
        values.push_back(p.text.c_str());
      }
    }
    return PQexecParams(conn_, numbered.c_str(), static_cast<int>(values.size()), nullptr,
                        values.data(), nullptr, nullptr, 0);
  }

  // Consumes `result`. Integrity violations (SQLSTATE class 23) are
  // FailedPrecondition, a lost connection Unavailable, the rest Internal.
  absl::Status Check(PGresult* result, const std::string& sql) {
    if (result == nullptr) {
      return absl::UnavailableError(absl::StrCat("postgres: ", Trim(PQerrorMessage(conn_))));
    }
    const ExecStatusType st = PQresultStatus(result);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
      PQclear(result);
      return absl::OkStatus();
    }
    const char* field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const std::string state = field ? field : "";  // `field` dies with `result`
    std::string message =
        absl::StrCat("postgres: ", state, " ", Trim(PQresultErrorMessage(result)), " [in: ",
                     sql.substr(0, 200), "]");
    PQclear(result);
    if (state.substr(0, 2) == "23") {
      return absl::FailedPreconditionError(message);
    }
    if (PQstatus(conn_) != CONNECTION_OK) return absl::UnavailableError(message);
    return absl::InternalError(message);
  }

  PGconn* conn_;
  std::string buffer_;  // COPY data not yet sent
};

class PrefectDb::SqliteBackend : public PrefectDb::Backend {
 public:
  explicit SqliteBackend(sqlite3* db) : db_(db) {}
  ~SqliteBackend() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  static absl::StatusOr<std::unique_ptr<Backend>> Open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    auto backend = std::make_unique<SqliteBackend>(db);
    if (rc != SQLITE_OK) {
      return absl::UnavailableError(
          absl::StrCat("sqlite: opening ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory"));
    }
    sqlite3_busy_timeout(db, 10'000);
    absl::Status status = backend->Exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
    if (!status.ok()) return status;
    return std::unique_ptr<Backend>(std::move(backend));
  }

  absl::Status Exec(const std::string& sql) override {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      return Error(rc, message, sql);
    }
    return absl::OkStatus();
  }

  absl::Status Run(const std::string& sql, const std::vector<Param>& params,
                   int64_t* changed) override {
    absl::StatusOr<Rows> rows = Step(sql, params, false);
    if (!rows.ok()) return rows.status();
    if (changed != nullptr) *changed = sqlite3_changes64(db_);
    return absl::OkStatus();
  }

  absl::StatusOr<Rows> Query(const std::string& sql, const std::vector<Param>& params) override {
    return Step(sql, params, true);
  }

  absl::Status BulkBegin(const char* table, const std::vector<std::string>& columns) override {
    bulk_sql_ = InsertSql(table, columns);
    return absl::OkStatus();
  }
  absl::Status BulkRow(const std::vector<Param>& row) override {
    return Run(bulk_sql_, row, nullptr);
  }
  absl::Status BulkEnd() override { return absl::OkStatus(); }

 private:
  absl::Status Error(int rc, const std::string& message, const std::string& sql) {
    std::string text = absl::StrCat("sqlite: ", message, " [in: ", sql.substr(0, 200), "]");
    switch (rc & 0xFF) {
      case SQLITE_CONSTRAINT:
        return absl::FailedPreconditionError(text);
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return absl::UnavailableError(text);
      default:
        return absl::InternalError(text);
    }
  }

  absl::StatusOr<Rows> Step(const std::string& sql, const std::vector<Param>& params,
                            bool collect) {
    sqlite3_stmt*& stmt = statements_[sql];
    if (stmt == nullptr && sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt,
                                              nullptr) != SQLITE_OK) {
      std::string message = sqlite3_errmsg(db_);
      const int rc = sqlite3_errcode(db_);
      statements_.erase(sql);
      return Error(rc, message, sql);
    }
    int i = 0;
    for (const Param& p : params) {
      ++i;
      if (p.kind == Param::Kind::kNull) {
        sqlite3_bind_null(stmt, i);
      } else if (p.kind == Param::Kind::kInt) {
        sqlite3_bind_int64(stmt, i, p.i);
      } else {
        sqlite3_bind_text(stmt, i, p.text.data(), static_cast<int>(p.text.size()), SQLITE_STATIC);
      }
    }
    Rows rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!collect) continue;
      auto& row = rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.emplace_back();
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
        }
      }
    }
    std::string message = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) return Error(rc, message, sql);
    return rows;
  }

  sqlite3* db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;  // prepared, by SQL text
  std::string bulk_sql_;
};

// ---- PrefectDb ------------------------------------------------------------

PrefectDb::PrefectDb(PrefectDbKind kind, std::unique_ptr<Backend> backend)
    : kind_(kind), backend_(std::move(backend)) {}
PrefectDb::~PrefectDb() = default;

absl::StatusOr<std::unique_ptr<PrefectDb>> PrefectDb::Open(const std::string& url) {
  const size_t colon = url.find("://");
  std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
  if (const size_t plus = scheme.find('+'); plus != std::string::npos) scheme.resize(plus);
  absl::StatusOr<std::unique_ptr<Backend>> backend;
  PrefectDbKind kind;
  if (scheme == "sqlite") {
    std::string path = url.substr(colon + 3);  // "sqlite:///abs" -> "/abs"
    if (path.empty() || path[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrFormat("url %s: want sqlite:///absolute/path.db", url));
    }
    kind = PrefectDbKind::kSqlite;
    backend = SqliteBackend::Open(path);
  } else if (scheme == "postgresql" || scheme == "postgres" ||
             (colon == std::string::npos && url.find('=') != std::string::npos)) {
    kind = PrefectDbKind::kPostgres;
    backend = PgBackend::Connect(
        colon == std::string::npos ? url : absl::StrCat(scheme, url.substr(colon)));
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("url %s: want postgresql://..., a libpq conninfo or sqlite:///path", url));
  }
  if (!backend.ok()) return backend.status();
  return std::unique_ptr<PrefectDb>(new PrefectDb(kind, *std::move(backend)));
}

absl::Status PrefectDb::CreateSchema() {
  const bool pg = kind_ == PrefectDbKind::kPostgres;
  std::string sql = pg ? kPgPrelude : "";
  absl::StrAppend(&sql, Placeholders(kTables, kind_), pg ? kPgCycleFks : "",
                  Placeholders(kIndexes, kind_), pg ? kPgTrigramIndexes : "");
  return InTransaction([&] { return backend_->Exec(sql); });
}

absl::Status PrefectDb::Exec(const std::string& sql) { return backend_->Exec(sql); }

absl::Status PrefectDb::Begin() {
  if (in_transaction_) return absl::FailedPreconditionError("Begin: a transaction is open");
  absl::Status s = backend_->Exec(kind_ == PrefectDbKind::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (s.ok()) in_transaction_ = true;
  return s;
}

absl::Status PrefectDb::Commit() {
  if (!in_transaction_) return absl::FailedPreconditionError("Commit: no open transaction");
  in_transaction_ = false;
  return backend_->Exec("COMMIT");
}

absl::Status PrefectDb::Rollback() {
  if (!in_transaction_) return absl::FailedPreconditionError("Rollback: no open transaction");
  in_transaction_ = false;
  return backend_->Exec("ROLLBACK");
}

absl::Status PrefectDb::InTransaction(const std::function<absl::Status()>& body) {
  if (in_transaction_) return body();
  absl::Status status = Begin();
  if (!status.ok()) return status;
  status = body();
  if (!status.ok()) {
    Rollback().IgnoreError();  // the first error is the one to report
    return status;
  }
  return Commit();
}

Param PrefectDb::Time(std::optional<Micros> t) const {
  if (!t) return Null();
  std::string text = SqliteDatetime(*t);
  if (kind_ == PrefectDbKind::kPostgres) text += "+00";
  return Text(std::move(text));
}

Param PrefectDb::Interval(int64_t us) const {
  if (kind_ == PrefectDbKind::kSqlite) return Text(SqliteDatetime(us));
  // [-]H:MM:SS.ffffff with unbounded hours: exact to the microsecond
  // (PostgreSQL reads a seconds count as a double).
  const uint64_t a = us < 0 ? 0 - static_cast<uint64_t>(us) : static_cast<uint64_t>(us);
  const uint64_t secs = a / 1'000'000;
  return Text(absl::StrFormat("%s%d:%02d:%02d.%06d", us < 0 ? "-" : "", secs / 3600, secs / 60 % 60,
                              secs % 60, a % 1'000'000));
}

std::string PrefectDb::NowSql() const {
  return kind_ == PrefectDbKind::kPostgres ? "now()" : kSqliteNow;
}

namespace {

// The rows of each table, as the column lists above. `db_time` and
// `db_interval` format values for the connection's database.
struct RowMaker {
  std::function<Param(std::optional<Micros>)> time;
  std::function<Param(int64_t)> interval;

  std::vector<Param> Flow(const FlowRecord& r, Micros at) const {
    return {UuidParam(r.id), time(at), time(at), Text(r.name), Text(PythonTags(r.tags))};
  }
  std::vector<Param> Deployment(const DeploymentRecord& r, Micros at) const {
    return {UuidParam(r.id),
            time(at),
            time(at),
            Text(r.name),
            UuidParam(r.flow_id),
            Int(r.paused ? 1 : 0),
            Text(PythonTags(r.tags)),
            OptText(r.work_queue_name),
            Text("{}"),
            Text("NOT_READY"),
            Text("{}"),
            Int(1)};
  }
  std::vector<Param> FlowRun(const FlowRunRecord& r, Micros at, bool with_parent) const {
    return {UuidParam(r.id),
            time(at),
            time(at),
            Text(r.name),
            UuidParam(r.flow_id),
            OptUuid(r.deployment_id),
            OptText(r.work_queue_name),
            OptText(r.flow_version),
            OptText(r.idempotency_key),
            Text(PythonTags(r.tags)),
            r.has_created_by ? Text(CreatedByJson(r)) : Null(),
            OptState(r.state_type),
            OptText(r.state_name),
            time(r.expected_start_time),
            time(r.next_scheduled_start_time),
            time(r.start_time),
            time(r.end_time),
            with_parent ? OptUuid(r.parent_task_run_id) : Null(),
            Text("{}"),
            Text("{}"),
            Text("{}"),
            Text("{}"),
            interval(0),
            Int(0),
            Int(0)};
  }
  absl::StatusOr<std::vector<Param>> TaskRun(const TaskRunRecord& r, const ParsedState* state,
                                             Micros created, Micros updated) const {
    absl::StatusOr<Param> policy = JsonParam(r.empirical_policy_json);
    if (!policy.ok()) return policy.status();
    absl::StatusOr<Param> labels = JsonParam(r.labels_json, "null");
    if (!labels.ok()) return labels.status();
    absl::StatusOr<Param> inputs = JsonParam(r.task_inputs_json);
    if (!inputs.ok()) return inputs.status();
    return std::vector<Param>{UuidParam(r.id),
                              time(created),
                              time(updated),
                              Text(r.name),
                              OptUuid(r.flow_run_id),
                              Text(r.task_key),
                              Text(r.dynamic_key),
                              OptText(r.cache_key),
                              time(r.cache_expiration),
                              OptText(r.task_version),
                              *std::move(policy),
                              Text(PythonTags(r.tags)),
                              *std::move(labels),
                              state ? UuidParam(state->id) : OptUuid(r.state_id),
                              *std::move(inputs),
                              OptState(r.state_type),
                              OptText(r.state_name),
                              Int(r.run_count),
                              Int(r.flow_run_run_count),
                              time(r.expected_start_time),
                              time(r.next_scheduled_start_time),
                              time(r.start_time),
                              time(r.end_time),
                              interval(r.total_run_time_us),
                              state ? time(state->timestamp) : time(r.state_timestamp)};
  }
  std::vector<Param> TaskRunState(const ParsedState& s, const Uuid& task_run, Micros at) const {
    return {UuidParam(s.id),       time(at),          time(at),     UuidParam(task_run),
            Text(s.type),          time(s.timestamp), Text(s.name), OptText(s.message),
            Text(s.state_details), OptText(s.data)};
  }
};

}  // namespace

absl::Status PrefectDb::InsertFlow(const FlowRecord& record, std::optional<Micros> at) {
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  return backend_->Run(InsertSql("flow", FlowColumns()),
                       rows.Flow(record, at.value_or(NowMicros())), nullptr);
}

absl::Status PrefectDb::InsertDeployment(const DeploymentRecord& record, std::optional<Micros> at) {
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  return backend_->Run(InsertSql("deployment", DeploymentColumns()),
                       rows.Deployment(record, at.value_or(NowMicros())), nullptr);
}

absl::Status PrefectDb::InsertFlowRun(const FlowRunRecord& record, std::optional<Micros> at) {
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  return backend_->Run(InsertSql("flow_run", FlowRunColumns()),
                       rows.FlowRun(record, at.value_or(NowMicros()), true), nullptr);
}

absl::Status PrefectDb::InsertTaskRun(const TaskRunRecord& record, std::optional<Micros> at) {
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  std::optional<ParsedState> state;
  if (record.state_json != "null") {
    absl::StatusOr<ParsedState> parsed = ParseState(record.state_json);
    if (!parsed.ok()) return parsed.status();
    state = *std::move(parsed);
  }
  const Micros now = at.value_or(NowMicros());
  const Micros created = record.created.value_or(now);
  const Micros updated = record.updated.value_or(now);
  absl::StatusOr<std::vector<Param>> row =
      rows.TaskRun(record, state ? &*state : nullptr, created, updated);
  if (!row.ok()) return row.status();
  return InTransaction([&]() -> absl::Status {
    absl::Status s = backend_->Run(InsertSql("task_run", TaskRunColumns()), *row, nullptr);
    if (!s.ok() || !state) return s;
    return backend_->Run(InsertSql("task_run_state", TaskRunStateColumns()),
                         rows.TaskRunState(*state, record.id, updated), nullptr);
  });
}

absl::StatusOr<Uuid> PrefectDb::SetTaskRunState(const Uuid& task_run, StateType type,
                                                const std::string& name, Micros ts) {
  ParsedState state;
  state.id = RandomUuid4();
  state.type = std::string(StateTypeName(type));
  state.name = name;
  state.timestamp = ts;
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  const bool running = type == StateType::kRunning;
  std::string update =
      "UPDATE task_run SET state_id = ?, state_type = ?, state_name = ?, "
      "state_timestamp = ?";
  std::vector<Param> params = {UuidParam(state.id), Text(state.type), Text(name), Time(ts)};
  if (running) {
    update += ", start_time = COALESCE(start_time, ?), run_count = run_count + 1";
    params.push_back(Time(ts));
  }
  if (IsTerminal(type)) {
    update += ", end_time = ?";
    params.push_back(Time(ts));
  }
  absl::StrAppend(&update, ", updated = ", NowSql(), " WHERE id = ?");
  params.push_back(UuidParam(task_run));
  absl::Status status = InTransaction([&]() -> absl::Status {
    absl::StatusOr<Backend::Rows> found =
        backend_->Query("SELECT flow_run_id FROM task_run WHERE id = ?", {UuidParam(task_run)});
    if (!found.ok()) return found.status();
    if (found->empty()) {
      return absl::NotFoundError(
          absl::StrFormat("SetTaskRunState: no task run %s", UuidToString(task_run)));
    }
    // StateDetails as Prefect's client sends it (the keys that matter).
    state.state_details = "{\"flow_run_id\": ";
    const std::optional<std::string>& flow_run = (*found)[0][0];
    if (flow_run) {
      AppendPythonString(&state.state_details, *flow_run);
    } else {
      state.state_details += "null";
    }
    state.state_details += ", \"task_run_id\": ";
    AppendPythonString(&state.state_details, UuidToString(task_run));
    if (type == StateType::kScheduled) {
      state.state_details += ", \"scheduled_time\": ";
      AppendPythonString(&state.state_details, FormatDatetime(ts));
    }
    state.state_details += "}";
    absl::Status s = backend_->Run(InsertSql("task_run_state", TaskRunStateColumns()),
                                   rows.TaskRunState(state, task_run, NowMicros()), nullptr);
    if (!s.ok()) return s;
    return backend_->Run(update, params, nullptr);
  });
  if (!status.ok()) return status;
  return state.id;
}

absl::Status PrefectDb::UpdateTaskRunName(const Uuid& id, const std::string& name) {
  int64_t changed = 0;
  absl::Status s = backend_->Run(
      absl::StrCat("UPDATE task_run SET name = ?, updated = ", NowSql(), " WHERE id = ?"),
      {Text(name), UuidParam(id)}, &changed);
  if (!s.ok()) return s;
  if (changed == 0) {
    return absl::NotFoundError(
        absl::StrFormat("UpdateTaskRunName: no task run %s", UuidToString(id)));
  }
  return absl::OkStatus();
}

absl::Status PrefectDb::Delete(EntityKind entity, const Uuid& id) {
  return backend_->Run(absl::StrCat("DELETE FROM ", std::string(DbTable(entity)), " WHERE id = ?"),
                       {UuidParam(id)}, nullptr);
}

absl::Status PrefectDb::InsertAll(const SnapshotRecords& records,
                                  std::function<void(uint64_t rows)> progress) {
  RowMaker rows{[this](auto t) { return Time(t); }, [this](int64_t us) { return Interval(us); }};
  uint64_t done = 0;
  auto tick = [&] {
    if (++done % 10'000 == 0 && progress) progress(done);
  };
  const Micros now = NowMicros();
  absl::Status status = InTransaction([&]() -> absl::Status {
    absl::Status s = backend_->BulkBegin("flow", FlowColumns());
    for (size_t i = 0; s.ok() && i < records.flows.size(); ++i, tick()) {
      s = backend_->BulkRow(rows.Flow(records.flows[i], now));
    }
    if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
    if (!s.ok()) return s;

    s = backend_->BulkBegin("deployment", DeploymentColumns());
    for (size_t i = 0; s.ok() && i < records.deployments.size(); ++i, tick()) {
      s = backend_->BulkRow(rows.Deployment(records.deployments[i], now));
    }
    if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
    if (!s.ok()) return s;

    s = backend_->BulkBegin("flow_run", FlowRunColumns());
    for (size_t i = 0; s.ok() && i < records.flow_runs.size(); ++i, tick()) {
      s = backend_->BulkRow(rows.FlowRun(records.flow_runs[i], now, false));
    }
    if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
    if (!s.ok()) return s;

    // Task runs, then their states (task_run_state.task_run_id needs the row).
    std::vector<std::pair<ParsedState, size_t>> states;
    s = backend_->BulkBegin("task_run", TaskRunColumns());
    for (size_t i = 0; s.ok() && i < records.task_runs.size(); ++i, tick()) {
      const TaskRunRecord& r = records.task_runs[i];
      const ParsedState* state = nullptr;
      if (r.state_json != "null") {
        absl::StatusOr<ParsedState> parsed = ParseState(r.state_json);
        if (!parsed.ok()) {
          s = parsed.status();
          break;
        }
        states.emplace_back(*std::move(parsed), i);
        state = &states.back().first;
      }
      absl::StatusOr<std::vector<Param>> row =
          rows.TaskRun(r, state, r.created.value_or(now), r.updated.value_or(now));
      s = row.ok() ? backend_->BulkRow(*row) : row.status();
    }
    if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
    if (!s.ok()) return s;

    s = backend_->BulkBegin("task_run_state", TaskRunStateColumns());
    for (size_t i = 0; s.ok() && i < states.size(); ++i, tick()) {
      const TaskRunRecord& r = records.task_runs[states[i].second];
      s = backend_->BulkRow(rows.TaskRunState(states[i].first, r.id, r.updated.value_or(now)));
    }
    if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
    if (!s.ok()) return s;

    // parent_task_run_id last: flow_run and task_run reference each other.
    // A plain UPDATE, as no SQLAlchemy onupdate runs: `updated` stays.
    if (kind_ == PrefectDbKind::kPostgres) {
      s = backend_->Exec("CREATE TEMP TABLE taskdex_parent (id uuid, parent uuid) ON COMMIT DROP");
      if (s.ok()) s = backend_->BulkBegin("taskdex_parent", {"id", "parent"});
      for (size_t i = 0; s.ok() && i < records.flow_runs.size(); ++i) {
        const FlowRunRecord& r = records.flow_runs[i];
        if (r.parent_task_run_id) {
          s = backend_->BulkRow({UuidParam(r.id), UuidParam(*r.parent_task_run_id)});
        }
      }
      if (absl::Status e = backend_->BulkEnd(); s.ok()) s = e;
      if (s.ok()) {
        s = backend_->Exec(
            "UPDATE flow_run f SET parent_task_run_id = p.parent FROM taskdex_parent p "
            "WHERE f.id = p.id; DROP TABLE taskdex_parent");
      }
      return s;
    }
    for (const FlowRunRecord& r : records.flow_runs) {
      if (!r.parent_task_run_id) continue;
      s = backend_->Run("UPDATE flow_run SET parent_task_run_id = ? WHERE id = ?",
                        {UuidParam(*r.parent_task_run_id), UuidParam(r.id)}, nullptr);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (status.ok() && progress) progress(done);
  return status;
}

}  // namespace taskdex
