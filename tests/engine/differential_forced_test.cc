// tests/engine/differential_forced_test.cc
//
// The random differential cases (engine vs reference evaluator) once per
// forced planner choice (engine/executor.h ExecOptions): every access path,
// every join direction and every page cut must give the reference's answer:
// the page's ids in order, PageResult.count, `pages` (api PageCount) and
// Count(store, filters). Two data shapes per mode: the small random data
// sets of random_data.h (traps, ties), and one mid-size data set of
// random_scale_data.h (5k task runs, skewed values, deep pages), so forced
// paths also run where the data is not tiny. Count() has no options: it is
// the automatic planner's count, checked on the same cases.
//
// Adding a planner choice: add one line to Modes(). Seeds: the defaults
// below, or TASKDEX_TEST_SEED=<n> for both loops; failures name the mode,
// set and query.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "api/response_writer.h"
#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"
#include "tests/testing/random_scale_query.h"
#include "tests/testing/reference_evaluator.h"

namespace taskdex {
namespace {

constexpr uint64_t kSmallSeed = 977;
constexpr uint64_t kScaleSeed = 20261205;
constexpr uint32_t kScaleTaskRuns = 5000;
// Unoptimized builds (no NDEBUG: Debug, CI's ASan+UBSan run) check fewer
// scale queries, the first ones of an optimized run.
#ifdef NDEBUG
constexpr int kScaleQueries = 50;
#else
constexpr int kScaleQueries = 12;
#endif

// TASKDEX_TEST_SEED when set, else `fallback`.
uint64_t Seed(uint64_t fallback) {
  const char* env = std::getenv("TASKDEX_TEST_SEED");
  return (env != nullptr && *env != '\0') ? std::strtoull(env, nullptr, 0) : fallback;
}

struct Mode {
  const char* name;  // the test-name suffix: letters, digits, '_'
  ExecOptions options;
};

// Every forced combination under test, one per line.
const std::vector<Mode>& Modes() {
  using A = AccessPathChoice;
  using J = JoinChoice;
  using P = PageCutChoice;
  using C = ConjunctChoice;
  using L = LikeChoice;
  static const std::vector<Mode>* modes = [] {
    auto* v = new std::vector<Mode>{
      {"index_postings_walk",
       {.access = A::kIndex, .join = J::kPostings, .page_cut = P::kWalkOrder}},
      {"scan_scanjoin_sort",
       {.access = A::kScan, .join = J::kScanTaskRuns, .page_cut = P::kPartialSort}},
      {"index_probe_sort",
       {.access = A::kIndex, .join = J::kProbeTaskRuns, .page_cut = P::kPartialSort}},
      {"scan_probe_walk",
       {.access = A::kScan, .join = J::kProbeTaskRuns, .page_cut = P::kWalkOrder}},
      // Range leaves checked on their siblings' rows; the join through the
      // task-run join postings (alternating materialize and probe per side).
      {"index_joinpostings_walk_filter",
       {.access = A::kIndex, .join = J::kJoinPostings, .page_cut = P::kWalkOrder,
        .conjunct = C::kFilterCandidates}},
      {"scan_joinpostings_sort_materialize",
       {.access = A::kScan, .join = J::kJoinPostings, .page_cut = P::kPartialSort,
        .conjunct = C::kMaterialize}},
      // The walk with a flat bitset of the matches (RowMask).
      {"index_joinpostings_walkmask",
       {.access = A::kIndex, .join = J::kJoinPostings, .page_cut = P::kWalkOrderMask}},
      {"scan_probe_walkmask_filter",
       {.access = A::kScan, .join = J::kProbeTaskRuns, .page_cut = P::kWalkOrderMask,
        .conjunct = C::kFilterCandidates}},
      // like_ through each way of finding its codes.
      {"like_trigram_materialize",
       {.access = A::kIndex, .join = J::kJoinPostings, .page_cut = P::kPartialSort,
        .conjunct = C::kMaterialize, .like = L::kTrigram}},
      {"like_folded_filter",
       {.access = A::kIndex, .join = J::kJoinPostings, .page_cut = P::kWalkOrderMask,
        .conjunct = C::kFilterCandidates, .like = L::kFoldedScan}},
      {"like_entries_postings", {.join = J::kPostings, .like = L::kEntryScan}},
      // Count from disjoint postings, page from a walk that checks rows.
      {"walkchecking_probe", {.page_cut = P::kWalkChecking}},
      {"walkchecking_scanjoin_filter",
       {.access = A::kScan, .join = J::kScanTaskRuns, .page_cut = P::kWalkChecking,
        .conjunct = C::kFilterCandidates}},
      // Deep pages from the far end of the order, at every offset.
      {"walkbackward_joinpostings", {.join = J::kJoinPostings, .page_cut = P::kWalkBackward}},
      {"walkbackward_scan_filter",
       {.access = A::kScan, .join = J::kProbeTaskRuns, .page_cut = P::kWalkBackward,
        .conjunct = C::kFilterCandidates}},
      // The automatic planner with the like_ cache, each query run twice
      // (the second reads what the first cached).
      {"auto_cache", {}},
    };
    // Every forced path computes its own answer: no cache.
    for (Mode& m : *v) m.options.use_like_cache = std::string(m.name) == "auto_cache";
    return v;
  }();
  return *modes;
}

// Empty if the engine, run with `mode`, gives `want_ids` and `want_count`
// for `query`; else what differs.
std::string Mismatch(const Store& store, const PaginateQuery& query, const Mode& mode,
                     const std::vector<Uuid>& want_ids, uint64_t want_count) {
  PageResult got = Paginate(store, query, mode.options);
  if (mode.options.use_like_cache) got = Paginate(store, query, mode.options);
  std::vector<Uuid> ids;
  for (RowId r : got.rows) ids.push_back(store.task_runs.id[r]);
  const uint64_t count_only = Count(store, query.filters);
  const uint64_t pages = PageCount(got.count, query.limit);
  if (ids == want_ids && got.count == want_count && count_only == want_count &&
      pages == RefPages(want_count, query.limit)) {
    return "";
  }
  return "query: " + DescribeQuery(query) + "\nreference: count " + std::to_string(want_count) +
         " pages " + std::to_string(RefPages(want_count, query.limit)) + " ids [" +
         DescribeIds(want_ids) + "]\nengine: count " + std::to_string(got.count) +
         " Count() " + std::to_string(count_only) + " pages " + std::to_string(pages) +
         " ids [" + DescribeIds(ids) + "]";
}

class DifferentialForcedTest : public ::testing::TestWithParam<size_t> {};

TEST_P(DifferentialForcedTest, MatchesReference) {
  const Mode& mode = Modes()[GetParam()];
  const uint64_t seed = Seed(kSmallSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  int failures = 0;
  for (int set = 0; set < 30 && failures < 3; ++set) {
    TestRng rng(seed * 1000003ULL + static_cast<uint64_t>(set) * 7919ULL + 1);
    const SnapshotRecords data = RandomRecords(rng);
    StoreBuilder builder;
    builder.AddAll(data);
    const std::unique_ptr<Store> store = builder.Build();
    for (int q = 0; q < 100 && failures < 3; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const ReferenceResult want = RefPaginate(data, query);
      const std::string diff = Mismatch(*store, query, mode, want.ids, want.count);
      if (!diff.empty()) {
        ++failures;
        ADD_FAILURE() << "mode " << mode.name << " set " << set << " query " << q << "\n"
                      << diff;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, DifferentialForcedTest,
                         ::testing::Range<size_t>(0, Modes().size()),
                         [](const ::testing::TestParamInfo<size_t>& param_info) {
                           return std::string(Modes()[param_info.param].name);
                         });

// One mid-size data set, its queries and page cuts, each answered once by
// the reference and then by every mode (one test, so that ctest, which runs
// each test in its own process, builds the data once).
TEST(DifferentialForcedScaleTest, EveryModeMatchesReference) {
  const uint64_t seed = Seed(kScaleSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  TestRng data_rng(seed);
  const SnapshotRecords data = RandomRecordsAtScale(data_rng, kScaleTaskRuns);
  StoreBuilder builder;
  builder.AddAll(data);
  const std::unique_ptr<Store> store = builder.Build();
  const RefData ref(data);
  const ScaleQueryGen gen(data);
  std::vector<int> failures(Modes().size(), 0);
  for (int q = 0; q < kScaleQueries; ++q) {
    TestRng rng(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(q) + 1);
    PaginateQuery query = gen.Query(rng);
    const ReferenceResult want = RefPaginate(ref, query);
    for (const PageCut& cut : ScalePages(rng, want.count)) {
      query.limit = cut.limit;
      query.offset = cut.offset;
      std::vector<Uuid> want_ids;
      const uint64_t limit = cut.limit > 0 ? static_cast<uint64_t>(cut.limit) : 0;
      for (uint64_t i = cut.offset; i < want.all_ids.size() && want_ids.size() < limit; ++i) {
        want_ids.push_back(want.all_ids[i]);
      }
      for (size_t m = 0; m < Modes().size(); ++m) {
        if (failures[m] >= 3) continue;
        const std::string diff = Mismatch(*store, query, Modes()[m], want_ids, want.count);
        if (!diff.empty()) {
          ++failures[m];
          ADD_FAILURE() << "mode " << Modes()[m].name << " scale data (" << kScaleTaskRuns
                        << " task runs) query " << q << "\n"
                        << diff;
        }
      }
    }
  }
}

TEST(ExplainTest, ListsStepsAndCount) {
  TestRng rng(5);
  const SnapshotRecords data = RandomRecords(rng);
  StoreBuilder builder;
  builder.AddAll(data);
  const std::unique_ptr<Store> store = builder.Build();
  PaginateQuery query;
  query.limit = 10;
  const std::string plan = Explain(*store, query);
  EXPECT_NE(plan.find("plan: "), std::string::npos) << plan;
  EXPECT_NE(plan.find("page"), std::string::npos) << plan;
}

// Explain shows, for a criterion checked on the candidates its sibling
// left, the alternatives the planner weighed.
TEST(ExplainTest, ShowsTheAlternativesOfAConjunct) {
  TestRng rng(5);
  SnapshotRecords data;
  while (data.task_runs.size() < 10) data = RandomRecords(rng);
  StoreBuilder builder;
  builder.AddAll(data);
  const std::unique_ptr<Store> store = builder.Build();
  PaginateQuery query;
  query.filters.task_runs.emplace();
  query.filters.task_runs->id.emplace();
  query.filters.task_runs->id->any = std::vector<Uuid>{data.task_runs[0].id};
  query.filters.task_runs->name.emplace();
  query.filters.task_runs->name->like = "a";
  const std::string plan = Explain(*store, query);
  EXPECT_NE(plan.find("task_runs.name.like_"), std::string::npos) << plan;
  EXPECT_NE(plan.find("materialize"), std::string::npos) << plan;
  EXPECT_NE(plan.find("check"), std::string::npos) << plan;
}

}  // namespace
}  // namespace taskdex
