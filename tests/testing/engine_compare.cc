// tests/testing/engine_compare.cc

#include "tests/testing/engine_compare.h"

#include <cstdint>

#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {

std::string IdText(const Uuid& id) {
  char text[36];
  FormatUuid(id, text);
  return std::string(text, 36);
}

void ExpectSameTaskRuns(const Engine& a, const Engine& b, Micros now) {
  const TaskRunPage pa = a.Filter(FilterSet{}, TaskRunSort::kIdDesc, 0, UINT64_MAX);
  const TaskRunPage pb = b.Filter(FilterSet{}, TaskRunSort::kIdDesc, 0, UINT64_MAX);
  ASSERT_EQ(pa.Ids(), pb.Ids());
  for (const Uuid& id : pa.Ids()) {
    absl::StatusOr<std::string> ja = a.TaskRunJson(IdText(id), now);
    absl::StatusOr<std::string> jb = b.TaskRunJson(IdText(id), now);
    ASSERT_TRUE(ja.ok() && jb.ok()) << IdText(id);
    EXPECT_EQ(*ja, *jb) << IdText(id);
  }
}

}  // namespace taskdex
