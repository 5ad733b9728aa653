// engine/executor.h
//
// Evaluates a FilterSet against a Store (paginate.md 4-5) and cuts the sorted
// page (6-7). Shape (DESIGN.md "Planner and executor"): every leaf yields a
// Bitmap of rows, levels AND/OR their children's bitmaps, flow-run, flow and
// deployment filters are evaluated on their own tables and carried to task
// runs through the join postings; count is the cardinality of the final
// bitmap; the page is cut from the sort order (id DESC tie-break, NULLs as
// PostgreSQL places them). Thread-safe on a const Store.

#ifndef TASKDEX_ENGINE_EXECUTOR_H_
#define TASKDEX_ENGINE_EXECUTOR_H_

#include <cstdint>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/store.h"
#include "index/bitmap.h"

namespace taskdex {

struct PageResult {
  std::vector<RowId> rows;  // task-run rows of the page, in order
  uint64_t count = 0;       // all matches, ignoring offset/limit
};

// Task-run rows selected by `filters` (paginate.md 5).
Bitmap MatchTaskRuns(const Store& store, const FilterSet& filters);

// Rows [offset, offset+limit) of `rows` in `sort` order.
std::vector<RowId> SortedPage(const Store& store, const Bitmap& rows, TaskRunSort sort,
                              uint64_t offset, uint64_t limit);

// Count and page from the same Store.
PageResult Paginate(const Store& store, const PaginateQuery& query);

uint64_t Count(const Store& store, const FilterSet& filters);

// True if `text` matches `'%' + pattern + '%'` with PostgreSQL ILIKE rules
// under the C locale (paginate.md 4.2). Exposed for tests.
bool LikeMatches(std::string_view text, std::string_view pattern);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_EXECUTOR_H_
