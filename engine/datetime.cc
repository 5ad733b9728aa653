// engine/datetime.cc
//
// pydantic 2.13 / speedate 0.17 datetime rules (paginate.md 2.2) and
// Prefect's datetime output form (paginate.md 8.7).
//
// Layout: ParseIso() matches the RFC 3339-like form; ParseUnixString() the
// integer and decimal Unix-time strings; UnixTime() turns (t, µ) into an
// instant with the seconds/milliseconds watershed and range checks. A
// rejected string's reason is what speedate says when the same string is
// parsed as a *date* (pydantic reports datetime_from_date's error).

#include "engine/datetime.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace taskdex {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kWatershed = 20000000000;  // 2e10
constexpr int64_t kMinSeconds = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kYear1Seconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z

constexpr char kTooShort[] = "input is too short";
constexpr char kExtraCharacters[] = "unexpected extra characters at the end of the input";
constexpr char kInvalidCharYear[] = "invalid character in year";
constexpr char kInvalidCharMonth[] = "invalid character in month";
constexpr char kInvalidCharDay[] = "invalid character in day";
constexpr char kInvalidCharDateSep[] = "invalid date separator, expected `-`";
constexpr char kOutOfRangeMonth[] = "month value is outside expected range of 1-12";
constexpr char kOutOfRangeDay[] = "day value is outside expected range";
constexpr char kDateTooSmall[] = "dates before 0000 are not supported as unix timestamps";
constexpr char kDateTooLarge[] = "dates after 9999 are not supported as unix timestamps";
constexpr char kYear0Reason[] = "year 0 is out of range";

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool IsLeap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Two digits at s[i], or -1.
int TwoDigits(std::string_view s, size_t i) {
  if (i + 2 > s.size() || !IsDigit(s[i]) || !IsDigit(s[i + 1])) return -1;
  return (s[i] - '0') * 10 + (s[i + 1] - '0');
}

// Speedate's Date::parse_bytes_partial + the length rule: the reason a string
// is not a date, or nullptr if its first 10 bytes form a valid date.
const char* DatePartError(std::string_view s, int* year, int* month, int* day) {
  if (s.size() < 10) return kTooShort;
  for (int i = 0; i < 4; ++i) {
    if (!IsDigit(s[i])) return kInvalidCharYear;
  }
  if (s[4] != '-') return kInvalidCharDateSep;
  if (!IsDigit(s[5]) || !IsDigit(s[6])) return kInvalidCharMonth;
  if (s[7] != '-') return kInvalidCharDateSep;
  if (!IsDigit(s[8]) || !IsDigit(s[9])) return kInvalidCharDay;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = TwoDigits(s, 5);
  int d = TwoDigits(s, 8);
  if (m < 1 || m > 12) return kOutOfRangeMonth;
  if (d < 1 || d > DaysInMonth(y, m)) return kOutOfRangeDay;
  *year = y;
  *month = m;
  *day = d;
  return nullptr;
}

enum class UnixError { kOk, kTooSmall, kTooLarge, kYear0 };

const char* UnixErrorReason(UnixError e) {
  switch (e) {
    case UnixError::kTooSmall:
      return kDateTooSmall;
    case UnixError::kTooLarge:
      return kDateTooLarge;
    case UnixError::kYear0:
      return kYear0Reason;
    case UnixError::kOk:
      break;
  }
  return "";
}

// paginate.md 2.2 "Unix time (t, µ)". REQUIRES: 0 <= micros <= 10^6.
UnixError UnixTime(int64_t t, int64_t micros, Micros* out) {
  if (t == INT64_MIN) return UnixError::kTooSmall;
  int64_t seconds = t;
  int64_t extra = 0;
  if (t > kWatershed || t < -kWatershed) {
    seconds = FloorDiv(t, 1000);
    extra = (t - 1000 * seconds) * 1000;
  }
  int64_t u = micros + extra;
  if (u >= kMicrosPerSecond) {
    seconds += u / kMicrosPerSecond;
    u %= kMicrosPerSecond;
  }
  if (seconds < kMinSeconds) return UnixError::kTooSmall;
  if (seconds > kMaxSeconds) return UnixError::kTooLarge;
  if (seconds < kYear1Seconds) return UnixError::kYear0;
  *out = seconds * kMicrosPerSecond + u;
  return UnixError::kOk;
}

// The wrapping digit loop: accumulates s[begin..end) (all ASCII digits) in
// uint64 modulo 2^64; false if the value reaches 2^63 after any digit.
bool AccumulateDigits(std::string_view digits, uint64_t* v) {
  uint64_t acc = 0;
  for (char c : digits) {
    acc = acc * 10 + static_cast<uint64_t>(c - '0');
    if (acc >= (uint64_t{1} << 63)) return false;
  }
  *v = acc;
  return true;
}

// Integer form: [+-]?[0-9]+, accumulated as above. Returns false if `s` is not
// of that form or overflows.
bool ParseUnixInteger(std::string_view s, int64_t* t) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  uint64_t v = 0;
  if (!AccumulateDigits(s, &v)) return false;
  *t = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

// Decimal form: [+-]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?, with the
// integer part through the wrapping loop. Sets *f to the literal's value.
bool ParseUnixDecimal(std::string_view s, double* f) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_begin = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  size_t int_end = i;
  if (i >= s.size() || s[i] != '.') return false;
  ++i;
  size_t frac_begin = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (int_end == int_begin && i == frac_begin) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_begin = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == exp_begin) return false;
  }
  if (i != s.size()) return false;
  uint64_t ignored = 0;
  if (!AccumulateDigits(s.substr(int_begin, int_end - int_begin), &ignored)) return false;
  std::string copy(s);
  *f = std::strtod(copy.c_str(), nullptr);
  return true;
}

// A double of seconds (or milliseconds) floored to int64, as Rust's saturating
// `as` would, reported as out of range instead of saturated.
UnixError FloorToInt64(double x, int64_t* out) {
  double fl = std::floor(x);
  if (!(fl >= -9223372036854775808.0)) return UnixError::kTooSmall;  // NaN too
  if (fl >= 9223372036854775808.0) return UnixError::kTooLarge;
  *out = static_cast<int64_t>(fl);
  return UnixError::kOk;
}

// Decimal Unix-time string: n = f or f/1000, s = floor(n), µ from the rest.
UnixError DecimalUnixTime(double f, Micros* out) {
  double n = std::fabs(f) > 2e10 ? f / 1000.0 : f;
  int64_t s = 0;
  if (UnixError e = FloorToInt64(n, &s); e != UnixError::kOk) return e;
  int64_t micros = static_cast<int64_t>(std::round((n - std::floor(n)) * 1e6));
  return UnixTime(s, micros, out);
}

struct IsoResult {
  bool matched = false;
  int year = 0;
  Micros value = 0;
};

// The ISO form of paginate.md 2.2 (speedate's parse_bytes_rfc3339).
IsoResult ParseIso(std::string_view s) {
  IsoResult r;
  int y = 0, mo = 0, d = 0;
  if (DatePartError(s, &y, &mo, &d) != nullptr) return r;
  int64_t local = DaysFromCivil(y, mo, d) * 86400;
  int64_t frac = 0;
  int64_t offset = 0;
  size_t i = 10;
  if (i < s.size()) {
    char sep = s[i];
    if (sep != 'T' && sep != 't' && sep != ' ' && sep != '_') return r;
    ++i;
    int hh = TwoDigits(s, i);
    if (hh < 0 || hh > 23) return r;
    i += 2;
    if (i >= s.size() || s[i] != ':') return r;
    ++i;
    int mm = TwoDigits(s, i);
    if (mm < 0 || mm > 59) return r;
    i += 2;
    int ss = 0;
    if (i < s.size() && s[i] == ':') {
      ++i;
      ss = TwoDigits(s, i);
      if (ss < 0 || ss > 59) return r;
      i += 2;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        size_t begin = i;
        int64_t scale = 100000;
        while (i < s.size() && IsDigit(s[i])) {
          if (i - begin < 6) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
          }
          ++i;
        }
        if (i == begin) return r;
      }
    }
    local += hh * 3600 + mm * 60 + ss;
    if (i < s.size()) {
      int sign = 0;
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else {
        if (s[i] == '+') {
          sign = 1;
          ++i;
        } else if (s[i] == '-') {
          sign = -1;
          ++i;
        } else if (s.substr(i, 3) == "\xE2\x88\x92") {  // U+2212 MINUS SIGN
          sign = -1;
          i += 3;
        } else {
          return r;
        }
        int oh = TwoDigits(s, i);
        if (oh < 0) return r;
        i += 2;
        if (i < s.size() && s[i] == ':') ++i;
        int om = TwoDigits(s, i);
        if (om < 0 || om > 59) return r;
        i += 2;
        int total = oh * 3600 + om * 60;
        if (total >= 86400) return r;
        offset = sign * total;
      }
      if (i != s.size()) return r;
    }
  }
  r.matched = true;
  r.year = y;
  r.value = (local - offset) * kMicrosPerSecond + frac;
  return r;
}

// What speedate's Date::parse_bytes says about a string the datetime rules
// rejected: the date part's error, or, for an integer string, the range
// error of its Unix time.
std::string DateReason(std::string_view s) {
  int y = 0, m = 0, d = 0;
  const char* e = DatePartError(s, &y, &m, &d);
  if (e == nullptr) {
    if (s.size() > 10) return kExtraCharacters;
    return "";  // a valid date: not reached for rejected strings
  }
  int64_t t = 0;
  if (ParseUnixInteger(s, &t)) {
    Micros ignored = 0;
    UnixError ue = UnixTime(t, 0, &ignored);
    if (ue == UnixError::kTooSmall || ue == UnixError::kTooLarge) return UnixErrorReason(ue);
  }
  return e;
}

DatetimeResult Error(DatetimeErrorType type, std::string reason) {
  DatetimeResult r;
  r.error = type;
  r.reason = std::move(reason);
  return r;
}

DatetimeResult FromUnix(UnixError e, Micros v, DatetimeErrorType on_range_error) {
  if (e == UnixError::kOk) {
    DatetimeResult r;
    r.value = v;
    return r;
  }
  if (e == UnixError::kYear0) return Error(DatetimeErrorType::kParsing, kYear0Reason);
  return Error(on_range_error, UnixErrorReason(e));
}

}  // namespace

std::string_view DatetimeErrorTypeName(DatetimeErrorType t) {
  switch (t) {
    case DatetimeErrorType::kFromDateParsing:
      return "datetime_from_date_parsing";
    case DatetimeErrorType::kParsing:
      return "datetime_parsing";
    case DatetimeErrorType::kType:
      return "datetime_type";
    case DatetimeErrorType::kNone:
      break;
  }
  return "";
}

DatetimeResult ParseDatetimeString(std::string_view s) {
  IsoResult iso = ParseIso(s);
  if (iso.matched) {
    if (iso.year == 0) return Error(DatetimeErrorType::kParsing, kYear0Reason);
    DatetimeResult r;
    r.value = iso.value;
    return r;
  }
  Micros v = 0;
  int64_t t = 0;
  if (ParseUnixInteger(s, &t)) {
    UnixError e = UnixTime(t, 0, &v);
    if (e == UnixError::kOk || e == UnixError::kYear0) {
      return FromUnix(e, v, DatetimeErrorType::kFromDateParsing);
    }
  } else if (double f = 0; ParseUnixDecimal(s, &f)) {
    UnixError e = DecimalUnixTime(f, &v);
    if (e == UnixError::kOk || e == UnixError::kYear0) {
      return FromUnix(e, v, DatetimeErrorType::kFromDateParsing);
    }
  }
  return Error(DatetimeErrorType::kFromDateParsing, DateReason(s));
}

DatetimeResult DatetimeFromInt(int64_t v) {
  Micros out = 0;
  UnixError e = UnixTime(v, 0, &out);
  return FromUnix(e, out, DatetimeErrorType::kParsing);
}

DatetimeResult DatetimeFromDouble(double x) {
  if (!std::isfinite(x)) return Error(DatetimeErrorType::kType, "");
  double frac = std::fabs(x - std::trunc(x));
  double scale = std::fabs(x) <= 2e10 ? 1e6 : 1e3;
  int64_t micros = static_cast<int64_t>(std::round(frac * scale));
  int64_t t = 0;
  Micros out = 0;
  UnixError e = FloorToInt64(x, &t);
  if (e == UnixError::kOk) e = UnixTime(t, micros, &out);
  return FromUnix(e, out, DatetimeErrorType::kParsing);
}

void AppendDatetime(std::string* out, Micros t) {
  int64_t secs = FloorDiv(t, kMicrosPerSecond);
  int64_t us = t - secs * kMicrosPerSecond;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y = 0;
  int m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buf[48];
  char* p = buf;
  // Fixed widths written from the right, unrolled: a load formats two or
  // three datetimes per task run (state normalization), and the
  // variable-width loop was a visible share of it (bench/RESULTS.md,
  // session 12).
  auto put2 = [&p](int64_t v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
    p += 2;
  };
  if (y < 0) {
    *p++ = '-';
    y = -y;
  }
  if (y < 10000) {
    put2(y / 100);
    put2(y % 100);
  } else {
    char tmp[24];
    int n = 0;
    for (int64_t v = y; v > 0; v /= 10) tmp[n++] = static_cast<char>('0' + v % 10);
    while (n > 0) *p++ = tmp[--n];
  }
  *p++ = '-';
  put2(m);
  *p++ = '-';
  put2(d);
  *p++ = 'T';
  put2(sod / 3600);
  *p++ = ':';
  put2(sod / 60 % 60);
  *p++ = ':';
  put2(sod % 60);
  if (us != 0) {
    *p++ = '.';
    put2(us / 10000);
    put2(us / 100 % 100);
    put2(us % 100);
  }
  *p++ = 'Z';
  out->append(buf, p - buf);
}

std::string FormatDatetime(Micros t) {
  std::string s;
  AppendDatetime(&s, t);
  return s;
}

}  // namespace taskdex
