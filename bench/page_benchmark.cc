// bench/page_benchmark.cc
//
// Google Benchmark: the page cut (SortedPage of all rows, for each sort, at
// offset 0 and deep) and the page write (AppendPaginateResponse of 200
// rows), on SyntheticRecords (fixed seed) built outside the timed loop; the
// page write also on data/sample (3,170 Prefect-shaped task runs with full
// state objects, labels and task_inputs), the size of real pages.

#include <memory>
#include <string>
#include <vector>

#include "api/response_writer.h"
#include "benchmark/benchmark.h"
#include "bench/synthetic_records.h"
#include "engine/executor.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"

namespace taskdex {
namespace {

constexpr uint64_t kSeed = 20261128;
constexpr uint64_t kTaskRuns = 100000;

const Store& TheStore() {
  static const Store* store = [] {
    StoreBuilder builder;
    builder.AddAll(SyntheticRecords(kTaskRuns, kSeed));
    return builder.Build().release();
  }();
  return *store;
}

const Bitmap& AllRows() {
  static const Bitmap* rows = [] {
    auto* b = new Bitmap();
    b->addRange(0, TheStore().task_runs.id.size());
    return b;
  }();
  return *rows;
}

// Args: sort (TaskRunSort value), offset.
void BM_SortedPage(benchmark::State& state) {
  const Store& store = TheStore();
  const Bitmap& rows = AllRows();
  const auto sort = static_cast<TaskRunSort>(state.range(0));
  const auto offset = static_cast<uint64_t>(state.range(1));
  for (auto _ : state) {
    std::vector<RowId> page = SortedPage(store, rows, sort, offset, 200);
    benchmark::DoNotOptimize(page.data());
  }
  state.SetLabel(std::string(TaskRunSortName(sort)));
}
BENCHMARK(BM_SortedPage)
    ->ArgNames({"sort", "offset"})
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {0, 50000}})
    ->Unit(benchmark::kMicrosecond);

void BM_AppendPaginateResponse(benchmark::State& state) {
  const Store& store = TheStore();
  const std::vector<RowId> page = SortedPage(store, AllRows(), TaskRunSort::kIdDesc, 0,
                                             static_cast<uint64_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendPaginateResponse(store, page, kTaskRuns, state.range(0), "1", 1796083200000000, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_AppendPaginateResponse)->ArgName("rows")->Arg(200)->Unit(benchmark::kMicrosecond);

// data/sample, found next to this source file.
const Store* SampleStore() {
  static const Store* store = [] {
    std::string file = __FILE__;
    std::string dir = file.substr(0, file.rfind('/')) + "/../data/sample";
    auto loaded = LoadSnapshot(dir, LoadOptions{}, nullptr);
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return store;
}

void BM_AppendPaginateResponseSample(benchmark::State& state) {
  const Store* store = SampleStore();
  if (store == nullptr) {
    state.SkipWithError("data/sample not found");
    return;
  }
  Bitmap all;
  all.addRange(0, store->task_runs.size());
  const auto sort = static_cast<TaskRunSort>(state.range(1));
  const std::vector<RowId> page =
      SortedPage(*store, all, sort, 0, static_cast<uint64_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendPaginateResponse(*store, page, store->task_runs.size(), state.range(0), "1",
                           1796083200000000, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetLabel(std::string(TaskRunSortName(sort)));
}
BENCHMARK(BM_AppendPaginateResponseSample)
    ->ArgNames({"rows", "sort"})
    ->Args({200, 0})
    ->Args({200, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace taskdex

BENCHMARK_MAIN();
