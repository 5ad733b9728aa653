// ArrayColumn: served in place from a backed, aligned input; copied from
// anything else; copy on write; the same values either way.

#include "index/array_column.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace taskdex {
namespace {

struct alignas(64) Wide {
  uint64_t a;
  uint32_t b;
};

template <typename T>
std::string Encode(const std::vector<T>& v) {
  std::string bytes;
  StringSink sink(&bytes);
  SerialWriter w(&sink);
  w.PutArray(v);
  w.Flush();
  return bytes;
}

// `bytes` copied to `shift` bytes past an address aligned for anything, and
// kept alive by the returned backing.
std::shared_ptr<std::vector<std::max_align_t>> Place(const std::string& bytes, size_t shift,
                                                     std::span<const char>* at) {
  auto block = std::make_shared<std::vector<std::max_align_t>>(bytes.size() / 8 + 64);
  char* base = reinterpret_cast<char*>(block->data());
  base += (128 - reinterpret_cast<uintptr_t>(base) % 128) % 128;  // 128-aligned
  std::copy(bytes.begin(), bytes.end(), base + shift);
  *at = std::span<const char>(base + shift, bytes.size());
  return block;
}

TEST(ArrayColumnTest, AnAlignedBackedArrayIsServedInPlace) {
  const std::vector<uint32_t> values = {7, 1, 9, 4};
  std::span<const char> at;
  // The count takes 8 bytes: elements at 8 past a 128-aligned address.
  auto backing = Place(Encode(values), 0, &at);
  SerialReader r(at, backing);
  ArrayColumn<uint32_t> col;
  col.Load(r);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(col.is_view());
  EXPECT_TRUE(r.backing_shared());
  EXPECT_EQ(col.data(), reinterpret_cast<const uint32_t*>(at.data() + 8));
  EXPECT_TRUE(std::ranges::equal(col, values));
  EXPECT_EQ(col.MemoryBytes(), values.size() * sizeof(uint32_t));
}

TEST(ArrayColumnTest, AMisalignedOrUnbackedArrayIsCopied) {
  const std::vector<Wide> values = {{1, 2}, {3, 4}, {5, 6}};
  std::span<const char> at;
  // Elements at 8 + 8 past a 128-aligned address: not aligned for Wide.
  auto backing = Place(Encode(values), 8, &at);
  SerialReader misaligned(at, backing);
  ArrayColumn<Wide> a;
  a.Load(misaligned);
  ASSERT_TRUE(misaligned.ok()) << misaligned.error();
  EXPECT_FALSE(a.is_view());
  EXPECT_FALSE(misaligned.backing_shared()) << "a copy keeps no view";
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].a, 5u);
  EXPECT_EQ(a[2].b, 6u);

  SerialReader unbacked(at);
  ArrayColumn<Wide> b;
  b.Load(unbacked);
  EXPECT_FALSE(b.is_view());
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].a, 1u);
}

TEST(ArrayColumnTest, OwnedCopiesAViewAndDropsTheBacking) {
  const std::vector<int64_t> values = {-5, 0, 42};
  std::span<const char> at;
  auto backing = Place(Encode(values), 0, &at);
  ArrayColumn<int64_t> col;
  {
    SerialReader r(at, backing);
    col.Load(r);
  }
  ASSERT_TRUE(col.is_view());
  EXPECT_EQ(backing.use_count(), 2) << "the column shares the backing";
  col.owned().push_back(8);
  EXPECT_FALSE(col.is_view());
  EXPECT_EQ(backing.use_count(), 1) << "the copy let the backing go";
  EXPECT_EQ(col.size(), 4u);
  EXPECT_EQ(col[2], 42);
  EXPECT_EQ(col[3], 8);
  // The mapped bytes are untouched.
  EXPECT_EQ(reinterpret_cast<const int64_t*>(at.data() + 8)[2], 42);
}

// SharedBytes, the same idea for one string, copies on write alike.
TEST(ArrayColumnTest, SharedBytesOwnedCopiesAView) {
  std::string bytes;
  {
    StringSink sink(&bytes);
    SerialWriter w(&sink);
    w.PutString("mapped text");
  }
  auto backing = std::make_shared<std::string>(bytes);
  SharedBytes b;
  {
    SerialReader r(*backing, backing);
    b.Load(r);
  }
  ASSERT_EQ(b.view().data(), backing->data() + 8) << "a view of the backing";
  b.owned().append("!");
  EXPECT_EQ(b.view(), "mapped text!");
  EXPECT_EQ(backing.use_count(), 1);
  EXPECT_EQ(backing->substr(8, 11), "mapped text");
}

TEST(ArrayColumnTest, SaveWritesWhatGetArrayReads) {
  ArrayColumn<uint32_t> col(std::vector<uint32_t>{3, 2, 1});
  std::string bytes;
  {
    StringSink sink(&bytes);
    SerialWriter w(&sink);
    col.Save(w);
  }
  EXPECT_EQ(bytes, Encode(std::vector<uint32_t>{3, 2, 1}));
  SerialReader r(bytes);
  EXPECT_EQ(r.GetArray<uint32_t>(), (std::vector<uint32_t>{3, 2, 1}));
}

TEST(ArrayColumnTest, ATruncatedArrayFailsTheReaderAndLeavesTheColumnEmpty) {
  std::string bytes = Encode(std::vector<uint64_t>{1, 2, 3});
  bytes.resize(bytes.size() - 4);
  SerialReader r(bytes);
  ArrayColumn<uint64_t> col(std::vector<uint64_t>{9});
  col.Load(r);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(col.empty());
}

}  // namespace
}  // namespace taskdex
