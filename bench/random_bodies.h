// bench/random_bodies.h
//
// Random valid /paginate request bodies for `taskdex bench --random N`,
// written as JSON text, with values drawn from a loaded Store: ids of existing
// task runs, flow runs, flows and deployments (and a few unknown ids), names
// and `like_` fragments of 1..6 characters (sometimes case-flipped) cut from
// names in the data, tags, state names and types, work queues, flow versions,
// idempotency keys, created_by values, and times inside the data's time
// range. Every filter field of paginate.md 4.4-4.7 is drawn, `operator`
// (`and_`/`or_`) at every level that has one, all 7 sorts, `limit` 1..200 and
// `page` from 1 to deep pages.
//
// Each level picks a few fields (not all), so a good share of the bodies
// match rows; the rest are empty results, which are part of the workload.
//
// Deterministic: the same Store contents and seed give the same bodies (the
// random source is splitmix64, values are picked by row and dictionary code).
//
// Thread safety: a RandomBodies only reads the Store it was built on (which
// must outlive it); Generate is const and may run on many threads.

#ifndef TASKDEX_BENCH_RANDOM_BODIES_H_
#define TASKDEX_BENCH_RANDOM_BODIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_runner.h"
#include "engine/store.h"
#include "engine/types.h"

namespace taskdex {

class RandomBodies {
 public:
  // Scans the store once for the time range of its task runs and flow runs.
  explicit RandomBodies(const Store& store);

  // `n` bodies named "random<i>" (i from 0), deterministic for (store, seed).
  std::vector<BenchBody> Generate(uint64_t seed, int n) const;

 private:
  const Store& store_;
  Micros min_time_ = 0;  // over every non-null task-run and flow-run time
  Micros max_time_ = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_BENCH_RANDOM_BODIES_H_
