// tests/bench/sqlite_compare_test.cc
//
// The SQLite translation of bench/sqlite_compare.h against the engine: every
// body of data/sample/bodies.jsonl on data/sample, and seeded random data
// sets with random queries (tests/testing/random_data.h). With the exact SQL,
// ids in order and count must agree. The SQL Prefect sends (the timed
// flavor) must run on every query, and give the same count where its
// semantics coincide (no backslash in a value, no orphan under its fast
// path) and the same page for ID_DESC (a unique key without NULLs). Plus the
// ILIKE function on its own.

#include "bench/sqlite_compare.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "api/paginate_request.h"
#include "bench/bench_runner.h"
#include "engine/executor.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"

namespace taskdex {
namespace {

std::unique_ptr<Store> BuildStore(const SnapshotRecords& data) {
  StoreBuilder builder;
  builder.AddAll(data);
  return builder.Build();
}

std::vector<Uuid> EngineIds(const Store& store, const PageResult& page) {
  std::vector<Uuid> ids;
  for (RowId row : page.rows) ids.push_back(store.task_runs.id[row]);
  return ids;
}

std::string IdsText(const std::vector<Uuid>& ids) {
  std::string out;
  for (const Uuid& id : ids) out += UuidToString(id) + " ";
  return out;
}

TEST(PgContainsILikeTest, FollowsPostgresCLocaleRules) {
  EXPECT_TRUE(PgContainsILike("Hello World", "lo w"));
  EXPECT_TRUE(PgContainsILike("d-1-1", "d_1"));
  EXPECT_FALSE(PgContainsILike("d11", "d_1_"));
  EXPECT_TRUE(PgContainsILike("x", "_"));
  EXPECT_FALSE(PgContainsILike("", "_"));
  EXPECT_TRUE(PgContainsILike("é", "_"));           // one code point
  EXPECT_FALSE(PgContainsILike("É", "é"));          // only ASCII folds
  EXPECT_TRUE(PgContainsILike("a_b", "a\\_b"));     // escaped underscore
  EXPECT_FALSE(PgContainsILike("axb", "a\\_b"));
  EXPECT_TRUE(PgContainsILike("50%", "0\\%"));
  EXPECT_FALSE(PgContainsILike("500", "0\\%"));
  // A trailing backslash escapes the closing %: "ends with 'ab%'".
  EXPECT_TRUE(PgContainsILike("xxAB%", "ab\\"));
  EXPECT_FALSE(PgContainsILike("xxab%y", "ab\\"));
  EXPECT_TRUE(PgContainsILike("a\\b", "\\\\"));     // literal backslash
  EXPECT_TRUE(PgContainsILike("abcabd", "ab%d"));
}

TEST(TranslateQueryTest, EmptyAnyIsFalseAndJoinIsExists) {
  PaginateQuery q;
  q.filters.task_runs.emplace();
  q.filters.task_runs->id.emplace();
  q.filters.task_runs->id->any.emplace();
  q.filters.flow_runs.emplace();
  const SqliteQuery sql = TranslateQuery(q);
  EXPECT_NE(sql.count_sql.find("WHERE 0 AND EXISTS (SELECT 1 FROM flow_run fr"),
            std::string::npos)
      << sql.count_sql;
  EXPECT_TRUE(sql.params.empty());
}

TEST(TranslateQueryTest, PrefectFlavorIsWhatPrefectSends) {
  PaginateQuery q;
  q.sort = TaskRunSort::kExpectedStartTimeDesc;
  q.filters.task_runs.emplace();
  q.filters.task_runs->name.emplace();
  q.filters.task_runs->name->like = "ab";
  q.filters.task_runs->tags.emplace();
  q.filters.task_runs->tags->all = std::vector<std::string>{"db"};
  const SqliteQuery prefect = TranslateQuery(q, SqlFlavor::kPrefect);
  EXPECT_NE(prefect.page_sql.find("SELECT t.* FROM task_run t WHERE"), std::string::npos);
  EXPECT_NE(prefect.page_sql.find("ORDER BY t.expected_start_time DESC LIMIT"), std::string::npos)
      << prefect.page_sql;
  EXPECT_NE(prefect.page_sql.find("lower(t.name) LIKE lower(?)"), std::string::npos);
  EXPECT_NE(prefect.page_sql.find("count(DISTINCT \"left\".value)"), std::string::npos);
  EXPECT_EQ(prefect.page_sql.find("pg_ilike"), std::string::npos);
  EXPECT_EQ(prefect.count_sql.find("ORDER BY"), std::string::npos);
  ASSERT_FALSE(prefect.params.empty());
  EXPECT_EQ(prefect.params[0].s, "%ab%");
  const SqliteQuery exact = TranslateQuery(q, SqlFlavor::kExact);
  EXPECT_NE(exact.page_sql.find("pg_ilike(t.name, ?)"), std::string::npos);
  EXPECT_NE(exact.page_sql.find("t.id DESC"), std::string::npos);

  // Only flow_runs.id.any_: Prefect's fast path, no EXISTS.
  PaginateQuery fast;
  fast.filters.flow_runs.emplace();
  fast.filters.flow_runs->id.emplace();
  fast.filters.flow_runs->id->any = std::vector<Uuid>{Uuid{}};
  const SqliteQuery f = TranslateQuery(fast, SqlFlavor::kPrefect);
  EXPECT_NE(f.count_sql.find("WHERE t.flow_run_id IN (?)"), std::string::npos) << f.count_sql;
  EXPECT_EQ(f.count_sql.find("EXISTS"), std::string::npos);
  fast.filters.flows.emplace();
  EXPECT_NE(TranslateQuery(fast, SqlFlavor::kPrefect).count_sql.find("EXISTS"),
            std::string::npos);
}

bool HasBackslash(const SqliteQuery& q) {
  for (const SqliteQuery::Param& p : q.params) {
    if (!p.is_int && p.s.find('\\') != std::string::npos) return true;
  }
  return false;
}

TEST(SqliteCompareTest, AgreesOnSampleBodies) {
  const std::string dir = std::string(TASKDEX_SOURCE_DIR) + "/data/sample";
  auto records = ReadSnapshotRecords(dir, {}, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  auto mirror = SqliteMirror::Create(*records);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  auto store = BuildStore(*records);
  std::ifstream in(dir + "/bodies.jsonl", std::ios::binary);
  ASSERT_TRUE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int compared = 0, prefect_compared = 0;
  for (const BenchBody& body : ParseBodiesFile(text)) {
    auto parsed = ParsePaginateBody(body.body);
    const auto* request = std::get_if<PaginateRequest>(&parsed);
    if (request == nullptr) continue;
    ++compared;
    const PageResult page = Paginate(*store, request->query);
    auto answer = (*mirror)->Run(request->query);
    ASSERT_TRUE(answer.ok()) << answer.status() << "\nbody: " << body.body;
    EXPECT_EQ(answer->count, page.count) << body.name << ": " << body.body;
    EXPECT_EQ(answer->ids, EngineIds(*store, page))
        << body.name << ": " << body.body << "\nsqlite: " << IdsText(answer->ids)
        << "\nengine: " << IdsText(EngineIds(*store, page));
    const SqliteQuery prefect_sql = TranslateQuery(request->query, SqlFlavor::kPrefect);
    auto prefect = (*mirror)->Run(prefect_sql);
    ASSERT_TRUE(prefect.ok()) << prefect.status() << "\nsql: " << prefect_sql.page_sql;
    if (!HasBackslash(prefect_sql)) {
      ++prefect_compared;
      EXPECT_EQ(prefect->count, page.count) << body.name << ": " << prefect_sql.count_sql;
      EXPECT_EQ(prefect->ids.size(), page.rows.size()) << body.name;
    }
  }
  EXPECT_GT(compared, 10);
  EXPECT_GT(prefect_compared, 10);
  // Make sure the data set is not trivially empty.
  EXPECT_GT((*mirror)->task_run_rows(), 1000u);
}

TEST(SqliteCompareTest, RepeatedIdKeepsLastRecord) {
  SnapshotRecords data;
  TaskRunRecord a;
  a.id.bytes[15] = 1;
  a.name = "first";
  TaskRunRecord b = a;
  b.name = "second";
  data.task_runs = {a, b};
  auto mirror = SqliteMirror::Create(data);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  PaginateQuery q;
  q.filters.task_runs.emplace();
  q.filters.task_runs->name.emplace();
  q.filters.task_runs->name->any = std::vector<std::string>{"second"};
  auto answer = (*mirror)->Run(q);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->count, 1u);
  q.filters.task_runs->name->any = std::vector<std::string>{"first"};
  answer = (*mirror)->Run(q);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->count, 0u);
}

TEST(SqliteCompareTest, AgreesWithEngineOnRandomData) {
  constexpr uint64_t kSeed = 7140501;
  constexpr int kSets = 300;
  constexpr int kQueriesPerSet = 20;
  int disagreements = 0;
  int nonempty = 0, partial = 0, prefect_compared = 0;
  for (int set = 0; set < kSets && disagreements < 5; ++set) {
    TestRng rng(kSeed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(set) + 1);
    const SnapshotRecords data = RandomRecords(rng);
    auto mirror = SqliteMirror::Create(data);
    ASSERT_TRUE(mirror.ok()) << mirror.status();
    auto store = BuildStore(data);
    bool has_orphans = false;
    for (const TaskRunRecord& t : data.task_runs) {
      bool found = !t.flow_run_id;
      for (const FlowRunRecord& r : data.flow_runs) found |= t.flow_run_id && r.id == *t.flow_run_id;
      has_orphans |= !found;
    }
    for (int q = 0; q < kQueriesPerSet; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const PageResult page = Paginate(*store, query);
      auto answer = (*mirror)->Run(query);
      ASSERT_TRUE(answer.ok()) << answer.status();
      const std::vector<Uuid> engine_ids = EngineIds(*store, page);
      nonempty += page.count > 0;
      partial += page.count > 0 && page.count < data.task_runs.size();
      // Prefect's SQL: runs; same count where the semantics coincide; same
      // page under ID_DESC.
      const SqliteQuery prefect_sql = TranslateQuery(query, SqlFlavor::kPrefect);
      auto prefect = (*mirror)->Run(prefect_sql);
      ASSERT_TRUE(prefect.ok()) << prefect.status() << "\nsql: " << prefect_sql.page_sql;
      const bool fast_path_may_differ =
          has_orphans && query.filters.flow_runs && !query.filters.flows &&
          !query.filters.deployments;
      if (!HasBackslash(prefect_sql) && !fast_path_may_differ) {
        ++prefect_compared;
        EXPECT_EQ(prefect->count, page.count)
            << "set " << set << " query " << q << "\nquery: " << DescribeQuery(query)
            << "\nsql: " << prefect_sql.count_sql;
        if (query.sort == TaskRunSort::kIdDesc) {
          EXPECT_EQ(prefect->ids, engine_ids) << "set " << set << " query " << q;
        }
      }
      if (answer->count != page.count || answer->ids != engine_ids) {
        ++disagreements;
        ADD_FAILURE() << "set " << set << " query " << q << " (seed " << kSeed << ")\n"
                      << "query: " << DescribeQuery(query) << "\nsql: "
                      << TranslateQuery(query).page_sql << "\nengine count " << page.count
                      << " ids " << IdsText(engine_ids) << "\nsqlite count " << answer->count
                      << " ids " << IdsText(answer->ids) << "\ndata:\n"
                      << DescribeRecords(data);
      }
    }
  }
  // The cases are not vacuous: many match some rows, and many filter.
  EXPECT_GT(nonempty, kSets * kQueriesPerSet / 5);
  EXPECT_GT(partial, kSets * kQueriesPerSet / 10);
  EXPECT_GT(prefect_compared, kSets * kQueriesPerSet / 2);
}

}  // namespace
}  // namespace taskdex
