// engine/internal/page_cut.h
//
// Cuts the page [offset, offset + limit) of a query's matches in its sort's
// order (paginate.md 6-7): a slice of the sort order when every row
// matches; a walk of the order testing membership (in a flat bitset of the
// matches, a RowMask, when the walk is long) when that visits fewer rows
// than sorting the matches would cost; else a partial sort of the matches
// with prefetched keys. A walk whose matches cluster away from the start
// gives up after a budget of visits (at least what the sort would cost) and
// the partial sort takes over. Costs are engine/plan_cost.h's page-cut
// constants. Ties break by id DESC; NULLs go where PostgreSQL puts them.
//
// Thread safety: reads a const Store; each thread keeps its own RowMask
// (a scratch buffer reused across queries, never a parameter).

#ifndef TASKDEX_ENGINE_INTERNAL_PAGE_CUT_H_
#define TASKDEX_ENGINE_INTERNAL_PAGE_CUT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/internal/exec_context.h"
#include "engine/internal/plan_node.h"
#include "index/bitmap.h"

namespace taskdex::engine_internal {

// Positions [first, last) of a sort's order that hold every match: the
// whole order, or, when a criterion of the top-level AND bounds the sort's
// own key (a time range under its time sort, names under a NAME sort), the
// binary-searched range of those keys. A walk of the order visits only it.
struct OrderWindow {
  size_t first = 0;
  size_t last = 0;
};
OrderWindow SortWindow(const ExecContext& ctx, const std::vector<PlanNode>& and_kids,
                       TaskRunSort sort);

// `dead`, when given, are rows of `rows` that do not count (a segment's
// tombstones) and `skip` their positions in the sort's order (may be
// null): a walk steps over `skip`, so a large `rows` is never copied to
// take them out; a partial sort (or a walk without `skip`) works on
// rows - dead.
std::vector<RowId> CutSortedPage(const ExecContext& ctx, const Bitmap& rows, TaskRunSort sort,
                                 uint64_t offset, uint64_t limit,
                                 std::optional<OrderWindow> window = std::nullopt,
                                 const Bitmap* dead = nullptr, const Bitmap* skip = nullptr);

// The page of the `count` rows that pass `node`, cut by walking the sort
// order and checking each row -- the matches are never materialized (dense
// results under any sort). nullopt when materializing the node would cost
// less than the walk, or when the walk runs past its budget (the matches
// cluster late in the order); the caller then materializes.
// `skip`, when given, holds positions of the order to step over (a
// segment's tombstones, engine/tombstones.h) without checking their rows.
std::optional<std::vector<RowId>> CutPageByChecking(const ExecContext& ctx, const PlanNode& node,
                                                    uint64_t count, TaskRunSort sort,
                                                    uint64_t offset, uint64_t limit,
                                                    OrderWindow window,
                                                    const Bitmap* skip = nullptr);

// The page [offset, offset + limit) of every row of the sort's order but
// those at the positions `skip` (a query without criteria on a segment
// with tombstones): a binary search for the first position, then a walk
// stepping over `skip`. The order must hold every row.
std::vector<RowId> CutLivePage(const ExecContext& ctx, TaskRunSort sort, const Bitmap& skip,
                               uint64_t offset, uint64_t limit);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_PAGE_CUT_H_
