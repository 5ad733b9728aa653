// tests/index/posting_index_test.cc

#include "index/posting_index.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

TEST(PostingIndexTest, AddGetUnion) {
  PostingIndex idx;
  idx.Add(1, 0);
  idx.Add(2, 3);
  idx.Add(5, 3);
  EXPECT_EQ(idx.num_codes(), 4u);
  EXPECT_EQ(idx.Get(3).cardinality(), 2u);
  EXPECT_TRUE(idx.Get(2).isEmpty());
  EXPECT_TRUE(idx.Get(99).isEmpty());
  const std::vector<uint32_t> codes = {0, 3, 3, 42};
  Bitmap u = idx.Union(codes);
  EXPECT_EQ(u.cardinality(), 3u);
  EXPECT_EQ(idx.SumCardinality(codes), 5u);
}

TEST(PostingIndexTest, UpdatesMatchRebuild) {
  std::mt19937 rng(7);
  const uint32_t n = 3000;
  std::vector<uint32_t> code(n);
  PostingIndex live;
  for (uint32_t r = 0; r < n; ++r) {
    code[r] = rng() % 17;
    live.Add(r, code[r]);
  }
  std::vector<bool> deleted(n, false);
  for (int step = 0; step < 2000; ++step) {
    const uint32_t r = rng() % n;
    if (deleted[r]) {
      code[r] = rng() % 20;  // re-insert, maybe with a new code
      deleted[r] = false;
      live.Add(r, code[r]);
    } else if (rng() % 3 == 0) {
      live.Remove(r, code[r]);
      deleted[r] = true;
    } else {
      live.Remove(r, code[r]);
      code[r] = rng() % 20;
      live.Add(r, code[r]);
    }
  }
  live.Optimize();
  PostingIndex rebuilt;
  for (uint32_t r = 0; r < n; ++r) {
    if (!deleted[r]) rebuilt.Add(r, code[r]);
  }
  for (uint32_t c = 0; c < 20; ++c) EXPECT_EQ(live.Get(c), rebuilt.Get(c)) << "code " << c;
}

TEST(UnionOfTest, PairwiseAndManyWayAgree) {
  // Parts of every count around kPairwiseUnionMax, sparse and dense.
  std::vector<Bitmap> parts(kPairwiseUnionMax + 3);
  for (size_t i = 0; i < parts.size(); ++i) {
    for (uint32_t r = static_cast<uint32_t>(i); r < 300000; r += 7 + static_cast<uint32_t>(i) * 50) {
      parts[i].add(r);
    }
  }
  parts[1].addRange(1000, 90000);
  EXPECT_TRUE(UnionOf({}).isEmpty());
  for (size_t k = 1; k <= parts.size(); ++k) {
    std::vector<const Bitmap*> ptrs;
    Bitmap want;
    for (size_t i = 0; i < k; ++i) {
      ptrs.push_back(&parts[i]);
      for (uint32_t r : parts[i]) want.add(r);
    }
    EXPECT_EQ(UnionOf(ptrs), want) << k << " parts";
  }
}

}  // namespace
}  // namespace taskdex
