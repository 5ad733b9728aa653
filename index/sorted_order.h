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
// Layout: a main array (sorted at Build or the last compaction), a small
// sorted delta of inserted rows, each with its insertion point in the main
// array, and a bitmap of deleted main positions. Reads merge the three
// (positions count live rows only); Insert/Erase cost O(log n + delta), and
// the delta and deletions are folded into the main array (O(n)) once they
// exceed max(kMinCompact, size / 64). With no pending change, reads are a
// plain array access.
//
// Lookups: Range() finds the contiguous positions whose non-NULL key lies in
// [lo, hi] by binary search; Position() finds a row; At() / operator[] the
// row at a position; ForEach() walks positions in order (ForEachBackward()
// in reverse); NthNotIn() and
// ForEachNotIn() do the same over the positions outside a caller's bitmap
// of positions (a segment's tombstones, engine/tombstones.h).
//
// Updates: Erase(row) with the row's old keys, then Insert(row) with the new
// ones. A deleted main row's keys may change afterwards: the main array's
// binary searches skip deleted positions.
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
#include "index/bitmap_builder.h"
#include "index/serial.h"

namespace taskdex {

class SortedOrder {
 public:
  struct Options {
    bool descending = false;  // key order
    bool nulls_first = false;
  };
  static constexpr size_t kMinCompact = 1024;

  SortedOrder() = default;
  explicit SortedOrder(Options options) : options_(options) {}

  const Options& options() const { return options_; }

  // Orders rows [0, n), dropping any pending change.
  template <typename Keys>
  void Build(uint32_t n, const Keys& keys) {
    main_.resize(n);
    for (uint32_t r = 0; r < n; ++r) main_[r] = r;
    std::sort(main_.begin(), main_.end(), Less<Keys>{this, &keys});
    main_.shrink_to_fit();
    delta_.clear();
    deleted_ = Bitmap();
  }

  // Inserts a row not yet in the order; `keys` must know its values.
  template <typename Keys>
  void Insert(RowId row, const Keys& keys) {
    const Less<Keys> less{this, &keys};
    const size_t main_pos = MainLowerBound(row, less);
    auto it = std::lower_bound(delta_.begin(), delta_.end(), row,
                               [&](const DeltaEntry& e, RowId r) { return less(e.row, r); });
    delta_.insert(it, DeltaEntry{static_cast<uint32_t>(main_pos), row});
    MaybeCompact();
  }

  // Erases `row`; `keys` must still report its values as when inserted.
  // Returns false if the row is not in the order.
  template <typename Keys>
  bool Erase(RowId row, const Keys& keys) {
    const Less<Keys> less{this, &keys};
    auto it = DeltaFind(row, less);
    if (it != delta_.end()) {
      delta_.erase(it);
      return true;
    }
    const size_t pos = MainFind(row, less);
    if (pos == main_.size()) return false;
    deleted_.add(static_cast<uint32_t>(pos));
    MaybeCompact();
    return true;
  }

  // Position of `row`, or size() if absent.
  template <typename Keys>
  size_t Position(RowId row, const Keys& keys) const {
    const Less<Keys> less{this, &keys};
    auto it = DeltaFind(row, less);
    if (it != delta_.end()) {
      const size_t j = static_cast<size_t>(it - delta_.begin());
      return LiveBefore(j) + j;
    }
    const size_t pos = MainFind(row, less);
    if (pos == main_.size()) return size();
    const size_t live_rank = pos - DeletedBefore(pos);
    return live_rank + DeltaUpTo(live_rank);
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
    const size_t first = PartitionPoint(0, before);
    const size_t last = PartitionPoint(first, in_or_before);
    return {first, last};
  }

  // The rows at positions [first, last) as a Bitmap. The rows come in key
  // order, not row order: a few are sorted and added; many are set in a
  // flat bitset (BitmapBuilder), which costs no sort.
  Bitmap RowsAt(size_t first, size_t last) const {
    std::vector<RowId> rows;
    rows.reserve(last > first ? last - first : 0);
    RowId max_row = 0;
    ForEach(first, last, [&](RowId r) {
      rows.push_back(r);
      max_row = std::max(max_row, r);
      return true;
    });
    if (rows.empty()) return Bitmap();
    if (rows.size() * 64 < static_cast<size_t>(max_row)) {
      std::sort(rows.begin(), rows.end());
      Bitmap b;
      b.addMany(rows.size(), rows.data());
      return b;
    }
    BitmapBuilder builder(max_row + 1);
    for (RowId r : rows) builder.Set(r);
    return builder.Build();
  }

  // Calls f(row) for positions first, first+1, ... < last in order while f
  // returns true. Returns the position after the last row visited.
  template <typename F>
  size_t ForEach(size_t first, size_t last, F f) const {
    last = std::min(last, size());
    if (first >= last) return first;
    if (clean()) {
      for (size_t i = first; i < last; ++i) {
        if (!f(main_[i])) return i + 1;
      }
      return last;
    }
    // Locate position `first`: delta entries before it, then main.
    size_t j = FirstDeltaAtOrAfter(first);  // delta_[j] is the next delta entry
    size_t live = first - j;                // live main rows before `first`
    size_t m = live < LiveMainSize() ? SelectLive(live) : main_.size();
    for (size_t i = first; i < last; ++i) {
      RowId r;
      if (j < delta_.size() && LiveBefore(j) <= live) {
        r = delta_[j++].row;
      } else {
        r = main_[m];
        ++live;
        ++m;
        while (m < main_.size() && deleted_.contains(static_cast<uint32_t>(m))) ++m;
      }
      if (!f(r)) return i + 1;
    }
    return last;
  }

  // Calls f(row) for positions last-1, last-2, ... >= first while f returns
  // true (deep pages walked from the far end). Returns the lowest position
  // visited, or `first`. A plain array walk when nothing is pending; with
  // pending changes each step is an At() (O(log n)), so callers prefer it
  // only when pending() == 0.
  template <typename F>
  size_t ForEachBackward(size_t first, size_t last, F f) const {
    last = std::min(last, size());
    for (size_t i = last; i > first; --i) {
      if (!f(clean() ? main_[i - 1] : At(i - 1))) return i - 1;
    }
    return first;
  }

  // Positions outside a caller's set: `skip` holds positions < size() (e.g.
  // where a segment's tombstoned rows sit, engine/tombstones.h). The
  // position of the `rank`-th position not in `skip` (0-based), or size()
  // when there are not that many: a binary search on skip's rank, O(log n)
  // rank calls.
  size_t NthNotIn(size_t rank, const Bitmap& skip) const {
    const size_t n = size();
    if (skip.isEmpty()) return std::min(rank, n);
    if (rank >= n - std::min<size_t>(n, skip.cardinality())) return n;
    return NthOutside(rank, n, skip);
  }

  // ForEach over the positions in [first, last) not in `skip`: the skipped
  // positions are stepped over by an iterator of `skip`, with no lookup
  // per position. Returns the position after the last row visited.
  template <typename F>
  size_t ForEachNotIn(size_t first, size_t last, const Bitmap& skip, F f) const {
    last = std::min(last, size());
    if (skip.isEmpty()) return ForEach(first, last, f);
    roaring_uint32_iterator_t it;
    roaring_init_iterator(&skip.roaring, &it);
    bool more = roaring_move_uint32_iterator_equalorlarger(&it, static_cast<uint32_t>(first));
    size_t p = first;
    while (p < last) {
      const size_t next_skip = more ? std::min<size_t>(it.current_value, last) : last;
      if (p < next_skip) {
        bool go_on = true;
        const size_t end = ForEach(p, next_skip, [&](RowId r) { return go_on = f(r); });
        if (!go_on) return end;
        p = next_skip;
      }
      if (p < last) {  // p is in skip
        ++p;
        more = roaring_advance_uint32_iterator(&it);
      }
    }
    return last;
  }

  // The row at position i < size().
  RowId At(size_t i) const {
    if (clean()) return main_[i];
    const size_t j = FirstDeltaAtOrAfter(i);
    if (j < delta_.size() && LiveBefore(j) + j == i) return delta_[j].row;
    return main_[SelectLive(i - j)];
  }
  RowId operator[](size_t i) const { return At(i); }

  // Every row in order (a copy).
  std::vector<RowId> Rows() const {
    std::vector<RowId> out;
    out.reserve(size());
    ForEach(0, size(), [&](RowId r) {
      out.push_back(r);
      return true;
    });
    return out;
  }

  size_t size() const { return LiveMainSize() + delta_.size(); }
  // Pending inserts and deletions not yet folded into the main array.
  size_t pending() const { return delta_.size() + deleted_.cardinality(); }
  // Folds the pending changes into the main array.
  void Compact() {
    if (clean()) return;
    std::vector<RowId> merged = Rows();
    main_ = std::move(merged);
    delta_.clear();
    deleted_ = Bitmap();
  }
  // The binary snapshot's form (index/serial.h): options, main array,
  // delta and deleted positions, as they are (a pending change included).
  void Save(SerialWriter& w) const {
    w.Put(static_cast<uint8_t>(options_.descending));
    w.Put(static_cast<uint8_t>(options_.nulls_first));
    w.PutArray(main_);
    w.PutArray(delta_);
    w.PutBitmap(deleted_);
  }
  void Load(SerialReader& r) {
    options_.descending = r.Get<uint8_t>() != 0;
    options_.nulls_first = r.Get<uint8_t>() != 0;
    main_ = r.GetArray<RowId>();
    delta_ = r.GetArray<DeltaEntry>();
    deleted_ = r.GetBitmap();
  }
  // True if every row the order holds is below `n` and the deleted
  // positions lie in the main array (a loaded order's check).
  bool RowsBelow(uint32_t n) const {
    for (RowId row : main_) {
      if (row >= n) return false;
    }
    for (const DeltaEntry& e : delta_) {
      if (e.row >= n || e.main_pos > main_.size()) return false;
    }
    return deleted_.isEmpty() || deleted_.maximum() < main_.size();
  }

  size_t MemoryBytes() const {
    return main_.capacity() * sizeof(RowId) + delta_.capacity() * sizeof(DeltaEntry) +
           deleted_.getSizeInBytes(false);
  }

 private:
  struct DeltaEntry {
    uint32_t main_pos;  // live main rows at positions < main_pos sort before `row`,
                        // live main rows at positions >= main_pos after it
    RowId row;
  };

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

  bool clean() const { return delta_.empty() && deleted_.isEmpty(); }
  size_t LiveMainSize() const { return main_.size() - deleted_.cardinality(); }
  // Deleted main positions < pos.
  size_t DeletedBefore(size_t pos) const {
    return pos == 0 || deleted_.isEmpty() ? 0 : deleted_.rank(static_cast<uint32_t>(pos - 1));
  }
  // Live main rows before delta entry j.
  size_t LiveBefore(size_t j) const {
    const size_t p = delta_[j].main_pos;
    return p - DeletedBefore(p);
  }
  // Delta entries placed before the live main row of live rank `live_rank`.
  size_t DeltaUpTo(size_t live_rank) const {
    size_t lo = 0, hi = delta_.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (LiveBefore(mid) <= live_rank) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // Smallest j with LiveBefore(j) + j >= i (delta_.size() if none): the
  // delta entries before merged position i are exactly [0, j).
  size_t FirstDeltaAtOrAfter(size_t i) const {
    size_t lo = 0, hi = delta_.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (LiveBefore(mid) + mid < i) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // Main position of the live row of live rank `live_rank`.
  size_t SelectLive(size_t live_rank) const {
    if (deleted_.isEmpty()) return live_rank;
    return NthOutside(live_rank, main_.size(), deleted_);
  }
  // The `rank`-th (0-based) of [0, n) not in `b`, which must exist: a
  // binary search on b.rank (the count not in b within [0, p] is
  // p + 1 - b.rank(p)).
  static size_t NthOutside(size_t rank, size_t n, const Bitmap& b) {
    size_t lo = rank, hi = n - 1;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (mid + 1 - b.rank(static_cast<uint32_t>(mid)) >= rank + 1) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }
  // First merged position whose row fails `pred` (pred true on a prefix).
  template <typename P>
  size_t PartitionPoint(size_t from, P pred) const {
    if (clean()) {
      return static_cast<size_t>(
          std::partition_point(main_.begin() + static_cast<ptrdiff_t>(from), main_.end(), pred) -
          main_.begin());
    }
    size_t lo = from, hi = size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (pred(At(mid))) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // Smallest main position p such that every live main row at a position
  // >= p is not less than `row` (and every live one before it is less).
  template <typename L>
  size_t MainLowerBound(RowId row, const L& less) const {
    size_t lo = 0, hi = main_.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      size_t m = mid;
      while (m < hi && deleted_.contains(static_cast<uint32_t>(m))) ++m;
      if (m == hi) {
        hi = mid;
      } else if (less(main_[m], row)) {
        lo = m + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // Main position of live `row`, or main_.size().
  template <typename L>
  size_t MainFind(RowId row, const L& less) const {
    size_t p = MainLowerBound(row, less);
    while (p < main_.size() && deleted_.contains(static_cast<uint32_t>(p))) ++p;
    return p < main_.size() && main_[p] == row ? p : main_.size();
  }
  template <typename L>
  typename std::vector<DeltaEntry>::const_iterator DeltaFind(RowId row, const L& less) const {
    auto it = std::lower_bound(delta_.begin(), delta_.end(), row,
                               [&](const DeltaEntry& e, RowId r) { return less(e.row, r); });
    return it != delta_.end() && it->row == row ? it : delta_.end();
  }
  void MaybeCompact() {
    if (pending() > std::max(kMinCompact, main_.size() / 64)) Compact();
  }

  Options options_;
  std::vector<RowId> main_;
  std::vector<DeltaEntry> delta_;  // sorted by the order
  Bitmap deleted_;                 // main positions
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_SORTED_ORDER_H_
