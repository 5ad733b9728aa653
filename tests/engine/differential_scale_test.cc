// tests/engine/differential_scale_test.cc
//
// The engine under its AUTOMATIC planner against the reference evaluator on
// data sets of realistic scale (issue 9): 2k to 100k task runs with
// near-unique names, skewed values and dense and sparse leaves
// (tests/testing/random_scale_data.h), queries aimed at the data
// (random_scale_query.h). At these sizes the planner's thresholds flip both
// ways (posting union vs scan, walk vs partial sort, probe vs postings,
// sorted range vs scan vs row filter), which the small data sets of
// differential_test.cc never reach.
//
// Checked per query: for several page cuts (first, middle, last, past the
// end) the page's ids in order and PageResult.count; `pages` as the response
// writes it (api AppendPaginateResponse: ceil(count/limit), 0 for limit 0);
// and Count(store, filters).
//
// Seeds: TASKDEX_TEST_SEED=<n> replays exactly the same data sets and
// queries (default below); each query has its own generator, so a failure
// names (seed, set, query). A failure prints the case, a describe of the
// query, and a case shrunk with a bounded number of checks.
// Runtime: a few seconds in Release; the reference is a plain pass over the
// rows per query, so the 100k set runs a few dozen queries.
// Unoptimized builds (no NDEBUG: Debug, CI's ASan+UBSan run) run a sixth
// of each set's queries (kQueryDivisor) to stay near a minute; queries have
// their own generators, so those are the first queries of an optimized run.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/response_writer.h"
#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_seed.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"
#include "tests/testing/random_scale_query.h"
#include "tests/testing/reference_evaluator.h"
#include "tests/testing/shrink.h"

namespace taskdex {
namespace {

constexpr uint64_t kDefaultSeed = 20261204;
// Checks the shrinker may spend on one failure (each builds a store).
constexpr int kShrinkChecks = 400;
#ifdef NDEBUG
constexpr int kQueryDivisor = 1;
#else
constexpr int kQueryDivisor = 6;
#endif

uint64_t BaseSeed() { return TestSeed("differential_scale_test", kDefaultSeed); }

uint64_t Mix(uint64_t seed, uint64_t a, uint64_t b) {
  return seed * 0x9e3779b97f4a7c15ULL + a * 0xd1b54a32d192ed03ULL + b * 0x8cb92ba72f3d8dd7ULL + 1;
}

std::unique_ptr<Store> BuildStore(const SnapshotRecords& data) {
  StoreBuilder builder;
  builder.AddAll(data);
  return builder.Build();
}

// `{"results":[],"count":C,"limit":L,"pages":P,"page":1}` as the API writes
// the envelope for `count` and `limit` (rows left out: the ids are compared
// directly).
std::string Envelope(const Store& store, uint64_t count, int64_t limit) {
  std::string out;
  AppendPaginateResponse(store, {}, count, limit, "1", 0, &out);
  return out;
}

std::string ExpectedEnvelope(uint64_t count, int64_t limit) {
  return "{\"results\":[],\"count\":" + std::to_string(count) +
         ",\"limit\":" + std::to_string(limit) +
         ",\"pages\":" + std::to_string(RefPages(count, limit)) + ",\"page\":1}";
}

// The reference's page for `query` out of its full order.
std::vector<Uuid> RefSlice(const std::vector<Uuid>& all, const PaginateQuery& query) {
  std::vector<Uuid> page;
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  for (uint64_t i = query.offset; i < all.size() && page.size() < limit; ++i) {
    page.push_back(all[i]);
  }
  return page;
}

struct Answer {
  std::vector<Uuid> ids;
  uint64_t count = 0;
  uint64_t count_only = 0;  // Count(store, filters)
  std::string envelope;
};

Answer RunEngine(const Store& store, const PaginateQuery& query) {
  const PageResult page = Paginate(store, query);
  Answer a;
  for (RowId r : page.rows) a.ids.push_back(store.task_runs.id[r]);
  a.count = page.count;
  a.count_only = Count(store, query.filters);
  a.envelope = Envelope(store, page.count, query.limit);
  return a;
}

bool Agrees(const Answer& got, const std::vector<Uuid>& want_ids, uint64_t want_count,
            int64_t limit) {
  return got.ids == want_ids && got.count == want_count && got.count_only == want_count &&
         got.envelope == ExpectedEnvelope(want_count, limit);
}

bool Disagree(const SnapshotRecords& data, const PaginateQuery& query) {
  const std::unique_ptr<Store> store = BuildStore(data);
  const ReferenceResult want = RefPaginate(data, query);
  return !Agrees(RunEngine(*store, query), want.ids, want.count, query.limit);
}

std::string Show(const char* who, const Answer& a, int64_t limit) {
  return std::string(who) + ": count " + std::to_string(a.count) + " Count() " +
         std::to_string(a.count_only) + " pages " + std::to_string(PageCount(a.count, limit)) +
         " ids [" + DescribeIds(a.ids) + "]\n";
}

// Where two pages first differ, since pages of 200 ids are hard to compare
// by eye.
std::string FirstDifference(const std::vector<Uuid>& want, const std::vector<Uuid>& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  if (i == want.size() && i == got.size()) return "ids agree\n";
  auto at = [&](const std::vector<Uuid>& v) {
    return i < v.size() ? DescribeIds({v[i]}) : std::string("(end)");
  };
  return "ids first differ at position " + std::to_string(i) + ": reference " + at(want) +
         ", engine " + at(got) + " (lengths " + std::to_string(want.size()) + " and " +
         std::to_string(got.size()) + ")\n";
}

std::string FailureReport(uint64_t seed, int set, uint32_t task_runs, int q,
                          const SnapshotRecords& data, const Store& store,
                          const PaginateQuery& query, const std::vector<Uuid>& want_ids,
                          uint64_t want_count) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string out = "replay: TASKDEX_TEST_SEED=" + std::to_string(seed) +
                    " build/tests/taskdex_engine_test --gtest_filter='" + test->test_suite_name() +
                    "." + test->name() + "'\n" + "data set " + std::to_string(set) + " (" +
                    std::to_string(task_runs) + " task runs) query " + std::to_string(q) + "\n";
  out += "query: " + DescribeQuery(query) + "\n";
  out += "reference: count " + std::to_string(want_count) + " pages " +
         std::to_string(RefPages(want_count, query.limit)) + " ids [" + DescribeIds(want_ids) +
         "]\n";
  const Answer got = RunEngine(store, query);
  out += Show("engine   ", got, query.limit);
  out += FirstDifference(want_ids, got.ids);
  out += "plan:\n" + Explain(store, query);

  SnapshotRecords small = data;
  PaginateQuery small_query = query;
  ShrinkFailure(Disagree, &small, &small_query, kShrinkChecks);
  const std::unique_ptr<Store> small_store = BuildStore(small);
  const ReferenceResult small_want = RefPaginate(small, small_query);
  out += "shrunk (" + std::to_string(small.task_runs.size()) + " task runs, " +
         std::to_string(small.flow_runs.size()) + " flow runs): " + DescribeQuery(small_query) +
         "\n";
  out += "shrunk reference: count " + std::to_string(small_want.count) + " ids [" +
         DescribeIds(small_want.ids) + "]\n";
  out += Show("shrunk engine   ", RunEngine(*small_store, small_query), small_query.limit);
  if (small.task_runs.size() + small.flow_runs.size() <= 60) {
    out += "shrunk data:\n" + DescribeRecords(small);
  }
  return out;
}

// Per data set: how many queries; each checks 3-5 page cuts.
struct ScaleSet {
  uint32_t task_runs;
  int queries;
};

// Runs the sets; stops after a few failures (each report shrinks).
void RunScale(uint64_t seed, const std::vector<ScaleSet>& sets, int first_set) {
  int failures = 0;
  for (size_t s = 0; s < sets.size() && failures < 2; ++s) {
    const int set = first_set + static_cast<int>(s);
    TestRng data_rng(Mix(seed, static_cast<uint64_t>(set), 0));
    const SnapshotRecords data = RandomRecordsAtScale(data_rng, sets[s].task_runs);
    const std::unique_ptr<Store> store = BuildStore(data);
    const RefData ref(data);
    const ScaleQueryGen gen(data);
    const int queries = std::max(1, sets[s].queries / kQueryDivisor);
    for (int q = 0; q < queries && failures < 2; ++q) {
      TestRng rng(Mix(seed, static_cast<uint64_t>(set), static_cast<uint64_t>(q) + 1));
      PaginateQuery query = gen.Query(rng);
      const ReferenceResult want = RefPaginate(ref, query);
      for (const PageCut& cut : ScalePages(rng, want.count)) {
        query.limit = cut.limit;
        query.offset = cut.offset;
        const std::vector<Uuid> want_ids = RefSlice(want.all_ids, query);
        if (!Agrees(RunEngine(*store, query), want_ids, want.count, query.limit)) {
          ++failures;
          ADD_FAILURE() << FailureReport(seed, set, sets[s].task_runs, q, data, *store, query,
                                         want_ids, want.count);
          break;
        }
      }
    }
  }
}

TEST(DifferentialScaleTest, ThousandsOfTaskRuns) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  RunScale(seed, {{2000, 150}, {3500, 100}, {6000, 80}}, 0);
}

TEST(DifferentialScaleTest, TensOfThousandsOfTaskRuns) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  RunScale(seed, {{20000, 60}}, 10);
}

TEST(DifferentialScaleTest, HundredThousandTaskRuns) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  RunScale(seed, {{100000, 30}}, 20);
}

// The point of the scale data: the automatic planner takes more than one
// path for the same step (e.g. "page": walk, partial sort, slice). Counts
// each (step, path) over the queries and page cuts of one data set, prints
// the table, and requires several steps to have taken two paths or more.
// Step names come from the executor's trace; only their variety is checked.
TEST(DifferentialScaleTest, PlannerTakesBothSidesOfItsThresholds) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  std::map<std::string, std::map<std::string, int>> paths;  // step -> path -> times
  for (const auto& [set, task_runs] : {std::pair<int, uint32_t>{0, 2000}, {10, 20000}}) {
    TestRng data_rng(Mix(seed, static_cast<uint64_t>(set), 0));
    const SnapshotRecords data = RandomRecordsAtScale(data_rng, task_runs);
    const std::unique_ptr<Store> store = BuildStore(data);
    const ScaleQueryGen gen(data);
    // No reference here, so unoptimized builds can afford more than a sixth.
    const int queries = kQueryDivisor == 1 ? 150 : 60;
    for (int q = 0; q < queries; ++q) {
      TestRng rng(Mix(seed, static_cast<uint64_t>(set), static_cast<uint64_t>(q) + 1));
      PaginateQuery query = gen.Query(rng);
      const uint64_t count = Count(*store, query.filters);
      for (const PageCut& cut : ScalePages(rng, count)) {
        query.limit = cut.limit;
        query.offset = cut.offset;
        std::vector<PlanStep> trace;
        ExecOptions options;
        options.trace = &trace;
        Paginate(*store, query, options);
        for (const PlanStep& step : trace) ++paths[step.what][step.path];
      }
    }
  }
  int flipping = 0;
  std::string table;
  for (const auto& [what, by_path] : paths) {
    if (by_path.size() >= 2) ++flipping;
    for (const auto& [path, times] : by_path) {
      table += "  " + what + " | " + path + " | " + std::to_string(times) + "\n";
    }
  }
  std::fprintf(stderr, "plan steps over the scale queries (step | path | times):\n%s",
               table.c_str());
  EXPECT_GE(flipping, 8) << table;
}

}  // namespace
}  // namespace taskdex
