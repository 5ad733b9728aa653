// engine/plan_cost.h
//
// The planner's cost model in one place: estimated nanoseconds per unit of
// work of each access path, on the 2-core machines this project runs on.
// The planner compares, per leaf, the cost of materializing it (from an
// index or a column scan) with the cost of checking it on the candidates
// its siblings leave (engine/internal/plan_node.h). Only ratios matter: a
// constant off by 2x moves a threshold by 2x, never the answer.
//
// Each constant says what measured it: the per-step times that `taskdex
// bench --explain` prints (median of the runs) on the realistic generator's
// 1M task runs (`taskdex generate --task-runs 1000000`, seed 1), for the
// bodies named, on the 2-core development machine (session 4, 2026-12-04,
// while other builds ran: read them as ratios). Figures are per unit of the
// step's own work (rows scanned, rows produced, postings opened).

#ifndef TASKDEX_ENGINE_PLAN_COST_H_
#define TASKDEX_ENGINE_PLAN_COST_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace taskdex::plan_cost {

// A pass over a column with a cheap test per row, building a bitmap of the
// hits (ScanRows with the test inlined): 0.8-0.9 ms per 1M rows (random377,
// random87 of `--random 500 --seed 1`); kept above that for the bitmap.
inline constexpr double kScanRowNs = 1.5;
// A test of one candidate row reading one column entry (rows ascending but
// scattered: mostly a cache miss, overlapped by prefetch): 9-18 ns a row
// (no_subflow_one_day, subflow_parents_last_week of the generated mix).
inline constexpr double kCheckRowNs = 12;
// A test of one candidate row through its flow run (two dependent reads):
// ~26 ns a row (subflow_parents_last_week: 4,054 rows in 105 us).
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
// bytes a row when sparse, at most n/8 bytes when dense): a 980k-row posting
// copy ~20 us, a 1M-row complement ~125 us (or_name_like).
inline constexpr double kPostingOpenNs = 400;
inline constexpr double kBitmapByteNs = 0.5;
// A row of an intersection's inputs (roaring AND): 31k x 996k rows in 33 us
// (no_subflow_one_day).
inline constexpr double kIntersectRowNs = 0.5;
// `like_` over a dictionary: per byte of the folded copy (memchr/memmem)
// and per entry of the general matcher. Not yet measured on its own (the
// first, uncached run of like_one_letter_common is the place to read it);
// tests/engine/like_pattern_test.cc pins the result, not the speed.
inline constexpr double kLikeScanByteNs = 0.1;
inline constexpr double kLikeEntryNs = 25;
// A sorted-order range turned into a bitmap, per row (collect, then set in a
// flat bitset). Estimated, not measured since BitmapBuilder replaced the sort
// (14.6 ms for 184k rows before: random190).
inline constexpr double kSortedRangeRowNs = 8;
// A task-run side estimated at or below this many rows is run before the
// join's sides are evaluated (an empty one skips them): the flow-run table
// filter alone cost 774 us at 1M for random54 of `--random 100 --seed 1`,
// whose task-run side held no row.
inline constexpr uint64_t kSmallTaskRunSide = 4096;
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
