// tests/engine/task_run_row_test.cc: the typed path of task run rows
// (engine/internal/task_run_row.h) pinned to the canonical one
// (DbRowToUpsert): for seeded random rows mixing typical values and edge
// cases (NULLs, escapes, unicode, invalid UTF-8, empty tags, odd
// timestamps, odd numbers, missing state, every state type, odd JSON), the
// typed result, when it gives one, equals the canonical record exactly, and
// DbRowToUpsertFast always equals DbRowToUpsert (value or error). Typical
// rows must all take the typed path, and odd ones must fall back.

#include "engine/internal/task_run_row.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/db_source.h"
#include "engine/internal/db_dialects.h"
#include "engine/records.h"
#include "engine/types.h"
#include "gtest/gtest.h"

namespace taskdex::engine_internal {
namespace {

using Row = std::vector<std::optional<std::string>>;
using Pick = std::vector<std::optional<std::string>>;
constexpr std::nullopt_t kNull = std::nullopt;

// The row as DbRow (views into `row`).
std::vector<std::optional<std::string_view>> View(const Row& row) {
  std::vector<std::optional<std::string_view>> v;
  for (const auto& f : row) v.push_back(f ? std::optional<std::string_view>(*f) : std::nullopt);
  return v;
}

class RowMaker {
 public:
  explicit RowMaker(uint32_t seed) : rng_(seed) {}

  std::string Uuid(bool upper = false) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
      char c = kHex[rng_() % 16];
      s.push_back(upper && c >= 'a' ? static_cast<char>(c - 32) : c);
    }
    return s;
  }
  std::string Time() {
    char b[64];
    int year = 2020 + static_cast<int>(rng_() % 6);
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", year, 1 + static_cast<int>(rng_() % 12),
                  1 + static_cast<int>(rng_() % 28), static_cast<int>(rng_() % 24),
                  static_cast<int>(rng_() % 60), static_cast<int>(rng_() % 60));
    std::string s = b;
    switch (rng_() % 4) {
      case 0:
        break;
      case 1:
        s += "." + std::to_string(rng_() % 10);
        break;
      default:
        std::snprintf(b, sizeof b, ".%06u", static_cast<unsigned>(rng_() % 1000000));
        s += b;
    }
    return s + "Z";
  }
  std::string Text() {
    static const char* kParts[] = {"task", "-", "_", " ", "é", "日本", "😀", "\t", "\n", "\"",
                                   "\\", "/", "\x01", "a", "0", "{", "}"};
    std::string s;
    size_t n = rng_() % 6;
    for (size_t i = 0; i < n; ++i) s += kParts[rng_() % std::size(kParts)];
    return s;
  }
  template <typename T>
  const T& One(const std::vector<T>& v) {
    return v[rng_() % v.size()];
  }
  bool Chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }

  // A row: `odd_percent` of the fields take an edge case.
  Row Make(int odd_percent) {
    Row r(kTrColumnCount);
    auto pick = [&](const Pick& typical, const Pick& odd) {
      return Chance(odd_percent) ? One(odd) : One(typical);
    };
    const Pick odd_time = {kNull, "2024-02-30T00:00:00Z", "2024-05-01T12:00:00+02:00",
                           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "garbage",
                           "2024-05-01T12:00:00.1234567Z", "2024-05-01T12:00:00-05:30"};
    auto time = [&] { return pick({Time(), Time(), kNull}, odd_time); };
    auto text = [&] { return pick({Text(), "plain"}, {kNull, "", "bad \xff utf8", "\xc3"}); };
    auto ntext = [&] { return pick({Text(), kNull}, {"", "bad \xff", "\\N"}); };
    auto uuid = [&] { return pick({Uuid()}, {kNull, Uuid(true), "not-a-uuid", "{" + Uuid() + "}"}); };
    auto nuuid = [&] { return pick({Uuid(), kNull}, {Uuid(true), "nope", ""}); };
    auto count = [&] {
      return pick({"0", "1", std::to_string(rng_() % 1000)},
                  {kNull, "-1", "007", "1.0", "1e3", "99999999999999999999", "x", " 1", "-0"});
    };
    std::vector<std::string> types;
    for (int t = 0; t < kNumStateTypes; ++t) {
      types.emplace_back(StateTypeName(static_cast<StateType>(t)));
    }
    r[kTrId] = uuid();
    r[kTrUpdated] = time();
    r[kTrCreated] = time();
    r[kTrName] = text();
    r[kTrFlowRunId] = nuuid();
    r[kTrTaskKey] = text();
    r[kTrDynamicKey] = text();
    r[kTrCacheKey] = ntext();
    r[kTrCacheExpiration] = time();
    r[kTrTaskVersion] = ntext();
    r[kTrEmpiricalPolicy] = pick(
        {"{}",
         "{\"retries\": 0, \"retry_delay\": 0, \"max_retries\": 0, \"retry_jitter_factor\": null, "
         "\"retry_delay_seconds\": 0}",
         "{\"retries\": 3, \"retry_delay\": [1, 2.5], \"max_retries\": 0, "
         "\"retry_delay_seconds\": 0}"},
        {kNull, "null", "[]", "{\"retries\": \"x\"}", "{} 1", "{\"retry_delay\": 1.0E2}",
         "{\"unknown\": {\"deep\": [1, 2]}}"});
    r[kTrTags] = pick({"[]", "[\"a\", \"b\"]", "[\"" + Uuid() + "\"]"},
                      {kNull, "null", "[1]", "[\"é\", \"x\\\"y\", \"a\\nb\", \"\\u00e9\"]",
                       "{\"a\": 1}", "[\"a\",]", "[\"\xff\"]", "[]]", "[[]]"});
    r[kTrLabels] = pick({kNull, "{}"},
                        {"null", "[]", "{\"k\": \"v\", \"n\": 1.50}", "{\"a\": {\"b\": [1, 2]}}",
                         "{\"a\": tru}", "1"});
    r[kTrStateId] = nuuid();
    const std::string input_id = Uuid();
    r[kTrTaskInputs] = pick(
        {"{}", "{\"x\": [{\"id\": \"" + input_id + "\", \"input_type\": \"task_run\"}]}"},
        {kNull, "[]", "{\"x\": [{\"input_type\": \"parameter\", \"name\": \"p\"}]}",
         "{\"y\": []}", "{\"x\": [{\"id\": \"" + Uuid(true) + "\"}]}", "{\"x\": 1}"});
    r[kTrStateType] = pick({One(types), kNull}, {"BOGUS", "completed", ""});
    r[kTrStateName] = ntext();
    r[kTrRunCount] = count();
    r[kTrFlowRunRunCount] = count();
    r[kTrExpectedStartTime] = time();
    r[kTrNextScheduledStartTime] = time();
    r[kTrStartTime] = time();
    r[kTrEndTime] = time();
    r[kTrTotalRunTime] = pick({"0", "0.000000", "12.345678", std::to_string(rng_() % 100000) + ".5"},
                              {kNull, "1e3", "-0.5", "9000000000000.5", "abc", "0.1234567",
                               "1E400", "00.5", ".5", "-0", "0.0000005"});
    r[kTrStateTimestamp] = time();
    if (Chance(odd_percent > 0 ? 10 : 0)) return r;  // no state row: s.* all NULL
    r[kTrSId] = pick({Uuid()}, {"bad", Uuid(true)});
    r[kTrSType] = pick({One(types)}, {kNull, "BOGUS"});
    r[kTrSName] = pick({"Completed", Text(), kNull}, {"", "\xff"});
    r[kTrSTimestamp] = pick({Time()}, odd_time);
    r[kTrSMessage] = pick({kNull, Text()}, {"", "\x01\x02"});
    const std::string details =
        "{\"flow_run_id\": \"" + Uuid() + "\", \"task_run_id\": \"" + Uuid() +
        "\", \"child_flow_run_id\": null, \"scheduled_time\": " +
        (Chance(50) ? "null" : "\"" + Time() + "\"") +
        ", \"cache_key\": null, \"cache_expiration\": null, \"untrackable_result\": false, "
        "\"pause_timeout\": null, \"pause_reschedule\": false, \"pause_key\": null, "
        "\"run_input_keyset\": null, \"refresh_cache\": null, \"retriable\": null, "
        "\"transition_id\": \"" + Uuid() + "\", \"task_parameters_id\": null}";
    r[kTrSStateDetails] = pick({"{}", details},
                               {kNull, "[]", "{\"scheduled_time\": \"x\"}", "{\"zzz\": [1, {}]}"});
    r[kTrSData] = pick({kNull, "null", "{\"type\": \"reference\", \"storage_key\": \"k\"}"},
                       {"{}", "0", "\"\"", "[1]", "false", "0.0", "{\"a\": }"});
    r[kTrArtifactData] = pick({kNull, "{\"x\": 1}"}, {"\"str\"", "[]", "0", "nul"});
    return r;
  }

 private:
  std::mt19937 rng_;
};

// The typed path against the canonical one for one row; true when the
// typed path read it.
bool CheckRow(TaskRunRowReader& reader, const Row& row, size_t n) {
  auto view = View(row);
  absl::StatusOr<Change> canonical = DbRowToUpsert(EntityKind::kTaskRun, view);
  std::optional<Change> fast = reader.TryRead(view);
  if (fast) {
    EXPECT_TRUE(canonical.ok()) << "row " << n << ": typed path read a row the canonical path refuses: "
                                << canonical.status();
    if (canonical.ok()) {
      EXPECT_EQ(fast->op, canonical->op);
      EXPECT_EQ(fast->entity, canonical->entity);
      EXPECT_EQ(fast->id, canonical->id);
      EXPECT_TRUE(std::get<TaskRunRecord>(fast->row) == std::get<TaskRunRecord>(canonical->row))
          << "row " << n;
    }
  }
  absl::StatusOr<Change> through = DbRowToUpsertFast(reader, EntityKind::kTaskRun, view);
  EXPECT_EQ(through.status(), canonical.status()) << "row " << n;
  if (through.ok() && canonical.ok()) {
    EXPECT_TRUE(std::get<TaskRunRecord>(through->row) == std::get<TaskRunRecord>(canonical->row))
        << "row " << n;
  }
  return fast.has_value();
}

TEST(TaskRunRowTest, TypicalRowsTakeTheTypedPathAndEqualTheCanonicalOnes) {
  RowMaker maker(12);
  TaskRunRowReader reader;
  size_t fast = 0;
  const size_t n = 5000;
  for (size_t i = 0; i < n; ++i) fast += CheckRow(reader, maker.Make(0), i);
  // Every typical row is read by the typed path (else it measures nothing).
  EXPECT_EQ(fast, n);
}

TEST(TaskRunRowTest, RandomRowsWithEdgeCasesEqualTheCanonicalOnes) {
  for (int odd_percent : {3, 10, 30}) {
    RowMaker maker(static_cast<uint32_t>(1000 + odd_percent));
    TaskRunRowReader reader;
    size_t fast = 0;
    const size_t n = 6000;
    for (size_t i = 0; i < n; ++i) fast += CheckRow(reader, maker.Make(odd_percent), i);
    // Both paths were exercised.
    EXPECT_GT(fast, 0u) << odd_percent;
    EXPECT_LT(fast, n) << odd_percent;
  }
}

// A typical row, then one column set to `value`.
Row WithColumn(size_t column, std::optional<std::string> value) {
  RowMaker maker(7);
  Row row = maker.Make(0);
  row[column] = std::move(value);
  return row;
}

TEST(TaskRunRowTest, OddInputFallsBackToTheCanonicalPath) {
  struct Case {
    size_t column;
    std::optional<std::string> value;
    bool canonical_ok;  // what the canonical path makes of it
  };
  const Case cases[] = {
      {kTrTags, "[1]", false},
      {kTrTags, kNull, false},
      {kTrRunCount, "1.0", true},  // an integral float: the line parser's lax case
      {kTrRunCount, kNull, false},
      {kTrTotalRunTime, "abc", false},
      {kTrEmpiricalPolicy, "{\"retries\": \"x\"}", false},
      {kTrEmpiricalPolicy, "{} 1", false},
      {kTrLabels, "[]", false},
      {kTrStateType, "BOGUS", false},
      {kTrName, "bad \xff", false},
      {kTrName, kNull, false},
      {kTrId, "not-a-uuid", false},
      {kTrCreated, "2024-02-30T00:00:00Z", false},
      {kTrSType, "BOGUS", false},
      {kTrSStateDetails, "[]", false},
  };
  for (const Case& c : cases) {
    Row row = WithColumn(c.column, c.value);
    TaskRunRowReader reader;
    auto view = View(row);
    EXPECT_FALSE(reader.TryRead(view).has_value()) << c.column << " " << c.value.value_or("NULL");
    EXPECT_EQ(reader.fallback_rows(), 1u);
    absl::StatusOr<Change> canonical = DbRowToUpsert(EntityKind::kTaskRun, view);
    EXPECT_EQ(canonical.ok(), c.canonical_ok) << c.column << ": " << canonical.status();
    absl::StatusOr<Change> through = DbRowToUpsertFast(reader, EntityKind::kTaskRun, view);
    EXPECT_EQ(through.status(), canonical.status());
    if (through.ok() && canonical.ok()) {
      EXPECT_TRUE(std::get<TaskRunRecord>(through->row) == std::get<TaskRunRecord>(canonical->row));
    }
  }
}

TEST(TaskRunRowTest, RememberedJsonGivesTheSameRecordsAsFresh) {
  // The same JSON texts through one reader (memo hits) and fresh readers.
  RowMaker maker(99);
  TaskRunRowReader shared;
  for (int i = 0; i < 300; ++i) {
    Row row = maker.Make(0);
    auto view = View(row);
    TaskRunRowReader fresh;
    std::optional<Change> a = shared.TryRead(view);
    std::optional<Change> b = fresh.TryRead(view);
    ASSERT_TRUE(a && b) << i;
    EXPECT_TRUE(std::get<TaskRunRecord>(a->row) == std::get<TaskRunRecord>(b->row)) << i;
  }
}

TEST(TaskRunRowTest, OtherEntitiesTakeTheCanonicalPath) {
  std::vector<std::optional<std::string_view>> flow(DbColumns(EntityKind::kFlow).size());
  flow[0] = "0b4ff96e-ff3a-4f4a-9f58-1d3c4c7b2a10";
  flow[1] = "2024-05-01T12:00:00Z";
  flow[2] = "f";
  flow[3] = "[\"t\"]";
  TaskRunRowReader reader;
  absl::StatusOr<Change> through = DbRowToUpsertFast(reader, EntityKind::kFlow, flow);
  absl::StatusOr<Change> canonical = DbRowToUpsert(EntityKind::kFlow, flow);
  ASSERT_TRUE(through.ok() && canonical.ok()) << canonical.status();
  EXPECT_TRUE(std::get<FlowRecord>(through->row) == std::get<FlowRecord>(canonical->row));
  EXPECT_EQ(reader.fast_rows() + reader.fallback_rows(), 0u);
}

}  // namespace
}  // namespace taskdex::engine_internal
