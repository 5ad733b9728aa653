#include "engine/datetime.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

struct Accepted {
  const char* input;
  const char* utc;  // FormatDatetime of the instant
};

TEST(DatetimeTest, AcceptsIsoStrings) {
  const Accepted cases[] = {
      {"2024-05-01T10:04:00Z", "2024-05-01T10:04:00Z"},
      {"2024-05-01", "2024-05-01T00:00:00Z"},
      {"2024-05-01T10:04", "2024-05-01T10:04:00Z"},
      {"2024-05-01 10:04", "2024-05-01T10:04:00Z"},
      {"2024-05-01_10:04:05", "2024-05-01T10:04:05Z"},
      {"2024-05-01t10:04z", "2024-05-01T10:04:00Z"},
      {"2024-05-01T10:04:05,5", "2024-05-01T10:04:05.500000Z"},
      {"2024-05-01T10:04:05.1234567", "2024-05-01T10:04:05.123456Z"},
      {"2024-05-01T10:04:05.9999999Z", "2024-05-01T10:04:05.999999Z"},
      {"2024-05-01T10:04:05.000001", "2024-05-01T10:04:05.000001Z"},
      {"2024-05-01T10:04:00+02:00", "2024-05-01T08:04:00Z"},
      {"2024-05-01T10:04:00-0230", "2024-05-01T12:34:00Z"},
      {"2024-05-01T10:04:00\xE2\x88\x92" "02:00", "2024-05-01T12:04:00Z"},  // U+2212
      {"2024-05-01T10:04+23:59", "2024-04-30T10:05:00Z"},
      {"2024-05-01T10:04:00.5-00:00", "2024-05-01T10:04:00.500000Z"},
      {"2024-02-29", "2024-02-29T00:00:00Z"},
      {"2000-02-29T23:59:59", "2000-02-29T23:59:59Z"},
      {"0001-01-01", "0001-01-01T00:00:00Z"},
      {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
      // Offsets at the edge of the range leave years 1..9999 (accepted).
      {"0001-01-01T00:30:00+01:00", "0000-12-31T23:30:00Z"},
      {"9999-12-31T23:00:00-02:00", "10000-01-01T01:00:00Z"},
  };
  for (const Accepted& c : cases) {
    SCOPED_TRACE(c.input);
    DatetimeResult r = ParseDatetimeString(c.input);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(FormatDatetime(r.value), c.utc);
  }
}

TEST(DatetimeTest, AcceptsUnixTimeStrings) {
  const Accepted cases[] = {
      {"0", "1970-01-01T00:00:00Z"},
      {"+60", "1970-01-01T00:01:00Z"},
      {"-1", "1969-12-31T23:59:59Z"},
      {"20240501", "1970-08-23T06:21:41Z"},  // a Unix time, not a date
      {"18446744073709551616", "1970-01-01T00:00:00Z"},  // 2^64 wraps to 0
      {"18446744073709551617", "1970-01-01T00:00:01Z"},
      {"20000000000", "2603-10-11T11:33:20Z"},
      {"20000000001", "1970-08-20T11:33:20.001000Z"},
      {"1700000000000", "2023-11-14T22:13:20Z"},
      {"-20000000001", "1969-05-14T12:26:39.999000Z"},
      {"-62135596801", "1968-01-12T20:06:43.199000Z"},  // milliseconds
      // Decimal strings.
      {"1.", "1970-01-01T00:00:01Z"},
      {".5", "1970-01-01T00:00:00.500000Z"},
      {"-.5", "1969-12-31T23:59:59.500000Z"},
      {"1.5e3", "1970-01-01T00:25:00Z"},
      {"1.e5", "1970-01-02T03:46:40Z"},
      {"+1.25", "1970-01-01T00:00:01.250000Z"},
      {"1700000000.5", "2023-11-14T22:13:20.500000Z"},
      {"1700000000000.5", "2023-11-14T22:13:20.000500Z"},
      {"1700000000000000.0", "2023-11-14T22:13:20Z"},  // divided by 1000 twice
  };
  for (const Accepted& c : cases) {
    SCOPED_TRACE(c.input);
    DatetimeResult r = ParseDatetimeString(c.input);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(FormatDatetime(r.value), c.utc);
  }
}

struct Rejected {
  const char* input;
  DatetimeErrorType type;
  const char* reason;
};

TEST(DatetimeTest, RejectsStringsWithDateReasons) {
  constexpr auto kDate = DatetimeErrorType::kFromDateParsing;
  constexpr auto kParse = DatetimeErrorType::kParsing;
  const char* kExtra = "unexpected extra characters at the end of the input";
  const Rejected cases[] = {
      {"2024-05-01T10", kDate, kExtra},
      {"2024-05-01T10:04:00.", kDate, kExtra},
      {"2024-05-01T10:04.5", kDate, kExtra},
      {"2024-05-01Z", kDate, kExtra},
      {"2024-05-01T24:00", kDate, kExtra},
      {"2024-05-01T10:04:60", kDate, kExtra},
      {"2024-05-01T10:04:00 Z", kDate, kExtra},
      {"2024-05-01T10:04:00UTC", kDate, kExtra},
      {"2024-05-01T10:04:00+24:00", kDate, kExtra},
      {"2024-05-01T10:04:00+02", kDate, kExtra},
      {"2024-05-01T10:04:00+2:00", kDate, kExtra},
      {"2024-05-01T10:04:00+02:60", kDate, kExtra},
      {"2024-05-01T", kDate, kExtra},
      {"2024-05-01 ", kDate, kExtra},
      {"2024-5-01", kDate, "input is too short"},
      {"", kDate, "input is too short"},
      {"abc", kDate, "input is too short"},
      {"1e3", kDate, "input is too short"},
      {".", kDate, "input is too short"},
      {"1.5e", kDate, "input is too short"},
      {"+2024-05-01", kDate, "invalid character in year"},
      {" 2024-05-01", kDate, "invalid character in year"},
      {"XX1494012000", kDate, "invalid character in year"},
      {"20231107T053156Z", kDate, "invalid date separator, expected `-`"},
      {"2024-W18-3", kDate, "invalid character in month"},
      {"2024-05-x1", kDate, "invalid character in day"},
      {"2024-13-01", kDate, "month value is outside expected range of 1-12"},
      {"2023-02-29", kDate, "day value is outside expected range"},
      {"2024-04-31T10:00", kDate, "day value is outside expected range"},
      // 2^63 stops the digit loop: the date error of the text is reported.
      {"9223372036854775808", kDate, "invalid date separator, expected `-`"},
      {"1700000000000000", kDate, "dates after 9999 are not supported as unix timestamps"},
      {"-62167219201000", kDate, "dates before 0000 are not supported as unix timestamps"},
      // Year 0 is Python's error, with its own type.
      {"0000-01-01", kParse, "year 0 is out of range"},
      {"0000-12-31T23:00:00-02:00", kParse, "year 0 is out of range"},
      {"-62135596801000", kParse, "year 0 is out of range"},
  };
  for (const Rejected& c : cases) {
    SCOPED_TRACE(c.input);
    DatetimeResult r = ParseDatetimeString(c.input);
    EXPECT_EQ(r.error, c.type);
    EXPECT_EQ(r.reason, c.reason);
  }
}

TEST(DatetimeTest, IntegersAreUnixTimes) {
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(0).value), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(20000000000).value), "2603-10-11T11:33:20Z");
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(20000000001).value), "1970-08-20T11:33:20.001000Z");
  // Beyond 2e10 an integer is milliseconds.
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(-62135596800000).value), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(253402300799).value), "1978-01-11T21:31:40.799000Z");
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(-20000000000).value), "1336-03-23T12:26:40Z");
  EXPECT_EQ(FormatDatetime(DatetimeFromInt(253402300799999).value),
            "9999-12-31T23:59:59.999000Z");

  DatetimeResult r = DatetimeFromInt(253402300800000);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "dates after 9999 are not supported as unix timestamps");
  r = DatetimeFromInt(INT64_MIN);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "dates before 0000 are not supported as unix timestamps");
  r = DatetimeFromInt(-62135596801000);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "year 0 is out of range");
}

TEST(DatetimeTest, FloatsFollowPydanticQuirks) {
  struct Case {
    double x;
    const char* utc;
  } cases[] = {
      {0.0, "1970-01-01T00:00:00Z"},
      {-0.0, "1970-01-01T00:00:00Z"},
      {1.5, "1970-01-01T00:00:01.500000Z"},
      {-1.25, "1969-12-31T23:59:58.250000Z"},  // floor(x) plus |fraction|
      {-0.5, "1969-12-31T23:59:59.500000Z"},
      {20000000000.5, "2603-10-11T11:33:20.000500Z"},  // fraction read as ms
      {20000000001.0, "1970-08-20T11:33:20.001000Z"},
      {1700000000.9999999, "2023-11-14T22:13:21Z"},  // µ rounds up to 10^6
      {1e3, "1970-01-01T00:16:40Z"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.x);
    DatetimeResult r = DatetimeFromDouble(c.x);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(FormatDatetime(r.value), c.utc);
  }
  DatetimeResult r = DatetimeFromDouble(1e19);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "dates after 9999 are not supported as unix timestamps");
  r = DatetimeFromDouble(-1e300);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "dates before 0000 are not supported as unix timestamps");
  r = DatetimeFromDouble(-62135596801000.5);
  EXPECT_EQ(r.error, DatetimeErrorType::kParsing);
  EXPECT_EQ(r.reason, "year 0 is out of range");
  r = DatetimeFromDouble(std::numeric_limits<double>::infinity());  // integer beyond double
  EXPECT_EQ(r.error, DatetimeErrorType::kType);
}

TEST(DatetimeTest, ErrorTypeNames) {
  EXPECT_EQ(DatetimeErrorTypeName(DatetimeErrorType::kFromDateParsing),
            "datetime_from_date_parsing");
  EXPECT_EQ(DatetimeErrorTypeName(DatetimeErrorType::kParsing), "datetime_parsing");
  EXPECT_EQ(DatetimeErrorTypeName(DatetimeErrorType::kType), "datetime_type");
}

TEST(DatetimeTest, FormatsUtcWithFractionOnlyWhenNonZero) {
  EXPECT_EQ(FormatDatetime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatDatetime(1699335116000000), "2023-11-07T05:31:56Z");
  EXPECT_EQ(FormatDatetime(1699335116120000), "2023-11-07T05:31:56.120000Z");
  EXPECT_EQ(FormatDatetime(1699335116123456), "2023-11-07T05:31:56.123456Z");
  EXPECT_EQ(FormatDatetime(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatDatetime(-1000000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatDatetime(-86400000000 - 500000), "1969-12-30T23:59:59.500000Z");
  std::string s = "x";
  AppendDatetime(&s, 951782400000000);  // 2000-02-29
  EXPECT_EQ(s, "x2000-02-29T00:00:00Z");
}

TEST(DatetimeTest, RoundTripsThroughFormat) {
  for (int64_t t = -62135596800000000; t < 253402300799000000; t += 987654321987) {
    DatetimeResult r = ParseDatetimeString(FormatDatetime(t));
    ASSERT_TRUE(r.ok()) << FormatDatetime(t);
    ASSERT_EQ(r.value, t);
  }
}

// AppendDatetime's fixed-width digits: every instant of years 1-9999 (with
// and without a fraction) reads back as itself, in the canonical width.
TEST(DatetimeTest, FormatReadsBackAcrossTheRange) {
  uint64_t x = 88172645463325252ull;
  const Micros lo = -62135596800000000;  // 0001-01-01
  const Micros hi = 253402300799999999;  // 9999-12-31T23:59:59.999999
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Micros t = lo + static_cast<Micros>(x % static_cast<uint64_t>(hi - lo));
    if (i % 2 == 0) t -= t % 1000000;  // whole seconds: no fraction
    std::string s = FormatDatetime(t);
    ASSERT_EQ(s.size(), t % 1000000 == 0 ? 20u : 27u) << s;
    DatetimeResult r = ParseDatetimeString(s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(r.value, t) << s;
  }
}

}  // namespace
}  // namespace taskdex
