#include "engine/template_column.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

std::string Render(const TemplateColumn& col, RowId row,
                   const std::vector<std::string_view>& holes) {
  std::string out;
  col.Render(row, &out, [&](uint8_t hole, std::string* o) { o->append(holes[hole - 1]); });
  return out;
}

// MakeTemplate then FillTemplate, and the same through a frozen column.
void ExpectRoundTrip(std::string_view text, const std::vector<std::string_view>& holes,
                     ForcedHole forced = {}, std::string_view forced_text = "") {
  std::vector<std::string_view> fill = holes;
  if (forced.offset >= 0) fill[forced.hole - 1] = forced_text;
  std::string want(text);
  if (forced.offset >= 0) {
    want.replace(static_cast<size_t>(forced.offset), forced.size, forced_text);
  }
  std::string templ = MakeTemplate(text, holes, forced);
  EXPECT_EQ(FillTemplate(templ, fill), want) << templ;
  TemplateColumn col;
  col.Set(0, "unrelated", holes);
  col.Set(1, text, holes, forced);
  col.Freeze();
  EXPECT_EQ(Render(col, 1, fill), want);
  EXPECT_EQ(Render(col, 0, fill), "unrelated");
}

TEST(TemplateColumnTest, ReplacesEveryExactOccurrenceByAHole) {
  std::vector<std::string_view> holes = {"\"abc\"", "\"xyz\""};
  std::string templ = MakeTemplate(R"({"a":"abc","b":"xyz","c":"abc"})", holes);
  EXPECT_EQ(templ, std::string("{\"a\":\x01,\"b\":\x02,\"c\":\x01}"));
  ExpectRoundTrip(R"({"a":"abc","b":"xyz","c":"abc"})", holes);
}

TEST(TemplateColumnTest, PartialMatchesStayLiteral) {
  std::vector<std::string_view> holes = {"\"abc\""};
  // "abcd" and abc without quotes are not the hole text.
  std::string text = R"({"a":"abcd","b":"ab","xabc":1})";
  EXPECT_EQ(MakeTemplate(text, holes), text);
  ExpectRoundTrip(text, holes);
  // A hole text at the very end, and one that runs past the end.
  ExpectRoundTrip(R"(["abc")", holes);
  ExpectRoundTrip(R"(["ab)", holes);
}

TEST(TemplateColumnTest, EarlierHoleWinsAndOverlapsRoundTrip) {
  // Hole 2 is inside hole 1; hole 3 overlaps the end of hole 1.
  std::vector<std::string_view> holes = {"\"aXb\"", "X", "b\",\"c"};
  std::string text = R"(["aXb","c",X,"aXb"])";
  std::string templ = MakeTemplate(text, holes);
  EXPECT_EQ(templ, std::string("[\x01,\"c\",\x02,\x01]"));
  ExpectRoundTrip(text, holes);
}

TEST(TemplateColumnTest, EmptyHolesAreNeverMatchedOthersAre) {
  std::vector<std::string_view> holes = {"", "null", ""};
  std::string text = R"({"a":null,"b":""})";
  std::string templ = MakeTemplate(text, holes);
  // "null" is a usable hole text like any other: it is replaced, and
  // renders back; empty ones are ignored.
  EXPECT_EQ(templ, std::string("{\"a\":\x02,\"b\":\"\"}"));
  ExpectRoundTrip(text, holes);
}

TEST(TemplateColumnTest, ControlBytesAndEscapesSurvive) {
  // Raw bytes that collide with hole markers and the escape byte itself.
  std::string text = std::string("{\"a\":\"\x01\x02\x1f\\u0001\\\"q\\\"\"}") + '\0' + "\x1e";
  std::vector<std::string_view> holes = {"\\\"q\\\"", "\x01"};  // hole 2 unusable
  std::string templ = MakeTemplate(text, holes);
  EXPECT_NE(templ.find('\x01'), std::string::npos);  // the hole
  ExpectRoundTrip(text, holes);
  ExpectRoundTrip(std::string("\x1f\x1f", 2), {});
}

TEST(TemplateColumnTest, ForcedHoleReplacesItsRangeOnly) {
  std::string before = R"({"t":"2024","scheduled_time":)";
  std::string text = before + R"(null,"x":"2024"})";
  std::vector<std::string_view> holes = {"\"2024\"", ""};
  ForcedHole forced{static_cast<int64_t>(before.size()), 4, 2};
  std::string templ = MakeTemplate(text, holes, forced);
  EXPECT_EQ(templ, std::string("{\"t\":\x01,\"scheduled_time\":\x02,\"x\":\x01}"));
  ExpectRoundTrip(text, holes, forced, "\"NOW\"");
  // A forced range at the very start and at the very end.
  ExpectRoundTrip("null", holes, ForcedHole{0, 4, 2}, "\"N\"");
  ExpectRoundTrip("[null", holes, ForcedHole{1, 4, 2}, "\"N\"");
}

TEST(TemplateColumnTest, SharesTemplatesAndDropsUnusedOnes) {
  TemplateColumn col;
  std::vector<std::string_view> a = {"\"id-1\""};
  std::vector<std::string_view> b = {"\"id-2\""};
  col.Set(0, R"({"id":"id-1"})", a);
  col.Set(1, R"({"id":"id-2"})", b);
  col.Set(2, "{}", a);
  col.Set(2, R"({"other":1})", a);  // replaces row 2: "{}" is unused
  col.Freeze();
  EXPECT_EQ(col.size(), 3u);
  EXPECT_EQ(col.num_templates(), 2u);
  EXPECT_EQ(col.code(0), col.code(1));
  EXPECT_EQ(Render(col, 0, a), R"({"id":"id-1"})");
  EXPECT_EQ(Render(col, 1, b), R"({"id":"id-2"})");
  EXPECT_EQ(Render(col, 2, a), R"({"other":1})");
  EXPECT_EQ(col.LiteralBytes(0), std::string_view(R"({"id":})").size());
  EXPECT_GT(col.MemoryBytes(), 0u);
}

TEST(TemplateColumnTest, EmptyTextAndEmptyColumn) {
  TemplateColumn empty;
  empty.Freeze();
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.num_templates(), 0u);
  ExpectRoundTrip("", {"\"a\""});
  ExpectRoundTrip("\"a\"", {"\"a\""});
}

}  // namespace
}  // namespace taskdex
