// tests/testing/reference_evaluator.h
//
// The test oracle: a naive reference evaluator for /paginate (paginate.md
// 4-7). It reads plain rows (engine/records.h) and the Filter AST
// (engine/filter_ast.h) and nothing else of the engine: every task run is
// checked row by row with code written straight from the spec text, the
// matches are ordered with std::stable_sort and a comparator implementing
// paginate.md 6.2, then `offset` rows are skipped and `limit` taken.
//
// Written to be obviously right, not fast: lookups are linear scans, like_
// is a dynamic program over code points. Test-only; never link it into the
// engine. Pure functions, thread-safe.
//
// Repeated ids: like the StoreBuilder, a later record with the same id
// replaces an earlier one (entities.md 4.1), so only the last record of each
// id is seen by the evaluator.

#ifndef TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_
#define TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

struct ReferenceResult {
  std::vector<Uuid> ids;      // the page, in order
  uint64_t count = 0;         // all matches, ignoring offset and limit
  int64_t limit = 0;          // the limit used
  uint64_t pages = 0;         // RefPages(count, limit)
  std::vector<Uuid> all_ids;  // every match, in sort order (the page comes from it)
};

// Answers `query` over `records` (paginate.md 5-7).
ReferenceResult RefPaginate(const SnapshotRecords& records, const PaginateQuery& query);

// The task runs selected by `filters`, in record order (last record of each id).
std::vector<Uuid> RefMatchingIds(const SnapshotRecords& records, const FilterSet& filters);

// `pages` of paginate.md 7: ceil(count / limit), and 0 when limit is 0.
uint64_t RefPages(uint64_t count, int64_t limit);

// True if `text` matches `'%' + pattern + '%'` under PostgreSQL's ILIKE with
// a C locale (paginate.md 4.2). Independent of the engine's LikeMatches.
bool RefLikeMatches(std::string_view text, std::string_view pattern);

// Lowercase hyphenated text of a UUID (written here, not taken from engine/).
std::string RefUuidText(const Uuid& u);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_REFERENCE_EVALUATOR_H_
