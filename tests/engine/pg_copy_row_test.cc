// tests/engine/pg_copy_row_test.cc: COPY text rows split into fields
// (engine/internal/pg_copy_row.h): escapes, NULL, empty and trailing fields,
// and views that stay valid when several fields are unescaped.

#include "engine/internal/pg_copy_row.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex::engine_internal {
namespace {

using Fields = std::vector<std::optional<std::string>>;

Fields Split(std::string_view row) {
  std::string buf;
  std::vector<std::optional<std::string_view>> views;
  SplitCopyRow(row, &buf, &views);
  Fields out;
  for (const auto& v : views) out.push_back(v ? std::optional<std::string>(*v) : std::nullopt);
  return out;
}

std::optional<std::string> S(std::string s) { return s; }
constexpr std::nullopt_t kNull = std::nullopt;

TEST(PgCopyRowTest, PlainFieldsViewTheRow) {
  std::string row = "a\tbc\t";
  std::string buf;
  std::vector<std::optional<std::string_view>> views;
  SplitCopyRow(row, &buf, &views);
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(*views[0], "a");
  EXPECT_EQ(views[0]->data(), row.data());  // not copied
  EXPECT_EQ(*views[1], "bc");
  EXPECT_EQ(*views[2], "");
}

TEST(PgCopyRowTest, EmptyAndTrailingFields) {
  EXPECT_EQ(Split(""), (Fields{S("")}));
  EXPECT_EQ(Split("\t"), (Fields{S(""), S("")}));
  EXPECT_EQ(Split("x\t\ty\t"), (Fields{S("x"), S(""), S("y"), S("")}));
  EXPECT_EQ(Split("\t\t\t"), (Fields{S(""), S(""), S(""), S("")}));
}

TEST(PgCopyRowTest, NullIsExactlyBackslashN) {
  EXPECT_EQ(Split("\\N"), (Fields{kNull}));
  EXPECT_EQ(Split("\\N\t\\N\tz\t\\N"), (Fields{kNull, kNull, S("z"), kNull}));
  // \N inside a field is an escaped N, as COPY FROM reads it; \\N is the text.
  EXPECT_EQ(Split("a\\Nb\t\\\\N"), (Fields{S("aNb"), S("\\N")}));
  EXPECT_EQ(Split("\\N\\N"), (Fields{S("NN")}));
}

TEST(PgCopyRowTest, Escapes) {
  EXPECT_EQ(Split("a\\tb\\nc\\\\d"), (Fields{S("a\tb\nc\\d")}));
  EXPECT_EQ(Split("\\r\\b\\f\\v"), (Fields{S("\r\b\f\v")}));
  EXPECT_EQ(Split("\\101\\x41\\x4a\\7"), (Fields{S("AAJ\x07")}));
  EXPECT_EQ(Split("\\1012"), (Fields{S("A2")}));  // at most 3 octal digits
  EXPECT_EQ(Split("\\x4g\\xz"), (Fields{S("\x04gxz")}));
  EXPECT_EQ(Split("\\\"\\q"), (Fields{S("\"q")}));
  // A backslash that ends the row stands for itself.
  EXPECT_EQ(Split("ab\\"), (Fields{S("ab\\")}));
  // An escaped TAB is data, not a field break.
  EXPECT_EQ(Split("a\\\tb\tc"), (Fields{S("a\tb"), S("c")}));
}

TEST(PgCopyRowTest, ManyEscapedFieldsKeepTheirViews) {
  // Every field unescaped into the one buffer: earlier views must survive
  // the later appends (no reallocation).
  std::string row;
  Fields want;
  for (int i = 0; i < 200; ++i) {
    if (i > 0) row += '\t';
    row += "f" + std::to_string(i) + "\\t\\\\" + std::string(static_cast<size_t>(i % 7), 'x');
    want.push_back("f" + std::to_string(i) + "\t\\" + std::string(static_cast<size_t>(i % 7), 'x'));
  }
  EXPECT_EQ(Split(row), want);
}

TEST(PgCopyRowTest, JsonWithEscapedQuotesAndUnicode) {
  // jsonb's text for {"a": "x\"y", "b": "é\n"}: COPY doubles its backslashes.
  std::string row = "{\"a\": \"x\\\\\"y\", \"b\": \"\xc3\xa9\\\\n\"}\t1";
  EXPECT_EQ(Split(row), (Fields{S("{\"a\": \"x\\\"y\", \"b\": \"\xc3\xa9\\n\"}"), S("1")}));
}

}  // namespace
}  // namespace taskdex::engine_internal
