// tests/testing/engine_compare.h
//
// Comparing two engines that should hold the same data (a round trip
// through a binary snapshot, a resumed follower against a fresh load).

#ifndef TASKDEX_TESTS_TESTING_ENGINE_COMPARE_H_
#define TASKDEX_TESTS_TESTING_ENGINE_COMPARE_H_

#include <string>

#include "api/taskdex.h"

namespace taskdex {

// The canonical text of a task-run id, as GET /api/task_runs/{id} takes it.
std::string IdText(const Uuid& id);

// Both hold the same task runs (ids in id order) and every one's full JSON
// (Engine::TaskRunJson at `now`) is byte-identical. Fails the current test.
void ExpectSameTaskRuns(const Engine& a, const Engine& b, Micros now);

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_ENGINE_COMPARE_H_
