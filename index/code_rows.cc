// index/code_rows.cc

#include "index/code_rows.h"

#include <algorithm>

namespace taskdex {

void CodeRows::Build(std::span<const uint32_t> codes, uint32_t skip) {
  uint32_t num_codes = 0;
  for (uint32_t c : codes) {
    if (c != skip && c >= num_codes) num_codes = c + 1;
  }
  offsets_.assign(static_cast<size_t>(num_codes) + 1, 0);
  for (uint32_t c : codes) {
    if (c != skip) ++offsets_[static_cast<size_t>(c) + 1];
  }
  for (size_t c = 1; c < offsets_.size(); ++c) offsets_[c] += offsets_[c - 1];
  rows_.resize(offsets_.back());
  // offsets_[c] serves as code c's write cursor, then is restored.
  std::vector<uint32_t> next(offsets_.begin(), offsets_.end() - 1);
  for (uint32_t r = 0; r < codes.size(); ++r) {
    if (codes[r] != skip) rows_[next[codes[r]]++] = r;
  }
  if (num_codes == 0) offsets_.clear();
}

std::span<const uint32_t> CodeRows::Rows(uint32_t code) const {
  if (code >= num_codes()) return {};
  return std::span<const uint32_t>(rows_).subspan(offsets_[code],
                                                  offsets_[code + 1] - offsets_[code]);
}

uint64_t CodeRows::SumCardinality(std::span<const uint32_t> codes) const {
  uint64_t total = 0;
  for (uint32_t c : codes) total += Cardinality(c);
  return total;
}

Bitmap CodeRows::Union(std::span<const uint32_t> codes) const {
  if (codes.size() == 1) {
    const std::span<const uint32_t> rows = Rows(codes.front());
    Bitmap b;
    if (!rows.empty()) b.addMany(rows.size(), rows.data());
    return b;
  }
  std::vector<uint32_t> rows;
  rows.reserve(SumCardinality(codes));
  for (uint32_t c : codes) {
    const std::span<const uint32_t> of = Rows(c);
    rows.insert(rows.end(), of.begin(), of.end());
  }
  std::sort(rows.begin(), rows.end());
  return FromSortedRows(rows);  // addMany takes repeated rows once
}

void CodeRows::Save(SerialWriter& w) const {
  w.PutArray(offsets_);
  w.PutArray(rows_);
}

void CodeRows::Load(SerialReader& r) {
  offsets_ = r.GetArray<uint32_t>();
  rows_ = r.GetArray<uint32_t>();
  if (!r.ok()) return;
  if (offsets_.empty() ? !rows_.empty()
                       : offsets_.front() != 0 || offsets_.back() != rows_.size() ||
                             !std::is_sorted(offsets_.begin(), offsets_.end())) {
    r.Fail("code rows: offsets disagree with the rows");
  }
}

bool CodeRows::RowsBelow(uint32_t n) const {
  for (uint32_t c = 0; c < num_codes(); ++c) {
    for (uint32_t i = offsets_[c]; i < offsets_[c + 1]; ++i) {
      if (rows_[i] >= n || (i > offsets_[c] && rows_[i] <= rows_[i - 1])) return false;
    }
  }
  return true;
}

}  // namespace taskdex
