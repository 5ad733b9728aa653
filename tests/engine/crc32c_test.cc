// tests/engine/crc32c_test.cc
//
// The fast CRC-32C (the SSE4.2 instruction in the default build) pinned to
// the bitwise definition and to the published check value.

#include "engine/internal/crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace taskdex::engine_internal {
namespace {

TEST(Crc32cTest, CheckValues) {
  // The CRC-32C catalogue's check value, and RFC 3720 B.4's 32 zero bytes.
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cBitwise(0, "123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
}

TEST(Crc32cTest, MatchesBitwiseAtEveryLengthAlignmentAndSplit) {
  std::mt19937 rng(20261207);
  std::string bytes(1000, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n = 0; n + offset <= 200; ++n) {
      const char* p = bytes.data() + offset;
      const uint32_t want = Crc32cBitwise(0, p, n);
      ASSERT_EQ(Crc32c(0, p, n), want) << "offset " << offset << " length " << n;
      const size_t split = n == 0 ? 0 : rng() % n;
      ASSERT_EQ(Crc32c(Crc32c(0, p, split), p + split, n - split), want)
          << "offset " << offset << " length " << n << " split " << split;
    }
  }
  EXPECT_EQ(Crc32c(0, bytes.data(), bytes.size()), Crc32cBitwise(0, bytes.data(), bytes.size()));
}

}  // namespace
}  // namespace taskdex::engine_internal
