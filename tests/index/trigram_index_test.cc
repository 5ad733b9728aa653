// tests/index/trigram_index_test.cc

#include "index/trigram_index.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

TEST(TrigramIndexTest, LiteralRunsSplitAtWildcardsAndFold) {
  EXPECT_EQ(TrigramIndex::LiteralRuns("AbC%de_fgh\\%x"),
            (std::vector<std::string>{"abc", "de", "fgh%x"}));
  EXPECT_EQ(TrigramIndex::LiteralRuns("abc\\"), (std::vector<std::string>{"abc"}));
}

TEST(TrigramIndexTest, CandidatesAreSupersetOfMatches) {
  TrigramIndex idx;
  const std::vector<std::string> dict = {"extract-data", "Load-Data", "transform", "ab", "DATA"};
  for (uint32_t c = 0; c < dict.size(); ++c) idx.Add(c, dict[c]);
  std::optional<Bitmap> got = idx.Candidates("data");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Bitmap::bitmapOf(3, 0, 1, 4));
  EXPECT_EQ(*idx.Candidates("ORM"), Bitmap::bitmapOf(1, 2));
  EXPECT_TRUE(idx.Candidates("zzz")->isEmpty());
  EXPECT_FALSE(idx.Candidates("ab").has_value());
  EXPECT_FALSE(idx.Candidates("a%b_c").has_value());
}

std::string RandomString(std::mt19937& rng) {
  static const char kChars[] = "abcABC-_%";
  std::string s;
  const int len = static_cast<int>(rng() % 7);
  for (int i = 0; i < len; ++i) s.push_back(kChars[rng() % 9]);
  return s;
}

TEST(TrigramIndexTest, AddRemoveMatchesRebuild) {
  std::mt19937 rng(3);
  std::vector<std::string> strs(200);
  std::vector<bool> live(200, false);
  TrigramIndex idx;
  for (int step = 0; step < 1000; ++step) {
    const uint32_t c = rng() % 200;
    if (live[c]) {
      idx.Remove(c, strs[c]);
      live[c] = false;
    } else {
      strs[c] = RandomString(rng);
      idx.Add(c, strs[c]);
      live[c] = true;
    }
  }
  TrigramIndex rebuilt;
  for (uint32_t c = 0; c < 200; ++c) {
    if (live[c]) rebuilt.Add(c, strs[c]);
  }
  EXPECT_EQ(idx.num_trigrams(), rebuilt.num_trigrams());
  for (int trial = 0; trial < 200; ++trial) {
    const std::string p = RandomString(rng) + RandomString(rng);
    std::optional<Bitmap> a = idx.Candidates(p);
    std::optional<Bitmap> b = rebuilt.Candidates(p);
    ASSERT_EQ(a.has_value(), b.has_value()) << p;
    if (a) {
      EXPECT_EQ(*a, *b) << p;
    }
  }
}

}  // namespace
}  // namespace taskdex
