// engine/internal/task_run_row.cc (engine/internal/task_run_row.h).
//
// Each reader below mirrors the line parser's reader of the same key
// (engine/snapshot_loader.cc, ParseTaskRun) on the text that DbRowToUpsert
// would have put in the line, and gives up (false) wherever that reader
// could fail or go a way this file does not know.

#include "engine/internal/task_run_row.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/datetime.h"
#include "engine/internal/db_dialects.h"
#include "engine/internal/json_util.h"
#include "engine/records.h"
#include "engine/uuid.h"

namespace taskdex::engine_internal {
namespace {

namespace ondemand = simdjson::ondemand;

// Text columns: the line's JSON string holds the same bytes once unescaped
// (AppendJsonString escapes reversibly), provided they are UTF-8, which the
// line parser checks.
bool ReadText(const std::optional<std::string_view>& v, std::string* out) {
  if (!v || !simdjson::validate_utf8(v->data(), v->size())) return false;
  out->assign(*v);
  return true;
}

bool ReadNullableText(const std::optional<std::string_view>& v, std::optional<std::string>* out) {
  if (!v) {
    out->reset();
    return true;
  }
  if (!simdjson::validate_utf8(v->data(), v->size())) return false;
  out->emplace(*v);
  return true;
}

bool ReadUuidText(const std::optional<std::string_view>& v, Uuid* out) {
  if (!v) return false;
  std::optional<Uuid> u = ParseUuid(*v);
  if (!u) return false;
  *out = *u;
  return true;
}

bool ReadNullableUuidText(const std::optional<std::string_view>& v, std::optional<Uuid>* out) {
  if (!v) {
    out->reset();
    return true;
  }
  *out = ParseUuid(*v);
  return out->has_value();
}

bool ReadTime(const std::optional<std::string_view>& v, std::optional<Micros>* out) {
  if (!v) {
    out->reset();
    return true;
  }
  DatetimeResult t = ParseDatetimeString(*v);
  if (!t.ok()) return false;
  *out = t.value;
  return true;
}

// A plain JSON integer that fits (the line parser's get_int64 case): no
// sign but '-', no leading zero, at most 18 digits.
bool ReadInt(const std::optional<std::string_view>& v, int64_t* out) {
  if (!v || v->empty() || v->size() > 19) return false;
  std::string_view digits = v->front() == '-' ? v->substr(1) : *v;
  if (digits.empty() || digits.size() > 18 || (digits[0] == '0' && digits.size() > 1)) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), *out);
  return ec == std::errc() && end == v->data() + v->size();
}

// ReadSeconds of the line parser: a JSON number, finite, at most 9e12,
// rounded to the microsecond. from_chars rounds correctly, as simdjson does.
bool ReadSeconds(const std::optional<std::string_view>& v, int64_t* micros) {
  if (!v || !IsJsonNumberLiteral(*v)) return false;
  double d = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
  if (ec != std::errc() || end != v->data() + v->size()) return false;
  if (!std::isfinite(d) || std::fabs(d) > 9.0e12) return false;
  *micros = std::llround(d * 1e6);
  return true;
}

// A JSON value parsed alone: `text` as the one element of an array, so that
// it must be exactly one value (nothing before or after), as it must to be
// read the same inside the line. The buffer is reused.
class AloneParser {
 public:
  template <typename Fn>
  bool Parse(std::string_view text, Fn fn) {
    buf_.clear();
    buf_.reserve(text.size() + 2 + simdjson::SIMDJSON_PADDING);
    buf_.push_back('[');
    buf_.append(text);
    buf_.push_back(']');
    const size_t n = buf_.size();
    buf_.append(simdjson::SIMDJSON_PADDING, ' ');
    ondemand::document doc;
    if (parser_.iterate(simdjson::padded_string_view(buf_.data(), n, buf_.size())).get(doc)) {
      return false;
    }
    ondemand::array arr;
    if (doc.get_array().get(arr)) return false;
    int count = 0;
    for (auto element : arr) {
      JsonValue item;
      if (std::move(element).get(item) || ++count > 1 || !fn(item)) return false;
    }
    const char* rest = nullptr;
    return count == 1 && doc.current_location().get(rest) != simdjson::SUCCESS;
  }

 private:
  ondemand::parser parser_;
  std::string buf_;
};

// The results of one JSON column by its text, for the texts that repeat.
// The last text found is compared first: rows come in insertion order, so
// neighbours often share a policy or a flow run's labels, and a compare is
// cheaper than hashing a few hundred bytes. Bounded: cleared when full (a
// load with ever-new texts pays a lookup and an insert per row, not memory).
template <typename V>
class Memo {
 public:
  static constexpr size_t kMaxEntries = 4096;
  static constexpr size_t kMaxKeyBytes = 1024;

  // Memo off: the texts do not repeat (e.g. task_inputs naming upstream
  // runs), so hashing and storing them costs more than it saves; decided
  // after kProbe misses, when fewer than a third of the lookups hit.
  static constexpr uint64_t kProbe = 1024;
  bool off() const { return off_; }

  const V* Find(std::string_view key) {
    if (last_ != nullptr && std::string_view(last_->first) == key) {
      ++hits_;
      return &last_->second;
    }
    auto it = map_.find(absl::string_view(key.data(), key.size()));
    if (it == map_.end()) return nullptr;
    ++hits_;
    last_ = &*it;
    return &it->second;
  }
  void Put(std::string_view key, const V& value) {
    if (++misses_ == kProbe && hits_ < 2 * misses_) {
      off_ = true;
      map_.clear();
      last_ = nullptr;
    }
    if (off_ || key.size() > kMaxKeyBytes) return;
    if (map_.size() >= kMaxEntries) map_.clear();
    // An insert may move every entry: `last_` is the new one.
    last_ = &*map_.emplace(std::string(key), value).first;
  }

 private:
  absl::flat_hash_map<std::string, V> map_;
  std::pair<const std::string, V>* last_ = nullptr;
  uint64_t hits_ = 0, misses_ = 0;
  bool off_ = false;
};

// ReadTags of the line parser, the case it reads without an error: a list
// of strings.
bool ReadTagList(JsonValue& v, std::vector<std::string>* out) {
  ondemand::array arr;
  if (v.get_array().get(arr)) return false;
  out->clear();
  for (auto element : arr) {
    JsonValue item;
    std::string_view s;
    if (std::move(element).get(item) || item.get_string().get(s)) return false;
    out->emplace_back(s);
  }
  return true;
}

}  // namespace

struct TaskRunRowReader::State {
  AloneParser alone;
  Memo<std::string> policies, inputs, labels;
  Memo<std::vector<std::string>> tags;
  std::string state_text;
  NormalizedState state;

  // `text` parsed alone by `parse` (JsonValue&, V*) -> bool into `out`,
  // through `memo` while the memo is on.
  template <typename V, typename Fn>
  bool Memoized(std::string_view text, Memo<V>& memo, Fn parse, V* out) {
    auto parse_alone = [&] {
      return alone.Parse(text, [&](JsonValue& item) { return parse(item, out); });
    };
    if (memo.off()) return parse_alone();
    if (const V* hit = memo.Find(text)) {
      *out = *hit;
      return true;
    }
    if (!parse_alone()) return false;
    memo.Put(text, *out);
    return true;
  }

  // A JSON column normalized by `fn` (a json_util.h normalizer). The line
  // holds null for NULL.
  template <typename Fn>
  bool Normalized(const std::optional<std::string_view>& v, Memo<std::string>& memo, Fn fn,
                  std::string* out) {
    return Memoized(v ? *v : std::string_view("null"), memo,
                    [&](JsonValue& item, std::string* o) { return fn(item, o).ok(); }, out);
  }

  bool Tags(const std::optional<std::string_view>& v, std::vector<std::string>* out) {
    if (!v) return false;  // null is not a list
    if (*v == "[]") {
      out->clear();
      return true;
    }
    return Memoized(*v, tags, ReadTagList, out);
  }

  // ReadVerbatimObject(null_as "null") of the line parser.
  static absl::Status Labels(JsonValue& v, std::string* out) {
    ondemand::json_type t;
    if (v.type().get(t)) return absl::InvalidArgumentError("labels");
    if (t == ondemand::json_type::null) {
      *out = "null";
      return absl::OkStatus();
    }
    if (t != ondemand::json_type::object) return absl::InvalidArgumentError("labels");
    out->clear();
    if (AppendMinifiedJson(v, out)) return absl::InvalidArgumentError("labels");
    return absl::OkStatus();
  }

  bool Read(DbRow row, TaskRunRecord* r) {
    if (row.size() != kTrColumnCount) return false;
    if (!ReadUuidText(row[kTrId], &r->id) || !ReadTime(row[kTrCreated], &r->created) ||
        !ReadTime(row[kTrUpdated], &r->updated) || !ReadText(row[kTrName], &r->name) ||
        !ReadNullableUuidText(row[kTrFlowRunId], &r->flow_run_id) ||
        !ReadText(row[kTrTaskKey], &r->task_key) ||
        !ReadText(row[kTrDynamicKey], &r->dynamic_key) ||
        !ReadNullableText(row[kTrCacheKey], &r->cache_key) ||
        !ReadTime(row[kTrCacheExpiration], &r->cache_expiration) ||
        !ReadNullableText(row[kTrTaskVersion], &r->task_version) ||
        !ReadNullableUuidText(row[kTrStateId], &r->state_id) ||
        !ReadNullableText(row[kTrStateName], &r->state_name) ||
        !ReadInt(row[kTrRunCount], &r->run_count) ||
        !ReadInt(row[kTrFlowRunRunCount], &r->flow_run_run_count) ||
        !ReadTime(row[kTrExpectedStartTime], &r->expected_start_time) ||
        !ReadTime(row[kTrNextScheduledStartTime], &r->next_scheduled_start_time) ||
        !ReadTime(row[kTrStartTime], &r->start_time) || !ReadTime(row[kTrEndTime], &r->end_time) ||
        !ReadSeconds(row[kTrTotalRunTime], &r->total_run_time_us)) {
      return false;
    }
    if (row[kTrStateType]) {
      r->state_type = ParseStateType(*row[kTrStateType]);
      if (!r->state_type) return false;
    }
    if (!Tags(row[kTrTags], &r->tags)) return false;
    if (!Normalized(row[kTrEmpiricalPolicy], policies,
                    [](JsonValue& v, std::string* out) {
                      return NormalizeEmpiricalPolicyValue(v, "empirical_policy", out);
                    },
                    &r->empirical_policy_json) ||
        !Normalized(row[kTrTaskInputs], inputs,
                    [](JsonValue& v, std::string* out) {
                      return NormalizeTaskInputsValue(v, "task_inputs", out);
                    },
                    &r->task_inputs_json) ||
        !Normalized(row[kTrLabels], labels, &State::Labels, &r->labels_json)) {
      return false;
    }
    // The state as the line holds it, normalized by the one normalizer.
    state_text.clear();
    AppendDbTaskRunState(row, &state_text);
    if (!alone.Parse(state_text, [&](JsonValue& item) {
          return NormalizeStateValue(item, "state", &state).ok();
        })) {
      return false;
    }
    r->state_json = std::move(state.json);
    r->state_scheduled_time_null_offset = state.scheduled_time_null_offset;
    // prefect-schema.md 2.1: the column, not state.timestamp (DbRowToUpsert).
    return ReadTime(row[kTrStateTimestamp], &r->state_timestamp);
  }
};

TaskRunRowReader::TaskRunRowReader() : state_(std::make_unique<State>()) {}
TaskRunRowReader::~TaskRunRowReader() = default;

std::optional<Change> TaskRunRowReader::TryRead(DbRow row) {
  TaskRunRecord r;
  if (!state_->Read(row, &r)) {
    ++fallback_rows_;
    return std::nullopt;
  }
  ++fast_rows_;
  Change change;
  change.op = ChangeOp::kUpsert;
  change.entity = EntityKind::kTaskRun;
  change.id = r.id;
  change.row = std::move(r);
  return change;
}

absl::StatusOr<Change> DbRowToUpsertFast(TaskRunRowReader& reader, EntityKind entity, DbRow row) {
  if (entity == EntityKind::kTaskRun) {
    if (std::optional<Change> change = reader.TryRead(row)) return *std::move(change);
  }
  return DbRowToUpsert(entity, row);
}

}  // namespace taskdex::engine_internal
