// api/paginate_request.cc
//
// Validation of the parsed body against Prefect's filter classes. Each class
// gets one function that handles its fields in declaration order (`operator`
// first), then reports unknown keys in body order: that is the order of
// pydantic's errors (paginate.md 3.2). The result of a function is only
// meaningful when it added no error; callers check the error list.

#include "api/paginate_request.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <utility>

#include "engine/datetime.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// ---------------------------------------------------------------------------
// Error texts (paginate.md 3.2).

constexpr std::string_view kSortExpected =
    "'ID_DESC', 'EXPECTED_START_TIME_ASC', 'EXPECTED_START_TIME_DESC', 'NAME_ASC', "
    "'NAME_DESC', 'NEXT_SCHEDULED_START_TIME_ASC' or 'END_TIME_DESC'";
constexpr std::string_view kOperatorExpected = "'and_' or 'or_'";
constexpr std::string_view kStateTypeExpected =
    "'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', "
    "'PAUSED' or 'CANCELLING'";

std::string_view IntErrorMessage(std::string_view type) {
  if (type == "int_parsing") {
    return "Input should be a valid integer, unable to parse string as an integer";
  }
  if (type == "int_from_float") {
    return "Input should be a valid integer, got a number with a fractional part";
  }
  if (type == "int_parsing_size") {
    return "Unable to parse input string as an integer, exceeded maximum size";
  }
  return "Input should be a valid integer";  // int_type
}

std::string CtxString(std::string_view key, std::string_view value) {
  std::string ctx = "{";
  AppendJsonString(&ctx, key);
  ctx.push_back(':');
  AppendJsonString(&ctx, value);
  ctx.push_back('}');
  return ctx;
}

// The validation state: where we are (loc) and what went wrong so far.
struct Ctx {
  ErrorList* errors;
  std::vector<LocElement> loc;

  void Add(std::string_view type, std::string_view msg, const JsonValue* input,
           std::string ctx = {}) {
    errors->push_back(ValidationError{std::string(type), loc, std::string(msg), input,
                                      std::move(ctx)});
  }
};

class LocScope {
 public:
  LocScope(Ctx& c, LocElement e) : c_(c) { c_.loc.push_back(std::move(e)); }
  ~LocScope() { c_.loc.pop_back(); }
  LocScope(const LocScope&) = delete;
  LocScope& operator=(const LocScope&) = delete;

 private:
  Ctx& c_;
};

// ---------------------------------------------------------------------------
// Integers (paginate.md 2.1, 2.1.1).

// An integer of any size: sign and canonical digits ("0" is never negative).
struct IntValue {
  bool negative = false;
  std::string digits = "0";
};

bool IsJsonIntLiteral(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') return i + 1 == s.size();
  if (s[i] < '1' || s[i] > '9') return false;
  for (++i; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// REQUIRES: IsJsonIntLiteral(lit).
IntValue IntFromLiteral(std::string_view lit) {
  IntValue v;
  v.negative = !lit.empty() && lit[0] == '-';
  if (v.negative) lit.remove_prefix(1);
  v.digits = std::string(lit);
  if (v.digits == "0") v.negative = false;
  return v;
}

IntValue IntFromInt64(int64_t x) {
  IntValue v;
  v.negative = x < 0;
  const uint64_t mag = v.negative ? (~static_cast<uint64_t>(x) + 1) : static_cast<uint64_t>(x);
  v.digits = std::to_string(mag);
  return v;
}

bool IsPositive(const IntValue& v) { return !v.negative && v.digits != "0"; }

// REQUIRES: !v.negative.
uint64_t SaturatedU64(const IntValue& v) {
  uint64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.digits.data(), v.digits.data() + v.digits.size(), x);
  if (ec != std::errc() || ptr != v.digits.data() + v.digits.size()) {
    return std::numeric_limits<uint64_t>::max();
  }
  return x;
}

// Decodes the code point starting at s[i] (valid UTF-8 assumed); sets *len.
uint32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  const auto c = static_cast<uint8_t>(s[i]);
  auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k]) & 0x3F); };
  if (c < 0x80 || i + 1 >= s.size()) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return ((c & 0x1Fu) << 6) | cont(1);
  }
  if (c < 0xF0) {
    if (i + 2 >= s.size()) {
      *len = 1;
      return c;
    }
    *len = 3;
    return ((c & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
  }
  if (i + 3 >= s.size()) {
    *len = 1;
    return c;
  }
  *len = 4;
  return ((c & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

// Rust's char::is_whitespace (Unicode White_Space).
bool IsUnicodeSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::string_view TrimUnicodeSpace(std::string_view s) {
  while (!s.empty()) {
    size_t len = 1;
    if (!IsUnicodeSpace(DecodeAt(s, 0, &len))) break;
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    size_t len = 1;
    if (!IsUnicodeSpace(DecodeAt(s, start, &len))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

// pydantic's str_as_int, as the steps of paginate.md 2.1.1. Returns "" and
// sets *out, or the error type.
std::string_view StrAsInt(std::string_view s, IntValue* out) {
  // 1. A plain JSON integer literal.
  if (IsJsonIntLiteral(s)) {
    if (s.size() > kMaxIntDigits) return "int_parsing_size";
    *out = IntFromLiteral(s);
    return "";
  }
  const size_t original_size = s.size();
  // 2. Unicode whitespace.
  std::string_view t = TrimUnicodeSpace(s);
  // 3. Signs.
  bool minus = false;
  if (!t.empty() && t[0] == '+') {
    t.remove_prefix(1);
    if (!t.empty() && t[0] == '-') return "int_parsing";
  }
  if (!t.empty() && t[0] == '-') {
    t.remove_prefix(1);
    minus = true;
    if (!t.empty() && (t[0] == '-' || t[0] == '+')) return "int_parsing";
  }
  // 4. Leading zeros.
  if (t.empty()) return "int_parsing";
  if (t[0] == '0') {
    size_t i = 0;
    while (i < t.size() && (t[i] == '0' || t[i] == '_')) ++i;
    if (i == t.size()) {
      t = t.substr(t.size() - 1);
    } else if ((t[i] >= '1' && t[i] <= '9') || t[i] == '-') {
      t = t.substr(i);
    } else if (t[i] == '.') {
      t = t.substr(i - 1);
    } else {
      return "int_parsing";
    }
  } else if (t[0] < '1' || t[0] > '9') {
    return "int_parsing";
  }
  // 5. A fraction of zeros.
  if (const size_t dot = t.find('.'); dot != std::string_view::npos) {
    const std::string_view frac = t.substr(dot + 1);
    if (!frac.empty() && frac.find_first_not_of('0') == std::string_view::npos) {
      t = t.substr(0, dot);
    }
  }
  // 6. Underscores between digits.
  std::string cleaned(t);
  if (t.find('_') != std::string_view::npos) {
    if (t.front() != '_' && t.back() != '_' && t.find("__") == std::string_view::npos) {
      std::string no_underscores;
      for (char c : cleaned) {
        if (c != '_') no_underscores.push_back(c);
      }
      cleaned = std::move(no_underscores);
    } else if (t.size() == original_size) {
      return "int_parsing";
    }
  }
  // 7. The sign back, and a literal again.
  if (minus) cleaned.insert(cleaned.begin(), '-');
  if (cleaned.size() > kMaxIntDigits || !IsJsonIntLiteral(cleaned)) return "int_parsing";
  *out = IntFromLiteral(cleaned);
  return "";
}

// pydantic's float_as_int: the error type, or "" with *out set.
std::string_view FloatAsInt(double d, int64_t* out) {
  if (std::fmod(d, 1.0) != 0.0) return "int_from_float";
  constexpr double kTwo63 = 9223372036854775808.0;
  if (!(d > -kTwo63 && d < kTwo63)) return "int_parsing_size";
  *out = static_cast<int64_t>(d);
  return "";
}

// An integer field (lax mode). Returns "" and sets *out, or the error type.
std::string_view CoerceInt(const JsonValue& v, IntValue* out) {
  switch (v.kind) {
    case JsonValue::Kind::kInt:
      *out = IntFromLiteral(v.text);
      return "";
    case JsonValue::Kind::kBool:
      *out = IntFromInt64(v.bool_value ? 1 : 0);
      return "";
    case JsonValue::Kind::kFloat: {
      int64_t x = 0;
      std::string_view err = FloatAsInt(v.float_value, &x);
      if (err.empty()) *out = IntFromInt64(x);
      return err;
    }
    case JsonValue::Kind::kString:
      return StrAsInt(v.text, out);
    default:
      return "int_type";
  }
}

// Validates an integer field; nullopt after recording an error.
std::optional<IntValue> IntField(const JsonValue& v, Ctx& c) {
  IntValue out;
  std::string_view err = CoerceInt(v, &out);
  if (!err.empty()) {
    c.Add(err, IntErrorMessage(err), &v);
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Other scalars.

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// A boolean field (paginate.md 2.1: bool_parsing vs bool_type).
std::optional<bool> BoolField(const JsonValue& v, Ctx& c) {
  constexpr std::string_view kParsingMsg =
      "Input should be a valid boolean, unable to interpret input";
  auto from_int = [&](int64_t x) -> std::optional<bool> {
    if (x == 0 || x == 1) return x == 1;
    c.Add("bool_parsing", kParsingMsg, &v);
    return std::nullopt;
  };
  switch (v.kind) {
    case JsonValue::Kind::kBool:
      return v.bool_value;
    case JsonValue::Kind::kInt:
      if (v.fits_int64) return from_int(v.int_value);
      break;  // tried as a float, which is out of range: bool_type
    case JsonValue::Kind::kFloat: {
      int64_t x = 0;
      if (FloatAsInt(v.float_value, &x).empty()) return from_int(x);
      break;
    }
    case JsonValue::Kind::kString: {
      for (std::string_view f : {"0", "f", "n", "no", "off", "false"}) {
        if (EqualsIgnoreAsciiCase(v.text, f)) return false;
      }
      for (std::string_view t : {"1", "t", "y", "on", "yes", "true"}) {
        if (EqualsIgnoreAsciiCase(v.text, t)) return true;
      }
      c.Add("bool_parsing", kParsingMsg, &v);
      return std::nullopt;
    }
    default:
      break;
  }
  c.Add("bool_type", "Input should be a valid boolean", &v);
  return std::nullopt;
}

std::optional<std::string> StringField(const JsonValue& v, Ctx& c) {
  if (v.kind == JsonValue::Kind::kString) return v.text;
  c.Add("string_type", "Input should be a valid string", &v);
  return std::nullopt;
}

std::optional<Uuid> UuidField(const JsonValue& v, Ctx& c) {
  if (v.kind != JsonValue::Kind::kString) {
    c.Add("uuid_type", "UUID input should be a string, bytes or UUID object", &v);
    return std::nullopt;
  }
  std::string reason;
  std::optional<Uuid> u = ParseUuid(v.text, &reason);
  if (!u) {
    c.Add("uuid_parsing", "Input should be a valid UUID, " + reason, &v, CtxString("error", reason));
  }
  return u;
}

std::optional<Micros> DatetimeField(const JsonValue& v, Ctx& c) {
  DatetimeResult r;
  switch (v.kind) {
    case JsonValue::Kind::kInt:
      if (v.fits_int64) {
        r = DatetimeFromInt(v.int_value);
      } else {
        const double d = std::strtod(v.text.c_str(), nullptr);
        if (std::isfinite(d)) {
          r = DatetimeFromDouble(d);
        } else {
          r.error = DatetimeErrorType::kType;
        }
      }
      break;
    case JsonValue::Kind::kFloat:
      r = DatetimeFromDouble(v.float_value);
      break;
    case JsonValue::Kind::kString:
      r = ParseDatetimeString(v.text);
      break;
    default:
      r.error = DatetimeErrorType::kType;
      break;
  }
  switch (r.error) {
    case DatetimeErrorType::kNone:
      return r.value;
    case DatetimeErrorType::kParsing:
      c.Add("datetime_parsing", "Input should be a valid datetime, " + r.reason, &v,
            CtxString("error", r.reason));
      break;
    case DatetimeErrorType::kFromDateParsing:
      c.Add("datetime_from_date_parsing", "Input should be a valid datetime or date, " + r.reason,
            &v, CtxString("error", r.reason));
      break;
    case DatetimeErrorType::kType:
      c.Add("datetime_type", "Input should be a valid datetime", &v);
      break;
  }
  return std::nullopt;
}

void AddEnumError(const JsonValue& v, Ctx& c, std::string_view expected) {
  std::string msg = "Input should be ";
  msg.append(expected);
  c.Add("enum", msg, &v, CtxString("expected", expected));
}

std::optional<StateType> StateTypeField(const JsonValue& v, Ctx& c) {
  if (v.kind == JsonValue::Kind::kString) {
    if (std::optional<StateType> t = ParseStateType(v.text)) return t;
  }
  AddEnumError(v, c, kStateTypeExpected);
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Objects and lists.

// The value of `key` in `obj`, or nullptr when absent or null.
const JsonValue* Get(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.Find(key);
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

// `operator`: absent means and_; anything else, null included, must be
// "and_" or "or_".
BoolOp OperatorField(const JsonValue& obj, Ctx& c) {
  const JsonValue* v = obj.Find("operator");
  if (v == nullptr) return BoolOp::kAnd;
  if (v->kind == JsonValue::Kind::kString) {
    if (v->text == "and_") return BoolOp::kAnd;
    if (v->text == "or_") return BoolOp::kOr;
  }
  LocScope scope(c, std::string("operator"));
  AddEnumError(*v, c, kOperatorExpected);
  return BoolOp::kAnd;
}

// One extra_forbidden error per key of `obj` not in `known`, in body order.
void CheckExtraKeys(const JsonValue& obj, std::initializer_list<std::string_view> known, Ctx& c) {
  for (const auto& [key, value] : obj.members) {
    bool ok = false;
    for (std::string_view k : known) {
      if (k == key) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      LocScope scope(c, key);
      c.Add("extra_forbidden", "Extra inputs are not permitted", &value);
    }
  }
}

// A list field `key` of `obj`: nullopt when absent or null; list_type when
// not an array; otherwise each item through `item` with its index in loc.
template <typename T>
List<T> ListField(const JsonValue& obj, std::string_view key, Ctx& c,
                  std::optional<T> (*item)(const JsonValue&, Ctx&)) {
  const JsonValue* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  LocScope scope(c, std::string(key));
  if (v->kind != JsonValue::Kind::kArray) {
    c.Add("list_type", "Input should be a valid list", v);
    return std::nullopt;
  }
  std::vector<T> out;
  out.reserve(v->items.size());
  for (size_t i = 0; i < v->items.size(); ++i) {
    LocScope item_scope(c, i);
    if (std::optional<T> x = item(v->items[i], c)) out.push_back(std::move(*x));
  }
  return out;
}

// A scalar field `key` of `obj`: nullopt when absent, null or invalid.
template <typename T>
std::optional<T> ScalarField(const JsonValue& obj, std::string_view key, Ctx& c,
                             std::optional<T> (*parse)(const JsonValue&, Ctx&)) {
  const JsonValue* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  LocScope scope(c, std::string(key));
  return parse(*v, c);
}

// A sub-filter `key` of `obj`: nullopt when absent or null;
// model_attributes_type when not an object; otherwise `parse(value)`.
template <typename Parse>
auto SubFilter(const JsonValue& obj, std::string_view key, Ctx& c, Parse parse)
    -> std::optional<decltype(parse(obj))> {
  const JsonValue* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  LocScope scope(c, std::string(key));
  if (!v->is_object()) {
    c.Add("model_attributes_type",
          "Input should be a valid dictionary or object to extract fields from", v);
    return std::nullopt;
  }
  return parse(*v);
}

// ---------------------------------------------------------------------------
// Filter classes (paginate.md 4.4-4.7). `o` is the class's JSON object.

// *FilterId: any_ [, not_any_].
IdFilter ParseIdFilter(const JsonValue& o, Ctx& c, bool with_not_any) {
  IdFilter f;
  f.any = ListField<Uuid>(o, "any_", c, UuidField);
  if (with_not_any) {
    f.not_any = ListField<Uuid>(o, "not_any_", c, UuidField);
    CheckExtraKeys(o, {"any_", "not_any_"}, c);
  } else {
    CheckExtraKeys(o, {"any_"}, c);
  }
  return f;
}

// *FilterName: any_, like_; DeploymentOrFlowNameFilter: like_ only.
NameFilter ParseNameFilter(const JsonValue& o, Ctx& c, bool with_any) {
  NameFilter f;
  if (with_any) f.any = ListField<std::string>(o, "any_", c, StringField);
  f.like = ScalarField<std::string>(o, "like_", c, StringField);
  if (with_any) {
    CheckExtraKeys(o, {"any_", "like_"}, c);
  } else {
    CheckExtraKeys(o, {"like_"}, c);
  }
  return f;
}

// *FilterTags: operator, all_, [any_,] is_null_.
TagsFilter ParseTagsFilter(const JsonValue& o, Ctx& c, bool with_any) {
  TagsFilter f;
  f.op = OperatorField(o, c);
  f.all = ListField<std::string>(o, "all_", c, StringField);
  if (with_any) f.any = ListField<std::string>(o, "any_", c, StringField);
  f.is_null = ScalarField<bool>(o, "is_null_", c, BoolField);
  if (with_any) {
    CheckExtraKeys(o, {"operator", "all_", "any_", "is_null_"}, c);
  } else {
    CheckExtraKeys(o, {"operator", "all_", "is_null_"}, c);
  }
  return f;
}

// Datetime filters: before_, after_ [, is_null_].
TimeFilter ParseTimeFilter(const JsonValue& o, Ctx& c, bool with_is_null) {
  TimeFilter f;
  f.before = ScalarField<Micros>(o, "before_", c, DatetimeField);
  f.after = ScalarField<Micros>(o, "after_", c, DatetimeField);
  if (with_is_null) {
    f.is_null = ScalarField<bool>(o, "is_null_", c, BoolField);
    CheckExtraKeys(o, {"before_", "after_", "is_null_"}, c);
  } else {
    CheckExtraKeys(o, {"before_", "after_"}, c);
  }
  return f;
}

// String column filters. Fields present in declaration order:
// [operator,] any_, [not_any_,] [is_null_].
struct StringsShape {
  bool op = false;
  bool not_any = false;
  bool is_null = false;
};
StringsFilter ParseStringsFilter(const JsonValue& o, Ctx& c, StringsShape shape) {
  StringsFilter f;
  std::vector<std::string_view> known = {"any_"};
  if (shape.op) {
    f.op = OperatorField(o, c);
    known.push_back("operator");
  }
  f.any = ListField<std::string>(o, "any_", c, StringField);
  if (shape.not_any) {
    f.not_any = ListField<std::string>(o, "not_any_", c, StringField);
    known.push_back("not_any_");
  }
  if (shape.is_null) {
    f.is_null = ScalarField<bool>(o, "is_null_", c, BoolField);
    known.push_back("is_null_");
  }
  for (const auto& [key, value] : o.members) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || k == key;
    if (!ok) {
      LocScope scope(c, key);
      c.Add("extra_forbidden", "Extra inputs are not permitted", &value);
    }
  }
  return f;
}

// *FilterStateType: any_ [, not_any_].
StateTypesFilter ParseStateTypesFilter(const JsonValue& o, Ctx& c, bool with_not_any) {
  StateTypesFilter f;
  f.any = ListField<StateType>(o, "any_", c, StateTypeField);
  if (with_not_any) {
    f.not_any = ListField<StateType>(o, "not_any_", c, StateTypeField);
    CheckExtraKeys(o, {"any_", "not_any_"}, c);
  } else {
    CheckExtraKeys(o, {"any_"}, c);
  }
  return f;
}

// TaskRunFilterState / FlowRunFilterState: operator, type, name.
StateFilter ParseStateFilter(const JsonValue& o, Ctx& c, bool flow_run) {
  StateFilter f;
  f.op = OperatorField(o, c);
  f.type = SubFilter(o, "type", c,
                     [&](const JsonValue& v) { return ParseStateTypesFilter(v, c, flow_run); });
  f.name = SubFilter(o, "name", c, [&](const JsonValue& v) {
    return ParseStringsFilter(v, c, StringsShape{.op = false, .not_any = flow_run});
  });
  CheckExtraKeys(o, {"operator", "type", "name"}, c);
  return f;
}

// Nullable UUID references: operator, any_ [, is_null_]. For
// TaskRunFilterFlowRunId, `is_null_` defaults to false and only an explicit
// null leaves it nullopt (filter_ast.h).
UuidRefFilter ParseUuidRefFilter(const JsonValue& o, Ctx& c, bool with_is_null,
                                 bool is_null_defaults_false = false) {
  UuidRefFilter f;
  f.op = OperatorField(o, c);
  f.any = ListField<Uuid>(o, "any_", c, UuidField);
  if (with_is_null) {
    f.is_null = ScalarField<bool>(o, "is_null_", c, BoolField);
    if (is_null_defaults_false && o.Find("is_null_") == nullptr) f.is_null = false;
    CheckExtraKeys(o, {"operator", "any_", "is_null_"}, c);
  } else {
    CheckExtraKeys(o, {"operator", "any_"}, c);
  }
  return f;
}

TaskRunFilter ParseTaskRunFilter(const JsonValue& o, Ctx& c) {
  TaskRunFilter f;
  f.op = OperatorField(o, c);
  f.id = SubFilter(o, "id", c, [&](const JsonValue& v) { return ParseIdFilter(v, c, false); });
  f.name = SubFilter(o, "name", c, [&](const JsonValue& v) { return ParseNameFilter(v, c, true); });
  f.tags = SubFilter(o, "tags", c, [&](const JsonValue& v) { return ParseTagsFilter(v, c, false); });
  f.state =
      SubFilter(o, "state", c, [&](const JsonValue& v) { return ParseStateFilter(v, c, false); });
  f.start_time = SubFilter(o, "start_time", c,
                           [&](const JsonValue& v) { return ParseTimeFilter(v, c, true); });
  f.end_time =
      SubFilter(o, "end_time", c, [&](const JsonValue& v) { return ParseTimeFilter(v, c, true); });
  f.expected_start_time = SubFilter(o, "expected_start_time", c, [&](const JsonValue& v) {
    return ParseTimeFilter(v, c, false);
  });
  f.subflow_runs = SubFilter(o, "subflow_runs", c, [&](const JsonValue& v) {
    SubflowRunsFilter s;
    s.exists = ScalarField<bool>(v, "exists_", c, BoolField);
    CheckExtraKeys(v, {"exists_"}, c);
    return s;
  });
  f.flow_run_id = SubFilter(o, "flow_run_id", c, [&](const JsonValue& v) {
    return ParseUuidRefFilter(v, c, true, /*is_null_defaults_false=*/true);
  });
  CheckExtraKeys(o,
                 {"operator", "id", "name", "tags", "state", "start_time", "end_time",
                  "expected_start_time", "subflow_runs", "flow_run_id"},
                 c);
  return f;
}

FlowRunFilter ParseFlowRunFilter(const JsonValue& o, Ctx& c) {
  FlowRunFilter f;
  f.op = OperatorField(o, c);
  f.id = SubFilter(o, "id", c, [&](const JsonValue& v) { return ParseIdFilter(v, c, true); });
  f.name = SubFilter(o, "name", c, [&](const JsonValue& v) { return ParseNameFilter(v, c, true); });
  f.tags = SubFilter(o, "tags", c, [&](const JsonValue& v) { return ParseTagsFilter(v, c, true); });
  f.deployment_id = SubFilter(o, "deployment_id", c,
                              [&](const JsonValue& v) { return ParseUuidRefFilter(v, c, true); });
  f.work_queue_name = SubFilter(o, "work_queue_name", c, [&](const JsonValue& v) {
    return ParseStringsFilter(v, c, StringsShape{.op = true, .not_any = false, .is_null = true});
  });
  f.flow_version = SubFilter(o, "flow_version", c, [&](const JsonValue& v) {
    return ParseStringsFilter(v, c, StringsShape{});
  });
  f.state =
      SubFilter(o, "state", c, [&](const JsonValue& v) { return ParseStateFilter(v, c, true); });
  f.start_time = SubFilter(o, "start_time", c,
                           [&](const JsonValue& v) { return ParseTimeFilter(v, c, true); });
  f.end_time =
      SubFilter(o, "end_time", c, [&](const JsonValue& v) { return ParseTimeFilter(v, c, true); });
  f.expected_start_time = SubFilter(o, "expected_start_time", c, [&](const JsonValue& v) {
    return ParseTimeFilter(v, c, false);
  });
  f.next_scheduled_start_time = SubFilter(o, "next_scheduled_start_time", c, [&](const JsonValue& v) {
    return ParseTimeFilter(v, c, false);
  });
  f.parent_flow_run_id = SubFilter(o, "parent_flow_run_id", c, [&](const JsonValue& v) {
    return ParseUuidRefFilter(v, c, false);
  });
  f.parent_task_run_id = SubFilter(o, "parent_task_run_id", c, [&](const JsonValue& v) {
    return ParseUuidRefFilter(v, c, true);
  });
  f.idempotency_key = SubFilter(o, "idempotency_key", c, [&](const JsonValue& v) {
    return ParseStringsFilter(v, c, StringsShape{.op = false, .not_any = true});
  });
  f.created_by = SubFilter(o, "created_by", c, [&](const JsonValue& v) {
    CreatedByFilter cb;
    cb.op = OperatorField(v, c);
    cb.id = ListField<Uuid>(v, "id_", c, UuidField);
    cb.type = ListField<std::string>(v, "type_", c, StringField);
    cb.is_null = ScalarField<bool>(v, "is_null_", c, BoolField);
    CheckExtraKeys(v, {"operator", "id_", "type_", "is_null_"}, c);
    return cb;
  });
  CheckExtraKeys(o,
                 {"operator", "id", "name", "tags", "deployment_id", "work_queue_name",
                  "flow_version", "state", "start_time", "end_time", "expected_start_time",
                  "next_scheduled_start_time", "parent_flow_run_id", "parent_task_run_id",
                  "idempotency_key", "created_by"},
                 c);
  return f;
}

FlowFilter ParseFlowFilter(const JsonValue& o, Ctx& c) {
  FlowFilter f;
  f.op = OperatorField(o, c);
  f.id = SubFilter(o, "id", c, [&](const JsonValue& v) { return ParseIdFilter(v, c, true); });
  f.deployment = SubFilter(o, "deployment", c, [&](const JsonValue& v) {
    FlowDeploymentFilter d;
    d.op = OperatorField(v, c);
    d.is_null = ScalarField<bool>(v, "is_null_", c, BoolField);
    CheckExtraKeys(v, {"operator", "is_null_"}, c);
    return d;
  });
  f.name = SubFilter(o, "name", c, [&](const JsonValue& v) { return ParseNameFilter(v, c, true); });
  f.tags = SubFilter(o, "tags", c, [&](const JsonValue& v) { return ParseTagsFilter(v, c, false); });
  CheckExtraKeys(o, {"operator", "id", "deployment", "name", "tags"}, c);
  return f;
}

DeploymentFilter ParseDeploymentFilter(const JsonValue& o, Ctx& c) {
  DeploymentFilter f;
  f.op = OperatorField(o, c);
  f.id = SubFilter(o, "id", c, [&](const JsonValue& v) { return ParseIdFilter(v, c, true); });
  f.name = SubFilter(o, "name", c, [&](const JsonValue& v) { return ParseNameFilter(v, c, true); });
  f.flow_or_deployment_name = SubFilter(o, "flow_or_deployment_name", c, [&](const JsonValue& v) {
    return ParseNameFilter(v, c, false);
  });
  f.paused = SubFilter(o, "paused", c, [&](const JsonValue& v) {
    PausedFilter p;
    p.eq = ScalarField<bool>(v, "eq_", c, BoolField);
    CheckExtraKeys(v, {"eq_"}, c);
    return p;
  });
  f.tags = SubFilter(o, "tags", c, [&](const JsonValue& v) { return ParseTagsFilter(v, c, true); });
  f.work_queue_name = SubFilter(o, "work_queue_name", c, [&](const JsonValue& v) {
    return ParseStringsFilter(v, c, StringsShape{});
  });
  // Validated, never evaluated (paginate.md 4.7).
  const std::optional<bool> concurrency_limit =
      SubFilter(o, "concurrency_limit", c, [&](const JsonValue& v) {
        ScalarField<IntValue>(v, "ge_", c, IntField);
        ScalarField<IntValue>(v, "le_", c, IntField);
        ScalarField<bool>(v, "is_null_", c, BoolField);
        CheckExtraKeys(v, {"ge_", "le_", "is_null_"}, c);
        return true;
      });
  f.has_concurrency_limit = concurrency_limit.has_value();
  CheckExtraKeys(o,
                 {"operator", "id", "name", "flow_or_deployment_name", "paused", "tags",
                  "work_queue_name", "concurrency_limit"},
                 c);
  return f;
}

// A `ge` check on a validated integer field (page >= 1, offset >= 0).
bool CheckGreaterEqual(const IntValue& x, int64_t bound, const JsonValue& input, Ctx& c) {
  const bool ok = bound == 1 ? IsPositive(x) : !x.negative;  // bound is 0 or 1
  if (!ok) {
    c.Add("greater_than_equal", "Input should be greater than or equal to " + std::to_string(bound),
          &input, "{\"ge\":" + std::to_string(bound) + "}");
  }
  return ok;
}

void AppendError(std::string* out, const ValidationError& e) {
  out->append("{\"type\":");
  AppendJsonString(out, e.type);
  out->append(",\"loc\":[\"body\"");
  for (const LocElement& l : e.loc) {
    out->push_back(',');
    if (const std::string* key = std::get_if<std::string>(&l)) {
      AppendJsonString(out, *key);
    } else {
      out->append(std::to_string(std::get<size_t>(l)));
    }
  }
  out->append("],\"msg\":");
  AppendJsonString(out, e.msg);
  out->append(",\"input\":");
  if (e.input == nullptr) {
    out->append("null");
  } else {
    AppendJsonValue(out, *e.input);
  }
  if (!e.ctx.empty()) {
    out->append(",\"ctx\":");
    out->append(e.ctx);
  }
  out->push_back('}');
}

constexpr std::string_view kEnvelopeStart =
    "{\"exception_message\":\"Invalid request received.\",\"exception_detail\":[";

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

std::optional<Micros> ValidateDatetimeField(const JsonValue& value, std::string_view key,
                                            ErrorList* errors) {
  Ctx c{errors, {}};
  LocScope scope(c, std::string(key));
  return DatetimeField(value, c);
}

void ValidateFilterSet(const JsonValue& body, FilterSet* out, ErrorList* errors) {
  Ctx c{errors, {}};
  out->flows = SubFilter(body, "flows", c, [&](const JsonValue& v) { return ParseFlowFilter(v, c); });
  out->flow_runs =
      SubFilter(body, "flow_runs", c, [&](const JsonValue& v) { return ParseFlowRunFilter(v, c); });
  out->task_runs =
      SubFilter(body, "task_runs", c, [&](const JsonValue& v) { return ParseTaskRunFilter(v, c); });
  out->deployments = SubFilter(body, "deployments", c,
                               [&](const JsonValue& v) { return ParseDeploymentFilter(v, c); });
}

std::variant<RequestFields, ApiResponse> ValidateBody(const JsonValue* body, BodyKind kind,
                                                      int64_t default_limit, ErrorList* errors) {
  RequestFields fields;
  fields.limit = default_limit;
  const bool has_limit_sort = kind != BodyKind::kCount;
  Ctx c{errors, {}};

  if (body != nullptr && !body->is_null() && !body->is_object()) {
    // FastAPI reads each field from a value that is not a dict: `missing`
    // for every one (paginate.md 1.1 step 5).
    std::vector<std::string_view> names;
    if (has_limit_sort) {
      names = {"limit", "sort", kind == BodyKind::kPaginate ? "page" : "offset"};
    }
    for (std::string_view n : {"flows", "flow_runs", "task_runs", "deployments"}) {
      names.push_back(n);
    }
    for (std::string_view n : names) {
      LocScope scope(c, std::string(n));
      c.Add("missing", "Field required", nullptr);
    }
    return fields;
  }
  if (body == nullptr || body->is_null()) return fields;

  if (has_limit_sort) {
    // LimitBody: a dependency, so solved (and range-checked) first.
    if (const JsonValue* v = Get(*body, "limit")) {
      LocScope scope(c, std::string("limit"));
      if (std::optional<IntValue> limit = IntField(*v, c)) {
        if (limit->negative) {
          return DetailResponse(422, "Invalid limit: must be greater than or equal to 0.");
        }
        const uint64_t x = SaturatedU64(*limit);
        if (x > static_cast<uint64_t>(default_limit)) {
          return DetailResponse(422, "Invalid limit: must be less than or equal to " +
                                         std::to_string(default_limit) + ".");
        }
        fields.limit = static_cast<int64_t>(x);
      }
    }
    if (const JsonValue* v = Get(*body, "sort")) {
      LocScope scope(c, std::string("sort"));
      std::optional<TaskRunSort> sort;
      if (v->kind == JsonValue::Kind::kString) sort = ParseTaskRunSort(v->text);
      if (sort) {
        fields.sort = *sort;
      } else {
        AddEnumError(*v, c, kSortExpected);
      }
    }
    const bool paginate = kind == BodyKind::kPaginate;
    const std::string key = paginate ? "page" : "offset";
    if (const JsonValue* v = Get(*body, key)) {
      LocScope scope(c, key);
      if (std::optional<IntValue> x = IntField(*v, c)) {
        if (CheckGreaterEqual(*x, paginate ? 1 : 0, *v, c)) {
          if (paginate) {
            fields.page_text = x->digits;
          } else {
            fields.offset = SaturatedU64(*x);
          }
        }
      }
    }
    if (paginate) {
      // offset = (page - 1) * limit, saturated; page may exceed 64 bits.
      IntValue page;
      page.digits = fields.page_text;
      const uint64_t p = SaturatedU64(page);
      const uint64_t limit = static_cast<uint64_t>(fields.limit);
      uint64_t offset = 0;
      if (limit != 0 && p > 0 &&
          (p == std::numeric_limits<uint64_t>::max() ||
           __builtin_mul_overflow(p - 1, limit, &offset))) {
        offset = std::numeric_limits<uint64_t>::max();
      }
      fields.offset = offset;
    }
  }
  ValidateFilterSet(*body, &fields.filters, errors);
  return fields;
}

std::variant<RequestFields, ApiResponse> ParseRequestBody(std::string_view body_bytes,
                                                          BodyKind kind,
                                                          const RequestOptions& options) {
  ErrorList errors;
  if (body_bytes.empty() || !options.body_is_json) {
    return ValidateBody(nullptr, kind, options.default_limit, &errors);
  }
  JsonParseResult parsed = ParseJsonBody(body_bytes);
  if (parsed.status != JsonParseResult::Status::kOk) return JsonErrorResponse(parsed);
  auto result = ValidateBody(&parsed.value, kind, options.default_limit, &errors);
  if (std::holds_alternative<ApiResponse>(result)) return result;
  if (!errors.empty()) return ValidationErrorResponse(errors, parsed.value);
  return result;
}

std::variant<PaginateRequest, ApiResponse> ParsePaginateBody(std::string_view body_bytes,
                                                             const RequestOptions& options) {
  auto result = ParseRequestBody(body_bytes, BodyKind::kPaginate, options);
  if (ApiResponse* response = std::get_if<ApiResponse>(&result)) return std::move(*response);
  RequestFields& fields = std::get<RequestFields>(result);
  PaginateRequest request;
  request.query.filters = std::move(fields.filters);
  request.query.sort = fields.sort;
  request.query.limit = fields.limit;
  request.query.offset = fields.offset;
  request.page_text = std::move(fields.page_text);
  return request;
}

ApiResponse ValidationErrorResponse(const ErrorList& errors, const JsonValue& request_body) {
  ApiResponse r;
  r.status = 422;
  r.body.append(kEnvelopeStart);
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) r.body.push_back(',');
    AppendError(&r.body, errors[i]);
  }
  r.body.append("],\"request_body\":");
  AppendJsonValue(&r.body, request_body);
  r.body.push_back('}');
  return r;
}

ApiResponse JsonErrorResponse(const JsonParseResult& result) {
  if (result.status != JsonParseResult::Status::kMalformed) {
    return DetailResponse(400, "There was an error parsing the body");
  }
  ApiResponse r;
  r.status = 422;
  r.body.append(kEnvelopeStart);
  r.body.append("{\"type\":\"json_invalid\",\"loc\":[\"body\",");
  r.body.append(std::to_string(result.offset));
  r.body.append("],\"msg\":\"JSON decode error\",\"input\":{},\"ctx\":");
  r.body.append(CtxString("error", result.error));
  r.body.append("}],\"request_body\":");
  AppendJsonString(&r.body, result.text);
  r.body.push_back('}');
  return r;
}

ApiResponse DetailResponse(int status, std::string_view detail) {
  ApiResponse r;
  r.status = status;
  r.body = "{\"detail\":";
  AppendJsonString(&r.body, detail);
  r.body.push_back('}');
  return r;
}

}  // namespace taskdex
