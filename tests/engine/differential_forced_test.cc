// tests/engine/differential_forced_test.cc
//
// The random differential cases (engine vs reference evaluator) once per
// forced planner choice (engine/executor.h ExecOptions): every access path,
// every join direction and every page cut must give the reference's answer.
// A few thousand cases per mode keep the runtime modest.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_data.h"
#include "tests/testing/reference_evaluator.h"

namespace taskdex {
namespace {

constexpr uint64_t kSeed = 977;

struct Mode {
  const char* name;
  ExecOptions options;
};

std::vector<Mode> Modes() {
  std::vector<Mode> modes;
  auto add = [&](const char* name, AccessPathChoice a, JoinChoice j, PageCutChoice p) {
    ExecOptions o;
    o.access = a;
    o.join = j;
    o.page_cut = p;
    modes.push_back(Mode{name, o});
  };
  add("index+postings+walk", AccessPathChoice::kIndex, JoinChoice::kPostings,
      PageCutChoice::kWalkOrder);
  add("scan+scanjoin+sort", AccessPathChoice::kScan, JoinChoice::kScanTaskRuns,
      PageCutChoice::kPartialSort);
  add("index+probe+sort", AccessPathChoice::kIndex, JoinChoice::kProbeTaskRuns,
      PageCutChoice::kPartialSort);
  add("scan+probe+walk", AccessPathChoice::kScan, JoinChoice::kProbeTaskRuns,
      PageCutChoice::kWalkOrder);
  // Range leaves checked on their siblings' rows, join through the task-run
  // join postings (alternating materialize and probe per side).
  add("index+joinpostings+walk+filter", AccessPathChoice::kIndex, JoinChoice::kJoinPostings,
      PageCutChoice::kWalkOrder);
  modes.back().options.conjunct = ConjunctChoice::kFilterCandidates;
  add("scan+joinpostings+sort+materialize", AccessPathChoice::kScan, JoinChoice::kJoinPostings,
      PageCutChoice::kPartialSort);
  modes.back().options.conjunct = ConjunctChoice::kMaterialize;
  // The walk with a flat bitset of the matches (RowMask) instead of
  // Bitmap::contains.
  add("index+joinpostings+walkmask", AccessPathChoice::kIndex, JoinChoice::kJoinPostings,
      PageCutChoice::kWalkOrderMask);
  add("scan+probe+walkmask+filter", AccessPathChoice::kScan, JoinChoice::kProbeTaskRuns,
      PageCutChoice::kWalkOrderMask);
  modes.back().options.conjunct = ConjunctChoice::kFilterCandidates;
  // like_ through each way of finding the codes; the cache off in every
  // forced mode (each path must compute its own answer) but the last, which
  // runs each query twice on the same Store (the second reads the cache).
  add("like-trigram+materialize", AccessPathChoice::kIndex, JoinChoice::kJoinPostings,
      PageCutChoice::kPartialSort);
  modes.back().options.like = LikeChoice::kTrigram;
  modes.back().options.conjunct = ConjunctChoice::kMaterialize;
  add("like-folded+filter", AccessPathChoice::kIndex, JoinChoice::kJoinPostings,
      PageCutChoice::kWalkOrderMask);
  modes.back().options.like = LikeChoice::kFoldedScan;
  modes.back().options.conjunct = ConjunctChoice::kFilterCandidates;
  add("like-entries+postings", AccessPathChoice::kAuto, JoinChoice::kPostings,
      PageCutChoice::kAuto);
  modes.back().options.like = LikeChoice::kEntryScan;
  // Count from disjoint postings, page from a walk that checks rows.
  add("walkchecking+probe", AccessPathChoice::kAuto, JoinChoice::kAuto,
      PageCutChoice::kWalkChecking);
  add("walkchecking+scanjoin+filter", AccessPathChoice::kScan, JoinChoice::kScanTaskRuns,
      PageCutChoice::kWalkChecking);
  modes.back().options.conjunct = ConjunctChoice::kFilterCandidates;
  for (Mode& m : modes) m.options.use_like_cache = false;
  add("auto+cache", AccessPathChoice::kAuto, JoinChoice::kAuto, PageCutChoice::kAuto);
  return modes;
}

class DifferentialForcedTest : public ::testing::TestWithParam<int> {};

TEST_P(DifferentialForcedTest, MatchesReference) {
  const Mode mode = Modes()[GetParam()];
  int failures = 0;
  for (int set = 0; set < 30 && failures < 3; ++set) {
    TestRng rng(kSeed * 1000003ULL + static_cast<uint64_t>(set) * 7919ULL + 1);
    const SnapshotRecords data = RandomRecords(rng);
    StoreBuilder builder;
    builder.AddAll(data);
    const std::unique_ptr<Store> store = builder.Build();
    for (int q = 0; q < 100 && failures < 3; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const ReferenceResult want = RefPaginate(data, query);
      PageResult got = Paginate(*store, query, mode.options);
      if (mode.options.use_like_cache) got = Paginate(*store, query, mode.options);
      std::vector<Uuid> ids;
      for (RowId r : got.rows) ids.push_back(store->task_runs.id[r]);
      if (ids != want.ids || got.count != want.count) {
        ++failures;
        ADD_FAILURE() << "mode " << mode.name << " set " << set << " query " << q << "\n"
                      << "query: " << DescribeQuery(query) << "\nreference: count "
                      << want.count << " ids [" << DescribeIds(want.ids) << "]\nengine: count "
                      << got.count << " ids [" << DescribeIds(ids) << "]";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, DifferentialForcedTest, ::testing::Range(0, static_cast<int>(Modes().size())));

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
