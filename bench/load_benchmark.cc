// bench/load_benchmark.cc
//
// Google Benchmark: LoadSnapshot of a snapshot directory, by default
// data/sample relative to the working directory (run it from the source
// root), or $TASKDEX_BENCH_SNAPSHOT.

#include <cstdlib>
#include <string>

#include "benchmark/benchmark.h"
#include "engine/snapshot_loader.h"

namespace taskdex {
namespace {

std::string SnapshotDir() {
  const char* env = std::getenv("TASKDEX_BENCH_SNAPSHOT");
  return (env != nullptr && *env != '\0') ? env : "data/sample";
}

// Arg: loader threads (0 = all cores).
void BM_LoadSnapshot(benchmark::State& state) {
  LoadOptions options;
  options.threads = static_cast<int>(state.range(0));
  LoadReport report;
  for (auto _ : state) {
    auto store = LoadSnapshot(SnapshotDir(), options, &report);
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(store->get());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * report.bytes));
  state.counters["task_runs"] = static_cast<double>(report.task_runs);
}
BENCHMARK(BM_LoadSnapshot)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()  // the loader runs on other threads too
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace taskdex

BENCHMARK_MAIN();
