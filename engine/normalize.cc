#include "engine/normalize.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/datetime.h"
#include "engine/internal/json_util.h"
#include "engine/text_format.h"
#include "engine/uuid.h"
#include "index/status_macros.h"

namespace taskdex {
namespace engine_internal {
namespace {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

absl::Status JsonError(std::string_view path, error_code code) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: not valid JSON (%s)", path, simdjson::error_message(code)));
}

absl::Status TypeError(std::string_view path, std::string_view want, JsonValue& v) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: expected %s, got %s", path, want, DescribeJsonValue(v)));
}

// An error path ("state.state_details.scheduled_time"), built for every key
// read but used only when that key is bad: kept inline, so the common case
// allocates nothing.
class PathText {
 public:
  std::string_view view() const { return heap_.empty() ? std::string_view(buf_, n_) : heap_; }
  operator std::string_view() const { return view(); }  // NOLINT: a path is text

  PathText& Append(std::string_view s) {
    if (heap_.empty() && n_ + s.size() <= sizeof(buf_)) {
      std::memcpy(buf_ + n_, s.data(), s.size());
      n_ += s.size();
      return *this;
    }
    if (heap_.empty()) heap_.assign(buf_, n_);
    heap_.append(s);
    return *this;
  }

 private:
  char buf_[112];
  size_t n_ = 0;
  std::string heap_;  // when longer than buf_
};

PathText Join(std::string_view path, std::string_view key) {
  PathText p;
  p.Append(path).Append(".").Append(key);
  return p;
}

// "path[index]".
PathText Index(std::string_view path, size_t index) {
  char digits[24];
  int n = std::snprintf(digits, sizeof(digits), "[%zu]", index);
  PathText p;
  p.Append(path).Append(std::string_view(digits, static_cast<size_t>(n)));
  return p;
}

// Appends the raw (still escaped) text of an object key with its quotes.
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

// A JSON number as Python's json module reads it: int (any size) or float.
struct JsonNumber {
  bool is_float = false;
  bool big_int = false;  // an integer outside int64; `text` holds it
  int64_t i = 0;
  double d = 0;
  std::string text;  // the literal
  bool IsZero() const { return is_float ? d == 0 : (!big_int && i == 0); }
  double AsDouble() const {
    return is_float ? d : (big_int ? std::strtod(text.c_str(), nullptr) : static_cast<double>(i));
  }
};

absl::Status ReadNumber(JsonValue& v, std::string_view path, std::string_view want,
                        JsonNumber* out) {
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  if (t != ondemand::json_type::number) return TypeError(path, want, v);
  std::string_view tok = TrimTrailingSpace(v.raw_json_token());
  if (!IsJsonNumberLiteral(tok)) return TypeError(path, want, v);
  out->text = std::string(tok);
  out->is_float = tok.find_first_of(".eE") != std::string_view::npos;
  if (out->is_float) {
    if (v.get_double().get(out->d) != simdjson::SUCCESS || !std::isfinite(out->d)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: number out of range: %s", path, tok));
    }
  } else if (v.get_int64().get(out->i) != simdjson::SUCCESS) {
    out->big_int = true;
  }
  return absl::OkStatus();
}

// Writes `n` as a Python int field does: an integral float becomes an int.
absl::Status AppendAsInt(const JsonNumber& n, std::string_view path, std::string* out) {
  if (!n.is_float) {
    if (n.big_int) {
      // Python ints have no size limit; drop a minus sign on zero only.
      out->append(n.text);
    } else {
      out->append(std::to_string(n.i));
    }
    return absl::OkStatus();
  }
  if (n.d != std::trunc(n.d) || !(n.d > -9223372036854775808.0 && n.d < 9223372036854775808.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: expected an integer, got %s", path, n.text));
  }
  out->append(std::to_string(static_cast<int64_t>(n.d)));
  return absl::OkStatus();
}

void AppendAsFloat(const JsonNumber& n, std::string* out) { AppendPythonFloat(out, n.AsDouble()); }

bool IsFalsyMinified(std::string_view j) {
  if (j == "null" || j == "false" || j == "\"\"" || j == "[]" || j == "{}") return true;
  if (j.empty() || !(j[0] == '-' || (j[0] >= '0' && j[0] <= '9'))) return false;
  for (char c : j) {
    if (c == 'e' || c == 'E') break;
    if (c >= '1' && c <= '9') return false;
  }
  return true;
}

absl::Status ReadString(JsonValue& v, std::string_view path, bool nullable,
                        std::optional<std::string_view>* out) {
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  if (t == ondemand::json_type::null && nullable) {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null); e) return JsonError(path, e);
    if (!is_null) return JsonError(path, simdjson::N_ATOM_ERROR);
    out->reset();
    return absl::OkStatus();
  }
  if (t != ondemand::json_type::string) {
    return TypeError(path, nullable ? "a string or null" : "a string", v);
  }
  std::string_view s;
  if (auto e = v.get_string().get(s); e) return JsonError(path, e);
  *out = s;
  return absl::OkStatus();
}

void AppendNullableString(const std::optional<std::string_view>& s, std::string* out) {
  if (s) {
    AppendJsonString(out, *s);
  } else {
    out->append("null");
  }
}

absl::Status ReadBool(JsonValue& v, std::string_view path, bool nullable, std::string* out) {
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  if (t == ondemand::json_type::null && nullable) {
    *out = "null";
    return absl::OkStatus();
  }
  if (t != ondemand::json_type::boolean) {
    return TypeError(path, nullable ? "a boolean or null" : "a boolean", v);
  }
  bool b = false;
  if (auto e = v.get_bool().get(b); e) return JsonError(path, e);
  *out = b ? "true" : "false";
  return absl::OkStatus();
}

// Reads a value that is then dropped, so that a malformed one still fails.
absl::Status SkipValue(JsonValue& v, std::string_view path) {
  thread_local std::string scratch;
  scratch.clear();
  if (auto e = AppendMinifiedJson(v, &scratch); e) return JsonError(path, e);
  return absl::OkStatus();
}

void AppendUuidText(const Uuid& u, std::string* out) {
  char buf[36];
  FormatUuid(u, buf);
  out->push_back('"');
  out->append(buf, 36);
  out->push_back('"');
}

}  // namespace

#define TASKDEX_STRINGIFY_INNER(x) #x
#define TASKDEX_STRINGIFY(x) TASKDEX_STRINGIFY_INNER(x)
std::string_view OnDemandKernelName() {
  return TASKDEX_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
}
#undef TASKDEX_STRINGIFY
#undef TASKDEX_STRINGIFY_INNER

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsJsonNumberLiteral(std::string_view s) {
  size_t i = 0, n = s.size();
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

error_code AppendMinifiedJson(JsonValue v, std::string* out, int depth) {
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return e;
  switch (t) {
    case ondemand::json_type::object: {
      ondemand::object obj;
      if (auto e = v.get_object().get(obj); e) return e;
      out->push_back('{');
      bool first = true;
      for (auto field_result : obj) {
        ondemand::field field;
        if (auto e = std::move(field_result).get(field); e) return e;
        if (!first) out->push_back(',');
        first = false;
        // Copy the key's raw text, then validate its escapes (in this
        // order: unescaped_key() consumes the raw key).
        AppendRawKey(field.key(), out);
        std::string_view unused;
        if (auto e = field.unescaped_key().get(unused); e) return e;
        out->push_back(':');
        if (depth + 1 >= kMaxJsonDepth) return simdjson::DEPTH_ERROR;
        if (auto e = AppendMinifiedJson(field.value(), out, depth + 1); e) return e;
      }
      out->push_back('}');
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::array: {
      ondemand::array arr;
      if (auto e = v.get_array().get(arr); e) return e;
      out->push_back('[');
      bool first = true;
      for (auto element : arr) {
        JsonValue item;
        if (auto e = std::move(element).get(item); e) return e;
        if (!first) out->push_back(',');
        first = false;
        if (depth + 1 >= kMaxJsonDepth) return simdjson::DEPTH_ERROR;
        if (auto e = AppendMinifiedJson(item, out, depth + 1); e) return e;
      }
      out->push_back(']');
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view tok = TrimTrailingSpace(v.raw_json_token());
      std::string_view s;
      if (auto e = v.get_string().get(s); e) return e;
      out->append(tok);
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      std::string_view tok = TrimTrailingSpace(v.raw_json_token());
      if (!IsJsonNumberLiteral(tok)) return simdjson::NUMBER_ERROR;
      out->append(tok);
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b); e) return e;
      out->append(b ? "true" : "false");
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null); e) return e;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out->append("null");
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

std::string DescribeJsonValue(JsonValue& v) {
  ondemand::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return "invalid JSON";
  if (t == ondemand::json_type::object) return "an object";
  if (t == ondemand::json_type::array) return "an array";
  std::string_view tok = TrimTrailingSpace(v.raw_json_token());
  if (tok.size() > 40) return std::string(tok.substr(0, 40)) + "...";
  return std::string(tok);
}

absl::Status ReadDatetimeValue(JsonValue v, std::string_view path, std::optional<Micros>* out) {
  static constexpr std::string_view kWant = "an ISO 8601 datetime string, a Unix time or null";
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  DatetimeResult r;
  switch (t) {
    case ondemand::json_type::null:
      out->reset();
      return absl::OkStatus();
    case ondemand::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s); e) return JsonError(path, e);
      r = ParseDatetimeString(s);
      if (!r.ok()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: invalid datetime \"%s\": %s", path, s,
            r.reason.empty() ? std::string(DatetimeErrorTypeName(r.error)) : r.reason));
      }
      break;
    }
    case ondemand::json_type::number: {
      std::string_view tok = TrimTrailingSpace(v.raw_json_token());
      int64_t i = 0;
      double d = 0;
      if (!IsJsonNumberLiteral(tok)) return TypeError(path, kWant, v);
      if (tok.find_first_of(".eE") == std::string_view::npos &&
          v.get_int64().get(i) == simdjson::SUCCESS) {
        r = DatetimeFromInt(i);
      } else if (v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
        r = DatetimeFromDouble(d);
      } else {
        return TypeError(path, kWant, v);
      }
      if (!r.ok()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: invalid datetime %s: %s", path, tok, r.reason));
      }
      break;
    }
    default:
      return TypeError(path, kWant, v);
  }
  *out = r.value;
  return absl::OkStatus();
}

absl::Status ReadUuidValue(JsonValue v, std::string_view path, bool nullable,
                           std::optional<Uuid>* out) {
  std::optional<std::string_view> s;
  TASKDEX_RETURN_IF_ERROR(ReadString(v, path, nullable, &s));
  if (!s) {
    out->reset();
    return absl::OkStatus();
  }
  std::string reason;
  std::optional<Uuid> u = ParseUuid(*s, &reason);
  if (!u) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: invalid UUID \"%s\": %s", path, *s, reason));
  }
  *out = u;
  return absl::OkStatus();
}

// --- empirical_policy (paginate.md 8.4) ---------------------------------

namespace {

// A retry_delay value: null, a number, or a list of numbers.
struct RetryDelay {
  enum Kind { kAbsent, kNull, kNumber, kList } kind = kAbsent;
  JsonNumber number;
  std::vector<JsonNumber> list;
  bool IsFalsy() const {
    return kind == kAbsent || kind == kNull || (kind == kNumber && number.IsZero()) ||
           (kind == kList && list.empty());
  }
};

absl::Status ReadRetryDelay(JsonValue& v, std::string_view path, RetryDelay* out) {
  static constexpr std::string_view kWant = "null, a number or a list of numbers";
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  if (t == ondemand::json_type::null) {
    out->kind = RetryDelay::kNull;
    return absl::OkStatus();
  }
  if (t == ondemand::json_type::number) {
    out->kind = RetryDelay::kNumber;
    return ReadNumber(v, path, kWant, &out->number);
  }
  if (t != ondemand::json_type::array) return TypeError(path, kWant, v);
  out->kind = RetryDelay::kList;
  ondemand::array arr;
  if (auto e = v.get_array().get(arr); e) return JsonError(path, e);
  size_t index = 0;
  for (auto element : arr) {
    JsonValue item;
    if (auto e = std::move(element).get(item); e) return JsonError(path, e);
    PathText item_path = Index(path, index++);
    JsonNumber n;
    TASKDEX_RETURN_IF_ERROR(ReadNumber(item, item_path, "a number", &n));
    out->list.push_back(std::move(n));
  }
  return absl::OkStatus();
}

void AppendRetryDelay(const RetryDelay& d, std::string* out) {
  switch (d.kind) {
    case RetryDelay::kAbsent:
    case RetryDelay::kNull:
      out->append("null");
      return;
    case RetryDelay::kNumber:
      // Smart union: an int stays an int, a float stays a float.
      if (d.number.is_float) {
        AppendAsFloat(d.number, out);
      } else {
        out->append(d.number.big_int ? d.number.text : std::to_string(d.number.i));
      }
      return;
    case RetryDelay::kList: {
      bool any_float = false;
      for (const JsonNumber& n : d.list) any_float |= n.is_float;
      out->push_back('[');
      for (size_t k = 0; k < d.list.size(); ++k) {
        if (k > 0) out->push_back(',');
        const JsonNumber& n = d.list[k];
        if (any_float) {
          AppendAsFloat(n, out);
        } else {
          out->append(n.big_int ? n.text : std::to_string(n.i));
        }
      }
      out->push_back(']');
      return;
    }
  }
}

}  // namespace

absl::Status NormalizeEmpiricalPolicyValue(JsonValue v, std::string_view path, std::string* out) {
  ondemand::object obj;
  {
    ondemand::json_type t;
    if (auto e = v.type().get(t); e) return JsonError(path, e);
    if (t != ondemand::json_type::object) return TypeError(path, "an object", v);
    if (auto e = v.get_object().get(obj); e) return JsonError(path, e);
  }
  std::optional<JsonNumber> max_retries, retry_delay_seconds, retries, jitter;
  bool retries_null = false, jitter_null = false;
  RetryDelay retry_delay;
  for (auto field_result : obj) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field); e) return JsonError(path, e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return JsonError(path, e);
    JsonValue& value = field.value();
    if (key == "max_retries") {
      max_retries.emplace();
      TASKDEX_RETURN_IF_ERROR(ReadNumber(value, Join(path, key), "an integer", &*max_retries));
    } else if (key == "retry_delay_seconds") {
      retry_delay_seconds.emplace();
      TASKDEX_RETURN_IF_ERROR(
          ReadNumber(value, Join(path, key), "a number", &*retry_delay_seconds));
    } else if (key == "retries" || key == "retry_jitter_factor") {
      bool is_retries = key == "retries";
      PathText key_path = Join(path, key);
      ondemand::json_type t;
      if (auto e = value.type().get(t); e) return JsonError(key_path, e);
      std::optional<JsonNumber>& slot = is_retries ? retries : jitter;
      (is_retries ? retries_null : jitter_null) = false;
      slot.reset();
      if (t == ondemand::json_type::null) {
        (is_retries ? retries_null : jitter_null) = true;
      } else {
        slot.emplace();
        TASKDEX_RETURN_IF_ERROR(ReadNumber(
            value, key_path, is_retries ? "an integer or null" : "a number or null", &*slot));
      }
    } else if (key == "retry_delay") {
      retry_delay = RetryDelay();
      TASKDEX_RETURN_IF_ERROR(ReadRetryDelay(value, Join(path, key), &retry_delay));
    } else {
      // Unknown keys are dropped (PrefectBaseModel ignores extras).
      TASKDEX_RETURN_IF_ERROR(SkipValue(value, Join(path, key)));
    }
  }
  // set_run_policy_deprecated_fields, on the raw values.
  if ((!retries || retries->IsZero()) && max_retries && !max_retries->IsZero()) {
    retries = max_retries;
  }
  if (retry_delay.IsFalsy() && retry_delay_seconds && !retry_delay_seconds->IsZero()) {
    retry_delay = RetryDelay();
    retry_delay.kind = RetryDelay::kNumber;
    retry_delay.number = *retry_delay_seconds;
  }
  out->clear();
  out->append("{\"max_retries\":");
  if (max_retries) {
    TASKDEX_RETURN_IF_ERROR(AppendAsInt(*max_retries, Join(path, "max_retries"), out));
  } else {
    out->push_back('0');
  }
  out->append(",\"retry_delay_seconds\":");
  if (retry_delay_seconds) {
    AppendAsFloat(*retry_delay_seconds, out);
  } else {
    out->append("0.0");
  }
  out->append(",\"retries\":");
  if (retries) {
    TASKDEX_RETURN_IF_ERROR(AppendAsInt(*retries, Join(path, "retries"), out));
  } else {
    out->append("null");
  }
  out->append(",\"retry_delay\":");
  AppendRetryDelay(retry_delay, out);
  out->append(",\"retry_jitter_factor\":");
  if (jitter) {
    AppendAsFloat(*jitter, out);
  } else {
    out->append("null");
  }
  out->push_back('}');
  return absl::OkStatus();
}

// --- task_inputs (paginate.md 8.5) --------------------------------------

namespace {

struct InputKey {
  bool present = false;
  bool is_string = false;
  // Unescaped; a string points into the parser's string buffer (valid while
  // the document is), anything else into `described`.
  std::string_view text;
  std::string described;
};

}  // namespace

absl::Status NormalizeTaskInputsValue(JsonValue v, std::string_view path, std::string* out) {
  ondemand::object obj;
  {
    ondemand::json_type t;
    if (auto e = v.type().get(t); e) return JsonError(path, e);
    if (t != ondemand::json_type::object) return TypeError(path, "an object", v);
    if (auto e = v.get_object().get(obj); e) return JsonError(path, e);
  }
  out->clear();
  out->push_back('{');
  bool first_arg = true;
  for (auto field_result : obj) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field); e) return JsonError(path, e);
    std::string_view arg;
    if (auto e = field.unescaped_key().get(arg); e) return JsonError(path, e);
    PathText arg_path = Join(path, arg);
    if (!first_arg) out->push_back(',');
    first_arg = false;
    AppendJsonString(out, arg);
    out->append(":[");
    JsonValue& list = field.value();
    ondemand::json_type t;
    if (auto e = list.type().get(t); e) return JsonError(arg_path, e);
    if (t != ondemand::json_type::array) return TypeError(arg_path, "a list of inputs", list);
    ondemand::array arr;
    if (auto e = list.get_array().get(arr); e) return JsonError(arg_path, e);
    size_t index = 0;
    for (auto element : arr) {
      PathText item_path = Index(arg_path, index);
      JsonValue item;
      if (auto e = std::move(element).get(item); e) return JsonError(item_path, e);
      ondemand::json_type it;
      if (auto e = item.type().get(it); e) return JsonError(item_path, e);
      if (it != ondemand::json_type::object) return TypeError(item_path, "an input object", item);
      ondemand::object input;
      if (auto e = item.get_object().get(input); e) return JsonError(item_path, e);
      InputKey keys[4];  // input_type, id, name, type
      static constexpr std::string_view kKeys[4] = {"input_type", "id", "name", "type"};
      for (auto input_field_result : input) {
        ondemand::field input_field;
        if (auto e = std::move(input_field_result).get(input_field); e)
          return JsonError(item_path, e);
        std::string_view key;
        if (auto e = input_field.unescaped_key().get(key); e) return JsonError(item_path, e);
        bool known = false;
        for (int k = 0; k < 4; ++k) known |= key == kKeys[k];
        if (!known) {
          TASKDEX_RETURN_IF_ERROR(SkipValue(input_field.value(), item_path));
          continue;
        }
        for (int k = 0; k < 4; ++k) {
          if (key != kKeys[k]) continue;
          JsonValue& kv = input_field.value();
          InputKey& slot = keys[k];
          slot = InputKey();
          slot.present = true;
          ondemand::json_type kt;
          if (auto e = kv.type().get(kt); e) return JsonError(Join(item_path, key), e);
          if (kt == ondemand::json_type::string) {
            std::string_view s;
            if (auto e = kv.get_string().get(s); e) return JsonError(Join(item_path, key), e);
            slot.is_string = true;
            slot.text = s;
          } else {
            slot.described = DescribeJsonValue(kv);
            slot.text = slot.described;
          }
        }
      }
      // Decide the input class.
      std::string_view input_type;
      if (keys[0].present) {
        if (!keys[0].is_string || (keys[0].text != "task_run" && keys[0].text != "flow_run" &&
                                   keys[0].text != "parameter" && keys[0].text != "constant")) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s.input_type: expected \"task_run\", \"flow_run\", \"parameter\" or "
              "\"constant\", got %s",
              item_path.view(), keys[0].is_string ? absl::StrFormat("\"%s\"", keys[0].text)
                                                : std::string(keys[0].text)));
        }
        input_type = keys[0].text;
      } else if (keys[1].present && keys[1].is_string && ParseUuid(keys[1].text)) {
        input_type = "task_run";
      } else if (keys[2].present && keys[2].is_string) {
        input_type = "parameter";
      } else if (keys[3].present && keys[3].is_string) {
        input_type = "constant";
      } else if (keys[1].present) {
        input_type = "task_run";  // reports the bad id below
      } else {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: expected a task_run, flow_run, parameter or constant input "
                            "(an object with `id`, `name` or `type`)",
                            item_path.view()));
      }
      int need = (input_type == "task_run" || input_type == "flow_run") ? 1
                 : input_type == "parameter"                            ? 2
                                                                        : 3;
      const InputKey& value = keys[need];
      PathText value_path = Join(item_path, kKeys[need]);
      if (!value.present) {
        return absl::InvalidArgumentError(absl::StrFormat("%s: missing required key", value_path.view()));
      }
      if (!value.is_string) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: expected a string, got %s", value_path.view(), value.text));
      }
      if (index > 0) out->push_back(',');
      out->append("{\"input_type\":\"");
      out->append(input_type);
      out->append("\",\"");
      out->append(kKeys[need]);
      out->append("\":");
      if (need == 1) {
        std::string reason;
        std::optional<Uuid> u = ParseUuid(value.text, &reason);
        if (!u) {
          return absl::InvalidArgumentError(
              absl::StrFormat("%s: invalid UUID \"%s\": %s", value_path.view(), value.text, reason));
        }
        AppendUuidText(*u, out);
      } else {
        AppendJsonString(out, value.text);
      }
      out->push_back('}');
      ++index;
    }
    out->push_back(']');
  }
  out->push_back('}');
  return absl::OkStatus();
}

// --- state (paginate.md 8.3) --------------------------------------------

namespace {

enum class DetailKind {
  kUuid,
  kDatetime,
  kString,
  kBoolFalse,
  kNullableBoolFalse,
  kNullableBool,
  kKeyset
};

struct DetailKey {
  std::string_view name;
  DetailKind kind;
};

constexpr DetailKey kDetailKeys[] = {
    {"flow_run_id", DetailKind::kUuid},
    {"task_run_id", DetailKind::kUuid},
    {"child_flow_run_id", DetailKind::kUuid},
    {"scheduled_time", DetailKind::kDatetime},
    {"cache_key", DetailKind::kString},
    {"cache_expiration", DetailKind::kDatetime},
    {"deferred", DetailKind::kNullableBoolFalse},
    {"untrackable_result", DetailKind::kBoolFalse},
    {"pause_timeout", DetailKind::kDatetime},
    {"pause_reschedule", DetailKind::kBoolFalse},
    {"pause_key", DetailKind::kString},
    {"run_input_keyset", DetailKind::kKeyset},
    {"refresh_cache", DetailKind::kNullableBool},
    {"retriable", DetailKind::kNullableBool},
    {"transition_id", DetailKind::kUuid},
    {"task_parameters_id", DetailKind::kUuid},
    {"traceparent", DetailKind::kString},
    {"deployment_concurrency_lease_id", DetailKind::kUuid},
};
constexpr int kNumDetailKeys = sizeof(kDetailKeys) / sizeof(kDetailKeys[0]);
constexpr int kScheduledTimeIndex = 3;

std::string DefaultDetail(DetailKind kind) {
  return (kind == DetailKind::kBoolFalse || kind == DetailKind::kNullableBoolFalse) ? "false"
                                                                                    : "null";
}

absl::Status ReadDetail(JsonValue& v, const DetailKey& key, std::string_view path,
                        std::string* out) {
  out->clear();
  switch (key.kind) {
    case DetailKind::kUuid: {
      std::optional<Uuid> u;
      TASKDEX_RETURN_IF_ERROR(ReadUuidValue(v, path, /*nullable=*/true, &u));
      if (u) {
        AppendUuidText(*u, out);
      } else {
        out->append("null");
      }
      return absl::OkStatus();
    }
    case DetailKind::kDatetime: {
      std::optional<Micros> t;
      TASKDEX_RETURN_IF_ERROR(ReadDatetimeValue(v, path, &t));
      if (t) {
        out->push_back('"');
        AppendDatetime(out, *t);
        out->push_back('"');
      } else {
        out->append("null");
      }
      return absl::OkStatus();
    }
    case DetailKind::kString: {
      std::optional<std::string_view> s;
      TASKDEX_RETURN_IF_ERROR(ReadString(v, path, /*nullable=*/true, &s));
      AppendNullableString(s, out);
      return absl::OkStatus();
    }
    case DetailKind::kBoolFalse:
      return ReadBool(v, path, /*nullable=*/false, out);
    case DetailKind::kNullableBoolFalse:
    case DetailKind::kNullableBool:
      return ReadBool(v, path, /*nullable=*/true, out);
    case DetailKind::kKeyset: {
      ondemand::json_type t;
      if (auto e = v.type().get(t); e) return JsonError(path, e);
      if (t == ondemand::json_type::null) {
        out->append("null");
        return absl::OkStatus();
      }
      if (t != ondemand::json_type::object) {
        return TypeError(path, "an object of strings or null", v);
      }
      ondemand::object obj;
      if (auto e = v.get_object().get(obj); e) return JsonError(path, e);
      out->push_back('{');
      bool first = true;
      for (auto field_result : obj) {
        ondemand::field field;
        if (auto e = std::move(field_result).get(field); e) return JsonError(path, e);
        std::string_view k;
        if (auto e = field.unescaped_key().get(k); e) return JsonError(path, e);
        std::string key_copy(k);
        std::optional<std::string_view> s;
        TASKDEX_RETURN_IF_ERROR(ReadString(field.value(), Join(path, key_copy), false, &s));
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, key_copy);
        out->push_back(':');
        AppendJsonString(out, *s);
      }
      out->push_back('}');
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unreachable");
}

}  // namespace

absl::Status NormalizeStateValue(JsonValue v, std::string_view path, NormalizedState* out) {
  *out = NormalizedState();
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(path, e);
  if (t == ondemand::json_type::null) return absl::OkStatus();
  if (t != ondemand::json_type::object) return TypeError(path, "an object or null", v);
  ondemand::object obj;
  if (auto e = v.get_object().get(obj); e) return JsonError(path, e);

  std::optional<Uuid> id;
  std::optional<StateType> type;
  // Into the parser's string buffer, valid while the document is.
  std::optional<std::string_view> name, message;
  std::optional<Micros> timestamp;
  bool has_id = false, has_type = false, has_timestamp = false;
  std::string data = "null";
  std::string details[kNumDetailKeys];
  for (int k = 0; k < kNumDetailKeys; ++k) details[k] = DefaultDetail(kDetailKeys[k].kind);

  for (auto field_result : obj) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field); e) return JsonError(path, e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return JsonError(path, e);
    JsonValue& value = field.value();
    if (key == "id") {
      has_id = true;
      TASKDEX_RETURN_IF_ERROR(ReadUuidValue(value, Join(path, key), /*nullable=*/false, &id));
    } else if (key == "type") {
      has_type = true;
      std::optional<std::string_view> s;
      PathText key_path = Join(path, key);
      TASKDEX_RETURN_IF_ERROR(ReadString(value, key_path, /*nullable=*/false, &s));
      type = ParseStateType(*s);
      if (!type) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: unknown state type \"%s\"", key_path.view(), *s));
      }
    } else if (key == "name" || key == "message") {
      std::optional<std::string_view> s;
      TASKDEX_RETURN_IF_ERROR(ReadString(value, Join(path, key), /*nullable=*/true, &s));
      (key == "name" ? name : message) = s;
    } else if (key == "timestamp") {
      has_timestamp = true;
      PathText key_path = Join(path, key);
      TASKDEX_RETURN_IF_ERROR(ReadDatetimeValue(value, key_path, &timestamp));
      if (!timestamp) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: expected an ISO 8601 datetime string, got null", key_path.view()));
      }
    } else if (key == "data") {
      data.clear();
      if (auto e = AppendMinifiedJson(value, &data); e) return JsonError(Join(path, key), e);
      if (IsFalsyMinified(data)) data = "null";
    } else if (key == "state_details") {
      PathText sd_path = Join(path, key);
      ondemand::json_type st;
      if (auto e = value.type().get(st); e) return JsonError(sd_path, e);
      if (st != ondemand::json_type::object) return TypeError(sd_path, "an object", value);
      ondemand::object sd;
      if (auto e = value.get_object().get(sd); e) return JsonError(sd_path, e);
      for (int k = 0; k < kNumDetailKeys; ++k) details[k] = DefaultDetail(kDetailKeys[k].kind);
      for (auto sd_field_result : sd) {
        ondemand::field sd_field;
        if (auto e = std::move(sd_field_result).get(sd_field); e) return JsonError(sd_path, e);
        std::string_view sd_key;
        if (auto e = sd_field.unescaped_key().get(sd_key); e) return JsonError(sd_path, e);
        int found = -1;
        for (int k = 0; k < kNumDetailKeys && found < 0; ++k) {
          if (kDetailKeys[k].name == sd_key) found = k;
        }
        if (found < 0) {
          // Unknown StateDetails keys are dropped (extra="ignore").
          TASKDEX_RETURN_IF_ERROR(SkipValue(sd_field.value(), Join(sd_path, sd_key)));
          continue;
        }
        TASKDEX_RETURN_IF_ERROR(ReadDetail(sd_field.value(), kDetailKeys[found],
                                           Join(sd_path, sd_key), &details[found]));
      }
    } else {
      // Unknown State keys are dropped too.
      TASKDEX_RETURN_IF_ERROR(SkipValue(value, Join(path, key)));
    }
  }
  if (!has_id)
    return absl::InvalidArgumentError(absl::StrFormat("%s.id: missing required key", path));
  if (!has_type) {
    return absl::InvalidArgumentError(absl::StrFormat("%s.type: missing required key", path));
  }
  if (!has_timestamp) {
    return absl::InvalidArgumentError(absl::StrFormat("%s.timestamp: missing required key", path));
  }

  std::string& j = out->json;
  j.clear();
  j.append("{\"id\":");
  AppendUuidText(*id, &j);
  j.append(",\"type\":\"");
  j.append(StateTypeName(*type));
  j.append("\",\"name\":");
  AppendJsonString(&j, name ? std::string_view(*name) : StateTypeDefaultName(*type));
  j.append(",\"timestamp\":\"");
  AppendDatetime(&j, *timestamp);
  j.append("\",\"message\":");
  if (message) {
    AppendJsonString(&j, *message);
  } else {
    j.append("null");
  }
  j.append(",\"data\":");
  j.append(data);
  j.append(",\"state_details\":{");
  for (int k = 0; k < kNumDetailKeys; ++k) {
    if (k > 0) j.push_back(',');
    j.push_back('"');
    j.append(kDetailKeys[k].name);
    j.append("\":");
    if (k == kScheduledTimeIndex && *type == StateType::kScheduled && details[k] == "null") {
      out->scheduled_time_null_offset = static_cast<int32_t>(j.size());
    }
    j.append(details[k]);
  }
  j.append("}}");
  out->type = type;
  out->timestamp = timestamp;
  return absl::OkStatus();
}

}  // namespace engine_internal

// --- string entry points --------------------------------------------------

namespace {

using engine_internal::JsonValue;

// Parses `json` as one value and hands it to `fn`. The text is wrapped in
// brackets so that a scalar root is a value too (simdjson's document cannot
// hand out a scalar root as a value).
template <typename Fn>
absl::Status WithRootValue(std::string_view json, std::string_view path, Fn fn) {
  thread_local simdjson::ondemand::parser parser;
  auto invalid = [&](simdjson::error_code e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: not valid JSON (%s)", path, simdjson::error_message(e)));
  };
  std::string wrapped;
  wrapped.reserve(json.size() + 2 + simdjson::SIMDJSON_PADDING);
  wrapped.push_back('[');
  wrapped.append(json);
  wrapped.push_back(']');
  simdjson::padded_string padded(wrapped);
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(padded).get(doc); e) return invalid(e);
  simdjson::ondemand::array arr;
  if (auto e = doc.get_array().get(arr); e) return invalid(e);
  int count = 0;
  for (auto element : arr) {
    JsonValue item;
    if (auto e = std::move(element).get(item); e) return invalid(e);
    if (++count > 1) return invalid(simdjson::TAPE_ERROR);
    TASKDEX_RETURN_IF_ERROR(fn(item));
  }
  const char* rest = nullptr;
  if (count != 1 || doc.current_location().get(rest) == simdjson::SUCCESS) {
    return invalid(simdjson::TAPE_ERROR);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NormalizeEmpiricalPolicyJson(std::string_view json) {
  std::string out;
  TASKDEX_RETURN_IF_ERROR(WithRootValue(json, "empirical_policy", [&](JsonValue v) {
    return engine_internal::NormalizeEmpiricalPolicyValue(v, "empirical_policy", &out);
  }));
  return out;
}

absl::StatusOr<std::string> NormalizeTaskInputsJson(std::string_view json) {
  std::string out;
  TASKDEX_RETURN_IF_ERROR(WithRootValue(json, "task_inputs", [&](JsonValue v) {
    return engine_internal::NormalizeTaskInputsValue(v, "task_inputs", &out);
  }));
  return out;
}

absl::StatusOr<NormalizedState> NormalizeStateJson(std::string_view json) {
  NormalizedState out;
  TASKDEX_RETURN_IF_ERROR(WithRootValue(json, "state", [&](JsonValue v) {
    return engine_internal::NormalizeStateValue(v, "state", &out);
  }));
  return out;
}

}  // namespace taskdex
