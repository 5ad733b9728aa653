// bench/access_path_benchmark.cc
//
// Google Benchmark: MatchTaskRuns (FilterSet -> Bitmap) for single access
// paths and their intersections on SyntheticRecords (fixed seed), built once
// outside the timed loop. Argument: task runs in the data set.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "bench/synthetic_records.h"
#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/store.h"

namespace taskdex {
namespace {

constexpr uint64_t kSeed = 20261128;

const Store& StoreOf(int64_t task_runs) {
  static std::map<int64_t, std::unique_ptr<Store>>* cache =
      new std::map<int64_t, std::unique_ptr<Store>>();
  auto& slot = (*cache)[task_runs];
  if (!slot) {
    StoreBuilder builder;
    builder.AddAll(SyntheticRecords(static_cast<uint64_t>(task_runs), kSeed));
    slot = builder.Build();
  }
  return *slot;
}

FilterSet TagFilter() {
  FilterSet f;
  f.task_runs.emplace();
  f.task_runs->tags.emplace();
  f.task_runs->tags->all = std::vector<std::string>{"tag-7"};
  return f;
}

FilterSet StateFilterSet() {
  FilterSet f;
  f.task_runs.emplace();
  f.task_runs->state.emplace();
  f.task_runs->state->type.emplace();
  f.task_runs->state->type->any = std::vector<StateType>{StateType::kFailed, StateType::kCrashed};
  return f;
}

FilterSet FlowRunJoin() {
  FilterSet f;
  f.flow_runs.emplace();
  f.flow_runs->state.emplace();
  f.flow_runs->state->type.emplace();
  f.flow_runs->state->type->any = std::vector<StateType>{StateType::kRunning};
  return f;
}

FilterSet NameLike() {
  FilterSet f;
  f.task_runs.emplace();
  f.task_runs->name.emplace();
  f.task_runs->name->like = "mail-12";
  return f;
}

FilterSet Intersection() {
  FilterSet f = TagFilter();
  f.task_runs->state = StateFilterSet().task_runs->state;
  f.task_runs->expected_start_time.emplace();
  f.task_runs->expected_start_time->after = 1793491200000000 + 5LL * 24 * 3600 * 1000000;
  f.flow_runs = FlowRunJoin().flow_runs;
  return f;
}

void RunMatch(benchmark::State& state, const FilterSet& filters) {
  const Store& store = StoreOf(state.range(0));
  uint64_t matched = 0;
  for (auto _ : state) {
    Bitmap rows = MatchTaskRuns(store, filters);
    matched = rows.cardinality();
    benchmark::DoNotOptimize(matched);
  }
  state.counters["matched"] = static_cast<double>(matched);
}

void BM_MatchTag(benchmark::State& state) { RunMatch(state, TagFilter()); }
void BM_MatchState(benchmark::State& state) { RunMatch(state, StateFilterSet()); }
void BM_MatchFlowRunJoin(benchmark::State& state) { RunMatch(state, FlowRunJoin()); }
void BM_MatchNameLike(benchmark::State& state) { RunMatch(state, NameLike()); }
void BM_MatchIntersection(benchmark::State& state) { RunMatch(state, Intersection()); }

BENCHMARK(BM_MatchTag)->ArgName("task_runs")->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatchState)->ArgName("task_runs")->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatchFlowRunJoin)->ArgName("task_runs")->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatchNameLike)->ArgName("task_runs")->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatchIntersection)->ArgName("task_runs")->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace taskdex

BENCHMARK_MAIN();
