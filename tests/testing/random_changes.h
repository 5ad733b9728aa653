// tests/testing/random_changes.h
//
// Seeded random changes (engine/mutation.h) for live-store tests: upserts
// and deletes of every entity, with row contents drawn from a fresh random
// data set and ids and references from a model of what is held (existing,
// new or dangling ones). Not thread-safe per TestRng.

#ifndef TASKDEX_TESTS_TESTING_RANDOM_CHANGES_H_
#define TASKDEX_TESTS_TESTING_RANDOM_CHANGES_H_

#include <vector>

#include "engine/mutation.h"
#include "engine/records.h"
#include "engine/types.h"
#include "tests/testing/random_data.h"

namespace taskdex {

// A random id (16 random bytes).
Uuid NewId(TestRng& rng);

// One random change: 60% task runs, 25% flow runs, 8% deployments, 7%
// flows; 20% deletes. `m`: what is held (ids and references come from it);
// `pool`: where row contents come from (e.g. RandomRecords(rng)).
Change RandomChange(TestRng& rng, const SnapshotRecords& m, const SnapshotRecords& pool);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_RANDOM_CHANGES_H_
