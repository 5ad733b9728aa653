// engine/like_cache.h
//
// Results of `like_` per (dictionary, pattern) (DESIGN.md "Planner and
// executor"): the matching codes, and for the task-run name column also the
// matching rows once a query materialized them. A UI polls the same search
// again and again; a repeat then skips the dictionary scan (and the codes ->
// rows step). Entries never go stale: a Store's dictionaries are frozen, and
// the cache lives and dies with its Store (a live store gives each version's
// dictionaries their own cache).
//
// Bounded by entries and bytes (kMaxEntries, kMaxBytes); when full, the
// oldest entry is dropped (FIFO: cheap, and a hot search re-enters at once).
//
// Thread safety: all methods may be called concurrently (one mutex, held
// only to look up or insert a shared_ptr, never during a scan).

#ifndef TASKDEX_ENGINE_LIKE_CACHE_H_
#define TASKDEX_ENGINE_LIKE_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "index/bitmap.h"

namespace taskdex {

// The codes of one dictionary that match one pattern.
// A few codes are a sorted list; many also a bitset over the dictionary
// (when it is no larger than the list), so that a test is one bit.
struct CodeSet {
  std::vector<uint32_t> list;   // ascending
  std::vector<uint64_t> bits;   // empty, or bit c set iff c is in list
  bool Has(uint32_t code) const {
    if (bits.empty()) return std::binary_search(list.begin(), list.end(), code);
    const size_t w = code >> 6;
    return w < bits.size() && ((bits[w] >> (code & 63)) & 1) != 0;
  }
  size_t MemoryBytes() const { return list.capacity() * 4 + bits.capacity() * 8; }
};

class LikeCache {
 public:
  static constexpr size_t kMaxEntries = 4096;
  static constexpr size_t kMaxBytes = size_t{256} << 20;

  // `column` names the dictionary (any stable pointer of the Store).
  std::shared_ptr<const CodeSet> FindCodes(const void* column, std::string_view pattern) const;
  void PutCodes(const void* column, std::string_view pattern, std::shared_ptr<const CodeSet> codes);

  // Rows of a table whose code column matches, when a query stored them.
  std::shared_ptr<const Bitmap> FindRows(const void* column, std::string_view pattern) const;
  void PutRows(const void* column, std::string_view pattern, std::shared_ptr<const Bitmap> rows);

  size_t entries() const;
  size_t bytes() const;

 private:
  using Key = std::pair<const void*, std::string>;
  struct Entry {
    std::shared_ptr<const CodeSet> codes;
    std::shared_ptr<const Bitmap> rows;
    size_t bytes = 0;
  };
  void EvictLocked();

  mutable std::mutex mu_;
  absl::flat_hash_map<Key, Entry> map_;
  std::deque<Key> order_;  // insertion order, for eviction
  size_t bytes_ = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_LIKE_CACHE_H_
