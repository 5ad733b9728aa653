// tests/index/bitmap_builder_test.cc
//
// Pins BitmapBuilder (a flat bitset written as CRoaring's portable format)
// to the canonical Bitmap built with add(): every density (empty, array
// and bitset containers, a full chunk, a partial last chunk).

#include "index/bitmap_builder.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

TEST(BitmapBuilderTest, MatchesAddForEveryDensity) {
  uint64_t s = 7;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  for (uint32_t n : {0u, 1u, 63u, 64u, 65u, 4097u, 65536u, 65537u, 300001u}) {
    for (uint32_t per_mille : {0u, 1u, 30u, 62u, 63u, 500u, 1000u}) {
      BitmapBuilder builder(n);
      Bitmap want;
      for (uint32_t r = 0; r < n; ++r) {
        if (next() % 1000 < per_mille) {
          builder.Set(r);
          want.add(r);
        }
      }
      const Bitmap got = builder.Build();
      EXPECT_EQ(got.cardinality(), want.cardinality()) << n << " " << per_mille;
      EXPECT_TRUE(got == want) << n << " rows, " << per_mille << " per mille";
    }
  }
}

TEST(BitmapBuilderTest, WholeWordsAndFullChunks) {
  BitmapBuilder builder(200000);
  for (size_t w = 0; w < 1024; ++w) builder.words()[w] = ~uint64_t{0};  // rows [0, 65536)
  builder.Set(199999);
  const Bitmap got = builder.Build();
  Bitmap want = AllRows(65536);
  want.add(199999);
  EXPECT_TRUE(got == want);
}

}  // namespace
}  // namespace taskdex
