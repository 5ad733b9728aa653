// engine/plan_cost.h
//
// The planner's cost model in one place: estimated nanoseconds per unit of
// work of each access path, on the 2-core machines this project runs on.
// The planner compares, per leaf, the cost of materializing it (from an
// index or a column scan) with the cost of checking it on the candidates
// its siblings leave (engine/internal/plan_node.h). Only ratios matter: a
// constant off by 2x moves a threshold by 2x, never the answer.
//
// Each constant names the benchmark that measured it. The Google Benchmark
// suite is bench/plan_cost_benchmark.cc (1M task runs of the realistic
// generator shape, `build/bench/plan_cost_benchmark`); the page-cut constants
// were measured with `taskdex bench --interleave --stage execute --explain`.

#ifndef TASKDEX_ENGINE_PLAN_COST_H_
#define TASKDEX_ENGINE_PLAN_COST_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace taskdex::plan_cost {

// A pass over a column with a cheap test per row, building a bitmap of the
// hits (ScanRows). BM_ColumnScan.
inline constexpr double kScanRowNs = 1.5;
// A test of one candidate row reading one column entry (rows ascending but
// scattered: mostly a cache miss, overlapped by prefetch). BM_CheckColumn.
inline constexpr double kCheckRowNs = 12;
// A test of one candidate row through its flow run (two dependent reads).
// BM_CheckFlowRun.
inline constexpr double kProbeRowNs = 25;
// A `like_` test of one candidate row: its name code, the dictionary entry
// and the string (three dependent misses in a 780k-name dictionary), the
// match. 6.6 ms for 9,343 rows in the 1M random bodies' `--explain`
// (random88, seed 1, on a loaded machine); half of that on a quiet one.
inline constexpr double kCheckLikeRowNs = 300;
// A posting opened by a union of many postings (CRoaring's many-way union:
// 6.3 ms for the task-run postings of 14k flow runs at 1M, `taskdex bench
// --explain`, flow_run_or_no_deployment_or_tags), and a byte of bitmap
// written by a union, copy, complement or AND (roaring containers: about 2
// bytes a row when sparse, at most n/8 bytes when dense). BM_PostingUnion.
inline constexpr double kPostingOpenNs = 400;
inline constexpr double kBitmapByteNs = 0.5;
// A row of an intersection's inputs (roaring AND). BM_Intersect.
inline constexpr double kIntersectRowNs = 0.5;
// `like_` over a dictionary: per byte of the folded copy (memchr/memmem)
// and per entry of the general matcher. BM_LikeScan.
inline constexpr double kLikeScanByteNs = 0.1;
inline constexpr double kLikeEntryNs = 25;
// A sorted-order range turned into a bitmap, per row (collect + sort).
// BM_SortedRange.
inline constexpr double kSortedRangeRowNs = 8;
// The rows a `like_` estimate samples (evenly spaced rows of the table).
inline constexpr unsigned kLikeSampleRows = 256;

// Page cut, in visits of a walk of the sort order with a RowMask (~4 ns):
// one Bitmap::contains, one step of the partial sort (its key is a cache
// miss, even prefetched), and the fill of the RowMask (n / kMaskFillDiv).
inline constexpr double kContainsCost = 8;
inline constexpr double kSortStepCost = 8;
inline constexpr double kMaskFillDiv = 512;
// One visit of a walk of the sort order before the row's check (a
// sequential read of the order). The same `taskdex bench --explain` runs.
inline constexpr double kWalkVisitNs = 4;

// Nanoseconds to write a bitmap of `rows` out of `n` rows.
inline double BitmapNs(uint64_t rows, uint64_t n) {
  return kBitmapByteNs * std::min(2.0 * static_cast<double>(rows), static_cast<double>(n) / 8 + 64);
}
// Nanoseconds of a union of `postings` postings holding `rows` rows in all.
inline double UnionNs(size_t postings, uint64_t rows, uint64_t n) {
  return kPostingOpenNs * static_cast<double>(postings) + BitmapNs(rows, n);
}

}  // namespace taskdex::plan_cost

#endif  // TASKDEX_ENGINE_PLAN_COST_H_
