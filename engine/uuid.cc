// engine/uuid.cc
//
// UUID parsing with the `uuid` crate's accepted forms (Uuid::try_parse) and
// its error analysis (InvalidUuid::into_err), so reasons read like pydantic's.

#include "engine/uuid.h"

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace taskdex {
namespace {

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHex(unsigned char c) { return HexValue(static_cast<char>(c)) >= 0; }

// HexValue of every byte, -1 for a non-digit. Why a table: ParseUuid runs
// several times per row of a database load (id, references, state), and
// the three-range compare per character was a visible share of it
// (bench/RESULTS.md, session 12).
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = static_cast<int8_t>(HexValue(static_cast<char>(c)));
  return t;
}();

// 32 hex digits, no hyphens.
std::optional<Uuid> ParseSimple(std::string_view s) {
  Uuid u;
  int bad = 0;
  for (int i = 0; i < 16; ++i) {
    int hi = kHexValues[static_cast<unsigned char>(s[2 * i])];
    int lo = kHexValues[static_cast<unsigned char>(s[2 * i + 1])];
    bad |= hi | lo;  // negative when either is not a digit
    u.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (bad < 0) return std::nullopt;
  return u;
}

// 36 chars, hyphens at 8, 13, 18, 23.
std::optional<Uuid> ParseHyphenated(std::string_view s) {
  if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return std::nullopt;
  char digits[32];
  int n = 0;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    digits[n++] = s[i];
  }
  return ParseSimple(std::string_view(digits, 32));
}

// Decodes one UTF-8 sequence at s[i] (best effort; input is valid UTF-8).
std::string_view Utf8CharAt(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (i + len > s.size()) len = s.size() - i;
  return s.substr(i, len);
}

// The uuid crate's InvalidUuid::into_err, rendered with the short wording the
// spec uses for invalid characters.
std::string Explain(std::string_view input) {
  std::string_view body = input;
  size_t offset = 0;
  bool simple = true;
  if (input.size() >= 2 && input.front() == '{' && input.back() == '}') {
    body = input.substr(1, input.size() - 2);
    offset = 1;
    simple = false;
  } else if (input.substr(0, 9) == "urn:uuid:") {
    body = input.substr(9);
    offset = 9;
    simple = false;
  }
  size_t hyphens = 0;
  size_t group_bounds[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < body.size();) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c >= 0x80) {
      return absl::StrFormat("invalid character: found `%s` at %d", Utf8CharAt(body, i),
                             i + offset + 1);
    }
    if (c == '-') {
      if (hyphens < 4) group_bounds[hyphens] = i;
      ++hyphens;
    } else if (!IsHex(c)) {
      return absl::StrFormat("invalid character: found `%c` at %d", static_cast<char>(c),
                             i + offset + 1);
    }
    ++i;
  }
  if (hyphens == 0 && simple) {
    return absl::StrFormat("invalid length: expected length 32 for simple format, found %d",
                           input.size());
  }
  if (hyphens != 4) {
    return absl::StrFormat("invalid group count: expected 5, found %d", hyphens + 1);
  }
  static constexpr size_t kBlockStarts[5] = {0, 9, 14, 19, 24};
  static constexpr int kExpected[5] = {8, 4, 4, 4, 12};
  for (int g = 0; g < 4; ++g) {
    if (group_bounds[g] != kBlockStarts[g + 1] - 1) {
      return absl::StrFormat("invalid group length in group %d: expected %d, found %d", g,
                             kExpected[g], group_bounds[g] - kBlockStarts[g]);
    }
  }
  // The crate measures the last group on the whole input (braces included).
  size_t last = input.size() >= kBlockStarts[4] ? input.size() - kBlockStarts[4] : 0;
  return absl::StrFormat("invalid group length in group 4: expected 12, found %d", last);
}

}  // namespace

std::optional<Uuid> ParseUuid(std::string_view text, std::string* reason) {
  std::optional<Uuid> result;
  if (text.size() == 32) {
    result = ParseSimple(text);
  } else if (text.size() == 36) {
    result = ParseHyphenated(text);
  } else if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    result = ParseHyphenated(text.substr(1, 36));
  } else if (text.size() == 45 && text.substr(0, 9) == "urn:uuid:") {
    result = ParseHyphenated(text.substr(9));
  }
  if (!result && reason != nullptr) *reason = Explain(text);
  return result;
}

void FormatUuid(const Uuid& u, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  int pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[pos++] = '-';
    out[pos++] = kHex[u.bytes[i] >> 4];
    out[pos++] = kHex[u.bytes[i] & 0xF];
  }
}

std::string UuidToString(const Uuid& u) {
  std::string s(36, '\0');
  FormatUuid(u, s.data());
  return s;
}

}  // namespace taskdex
