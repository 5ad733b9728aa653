// engine/tombstones.h
//
// The tombstones of a segment of a live store (engine/version.h): its
// task-run rows that no longer count, and where they sit in each of the
// segment's sort orders.
//
// Why positions. A query without criteria pages by walking a sort order
// and skipping tombstoned rows. A live cache's changes land on the newest
// task runs, at the head of the time orders, so their tombstones cluster
// exactly where a top page walks: EXPECTED_START_TIME_DESC, limit 10, at 1M
// task runs after 100k generated changes (8,500 tombstones), walked ~8,000
// dead rows with a Bitmap lookup each (~50 us against 8 us with none), and
// a deep page walked its whole prefix (2.7 ms at offset 1M). With the
// order's dead positions, a page's first position is a binary search on
// their rank (index/sorted_order.h NthNotIn) and the walk steps over them
// with an iterator (ForEachNotIn), no lookup per row.
//
// Costs. OrderInverse: 4 bytes a row for each of the 7 sorts, built in one
// pass over each order when a segment first gets tombstones (the writer,
// engine/live_store.cc), then shared by every version. DeadPositions: one
// bitmap of positions per sort, copied and extended by the writer for each
// version that tombstones more rows of the segment (7 adds a row).
//
// Thread safety: immutable once built; shared by versions and readers.

#ifndef TASKDEX_ENGINE_TOMBSTONES_H_
#define TASKDEX_ENGINE_TOMBSTONES_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/store.h"
#include "engine/types.h"
#include "index/bitmap.h"

namespace taskdex {

// Row -> position in each sort order of one Store (index = TaskRunSort).
struct OrderInverse {
  std::array<std::vector<uint32_t>, kNumTaskRunSorts> position;

  static std::shared_ptr<const OrderInverse> Of(const Store& store);
  size_t MemoryBytes() const;
};

// The positions of a segment's tombstoned rows in each sort order.
struct DeadPositions {
  std::array<Bitmap, kNumTaskRunSorts> by_sort;

  // `old` (may be null: none) plus the positions of `rows`.
  static std::shared_ptr<const DeadPositions> With(const DeadPositions* old,
                                                   const OrderInverse& inverse,
                                                   const Bitmap& rows);
  size_t MemoryBytes() const;
};

// What the executor takes: the dead rows (null: none) and, when known,
// their positions (null: walks check each row against `rows`). When both
// are given they describe the same rows.
struct Tombstones {
  const Bitmap* rows = nullptr;
  const DeadPositions* positions = nullptr;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_TOMBSTONES_H_
