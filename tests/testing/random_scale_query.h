// tests/testing/random_scale_query.h
//
// Random queries aimed at a large data set (random_scale_data.h): every
// value (ids, names, tags, state names, time bounds, queues, versions) is
// drawn from the data itself, so leaves range from dense (a tag on most
// rows, the dominant state, a big flow run, a wide time range) to selective
// (one task run, one flow run, a unique name, a narrow range), and the
// automatic planner meets both sides of each threshold. Besides the general
// random tree over every field and operator (paginate.md 4.4-4.7, only the
// fields each Prefect class has, as random_data.h), a share of queries takes
// the shapes of issue 9: a short like_ (1-2 letters) or a mixed-case one next
// to a selective sibling, dense conjunctions under every sort, or_ across
// state name / tags / like_, flow-run or_ with deployment_id.is_null_.
//
// Pages: ScalePages picks page cuts for a known match count, from the first
// page to the last and past the end, so deep pages are checked too.
//
// Uses TestRng (random_data.h); a seed replays the same queries. The
// generator holds pools copied from the data; const methods are
// thread-safe, a TestRng is not.

#ifndef TASKDEX_TESTS_TESTING_RANDOM_SCALE_QUERY_H_
#define TASKDEX_TESTS_TESTING_RANDOM_SCALE_QUERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"
#include "tests/testing/random_data.h"

namespace taskdex {

class ScaleQueryGen {
 public:
  explicit ScaleQueryGen(const SnapshotRecords& data);

  // A random FilterSet as the request parser builds it (TaskRunFilter
  // .flow_run_id.is_null set as paginate.md 4.4.9 says).
  FilterSet Filters(TestRng& rng) const;

  // Filters plus a random sort; limit 10 and offset 0 (see ScalePages).
  PaginateQuery Query(TestRng& rng) const;

  // A like_ pattern drawn from `names`: 1-2 letters, a (case-flipped)
  // fragment, a whole selective piece, or a metacharacter case.
  std::string Like(TestRng& rng, const std::vector<std::string>& names) const;

 private:
  class Builder;

  // Values in row order (times: non-null values of each column, in row
  // order, so neighbours are close in time).
  std::vector<Uuid> task_run_ids_, flow_run_ids_, flow_ids_, deployment_ids_;
  std::vector<Uuid> task_run_flow_runs_;  // each task run's flow_run_id (skewed)
  std::vector<Uuid> subflow_parents_;     // flow runs' parent_task_run_id
  std::vector<std::string> task_run_names_, flow_run_names_, flow_names_, deployment_names_;
  std::vector<std::string> row_tags_;       // tags of random rows: frequency-weighted
  std::vector<std::string> distinct_tags_;  // every tag once: rare ones as often
  std::vector<std::string> state_names_, work_queues_, flow_versions_, idempotency_keys_;
  std::vector<std::string> creator_types_;
  std::vector<Micros> tr_start_, tr_end_, tr_expected_;
  std::vector<Micros> fr_start_, fr_end_, fr_expected_, fr_next_;
};

// A page cut to check: `limit` and `offset` = (page - 1) * limit.
struct PageCut {
  int64_t limit;
  uint64_t offset;
};

// Three to five cuts for a query matching `count` rows: the first page, a
// page in the middle, the last page, past the end; limits 1-200, sometimes
// 0; now and then an offset beyond 64 bits (saturated).
std::vector<PageCut> ScalePages(TestRng& rng, uint64_t count);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_RANDOM_SCALE_QUERY_H_
