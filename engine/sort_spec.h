// engine/sort_spec.h
//
// The seven task-run sorts (paginate.md 6.2) in one table: each sort's key
// column, its direction and where NULL keys go (PostgreSQL: NULLS LAST when
// ascending, NULLS FIRST when descending); every tie breaks by id
// DESCENDING. Read by the sorted orders' builder (engine/store.cc), the
// partial sort and the sort-order window (engine/internal/page_cut.cc).
// The reference evaluator (tests/testing/) keeps its own independent copy
// on purpose: it is the oracle.

#ifndef TASKDEX_ENGINE_SORT_SPEC_H_
#define TASKDEX_ENGINE_SORT_SPEC_H_

#include <cstdint>

#include "engine/types.h"

namespace taskdex {

enum class SortKey : uint8_t { kId, kExpectedStartTime, kName, kNextScheduledStartTime, kEndTime };

struct SortSpec {
  SortKey key;
  bool descending;
  bool nulls_first;
};

constexpr SortSpec SortSpecOf(TaskRunSort sort) {
  switch (sort) {
    case TaskRunSort::kIdDesc:
      return {SortKey::kId, true, true};  // ids are never NULL
    case TaskRunSort::kExpectedStartTimeAsc:
      return {SortKey::kExpectedStartTime, false, false};
    case TaskRunSort::kExpectedStartTimeDesc:
      return {SortKey::kExpectedStartTime, true, true};
    case TaskRunSort::kNameAsc:
      return {SortKey::kName, false, false};
    case TaskRunSort::kNameDesc:
      return {SortKey::kName, true, true};
    case TaskRunSort::kNextScheduledStartTimeAsc:
      return {SortKey::kNextScheduledStartTime, false, false};
    case TaskRunSort::kEndTimeDesc:
      return {SortKey::kEndTime, true, true};
  }
  return {SortKey::kId, true, true};
}

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_SORT_SPEC_H_
