// tests/index/code_rows_test.cc
//
// CodeRows is a compact copy of PostingIndex for tiny postings: pinned to
// it (the canonical version) on seeded columns, then its binary form.

#include "index/code_rows.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/posting_index.h"
#include "index/serial.h"

namespace taskdex {
namespace {

constexpr uint32_t kSkip = UINT32_MAX;

// A column of `n` rows over `codes` codes, about one row in 8 skipped.
std::vector<uint32_t> Column(std::mt19937& rng, uint32_t n, uint32_t codes) {
  std::vector<uint32_t> col(n);
  for (uint32_t& c : col) c = rng() % 8 == 0 ? kSkip : static_cast<uint32_t>(rng() % codes);
  return col;
}

TEST(CodeRowsTest, SmallCase) {
  CodeRows idx;
  idx.Build(std::vector<uint32_t>{3, kSkip, 0, 3, 1}, kSkip);
  EXPECT_EQ(idx.num_codes(), 4u);
  EXPECT_EQ(std::vector<uint32_t>(idx.Rows(3).begin(), idx.Rows(3).end()),
            (std::vector<uint32_t>{0, 3}));
  EXPECT_TRUE(idx.Rows(2).empty());
  EXPECT_TRUE(idx.Rows(99).empty());
  const std::vector<uint32_t> codes = {3, 1, 3, 42};
  EXPECT_EQ(idx.SumCardinality(codes), 5u);
  EXPECT_EQ(idx.Union(codes), FromSortedRows({0, 3, 4}));
  EXPECT_TRUE(idx.RowsBelow(5));
  EXPECT_FALSE(idx.RowsBelow(4));
}

TEST(CodeRowsTest, EmptyAndAllSkipped) {
  CodeRows idx;
  idx.Build(std::vector<uint32_t>{kSkip, kSkip}, kSkip);
  EXPECT_EQ(idx.num_codes(), 0u);
  EXPECT_TRUE(idx.Union(std::vector<uint32_t>{0}).isEmpty());
  EXPECT_TRUE(idx.RowsBelow(0));
}

TEST(CodeRowsTest, MatchesPostingIndex) {
  std::mt19937 rng(20261207);
  for (uint32_t codes : {1u, 7u, 500u, 20000u}) {
    const std::vector<uint32_t> col = Column(rng, 5000, codes);
    CodeRows fast;
    fast.Build(col, kSkip);
    PostingIndex canonical;
    for (uint32_t r = 0; r < col.size(); ++r) {
      if (col[r] != kSkip) canonical.Add(r, col[r]);
    }
    EXPECT_EQ(fast.num_codes(), canonical.num_codes());
    for (uint32_t c = 0; c <= codes; ++c) {
      ASSERT_EQ(FromSortedRows({fast.Rows(c).begin(), fast.Rows(c).end()}), canonical.Get(c))
          << "code " << c << " of " << codes;
    }
    for (int q = 0; q < 200; ++q) {
      std::vector<uint32_t> ask(1 + rng() % 6);
      for (uint32_t& c : ask) c = static_cast<uint32_t>(rng() % (codes + 2));
      EXPECT_EQ(fast.Union(ask), canonical.Union(ask));
      EXPECT_EQ(fast.SumCardinality(ask), canonical.SumCardinality(ask));
    }
  }
}

TEST(CodeRowsTest, RoundTripAndRefusesBadOffsets) {
  std::mt19937 rng(5);
  CodeRows idx;
  idx.Build(Column(rng, 1000, 300), kSkip);
  std::string bytes;
  {
    StringSink sink(&bytes);
    SerialWriter w(&sink);
    idx.Save(w);
  }
  CodeRows back;
  SerialReader r(bytes);
  back.Load(r);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(back.num_codes(), idx.num_codes());
  for (uint32_t c = 0; c < idx.num_codes(); ++c) {
    EXPECT_TRUE(std::ranges::equal(back.Rows(c), idx.Rows(c)));
  }
  // The offsets' last entry no longer equals the rows' count: refused.
  std::string bad = bytes;
  const size_t last_offset = 8 + 4 * idx.num_codes();
  bad[last_offset] = static_cast<char>(bad[last_offset] + 1);
  CodeRows refused;
  SerialReader rb(bad);
  refused.Load(rb);
  EXPECT_FALSE(rb.ok());
}

}  // namespace
}  // namespace taskdex
