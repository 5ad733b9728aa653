// index/row_mask.h
//
// RowMask: a flat bitset of rows (one bit a row, 128 KiB per million rows)
// filled from a Bitmap, for tight loops that test many rows for membership
// in an arbitrary order (walking a sort order and keeping the matches). A
// test is one load and a shift, where Bitmap::contains binary-searches the
// container keys and then the container. Filling copies bitset containers
// whole and sets the bits of array and run containers, so it costs about
// the mask's size plus the array containers' values.
//
// Meant to be reused: Assign keeps the buffer and clears only the 64 Ki-row
// chunks the previous contents touched, so a thread can keep one mask for
// every query.
//
// Thread safety: const methods may be called from many threads; Assign
// needs exclusive access.

#ifndef TASKDEX_INDEX_ROW_MASK_H_
#define TASKDEX_INDEX_ROW_MASK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/bitmap.h"

namespace taskdex {

class RowMask {
 public:
  // Makes the mask hold exactly the rows of `rows`.
  void Assign(const Bitmap& rows);

  // Whether `row` is in the mask (any row id; out of range is false).
  bool Contains(RowId row) const {
    const size_t word = row >> 6;
    return word < words_.size() && ((words_[word] >> (row & 63)) & 1) != 0;
  }

  // Bytes of the buffer.
  size_t MemoryBytes() const { return words_.capacity() * sizeof(uint64_t); }

 private:
  static constexpr size_t kWordsPerChunk = 1024;  // 65536 rows: one roaring container

  void ClearChunk(uint32_t chunk);

  std::vector<uint64_t> words_;
  std::vector<uint32_t> dirty_;  // chunks with bits set
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_ROW_MASK_H_
