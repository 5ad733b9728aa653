// index/posting_index.h
//
// PostingIndex: code -> Bitmap of rows, for a single- or multi-valued coded
// column (dictionary codes, enum values). Knows nothing of Prefect: rows and
// codes are plain uint32 values. Supports Add/Remove of (row, code) pairs so
// inserts, updates (Remove old code, Add new) and deletes need no rebuild.
//
// Thread safety: const methods may be called from many threads; mutation
// needs exclusive access.

#ifndef TASKDEX_INDEX_POSTING_INDEX_H_
#define TASKDEX_INDEX_POSTING_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "index/bitmap.h"
#include "index/serial.h"

namespace taskdex {

class PostingIndex {
 public:
  PostingIndex() = default;

  // Adds `row` to the posting of `code`, growing the code range as needed.
  void Add(RowId row, uint32_t code);
  // Removes `row` from the posting of `code` (no-op if absent).
  void Remove(RowId row, uint32_t code);

  // Rows with `code`; an empty bitmap for an unknown code.
  const Bitmap& Get(uint32_t code) const;
  uint64_t Cardinality(uint32_t code) const { return Get(code).cardinality(); }
  // Union of the postings of `codes` (duplicates allowed).
  Bitmap Union(std::span<const uint32_t> codes) const;
  // Sum of posting sizes of `codes` (an upper bound of the union's size).
  uint64_t SumCardinality(std::span<const uint32_t> codes) const;

  uint32_t num_codes() const { return static_cast<uint32_t>(postings_.size()); }
  // Compresses the bitmaps (run containers, shrink to fit). Call after bulk loads.
  void Optimize();
  size_t MemoryBytes() const;

  // The binary snapshot's form (index/serial.h): the postings by code.
  void Save(SerialWriter& w) const { w.PutBitmaps(postings_); }
  void Load(SerialReader& r) { postings_ = r.GetBitmaps(); }
  // True if every posting's rows are below `n` (a loaded index's check).
  bool RowsBelow(uint32_t n) const {
    for (const Bitmap& b : postings_) {
      if (!b.isEmpty() && b.maximum() >= n) return false;
    }
    return true;
  }

 private:
  std::vector<Bitmap> postings_;
};

// Up to this many parts, UnionOf ORs them pairwise; more go through
// CRoaring's many-way union.
inline constexpr size_t kPairwiseUnionMax = 4;

// The union of `parts` (no null pointers), by the cheaper of pairwise ORs
// and CRoaring's many-way union.
Bitmap UnionOf(std::span<const Bitmap* const> parts);

}  // namespace taskdex

#endif  // TASKDEX_INDEX_POSTING_INDEX_H_
