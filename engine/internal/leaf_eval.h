// engine/internal/leaf_eval.h
//
// The leaf evaluators of the filter tree (paginate.md 4.4-4.7), one per
// filter kind, over the columns and indexes of one table: each yields the
// rows of its own table that pass it (a Pred: a Bitmap, or nullopt for TRUE),
// choosing between an index (posting union, sorted range, trigram or folded
// dictionary scan) and a column scan by the costs of engine/plan_cost.h or
// as forced by the context's ExecOptions. Negations subtract from the rows
// whose column is non-NULL, never from the 2^32 universe. String leaves go
// through the frozen dictionaries: a value that is not in the dictionary
// matches nothing, and `like_` runs once per distinct dictionary value (then
// cached per pattern), then selects rows by code.
//
// Level combines one filter level's criteria with its operator (4.1).
// The per-row checks of the task-run leaves live in task_run_plan.cc.
//
// Thread safety: pure functions of a const Store and their arguments.

#ifndef TASKDEX_ENGINE_INTERNAL_LEAF_EVAL_H_
#define TASKDEX_ENGINE_INTERNAL_LEAF_EVAL_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/filter_ast.h"
#include "engine/internal/exec_context.h"
#include "engine/like_cache.h"
#include "engine/store.h"
#include "index/bitmap.h"
#include "index/bitmap_builder.h"
#include "index/code_rows.h"
#include "index/posting_index.h"

namespace taskdex::engine_internal {

// ---------------------------------------------------------------------------
// Bitmap helpers

// A node's predicate: a set of rows, or nullopt for TRUE (every live row).
using Pred = std::optional<Bitmap>;


// Rows r in [0, n) with pred(r).
template <typename P>
Bitmap ScanRows(uint32_t n, P pred) {
  // A word of 64 predicate bits at a time into a flat bitset, no branch per
  // row (index/bitmap_builder.h: a dense result costs no add per row).
  BitmapBuilder builder(n);
  uint64_t* words = builder.words();
  uint32_t base = 0;
  for (; base + 64 <= n; base += 64) {
    uint64_t word = 0;
    for (uint32_t i = 0; i < 64; ++i) word |= uint64_t{pred(base + i) ? 1u : 0u} << i;
    words[base >> 6] = word;
  }
  if (base < n) {
    uint64_t word = 0;
    for (uint32_t i = 0; base + i < n; ++i) word |= uint64_t{pred(base + i) ? 1u : 0u} << i;
    words[base >> 6] = word;
  }
  return builder.Build();
}


inline Bitmap IntersectSmallestFirst(std::vector<Bitmap>& parts) {
  std::sort(parts.begin(), parts.end(), [](const Bitmap& a, const Bitmap& b) {
    return a.cardinality() < b.cardinality();
  });
  Bitmap result = std::move(parts[0]);
  for (size_t i = 1; i < parts.size() && !result.isEmpty(); ++i) result &= parts[i];
  return result;
}

inline Bitmap UnionAll(const std::vector<Bitmap>& parts) {
  if (parts.size() == 1) return parts[0];
  std::vector<const Bitmap*> ptrs;
  ptrs.reserve(parts.size());
  for (const Bitmap& b : parts) ptrs.push_back(&b);
  return UnionOf(ptrs);
}

// One filter level: collects its criteria and combines them with its
// operator (paginate.md 4.1). Add(nullopt) is a criterion that is TRUE (a
// present but empty sub-filter).
class Level {
 public:
  explicit Level(BoolOp op) : op_(op) {}

  // True once more criteria cannot change the outcome: AND has seen an
  // empty set, OR has seen TRUE. Callers skip evaluating the rest.
  bool done() const { return done_; }

  void Add(Pred p) {
    has_criteria_ = true;
    if (!p.has_value()) {
      if (op_ == BoolOp::kOr) {
        has_true_ = true;
        done_ = true;
      }
      return;
    }
    if (op_ == BoolOp::kAnd && p->isEmpty()) done_ = true;
    parts_.push_back(std::move(*p));
  }
  void Add(Bitmap b) { Add(Pred(std::move(b))); }

  Pred Finish() {
    if (!has_criteria_) return std::nullopt;
    if (op_ == BoolOp::kOr) {
      if (has_true_) return std::nullopt;
      return UnionAll(parts_);
    }
    if (parts_.empty()) return std::nullopt;
    return IntersectSmallestFirst(parts_);
  }

 private:
  BoolOp op_;
  bool has_criteria_ = false;
  bool has_true_ = false;
  bool done_ = false;
  std::vector<Bitmap> parts_;
};

inline Bitmap Materialize(Pred p, uint32_t n) { return p ? std::move(*p) : AllRows(n); }


// ---------------------------------------------------------------------------
// Leaves shared by several tables

// Dictionary codes selected by a leaf: a shared, immutable CodeSet
// (engine/like_cache.h), so a cached `like_` result is used without a copy.
using CodeMask = std::shared_ptr<const CodeSet>;


// A small set of strings, for columns without a dictionary.
class StringSet {
 public:
  explicit StringSet(const std::vector<std::string>& values) {
    for (const std::string& v : values) sorted_.push_back(v);
    std::sort(sorted_.begin(), sorted_.end());
  }
  bool Has(std::string_view s) const { return std::binary_search(sorted_.begin(), sorted_.end(), s); }
  bool empty() const { return sorted_.empty(); }

 private:
  std::vector<std::string_view> sorted_;  // views of the filter's strings
};


// Datetime filters: before_/after_ (inclusive) on range_key(r), where
// kNullMicros never matches; is_null_ on null_col. No operator: AND.
template <typename KeyFn>
Pred EvalTime(const TimeFilter& f, uint32_t n, KeyFn range_key, std::span<const Micros> null_col) {
  if (!f.before && !f.after && !f.is_null) return std::nullopt;
  return ScanRows(n, [&](uint32_t r) {
    if (f.before || f.after) {
      const Micros v = range_key(r);
      if (v == kNullMicros) return false;
      if (f.before && v > *f.before) return false;
      if (f.after && v < *f.after) return false;
    }
    if (f.is_null && (null_col[r] == kNullMicros) != *f.is_null) return false;
    return true;
  });
}

// Rows of `rows` with pred(r): the row-by-row check of a predicate on a
// (small) candidate set, reading the column instead of an index.
template <typename P>
Bitmap FilterRows(const Bitmap& rows, P pred) {
  if (rows.isEmpty()) return Bitmap();
  const uint32_t max_row = rows.maximum();
  if (rows.cardinality() * 64 > max_row) {  // dense: a flat bitset, no add per row
    BitmapBuilder builder(max_row + 1);
    ForEachRow(rows, [&](uint32_t r) {
      if (pred(r)) builder.Set(r);
    });
    return builder.Build();
  }
  std::vector<uint32_t> keep;
  ForEachRow(rows, [&](uint32_t r) {
    if (pred(r)) keep.push_back(r);
  });
  return FromSortedRows(keep);
}

// The same, for a predicate that reads one place per row, addr_of(r): the
// rows are spread over a column larger than the caches, so the reads are
// prefetched some rows ahead to overlap their misses.
template <typename P, typename A>
Bitmap FilterRows(const Bitmap& rows, P pred, A addr_of) {
  constexpr uint32_t kAhead = 16;
  if (rows.isEmpty()) return Bitmap();
  const uint32_t max_row = rows.maximum();
  const bool dense = rows.cardinality() * 64 > max_row;
  std::vector<uint32_t> keep;
  BitmapBuilder builder(dense ? max_row + 1 : 0);
  ForEachRowBatch(rows, [&](const uint32_t* batch, uint32_t got) {
    for (uint32_t i = 0; i < got && i < kAhead; ++i) __builtin_prefetch(addr_of(batch[i]));
    for (uint32_t i = 0; i < got; ++i) {
      if (i + kAhead < got) __builtin_prefetch(addr_of(batch[i + kAhead]));
      if (pred(batch[i])) {
        if (dense) {
          builder.Set(batch[i]);
        } else {
          keep.push_back(batch[i]);
        }
      }
    }
  });
  return dense ? builder.Build() : FromSortedRows(keep);
}

// A before_/after_ range on a task-run time column (inclusive bounds,
// kNullMicros never matches), with the sorted order over the column when
// there is one (its positions found by binary search).
struct RangeLeaf {
  std::span<const Micros> col;  // a column of the Store, as the next two
  const SortedOrder* order;  // nullptr or not covering the column: no order
  std::span<const Uuid> ids;
  int64_t lo;
  int64_t hi;
  const char* what;
  // Positions of the range in `order` (by binary search) when it has one.
  size_t first = 0;
  size_t last = 0;
  bool has_positions = false;

  bool Contains(uint32_t r) const {
    const Micros v = col[r];
    return v != kNullMicros && v >= lo && v <= hi;
  }
  // Rows in the range, exact when the order gives it, else the column size.
  uint64_t Estimate() const { return has_positions ? last - first : col.size(); }
};

class UuidSet {
 public:
  explicit UuidSet(const std::vector<Uuid>& ids) : sorted_(ids) {
    std::sort(sorted_.begin(), sorted_.end());
  }
  bool Has(const Uuid& u) const { return std::binary_search(sorted_.begin(), sorted_.end(), u); }
  bool empty() const { return sorted_.empty(); }

 private:
  std::vector<Uuid> sorted_;
};

CodeMask MakeCodeMask(std::vector<uint32_t> list, uint32_t dict_size);

CodeMask CodesOf(const Dictionary& dict, const std::vector<std::string>& values);

// The codes of every one of `values` (sorted, unique) into *codes; false if
// some value is not in the dictionary (a tags.all_ that matches nothing).
bool AllCodesOf(const Dictionary& dict, const std::vector<std::string>& values,
                std::vector<uint32_t>* codes);

CodeMask LikeCodes(const ExecContext& ctx, const Dictionary& dict, std::string_view like,
                   const TrigramIndex* trigrams, const FoldedNames* folded);

// Rows whose code is in `mask`: from `postings` when their union is cheaper
// than a scan of `codes` (null: always the scan).
Bitmap RowsWithCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                    const PostingIndex* postings);
Bitmap RowsWithCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                    const CodeRows* postings);

// Rows whose code is non-NULL and not in `mask`.
Bitmap RowsWithOtherCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                         const PostingIndex* postings);

Bitmap RowsOfIds(const std::vector<Uuid>& ids, const absl::flat_hash_map<Uuid, RowId>& by_id);

// *FilterId: any_ (even []) and a non-empty not_any_. Ids are never NULL, so
// not_any_ subtracts from all rows.
Pred EvalId(const IdFilter& f, const absl::flat_hash_map<Uuid, RowId>& by_id, uint32_t n);

// *FilterName: any_ (exact, even []), like_ (non-empty).
Pred EvalName(const ExecContext& ctx, const NameFilter& f, const Dictionary& dict, std::span<const uint32_t> codes,
              const PostingIndex* postings, const TrigramIndex* trigrams, const FoldedNames* folded);

// *FilterTags: all_ (non-empty), any_ (even []), is_null_ (empty array).
Pred EvalTags(const ExecContext& ctx, const TagsFilter& f, const Dictionary& dict, const CodeLists& tags, uint32_t n,
              const PostingIndex* postings, const Bitmap* has_tags);

// String column filters on a dictionary-coded, nullable column.
Pred EvalStringsOnCodes(const ExecContext& ctx, const StringsFilter& f, const Dictionary& dict,
                        std::span<const uint32_t> codes);

// String column filters on a nullable BlobColumn.
Pred EvalStringsOnBlob(const StringsFilter& f, const BlobColumn& col);

Pred EvalTime(const TimeFilter& f, std::span<const Micros> col);

RangeLeaf MakeRangeLeaf(const TimeFilter& f, std::span<const Micros> col,
                        const SortedOrder* order, std::span<const Uuid> ids, const char* what);

// The rows of a range leaf: the sorted range of its order when the range is
// small, else a column scan.
Bitmap MaterializeRange(const ExecContext& ctx, const RangeLeaf& leaf);

// A task-run time column with its presence bitmap and, optionally, a sorted
// order over it: before_/after_ become a binary-searched range of the order
// when the range is small, is_null_ the presence bitmap. With `defer`, the
// range is appended there instead (for ApplyRangeLeaves).
Pred EvalTimeIndexed(const ExecContext& ctx, const TimeFilter& f, std::span<const Micros> col, const Bitmap& present,
                     const SortedOrder* order, std::span<const Uuid> ids, const char* what,
                     std::vector<RangeLeaf>* defer);

Bitmap RowsWithRefIn(std::span<const std::optional<Uuid>> col, const std::vector<Uuid>& ids);

Bitmap RowsWithRefNull(std::span<const std::optional<Uuid>> col, bool want_null);

// Nullable UUID reference column: any_ (even []), is_null_.
Pred EvalUuidRef(const UuidRefFilter& f, std::span<const std::optional<Uuid>> col);

// The state nodes (paginate.md 4.1): a child contributes only when it has
// exactly one criterion; zero or two criteria drop it.
Pred EvalState(const ExecContext& ctx, const StateFilter& f, std::span<const uint8_t> types, const Dictionary& names,
               std::span<const uint32_t> name_codes, const PostingIndex* type_postings,
               const PostingIndex* name_postings);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_LEAF_EVAL_H_
