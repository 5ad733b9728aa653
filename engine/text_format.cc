// engine/text_format.cc
//
// Python's float repr and json.dumps string escaping, rebuilt from
// std::to_chars's shortest digits (paginate.md 8.7).

#include "engine/text_format.h"

#include <charconv>
#include <cmath>

namespace taskdex {
namespace {

// Shortest round-trip digits of |v| (no sign, no point, no trailing zeros)
// and the decimal exponent k of the first digit: |v| = d1.d2...dn x 10^k.
struct ShortestDigits {
  char digits[24];
  int n = 0;
  int k = 0;
};

ShortestDigits Shortest(double v) {
  ShortestDigits r;
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  const char* p = buf;
  const char* end = res.ptr;
  for (; p < end && *p != 'e'; ++p) {
    if (*p != '.') r.digits[r.n++] = *p;
  }
  // Exponent: e[+-]dd...
  ++p;
  bool neg = *p == '-';
  ++p;
  int k = 0;
  for (; p < end; ++p) k = k * 10 + (*p - '0');
  r.k = neg ? -k : k;
  while (r.n > 1 && r.digits[r.n - 1] == '0') --r.n;
  return r;
}

// Fixed notation with at least one digit after the point.
void AppendFixed(std::string* out, const ShortestDigits& d) {
  if (d.k >= 0) {
    int int_digits = d.k + 1;
    for (int i = 0; i < int_digits; ++i) out->push_back(i < d.n ? d.digits[i] : '0');
    out->push_back('.');
    if (d.n > int_digits) {
      out->append(d.digits + int_digits, d.n - int_digits);
    } else {
      out->push_back('0');
    }
  } else {
    out->append("0.");
    out->append(static_cast<size_t>(-d.k - 1), '0');
    out->append(d.digits, d.n);
  }
}

void AppendMantissa(std::string* out, const ShortestDigits& d) {
  out->push_back(d.digits[0]);
  if (d.n > 1) {
    out->push_back('.');
    out->append(d.digits + 1, d.n - 1);
  }
}

void AppendInt(std::string* out, int v) {
  char buf[16];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

double MicrosToSeconds(int64_t micros) {
  // Exact operands below 2^53 µs (285 years), so one correctly rounded division.
  return static_cast<double>(micros) / 1e6;
}

}  // namespace

void AppendPythonFloat(std::string* out, double v) {
  if (std::signbit(v)) out->push_back('-');
  if (v == 0) {
    out->append("0.0");
    return;
  }
  ShortestDigits d = Shortest(v);
  if (d.k >= -4 && d.k < 16) {
    AppendFixed(out, d);
    return;
  }
  AppendMantissa(out, d);
  out->push_back('e');
  out->push_back(d.k < 0 ? '-' : '+');
  int a = d.k < 0 ? -d.k : d.k;
  if (a < 10) out->push_back('0');
  AppendInt(out, a);
}

void AppendDurationSeconds(std::string* out, int64_t micros) {
  AppendPythonFloat(out, MicrosToSeconds(micros));
}

void AppendPydanticJsonFloat(std::string* out, double v) {
  if (std::signbit(v)) out->push_back('-');
  if (v == 0) {
    out->append("0.0");
    return;
  }
  ShortestDigits d = Shortest(v);
  if (d.k >= -5 && d.k < 16) {
    AppendFixed(out, d);
    return;
  }
  AppendMantissa(out, d);
  out->push_back('e');
  AppendInt(out, d.k);
}

void AppendPydanticDurationSeconds(std::string* out, int64_t micros) {
  AppendPydanticJsonFloat(out, MicrosToSeconds(micros));
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending verbatim run
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\r':
        out->append("\\r");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, 6);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace taskdex
