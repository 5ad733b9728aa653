// tests/engine/like_pattern_test.cc
//
// Pins the fast `like_` paths to the canonical matcher: FoldedNames::Match
// (memchr/memmem over the folded copy, or the matcher per folded entry) must
// select exactly the codes whose string LikeMatches, on random dictionaries
// with case variants, wildcards, escapes, UTF-8 and empty strings. And the
// LikeCache keeps what it is given, per (column, pattern), within its bound.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/like_cache.h"
#include "engine/like_pattern.h"
#include "engine/store.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

uint64_t Next(uint64_t* s) {  // splitmix64
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string RandomText(uint64_t* s, const std::vector<std::string>& alphabet, size_t max_len) {
  std::string out;
  const size_t len = Next(s) % (max_len + 1);
  for (size_t i = 0; i < len; ++i) out += alphabet[Next(s) % alphabet.size()];
  return out;
}

TEST(FoldedNamesTest, AgreesWithTheMatcherOnRandomDictionaries) {
  const std::vector<std::string> text_alphabet = {"a", "b", "A", "B", "c", "_", "%", "\\",
                                                  "-", "1", "\xc3\xa9", "\xc3\x89", "Z"};
  const std::vector<std::string> pattern_alphabet = {"a", "B", "b", "_", "%", "\\", "-",
                                                     "1", "\xc3\xa9", "c"};
  uint64_t seed = 20261204;
  int checked = 0, nonempty = 0;
  for (int round = 0; round < 40; ++round) {
    Dictionary dict;
    const int entries = 1 + static_cast<int>(Next(&seed) % 300);
    for (int i = 0; i < entries; ++i) dict.Intern(RandomText(&seed, text_alphabet, 8));
    dict.Freeze();
    FoldedNames folded;
    folded.Build(dict);
    ASSERT_EQ(folded.size(), dict.size());
    for (int q = 0; q < 60; ++q) {
      const std::string pattern = RandomText(&seed, pattern_alphabet, 4);
      const LikePattern compiled(pattern);
      std::vector<uint32_t> want;
      for (uint32_t c = 0; c < dict.size(); ++c) {
        if (LikeMatches(dict.Get(c), pattern)) want.push_back(c);
      }
      EXPECT_EQ(folded.Match(compiled), want) << "pattern '" << pattern << "' round " << round;
      ++checked;
      nonempty += want.empty() ? 0 : 1;
    }
  }
  // The random patterns must exercise both outcomes.
  EXPECT_GT(nonempty, checked / 4);
  EXPECT_LT(nonempty, checked);
}

TEST(FoldedNamesTest, SingleLiteralIsFoundInEveryEntryThatHoldsIt) {
  Dictionary dict;
  for (const char* s : {"Fetch-3fa", "fetch-9b2", "load", "FETCH", "prefetch", "", "fe"}) {
    dict.Intern(s);
  }
  dict.Freeze();
  FoldedNames folded;
  folded.Build(dict);
  const LikePattern p("fEtCh");
  ASSERT_TRUE(p.single_literal().has_value());
  EXPECT_EQ(*p.single_literal(), "fetch");
  std::vector<std::string> got;
  for (uint32_t c : folded.Match(p)) got.emplace_back(dict.Get(c));
  EXPECT_EQ(got, (std::vector<std::string>{"FETCH", "Fetch-3fa", "fetch-9b2", "prefetch"}));
  EXPECT_FALSE(LikePattern("fe_ch").single_literal().has_value());
  EXPECT_FALSE(LikePattern("fe%ch").single_literal().has_value());
  // An escaped wildcard is a literal; a trailing backslash eats the closing %.
  EXPECT_EQ(*LikePattern("a\\%b").single_literal(), "a%b");
  EXPECT_FALSE(LikePattern("ab\\").single_literal().has_value());
}

TEST(FoldedNamesTest, LongestLiteralRunNarrowsWildcardPatterns) {
  EXPECT_EQ(LikePattern("_or").longest_literal(), "or");
  EXPECT_EQ(LikePattern("t_Ex%abc").longest_literal(), "abc");
  EXPECT_EQ(LikePattern("a\\_bc").longest_literal(), "a_bc");
  EXPECT_EQ(LikePattern("_%_").longest_literal(), "");
}

TEST(LikeCacheTest, KeepsCodesAndRowsPerColumnAndPattern) {
  LikeCache cache;
  int column_a = 0, column_b = 0;
  auto codes = std::make_shared<CodeSet>();
  codes->list = {1, 5};
  codes->bits = {(uint64_t{1} << 1) | (uint64_t{1} << 5)};
  cache.PutCodes(&column_a, "ab", codes);
  EXPECT_EQ(cache.FindCodes(&column_a, "ab"), codes);
  EXPECT_EQ(cache.FindCodes(&column_b, "ab"), nullptr);
  EXPECT_EQ(cache.FindCodes(&column_a, "AB"), nullptr);  // the key is the pattern as sent
  EXPECT_EQ(cache.FindRows(&column_a, "ab"), nullptr);
  Bitmap rows;
  rows.add(7);
  cache.PutRows(&column_a, "ab", std::make_shared<Bitmap>(rows));
  ASSERT_NE(cache.FindRows(&column_a, "ab"), nullptr);
  EXPECT_TRUE(cache.FindRows(&column_a, "ab")->contains(7));
  EXPECT_EQ(cache.FindCodes(&column_a, "ab"), codes);
  EXPECT_TRUE(codes->Has(5));
  EXPECT_FALSE(codes->Has(4));
  EXPECT_FALSE(codes->Has(UINT32_MAX));
}

TEST(LikeCacheTest, StaysWithinItsEntryBound) {
  LikeCache cache;
  int column = 0;
  for (size_t i = 0; i < LikeCache::kMaxEntries + 100; ++i) {
    auto codes = std::make_shared<CodeSet>();
    codes->list = {static_cast<uint32_t>(i)};
    cache.PutCodes(&column, std::to_string(i), codes);
  }
  EXPECT_LE(cache.entries(), LikeCache::kMaxEntries);
  EXPECT_EQ(cache.FindCodes(&column, "0"), nullptr);  // the oldest went first
  EXPECT_NE(cache.FindCodes(&column, std::to_string(LikeCache::kMaxEntries + 99)), nullptr);
}

}  // namespace
}  // namespace taskdex
