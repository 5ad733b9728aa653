// tests/testing/random_data.h
//
// Seeded generators for the differential suite (STYLE.md 8): small random
// data sets whose vocabularies are tiny so that filters match often and sorts
// tie, random filter trees over every field and operator of
// engine/filter_ast.h (paginate.md 4.4-4.7), and random sorts and pages.
//
// Everything is driven by TestRng, a splitmix64 generator written here, so a
// seed replays the same cases on every platform and standard library.
// Generated data never repeats an id within one entity.
// Not thread-safe per TestRng; the functions themselves hold no state.

#ifndef TASKDEX_TESTS_TESTING_RANDOM_DATA_H_
#define TASKDEX_TESTS_TESTING_RANDOM_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n); REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n);
  // True with probability percent/100.
  bool Percent(int percent);
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(v.size())];
  }

 private:
  uint64_t state_;
};

// The instants data and filters draw from: 2024-05-01T10:00:00Z plus 0, 1 us,
// 60 s, 120 s and 3600 s. Few values, so time sorts and bounds tie.
const std::vector<Micros>& TestInstants();

// A random data set: 0-5 flows, 0-5 deployments, 0-12 flow runs, 0-40 task
// runs, with the traps of paginate.md 4-6 (dangling references, orphans,
// null states and times, case variants, like_ metacharacters in names).
SnapshotRecords RandomRecords(TestRng& rng);

// A random FilterSet whose ids come from `data` (and a few unknown ones).
// Only the fields each Prefect class has are set (paginate.md 4.4-4.7), with
// TaskRunFilter.flow_run_id.is_null set as the request parser would.
FilterSet RandomFilterSet(TestRng& rng, const SnapshotRecords& data);

// Random sort, limit (0-200, mostly small) and offset ((page-1)*limit with
// page sometimes past the end or beyond 64 bits, saturated).
void RandomSortAndPage(TestRng& rng, PaginateQuery* query);

// RandomFilterSet + RandomSortAndPage.
PaginateQuery RandomQuery(TestRng& rng, const SnapshotRecords& data);

// The same filters with every list reordered at random (any_, not_any_,
// all_, ...). The result of a query must not change.
FilterSet ShuffleLists(TestRng& rng, FilterSet filters);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_RANDOM_DATA_H_
