// tests/engine/differential_test.cc
//
// The engine (StoreBuilder + Paginate) against the reference evaluator on
// seeded random data sets and queries (STYLE.md 8): ids in order, count and
// pages must agree. Plus properties that hold whatever the answer: page k is
// the full order after skipping (k-1)*limit, count ignores sort and page, and
// children commute (list order, splitting an and_/or_ level).
//
// The seed is fixed; set TASKDEX_TEST_SEED to explore others. A disagreement
// prints the seed, the case, the query as a request body, and a shrunken
// case (fewest records and filter fields that still disagree).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_seed.h"
#include "tests/testing/describe.h"
#include "tests/testing/examples_data.h"
#include "tests/testing/random_data.h"
#include "tests/testing/reference_evaluator.h"
#include "tests/testing/shrink.h"

namespace taskdex {
namespace {

constexpr uint64_t kDefaultSeed = 20240501;

uint64_t BaseSeed() { return TestSeed("differential_test", kDefaultSeed); }

// One independent generator per data set, so case (seed, set, query) replays
// without running the earlier sets.
uint64_t SetSeed(uint64_t seed, int set) {
  return seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(set) * 0xd1b54a32d192ed03ULL + 1;
}

std::unique_ptr<Store> BuildStore(const SnapshotRecords& data) {
  StoreBuilder builder;
  builder.AddAll(data);
  return builder.Build();
}

struct EngineAnswer {
  std::vector<Uuid> ids;
  uint64_t count = 0;
};

EngineAnswer RunEngine(const Store& store, const PaginateQuery& query) {
  PageResult page = Paginate(store, query);
  EngineAnswer answer;
  answer.count = page.count;
  for (RowId row : page.rows) answer.ids.push_back(store.task_runs.id[row]);
  return answer;
}

std::vector<Uuid> SortedIds(std::vector<Uuid> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The task runs the engine selects, as sorted ids.
std::vector<Uuid> EngineMatches(const Store& store, const FilterSet& filters) {
  std::vector<Uuid> ids;
  for (RowId row : MatchTaskRuns(store, filters)) ids.push_back(store.task_runs.id[row]);
  return SortedIds(ids);
}

bool Disagree(const SnapshotRecords& data, const PaginateQuery& query) {
  std::unique_ptr<Store> store = BuildStore(data);
  const ReferenceResult want = RefPaginate(data, query);
  const EngineAnswer got = RunEngine(*store, query);
  return got.ids != want.ids || got.count != want.count ||
         Count(*store, query.filters) != want.count;
}

std::string FailureReport(uint64_t seed, int set, int q, const SnapshotRecords& data,
                          const PaginateQuery& query) {
  std::unique_ptr<Store> store = BuildStore(data);
  const ReferenceResult want = RefPaginate(data, query);
  const EngineAnswer got = RunEngine(*store, query);
  std::string out = "TASKDEX_TEST_SEED=" + std::to_string(seed) + " data set " +
                    std::to_string(set) + " query " + std::to_string(q) + "\n";
  out += "query: " + DescribeQuery(query) + "\n";
  out += "reference: count " + std::to_string(want.count) + " pages " +
         std::to_string(want.pages) + " ids [" + DescribeIds(want.ids) + "]\n";
  out += "engine:    count " + std::to_string(got.count) + " pages " +
         std::to_string(RefPages(got.count, query.limit)) + " ids [" + DescribeIds(got.ids) +
         "] Count() " + std::to_string(Count(*store, query.filters)) + "\n";

  SnapshotRecords small = data;
  PaginateQuery small_query = query;
  ShrinkFailure(Disagree, &small, &small_query);
  std::unique_ptr<Store> small_store = BuildStore(small);
  const ReferenceResult small_want = RefPaginate(small, small_query);
  const EngineAnswer small_got = RunEngine(*small_store, small_query);
  out += "shrunk query: " + DescribeQuery(small_query) + "\n";
  out += "shrunk reference: count " + std::to_string(small_want.count) + " ids [" +
         DescribeIds(small_want.ids) + "]\n";
  out += "shrunk engine:    count " + std::to_string(small_got.count) + " ids [" +
         DescribeIds(small_got.ids) + "]\n";
  out += "shrunk data:\n" + DescribeRecords(small);
  return out;
}

// Runs `sets` x `queries` random cases; stops after a few failures.
void RunDifferential(uint64_t seed, int sets, int queries) {
  int failures = 0;
  for (int set = 0; set < sets && failures < 3; ++set) {
    TestRng rng(SetSeed(seed, set));
    const SnapshotRecords data = RandomRecords(rng);
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < queries && failures < 3; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const ReferenceResult want = RefPaginate(data, query);
      const EngineAnswer got = RunEngine(*store, query);
      const uint64_t count_only = Count(*store, query.filters);
      if (got.ids != want.ids || got.count != want.count || count_only != want.count ||
          RefPages(got.count, query.limit) != want.pages) {
        ++failures;
        ADD_FAILURE() << FailureReport(seed, set, q, data, query);
      }
    }
  }
}

TEST(DifferentialTest, EngineAgreesWithReferenceOnRandomCases) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  RunDifferential(seed, 400, 50);  // 20,000 cases
}

TEST(DifferentialTest, EngineAgreesWithReferenceOnExamplesData) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  const SnapshotRecords data = examples::Records();
  const std::unique_ptr<Store> store = BuildStore(data);
  TestRng rng(seed + 17);
  int failures = 0;
  for (int q = 0; q < 1500 && failures < 3; ++q) {
    const PaginateQuery query = RandomQuery(rng, data);
    const ReferenceResult want = RefPaginate(data, query);
    const EngineAnswer got = RunEngine(*store, query);
    if (got.ids != want.ids || got.count != want.count) {
      ++failures;
      ADD_FAILURE() << FailureReport(seed, -1, q, data, query);
    }
  }
}

// A repeated id keeps the last record (entities.md 4.1): data sets with
// re-sent, modified records must still agree.
TEST(DifferentialTest, RepeatedIdsKeepTheLastRecord) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  int failures = 0;
  for (int set = 0; set < 60 && failures < 3; ++set) {
    TestRng rng(SetSeed(seed, 5000 + set));
    SnapshotRecords data = RandomRecords(rng);
    // A second random data set supplies the replacement field values.
    const SnapshotRecords other = RandomRecords(rng);
    for (size_t i = 0; i < data.task_runs.size() && i < other.task_runs.size(); i += 3) {
      TaskRunRecord again = other.task_runs[i];
      again.id = data.task_runs[i].id;
      if (again.flow_run_id.has_value() && !data.flow_runs.empty()) {
        again.flow_run_id = data.flow_runs[i % data.flow_runs.size()].id;
      }
      data.task_runs.push_back(again);
    }
    for (size_t i = 0; i < data.flow_runs.size() && i < other.flow_runs.size(); i += 2) {
      FlowRunRecord again = other.flow_runs[i];
      again.id = data.flow_runs[i].id;
      if (!data.flows.empty()) again.flow_id = data.flows[i % data.flows.size()].id;
      data.flow_runs.push_back(again);
    }
    if (!data.flows.empty()) {
      FlowRecord again = data.flows[0];
      again.name = "replaced";
      again.tags = {"a"};
      data.flows.push_back(again);
    }
    if (!data.deployments.empty()) {
      DeploymentRecord again = data.deployments[0];
      again.paused = !again.paused;
      if (!data.flows.empty()) again.flow_id = data.flows.back().id;
      data.deployments.push_back(again);
    }
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < 40 && failures < 3; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const ReferenceResult want = RefPaginate(data, query);
      const EngineAnswer got = RunEngine(*store, query);
      if (got.ids != want.ids || got.count != want.count) {
        ++failures;
        ADD_FAILURE() << FailureReport(seed, 5000 + set, q, data, query);
      }
    }
  }
}

TEST(DifferentialTest, PageKIsTheFullOrderAfterSkipping) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  for (int set = 0; set < 30; ++set) {
    TestRng rng(SetSeed(seed, 1000 + set));
    const SnapshotRecords data = RandomRecords(rng);
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < 10; ++q) {
      PaginateQuery full = RandomQuery(rng, data);
      full.limit = 200;  // data sets hold at most 40 task runs
      full.offset = 0;
      const EngineAnswer all = RunEngine(*store, full);
      ASSERT_EQ(all.ids.size(), all.count) << DescribeQuery(full);
      for (int64_t limit : {1, 2, 3, 7}) {
        for (uint64_t k = 1; k <= all.count / static_cast<uint64_t>(limit) + 2; ++k) {
          PaginateQuery page = full;
          page.limit = limit;
          page.offset = (k - 1) * static_cast<uint64_t>(limit);
          const EngineAnswer got = RunEngine(*store, page);
          std::vector<Uuid> want;
          for (uint64_t i = page.offset; i < all.ids.size() && want.size() < uint64_t(limit); ++i) {
            want.push_back(all.ids[i]);
          }
          EXPECT_EQ(got.ids, want) << "set " << set << " page " << k << " "
                                   << DescribeQuery(page);
          EXPECT_EQ(got.count, all.count);
        }
      }
    }
  }
}

TEST(DifferentialTest, CountIgnoresSortAndPage) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  for (int set = 0; set < 30; ++set) {
    TestRng rng(SetSeed(seed, 2000 + set));
    const SnapshotRecords data = RandomRecords(rng);
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < 10; ++q) {
      PaginateQuery query = RandomQuery(rng, data);
      const uint64_t count = Count(*store, query.filters);
      for (int s = 0; s < kNumTaskRunSorts; ++s) {
        for (auto [limit, offset] : {std::pair<int64_t, uint64_t>{0, 0}, {1, 0}, {3, 6},
                                     {200, 0}, {5, UINT64_MAX}}) {
          query.sort = static_cast<TaskRunSort>(s);
          query.limit = limit;
          query.offset = offset;
          EXPECT_EQ(RunEngine(*store, query).count, count) << DescribeQuery(query);
        }
      }
    }
  }
}

TEST(DifferentialTest, ListOrderDoesNotMatter) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  for (int set = 0; set < 30; ++set) {
    TestRng rng(SetSeed(seed, 3000 + set));
    const SnapshotRecords data = RandomRecords(rng);
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < 10; ++q) {
      PaginateQuery query = RandomQuery(rng, data);
      PaginateQuery shuffled = query;
      shuffled.filters = ShuffleLists(rng, query.filters);
      const EngineAnswer a = RunEngine(*store, query);
      const EngineAnswer b = RunEngine(*store, shuffled);
      EXPECT_EQ(a.ids, b.ids) << DescribeQuery(query) << "\nvs " << DescribeQuery(shuffled);
      EXPECT_EQ(a.count, b.count);
    }
  }
}

// Clears the fields of `f` whose bit in `mask` is `clear_if`; returns the
// number of fields left present.
template <typename F>
int KeepFields(F& f, uint32_t mask, bool clear_if);

template <typename T>
int Keep(std::optional<T>& field, uint32_t mask, int bit, bool clear_if) {
  if (((mask >> bit) & 1) == static_cast<uint32_t>(clear_if)) field.reset();
  return field.has_value() ? 1 : 0;
}

template <>
int KeepFields(TaskRunFilter& f, uint32_t m, bool c) {
  return Keep(f.id, m, 0, c) + Keep(f.name, m, 1, c) + Keep(f.tags, m, 2, c) +
         Keep(f.state, m, 3, c) + Keep(f.start_time, m, 4, c) + Keep(f.end_time, m, 5, c) +
         Keep(f.expected_start_time, m, 6, c) + Keep(f.subflow_runs, m, 7, c) +
         Keep(f.flow_run_id, m, 8, c);
}

template <>
int KeepFields(FlowRunFilter& f, uint32_t m, bool c) {
  return Keep(f.id, m, 0, c) + Keep(f.name, m, 1, c) + Keep(f.tags, m, 2, c) +
         Keep(f.deployment_id, m, 3, c) + Keep(f.work_queue_name, m, 4, c) +
         Keep(f.flow_version, m, 5, c) + Keep(f.state, m, 6, c) + Keep(f.start_time, m, 7, c) +
         Keep(f.end_time, m, 8, c) + Keep(f.expected_start_time, m, 9, c) +
         Keep(f.next_scheduled_start_time, m, 10, c) + Keep(f.parent_flow_run_id, m, 11, c) +
         Keep(f.parent_task_run_id, m, 12, c) + Keep(f.idempotency_key, m, 13, c) +
         Keep(f.created_by, m, 14, c);
}

std::vector<Uuid> Intersect(const std::vector<Uuid>& a, const std::vector<Uuid>& b) {
  std::vector<Uuid> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<Uuid> Union(const std::vector<Uuid>& a, const std::vector<Uuid>& b) {
  std::vector<Uuid> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Splitting a level's children into two groups: an and_ level selects the
// intersection of the groups' selections, an or_ level (both groups
// non-empty) their union. Checked on the engine and on the reference.
template <typename F>
void CheckSplit(const SnapshotRecords& data, const Store& store, const FilterSet& whole,
                std::optional<F> FilterSet::*level, uint32_t mask) {
  FilterSet a = whole, b = whole;
  const int in_a = KeepFields(*(a.*level), mask, false);
  const int in_b = KeepFields(*(b.*level), mask, true);
  const BoolOp op = (whole.*level)->op;
  if (op == BoolOp::kOr && (in_a == 0 || in_b == 0)) return;  // an empty or_ level is TRUE
  const std::vector<Uuid> got_a = EngineMatches(store, a);
  const std::vector<Uuid> got_b = EngineMatches(store, b);
  const std::vector<Uuid> want = op == BoolOp::kAnd ? Intersect(got_a, got_b) : Union(got_a, got_b);
  EXPECT_EQ(EngineMatches(store, whole), want)
      << DescribeFilterSet(whole) << "\nsplit into " << DescribeFilterSet(a) << "\nand "
      << DescribeFilterSet(b);
  const std::vector<Uuid> ref_a = SortedIds(RefMatchingIds(data, a));
  const std::vector<Uuid> ref_b = SortedIds(RefMatchingIds(data, b));
  EXPECT_EQ(SortedIds(RefMatchingIds(data, whole)),
            op == BoolOp::kAnd ? Intersect(ref_a, ref_b) : Union(ref_a, ref_b))
      << "reference: " << DescribeFilterSet(whole);
}

TEST(DifferentialTest, ChildrenCommute) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  for (int set = 0; set < 40; ++set) {
    TestRng rng(SetSeed(seed, 4000 + set));
    const SnapshotRecords data = RandomRecords(rng);
    const std::unique_ptr<Store> store = BuildStore(data);
    for (int q = 0; q < 10; ++q) {
      const FilterSet fs = RandomFilterSet(rng, data);
      const auto mask = static_cast<uint32_t>(rng.Next());
      if (fs.task_runs.has_value()) CheckSplit(data, *store, fs, &FilterSet::task_runs, mask);
      if (fs.flow_runs.has_value()) CheckSplit(data, *store, fs, &FilterSet::flow_runs, mask);
      // The four top-level filters are ANDed: each alone, intersected.
      std::vector<Uuid> want = SortedIds(RefMatchingIds(data, FilterSet{}));
      auto and_with = [&](FilterSet one) { want = Intersect(want, EngineMatches(*store, one)); };
      if (fs.task_runs.has_value()) and_with(FilterSet{std::nullopt, std::nullopt, fs.task_runs, std::nullopt});
      if (fs.flow_runs.has_value()) and_with(FilterSet{std::nullopt, fs.flow_runs, std::nullopt, std::nullopt});
      if (fs.flows.has_value()) and_with(FilterSet{fs.flows, std::nullopt, std::nullopt, std::nullopt});
      if (fs.deployments.has_value()) and_with(FilterSet{std::nullopt, std::nullopt, std::nullopt, fs.deployments});
      EXPECT_EQ(EngineMatches(*store, fs), want) << DescribeFilterSet(fs);
    }
  }
}

}  // namespace
}  // namespace taskdex
