// index/bitmap.h
//
// The one place that includes CRoaring's C++ header. Debian 12 ships CRoaring
// 0.2.66, whose class is the global ::Roaring; current CRoaring names it
// roaring::Roaring. Everything in taskdex says taskdex::Bitmap, so an upgrade
// changes this alias only.
//
// Thread safety: a const Bitmap may be read from many threads. Copy-on-write
// stays off (Debian's shared-container count is not atomic).

#ifndef TASKDEX_INDEX_BITMAP_H_
#define TASKDEX_INDEX_BITMAP_H_

#include <cstdint>
#include <vector>

#include <roaring/roaring.hh>

namespace taskdex {

using Bitmap = ::Roaring;

// Dense row id of one entity table.
using RowId = uint32_t;
inline constexpr RowId kNoRow = UINT32_MAX;

// A bitmap holding rows [0, n).
inline Bitmap AllRows(uint32_t n) {
  Bitmap b;
  if (n > 0) b.addRange(0, n);
  return b;
}

// A bitmap of `rows`, which must be ascending.
inline Bitmap FromSortedRows(const std::vector<uint32_t>& rows) {
  Bitmap b;
  if (!rows.empty()) b.addMany(rows.size(), rows.data());
  return b;
}

// Calls f(batch, n) with the rows of `b` in ascending order, up to 256 at a
// time (CRoaring's bulk iterator: no call per row).
template <typename F>
void ForEachRowBatch(const Bitmap& b, F f) {
  roaring_uint32_iterator_t it;
  roaring_init_iterator(&b.roaring, &it);
  uint32_t buf[256];
  while (true) {
    const uint32_t got = roaring_read_uint32_iterator(&it, buf, 256);
    if (got > 0) f(buf, got);
    if (got < 256) break;
  }
}

// Calls f(row) for the rows of `b` in ascending order.
template <typename F>
void ForEachRow(const Bitmap& b, F f) {
  ForEachRowBatch(b, [&f](const uint32_t* rows, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) f(rows[i]);
  });
}

}  // namespace taskdex

#endif  // TASKDEX_INDEX_BITMAP_H_
