// tests/testing/examples_data.h
//
// The data set of examples.md (3 flows, 2 deployments, 4 flow runs, 7 task
// runs), built as records in code, with named ids, so tests can state each
// example's expected rows without parsing the snapshot. Only the fields the
// filters and sorts read are set. Thread-safe (pure functions).

#ifndef TASKDEX_TESTS_TESTING_EXAMPLES_DATA_H_
#define TASKDEX_TESTS_TESTING_EXAMPLES_DATA_H_

#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {
namespace examples {

// Task run Tn, n in 1..7: 00000000-0000-4000-8000-00000000000n.
Uuid T(int n);
// Flow run FRn, n in 1..4: a{n}000000-0000-4000-8000-000000000000.
Uuid FR(int n);
// Flow Fn: f{n}000000-...; deployment Dn: d{n}000000-... (D9 is the deleted one).
Uuid F(int n);
Uuid D(int n);
// created_by.id of FR1.
Uuid Creator();
// 2024-05-01 at hh:mm:ss UTC.
Micros At(int hh, int mm, int ss = 0);

SnapshotRecords Records();

}  // namespace examples
}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_EXAMPLES_DATA_H_
