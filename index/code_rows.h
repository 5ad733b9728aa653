// index/code_rows.h
//
// CodeRows: code -> ascending rows, for a single-valued coded column whose
// postings are mostly tiny, such as task-run names (real histories have
// nearly one name per task run). Same questions as PostingIndex
// (index/posting_index.h), different layout:
//
//   offsets_[c] .. offsets_[c + 1]   the slice of rows_ holding code c
//   rows_                            every row with a code, grouped by code,
//                                    ascending within a code
//
// Why not a Bitmap per code (PostingIndex): at 10M task runs with ~10M
// distinct names that is 10M CRoaring objects, ~50 bytes and two heap
// allocations each (515 MB of the binary snapshot's task_run_indexes
// section, 1.4 s of its 10M load, session 13), where these two arrays take
// 8 bytes a row and load with one copy each.
//
// Costs: Build is a counting sort, O(rows + codes), two passes over the
// column. Rows(c) and Cardinality(c) are O(1). Union(codes) gathers the
// rows of `codes`, sorts them if more than one code, and makes one Bitmap:
// O(k log k) for k rows, against a bitmap union per code.
//
// Update protocol: none. Built once from a frozen column (a Store never
// changes; the live store adds segments, engine/live_store.h).
//
// Thread safety: const methods may be called from many threads.

#ifndef TASKDEX_INDEX_CODE_ROWS_H_
#define TASKDEX_INDEX_CODE_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "index/bitmap.h"
#include "index/serial.h"

namespace taskdex {

class CodeRows {
 public:
  CodeRows() = default;

  // From `codes` (row -> code); rows whose code is `skip` are left out.
  void Build(std::span<const uint32_t> codes, uint32_t skip);

  // The rows of `code`, ascending; empty for an unknown code.
  std::span<const uint32_t> Rows(uint32_t code) const;
  uint64_t Cardinality(uint32_t code) const { return Rows(code).size(); }
  // Sum of the postings' sizes of `codes` (duplicates counted twice).
  uint64_t SumCardinality(std::span<const uint32_t> codes) const;
  // The rows of any of `codes` (duplicates allowed).
  Bitmap Union(std::span<const uint32_t> codes) const;

  uint32_t num_codes() const {
    return offsets_.empty() ? 0 : static_cast<uint32_t>(offsets_.size() - 1);
  }
  size_t MemoryBytes() const { return (offsets_.capacity() + rows_.capacity()) * 4; }

  // The binary snapshot's form (index/serial.h): offsets, then rows. Load
  // checks that the offsets ascend and end at the rows' count; a failed
  // check fails `r`.
  void Save(SerialWriter& w) const;
  void Load(SerialReader& r);
  // True if every row is below `n` and ascends within its code (a loaded
  // index's check).
  bool RowsBelow(uint32_t n) const;

 private:
  std::vector<uint32_t> offsets_;  // num_codes + 1 entries, or none
  std::vector<uint32_t> rows_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_CODE_ROWS_H_
