// index/posting_index.cc

#include "index/posting_index.h"

#include <vector>

namespace taskdex {

void PostingIndex::Add(RowId row, uint32_t code) {
  if (code >= postings_.size()) postings_.resize(static_cast<size_t>(code) + 1);
  postings_[code].add(row);
}

void PostingIndex::Remove(RowId row, uint32_t code) {
  if (code < postings_.size()) postings_[code].remove(row);
}

const Bitmap& PostingIndex::Get(uint32_t code) const {
  static const Bitmap* const kEmpty = new Bitmap();
  return code < postings_.size() ? postings_[code] : *kEmpty;
}

Bitmap PostingIndex::Union(std::span<const uint32_t> codes) const {
  std::vector<const Bitmap*> parts;
  parts.reserve(codes.size());
  for (uint32_t c : codes) {
    if (c < postings_.size() && !postings_[c].isEmpty()) parts.push_back(&postings_[c]);
  }
  return UnionOf(parts);
}

Bitmap UnionOf(std::span<const Bitmap* const> parts) {
  if (parts.empty()) return Bitmap();
  if (parts.size() == 1) return *parts[0];
  // CRoaring's many-way union first ORs into bitset containers and then
  // converts them back: for a few sparse parts that costs about ten times
  // more than plain pairwise unions (0.2.66, 1M rows, two ~10k postings:
  // ~40 us against ~4 us).
  if (parts.size() <= kPairwiseUnionMax) {
    Bitmap out = *parts[0] | *parts[1];
    for (size_t i = 2; i < parts.size(); ++i) out |= *parts[i];
    return out;
  }
  return Bitmap::fastunion(parts.size(), const_cast<const Bitmap**>(parts.data()));
}

uint64_t PostingIndex::SumCardinality(std::span<const uint32_t> codes) const {
  uint64_t total = 0;
  for (uint32_t c : codes) total += Cardinality(c);
  return total;
}

void PostingIndex::Optimize() {
  for (Bitmap& b : postings_) {
    b.runOptimize();
    b.shrinkToFit();
  }
}

size_t PostingIndex::MemoryBytes() const {
  size_t total = postings_.capacity() * sizeof(Bitmap);
  for (const Bitmap& b : postings_) total += b.getSizeInBytes(false);
  return total;
}

}  // namespace taskdex
