#include "engine/huge_pages.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

// Collapsing is best effort (THP may be off), but it must see the process's
// large anonymous memory and never change a byte of it.
TEST(HugePagesTest, CollapseKeepsContentsOfLargeAnonymousMemory) {
  constexpr size_t kWords = (size_t{16} << 20) / sizeof(uint64_t);  // 16 MiB
  std::vector<uint64_t> data(kWords);
  for (size_t i = 0; i < kWords; ++i) data[i] = i * 0x9E3779B97F4A7C15ULL;
  const HugePageReport report = CollapseToHugePages();
#ifdef __linux__
  EXPECT_GE(report.regions, 1u);
  // At least the 7 aligned 2 MiB spans inside the 16 MiB were tried.
  EXPECT_GE(report.bytes_collapsed + report.bytes_failed, size_t{14} << 20);
#endif
  for (size_t i = 0; i < kWords; ++i) {
    ASSERT_EQ(data[i], i * 0x9E3779B97F4A7C15ULL) << i;
  }
}

}  // namespace
}  // namespace taskdex
