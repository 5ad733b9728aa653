// bench/page_benchmark.cc
//
// Google Benchmark: the page cut (SortedPage of all rows, for each sort, at
// offset 0 and deep) and the page write (AppendPaginateResponse of 200
// rows), on SyntheticRecords (fixed seed) built outside the timed loop; the
// page write also on data/sample (3,170 Prefect-shaped task runs with full
// state objects, labels and task_inputs), the size of real pages.
//
// The page write twice more on a store too large for the caches (500,000
// task runs from the generator, bench/generator.h, ~1 KB of columns per
// row): "Cold" writes a different page of random rows each iteration, as a
// server answering many different queries does, so nearly every column
// entry, blob byte and dictionary string a row needs is a cache miss;
// "Warm" rewrites one page, as the benchmark above does. Both report
// ns_per_row. The snapshot is generated once into
// /tmp/taskdex-page-bench-500k (~0.9 GB, reused by later runs), or taken from
// $TASKDEX_PAGE_BENCH_SNAPSHOT (any snapshot directory, e.g. a 1M one).
// TASKDEX_PAGE_BENCH_HUGE=1 collapses the loaded store into 2 MiB pages
// first, as Engine::Open does with TASKDEX_HUGE_PAGES=1 (engine/huge_pages.h).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/response_writer.h"
#include "benchmark/benchmark.h"
#include "bench/generator.h"
#include "bench/synthetic_records.h"
#include "engine/executor.h"
#include "engine/huge_pages.h"
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

constexpr uint64_t kColdTaskRuns = 500000;
constexpr Micros kColdNow = kGeneratorDefaultNow;

// The large store, or null (the reason printed on stderr).
const Store* ColdStore() {
  static const Store* store = []() -> const Store* {
    namespace fs = std::filesystem;
    std::string dir;
    if (const char* env = std::getenv("TASKDEX_PAGE_BENCH_SNAPSHOT"); env && *env) {
      dir = env;
    } else {
      dir = "/tmp/taskdex-page-bench-500k";
      std::error_code ec;
      if (!fs::exists(dir + "/task_runs.ndjson", ec)) {
        // Generate beside it, then rename: a concurrent or interrupted run
        // never leaves a half-written directory under the final name.
        const std::string tmp = dir + ".tmp-" + std::to_string(getpid());
        GenerateOptions opt;
        opt.task_runs = kColdTaskRuns;
        opt.seed = 7;
        opt.out_dir = tmp;
        GenerateSummary summary;
        if (absl::Status st = GenerateSnapshot(opt, &summary); !st.ok()) {
          std::fprintf(stderr, "page_benchmark: generate: %s\n", st.ToString().c_str());
          return nullptr;
        }
        fs::rename(tmp, dir, ec);
        if (ec) fs::remove_all(tmp, ec);  // another run won the rename
      }
    }
    auto loaded = LoadSnapshot(dir, LoadOptions{}, nullptr);
    if (!loaded.ok()) {
      std::fprintf(stderr, "page_benchmark: load %s: %s\n", dir.c_str(),
                   loaded.status().ToString().c_str());
      return nullptr;
    }
    if (const char* env = std::getenv("TASKDEX_PAGE_BENCH_HUGE"); env && *env == '1') {
      const auto start = std::chrono::steady_clock::now();
      HugePageReport r = CollapseToHugePages();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      std::fprintf(stderr,
                   "page_benchmark: huge pages: %zu MiB collapsed, %zu MiB refused, %.2f s\n",
                   r.bytes_collapsed >> 20, r.bytes_failed >> 20, took.count());
    }
    return loaded->release();
  }();
  return store;
}

// `pages` pages of `rows` uniformly random rows (fixed seed).
std::vector<std::vector<RowId>> RandomPages(uint32_t table_rows, size_t pages, size_t rows) {
  uint64_t x = 0x2545F4914F6CDD1DULL;
  std::vector<std::vector<RowId>> out(pages);
  for (auto& page : out) {
    page.resize(rows);
    for (RowId& r : page) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      r = static_cast<RowId>(x % table_rows);
    }
  }
  return out;
}

// Args: rows per page. Each iteration writes the next of 2^21 / rows pages
// (2M row visits in all, 4 per row of the table), so a page comes back only
// after the whole pool has gone through the caches.
void BM_AppendPaginateResponseCold(benchmark::State& state) {
  const Store* store = ColdStore();
  if (store == nullptr) {
    state.SkipWithError("no cold store (see stderr)");
    return;
  }
  const auto rows = static_cast<size_t>(state.range(0));
  const std::vector<std::vector<RowId>> pages =
      RandomPages(store->task_runs.size(), (size_t{1} << 21) / rows, rows);
  std::string out;
  size_t next = 0;
  for (auto _ : state) {
    out.clear();
    AppendPaginateResponse(*store, pages[next], store->task_runs.size(), state.range(0), "1",
                           kColdNow, &out);
    benchmark::DoNotOptimize(out.data());
    if (++next == pages.size()) next = 0;
  }
  state.counters["ns_per_row"] = benchmark::Counter(
      static_cast<double>(state.iterations() * rows) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AppendPaginateResponseCold)
    ->ArgName("rows")
    ->Arg(10)
    ->Arg(50)
    ->Arg(200)
    ->Unit(benchmark::kMicrosecond);

// The same store and page sizes, one page of random rows rewritten.
void BM_AppendPaginateResponseWarm(benchmark::State& state) {
  const Store* store = ColdStore();
  if (store == nullptr) {
    state.SkipWithError("no cold store (see stderr)");
    return;
  }
  const auto rows = static_cast<size_t>(state.range(0));
  const std::vector<RowId> page = RandomPages(store->task_runs.size(), 1, rows)[0];
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendPaginateResponse(*store, page, store->task_runs.size(), state.range(0), "1", kColdNow,
                           &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ns_per_row"] = benchmark::Counter(
      static_cast<double>(state.iterations() * rows) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AppendPaginateResponseWarm)
    ->ArgName("rows")
    ->Arg(10)
    ->Arg(50)
    ->Arg(200)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace taskdex

BENCHMARK_MAIN();
