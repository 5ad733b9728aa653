// tests/bench/bench_runner_test.cc

#include "bench/bench_runner.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

TEST(PercentileTest, NearestRank) {
  EXPECT_EQ(Percentile({}, 0.5), 0);
  EXPECT_EQ(Percentile({7}, 0.99), 7);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 0.5), 2);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 0.75), 3);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 1.0), 4);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 0.0), 1);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(Percentile(hundred, 0.99), 99);
  EXPECT_EQ(Percentile(hundred, 0.5), 50);
  hundred.push_back(1000);  // 101 samples: p99 rank is ceil(99.99) = 100
  EXPECT_EQ(Percentile(hundred, 0.99), 100);
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(ParseBodyLineTest, PlainAndNamed) {
  auto plain = ParseBodyLine(R"({"limit": 5})", 3);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->name, "line3");
  EXPECT_EQ(plain->body, R"({"limit": 5})");

  auto named = ParseBodyLine(R"({"name": "tags", "body": {"limit": 5, "sort": "NAME_ASC"}})", 1);
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->name, "tags");
  EXPECT_EQ(named->body, R"({"limit":5,"sort":"NAME_ASC"})");

  auto string_body = ParseBodyLine(R"({"body": "{\"limit\": 1}", "name": "s"})", 1);
  ASSERT_TRUE(string_body.has_value());
  EXPECT_EQ(string_body->name, "s");
  EXPECT_EQ(string_body->body, R"({"limit": 1})");
}

TEST(ParseBodyLineTest, OtherObjectsArePlainBodies) {
  // A third key: a plain body (it would be a 422 from the server).
  auto extra = ParseBodyLine(R"({"name": "x", "body": {}, "limit": 1})", 2);
  ASSERT_TRUE(extra.has_value());
  EXPECT_EQ(extra->name, "line2");
  EXPECT_EQ(extra->body, R"({"name": "x", "body": {}, "limit": 1})");
  auto only_body = ParseBodyLine(R"({"body": {}})", 4);
  ASSERT_TRUE(only_body.has_value());
  EXPECT_EQ(only_body->name, "line4");
  auto broken = ParseBodyLine(R"({"name": "x", "body": )", 5);
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(broken->body, R"({"name": "x", "body":)");  // trailing blanks trimmed
  EXPECT_FALSE(ParseBodyLine("   \r", 6).has_value());
}

TEST(ParseBodiesFileTest, SkipsBlankLinesAndNumbersLines) {
  auto bodies = ParseBodiesFile("{}\n\n{\"limit\":1}\r\n");
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0].name, "line1");
  EXPECT_EQ(bodies[1].name, "line3");
  EXPECT_EQ(bodies[1].body, "{\"limit\":1}");
}

TEST(ResponseCountTest, ReadsEnvelopeCount) {
  EXPECT_EQ(ResponseCount(R"({"results":[{"parameters":{"count":5}}],"count":12,"limit":1})"),
            12u);
  EXPECT_FALSE(ResponseCount(R"({"detail":"x"})").has_value());
}

TEST(TimeRepeatedTest, RunsWarmupPlusRepeat) {
  int calls = 0;
  auto samples = TimeRepeated([&] { ++calls; }, 5, 100.0);
  EXPECT_EQ(samples.size(), 5u);
  EXPECT_EQ(calls, 6);
  calls = 0;
  samples = TimeRepeated([&] { ++calls; }, 50, 0.0);  // budget spent after one run
  EXPECT_EQ(samples.size(), 1u);
  EXPECT_EQ(calls, 2);
}

TEST(TimeInterleavedTest, RoundRobinAfterWarmupRound) {
  std::string calls;
  std::vector<std::function<void()>> fns = {[&] { calls += 'a'; }, [&] { calls += 'b'; },
                                            [&] { calls += 'c'; }};
  auto samples = TimeInterleaved(fns, 3, 100.0);
  EXPECT_EQ(calls, "abc" "abcabcabc");  // warm-up round, then 3 timed rounds
  ASSERT_EQ(samples.size(), 3u);
  for (const auto& s : samples) EXPECT_EQ(s.size(), 3u);
  calls.clear();
  samples = TimeInterleaved(fns, 50, 0.0);  // budget spent after the first round
  EXPECT_EQ(calls, "abcabc");
  for (const auto& s : samples) EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(TimeInterleaved({}, 5, 1.0).empty());
}

TEST(ResidentBytesTest, NonZeroOnLinux) { EXPECT_GT(ResidentBytes(), 0u); }

}  // namespace
}  // namespace taskdex
