// tests/testing/shrink.h
//
// Test-case minimization for the differential suite: given a data set and a
// query on which the engine and the oracle disagree, remove records, filter
// fields, list elements and `or_` operators one at a time, keeping each
// removal that still fails, until nothing more can go. The result is the
// small case a failure report should show. Knows nothing of the engine: the
// caller supplies the "still fails" predicate. Not thread-safe per call.

#ifndef TASKDEX_TESTS_TESTING_SHRINK_H_
#define TASKDEX_TESTS_TESTING_SHRINK_H_

#include <functional>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"

namespace taskdex {

using FailurePredicate = std::function<bool(const SnapshotRecords&, const PaginateQuery&)>;

// Every FilterSet obtained from `filters` by one simplification (dropping a
// present filter or field, dropping one list element or a whole list,
// turning `or_` into `and_`). Each remains a FilterSet the request parser can
// produce, since nothing is ever added.
std::vector<FilterSet> FilterSimplifications(const FilterSet& filters);

// Greedily shrinks (*data, *query) while `still_fails` holds, calling it at
// most `max_checks` times (each call builds a store; at ~100k task runs a
// call costs a fraction of a second, so scale tests pass a budget). Records
// go in runs, halving from half a table down to one.
// REQUIRES: still_fails(*data, *query) is true on entry.
void ShrinkFailure(const FailurePredicate& still_fails, SnapshotRecords* data,
                   PaginateQuery* query, int max_checks = 1 << 30);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_SHRINK_H_
