// index/bitmap_builder.cc

#include "index/bitmap_builder.h"

#include <bit>
#include <cstring>
#include <string>

namespace taskdex {
namespace {

constexpr uint32_t kCookieNoRunContainer = 12346;
constexpr size_t kChunkWords = 1024;       // 65,536 rows
constexpr uint32_t kMaxArrayCardinality = 4096;

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian on every target we build
  out->append(b, sizeof(T));
}

}  // namespace

Bitmap BitmapBuilder::Build() const {
  static_assert(std::endian::native == std::endian::little);
  const size_t chunks = (words_.size() + kChunkWords - 1) / kChunkWords;
  std::vector<uint32_t> keys;
  std::vector<uint32_t> cards;
  for (size_t c = 0; c < chunks; ++c) {
    const size_t begin = c * kChunkWords;
    const size_t end = std::min(words_.size(), begin + kChunkWords);
    uint32_t card = 0;
    for (size_t i = begin; i < end; ++i) card += static_cast<uint32_t>(std::popcount(words_[i]));
    if (card == 0) continue;
    keys.push_back(static_cast<uint32_t>(c));
    cards.push_back(card);
  }
  if (keys.empty()) return Bitmap();
  const size_t k = keys.size();
  std::string buf;
  size_t data_bytes = 0;
  for (uint32_t card : cards) data_bytes += card > kMaxArrayCardinality ? 8192 : 2 * card;
  buf.reserve(8 + 8 * k + data_bytes);
  Put<uint32_t>(&buf, kCookieNoRunContainer);
  Put<uint32_t>(&buf, static_cast<uint32_t>(k));
  for (size_t i = 0; i < k; ++i) {
    Put<uint16_t>(&buf, static_cast<uint16_t>(keys[i]));
    Put<uint16_t>(&buf, static_cast<uint16_t>(cards[i] - 1));
  }
  uint32_t offset = static_cast<uint32_t>(8 + 8 * k);
  for (size_t i = 0; i < k; ++i) {
    Put<uint32_t>(&buf, offset);
    offset += cards[i] > kMaxArrayCardinality ? 8192 : 2 * cards[i];
  }
  for (size_t i = 0; i < k; ++i) {
    const size_t begin = keys[i] * kChunkWords;
    const size_t end = std::min(words_.size(), begin + kChunkWords);
    if (cards[i] > kMaxArrayCardinality) {
      buf.append(reinterpret_cast<const char*>(words_.data() + begin), (end - begin) * 8);
      buf.append((kChunkWords - (end - begin)) * 8, '\0');
    } else {
      for (size_t w = begin; w < end; ++w) {
        uint64_t bits = words_[w];
        while (bits != 0) {
          const uint32_t bit = static_cast<uint32_t>(std::countr_zero(bits));
          Put<uint16_t>(&buf, static_cast<uint16_t>(((w - begin) << 6) + bit));
          bits &= bits - 1;
        }
      }
    }
  }
  return Bitmap::readSafe(buf.data(), buf.size());
}

}  // namespace taskdex
