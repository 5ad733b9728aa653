// tests/bench/name_model_test.cc
//
// The realistic name vocabularies: distinct, deterministic from the seed,
// and made of characters that need no JSON escaping.

#include "bench/name_model.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

bool Plain(const std::string& s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return !s.empty();
}

TEST(NameModelTest, TaskNamesAreDistinctAndDependOnTheSeed) {
  for (size_t n : {1u, 7u, 700u, 20000u}) {  // 20,000 is past the 16,000 combinations
    std::vector<std::string> v = TaskNameVocabulary(5, n);
    ASSERT_EQ(v.size(), n);
    EXPECT_EQ(std::set<std::string>(v.begin(), v.end()).size(), n);
    for (const std::string& s : v) {
      EXPECT_TRUE(Plain(s)) << s;
      EXPECT_EQ(s.find('-'), std::string::npos) << s;  // '-' separates the suffix
    }
  }
  EXPECT_EQ(TaskNameVocabulary(5, 700), TaskNameVocabulary(5, 700));
  EXPECT_NE(TaskNameVocabulary(5, 700), TaskNameVocabulary(6, 700));
  // A prefix of the vocabulary is the smaller vocabulary.
  std::vector<std::string> big = TaskNameVocabulary(5, 700), small = TaskNameVocabulary(5, 70);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), big.begin()));
}

TEST(NameModelTest, FlowRunWordsAreDistinctAndStartWithRealWords) {
  std::vector<std::string> adjectives = FlowRunAdjectives(3, 2500);
  std::vector<std::string> nouns = FlowRunNouns(3, 2500);
  ASSERT_EQ(adjectives.size(), 2500u);
  ASSERT_EQ(nouns.size(), 2500u);
  EXPECT_EQ(std::set<std::string>(adjectives.begin(), adjectives.end()).size(), 2500u);
  EXPECT_EQ(std::set<std::string>(nouns.begin(), nouns.end()).size(), 2500u);
  EXPECT_EQ(adjectives[6], "crimson");
  EXPECT_EQ(nouns[0], "otter");
  for (const std::string& w : adjectives) EXPECT_TRUE(Plain(w) && w.find('-') == w.npos) << w;
  for (const std::string& w : nouns) EXPECT_TRUE(Plain(w) && w.find('-') == w.npos) << w;
  EXPECT_NE(FlowRunNouns(3, 2500), FlowRunNouns(4, 2500));
}

TEST(NameModelTest, MappedTasksUseTemplatesMoreOften) {
  int mapped = 0, single = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    uint64_t bits = i * 0x9e3779b97f4a7c15ULL;
    TaskNameSpec m = DrawTemplate("t", true, bits), s = DrawTemplate("t", false, bits);
    mapped += m.tmpl != NameTemplate::kSuffix;
    single += s.tmpl != NameTemplate::kSuffix;
    EXPECT_LT(m.param, TemplateParams().size());
    EXPECT_GE(m.values, 1000u);
  }
  EXPECT_NEAR(mapped / 2000.0, 0.70, 0.05);
  EXPECT_NEAR(single / 2000.0, 0.15, 0.04);
}

}  // namespace
}  // namespace taskdex
