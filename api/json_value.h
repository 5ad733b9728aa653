// api/json_value.h
//
// A request body parsed the way Prefect's Python parses it (paginate.md 1.1):
// `json.loads` on the raw bytes, giving a small tree of JsonValue with
// integers of unlimited size (kept as their digit text), floats as doubles,
// strictly valid UTF-8 strings, and objects whose duplicate keys keep the
// LAST value at the position of the FIRST occurrence (Python's dict). Also
// writes a value back as Python's `json.dumps` would (the `input` and
// `request_body` echoes of paginate.md 3.2).
//
// Not for: response bodies or snapshot files (those go through simdjson and
// RapidJSON); validation against Prefect's schema (api/paginate_request.h).
//
// Why a hand-written parser and not simdjson: the errors must carry Python's
// messages at Python's character offsets ("Expecting ',' delimiter", "Extra
// data", ...), which depend on exactly where CPython's scanner stops; and
// duplicate keys, 4300-digit integers, lone surrogates and NaN literals each
// need a rule simdjson does not offer. The parser follows CPython 3.12's
// Modules/_json.c scanner step for step (byte positions, converted to code
// points only when an error is reported) and stays under 500 lines.
//
// Nesting deeper than kMaxJsonDepth arrays/objects is answered like Python's
// RecursionError, which is not a JSON syntax error: kBadBody (HTTP 400). So
// hostile input cannot overflow the stack of the parser, the validator or the
// echo writer.
//
// Thread safety: pure functions; a JsonValue is a plain value type.

#ifndef TASKDEX_API_JSON_VALUE_H_
#define TASKDEX_API_JSON_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskdex {

inline constexpr int kMaxJsonDepth = 512;
// Python's int() refuses integer literals with more digits than this.
inline constexpr size_t kMaxIntDigits = 4300;

struct JsonValue {
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kArray, kObject };

  // Out of line: `members` names JsonValue in a std::pair, which must not be
  // instantiated before the class is complete (clang insists).
  JsonValue();
  ~JsonValue();
  JsonValue(const JsonValue&);
  JsonValue(JsonValue&&) noexcept;
  JsonValue& operator=(const JsonValue&);
  JsonValue& operator=(JsonValue&&) noexcept;

  Kind kind = Kind::kNull;
  bool bool_value = false;  // kBool
  // kInt: canonical decimal text ("-0" is "0"); whether it fits in int64 and
  // if so its value.
  bool fits_int64 = false;
  int64_t int_value = 0;
  double float_value = 0;  // kFloat (always finite)
  // kInt: the digit text; kString: the unescaped UTF-8 contents.
  std::string text;
  std::vector<JsonValue> items;  // kArray
  // kObject: keys in first-occurrence order, each with its last value.
  std::vector<std::pair<std::string, JsonValue>> members;

  bool is_null() const { return kind == Kind::kNull; }
  bool is_object() const { return kind == Kind::kObject; }
  // kObject only: the member named `key`, or nullptr.
  const JsonValue* Find(std::string_view key) const;
};

struct JsonParseResult {
  enum class Status : uint8_t {
    kOk,
    // Not decodable as UTF-8 (or UTF-16/32, which we do not decode), an
    // integer literal over kMaxIntDigits digits, or nesting deeper than
    // kMaxJsonDepth: Prefect's 400 "There was an error parsing the body".
    kBadBody,
    // A JSON syntax error: 422 json_invalid.
    kMalformed,
  };
  Status status = Status::kOk;
  JsonValue value;  // kOk
  // kMalformed: Python's message (without the line/column suffix) and the
  // offset in code points of `text`, where the scanner stopped.
  std::string error;
  size_t offset = 0;
  // kMalformed: the decoded text (UTF-8, a leading BOM removed), Python's
  // JSONDecodeError.doc.
  std::string text;
};

// Parses a whole request body. REQUIRES: !bytes.empty() (0 bytes means "no
// body" and is the caller's business).
JsonParseResult ParseJsonBody(std::string_view bytes);

// Appends `v` as Python's json.dumps(ensure_ascii=False) writes the Python
// value json.loads produced, in compact form: integers digit for digit,
// floats in repr form, strings escaped minimally, key order kept.
void AppendJsonValue(std::string* out, const JsonValue& v);

}  // namespace taskdex

#endif  // TASKDEX_API_JSON_VALUE_H_
