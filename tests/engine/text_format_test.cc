#include "engine/text_format.h"

#include <bit>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

std::string PythonFloat(double v) {
  std::string s;
  AppendPythonFloat(&s, v);
  return s;
}

std::string PydanticFloat(double v) {
  std::string s;
  AppendPydanticJsonFloat(&s, v);
  return s;
}

std::string Duration(int64_t micros) {
  std::string s;
  AppendDurationSeconds(&s, micros);
  return s;
}

std::string JsonString(std::string_view v) {
  std::string s;
  AppendJsonString(&s, v);
  return s;
}

TEST(TextFormatTest, PythonReprMatchesCPython) {
  // Bit patterns and CPython 3's repr() of each (hand-picked and random).
  struct Case {
    uint64_t bits;
    const char* repr;
  } cases[] = {
      {0x0000000000000000ULL, "0.0"},
      {0x8000000000000000ULL, "-0.0"},
      {0x404b800000000000ULL, "55.0"},
      {0x3ff000053e2d6239ULL, "1.000005"},
      {0xbfe0000000000000ULL, "-0.5"},
      {0x3f1a36e2eb1c432dULL, "0.0001"},
      {0x3ee4f8b588e368f1ULL, "1e-05"},
      {0x3eef75104d551d69ULL, "1.5e-05"},
      {0x4341c37937e08000ULL, "1e+16"},
      {0x437b69b4ba630f35ULL, "1.2345678901234568e+17"},
      {0x43118b54f22aeb00ULL, "1234567890123456.0"},
      {0x4341c37937e07fffULL, "9999999999999998.0"},
      {0x3f1a36e2eb1c432dULL, "0.0001"},
      {0x3f202e4b6ce5dc68ULL, "0.00012345"},
      {0x42dc12218377de6bULL, "123456789012345.67"},
      {0x0000000000000001ULL, "5e-324"},
      {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
      {0xc480f0cf064dd592ULL, "-1e+22"},
      {0x3fb999999999999aULL, "0.1"},
      {0x3fd5555555555555ULL, "0.3333333333333333"},
      {0x3e90c6f7a0b5ed8dULL, "2.5e-07"},
      {0x4059000000000000ULL, "100.0"},
      {0x430c6bf526340000ULL, "1000000000000000.0"},
      {0x2b2bff2ee48e0530ULL, "1e-100"},
      {0xf2a74de452e6b438ULL, "-1.989032661366619e+244"},
      {0x6513270e269e0d37ULL, "7.761117632285041e+178"},
      {0x0c5c7fd0a6a3a450ULL, "3.980498358697587e-249"},
      {0xd23f0824128b2f33ULL, "-1.5432835417340557e+88"},
      {0x1818e811892f902bULL, "1.3647584518757569e-192"},
      {0x9531985d5d9dc9f8ULL, "-1.3701135617873088e-206"},
      {0xe8e25d940ed90475ULL, "-1.7160537630466207e+197"},
      {0x36f675cc81e74ef5ULL, "6.294675241195386e-44"},
      {0x1600a35a099950d8ULL, "1.0613447212142254e-202"},
      {0x6b0d549b6f03675aULL, "4.708325160387546e+207"},
      {0x3d9c172411e20b8fULL, "6.387016158513563e-12"},
      {0x8d116ece1738f7d9ULL, "-9.973130378568733e-246"},
      {0x0f21ddb66cad4a26ULL, "8.779753225680271e-236"},
      {0x90c192cfd3ac94afULL, "-5.795503248498993e-228"},
      {0xf28c105d1fb17c23ULL, "-5.988180159386011e+243"},
      {0xa170b33839263059ULL, "-1.306052388527796e-147"},
      {0x953f48f1a09f76b5ULL, "-2.436117699484841e-206"},
      {0x0fd630f1f29d0da9ULL, "2.233386999150174e-232"},
      {0x95e60af593bd04cfULL, "-3.51527970626667e-203"},
      {0x0cb1e29c658cda14ULL, "1.5987381841032883e-247"},
      {0x3898d190f9ebdaccULL, "4.6678633181812096e-36"},
      {0x8e81973e0becd7b0ULL, "-8.441872792105456e-239"},
      {0x2217beaddbc496cbULL, "1.9015657400796622e-144"},
      {0x6b4cb2424a23d596ULL, "7.370437700706684e+208"},
      {0x8a6a63ec24ede6a4ULL, "-1.7163996725272777e-258"},
      {0x922766581e27a1c0ULL, "-3.2367190832119987e-221"},
      {0x8f6d05584ef8aa38ULL, "-2.2818334634712625e-234"},
      {0xae97ba94d0eda82fULL, "-3.0536383926309363e-84"},
      {0x1a61dbe22e44158bULL, "1.3449551894627777e-181"},
      {0x923a736994e3bf91ULL, "-7.317495976062606e-221"},
      {0x407740e64e48626fULL, "372.056227"},
      {0xc082a4667e846a5dULL, "-596.550046"},
      {0xc06909092684cf07ULL, "-200.282367"},
      {0xc088b627cb70ac3bULL, "-790.769431"},
      {0x406608b67c286f8bULL, "176.272276"},
      {0x408089f844d013a9ULL, "529.246225"},
      {0xc08b094b29e4d5d8ULL, "-865.161701"},
      {0x406a7f1802c0a4a0ULL, "211.971681"},
      {0xc08b400f483cafb4ULL, "-872.007462"},
      {0x40749501fb82c2bdULL, "329.312984"},  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.repr);
    EXPECT_EQ(PythonFloat(std::bit_cast<double>(c.bits)), c.repr);
  }
}

TEST(TextFormatTest, PythonReprSpecExamples) {
  EXPECT_EQ(PythonFloat(0.0), "0.0");
  EXPECT_EQ(PythonFloat(-0.0), "-0.0");
  EXPECT_EQ(PythonFloat(55.0), "55.0");
  EXPECT_EQ(PythonFloat(1e-5), "1e-05");
  EXPECT_EQ(PythonFloat(1.5e-5), "1.5e-05");
  EXPECT_EQ(PythonFloat(1e16), "1e+16");
  EXPECT_EQ(PythonFloat(1.2345678901234568e+17), "1.2345678901234568e+17");
  EXPECT_EQ(PythonFloat(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(PythonFloat(1e20), "1e+20");
  EXPECT_EQ(PythonFloat(1e100), "1e+100");
  EXPECT_EQ(PythonFloat(-2.5e-300), "-2.5e-300");
}

TEST(TextFormatTest, DurationsAreSecondsAsPythonFloats) {
  EXPECT_EQ(Duration(0), "0.0");
  EXPECT_EQ(Duration(10000000), "10.0");
  EXPECT_EQ(Duration(55000000), "55.0");
  EXPECT_EQ(Duration(1000005), "1.000005");
  EXPECT_EQ(Duration(-500000), "-0.5");
  EXPECT_EQ(Duration(100), "0.0001");
  EXPECT_EQ(Duration(10), "1e-05");
  EXPECT_EQ(Duration(15), "1.5e-05");
  EXPECT_EQ(Duration(1), "1e-06");
  EXPECT_EQ(Duration(-99), "-9.9e-05");
  EXPECT_EQ(Duration(123456789), "123.456789");
  // 0.3 s: the division is correctly rounded (0.3, not 0.30000000000000004).
  EXPECT_EQ(Duration(300000), "0.3");
}

TEST(TextFormatTest, PydanticJsonFloatUsesRyuNotation) {
  EXPECT_EQ(PydanticFloat(0.0), "0.0");
  EXPECT_EQ(PydanticFloat(-0.0), "-0.0");
  EXPECT_EQ(PydanticFloat(55.0), "55.0");
  EXPECT_EQ(PydanticFloat(1e-5), "0.00001");
  EXPECT_EQ(PydanticFloat(1.5e-5), "0.000015");
  EXPECT_EQ(PydanticFloat(1e-6), "1e-6");
  EXPECT_EQ(PydanticFloat(1.5e-6), "1.5e-6");
  EXPECT_EQ(PydanticFloat(1e16), "1e16");
  EXPECT_EQ(PydanticFloat(1.2345678901234568e+17), "1.2345678901234568e17");
  EXPECT_EQ(PydanticFloat(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(PydanticFloat(-0.5), "-0.5");
  std::string s;
  AppendPydanticDurationSeconds(&s, 10);
  EXPECT_EQ(s, "0.00001");
}

TEST(TextFormatTest, JsonStringEscapesLikeJsonDumps) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\b\t\n\f\r"), "\"\\b\\t\\n\\f\\r\"");
  EXPECT_EQ(JsonString(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(JsonString("\x0b"), "\"\\u000b\"");
  // Written as they are: '/', DEL, non-ASCII, U+2028/U+2029.
  EXPECT_EQ(JsonString("a/b\x7f"), "\"a/b\x7f\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x80\xa8\xe2\x80\xa9 \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x80\xa8\xe2\x80\xa9 \xf0\x9f\x98\x80\"");
  std::string out = "[";
  AppendJsonString(&out, "x\ny");
  EXPECT_EQ(out, "[\"x\\ny\"");
}

}  // namespace
}  // namespace taskdex
