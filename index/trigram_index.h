// index/trigram_index.h
//
// TrigramIndex over the strings of a dictionary: ASCII-folded byte trigram
// -> Bitmap of dictionary codes. Candidates() narrows a `like_` search
// (substring ILIKE: '%' + pattern + '%', `\` escapes, `%`/`_` wildcards) to
// the codes holding every trigram of the pattern's literal runs of >= 3
// bytes; the caller still verifies each candidate. A pattern without such a
// run yields nullopt: scan the whole dictionary. Knows nothing of Prefect.
//
// Thread safety: const methods may be called from many threads; mutation
// needs exclusive access.

#ifndef TASKDEX_INDEX_TRIGRAM_INDEX_H_
#define TASKDEX_INDEX_TRIGRAM_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "index/bitmap.h"
#include "index/serial.h"

namespace taskdex {

class TrigramIndex {
 public:
  // Indexes `s` under `code`.
  void Add(uint32_t code, std::string_view s);
  // Removes `code` (previously added with the same `s`).
  void Remove(uint32_t code, std::string_view s);

  // Codes that may match `'%' + like_pattern + '%'`, or nullopt if the
  // pattern has no literal run of >= 3 bytes.
  std::optional<Bitmap> Candidates(std::string_view like_pattern) const;

  // The literal runs of a like_ pattern (ASCII-folded), split at wildcards.
  // Exposed for tests.
  static std::vector<std::string> LiteralRuns(std::string_view like_pattern);

  void Optimize();
  size_t num_trigrams() const { return postings_.size(); }
  size_t MemoryBytes() const;

  // The binary snapshot's form (index/serial.h): trigram, posting pairs.
  void Save(SerialWriter& w) const;
  void Load(SerialReader& r);
  // True if every posting's codes are below `n` (a loaded index's check).
  bool CodesBelow(uint32_t n) const {
    for (const auto& [t, b] : postings_) {
      if (!b.isEmpty() && b.maximum() >= n) return false;
    }
    return true;
  }

 private:
  static std::vector<uint32_t> Trigrams(std::string_view folded);
  absl::flat_hash_map<uint32_t, Bitmap> postings_;
};

}  // namespace taskdex

#endif  // TASKDEX_INDEX_TRIGRAM_INDEX_H_
