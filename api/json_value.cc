// api/json_value.cc
//
// A recursive-descent JSON reader that mirrors CPython 3.12's C scanner
// (Modules/_json.c: scan_once_unicode, _parse_object_unicode,
// _parse_array_unicode, scanstring_unicode, _match_number_unicode) and
// json.decoder.JSONDecoder.decode, so that syntax errors stop where Python's
// stop and carry Python's messages. Positions are byte offsets into the
// decoded UTF-8 text while parsing; they become code-point offsets only when
// an error is reported. All structural characters are ASCII, so a byte scan
// takes the same decisions as Python's scan over code points.

#include "api/json_value.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "engine/text_format.h"

namespace taskdex {
namespace {

// Python's detect_encoding (json/__init__.py) followed by a strict UTF-8
// decode. Returns false for anything we do not decode (UTF-16/32, invalid or
// surrogate-encoding UTF-8). On success `*text` is the body without a
// leading UTF-8 BOM.
bool DecodeBody(std::string_view b, std::string_view* text) {
  auto starts = [&](std::string_view prefix) { return b.substr(0, prefix.size()) == prefix; };
  using namespace std::string_view_literals;
  if (starts("\x00\x00\xFE\xFF"sv) || starts("\xFF\xFE\x00\x00"sv)) return false;  // UTF-32
  if (starts("\xFE\xFF"sv) || starts("\xFF\xFE"sv)) return false;                  // UTF-16
  if (starts("\xEF\xBB\xBF"sv)) {
    b.remove_prefix(3);
  } else if (b.size() >= 4) {
    if (b[0] == 0 || b[1] == 0) return false;  // UTF-16 or UTF-32 without a BOM
  } else if (b.size() == 2) {
    if (b[0] == 0 || b[1] == 0) return false;
  }
  // Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF.
  size_t i = 0;
  const size_t n = b.size();
  while (i < n) {
    const auto c = static_cast<uint8_t>(b[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF are not characters
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i < static_cast<size_t>(len)) return false;
    const auto c1 = static_cast<uint8_t>(b[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (int k = 2; k < len; ++k) {
      const auto ck = static_cast<uint8_t>(b[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  *text = b;
  return true;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s), n_(s.size()) {}

  // JSONDecoder.decode: skip whitespace, scan one value, skip whitespace,
  // demand the end.
  bool Decode(JsonValue* out) {
    size_t idx = SkipSpace(0);
    size_t end = 0;
    if (!ScanOnce(idx, out, &end, 0)) return false;
    end = SkipSpace(end);
    if (end != n_) return Fail("Extra data", end);
    return true;
  }

  bool bad_body() const { return bad_body_; }
  const std::string& error() const { return error_; }
  size_t error_byte() const { return error_byte_; }

 private:
  bool Fail(const char* msg, size_t byte_offset) {
    error_ = msg;
    error_byte_ = byte_offset;
    return false;
  }
  bool FailBadBody() {
    bad_body_ = true;
    return false;
  }

  size_t SkipSpace(size_t idx) const {
    while (idx < n_ && IsJsonSpace(s_[idx])) ++idx;
    return idx;
  }

  bool Literal(size_t idx, std::string_view word) const { return s_.substr(idx, word.size()) == word; }

  // scan_once_unicode. A failure to find any value is Python's
  // StopIteration(idx), which the decoder reports as "Expecting value".
  bool ScanOnce(size_t idx, JsonValue* out, size_t* next, int depth) {
    if (idx >= n_) return Fail("Expecting value", idx);
    switch (s_[idx]) {
      case '"':
        out->kind = JsonValue::Kind::kString;
        return ScanString(idx + 1, &out->text, next);
      case '{':
        if (depth >= kMaxJsonDepth) return FailBadBody();  // Python: RecursionError
        return ParseObject(idx + 1, out, next, depth + 1);
      case '[':
        if (depth >= kMaxJsonDepth) return FailBadBody();
        return ParseArray(idx + 1, out, next, depth + 1);
      case 'n':
        if (Literal(idx, "null")) {
          out->kind = JsonValue::Kind::kNull;
          *next = idx + 4;
          return true;
        }
        break;
      case 't':
        if (Literal(idx, "true")) {
          out->kind = JsonValue::Kind::kBool;
          out->bool_value = true;
          *next = idx + 4;
          return true;
        }
        break;
      case 'f':
        if (Literal(idx, "false")) {
          out->kind = JsonValue::Kind::kBool;
          out->bool_value = false;
          *next = idx + 5;
          return true;
        }
        break;
      default:
        break;
    }
    // Python also accepts NaN, Infinity and -Infinity here; taskdex treats
    // them as malformed (paginate.md 1.1 [Engine]). Falling through to the
    // number matcher fails on them at `idx`, which is where Python would
    // have stopped without those constants.
    return MatchNumber(idx, out, next);
  }

  // _match_number_unicode.
  bool MatchNumber(size_t start, JsonValue* out, size_t* next) {
    size_t idx = start;
    if (s_[idx] == '-') {
      ++idx;
      if (idx >= n_) return Fail("Expecting value", start);
    }
    if (s_[idx] >= '1' && s_[idx] <= '9') {
      ++idx;
      while (idx < n_ && IsDigit(s_[idx])) ++idx;
    } else if (s_[idx] == '0') {
      ++idx;
    } else {
      return Fail("Expecting value", start);
    }
    bool is_float = false;
    if (idx + 1 < n_ && s_[idx] == '.' && IsDigit(s_[idx + 1])) {
      is_float = true;
      idx += 2;
      while (idx < n_ && IsDigit(s_[idx])) ++idx;
    }
    if (idx + 1 < n_ && (s_[idx] == 'e' || s_[idx] == 'E')) {
      const size_t e_start = idx;
      ++idx;
      if (idx + 1 < n_ && (s_[idx] == '-' || s_[idx] == '+')) ++idx;
      while (idx < n_ && IsDigit(s_[idx])) ++idx;
      if (IsDigit(s_[idx - 1])) {
        is_float = true;
      } else {
        idx = e_start;
      }
    }
    const std::string_view num = s_.substr(start, idx - start);
    *next = idx;
    if (is_float) {
      double d = 0;
      auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), d);
      if (ec == std::errc::result_out_of_range) {
        // Overflow or underflow; strtod tells them apart (HUGE_VAL vs a
        // tiny or zero value). The text is plain ASCII with a '.', which
        // the C locale reads.
        std::string copy(num);
        d = std::strtod(copy.c_str(), nullptr);
      } else if (ec != std::errc() || ptr != num.data() + num.size()) {
        return Fail("Expecting value", start);  // cannot happen: the grammar matched
      }
      // Python reads 1e400 as inf; taskdex calls it malformed ([Engine]).
      if (!std::isfinite(d)) return Fail("Expecting value", start);
      out->kind = JsonValue::Kind::kFloat;
      out->float_value = d;
      return true;
    }
    const size_t digits = num.size() - (num[0] == '-' ? 1 : 0);
    if (digits > kMaxIntDigits) return FailBadBody();  // int(): ValueError, not a JSON error
    out->kind = JsonValue::Kind::kInt;
    out->text = (num == "-0") ? std::string("0") : std::string(num);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(out->text.data(), out->text.data() + out->text.size(), v);
    out->fits_int64 = (ec == std::errc() && ptr == out->text.data() + out->text.size());
    out->int_value = out->fits_int64 ? v : 0;
    return true;
  }

  // Four hex digits at s_[at..at+4); -1 if any is not hex.
  int32_t Hex4(size_t at) const {
    int32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int h = HexValue(s_[at + k]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    return v;
  }

  // scanstring_unicode, strict. `end` is just past the opening quote.
  bool ScanString(size_t end, std::string* out, size_t* next_out) {
    const size_t begin = end - 1;
    out->clear();
    while (true) {
      size_t next = end;
      for (; next < n_; ++next) {
        const char d = s_[next];
        if (d == '"' || d == '\\') break;
        if (static_cast<uint8_t>(d) <= 0x1f) return Fail("Invalid control character at", next);
      }
      if (next >= n_) return Fail("Unterminated string starting at", begin);
      out->append(s_.data() + end, next - end);
      if (s_[next] == '"') {
        *next_out = next + 1;
        return true;
      }
      ++next;  // past the backslash
      if (next == n_) return Fail("Unterminated string starting at", begin);
      const char c = s_[next];
      if (c != 'u') {
        end = next + 1;
        char decoded;
        switch (c) {
          case '"': decoded = '"'; break;
          case '\\': decoded = '\\'; break;
          case '/': decoded = '/'; break;
          case 'b': decoded = '\b'; break;
          case 'f': decoded = '\f'; break;
          case 'n': decoded = '\n'; break;
          case 'r': decoded = '\r'; break;
          case 't': decoded = '\t'; break;
          default: return Fail("Invalid \\escape", end - 2);
        }
        out->push_back(decoded);
        continue;
      }
      ++next;  // past the 'u'
      end = next + 4;
      if (end >= n_) return Fail("Invalid \\uXXXX escape", next - 1);
      const int32_t c1 = Hex4(next);
      if (c1 < 0) return Fail("Invalid \\uXXXX escape", end - 5);
      uint32_t cp = static_cast<uint32_t>(c1);
      if (cp >= 0xD800 && cp <= 0xDBFF && end + 6 < n_ && s_[end] == '\\' && s_[end + 1] == 'u') {
        const int32_t c2 = Hex4(end + 2);
        if (c2 < 0) return Fail("Invalid \\uXXXX escape", end + 1);
        if (c2 >= 0xDC00 && c2 <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(c2) - 0xDC00);
          end += 6;
        }
      }
      // Python keeps a lone surrogate; taskdex calls it malformed ([Engine]).
      if (cp >= 0xD800 && cp <= 0xDFFF) return Fail("Invalid \\uXXXX escape", next - 1);
      AppendUtf8(out, cp);
    }
  }

  // _parse_object_unicode. `idx` is just past the '{'.
  bool ParseObject(size_t idx, JsonValue* out, size_t* next, int depth) {
    out->kind = JsonValue::Kind::kObject;
    absl::flat_hash_map<std::string, size_t> index;  // used once the object grows
    constexpr size_t kLinearScanMax = 16;
    idx = SkipSpace(idx);
    if (idx >= n_ || s_[idx] != '}') {
      while (true) {
        if (idx >= n_ || s_[idx] != '"') {
          return Fail("Expecting property name enclosed in double quotes", idx);
        }
        std::string key;
        size_t after = 0;
        if (!ScanString(idx + 1, &key, &after)) return false;
        idx = SkipSpace(after);
        if (idx >= n_ || s_[idx] != ':') return Fail("Expecting ':' delimiter", idx);
        idx = SkipSpace(idx + 1);
        JsonValue value;
        if (!ScanOnce(idx, &value, &after, depth)) return false;
        idx = after;
        // A repeated key keeps its first position and takes the new value.
        auto& members = out->members;
        size_t found = members.size();
        if (members.size() <= kLinearScanMax) {
          for (size_t k = 0; k < members.size(); ++k) {
            if (members[k].first == key) {
              found = k;
              break;
            }
          }
        } else {
          if (index.empty()) {
            for (size_t k = 0; k < members.size(); ++k) index.emplace(members[k].first, k);
          }
          auto it = index.find(key);
          if (it != index.end()) found = it->second;
        }
        if (found < members.size()) {
          members[found].second = std::move(value);
        } else {
          if (!index.empty()) index.emplace(key, members.size());
          members.emplace_back(std::move(key), std::move(value));
        }
        idx = SkipSpace(idx);
        if (idx < n_ && s_[idx] == '}') break;
        if (idx >= n_ || s_[idx] != ',') return Fail("Expecting ',' delimiter", idx);
        idx = SkipSpace(idx + 1);
      }
    }
    *next = idx + 1;
    return true;
  }

  // _parse_array_unicode. `idx` is just past the '['.
  bool ParseArray(size_t idx, JsonValue* out, size_t* next, int depth) {
    out->kind = JsonValue::Kind::kArray;
    idx = SkipSpace(idx);
    if (idx >= n_ || s_[idx] != ']') {
      while (true) {
        JsonValue value;
        size_t after = 0;
        if (!ScanOnce(idx, &value, &after, depth)) return false;
        out->items.push_back(std::move(value));
        idx = SkipSpace(after);
        if (idx < n_ && s_[idx] == ']') break;
        if (idx >= n_ || s_[idx] != ',') return Fail("Expecting ',' delimiter", idx);
        idx = SkipSpace(idx + 1);
      }
    }
    *next = idx + 1;
    return true;
  }

  std::string_view s_;
  size_t n_;
  bool bad_body_ = false;
  std::string error_;
  size_t error_byte_ = 0;
};

size_t CodePointsBefore(std::string_view text, size_t byte_offset) {
  size_t count = 0;
  for (size_t i = 0; i < byte_offset && i < text.size(); ++i) {
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) ++count;
  }
  return count;
}

}  // namespace

JsonValue::JsonValue() = default;
JsonValue::~JsonValue() = default;
JsonValue::JsonValue(const JsonValue&) = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(const JsonValue&) = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

JsonParseResult ParseJsonBody(std::string_view bytes) {
  JsonParseResult result;
  std::string_view text;
  if (!DecodeBody(bytes, &text)) {
    result.status = JsonParseResult::Status::kBadBody;
    return result;
  }
  Parser parser(text);
  if (parser.Decode(&result.value)) return result;
  if (parser.bad_body()) {
    result.status = JsonParseResult::Status::kBadBody;
    result.value = JsonValue();
    return result;
  }
  result.status = JsonParseResult::Status::kMalformed;
  result.value = JsonValue();
  result.error = parser.error();
  result.offset = CodePointsBefore(text, parser.error_byte());
  result.text = std::string(text);
  return result;
}

void AppendJsonValue(std::string* out, const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      out->append("null");
      return;
    case JsonValue::Kind::kBool:
      out->append(v.bool_value ? "true" : "false");
      return;
    case JsonValue::Kind::kInt:
      out->append(v.text);
      return;
    case JsonValue::Kind::kFloat:
      AppendPythonFloat(out, v.float_value);
      return;
    case JsonValue::Kind::kString:
      AppendJsonString(out, v.text);
      return;
    case JsonValue::Kind::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonValue(out, v.items[i]);
      }
      out->push_back(']');
      return;
    case JsonValue::Kind::kObject:
      out->push_back('{');
      for (size_t i = 0; i < v.members.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString(out, v.members[i].first);
        out->push_back(':');
        AppendJsonValue(out, v.members[i].second);
      }
      out->push_back('}');
      return;
  }
}

}  // namespace taskdex
