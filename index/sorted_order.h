// index/sorted_order.h
//
// SortedOrder: the rows of a table ordered by (int64 key, tie-break), with
// NULL keys placed first or last and the key ascending or descending. The
// tie-break is the caller's (a strict total order on rows, e.g. by unique
// id), so the order is total. Knows nothing of Prefect.
//
// Keys are read through a `Keys` object passed to each call, so the order
// stores only row ids (4 bytes a row). `Keys` provides:
//   int64_t Key(RowId r) const;          // ignored when IsNull(r)
//   bool IsNull(RowId r) const;
//   bool TieBefore(RowId a, RowId b) const;  // strict total order
//
// Lookups: Range() finds the contiguous positions whose non-NULL key lies in
// [lo, hi] by binary search; Position() finds a row. Insert/Erase keep the
// order without a rebuild (binary search plus one memmove: O(n) bytes moved,
// fine for trickles of live updates; a delta buffer can replace it later
// without changing the interface).
//
// Thread safety: const methods may be called from many threads; mutation
// needs exclusive access.

#ifndef TASKDEX_INDEX_SORTED_ORDER_H_
#define TASKDEX_INDEX_SORTED_ORDER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "index/bitmap.h"

namespace taskdex {

class SortedOrder {
 public:
  struct Options {
    bool descending = false;  // key order
    bool nulls_first = false;
  };

  SortedOrder() = default;
  explicit SortedOrder(Options options) : options_(options) {}

  const Options& options() const { return options_; }

  // Orders rows [0, n).
  template <typename Keys>
  void Build(uint32_t n, const Keys& keys) {
    rows_.resize(n);
    for (uint32_t r = 0; r < n; ++r) rows_[r] = r;
    std::sort(rows_.begin(), rows_.end(), Less<Keys>{this, &keys});
    rows_.shrink_to_fit();
  }

  // Inserts a row not yet in the order; `keys` must know its values.
  template <typename Keys>
  void Insert(RowId row, const Keys& keys) {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), row, Less<Keys>{this, &keys});
    rows_.insert(it, row);
  }

  // Erases `row`; `keys` must still report its values as when inserted.
  // Returns false if the row is not in the order.
  template <typename Keys>
  bool Erase(RowId row, const Keys& keys) {
    const size_t pos = Position(row, keys);
    if (pos == rows_.size()) return false;
    rows_.erase(rows_.begin() + static_cast<ptrdiff_t>(pos));
    return true;
  }

  // Position of `row`, or size() if absent.
  template <typename Keys>
  size_t Position(RowId row, const Keys& keys) const {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), row, Less<Keys>{this, &keys});
    if (it == rows_.end() || *it != row) return rows_.size();
    return static_cast<size_t>(it - rows_.begin());
  }

  // Positions [first, second) of the rows with a non-NULL key in [lo, hi].
  template <typename Keys>
  std::pair<size_t, size_t> Range(int64_t lo, int64_t hi, const Keys& keys) const {
    if (lo > hi) return {0, 0};
    const bool desc = options_.descending;
    const bool nulls_first = options_.nulls_first;
    auto before = [&](RowId r) {
      if (keys.IsNull(r)) return nulls_first;
      const int64_t k = keys.Key(r);
      return desc ? k > hi : k < lo;
    };
    auto in_or_before = [&](RowId r) {
      if (keys.IsNull(r)) return nulls_first;
      const int64_t k = keys.Key(r);
      return desc ? k >= lo : k <= hi;
    };
    const size_t first =
        static_cast<size_t>(std::partition_point(rows_.begin(), rows_.end(), before) - rows_.begin());
    const size_t last = static_cast<size_t>(
        std::partition_point(rows_.begin() + static_cast<ptrdiff_t>(first), rows_.end(),
                             in_or_before) -
        rows_.begin());
    return {first, last};
  }

  // The rows at positions [first, last) as a Bitmap.
  Bitmap RowsAt(size_t first, size_t last) const {
    std::vector<RowId> rows(rows_.begin() + static_cast<ptrdiff_t>(first),
                            rows_.begin() + static_cast<ptrdiff_t>(last));
    std::sort(rows.begin(), rows.end());
    Bitmap b;
    if (!rows.empty()) b.addMany(rows.size(), rows.data());
    return b;
  }

  std::span<const RowId> rows() const { return rows_; }
  size_t size() const { return rows_.size(); }
  RowId operator[](size_t i) const { return rows_[i]; }
  size_t MemoryBytes() const { return rows_.capacity() * sizeof(RowId); }

 private:
  template <typename Keys>
  struct Less {
    const SortedOrder* self;
    const Keys* keys;
    bool operator()(RowId a, RowId b) const {
      const bool na = keys->IsNull(a);
      const bool nb = keys->IsNull(b);
      if (na != nb) return self->options_.nulls_first ? na : nb;
      if (!na) {
        const int64_t ka = keys->Key(a);
        const int64_t kb = keys->Key(b);
        if (ka != kb) return self->options_.descending ? ka > kb : ka < kb;
      }
      return keys->TieBefore(a, b);
    }
  };

  Options options_;
  std::vector<RowId> rows_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_SORTED_ORDER_H_
