// index/row_mask.cc: see row_mask.h.

#include "index/row_mask.h"

#include <algorithm>
#include <cstring>

namespace taskdex {

void RowMask::ClearChunk(uint32_t chunk) {
  std::memset(&words_[size_t{chunk} * kWordsPerChunk], 0, kWordsPerChunk * sizeof(uint64_t));
}

void RowMask::Assign(const Bitmap& rows) {
  for (uint32_t chunk : dirty_) ClearChunk(chunk);
  dirty_.clear();
  const roaring_array_t& ra = rows.roaring.high_low_container;
  if (ra.size == 0) return;
  const size_t chunks = size_t{ra.keys[ra.size - 1]} + 1;
  if (words_.size() < chunks * kWordsPerChunk) words_.resize(chunks * kWordsPerChunk, 0);
  for (int32_t i = 0; i < ra.size; ++i) {
    const uint32_t chunk = ra.keys[i];
    uint64_t* out = &words_[size_t{chunk} * kWordsPerChunk];
    dirty_.push_back(chunk);
    const void* container = ra.containers[i];
    uint8_t type = ra.typecodes[i];
    if (type == SHARED_CONTAINER_TYPE_CODE) {
      const auto* shared = static_cast<const shared_container_t*>(container);
      type = shared->typecode;
      container = shared->container;
    }
    switch (type) {
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* b = static_cast<const bitset_container_t*>(container);
        std::memcpy(out, b->array, kWordsPerChunk * sizeof(uint64_t));
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* a = static_cast<const array_container_t*>(container);
        for (int32_t j = 0; j < a->cardinality; ++j) {
          const uint16_t v = a->array[j];
          out[v >> 6] |= uint64_t{1} << (v & 63);
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* r = static_cast<const run_container_t*>(container);
        for (int32_t j = 0; j < r->n_runs; ++j) {
          // Bits [start, end] of the chunk.
          const uint32_t start = r->runs[j].value;
          const uint32_t end = start + r->runs[j].length;
          const uint32_t first_word = start >> 6, last_word = end >> 6;
          const uint64_t first_mask = ~uint64_t{0} << (start & 63);
          const uint64_t last_mask = ~uint64_t{0} >> (63 - (end & 63));
          if (first_word == last_word) {
            out[first_word] |= first_mask & last_mask;
          } else {
            out[first_word] |= first_mask;
            std::fill(out + first_word + 1, out + last_word, ~uint64_t{0});
            out[last_word] |= last_mask;
          }
        }
        break;
      }
      default: {
        // Not a known container: fall back to the values.
        ClearChunk(chunk);
        const uint32_t base = chunk << 16;
        const uint32_t last = base | 0xFFFF;
        Bitmap part;
        part.addRange(base, uint64_t{last} + 1);
        part &= rows;
        for (uint32_t v : part) out[(v & 0xFFFF) >> 6] |= uint64_t{1} << (v & 63);
        break;
      }
    }
  }
}

}  // namespace taskdex
