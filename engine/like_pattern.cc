// engine/like_pattern.cc

#include "engine/like_pattern.h"

#include <algorithm>
#include <cstring>

#include "engine/store.h"

namespace taskdex {
namespace {

// Length in bytes of the UTF-8 code point that starts at text[pos], clamped
// to the text. A stray continuation or invalid lead byte counts as one.
size_t CodePointLen(std::string_view text, size_t pos) {
  const uint8_t c = static_cast<uint8_t>(text[pos]);
  size_t n = 1;
  if (c >= 0xF0 && c < 0xF8) {
    n = 4;
  } else if (c >= 0xE0) {
    n = c < 0xF0 ? 3 : 1;
  } else if (c >= 0xC0) {
    n = 2;
  }
  return std::min(n, text.size() - pos);
}

}  // namespace

LikePattern::LikePattern(std::string_view s) {
  // `'%' + s + '%'` compiled to tokens that each consume one code point
  // (literal, `_`) or any run of them (`%`).
  std::string p;
  p.reserve(s.size() + 2);
  p.push_back('%');
  p.append(s);
  p.push_back('%');
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      // Escape: the next code point is a literal, even `%` or `_` (and so
      // a trailing backslash of `s` consumes the closing `%`).
      const size_t len = CodePointLen(p, i + 1);
      AddLiteral(std::string_view(p).substr(i + 1, len));
      i += 1 + len;
    } else if (c == '%') {
      if (tokens_.empty() || tokens_.back().kind != Kind::kAnySeq) {
        tokens_.push_back(Token{Kind::kAnySeq, {}});
      }
      ++i;
    } else if (c == '_') {
      tokens_.push_back(Token{Kind::kOneChar, {}});
      ++i;
    } else {
      const size_t len = CodePointLen(p, i);
      AddLiteral(std::string_view(p).substr(i, len));
      i += len;
    }
  }
  // %L%: a leading and a trailing run, literals between.
  if (tokens_.size() >= 2 && tokens_.front().kind == Kind::kAnySeq &&
      tokens_.back().kind == Kind::kAnySeq) {
    std::string lit;
    bool plain = true;
    for (size_t k = 1; k + 1 < tokens_.size(); ++k) {
      if (tokens_[k].kind != Kind::kLiteral) {
        plain = false;
        break;
      }
      lit += tokens_[k].literal;
    }
    if (plain) single_literal_ = std::move(lit);
  }
  std::string run;
  for (const Token& t : tokens_) {
    if (t.kind == Kind::kLiteral) {
      run += t.literal;
    } else {
      if (run.size() > longest_literal_.size()) longest_literal_ = run;
      run.clear();
    }
  }
  if (run.size() > longest_literal_.size()) longest_literal_ = run;
}

bool LikePattern::Matches(std::string_view text) const {
  const size_t n = tokens_.size();
  constexpr size_t kNone = SIZE_MAX;
  size_t t = 0;  // byte position in text, always at a code point boundary
  size_t k = 0;  // token index
  size_t star_k = kNone;
  size_t star_t = 0;
  while (t < text.size()) {
    if (k < n && tokens_[k].kind == Kind::kAnySeq) {
      star_k = k++;
      star_t = t;
      continue;
    }
    if (k < n) {
      size_t advance = 0;
      if (UnitMatches(tokens_[k], text, t, &advance)) {
        t += advance;
        ++k;
        continue;
      }
    }
    if (star_k == kNone) return false;
    // Let the last `%` swallow one more code point and retry after it.
    star_t += CodePointLen(text, star_t);
    t = star_t;
    k = star_k + 1;
  }
  while (k < n && tokens_[k].kind == Kind::kAnySeq) ++k;
  return k == n;
}

void LikePattern::AddLiteral(std::string_view cp) {
  Token tok{Kind::kLiteral, std::string(cp)};
  for (char& ch : tok.literal) ch = FoldAscii(ch);
  tokens_.push_back(std::move(tok));
}

bool LikePattern::UnitMatches(const Token& tok, std::string_view text, size_t t, size_t* advance) {
  if (tok.kind == Kind::kOneChar) {
    *advance = CodePointLen(text, t);
    return true;
  }
  const std::string& lit = tok.literal;
  if (text.size() - t < lit.size()) return false;
  for (size_t j = 0; j < lit.size(); ++j) {
    if (FoldAscii(text[t + j]) != lit[j]) return false;
  }
  *advance = lit.size();
  return true;
}

bool LikeMatches(std::string_view text, std::string_view pattern) {
  return LikePattern(pattern).Matches(text);
}

void FoldedNames::Build(const Dictionary& dict) {
  const uint32_t n = dict.size();
  size_t total = 0;
  for (uint32_t c = 0; c < n; ++c) total += dict.Get(c).size() + 1;
  bytes_.clear();
  bytes_.reserve(total);
  starts_.clear();
  starts_.reserve(static_cast<size_t>(n) + 1);
  has_nul_ = false;
  for (uint32_t c = 0; c < n; ++c) {
    starts_.push_back(bytes_.size());
    for (char ch : dict.Get(c)) {
      if (ch == '\0') has_nul_ = true;
      bytes_.push_back(FoldAscii(ch));
    }
    bytes_.push_back('\0');
  }
  starts_.push_back(bytes_.size());
}

void FoldedNames::Save(SerialWriter& w) const {
  w.PutString(bytes_);
  w.PutArray(starts_);
  w.Put(static_cast<uint8_t>(has_nul_));
}

void FoldedNames::Load(SerialReader& r) {
  bytes_ = r.GetString();
  starts_ = r.GetArray<uint64_t>();
  has_nul_ = r.Get<uint8_t>() != 0;
  if (!r.ok() || starts_.empty()) return;
  // Entry(c) reads [starts_[c], starts_[c+1] - 1) and Match relies on each
  // entry's closing NUL.
  bool good = starts_.front() == 0 && starts_.back() == bytes_.size();
  for (size_t c = 1; good && c < starts_.size(); ++c) {
    good = starts_[c] > starts_[c - 1] && bytes_[starts_[c] - 1] == '\0';
  }
  if (!good) r.Fail("folded names: offsets are not ascending entries each ending in NUL");
}

template <typename F>
void FoldedNames::ForEachHolding(const std::string& lit, F f) const {
  // Every entry ends with a NUL and the literal holds none, so a hit never
  // spans two entries. After a hit the search resumes at the next entry.
  const char* base = bytes_.data();
  const char* end = base + bytes_.size();
  const char* pos = base;
  const size_t len = lit.size();
  const char first = lit[0];
  uint32_t code = 0;
  while (pos < end) {
    const char* hit;
    if (len == 1) {
      hit = static_cast<const char*>(std::memchr(pos, first, static_cast<size_t>(end - pos)));
    } else {
      hit = static_cast<const char*>(
          memmem(pos, static_cast<size_t>(end - pos), lit.data(), len));
    }
    if (hit == nullptr) break;
    const uint64_t off = static_cast<uint64_t>(hit - base);
    // The entry holding `off`: the last start <= off, at or after `code`.
    const auto it = std::upper_bound(starts_.begin() + code, starts_.end(), off);
    const uint32_t c = static_cast<uint32_t>(it - starts_.begin()) - 1;
    f(c);
    code = c + 1;
    pos = base + starts_[code];
  }
}

std::vector<uint32_t> FoldedNames::Match(const LikePattern& pattern) const {
  std::vector<uint32_t> out;
  const uint32_t n = size();
  const std::optional<std::string>& lit = pattern.single_literal();
  if (lit && lit->empty()) {  // `%` alone, or `%%`: every string
    out.resize(n);
    for (uint32_t c = 0; c < n; ++c) out[c] = c;
    return out;
  }
  auto searchable = [this](const std::string& s) {
    return !s.empty() && !has_nul_ && s.find('\0') == std::string::npos;
  };
  if (lit && searchable(*lit)) {
    ForEachHolding(*lit, [&](uint32_t c) { out.push_back(c); });
    return out;
  }
  const std::string& run = pattern.longest_literal();
  if (searchable(run)) {
    // Only the entries holding the longest literal run can match.
    ForEachHolding(run, [&](uint32_t c) {
      if (pattern.Matches(Entry(c))) out.push_back(c);
    });
    return out;
  }
  for (uint32_t c = 0; c < n; ++c) {
    if (pattern.Matches(Entry(c))) out.push_back(c);
  }
  return out;
}

}  // namespace taskdex
