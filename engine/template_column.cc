#include "engine/template_column.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace taskdex {
namespace {

bool Usable(std::string_view h) {
  if (h.empty()) return false;
  for (char c : h) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

void AppendLiteral(std::string_view s, std::string* out) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x20) {
      out->append(s.data() + run, i - run);
      out->push_back(kTemplateEscape);
      out->push_back(s[i]);
      run = i + 1;
    }
  }
  out->append(s.data() + run, s.size() - run);
}

// Templates `text` (no forced hole) into `out`.
void TemplateRange(std::string_view text, std::span<const std::string_view> holes,
                   const std::vector<uint8_t>& usable, std::string* out) {
  // Candidate first bytes; with a single one (a quote, in practice) memchr
  // skips between candidates.
  bool first[256] = {};
  int distinct_first = 0;
  unsigned char only_first = 0;
  for (size_t k = 0; k < holes.size(); ++k) {
    if (!usable[k]) continue;
    unsigned char c = static_cast<unsigned char>(holes[k][0]);
    if (!first[c]) {
      first[c] = true;
      ++distinct_first;
      only_first = c;
    }
  }
  if (distinct_first == 0) {
    AppendLiteral(text, out);
    return;
  }
  size_t literal_begin = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    if (distinct_first == 1) {
      const void* hit = std::memchr(text.data() + i, only_first, n - i);
      if (hit == nullptr) break;
      i = static_cast<const char*>(hit) - text.data();
    } else if (!first[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    int matched = -1;
    for (size_t k = 0; k < holes.size(); ++k) {
      if (!usable[k]) continue;
      std::string_view h = holes[k];
      // The second byte first: holes share their first (a quote), and a
      // memcmp call per hole at every quote of the text was 9% of a merge.
      if (h.size() <= n - i && text[i] == h[0] && (h.size() < 2 || text[i + 1] == h[1]) &&
          std::memcmp(text.data() + i, h.data(), h.size()) == 0) {
        matched = static_cast<int>(k);
        break;
      }
    }
    if (matched < 0) {
      ++i;
      continue;
    }
    AppendLiteral(text.substr(literal_begin, i - literal_begin), out);
    out->push_back(static_cast<char>(matched + 1));
    i += holes[matched].size();
    literal_begin = i;
  }
  AppendLiteral(text.substr(literal_begin), out);
}

}  // namespace

std::string MakeTemplate(std::string_view text, std::span<const std::string_view> holes,
                         ForcedHole forced) {
  assert(holes.size() <= static_cast<size_t>(kMaxTemplateHoles));
  std::vector<uint8_t> usable(holes.size());
  for (size_t k = 0; k < holes.size(); ++k) usable[k] = Usable(holes[k]) ? 1 : 0;
  std::string out;
  out.reserve(text.size());
  if (forced.offset < 0) {
    TemplateRange(text, holes, usable, &out);
    return out;
  }
  const size_t off = static_cast<size_t>(forced.offset);
  TemplateRange(text.substr(0, off), holes, usable, &out);
  out.push_back(static_cast<char>(forced.hole));
  TemplateRange(text.substr(off + forced.size), holes, usable, &out);
  return out;
}

std::string FillTemplate(std::string_view templ, std::span<const std::string_view> holes) {
  std::string out;
  for (size_t i = 0; i < templ.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(templ[i]);
    if (c == static_cast<unsigned char>(kTemplateEscape) && i + 1 < templ.size()) {
      out.push_back(templ[++i]);
    } else if (c >= 1 && c <= kMaxTemplateHoles) {
      if (c <= holes.size()) out.append(holes[c - 1]);
    } else {
      out.push_back(templ[i]);
    }
  }
  return out;
}

uint32_t TemplateColumn::Intern(std::string&& templ) {
  auto it = index_.find(templ);
  if (it != index_.end()) return it->second;
  const uint32_t code = static_cast<uint32_t>(templates_.size());
  index_.emplace(templ, code);
  templates_.push_back(std::move(templ));
  return code;
}

void TemplateColumn::Set(RowId row, std::string_view text, std::span<const std::string_view> holes,
                         ForcedHole forced) {
  const uint32_t code = Intern(MakeTemplate(text, holes, forced));
  std::vector<uint32_t>& codes = codes_.owned();
  if (row == codes.size()) {
    codes.push_back(code);
  } else {
    codes[row] = code;
  }
}

void TemplateColumn::SetTemplate(RowId row, std::string templ) {
  SetCode(row, Intern(std::move(templ)));
}

void TemplateColumn::SetCode(RowId row, uint32_t code) {
  std::vector<uint32_t>& codes = codes_.owned();
  if (row == codes.size()) {
    codes.push_back(code);
  } else {
    codes[row] = code;
  }
}

void TemplateColumn::Freeze() {
  // Keep only used templates, numbered by first use.
  std::vector<uint32_t> remap(templates_.size(), UINT32_MAX);
  std::vector<std::string> used;
  for (uint32_t& c : codes_.owned()) {
    if (remap[c] == UINT32_MAX) {
      remap[c] = static_cast<uint32_t>(used.size());
      used.push_back(std::move(templates_[c]));
    }
    c = remap[c];
  }
  templates_ = std::move(used);
  templates_.shrink_to_fit();
  index_ = {};
  codes_.owned().shrink_to_fit();

  std::string& lit = literals_.owned();
  lit.clear();
  segments_.clear();
  first_segment_.assign(1, 0);
  literal_bytes_.clear();
  for (const std::string& t : templates_) {
    Segment seg{static_cast<uint32_t>(lit.size()), 0, 0};
    for (size_t i = 0; i < t.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(t[i]);
      if (c == static_cast<unsigned char>(kTemplateEscape) && i + 1 < t.size()) {
        lit.push_back(t[++i]);
      } else if (c >= 1 && c <= kMaxTemplateHoles) {
        seg.size = static_cast<uint32_t>(lit.size()) - seg.begin;
        seg.hole = c;
        segments_.push_back(seg);
        seg = Segment{static_cast<uint32_t>(lit.size()), 0, 0};
      } else {
        lit.push_back(t[i]);
      }
    }
    seg.size = static_cast<uint32_t>(lit.size()) - seg.begin;
    if (seg.size > 0 || segments_.size() == first_segment_.back()) segments_.push_back(seg);
    first_segment_.push_back(static_cast<uint32_t>(segments_.size()));
    literal_bytes_.push_back(static_cast<uint32_t>(lit.size()) -
                             segments_[first_segment_[first_segment_.size() - 2]].begin);
  }
  lit.shrink_to_fit();
  segments_.shrink_to_fit();
  templates_ = {};
}

size_t TemplateColumn::MemoryBytes() const {
  size_t n = codes_.MemoryBytes() + templates_.capacity() * sizeof(std::string) +
             literals_.MemoryBytes() + segments_.capacity() * sizeof(Segment) +
             first_segment_.capacity() * sizeof(uint32_t) +
             literal_bytes_.capacity() * sizeof(uint32_t);
  for (const std::string& t : templates_) n += t.capacity() > 15 ? t.capacity() : 0;
  n += index_.capacity() * (sizeof(std::pair<std::string, uint32_t>) + 1);
  for (const auto& [t, c] : index_) n += t.capacity() > 15 ? t.capacity() : 0;
  return n;
}

void TemplateColumn::Save(SerialWriter& w) const {
  codes_.Save(w);
  w.PutString(literals_.view());
  w.PutArray(segments_);
  w.PutArray(first_segment_);
  w.PutArray(literal_bytes_);
}

void TemplateColumn::Load(SerialReader& r) {
  templates_.clear();
  index_.clear();
  codes_.Load(r);
  literals_.Load(r);
  const std::string_view lits = literals_.view();
  segments_ = r.GetArray<Segment>();
  first_segment_ = r.GetArray<uint32_t>();
  literal_bytes_ = r.GetArray<uint32_t>();
  if (!r.ok()) return;
  const size_t templates = first_segment_.empty() ? 0 : first_segment_.size() - 1;
  bool good = !first_segment_.empty() && first_segment_.front() == 0 &&
              first_segment_.back() == segments_.size() && literal_bytes_.size() == templates;
  for (size_t c = 1; good && c < first_segment_.size(); ++c) {
    good = first_segment_[c] >= first_segment_[c - 1];
  }
  for (size_t i = 0; good && i < segments_.size(); ++i) {
    good = uint64_t{segments_[i].begin} + segments_[i].size <= lits.size() &&
           segments_[i].hole <= kMaxTemplateHoles;
  }
  for (size_t i = 0; good && i < codes_.size(); ++i) good = codes_[i] < templates;
  if (!good) r.Fail("template column: a code, segment or literal range is out of bounds");
}

}  // namespace taskdex
