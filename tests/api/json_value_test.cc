#include "api/json_value.h"

#include <string>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

JsonValue ParseOk(std::string_view text) {
  JsonParseResult r = ParseJsonBody(text);
  EXPECT_EQ(r.status, JsonParseResult::Status::kOk) << text << ": " << r.error << " at " << r.offset;
  return r.value;
}

std::string Echo(std::string_view text) {
  std::string out;
  AppendJsonValue(&out, ParseOk(text));
  return out;
}

TEST(JsonValueTest, ParsesScalars) {
  JsonValue v = ParseOk(R"({"a":1,"b":-0,"c":123456789012345678901234567890,"d":1.5,"e":true,
                            "f":null,"g":"x\u00e9\ud83d\ude00","h":-9223372036854775808})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members.size(), 8u);
  EXPECT_EQ(v.Find("a")->kind, JsonValue::Kind::kInt);
  EXPECT_TRUE(v.Find("a")->fits_int64);
  EXPECT_EQ(v.Find("a")->int_value, 1);
  EXPECT_EQ(v.Find("b")->text, "0");
  EXPECT_FALSE(v.Find("c")->fits_int64);
  EXPECT_EQ(v.Find("c")->text, "123456789012345678901234567890");
  EXPECT_EQ(v.Find("d")->kind, JsonValue::Kind::kFloat);
  EXPECT_EQ(v.Find("d")->float_value, 1.5);
  EXPECT_TRUE(v.Find("e")->bool_value);
  EXPECT_TRUE(v.Find("f")->is_null());
  EXPECT_EQ(v.Find("g")->text, "x\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE(v.Find("h")->fits_int64);
  EXPECT_EQ(v.Find("h")->int_value, INT64_MIN);
  EXPECT_EQ(v.Find("zz"), nullptr);
}

TEST(JsonValueTest, FloatsFollowPythonRounding) {
  EXPECT_EQ(ParseOk("1.0000000000000001").float_value, 1.0);
  EXPECT_EQ(ParseOk("10e-1").float_value, 1.0);
  EXPECT_EQ(ParseOk("1E0").kind, JsonValue::Kind::kFloat);
  EXPECT_EQ(ParseOk("1e-400").float_value, 0.0);  // underflow is fine, overflow is not
  EXPECT_EQ(ParseOk("5e-324").float_value, 5e-324);
}

TEST(JsonValueTest, DuplicateKeyKeepsLastValueAtFirstPosition) {
  EXPECT_EQ(Echo(R"({"zz":1,"yy":2,"zz":3})"), R"({"zz":3,"yy":2})");
  // Past the linear-scan size the hash index must agree.
  std::string big = "{";
  for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  big += "\"k3\":\"x\",\"k39\":\"y\",\"new\":0}";
  JsonValue v = ParseOk(big);
  ASSERT_EQ(v.members.size(), 41u);
  EXPECT_EQ(v.members[3].first, "k3");
  EXPECT_EQ(v.members[3].second.text, "x");
  EXPECT_EQ(v.members[39].second.text, "y");
  EXPECT_EQ(v.members[40].first, "new");
}

TEST(JsonValueTest, EchoWritesPythonForms) {
  EXPECT_EQ(Echo("1E3"), "1000.0");
  EXPECT_EQ(Echo("1e20"), "1e+20");
  EXPECT_EQ(Echo("-0"), "0");
  EXPECT_EQ(Echo("-0.0"), "-0.0");
  EXPECT_EQ(Echo("1.50"), "1.5");
  EXPECT_EQ(Echo("123456789012345678901234567890"), "123456789012345678901234567890");
  EXPECT_EQ(Echo(" [ 1 , { \"a\" : [ ] } , \"\\u00e9\\n\\/\\u0001\" ] "),
            "[1,{\"a\":[]},\"\xC3\xA9\\n/\\u0001\"]");
  EXPECT_EQ(Echo("{}"), "{}");
}

struct MalformedCase {
  std::string text;
  size_t offset;
  std::string error;
};

TEST(JsonValueTest, MalformedJsonReportsPythonOffsetsAndMessages) {
  const MalformedCase cases[] = {
      {R"({"limit": 1,})", 12, "Expecting property name enclosed in double quotes"},
      {"  ", 2, "Expecting value"},
      {R"({"page": 1}garbage)", 11, "Extra data"},
      {R"({"a" 1})", 5, "Expecting ':' delimiter"},
      {"[1 2]", 3, "Expecting ',' delimiter"},
      {R"({"a":1 "b":2})", 7, "Expecting ',' delimiter"},
      {"[1,]", 3, "Expecting value"},
      {"[", 1, "Expecting value"},
      {"{", 1, "Expecting property name enclosed in double quotes"},
      {"{'a':1}", 1, "Expecting property name enclosed in double quotes"},
      {R"("abc)", 0, "Unterminated string starting at"},
      {"[\"a\x01\"]", 3, "Invalid control character at"},
      {R"("\x")", 1, "Invalid \\escape"},
      {R"("\u12")", 2, "Invalid \\uXXXX escape"},
      {R"("\u12zz")", 2, "Invalid \\uXXXX escape"},
      {"01", 1, "Extra data"},
      {"-", 0, "Expecting value"},
      {"1.", 1, "Extra data"},
      {"1e+", 1, "Extra data"},
      {"tru", 0, "Expecting value"},
      // [Engine] rules: literals Python accepts but Prefect cannot answer for.
      {"NaN", 0, "Expecting value"},
      {"[Infinity]", 1, "Expecting value"},
      {"-Infinity", 0, "Expecting value"},
      {R"({"page": 1e400})", 9, "Expecting value"},
      {"-1e400", 0, "Expecting value"},
      {R"("\ud800")", 2, "Invalid \\uXXXX escape"},
      {R"("\udc00")", 2, "Invalid \\uXXXX escape"},
      {R"("\ud800\u0041")", 2, "Invalid \\uXXXX escape"},
      // Offsets count code points, not bytes.
      {"{\"\xC3\xA9\xF0\x9F\x98\x80\": 1,}", 9, "Expecting property name enclosed in double quotes"},
      {"\xEF\xBB\xBF[1,]", 3, "Expecting value"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.text);
    JsonParseResult r = ParseJsonBody(c.text);
    ASSERT_EQ(r.status, JsonParseResult::Status::kMalformed);
    EXPECT_EQ(r.offset, c.offset);
    EXPECT_EQ(r.error, c.error);
  }
}

TEST(JsonValueTest, MalformedTextIsTheDecodedBodyWithoutBom) {
  JsonParseResult r = ParseJsonBody("\xEF\xBB\xBF{\"a\":}");
  ASSERT_EQ(r.status, JsonParseResult::Status::kMalformed);
  EXPECT_EQ(r.text, "{\"a\":}");
  EXPECT_EQ(r.offset, 5u);
}

TEST(JsonValueTest, SurrogatePairIsOneCharacter) {
  EXPECT_EQ(ParseOk(R"("\ud83d\ude00")").text, "\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseOk(R"("\uD83D\uDE00")").text, "\xF0\x9F\x98\x80");
}

TEST(JsonValueTest, BomIsSkipped) {
  EXPECT_EQ(ParseOk("\xEF\xBB\xBF{\"a\":1}").members.size(), 1u);
  // A second BOM is a character, not whitespace.
  EXPECT_EQ(ParseJsonBody("\xEF\xBB\xBF\xEF\xBB\xBF{}").status, JsonParseResult::Status::kMalformed);
}

TEST(JsonValueTest, UndecodableBodiesAreBadBodies) {
  using namespace std::string_literals;
  const std::string cases[] = {
      "{\"a\":\"\xFF\"}",                  // invalid UTF-8
      "\"\xED\xA0\x80\"",                  // UTF-8-encoded surrogate
      "\"\xC0\xAF\"",                      // overlong
      "\"\xF4\x90\x80\x80\"",              // past U+10FFFF
      "\"\xE2\x82\"",                      // truncated
      "\xFF\xFE{\x00}\x00"s,               // UTF-16 LE BOM
      "\xFE\xFF\x00{\x00}"s,               // UTF-16 BE BOM
      "{\x00\"\x00"s,                      // UTF-16 LE without a BOM
      "\x00{\x00}"s,                       // UTF-16 BE without a BOM
      "{\x00"s,                            // two bytes, one zero
      "1" + std::string(kMaxIntDigits, '0'),  // 4301 digits: int() refuses
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'),
  };
  for (const std::string& c : cases) {
    SCOPED_TRACE(c.substr(0, 40));
    EXPECT_EQ(ParseJsonBody(c).status, JsonParseResult::Status::kBadBody);
  }
}

TEST(JsonValueTest, LimitsAreInclusive) {
  EXPECT_EQ(ParseOk(std::string(kMaxIntDigits, '7')).text.size(), kMaxIntDigits);
  EXPECT_EQ(ParseOk("-" + std::string(kMaxIntDigits, '7')).text.size(), kMaxIntDigits + 1);
  std::string deep = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(ParseJsonBody(deep).status, JsonParseResult::Status::kOk);
  // A long float literal has no digit limit in Python.
  EXPECT_EQ(ParseOk("1" + std::string(5000, '0') + ".0e-4990").float_value, 1e10);
}

TEST(JsonValueTest, ShortBodiesWithZeroBytesAreUtf8) {
  // Python's detect_encoding only sniffs 2 or >= 4 bytes; 3 bytes are UTF-8,
  // and a NUL is then just a bad character.
  using namespace std::string_literals;
  EXPECT_EQ(ParseJsonBody("1 \x00"s).status, JsonParseResult::Status::kMalformed);
  EXPECT_EQ(ParseJsonBody("\x00"s).status, JsonParseResult::Status::kMalformed);
}

}  // namespace
}  // namespace taskdex
