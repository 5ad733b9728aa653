// tests/index/row_mask_test.cc

#include "index/row_mask.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

// Every row in [0, limit) answers as the bitmap does.
void ExpectSame(const RowMask& mask, const Bitmap& rows, uint32_t limit) {
  for (uint32_t r = 0; r < limit; ++r) {
    ASSERT_EQ(mask.Contains(r), rows.contains(r)) << "row " << r;
  }
}

TEST(RowMaskTest, EmptyMaskContainsNothing) {
  RowMask mask;
  EXPECT_FALSE(mask.Contains(0));
  EXPECT_FALSE(mask.Contains(UINT32_MAX));
  mask.Assign(Bitmap());
  EXPECT_FALSE(mask.Contains(5));
}

TEST(RowMaskTest, ArrayBitsetAndRunContainers) {
  Bitmap rows;
  // Chunk 0: a sparse array container.
  for (uint32_t r : {0u, 1u, 63u, 64u, 4095u, 65535u}) rows.add(r);
  // Chunk 1: a dense bitset container (every third row).
  for (uint32_t r = 65536; r < 2 * 65536; r += 3) rows.add(r);
  // Chunk 3 (chunk 2 empty): runs, including a word-aligned one, one inside
  // a word and one that ends the chunk.
  rows.addRange(3 * 65536 + 64, 3 * 65536 + 192);
  rows.addRange(3 * 65536 + 200, 3 * 65536 + 205);
  rows.addRange(3 * 65536 + 1000, 3 * 65536 + 5000);
  rows.addRange(4 * 65536 - 7, 4 * 65536);
  rows.runOptimize();
  RowMask mask;
  mask.Assign(rows);
  ExpectSame(mask, rows, 5 * 65536);
  EXPECT_FALSE(mask.Contains(UINT32_MAX));
}

TEST(RowMaskTest, ReassignClearsThePreviousRows) {
  std::mt19937 rng(7);
  RowMask mask;
  for (int round = 0; round < 8; ++round) {
    Bitmap rows;
    const uint32_t limit = 1 + rng() % (6 * 65536);
    const uint32_t density = 1 + rng() % 64;  // 1 in `density` rows
    for (uint32_t r = 0; r < limit; ++r) {
      if (rng() % density == 0) rows.add(r);
    }
    if (round % 2 == 1) {
      rows.addRange(limit / 3, limit / 2);
      rows.runOptimize();
    }
    mask.Assign(rows);
    ExpectSame(mask, rows, 6 * 65536 + 100);
  }
  mask.Assign(Bitmap());
  ExpectSame(mask, Bitmap(), 6 * 65536 + 100);
}

}  // namespace
}  // namespace taskdex
