// engine/version.h
//
// One version of a live store (DESIGN.md "Segments, versions and live
// updates"): an immutable list of segments, each an immutable Store with
// the task-run rows that no longer count (its tombstones), and the queries
// over it. A reader pins a version (a shared_ptr) for its whole request, so
// count, page and response come from the same data; the writer
// (engine/live_store.h) publishes the next version with one pointer swap,
// and a version's segments are freed when its last reader lets go.
//
// What a segment holds: its task runs, and a copy of every flow run, flow
// and deployment their joins read (engine/live_store.h says which, and why
// those copies are always current for the rows that count). A task run
// counts in exactly one segment of a version; its other copies there are
// tombstoned. So a query runs on each segment on its own, with the
// segment's own dictionaries and indexes, and the answers merge: counts
// add, pages merge the per-segment sorted pages (each cut at offset + limit)
// by the sort's key, id DESC breaking ties (paginate.md 6.2); a deep page
// without criteria is selected by rank over the segments' live orders when
// that costs less (version.cc LiveOrderMerge). Each segment's tombstones
// may carry their sort positions (engine/tombstones.h), which the writer
// keeps exact.
//
// Thread safety: a const Version may be read from many threads.

#ifndef TASKDEX_ENGINE_VERSION_H_
#define TASKDEX_ENGINE_VERSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/store.h"
#include "engine/tombstones.h"
#include "index/bitmap.h"

namespace taskdex {

struct SegmentView {
  uint64_t id = 0;  // unique within a live store, for metrics and tests
  std::shared_ptr<const Store> store;
  std::shared_ptr<const Bitmap> dead;  // never null; task-run rows
  uint32_t live = 0;                   // task runs that count
  // Where the dead rows sit in the sort orders (engine/tombstones.h), when
  // the writer computed it: null, or exactly `dead`'s rows. `inverse` is
  // kept for the next version's positions.
  std::shared_ptr<const OrderInverse> inverse;
  std::shared_ptr<const DeadPositions> dead_positions;

  Tombstones tombstones() const { return {dead.get(), dead_positions.get()}; }
};

struct Version {
  uint64_t number = 0;
  std::vector<SegmentView> segments;  // oldest first

  uint64_t LiveTaskRuns() const;
  uint64_t DeadTaskRuns() const;
  size_t MemoryBytes() const;
};

// A task-run row of a version: segment index and row in its Store.
struct RowRef {
  uint32_t segment = 0;
  RowId row = 0;
  bool operator==(const RowRef&) const = default;
};

struct VersionPage {
  std::vector<RowRef> rows;  // in sort order
  uint64_t count = 0;        // every match, ignoring offset and limit
};

// A version of one segment with no tombstones: a Store loaded whole.
std::shared_ptr<const Version> SingleSegmentVersion(std::shared_ptr<const Store> store);

VersionPage Paginate(const Version& version, const PaginateQuery& query,
                     const ExecOptions& options);
uint64_t Count(const Version& version, const FilterSet& filters);
// Matching rows per segment (index = segment), tombstones left out.
std::vector<Bitmap> MatchTaskRuns(const Version& version, const FilterSet& filters);
// The row that counts for task-run `id`, if any.
std::optional<RowRef> FindTaskRun(const Version& version, const Uuid& id);
// Explain of each segment that has rows that count, under a header line
// per segment.
std::string Explain(const Version& version, const PaginateQuery& query);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_VERSION_H_
