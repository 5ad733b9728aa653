// index/serial.h
//
// The byte encoding of taskdex's binary snapshot sections
// (engine/store_codec.h): a SerialWriter writes values to a ByteSink, a
// SerialReader takes them back from a span of bytes (a mapped file).
//
// Encoding, little-endian as the machine is (a snapshot is refused on a
// big-endian host by the file header, engine/binary_snapshot.cc):
//   - a fixed-size value: its bytes;
//   - an array of trivially copyable T: u64 count, then count * sizeof(T)
//     bytes, then zero bytes to a multiple of 8;
//   - a string: as an array of char;
//   - a Bitmap: u64 size, then CRoaring's portable serialization (the
//     format CRoaring documents as stable across versions and platforms).
//
// Reading never goes past the span: a read that would sets an error
// ("truncated at byte N", "array of N elements of M bytes overruns ...")
// and returns zero values from then on, so a decoder may read on and check
// ok() once at the end. GetArray copies out of the span; a column that may
// be served from it instead is an ArrayColumn (index/array_column.h: view
// or owned, copy on write), and a class that hides its bytes keeps a view
// when the reader has a backing (SharedBytes below; Dictionary in
// engine/store.h).
//
// Thread safety: none; one writer or reader per object.

#ifndef TASKDEX_INDEX_SERIAL_H_
#define TASKDEX_INDEX_SERIAL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "index/bitmap.h"

namespace taskdex {

// Where a SerialWriter's bytes go (a file with its checksum, a string).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Write(const char* data, size_t n) = 0;
};

class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void Write(const char* data, size_t n) override { out_->append(data, n); }

 private:
  std::string* out_;
};

// Buffers small values and passes large arrays straight to the sink, so a
// section of any size is written with a bounded buffer. Flush() (or the
// destructor) hands over what is buffered.
class SerialWriter {
 public:
  explicit SerialWriter(ByteSink* sink) : sink_(sink) {}
  ~SerialWriter() { Flush(); }
  SerialWriter(const SerialWriter&) = delete;
  SerialWriter& operator=(const SerialWriter&) = delete;

  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutBytes(const void* data, size_t n, uint64_t count);
  template <typename T>
  void PutArray(std::span<const T> v) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(v.data(), v.size() * sizeof(T), v.size());
  }
  template <typename T>
  void PutArray(const std::vector<T>& v) {
    PutArray(std::span<const T>(v));
  }
  void PutString(std::string_view s) { PutBytes(s.data(), s.size(), s.size()); }
  void PutBitmap(const Bitmap& b);
  void PutBitmaps(const std::vector<Bitmap>& v);

  void Flush();
  // Bytes put so far.
  uint64_t size() const { return written_ + buffer_.size(); }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  void Append(const char* data, size_t n);

  ByteSink* sink_;
  std::string buffer_;
  uint64_t written_ = 0;
};

class SerialReader {
 public:
  explicit SerialReader(std::span<const char> bytes) : bytes_(bytes) {}
  // `backing` owns `bytes` (a mapped file): a decoder may keep views into
  // them, sharing `backing`, instead of copying (BlobColumn).
  SerialReader(std::span<const char> bytes, std::shared_ptr<const void> backing)
      : bytes_(bytes), backing_(std::move(backing)) {}
  // The backing, for a decoder that keeps views into the bytes; null when
  // the bytes are only valid while the reader is used. Marks it shared.
  std::shared_ptr<const void> ShareBacking() {
    shared_ = shared_ || backing_ != nullptr;
    return backing_;
  }
  // True once ShareBacking handed out a backing.
  bool backing_shared() const { return shared_; }
  bool has_backing() const { return backing_ != nullptr; }

  template <typename T>
  T Get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    if (const char* p = Take(sizeof(T))) std::memcpy(&v, p, sizeof(T));
    return v;
  }
  template <typename T>
  std::vector<T> GetArray() {
    uint64_t n = 0;
    const char* p = GetArrayBytes(sizeof(T), &n);
    return CopyArray<T>(p, n);
  }
  // `n` elements of T that lie at `p` (as GetArrayBytes found them), copied.
  template <typename T>
  static std::vector<T> CopyArray(const char* p, uint64_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> v;
    if (p == nullptr || n == 0) return v;
    if (reinterpret_cast<uintptr_t>(p) % alignof(T) == 0) {
      // One pass: resize() would first zero every element (and fault in
      // every page) that the copy then overwrites. The bytes are a mapped
      // file's or a buffer's, whose objects of implicit-lifetime type T
      // exist there (C++20 [intro.object]).
      const T* first = reinterpret_cast<const T*>(p);
      v.assign(first, first + n);
      return v;
    }
    v.resize(n);  // an over-aligned T (TaskRunHot) at an 8-aligned offset
    std::memcpy(static_cast<void*>(v.data()), p, n * sizeof(T));
    return v;
  }
  // The elements of an array of `size`-byte elements (as GetArray reads
  // it) in the span, not copied; *count gets their number. Null when the
  // array is empty or the input bad.
  const char* GetArrayBytes(size_t size, uint64_t* count) {
    *count = Get<uint64_t>();
    const char* p = TakeArray(*count, size);
    if (p == nullptr) *count = 0;
    return p;
  }
  // The bytes of a string, as a view into the span (no copy).
  std::string_view GetStringView();
  std::string GetString() { return std::string(GetStringView()); }
  Bitmap GetBitmap();
  std::vector<Bitmap> GetBitmaps();

  // Marks the input bad (a decoder's own check, e.g. sizes that disagree).
  void Fail(std::string message);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  size_t position() const { return pos_; }

 private:
  const char* Take(size_t n);
  // count * size bytes (then padding); null on overflow or overrun.
  const char* TakeArray(uint64_t count, size_t size);

  std::span<const char> bytes_;
  std::shared_ptr<const void> backing_;
  bool shared_ = false;
  size_t pos_ = 0;
  std::string error_;
};

// Bytes that are their owner's own (built, or copied at load) or a view
// into a SerialReader's backing (a mapped file), which they then share: the
// one place that decides "view or copy" for the classes that hide their
// bytes (BlobColumn, TemplateColumn); ArrayColumn (index/array_column.h) is
// the same for arrays. Thread-compatible.
class SharedBytes {
 public:
  std::string_view view() const {
    return backing_ != nullptr ? mapped_ : std::string_view(owned_);
  }
  // The owned bytes, for a builder; a view is copied first (copy on write,
  // as ArrayColumn::owned).
  std::string& owned() {
    if (backing_ != nullptr) {
      owned_.assign(mapped_);
      mapped_ = {};
      backing_.reset();
    }
    return owned_;
  }
  // Reads a string (as SerialReader::GetStringView): kept as a view when
  // `r` has a backing, copied otherwise.
  void Load(SerialReader& r);
  // Heap bytes, and the mapped bytes served in place.
  size_t MemoryBytes() const { return owned_.capacity() + mapped_.size(); }
  void ShrinkToFit() { owned_.shrink_to_fit(); }

 private:
  std::string owned_;
  std::string_view mapped_;  // when backing_ is set
  std::shared_ptr<const void> backing_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_SERIAL_H_
