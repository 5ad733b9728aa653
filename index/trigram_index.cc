// index/trigram_index.cc

#include "index/trigram_index.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace taskdex {
namespace {

inline char Fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

std::vector<uint32_t> TrigramIndex::Trigrams(std::string_view folded) {
  std::vector<uint32_t> out;
  if (folded.size() < 3) return out;
  out.reserve(folded.size() - 2);
  for (size_t i = 0; i + 3 <= folded.size(); ++i) {
    out.push_back((uint32_t{static_cast<uint8_t>(folded[i])} << 16) |
                  (uint32_t{static_cast<uint8_t>(folded[i + 1])} << 8) |
                  uint32_t{static_cast<uint8_t>(folded[i + 2])});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void TrigramIndex::Add(uint32_t code, std::string_view s) {
  std::string folded(s);
  for (char& c : folded) c = Fold(c);
  for (uint32_t t : Trigrams(folded)) postings_[t].add(code);
}

void TrigramIndex::Remove(uint32_t code, std::string_view s) {
  std::string folded(s);
  for (char& c : folded) c = Fold(c);
  for (uint32_t t : Trigrams(folded)) {
    auto it = postings_.find(t);
    if (it == postings_.end()) continue;
    it->second.remove(code);
    if (it->second.isEmpty()) postings_.erase(it);
  }
}

std::vector<std::string> TrigramIndex::LiteralRuns(std::string_view p) {
  std::vector<std::string> runs;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) runs.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      // An escaped byte is a literal; a trailing backslash escapes the
      // closing '%' the caller adds, which is a literal too, but ending the
      // run there is always safe.
      if (i + 1 < p.size()) {
        cur.push_back(Fold(p[++i]));
      } else {
        flush();
      }
    } else if (c == '%' || c == '_') {
      flush();
    } else {
      cur.push_back(Fold(c));
    }
  }
  flush();
  return runs;
}

std::optional<Bitmap> TrigramIndex::Candidates(std::string_view like_pattern) const {
  std::vector<uint32_t> grams;
  for (const std::string& run : LiteralRuns(like_pattern)) {
    for (uint32_t t : Trigrams(run)) grams.push_back(t);
  }
  if (grams.empty()) return std::nullopt;
  std::sort(grams.begin(), grams.end());
  grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
  std::vector<const Bitmap*> parts;
  for (uint32_t t : grams) {
    auto it = postings_.find(t);
    if (it == postings_.end()) return Bitmap();
    parts.push_back(&it->second);
  }
  std::sort(parts.begin(), parts.end(),
            [](const Bitmap* a, const Bitmap* b) { return a->cardinality() < b->cardinality(); });
  Bitmap result = *parts[0];
  for (size_t i = 1; i < parts.size() && !result.isEmpty(); ++i) result &= *parts[i];
  return result;
}

void TrigramIndex::Optimize() {
  for (auto& [t, b] : postings_) {
    b.runOptimize();
    b.shrinkToFit();
  }
}

size_t TrigramIndex::MemoryBytes() const {
  size_t total = postings_.capacity() * (sizeof(uint32_t) + sizeof(Bitmap) + 1);
  for (const auto& [t, b] : postings_) total += b.getSizeInBytes(false);
  return total;
}

void TrigramIndex::Save(SerialWriter& w) const {
  w.Put(static_cast<uint64_t>(postings_.size()));
  for (const auto& [t, b] : postings_) {
    w.Put(t);
    w.PutBitmap(b);
  }
}

void TrigramIndex::Load(SerialReader& r) {
  postings_.clear();
  const uint64_t n = r.Get<uint64_t>();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const uint32_t t = r.Get<uint32_t>();
    Bitmap b = r.GetBitmap();
    if (r.ok() && !postings_.emplace(t, std::move(b)).second) r.Fail("a trigram is repeated");
  }
}

}  // namespace taskdex
