// tests/testing/test_seed.h
//
// The base seed of a seeded random test: TASKDEX_TEST_SEED when set (so any
// failure replays), else the test's default. Printed once per test name on
// every run and recorded in the XML report, not only on failure.

#ifndef TASKDEX_TESTS_TESTING_TEST_SEED_H_
#define TASKDEX_TESTS_TESTING_TEST_SEED_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {

inline uint64_t TestSeed(const char* test_name, uint64_t default_seed) {
  const char* env = std::getenv("TASKDEX_TEST_SEED");
  const uint64_t seed =
      (env != nullptr && *env != '\0') ? std::strtoull(env, nullptr, 0) : default_seed;
  static std::set<std::string> printed;
  if (printed.insert(test_name).second) {
    std::fprintf(stderr, "%s: TASKDEX_TEST_SEED=%llu\n", test_name,
                 static_cast<unsigned long long>(seed));
  }
  ::testing::Test::RecordProperty("TASKDEX_TEST_SEED", std::to_string(seed));
  return seed;
}

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_TEST_SEED_H_
