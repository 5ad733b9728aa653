// tests/testing/describe.h
//
// Readable dumps for failing test cases: a FilterSet or a whole query as a
// /paginate request body (so a failure can be replayed against the API or
// Prefect), and a data set as snapshot NDJSON lines (entities.md 4) holding
// the fields the filters read. Written independently of engine/ (own UUID and
// datetime formatting). Pure functions, thread-safe.

#ifndef TASKDEX_TESTS_TESTING_DESCRIBE_H_
#define TASKDEX_TESTS_TESTING_DESCRIBE_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

// The four filters as the JSON body that produces them, e.g.
// {"task_runs":{"operator":"or_","name":{"like_":"ct_a"}}}. Absent filters and
// fields are left out; TaskRunFilter.flow_run_id always spells is_null_.
std::string DescribeFilterSet(const FilterSet& filters);

// DescribeFilterSet plus "sort", "limit" and the offset (as a comment-like
// "offset" key, since a body carries `page`, not the offset).
std::string DescribeQuery(const PaginateQuery& query);

// The data set as four snapshot sections, "flows.ndjson:" then one line per
// record, and so on.
std::string DescribeRecords(const SnapshotRecords& records);

// "2024-05-01T10:00:00.000001Z" (fraction only when non-zero).
std::string DescribeMicros(Micros t);

// Ids as lowercase text, comma-separated.
std::string DescribeIds(const std::vector<Uuid>& ids);

// Parses a 36-character hyphenated UUID (any hex case), for test literals.
// Returns the zero UUID for malformed text.
Uuid UuidFromText(std::string_view text);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_DESCRIBE_H_
