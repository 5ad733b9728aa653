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
      const PageResult got = Paginate(*store, query, mode.options);
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

INSTANTIATE_TEST_SUITE_P(Modes, DifferentialForcedTest, ::testing::Values(0, 1, 2, 3, 4, 5, 6, 7));

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

}  // namespace
}  // namespace taskdex
