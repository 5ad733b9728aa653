// engine/like_pattern.h
//
// `like_` (paginate.md 4.2): PostgreSQL `col ILIKE '%' || s || '%'` under the
// C locale -- ASCII letters fold, every other byte compares as is, `%` is
// any run of code points, `_` one code point, `\` escapes the next code
// point. LikePattern compiles `s` once; Matches() tests one string.
//
// FoldedNames is a dictionary's strings ASCII-folded into one contiguous
// buffer (each followed by a NUL), so a `like_` over hundreds of thousands
// of names is a scan at memory speed instead of a call per entry: a pattern
// that is one literal run (the common case: "fetch", "a", "Lo") is found
// with memchr/memmem and each hit mapped to its code by binary search; other
// patterns find the entries holding their longest literal run the same way
// and run Matches() on those only (a pattern of wildcards alone runs it on
// every entry). Why not the
// trigram index alone: a pattern under three bytes has no trigram, and a
// common fragment's candidates are most of the dictionary anyway.
//
// Thread safety: both are immutable after construction / Build().

#ifndef TASKDEX_ENGINE_LIKE_PATTERN_H_
#define TASKDEX_ENGINE_LIKE_PATTERN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/serial.h"

namespace taskdex {

class Dictionary;

class LikePattern {
 public:
  explicit LikePattern(std::string_view s);

  // True if `text` matches `'%' + s + '%'`.
  bool Matches(std::string_view text) const;

  // The folded bytes L when the pattern is `%L%` with L free of wildcards
  // (escapes resolved), so that it matches exactly the texts whose folded
  // form contains L. nullopt for patterns with `_` or an inner `%`.
  const std::optional<std::string>& single_literal() const { return single_literal_; }
  // The longest run of consecutive literals (folded, escapes resolved):
  // every matching text's folded form contains it. Empty when the pattern
  // has no literal (`_`, `%_%`).
  const std::string& longest_literal() const { return longest_literal_; }

 private:
  enum class Kind : uint8_t { kAnySeq, kOneChar, kLiteral };
  struct Token {
    Kind kind;
    std::string literal;  // one code point, ASCII-folded
  };
  void AddLiteral(std::string_view cp);
  static bool UnitMatches(const Token& tok, std::string_view text, size_t t, size_t* advance);

  std::vector<Token> tokens_;
  std::optional<std::string> single_literal_;
  std::string longest_literal_;
};

// True if `text` matches `'%' + pattern + '%'` (LikePattern(pattern)).
bool LikeMatches(std::string_view text, std::string_view pattern);

inline char FoldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

class FoldedNames {
 public:
  // Copies and folds every string of `dict`, by code.
  void Build(const Dictionary& dict);

  uint32_t size() const { return starts_.empty() ? 0 : static_cast<uint32_t>(starts_.size() - 1); }
  size_t bytes() const { return bytes_.size(); }
  size_t MemoryBytes() const { return bytes_.capacity() + starts_.capacity() * sizeof(uint64_t); }

  // Codes (ascending) whose string matches `pattern`.
  std::vector<uint32_t> Match(const LikePattern& pattern) const;

  // The binary snapshot's form (index/serial.h); Load checks the offsets.
  void Save(SerialWriter& w) const;
  void Load(SerialReader& r);

 private:
  // Calls f(code) for each entry whose folded string contains `lit` (no
  // NUL in it), ascending, each once.
  template <typename F>
  void ForEachHolding(const std::string& lit, F f) const;
  std::string_view Entry(uint32_t code) const {
    return std::string_view(bytes_).substr(starts_[code], starts_[code + 1] - starts_[code] - 1);
  }
  std::string bytes_;             // entry c at [starts_[c], starts_[c+1] - 1), then a NUL
  std::vector<uint64_t> starts_;  // size() + 1 offsets
  bool has_nul_ = false;          // some string holds a NUL: no memmem path
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_LIKE_PATTERN_H_
