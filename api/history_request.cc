#include "api/history_request.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "api/response_writer.h"
#include "engine/datetime.h"
#include "engine/executor.h"
#include "engine/text_format.h"

namespace taskdex {
namespace {

constexpr std::string_view kRequired[] = {"history_start", "history_end",
                                          "history_interval_seconds"};

void AddError(ErrorList* errors, std::string_view key, std::string_view type,
              std::string_view msg, const JsonValue* input) {
  errors->push_back(ValidationError{std::string(type), {std::string(key)}, std::string(msg),
                                    input, std::string()});
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// pydantic's lax float: numbers, numeric strings, booleans.
std::optional<double> FloatField(const JsonValue& v, std::string_view key, ErrorList* errors) {
  switch (v.kind) {
    case JsonValue::Kind::kInt:
      return v.fits_int64 ? static_cast<double>(v.int_value) : std::strtod(v.text.c_str(), nullptr);
    case JsonValue::Kind::kFloat:
      return v.float_value;
    case JsonValue::Kind::kBool:
      return v.bool_value ? 1.0 : 0.0;
    case JsonValue::Kind::kString: {
      std::string_view s = v.text;
      while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
      while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
      std::string text(s);
      char* end = nullptr;
      double d = text.empty() ? 0 : std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size() &&
          text.find_first_of("xXpP") == std::string::npos) {
        return d;
      }
      AddError(errors, key, "float_parsing",
               "Input should be a valid number, unable to parse string as a number", &v);
      return std::nullopt;
    }
    default:
      AddError(errors, key, "float_type", "Input should be a valid number", &v);
      return std::nullopt;
  }
}

// The value of a required field, or null when it is absent or an explicit
// `null`: FastAPI gives None to a required field as missing
// (paginate.md section 2, "null means absent").
const JsonValue* Required(const JsonValue& body, std::string_view key) {
  const JsonValue* v = body.Find(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

}  // namespace

std::variant<HistoryRequest, ApiResponse> ValidateHistoryBody(const JsonValue* body,
                                                              ErrorList* errors) {
  HistoryRequest request;
  if (body == nullptr || !body->is_object()) {
    for (std::string_view key : kRequired) AddError(errors, key, "missing", "Field required", nullptr);
    if (body != nullptr && !body->is_null()) {
      for (std::string_view key : {"flows", "flow_runs", "task_runs", "deployments"}) {
        AddError(errors, key, "missing", "Field required", nullptr);
      }
    }
    return request;
  }
  std::optional<Micros> start, end;
  std::optional<double> interval;
  if (const JsonValue* v = Required(*body, "history_start")) {
    start = ValidateDatetimeField(*v, "history_start", errors);
  } else {
    AddError(errors, "history_start", "missing", "Field required", nullptr);
  }
  if (const JsonValue* v = Required(*body, "history_end")) {
    end = ValidateDatetimeField(*v, "history_end", errors);
  } else {
    AddError(errors, "history_end", "missing", "Field required", nullptr);
  }
  if (const JsonValue* v = Required(*body, "history_interval_seconds")) {
    interval = FloatField(*v, "history_interval_seconds", errors);
  } else {
    AddError(errors, "history_interval_seconds", "missing", "Field required", nullptr);
  }
  ValidateFilterSet(*body, &request.filters, errors);
  if (!errors->empty()) return request;
  // Prefect (src/prefect/server/api/task_runs.py, task_run_history) declares
  // `history_interval: float = Body(..., alias="history_interval_seconds")`
  // (pydantic's lax float: numbers, numeric strings incl. "inf"/"nan",
  // booleans), then `timedelta(seconds=history_interval)` and compares it
  // with `timedelta(seconds=1)`. timedelta rounds to whole microseconds
  // (half to even) before the comparison, so 0.9999996 passes; NaN
  // (ValueError) and a value beyond timedelta's range of +-999999999 days
  // (OverflowError) are unhandled exceptions: 500.
  const double x = *interval;
  constexpr double kMaxSeconds = 86400.0 * 1e9;               // days > 999999999
  constexpr double kMinSeconds = -86400.0 * 999999999.0;      // days < -999999999
  if (std::isnan(x) || x >= kMaxSeconds || x < kMinSeconds) {
    return ApiResponse{500, R"({"exception_message":"Internal Server Error"})"};
  }
  const double us = std::nearbyint(x * 1e6);
  if (us < 1e6) {
    return DetailResponse(422, "History interval must not be less than 1 second.");
  }
  request.start = *start;
  request.end = *end;
  request.interval_micros = us >= 9.0e18 ? int64_t{9000000000000000000} : static_cast<int64_t>(us);
  return request;
}

std::variant<HistoryRequest, ApiResponse> ParseHistoryBody(std::string_view body_bytes,
                                                           bool body_is_json) {
  ErrorList errors;
  if (body_bytes.empty() || !body_is_json) {
    (void)ValidateHistoryBody(nullptr, &errors);
    return ValidationErrorResponse(errors, JsonValue());
  }
  JsonParseResult parsed = ParseJsonBody(body_bytes);
  if (parsed.status != JsonParseResult::Status::kOk) return JsonErrorResponse(parsed);
  const JsonValue* value = parsed.value.is_null() ? nullptr : &parsed.value;
  auto result = ValidateHistoryBody(value, &errors);
  if (std::holds_alternative<ApiResponse>(result)) return result;
  if (!errors.empty()) return ValidationErrorResponse(errors, parsed.value);
  return result;
}

void AppendHistoryJson(const std::vector<HistoryInterval>& intervals, std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const HistoryInterval& iv : intervals) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"interval_start\":");
    out->push_back('"');
    AppendDatetime(out, iv.start);
    out->append("\",\"interval_end\":\"");
    AppendDatetime(out, iv.end);
    out->append("\",\"states\":[");
    bool first_state = true;
    for (const HistoryState& s : iv.states) {
      if (!first_state) out->push_back(',');
      first_state = false;
      out->append("{\"state_type\":");
      AppendJsonString(out, StateTypeName(s.state_type));
      out->append(",\"state_name\":");
      if (!s.state_name) {
        out->append("null");
      } else {
        AppendJsonString(out, *s.state_name);
      }
      out->append(",\"count_runs\":");
      out->append(std::to_string(s.count_runs));
      out->append(",\"sum_estimated_run_time\":");
      AppendDurationSeconds(out, s.sum_estimated_run_time_us);
      out->append(",\"sum_estimated_lateness\":");
      AppendDurationSeconds(out, s.sum_estimated_lateness_us);
      out->push_back('}');
    }
    out->append("]}");
  }
  out->push_back(']');
}

std::string HistoryResponseJson(const Version& version, const HistoryRequest& request,
                                Micros now) {
  const std::vector<Bitmap> rows = MatchTaskRuns(version, request.filters);
  std::vector<HistorySource> sources;
  for (size_t i = 0; i < version.segments.size(); ++i) {
    const Store* store = version.segments[i].store.get();
    sources.push_back(
        {store, &rows[i], [store, now](RowId r) { return EstimatedRunTimeMicros(*store, r, now); },
         [store, now](RowId r) { return EstimatedStartTimeDeltaMicros(*store, r, now); }});
  }
  std::vector<HistoryInterval> intervals =
      TaskRunHistory(sources, request.start, request.end, request.interval_micros);
  std::string out;
  AppendHistoryJson(intervals, &out);
  return out;
}

}  // namespace taskdex
