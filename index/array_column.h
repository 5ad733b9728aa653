// index/array_column.h
//
// ArrayColumn<T>: an array of trivially copyable T that is either its own
// (built, merged, or copied at load) or served in place from a
// SerialReader's backing (a mapped binary snapshot), which it then shares.
// SharedBytes (index/serial.h) is the same idea for one string of bytes.
//
// Why: a 10M-task-run snapshot holds ~1.3 GB in `TaskRunTable::hot` alone.
// Copying it out of the mapping costs a first touch of every anonymous page
// it lands on, and on a virtual machine whose host backs guest memory
// lazily that touch is the dominant cost of a load (bench/RESULTS.md,
// session 15: ~1.4-3 s per GB of fresh anonymous memory, against ~0.2 s for
// 6.4 GB of page-cache pages that are already resident). Served in place,
// the column costs nothing at load and its pages are the page cache's,
// shared with every other process that maps the same file.
//
// Reading: size(), data(), operator[], begin()/end(), span() as a const
// std::vector. Writing goes through owned(), which first copies a view
// into owned memory (copy on write), so a column loaded from a snapshot may
// still be rebuilt in place by a writer; readers of the store never write.
//
// Load keeps a view only when the reader has a backing and the array's
// elements are aligned for T in it (engine/internal/segment_file.h places
// sections so that an array opening a section is 128-aligned); otherwise it
// copies, so any input loads.
//
// Thread safety: as a std::vector (const methods from many threads).

#ifndef TASKDEX_INDEX_ARRAY_COLUMN_H_
#define TASKDEX_INDEX_ARRAY_COLUMN_H_

#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "index/serial.h"

namespace taskdex {

template <typename T>
class ArrayColumn {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  using value_type = T;

  ArrayColumn() = default;
  explicit ArrayColumn(std::vector<T> v) : owned_(std::move(v)) {}

  size_t size() const { return is_view() ? view_.size() : owned_.size(); }
  bool empty() const { return size() == 0; }
  const T* data() const { return is_view() ? view_.data() : owned_.data(); }
  const T& operator[](size_t i) const { return data()[i]; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  const T& front() const { return data()[0]; }
  const T& back() const { return data()[size() - 1]; }
  std::span<const T> span() const { return {data(), size()}; }
  // For functions that read a column, a std::vector or an ArrayColumn.
  operator std::span<const T>() const { return span(); }

  // True when the elements are served from a backing (a mapped file).
  bool is_view() const { return backing_ != nullptr; }

  // The column as a vector to write to; a view is copied first.
  std::vector<T>& owned() {
    if (is_view()) {
      owned_.assign(view_.begin(), view_.end());
      view_ = {};
      backing_.reset();
    }
    return owned_;
  }

  void ShrinkToFit() {
    if (!is_view()) owned_.shrink_to_fit();
  }

  // Heap bytes, and the mapped bytes served in place.
  size_t MemoryBytes() const {
    return is_view() ? view_.size_bytes() : owned_.capacity() * sizeof(T);
  }

  void Save(SerialWriter& w) const { w.PutArray(span()); }
  void Load(SerialReader& r) {
    owned_.clear();
    view_ = {};
    backing_.reset();
    uint64_t n = 0;
    const char* p = r.GetArrayBytes(sizeof(T), &n);
    if (p == nullptr || n == 0) return;
    if (r.has_backing() && reinterpret_cast<uintptr_t>(p) % alignof(T) == 0) {
      // The mapping holds objects of implicit-lifetime type T there
      // (C++20 [intro.object]), as SerialReader::GetArray relies on.
      view_ = std::span<const T>(reinterpret_cast<const T*>(p), n);
      backing_ = r.ShareBacking();
      return;
    }
    owned_ = SerialReader::CopyArray<T>(p, n);
  }

 private:
  std::vector<T> owned_;
  std::span<const T> view_;  // when backing_ is set
  std::shared_ptr<const void> backing_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_ARRAY_COLUMN_H_
