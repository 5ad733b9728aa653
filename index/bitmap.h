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

}  // namespace taskdex

#endif  // TASKDEX_INDEX_BITMAP_H_
