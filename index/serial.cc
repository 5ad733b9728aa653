// index/serial.cc

#include "index/serial.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace taskdex {
namespace {
constexpr char kZeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};
size_t Padding(size_t n) { return (8 - n % 8) % 8; }
}  // namespace

void SerialWriter::Append(const char* data, size_t n) {
  if (n >= kBufferBytes) {
    Flush();
    sink_->Write(data, n);
    written_ += n;
    return;
  }
  buffer_.append(data, n);
  if (buffer_.size() >= kBufferBytes) Flush();
}

void SerialWriter::Flush() {
  if (buffer_.empty()) return;
  sink_->Write(buffer_.data(), buffer_.size());
  written_ += buffer_.size();
  buffer_.clear();
}

void SerialWriter::PutBytes(const void* data, size_t n, uint64_t count) {
  Put(count);
  if (n != 0) Append(static_cast<const char*>(data), n);
  Append(kZeros, Padding(n));
}

void SerialWriter::PutBitmap(const Bitmap& b) {
  const size_t n = roaring_bitmap_portable_size_in_bytes(&b.roaring);
  Put(static_cast<uint64_t>(n));
  const size_t padded = n + Padding(n);
  if (padded < kBufferBytes) {  // serialized in place, no copy
    const size_t at = buffer_.size();
    buffer_.resize(at + padded, '\0');
    roaring_bitmap_portable_serialize(&b.roaring, buffer_.data() + at);
    if (buffer_.size() >= kBufferBytes) Flush();
    return;
  }
  std::string bytes(padded, '\0');
  roaring_bitmap_portable_serialize(&b.roaring, bytes.data());
  Append(bytes.data(), bytes.size());
}

void SerialWriter::PutBitmaps(const std::vector<Bitmap>& v) {
  Put(static_cast<uint64_t>(v.size()));
  for (const Bitmap& b : v) PutBitmap(b);
}

const char* SerialReader::Take(size_t n) {
  if (!ok()) return nullptr;
  if (bytes_.size() - pos_ < n) {
    Fail(absl::StrCat("truncated at byte ", pos_, " (", n, " more bytes wanted, ",
                      bytes_.size() - pos_, " left)"));
    return nullptr;
  }
  const char* p = bytes_.data() + pos_;
  pos_ += n;
  return p;
}

const char* SerialReader::TakeArray(uint64_t count, size_t size) {
  if (!ok()) return nullptr;
  if (count > std::numeric_limits<uint64_t>::max() / size ||
      count * size > bytes_.size() - pos_) {
    Fail(absl::StrCat("array of ", count, " elements of ", size, " bytes at byte ", pos_,
                      " overruns the section (", bytes_.size() - pos_, " bytes left)"));
    return nullptr;
  }
  const size_t n = static_cast<size_t>(count * size);
  const char* p = Take(n);
  if (p != nullptr) Take(std::min(Padding(n), bytes_.size() - pos_));
  return p;
}

std::string_view SerialReader::GetStringView() {
  const uint64_t n = Get<uint64_t>();
  const char* p = TakeArray(n, 1);
  return p == nullptr ? std::string_view() : std::string_view(p, n);
}

Bitmap SerialReader::GetBitmap() {
  const uint64_t n = Get<uint64_t>();
  const char* p = TakeArray(n, 1);
  if (p == nullptr) return Bitmap();
  roaring_bitmap_t* r = roaring_bitmap_portable_deserialize_safe(p, n);
  if (r == nullptr) {
    Fail(absl::StrCat("bad bitmap of ", n, " bytes before byte ", pos_));
    return Bitmap();
  }
  Bitmap b(r);
  if (roaring_bitmap_portable_size_in_bytes(&b.roaring) != n) {
    Fail(absl::StrCat("bitmap before byte ", pos_, " is not ", n, " bytes long"));
    return Bitmap();
  }
  return b;
}

std::vector<Bitmap> SerialReader::GetBitmaps() {
  std::vector<Bitmap> v;
  const uint64_t n = Get<uint64_t>();
  // Each bitmap takes at least 8 bytes: bound the count before reserving.
  if (n > (bytes_.size() - pos_) / 8) {
    Fail(absl::StrCat(n, " bitmaps at byte ", pos_, " overrun the section"));
    return v;
  }
  v.reserve(n);
  for (uint64_t i = 0; i < n && ok(); ++i) v.push_back(GetBitmap());
  return v;
}

void SerialReader::Fail(std::string message) {
  if (ok()) error_ = std::move(message);
}

void SharedBytes::Load(SerialReader& r) {
  const std::string_view bytes = r.GetStringView();
  owned_.clear();
  mapped_ = {};
  backing_ = r.ShareBacking();
  if (backing_ != nullptr) {
    mapped_ = bytes;
  } else {
    owned_.assign(bytes);
  }
}

}  // namespace taskdex
