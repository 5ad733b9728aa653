#include "engine/uuid.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

constexpr char kCanonical[] = "a0000000-0000-4000-8000-00000000000f";

TEST(UuidTest, AcceptsEveryFormOfTheCrate) {
  const char* forms[] = {
      "a0000000-0000-4000-8000-00000000000f",
      "A0000000-0000-4000-8000-00000000000F",
      "a000000000004000800000000000000f",
      "{a0000000-0000-4000-8000-00000000000f}",
      "urn:uuid:a0000000-0000-4000-8000-00000000000F",
  };
  for (const char* f : forms) {
    SCOPED_TRACE(f);
    std::optional<Uuid> u = ParseUuid(f);
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ(UuidToString(*u), kCanonical);
  }
}

TEST(UuidTest, RejectsWithCrateReasons) {
  struct Case {
    const char* input;
    const char* reason;
  } cases[] = {
      {"nope", "invalid character: found `n` at 1"},
      {"", "invalid length: expected length 32 for simple format, found 0"},
      {"abcd", "invalid length: expected length 32 for simple format, found 4"},
      {"a000000000004000800000000000000f0",
       "invalid length: expected length 32 for simple format, found 33"},
      {"URN:UUID:a0000000-0000-4000-8000-00000000000f", "invalid character: found `U` at 1"},
      {"{a000000000004000800000000000000f}", "invalid group count: expected 5, found 1"},
      {"urn:uuid:a000000000004000800000000000000f", "invalid group count: expected 5, found 1"},
      {"a0000000-0000-4000-8000", "invalid group count: expected 5, found 4"},
      {"a000000-00000-4000-8000-00000000000f",
       "invalid group length in group 0: expected 8, found 7"},
      {"a0000000-0000-4000-8000-00000000000f0",
       "invalid group length in group 4: expected 12, found 13"},
      {" a0000000-0000-4000-8000-00000000000f", "invalid character: found ` ` at 1"},
      {"a0000000-0000-4000-8000-00000000000g", "invalid character: found `g` at 36"},
      {"{a0000000-0000-4000-8000-00000000000g}", "invalid character: found `g` at 37"},
      {"a0000000-0000-4000-8000-0000000000\xc3\xa9", "invalid character: found `\xc3\xa9` at 35"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    std::string reason;
    EXPECT_FALSE(ParseUuid(c.input, &reason).has_value());
    EXPECT_EQ(reason, c.reason);
  }
}

TEST(UuidTest, OrderingIsTextOrder) {
  Uuid a = *ParseUuid("00000000-0000-4000-8000-000000000001");
  Uuid b = *ParseUuid("00000000-0000-4000-8000-000000000002");
  Uuid c = *ParseUuid("A0000000-0000-4000-8000-000000000000");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(c, *ParseUuid("a0000000000040008000000000000000"));
}

// The integer comparison (engine/types.h) against its canonical version,
// memcmp of the bytes: random UUIDs, and pairs that differ in one byte.
TEST(UuidTest, ComparisonIsMemcmpOrder) {
  std::mt19937_64 rng(7);
  auto sign = [](int c) { return (c > 0) - (c < 0); };
  for (int i = 0; i < 20000; ++i) {
    Uuid a, b;
    for (auto& x : a.bytes) x = static_cast<uint8_t>(rng());
    b = a;
    if (i % 2 == 0) {
      b.bytes[rng() % 16] = static_cast<uint8_t>(rng());
    } else {
      for (auto& x : b.bytes) x = static_cast<uint8_t>(rng());
    }
    const int want = sign(std::memcmp(a.bytes.data(), b.bytes.data(), 16));
    ASSERT_EQ(a < b, want < 0);
    ASSERT_EQ(a == b, want == 0);
    ASSERT_EQ(b < a, want > 0);
  }
}

TEST(UuidTest, FormatsLowercaseHyphenated) {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(0xF0 + i);
  char buf[36];
  FormatUuid(u, buf);
  EXPECT_EQ(std::string(buf, 36), "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");
}

}  // namespace
}  // namespace taskdex
