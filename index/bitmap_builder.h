// index/bitmap_builder.h
//
// BitmapBuilder: a flat bitset over rows [0, n) whose bits are set in any
// order, turned into a roaring Bitmap at the end. Why not Bitmap::add or
// addMany: a column scan or a sorted-range copy that selects hundreds of
// thousands of rows paid ~5-100 ns a row there (addMany of sorted rows, or
// a sort first for rows in key order); setting a bit is a store into a
// 128 KiB-per-million array, and the conversion writes each 65,536-row
// chunk as one CRoaring container: the chunk's 1,024 words as they are
// (a bitset container) when it holds more than 4,096 rows, else its rows as
// 16-bit values (an array container). The conversion goes through CRoaring's
// documented portable serialization format (RoaringFormatSpec: cookie 12346,
// no run containers), read back with Roaring::readSafe, so only the public
// API is used. Cost: n / 8 bytes of popcount and copy, whatever the count.
//
// Thread safety: one builder per thread.

#ifndef TASKDEX_INDEX_BITMAP_BUILDER_H_
#define TASKDEX_INDEX_BITMAP_BUILDER_H_

#include <cstdint>
#include <vector>

#include "index/bitmap.h"

namespace taskdex {

class BitmapBuilder {
 public:
  explicit BitmapBuilder(uint32_t n) : words_((static_cast<size_t>(n) + 63) / 64, 0) {}

  // REQUIRES: r < n.
  void Set(uint32_t r) { words_[r >> 6] |= uint64_t{1} << (r & 63); }
  // The words, bit r of the set at words()[r / 64] bit r % 64; a caller
  // may write whole words (bits at or beyond n must stay clear).
  uint64_t* words() { return words_.data(); }
  size_t num_words() const { return words_.size(); }

  Bitmap Build() const;

 private:
  std::vector<uint64_t> words_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_BITMAP_BUILDER_H_
