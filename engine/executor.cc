// engine/executor.cc
//
// Filter evaluation (paginate.md 4-5) and page cutting (6-7) over a const
// Store. Every leaf yields a Bitmap of rows of its own table; a level ANDs
// (smallest first, stopping on an empty set) or ORs its children. A node
// whose criteria list is empty is TRUE, represented as "no bitmap" (nullopt)
// so that TRUE never materialises more than once, at the very end. Negations
// subtract from the rows whose column is non-NULL, never from the 2^32
// universe. String leaves go through the frozen dictionaries: a value that is
// not in the dictionary matches nothing, and `like_` runs once per distinct
// dictionary value, then selects rows by code.
//
// Planner choices (each can be forced through ExecOptions so the
// differential test covers it):
//  - leaves: posting unions / sorted ranges / trigram candidates, or column
//    scans, by estimated cardinality;
//  - AND levels: smallest first with early exit; task-run time ranges wait
//    for their siblings and check the smaller candidate set by reading the
//    column when that is cheaper than materializing the range;
//  - joins: flow, deployment and flow-run state sides go through task-run
//    join postings (engine/index_build.cc), smallest side first; a side much
//    larger than the rows found so far probes those rows' flow run instead;
//  - page: a slice of the sort order when every row matches, a walk of the
//    order with membership tests (in a flat bitset of the matches, a
//    RowMask, when the walk is long) when that visits fewer rows than a few
//    times the matches, else a partial sort of the matches with prefetched
//    keys (a walk that meets clustered matches gives up after a budget).
//    Count is the final bitmap's cardinality.

#include "engine/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "index/posting_index.h"
#include "index/row_mask.h"

namespace taskdex {
namespace {

// ---------------------------------------------------------------------------
// Planner context. The options of the running query, per thread, so the leaf
// evaluators below need no extra parameter; set by OptionsScope.

thread_local const ExecOptions* t_options = nullptr;

const ExecOptions& Options() {
  static const ExecOptions kDefault;
  return t_options != nullptr ? *t_options : kDefault;
}

class OptionsScope {
 public:
  explicit OptionsScope(const ExecOptions& o) : saved_(t_options) { t_options = &o; }
  ~OptionsScope() { t_options = saved_; }
  OptionsScope(const OptionsScope&) = delete;
  OptionsScope& operator=(const OptionsScope&) = delete;

 private:
  const ExecOptions* saved_;
};

// Whether a leaf uses its index: forced, or chosen by the caller's estimate.
bool UseIndex(bool index_available, bool index_cheaper) {
  if (!index_available) return false;
  switch (Options().access) {
    case AccessPathChoice::kIndex:
      return true;
    case AccessPathChoice::kScan:
      return false;
    case AccessPathChoice::kAuto:
      break;
  }
  return index_cheaper;
}

using Clock = std::chrono::steady_clock;

// Records one plan step when tracing; call Done() with the result size.
class StepTimer {
 public:
  StepTimer(std::string what, std::string path, int64_t estimate = -1)
      : active_(Options().trace != nullptr) {
    if (!active_) return;
    step_.what = std::move(what);
    step_.path = std::move(path);
    step_.estimate = estimate;
    start_ = Clock::now();
  }
  void Done(uint64_t actual) {
    if (!active_) return;
    step_.actual = actual;
    step_.micros = std::chrono::duration<double, std::micro>(Clock::now() - start_).count();
    Options().trace->push_back(std::move(step_));
    active_ = false;
  }

 private:
  bool active_;
  PlanStep step_;
  Clock::time_point start_;
};

// ---------------------------------------------------------------------------
// LIKE (paginate.md 4.2)

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

inline char FoldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// `'%' + s + '%'` compiled to tokens that each consume one code point
// (literal, `_`) or any run of them (`%`).
class LikePattern {
 public:
  explicit LikePattern(std::string_view s) {
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
  }

  bool Matches(std::string_view text) const {
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

 private:
  enum class Kind : uint8_t { kAnySeq, kOneChar, kLiteral };
  struct Token {
    Kind kind;
    std::string literal;  // one code point, ASCII-folded
  };

  void AddLiteral(std::string_view cp) {
    Token tok{Kind::kLiteral, std::string(cp)};
    for (char& ch : tok.literal) ch = FoldAscii(ch);
    tokens_.push_back(std::move(tok));
  }

  static bool UnitMatches(const Token& tok, std::string_view text, size_t t, size_t* advance) {
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

  std::vector<Token> tokens_;
};

// ---------------------------------------------------------------------------
// Bitmap helpers

// A node's predicate: a set of rows, or nullopt for TRUE (every live row).
using Pred = std::optional<Bitmap>;

Bitmap FromSortedRows(const std::vector<uint32_t>& rows) {
  Bitmap b;
  if (!rows.empty()) b.addMany(rows.size(), rows.data());
  return b;
}

// Rows r in [0, n) with pred(r).
template <typename P>
Bitmap ScanRows(uint32_t n, P pred) {
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < n; ++r) {
    if (pred(r)) rows.push_back(r);
  }
  return FromSortedRows(rows);
}

// Calls f(batch, n) with the rows of `b` in ascending order, up to 256 at a
// time.
template <typename F>
void ForEachRowBatch(const Bitmap& b, F f) {
  roaring_uint32_iterator_t it;
  roaring_init_iterator(&b.roaring, &it);
  uint32_t buf[256];
  while (true) {
    const uint32_t got = roaring_read_uint32_iterator(&it, buf, 256);
    if (got > 0) f(buf, got);
    if (got < 256) break;
  }
}

template <typename F>
void ForEachRow(const Bitmap& b, F f) {
  ForEachRowBatch(b, [&f](const uint32_t* rows, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) f(rows[i]);
  });
}

Bitmap IntersectSmallestFirst(std::vector<Bitmap>& parts) {
  std::sort(parts.begin(), parts.end(), [](const Bitmap& a, const Bitmap& b) {
    return a.cardinality() < b.cardinality();
  });
  Bitmap result = std::move(parts[0]);
  for (size_t i = 1; i < parts.size() && !result.isEmpty(); ++i) result &= parts[i];
  return result;
}

Bitmap UnionAll(const std::vector<Bitmap>& parts) {
  if (parts.size() == 1) return parts[0];
  std::vector<const Bitmap*> ptrs;
  ptrs.reserve(parts.size());
  for (const Bitmap& b : parts) ptrs.push_back(&b);
  return UnionOf(ptrs);
}

// One filter level: collects its criteria and combines them with its
// operator (paginate.md 4.1). Add(nullopt) is a criterion that is TRUE (a
// present but empty sub-filter).
class Level {
 public:
  explicit Level(BoolOp op) : op_(op) {}

  // True once more criteria cannot change the outcome: AND has seen an
  // empty set, OR has seen TRUE. Callers skip evaluating the rest.
  bool done() const { return done_; }

  void Add(Pred p) {
    has_criteria_ = true;
    if (!p.has_value()) {
      if (op_ == BoolOp::kOr) {
        has_true_ = true;
        done_ = true;
      }
      return;
    }
    if (op_ == BoolOp::kAnd && p->isEmpty()) done_ = true;
    parts_.push_back(std::move(*p));
  }
  void Add(Bitmap b) { Add(Pred(std::move(b))); }

  Pred Finish() {
    if (!has_criteria_) return std::nullopt;
    if (op_ == BoolOp::kOr) {
      if (has_true_) return std::nullopt;
      return UnionAll(parts_);
    }
    if (parts_.empty()) return std::nullopt;
    return IntersectSmallestFirst(parts_);
  }

 private:
  BoolOp op_;
  bool has_criteria_ = false;
  bool has_true_ = false;
  bool done_ = false;
  std::vector<Bitmap> parts_;
};

Bitmap Materialize(Pred p, uint32_t n) { return p ? std::move(*p) : AllRows(n); }

// ---------------------------------------------------------------------------
// Leaves shared by several tables

// Dictionary codes selected by a leaf, as a mask indexed by code.
struct CodeMask {
  std::vector<uint8_t> in;
  std::vector<uint32_t> list;  // the selected codes, ascending
  uint32_t count = 0;
  bool Has(uint32_t code) const { return code != kNullCode && code < in.size() && in[code]; }
};

CodeMask CodesOf(const Dictionary& dict, const std::vector<std::string>& values) {
  CodeMask m;
  m.in.assign(dict.size(), 0);
  for (const std::string& v : values) {
    if (std::optional<uint32_t> code = dict.Find(v); code && !m.in[*code]) {
      m.in[*code] = 1;
      m.list.push_back(*code);
      ++m.count;
    }
  }
  std::sort(m.list.begin(), m.list.end());
  return m;
}

// Codes whose string matches `'%' + like + '%'`: one match per distinct
// value. With a trigram index, only its candidates are checked.
CodeMask LikeCodes(const Dictionary& dict, std::string_view like,
                   const TrigramIndex* trigrams = nullptr) {
  const LikePattern pattern(like);
  CodeMask m;
  const uint32_t n = dict.size();
  m.in.assign(n, 0);
  auto check = [&](uint32_t code) {
    if (pattern.Matches(dict.Get(code))) {
      m.in[code] = 1;
      m.list.push_back(code);
      ++m.count;
    }
  };
  std::optional<Bitmap> candidates;
  if (trigrams != nullptr && UseIndex(true, true)) candidates = trigrams->Candidates(like);
  StepTimer step("like_", candidates ? "trigram candidates + verify" : "dictionary scan",
                 candidates ? static_cast<int64_t>(candidates->cardinality()) : int64_t{n});
  if (candidates) {
    ForEachRow(*candidates, [&](uint32_t code) {
      if (code < n) check(code);
    });
  } else {
    for (uint32_t code = 0; code < n; ++code) check(code);
  }
  step.Done(m.count);
  return m;
}

Bitmap RowsWithCode(const std::vector<uint32_t>& codes, const CodeMask& mask,
                    const PostingIndex* postings = nullptr) {
  if (mask.count == 0) return Bitmap();
  // A posting union costs about its size; a scan costs the column.
  if (postings != nullptr) {
    const uint64_t est = postings->SumCardinality(mask.list);
    if (UseIndex(true, est < codes.size() / 2 || mask.count < 64)) {
      StepTimer step("codes", "posting union", static_cast<int64_t>(est));
      Bitmap b = postings->Union(mask.list);
      step.Done(b.cardinality());
      return b;
    }
  }
  StepTimer step("codes", "column scan");
  Bitmap b = ScanRows(static_cast<uint32_t>(codes.size()),
                      [&](uint32_t r) { return mask.Has(codes[r]); });
  step.Done(b.cardinality());
  return b;
}

// Rows whose code is non-NULL and not in `mask`.
Bitmap RowsWithOtherCode(const std::vector<uint32_t>& codes, const CodeMask& mask,
                         const PostingIndex* postings = nullptr) {
  if (postings != nullptr && UseIndex(true, postings->num_codes() <= 256)) {
    StepTimer step("other codes", "posting union");
    std::vector<uint32_t> others;
    for (uint32_t c = 0; c < postings->num_codes(); ++c) {
      if (!mask.Has(c)) others.push_back(c);
    }
    Bitmap b = postings->Union(others);
    step.Done(b.cardinality());
    return b;
  }
  return ScanRows(static_cast<uint32_t>(codes.size()), [&](uint32_t r) {
    return codes[r] != kNullCode && !mask.Has(codes[r]);
  });
}

Bitmap RowsOfIds(const std::vector<Uuid>& ids, const absl::flat_hash_map<Uuid, RowId>& by_id) {
  std::vector<uint32_t> rows;
  rows.reserve(ids.size());
  for (const Uuid& id : ids) {
    if (auto it = by_id.find(id); it != by_id.end()) rows.push_back(it->second);
  }
  std::sort(rows.begin(), rows.end());
  return FromSortedRows(rows);
}

// *FilterId: any_ (even []) and a non-empty not_any_. Ids are never NULL, so
// not_any_ subtracts from all rows.
Pred EvalId(const IdFilter& f, const absl::flat_hash_map<Uuid, RowId>& by_id, uint32_t n) {
  Level level(BoolOp::kAnd);
  if (f.any) level.Add(RowsOfIds(*f.any, by_id));
  if (f.not_any && !f.not_any->empty() && !level.done()) {
    level.Add(AllRows(n) - RowsOfIds(*f.not_any, by_id));
  }
  return level.Finish();
}

// *FilterName: any_ (exact, even []), like_ (non-empty).
Pred EvalName(const NameFilter& f, const Dictionary& dict, const std::vector<uint32_t>& codes,
              const PostingIndex* postings = nullptr, const TrigramIndex* trigrams = nullptr) {
  Level level(BoolOp::kAnd);
  if (f.any) level.Add(RowsWithCode(codes, CodesOf(dict, *f.any), postings));
  if (f.like && !f.like->empty() && !level.done()) {
    level.Add(RowsWithCode(codes, LikeCodes(dict, *f.like, trigrams), postings));
  }
  return level.Finish();
}

// *FilterTags: all_ (non-empty), any_ (even []), is_null_ (empty array).
Pred EvalTags(const TagsFilter& f, const Dictionary& dict, const CodeLists& tags, uint32_t n,
              const PostingIndex* postings = nullptr, const Bitmap* has_tags = nullptr) {
  Level level(f.op);
  if (f.all && !f.all->empty()) {
    std::vector<uint32_t> want;
    bool all_known = true;
    for (const std::string& v : *f.all) {
      std::optional<uint32_t> code = dict.Find(v);
      if (!code) {
        all_known = false;
        break;
      }
      want.push_back(*code);
    }
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    if (!all_known) {
      level.Add(Bitmap());
    } else if (postings != nullptr && UseIndex(true, true)) {
      StepTimer step("tags.all_", "posting intersection", -1);
      std::vector<const Bitmap*> parts;
      for (uint32_t w : want) parts.push_back(&postings->Get(w));
      std::sort(parts.begin(), parts.end(), [](const Bitmap* a, const Bitmap* b) {
        return a->cardinality() < b->cardinality();
      });
      Bitmap b = *parts[0];
      for (size_t i = 1; i < parts.size() && !b.isEmpty(); ++i) b &= *parts[i];
      step.Done(b.cardinality());
      level.Add(std::move(b));
    } else {
      level.Add(ScanRows(n, [&](uint32_t r) {
        std::span<const uint32_t> have = tags.Of(r);
        for (uint32_t w : want) {
          if (std::find(have.begin(), have.end(), w) == have.end()) return false;
        }
        return true;
      }));
    }
  }
  if (f.any && !level.done()) {
    const CodeMask mask = CodesOf(dict, *f.any);
    if (mask.count == 0) {
      level.Add(Bitmap());
    } else if (postings != nullptr && UseIndex(true, true)) {
      StepTimer step("tags.any_", "posting union",
                     static_cast<int64_t>(postings->SumCardinality(mask.list)));
      Bitmap b = postings->Union(mask.list);
      step.Done(b.cardinality());
      level.Add(std::move(b));
    } else {
      level.Add(ScanRows(n, [&](uint32_t r) {
        for (uint32_t c : tags.Of(r)) {
          if (mask.Has(c)) return true;
        }
        return false;
      }));
    }
  }
  if (f.is_null && !level.done()) {
    const bool want_empty = *f.is_null;
    if (has_tags != nullptr && UseIndex(true, true)) {
      level.Add(want_empty ? AllRows(n) - *has_tags : *has_tags);
    } else {
      level.Add(ScanRows(n, [&](uint32_t r) { return tags.Of(r).empty() == want_empty; }));
    }
  }
  return level.Finish();
}

// String column filters on a dictionary-coded, nullable column.
Pred EvalStringsOnCodes(const StringsFilter& f, const Dictionary& dict,
                        const std::vector<uint32_t>& codes) {
  Level level(f.op);
  if (f.any) level.Add(RowsWithCode(codes, CodesOf(dict, *f.any)));
  if (f.not_any && !f.not_any->empty() && !level.done()) {
    level.Add(RowsWithOtherCode(codes, CodesOf(dict, *f.not_any)));
  }
  if (f.is_null && !level.done()) {
    const bool want_null = *f.is_null;
    level.Add(ScanRows(static_cast<uint32_t>(codes.size()),
                       [&](uint32_t r) { return (codes[r] == kNullCode) == want_null; }));
  }
  return level.Finish();
}

// A small set of strings, for columns without a dictionary.
class StringSet {
 public:
  explicit StringSet(const std::vector<std::string>& values) {
    for (const std::string& v : values) sorted_.push_back(v);
    std::sort(sorted_.begin(), sorted_.end());
  }
  bool Has(std::string_view s) const { return std::binary_search(sorted_.begin(), sorted_.end(), s); }
  bool empty() const { return sorted_.empty(); }

 private:
  std::vector<std::string_view> sorted_;  // views of the filter's strings
};

// String column filters on a nullable BlobColumn.
Pred EvalStringsOnBlob(const StringsFilter& f, const BlobColumn& col) {
  const uint32_t n = static_cast<uint32_t>(col.size());
  Level level(f.op);
  if (f.any) {
    const StringSet set(*f.any);
    level.Add(set.empty() ? Bitmap() : ScanRows(n, [&](uint32_t r) {
      return !col.IsNull(r) && set.Has(col.Get(r));
    }));
  }
  if (f.not_any && !f.not_any->empty() && !level.done()) {
    const StringSet set(*f.not_any);
    level.Add(ScanRows(n, [&](uint32_t r) { return !col.IsNull(r) && !set.Has(col.Get(r)); }));
  }
  if (f.is_null && !level.done()) {
    const bool want_null = *f.is_null;
    level.Add(ScanRows(n, [&](uint32_t r) { return col.IsNull(r) == want_null; }));
  }
  return level.Finish();
}

// Datetime filters: before_/after_ (inclusive) on range_key(r), where
// kNullMicros never matches; is_null_ on null_col. No operator: AND.
template <typename KeyFn>
Pred EvalTime(const TimeFilter& f, uint32_t n, KeyFn range_key, const std::vector<Micros>& null_col) {
  if (!f.before && !f.after && !f.is_null) return std::nullopt;
  return ScanRows(n, [&](uint32_t r) {
    if (f.before || f.after) {
      const Micros v = range_key(r);
      if (v == kNullMicros) return false;
      if (f.before && v > *f.before) return false;
      if (f.after && v < *f.after) return false;
    }
    if (f.is_null && (null_col[r] == kNullMicros) != *f.is_null) return false;
    return true;
  });
}

Pred EvalTime(const TimeFilter& f, const std::vector<Micros>& col) {
  return EvalTime(f, static_cast<uint32_t>(col.size()), [&](uint32_t r) { return col[r]; }, col);
}

// Rows of `rows` with pred(r): the row-by-row check of a predicate on a
// (small) candidate set, reading the column instead of an index.
template <typename P>
Bitmap FilterRows(const Bitmap& rows, P pred) {
  std::vector<uint32_t> keep;
  ForEachRow(rows, [&](uint32_t r) {
    if (pred(r)) keep.push_back(r);
  });
  return FromSortedRows(keep);
}

// The same, for a predicate that reads one place per row, addr_of(r): the
// rows are spread over a column larger than the caches, so the reads are
// prefetched some rows ahead to overlap their misses.
template <typename P, typename A>
Bitmap FilterRows(const Bitmap& rows, P pred, A addr_of) {
  constexpr uint32_t kAhead = 16;
  std::vector<uint32_t> keep;
  ForEachRowBatch(rows, [&](const uint32_t* batch, uint32_t got) {
    for (uint32_t i = 0; i < got && i < kAhead; ++i) __builtin_prefetch(addr_of(batch[i]));
    for (uint32_t i = 0; i < got; ++i) {
      if (i + kAhead < got) __builtin_prefetch(addr_of(batch[i + kAhead]));
      if (pred(batch[i])) keep.push_back(batch[i]);
    }
  });
  return FromSortedRows(keep);
}

// A before_/after_ range on a task-run time column (inclusive bounds,
// kNullMicros never matches), with the sorted order over the column when
// there is one. An AND level defers these leaves until its other criteria
// are known: when their result is small next to the range, the range is
// checked on those candidates by reading the column (ApplyRangeLeaves).
struct RangeLeaf {
  const std::vector<Micros>* col;
  const SortedOrder* order;  // nullptr or not covering the column: no order
  const std::vector<Uuid>* ids;
  int64_t lo;
  int64_t hi;
  const char* what;
  // Positions of the range in `order` (by binary search) when it has one.
  size_t first = 0;
  size_t last = 0;
  bool has_positions = false;

  bool Contains(uint32_t r) const {
    const Micros v = (*col)[r];
    return v != kNullMicros && v >= lo && v <= hi;
  }
  // Rows in the range, exact when the order gives it, else the column size.
  uint64_t Estimate() const { return has_positions ? last - first : col->size(); }
};

RangeLeaf MakeRangeLeaf(const TimeFilter& f, const std::vector<Micros>& col,
                        const SortedOrder* order, const std::vector<Uuid>& ids, const char* what) {
  RangeLeaf leaf{&col, order, &ids, f.after ? *f.after : INT64_MIN + 1,  // kNullMicros is INT64_MIN
                 f.before ? *f.before : INT64_MAX, what};
  if (order != nullptr && order->size() == col.size()) {
    const TaskRunTimeKeys keys{&col, &ids};
    std::tie(leaf.first, leaf.last) = order->Range(leaf.lo, leaf.hi, keys);
    leaf.has_positions = true;
  }
  return leaf;
}

// The rows of a range leaf: the sorted range of its order when the range is
// small, else a column scan.
Bitmap MaterializeRange(const RangeLeaf& leaf) {
  const uint32_t n = static_cast<uint32_t>(leaf.col->size());
  const uint64_t k = leaf.Estimate();
  if (leaf.has_positions && UseIndex(true, k * 8 < n)) {
    StepTimer step(leaf.what, "sorted range", static_cast<int64_t>(k));
    Bitmap b = leaf.order->RowsAt(leaf.first, leaf.last);
    step.Done(b.cardinality());
    return b;
  }
  StepTimer step(leaf.what, "column scan", leaf.has_positions ? static_cast<int64_t>(k) : -1);
  Bitmap b = ScanRows(n, [&](uint32_t r) { return leaf.Contains(r); });
  step.Done(b.cardinality());
  return b;
}

// ANDs the deferred range leaves into `candidates` (the level's other
// criteria; nullopt = TRUE), smallest estimate first. A leaf filters the
// candidates row by row when that reads fewer rows than materializing it
// (a sorted range costs about k log k, a scan every row); else it is
// materialized and intersected.
Pred ApplyRangeLeaves(Pred candidates, std::vector<RangeLeaf>& leaves) {
  std::sort(leaves.begin(), leaves.end(),
            [](const RangeLeaf& a, const RangeLeaf& b) { return a.Estimate() < b.Estimate(); });
  const ConjunctChoice forced = Options().conjunct;
  for (const RangeLeaf& leaf : leaves) {
    if (candidates && candidates->isEmpty()) break;
    bool filter = false;
    if (candidates) {
      const uint64_t n = leaf.col->size();
      const uint64_t k = leaf.Estimate();
      const uint64_t materialize_cost = leaf.has_positions && k * 8 < n ? 4 * k : n;
      filter = forced == ConjunctChoice::kFilterCandidates ||
               (forced == ConjunctChoice::kAuto && candidates->cardinality() < materialize_cost);
    }
    if (filter) {
      StepTimer step(leaf.what, "filter candidates by column",
                     static_cast<int64_t>(candidates->cardinality()));
      Bitmap b = FilterRows(
          *candidates, [&](uint32_t r) { return leaf.Contains(r); },
          [&](uint32_t r) { return &(*leaf.col)[r]; });
      step.Done(b.cardinality());
      candidates = std::move(b);
    } else if (candidates) {
      *candidates &= MaterializeRange(leaf);
    } else {
      candidates = MaterializeRange(leaf);
    }
  }
  return candidates;
}

// A task-run time column with its presence bitmap and, optionally, a sorted
// order over it: before_/after_ become a binary-searched range of the order
// when the range is small, is_null_ the presence bitmap. With `defer`, the
// range is appended there instead (for ApplyRangeLeaves).
Pred EvalTimeIndexed(const TimeFilter& f, const std::vector<Micros>& col, const Bitmap& present,
                     const SortedOrder* order, const std::vector<Uuid>& ids, const char* what,
                     std::vector<RangeLeaf>* defer = nullptr) {
  if (!f.before && !f.after && !f.is_null) return std::nullopt;
  const uint32_t n = static_cast<uint32_t>(col.size());
  Level level(BoolOp::kAnd);
  if (f.before || f.after) {
    RangeLeaf leaf = MakeRangeLeaf(f, col, order, ids, what);
    if (defer != nullptr) {
      defer->push_back(leaf);
    } else {
      level.Add(MaterializeRange(leaf));
    }
  }
  if (f.is_null && !level.done()) {
    if (UseIndex(true, true)) {
      level.Add(*f.is_null ? AllRows(n) - present : present);
    } else {
      const bool want_null = *f.is_null;
      level.Add(ScanRows(n, [&](uint32_t r) { return (col[r] == kNullMicros) == want_null; }));
    }
  }
  return level.Finish();
}

class UuidSet {
 public:
  explicit UuidSet(const std::vector<Uuid>& ids) : sorted_(ids) {
    std::sort(sorted_.begin(), sorted_.end());
  }
  bool Has(const Uuid& u) const { return std::binary_search(sorted_.begin(), sorted_.end(), u); }
  bool empty() const { return sorted_.empty(); }

 private:
  std::vector<Uuid> sorted_;
};

Bitmap RowsWithRefIn(const std::vector<std::optional<Uuid>>& col, const std::vector<Uuid>& ids) {
  const UuidSet set(ids);
  if (set.empty()) return Bitmap();
  return ScanRows(static_cast<uint32_t>(col.size()),
                  [&](uint32_t r) { return col[r].has_value() && set.Has(*col[r]); });
}

Bitmap RowsWithRefNull(const std::vector<std::optional<Uuid>>& col, bool want_null) {
  return ScanRows(static_cast<uint32_t>(col.size()),
                  [&](uint32_t r) { return col[r].has_value() != want_null; });
}

// Nullable UUID reference column: any_ (even []), is_null_.
Pred EvalUuidRef(const UuidRefFilter& f, const std::vector<std::optional<Uuid>>& col) {
  Level level(f.op);
  if (f.any) level.Add(RowsWithRefIn(col, *f.any));
  if (f.is_null && !level.done()) level.Add(RowsWithRefNull(col, *f.is_null));
  return level.Finish();
}

// The state nodes (paginate.md 4.1): a child contributes only when it has
// exactly one criterion; zero or two criteria drop it.
Pred EvalState(const StateFilter& f, const std::vector<uint8_t>& types, const Dictionary& names,
               const std::vector<uint32_t>& name_codes, const PostingIndex* type_postings = nullptr,
               const PostingIndex* name_postings = nullptr) {
  Level level(f.op);
  if (f.type) {
    const StateTypesFilter& t = *f.type;
    const bool has_any = t.any.has_value();
    const bool has_not_any = t.not_any && !t.not_any->empty();
    if (has_any != has_not_any) {
      bool in[kNumStateTypes] = {};
      for (StateType s : has_any ? *t.any : *t.not_any) in[static_cast<int>(s)] = true;
      const bool want_in = has_any;
      if (type_postings != nullptr && UseIndex(true, true)) {
        std::vector<uint32_t> codes;
        for (int v = 0; v < kNumStateTypes; ++v) {
          if (in[v] == want_in) codes.push_back(static_cast<uint32_t>(v));
        }
        StepTimer step("state.type", "posting union",
                       static_cast<int64_t>(type_postings->SumCardinality(codes)));
        Bitmap b = type_postings->Union(codes);
        step.Done(b.cardinality());
        level.Add(std::move(b));
      } else {
        level.Add(ScanRows(static_cast<uint32_t>(types.size()), [&](uint32_t r) {
          const uint8_t v = types[r];
          return v != kNullStateType && v < kNumStateTypes && in[v] == want_in;
        }));
      }
    }
  }
  if (f.name && !level.done()) {
    const StringsFilter& s = *f.name;
    const bool has_any = s.any.has_value();
    const bool has_not_any = s.not_any && !s.not_any->empty();
    if (has_any != has_not_any) {
      if (has_any) {
        level.Add(RowsWithCode(name_codes, CodesOf(names, *s.any), name_postings));
      } else {
        level.Add(RowsWithOtherCode(name_codes, CodesOf(names, *s.not_any), name_postings));
      }
    }
  }
  return level.Finish();
}

// ---------------------------------------------------------------------------
// TaskRunFilter (paginate.md 4.4)

// flow_run_id ∈ ids, comparing the stored id (orphans included).
Bitmap TaskRunsWithFlowRunIdIn(const Store& s, const std::vector<Uuid>& ids) {
  std::vector<const Bitmap*> postings;
  std::vector<Uuid> unresolved;
  for (const Uuid& id : ids) {
    auto it = s.flow_run_by_id.find(id);
    if (it != s.flow_run_by_id.end()) {
      if (it->second < s.task_runs_of_flow_run.size()) {
        postings.push_back(&s.task_runs_of_flow_run[it->second]);
      }
    } else {
      unresolved.push_back(id);
    }
  }
  Bitmap result = UnionOf(postings);
  if (!unresolved.empty() && s.report.orphan_task_runs > 0) {
    result |= RowsWithRefIn(s.task_runs.flow_run_id, unresolved);
  }
  return result;
}

// TaskRunFilterFlowRunId (4.4.9): at most one criterion.
Pred EvalTaskRunFlowRunId(const Store& s, const UuidRefFilter& f) {
  const TaskRunTable& t = s.task_runs;
  if (f.is_null && (f.is_null == true || !f.any)) {
    const bool want_null = *f.is_null;
    // Rows with a resolved flow run have a non-NULL flow_run_id, so only the
    // others (NULL or orphan) need a look at the column.
    const uint32_t n = t.size();
    {
      if (UseIndex(true, true)) {
        const Bitmap unjoined = AllRows(n) - s.task_runs_with_flow_run;
        if (s.report.orphan_task_runs == 0) {
          // No orphans: the unjoined rows are exactly those with a NULL id.
          StepTimer step("task_runs.flow_run_id.is_null_", "joined rows or their complement");
          Bitmap b = want_null ? unjoined : s.task_runs_with_flow_run;
          step.Done(b.cardinality());
          return b;
        }
        StepTimer step("task_runs.flow_run_id.is_null_", "complement of joined rows + check");
        Bitmap b = FilterRows(
            unjoined, [&](uint32_t r) { return t.flow_run_id[r].has_value() != want_null; },
            [&](uint32_t r) { return &t.flow_run_id[r]; });
        if (!want_null) b |= s.task_runs_with_flow_run;
        step.Done(b.cardinality());
        return b;
      }
    }
    return RowsWithRefNull(t.flow_run_id, want_null);
  }
  if (f.any) return TaskRunsWithFlowRunIdIn(s, *f.any);
  return std::nullopt;
}

Pred EvalTaskRuns(const Store& s, const TaskRunFilter& f) {
  const TaskRunTable& t = s.task_runs;
  const uint32_t n = t.size();
  Level level(f.op);
  const TaskRunIndexes& x = s.task_run_index;
  std::vector<RangeLeaf> deferred;
  if (!x.built) {
    if (f.id && !level.done()) level.Add(EvalId(*f.id, s.task_run_by_id, n));
    if (f.name && !level.done()) level.Add(EvalName(*f.name, s.task_run_names, t.name));
    if (f.tags && !level.done()) level.Add(EvalTags(*f.tags, s.tags, t.tags, n));
    if (f.state && !level.done()) {
      level.Add(EvalState(*f.state, t.state_type, s.state_names, t.state_name));
    }
    if (f.start_time && !level.done()) level.Add(EvalTime(*f.start_time, t.start_time));
    if (f.end_time && !level.done()) level.Add(EvalTime(*f.end_time, t.end_time));
    if (f.expected_start_time && !level.done()) {
      level.Add(EvalTime(*f.expected_start_time, t.expected_start_time));
    }
  } else {
    if (f.id && !level.done()) level.Add(EvalId(*f.id, s.task_run_by_id, n));
    if (f.name && !level.done()) {
      level.Add(EvalName(*f.name, s.task_run_names, t.name, &x.name, &s.trigrams.task_run_names));
    }
    if (f.tags && !level.done()) {
      level.Add(EvalTags(*f.tags, s.tags, t.tags, n, &x.tags, &x.has_tags));
    }
    if (f.state && !level.done()) {
      level.Add(EvalState(*f.state, t.state_type, s.state_names, t.state_name, &x.state_type,
                          &x.state_name));
    }
    // In an AND level the ranges wait for the other criteria (see
    // ApplyRangeLeaves); in an OR level they are materialized.
    std::vector<RangeLeaf>* defer = f.op == BoolOp::kAnd ? &deferred : nullptr;
    if (f.start_time && !level.done()) {
      level.Add(EvalTimeIndexed(*f.start_time, t.start_time, x.has_start_time, nullptr, t.id,
                                "task_runs.start_time", defer));
    }
    if (f.end_time && !level.done()) {
      level.Add(EvalTimeIndexed(*f.end_time, t.end_time, x.has_end_time, &x.end_time_desc, t.id,
                                "task_runs.end_time", defer));
    }
    if (f.expected_start_time && !level.done()) {
      level.Add(EvalTimeIndexed(*f.expected_start_time, t.expected_start_time,
                                x.has_expected_start_time, &x.expected_start_time_asc, t.id,
                                "task_runs.expected_start_time", defer));
    }
  }
  if (f.subflow_runs && !level.done()) {
    if (!f.subflow_runs->exists) {
      level.Add(Pred());
    } else if (*f.subflow_runs->exists) {
      level.Add(s.task_runs_with_subflow);
    } else {
      level.Add(AllRows(n) - s.task_runs_with_subflow);
    }
  }
  if (f.flow_run_id && !level.done()) level.Add(EvalTaskRunFlowRunId(s, *f.flow_run_id));
  if (deferred.empty()) return level.Finish();
  const bool empty = level.done();  // an AND level that has seen an empty set
  Pred candidates = level.Finish();
  if (empty) return candidates;
  return ApplyRangeLeaves(std::move(candidates), deferred);
}

// ---------------------------------------------------------------------------
// FlowRunFilter (paginate.md 4.5)

std::string LowercaseUuidText(const Uuid& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[u.bytes[i] >> 4]);
    out.push_back(kHex[u.bytes[i] & 0xF]);
  }
  return out;
}

Pred EvalCreatedBy(const FlowRunTable& fr, const CreatedByFilter& f) {
  const uint32_t n = fr.size();
  Level level(f.op);
  if (f.id) {
    std::vector<std::string> texts;
    for (const Uuid& u : *f.id) texts.push_back(LowercaseUuidText(u));
    const StringSet set(texts);
    level.Add(set.empty() ? Bitmap() : ScanRows(n, [&](uint32_t r) {
      return fr.has_created_by[r] && !fr.created_by_id.IsNull(r) &&
             set.Has(fr.created_by_id.Get(r));
    }));
  }
  if (f.type && !level.done()) {
    const StringSet set(*f.type);
    level.Add(set.empty() ? Bitmap() : ScanRows(n, [&](uint32_t r) {
      return fr.has_created_by[r] && !fr.created_by_type.IsNull(r) &&
             set.Has(fr.created_by_type.Get(r));
    }));
  }
  if (f.is_null && !level.done()) {
    const bool want_null = *f.is_null;
    level.Add(ScanRows(n, [&](uint32_t r) { return (fr.has_created_by[r] == 0) == want_null; }));
  }
  return level.Finish();
}

// FlowRunFilterParentFlowRunId: R.parent_task_run_id names an existing task
// run whose stored flow_run_id is in `ids`.
Bitmap FlowRunsWithParentFlowRunIn(const Store& s, const std::vector<Uuid>& ids) {
  const UuidSet set(ids);
  if (set.empty()) return Bitmap();
  const FlowRunTable& fr = s.flow_runs;
  return ScanRows(fr.size(), [&](uint32_t r) {
    const RowId parent = fr.parent_task_run_row[r];
    if (parent == kNoRow) return false;
    const std::optional<Uuid>& parent_flow_run = s.task_runs.flow_run_id[parent];
    return parent_flow_run.has_value() && set.Has(*parent_flow_run);
  });
}

Pred EvalFlowRuns(const Store& s, const FlowRunFilter& f) {
  const FlowRunTable& fr = s.flow_runs;
  const uint32_t n = fr.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.flow_run_by_id, n));
  const bool indexed = s.task_run_index.built;
  if (f.name && !level.done()) {
    level.Add(EvalName(*f.name, s.flow_run_names, fr.name, nullptr,
                       indexed ? &s.trigrams.flow_run_names : nullptr));
  }
  if (f.tags && !level.done()) {
    level.Add(EvalTags(*f.tags, s.tags, fr.tags, n, indexed ? &s.flow_run_index.tags : nullptr));
  }
  if (f.deployment_id && !level.done()) level.Add(EvalUuidRef(*f.deployment_id, fr.deployment_id));
  if (f.work_queue_name && !level.done()) {
    level.Add(EvalStringsOnCodes(*f.work_queue_name, s.work_queue_names, fr.work_queue_name));
  }
  if (f.flow_version && !level.done()) level.Add(EvalStringsOnBlob(*f.flow_version, fr.flow_version));
  if (f.state && !level.done()) {
    level.Add(EvalState(*f.state, fr.state_type, s.state_names, fr.state_name,
                        indexed ? &s.flow_run_index.state_type : nullptr));
  }
  if (f.start_time && !level.done()) {
    // before_/after_ on COALESCE(start_time, expected_start_time); is_null_
    // on start_time alone.
    level.Add(EvalTime(
        *f.start_time, n,
        [&](uint32_t r) {
          return fr.start_time[r] != kNullMicros ? fr.start_time[r] : fr.expected_start_time[r];
        },
        fr.start_time));
  }
  if (f.end_time && !level.done()) level.Add(EvalTime(*f.end_time, fr.end_time));
  if (f.expected_start_time && !level.done()) {
    level.Add(EvalTime(*f.expected_start_time, fr.expected_start_time));
  }
  if (f.next_scheduled_start_time && !level.done()) {
    level.Add(EvalTime(*f.next_scheduled_start_time, fr.next_scheduled_start_time));
  }
  if (f.parent_flow_run_id && !level.done()) {
    // any_ only; the class has no other field.
    level.Add(f.parent_flow_run_id->any ? Pred(FlowRunsWithParentFlowRunIn(s, *f.parent_flow_run_id->any))
                                        : Pred());
  }
  if (f.parent_task_run_id && !level.done()) {
    level.Add(EvalUuidRef(*f.parent_task_run_id, fr.parent_task_run_id));
  }
  if (f.idempotency_key && !level.done()) {
    level.Add(EvalStringsOnBlob(*f.idempotency_key, fr.idempotency_key));
  }
  if (f.created_by && !level.done()) level.Add(EvalCreatedBy(fr, *f.created_by));
  return level.Finish();
}

// ---------------------------------------------------------------------------
// FlowFilter (4.6) and DeploymentFilter (4.7)

Pred EvalFlows(const Store& s, const FlowFilter& f) {
  const FlowTable& fl = s.flows;
  const uint32_t n = fl.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.flow_by_id, n));
  if (f.deployment && !level.done()) {
    if (!f.deployment->is_null) {
      level.Add(Pred());
    } else {
      const bool want_none = *f.deployment->is_null;
      level.Add(ScanRows(n, [&](uint32_t r) {
        const bool has = r < s.flow_has_deployment.size() && s.flow_has_deployment[r];
        return has != want_none;
      }));
    }
  }
  if (f.name && !level.done()) {
    level.Add(EvalName(*f.name, s.flow_names, fl.name, nullptr,
                       s.task_run_index.built ? &s.trigrams.flow_names : nullptr));
  }
  if (f.tags && !level.done()) level.Add(EvalTags(*f.tags, s.tags, fl.tags, n));
  return level.Finish();
}

// DeploymentOrFlowNameFilter: deployment name, or its own flow's name.
Pred EvalFlowOrDeploymentName(const Store& s, const NameFilter& f) {
  if (!f.like || f.like->empty()) return std::nullopt;
  const DeploymentTable& d = s.deployments;
  const bool indexed = s.task_run_index.built;
  const CodeMask deployment_names =
      LikeCodes(s.deployment_names, *f.like, indexed ? &s.trigrams.deployment_names : nullptr);
  const CodeMask flow_names =
      LikeCodes(s.flow_names, *f.like, indexed ? &s.trigrams.flow_names : nullptr);
  return ScanRows(d.size(), [&](uint32_t r) {
    if (deployment_names.Has(d.name[r])) return true;
    const RowId flow = d.flow_row[r];
    return flow != kNoRow && flow_names.Has(s.flows.name[flow]);
  });
}

Pred EvalDeployments(const Store& s, const DeploymentFilter& f) {
  const DeploymentTable& d = s.deployments;
  const uint32_t n = d.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.deployment_by_id, n));
  if (f.name && !level.done()) {
    level.Add(EvalName(*f.name, s.deployment_names, d.name, nullptr,
                       s.task_run_index.built ? &s.trigrams.deployment_names : nullptr));
  }
  if (f.flow_or_deployment_name && !level.done()) {
    level.Add(EvalFlowOrDeploymentName(s, *f.flow_or_deployment_name));
  }
  if (f.paused && !level.done()) {
    if (!f.paused->eq) {
      level.Add(Pred());
    } else {
      const bool want = *f.paused->eq;
      level.Add(ScanRows(n, [&](uint32_t r) { return (d.paused[r] != 0) == want; }));
    }
  }
  if (f.tags && !level.done()) level.Add(EvalTags(*f.tags, s.tags, d.tags, n));
  if (f.work_queue_name && !level.done()) {
    level.Add(EvalStringsOnCodes(*f.work_queue_name, s.work_queue_names, d.work_queue_name));
  }
  // concurrency_limit never adds a criterion.
  return level.Finish();
}

// ---------------------------------------------------------------------------
// Combining the four filters (paginate.md 5)

// Flow-run rows whose flow (resp. deployment) row is in `rows`.
Bitmap FlowRunsJoinedTo(const std::vector<RowId>& join, const Bitmap& rows, uint32_t target_size) {
  std::vector<uint8_t> in(target_size, 0);
  ForEachRow(rows, [&](uint32_t r) {
    if (r < target_size) in[r] = 1;
  });
  return ScanRows(static_cast<uint32_t>(join.size()),
                  [&](uint32_t r) { return join[r] != kNoRow && join[r] < target_size && in[join[r]]; });
}

// Task runs of the flow runs in `flow_runs`: union of postings when they are
// few, else one pass over task_runs.flow_run_row.
Bitmap TaskRunsOfFlowRuns(const Store& s, const Bitmap& flow_runs) {
  const uint64_t k = flow_runs.cardinality();
  if (k == 0) return Bitmap();
  const uint32_t num_flow_runs = s.flow_runs.size();
  const JoinChoice forced = Options().join;
  if (k == num_flow_runs && forced == JoinChoice::kAuto) return s.task_runs_with_flow_run;
  const uint32_t num_task_runs = s.task_runs.size();
  if (s.task_runs_of_flow_run.size() >= num_flow_runs && forced != JoinChoice::kScanTaskRuns) {
    uint64_t postings_total = 0;
    ForEachRow(flow_runs, [&](uint32_t r) {
      postings_total += s.task_runs_of_flow_run[r].cardinality();
    });
    if (postings_total * 4 <= num_task_runs || forced == JoinChoice::kPostings) {
      StepTimer step("join flow_runs -> task_runs", "posting union",
                     static_cast<int64_t>(postings_total));
      std::vector<const Bitmap*> postings;
      postings.reserve(k);
      ForEachRow(flow_runs, [&](uint32_t r) { postings.push_back(&s.task_runs_of_flow_run[r]); });
      Bitmap b = UnionOf(postings);
      step.Done(b.cardinality());
      return b;
    }
  }
  StepTimer step("join flow_runs -> task_runs", "scan task_runs.flow_run_row");
  std::vector<uint8_t> in(num_flow_runs, 0);
  ForEachRow(flow_runs, [&](uint32_t r) { in[r] = 1; });
  const std::vector<RowId>& join = s.task_runs.flow_run_row;
  Bitmap b = ScanRows(num_task_runs, [&](uint32_t r) { return join[r] != kNoRow && in[join[r]]; });
  step.Done(b.cardinality());
  return b;
}

// The other join direction: keep the rows of `task_rows` whose flow run is
// in `flow_runs` (probing each task run's flow_run_row). Pays off when the
// task-run side is much smaller than the flow runs' task runs.
Bitmap ProbeTaskRuns(const Store& s, const Bitmap& task_rows, const Bitmap& flow_runs) {
  StepTimer step("join flow_runs -> task_runs", "probe task rows",
                 static_cast<int64_t>(task_rows.cardinality()));
  const std::vector<RowId>& join = s.task_runs.flow_run_row;
  std::vector<uint32_t> keep;
  ForEachRow(task_rows, [&](uint32_t r) {
    const RowId f = join[r];
    if (f != kNoRow && flow_runs.contains(f)) keep.push_back(r);
  });
  Bitmap b = FromSortedRows(keep);
  step.Done(b.cardinality());
  return b;
}

// The flow-run state types selected by `f` when that is its only criterion
// (the flow-run side is then "the flow run's state type is one of these"),
// else nullopt.
std::optional<std::vector<uint32_t>> OnlyStateTypeCodes(const FlowRunFilter& f) {
  if (f.id || f.name || f.tags || f.deployment_id || f.work_queue_name || f.flow_version ||
      f.start_time || f.end_time || f.expected_start_time || f.next_scheduled_start_time ||
      f.parent_flow_run_id || f.parent_task_run_id || f.idempotency_key || f.created_by) {
    return std::nullopt;
  }
  if (!f.state || f.state->name || !f.state->type) return std::nullopt;
  const StateTypesFilter& t = *f.state->type;
  const bool has_any = t.any.has_value();
  const bool has_not_any = t.not_any && !t.not_any->empty();
  if (has_any == has_not_any) return std::nullopt;
  bool in[kNumStateTypes] = {};
  for (StateType st : has_any ? *t.any : *t.not_any) in[static_cast<int>(st)] = true;
  std::vector<uint32_t> codes;
  for (int v = 0; v < kNumStateTypes; ++v) {
    if (in[v] == has_any) codes.push_back(static_cast<uint32_t>(v));
  }
  return codes;
}

// One conjunct of the join (paginate.md 5) on the task-run side: the task
// runs whose flow run passes it. `rows` materializes them; `probe` tests the
// flow run of one task run (a resolved flow-run row).
struct JoinSide {
  const char* what;
  uint64_t estimate;  // task-run rows (an upper bound)
  std::function<Bitmap()> rows;
  std::function<bool(RowId flow_run)> probe;
};

// Codes of a Bitmap of rows, ascending.
std::vector<uint32_t> RowList(const Bitmap& b) {
  std::vector<uint32_t> out(b.cardinality());
  if (!out.empty()) b.toUint32Array(out.data());
  return out;
}

// A side for a flow or deployment filter: its rows through `postings`
// (keyed by flow / deployment row), its probe through `join` (flow run ->
// flow / deployment row).
JoinSide KeyedSide(const char* what, Bitmap keys, uint32_t num_keys, const PostingIndex& postings,
                   const std::vector<RowId>& join) {
  auto list = std::make_shared<std::vector<uint32_t>>(RowList(keys));
  auto mask = std::make_shared<std::vector<uint8_t>>(num_keys, 0);
  for (uint32_t k : *list) {
    if (k < num_keys) (*mask)[k] = 1;
  }
  const uint64_t est = postings.SumCardinality(*list);
  return JoinSide{what, est, [list, &postings]() { return postings.Union(*list); },
                  [mask, &join](RowId f) {
                    const RowId k = join[f];
                    return k != kNoRow && k < mask->size() && (*mask)[k] != 0;
                  }};
}

// Task runs matching `filters` when some of flows/flow_runs/deployments is
// present, through the task-run join postings: every side is turned into
// task-run rows, smallest estimate first; a side much larger than the rows
// found so far checks those rows by probing their flow run instead.
Bitmap MatchThroughJoinPostings(const Store& s, const FilterSet& filters, Pred task_pred) {
  const TaskRunIndexes& x = s.task_run_index;
  const FlowRunTable& fr = s.flow_runs;
  std::vector<JoinSide> sides;
  if (filters.flow_runs) {
    if (std::optional<std::vector<uint32_t>> codes = OnlyStateTypeCodes(*filters.flow_runs)) {
      auto list = std::make_shared<std::vector<uint32_t>>(std::move(*codes));
      auto in = std::make_shared<std::vector<uint8_t>>(kNumStateTypes + 1, 0);
      for (uint32_t c : *list) (*in)[c] = 1;
      sides.push_back(JoinSide{
          "flow_runs.state.type", x.by_flow_run_state_type.SumCardinality(*list),
          [list, &x]() { return x.by_flow_run_state_type.Union(*list); },
          [in, &fr](RowId f) {
            const uint8_t v = fr.state_type[f];
            return v < kNumStateTypes && (*in)[v] != 0;
          }});
    } else {
      Pred flow_runs = EvalFlowRuns(s, *filters.flow_runs);
      if (!flow_runs) {
        sides.push_back(JoinSide{"flow_runs (all)", s.task_runs_with_flow_run.cardinality(),
                                 [&s]() { return s.task_runs_with_flow_run; },
                                 [](RowId) { return true; }});
      } else {
        auto rows = std::make_shared<Bitmap>(std::move(*flow_runs));
        uint64_t est = 0;
        ForEachRow(*rows, [&](uint32_t r) {
          if (r < s.task_runs_of_flow_run.size()) est += s.task_runs_of_flow_run[r].cardinality();
        });
        sides.push_back(JoinSide{"flow_runs", est,
                                 [rows, &s]() { return TaskRunsOfFlowRuns(s, *rows); },
                                 [rows](RowId f) { return rows->contains(f); }});
      }
    }
  }
  if (filters.flows) {
    sides.push_back(KeyedSide("flows", Materialize(EvalFlows(s, *filters.flows), s.flows.size()),
                              s.flows.size(), x.by_flow, fr.flow_row));
  }
  if (filters.deployments) {
    sides.push_back(KeyedSide(
        "deployments",
        Materialize(EvalDeployments(s, *filters.deployments), s.deployments.size()),
        s.deployments.size(), x.by_deployment, fr.deployment_row));
  }
  std::sort(sides.begin(), sides.end(),
            [](const JoinSide& a, const JoinSide& b) { return a.estimate < b.estimate; });
  Pred result = std::move(task_pred);
  const std::vector<RowId>& flow_run_row = s.task_runs.flow_run_row;
  const bool force_postings = Options().join == JoinChoice::kJoinPostings;
  for (size_t i = 0; i < sides.size(); ++i) {
    const JoinSide& side = sides[i];
    if (result && result->isEmpty()) break;
    // Probing costs a few memory reads per row found so far; a posting
    // union about its size, plus the intersection.
    const bool probe = result && (force_postings ? (i % 2) == 1
                                                 : result->cardinality() * 4 < side.estimate);
    if (probe) {
      StepTimer step(side.what, "probe task rows' flow run",
                     static_cast<int64_t>(result->cardinality()));
      Bitmap b = FilterRows(*result, [&](uint32_t r) {
        const RowId f = flow_run_row[r];
        return f != kNoRow && side.probe(f);
      });
      step.Done(b.cardinality());
      result = std::move(b);
      continue;
    }
    StepTimer step(side.what, "task-run join postings", static_cast<int64_t>(side.estimate));
    Bitmap b = side.rows();
    step.Done(b.cardinality());
    if (result) {
      *result &= b;
    } else {
      result = std::move(b);
    }
  }
  return result ? std::move(*result) : Bitmap();
}

// ---------------------------------------------------------------------------
// Sorting (paginate.md 6.2)

struct SortEntry {
  uint64_t key;  // primary key mapped so that ascending order is the wanted order
  RowId row;
};

// NULL is larger than every instant (PostgreSQL).
inline uint64_t TimeKey(Micros m) {
  return m == kNullMicros ? UINT64_MAX : (static_cast<uint64_t>(m) ^ (uint64_t{1} << 63));
}

inline uint64_t IdPrefix(const Uuid& u) {
  uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k = (k << 8) | u.bytes[i];
  return k;
}

// The page [offset, offset + limit) of `rows` ordered by (key_of(row), id
// DESC). The keys of a batch of rows are read first, with prefetch(row)
// issued some rows ahead: the rows are spread over columns much larger than
// the caches, so each read is a miss, and issuing them together overlaps
// their latencies.
template <typename KeyFn, typename PrefetchFn>
std::vector<RowId> CutPage(const Store& s, const Bitmap& rows, uint64_t offset, uint64_t limit,
                           KeyFn key_of, PrefetchFn prefetch) {
  const std::vector<Uuid>& ids = s.task_runs.id;
  auto less = [&](const SortEntry& a, const SortEntry& b) {
    if (a.key != b.key) return a.key < b.key;
    return ids[b.row] < ids[a.row];  // tie-break: id descending
  };
  constexpr uint32_t kPrefetchAhead = 16;
  SortEntry batch_entries[256];
  auto read_keys = [&](const uint32_t* batch, uint32_t got) {
    for (uint32_t i = 0; i < got && i < kPrefetchAhead; ++i) prefetch(batch[i]);
    for (uint32_t i = 0; i < got; ++i) {
      if (i + kPrefetchAhead < got) prefetch(batch[i + kPrefetchAhead]);
      batch_entries[i] = SortEntry{key_of(batch[i]), batch[i]};
    }
  };
  const uint64_t total = rows.cardinality();
  const uint64_t need = offset + limit;  // <= 2 * 2^32 after the caller's clamps
  std::vector<SortEntry> entries;
  if (need * 8 < total) {
    // Keep the best `need` rows in a max-heap (the worst kept row on top).
    entries.reserve(need);
    ForEachRowBatch(rows, [&](const uint32_t* batch, uint32_t got) {
      read_keys(batch, got);
      for (uint32_t i = 0; i < got; ++i) {
        const SortEntry& e = batch_entries[i];
        if (entries.size() < need) {
          entries.push_back(e);
          std::push_heap(entries.begin(), entries.end(), less);
        } else if (less(e, entries.front())) {
          std::pop_heap(entries.begin(), entries.end(), less);
          entries.back() = e;
          std::push_heap(entries.begin(), entries.end(), less);
        }
      }
    });
    std::sort_heap(entries.begin(), entries.end(), less);
  } else {
    entries.reserve(total);
    ForEachRowBatch(rows, [&](const uint32_t* batch, uint32_t got) {
      read_keys(batch, got);
      entries.insert(entries.end(), batch_entries, batch_entries + got);
    });
    if (need < entries.size()) {
      std::nth_element(entries.begin(), entries.begin() + need, entries.end(), less);
      entries.resize(need);
    }
    std::sort(entries.begin(), entries.end(), less);
  }
  std::vector<RowId> page;
  page.reserve(entries.size() > offset ? entries.size() - offset : 0);
  for (uint64_t i = offset; i < entries.size(); ++i) page.push_back(entries[i].row);
  return page;
}

std::vector<RowId> SortedPageBySort(const Store& store, const Bitmap& rows, TaskRunSort sort,
                                    uint64_t offset, uint64_t limit);

// Page-cut costs in visits of a walk with a RowMask (see SortedPage).
constexpr double kContainsCost = 8;  // one visit with Bitmap::contains
constexpr double kSortStepCost = 8;  // one match through the partial sort

// One RowMask per thread, reused by every query (a fresh one would allocate
// 128 KiB per million rows each time).
RowMask& ThreadRowMask() {
  thread_local RowMask mask;
  return mask;
}

}  // namespace

bool LikeMatches(std::string_view text, std::string_view pattern) {
  return LikePattern(pattern).Matches(text);
}

Bitmap MatchTaskRuns(const Store& store, const FilterSet& filters) {
  const uint32_t num_task_runs = store.task_runs.size();
  Pred task_pred;
  if (filters.task_runs) {
    task_pred = EvalTaskRuns(store, *filters.task_runs);
    if (task_pred && task_pred->isEmpty()) return Bitmap();
  }
  if (!filters.flows && !filters.flow_runs && !filters.deployments) {
    return Materialize(std::move(task_pred), num_task_runs);
  }
  const JoinChoice join = Options().join;
  if (store.task_run_index.joins_built &&
      (join == JoinChoice::kAuto || join == JoinChoice::kJoinPostings)) {
    return MatchThroughJoinPostings(store, filters, std::move(task_pred));
  }

  // Flow runs that exist and pass the flow-run, flow and deployment filters.
  const FlowRunTable& fr = store.flow_runs;
  Level flow_runs(BoolOp::kAnd);
  if (filters.flow_runs) flow_runs.Add(EvalFlowRuns(store, *filters.flow_runs));
  if (filters.flows && !flow_runs.done()) {
    const Bitmap flows = Materialize(EvalFlows(store, *filters.flows), store.flows.size());
    flow_runs.Add(FlowRunsJoinedTo(fr.flow_row, flows, store.flows.size()));
  }
  if (filters.deployments && !flow_runs.done()) {
    const Bitmap deployments =
        Materialize(EvalDeployments(store, *filters.deployments), store.deployments.size());
    flow_runs.Add(FlowRunsJoinedTo(fr.deployment_row, deployments, store.deployments.size()));
  }
  const Bitmap matching_flow_runs = Materialize(flow_runs.Finish(), fr.size());
  if (task_pred) {
    // Join direction by cardinality: probe the task-run side when it is
    // small next to the flow runs' task runs (estimated by average fan-out).
    const uint64_t task_side = task_pred->cardinality();
    const uint64_t fanout_est =
        fr.size() == 0 ? 0
                       : matching_flow_runs.cardinality() * num_task_runs / fr.size();
    const JoinChoice forced = Options().join;
    const bool probe = forced == JoinChoice::kProbeTaskRuns ||
                       (forced == JoinChoice::kAuto && task_side * 4 < fanout_est);
    if (probe) return ProbeTaskRuns(store, *task_pred, matching_flow_runs);
  }
  Bitmap result = TaskRunsOfFlowRuns(store, matching_flow_runs);
  if (task_pred) result &= *task_pred;
  return result;
}

std::vector<RowId> SortedPage(const Store& store, const Bitmap& rows, TaskRunSort sort,
                              uint64_t offset, uint64_t limit) {
  const uint64_t total = rows.cardinality();
  if (limit == 0 || offset >= total) return {};
  limit = std::min(limit, total - offset);
  const TaskRunTable& t = store.task_runs;
  const uint32_t n = t.size();
  if (store.task_run_index.built && store.task_run_index.OrderFor(sort).size() == n && n > 0) {
    const uint64_t need = offset + limit;
    const PageCutChoice forced = Options().page_cut;
    // Walking the order visits about need * n / total rows (none when every
    // row matches: the page is then a slice); a partial sort touches every
    // match, and the rows that enter its heap pay log2(need) more. Costs in
    // units of one visit of a walk with a RowMask (a sequential read of the
    // order, a bit test), measured at 1M with `taskdex bench --interleave
    // --stage execute --explain`: ~4 ns a visit with a mask, about
    // n / 512 visits to fill the mask, 8 visits for one Bitmap::contains
    // (binary searches, mispredicted branches), 8 visits for one step of
    // the partial sort (its key is a cache miss, even with the prefetches).
    const double visits = static_cast<double>(need) * n / static_cast<double>(total);
    const double mask_fill = static_cast<double>(n) / 512;
    const bool use_mask =
        forced == PageCutChoice::kWalkOrderMask ||
        (forced == PageCutChoice::kAuto && visits + mask_fill < kContainsCost * visits);
    const double walk_cost = use_mask ? visits + mask_fill : kContainsCost * visits;
    const double sort_cost =
        kSortStepCost * (static_cast<double>(total) +
                         static_cast<double>(need) * std::log2(static_cast<double>(need) + 1));
    const bool walk = forced == PageCutChoice::kWalkOrder ||
                      forced == PageCutChoice::kWalkOrderMask ||
                      (forced == PageCutChoice::kAuto && (total == n || walk_cost < sort_cost));
    if (walk) {
      const SortedOrder& order = store.task_run_index.OrderFor(sort);
      std::vector<RowId> page;
      page.reserve(limit);
      if (total == n) {
        // Every row matches: the page is a slice of the order.
        StepTimer step("page", "slice of sort order", static_cast<int64_t>(limit));
        order.ForEach(offset, offset + limit, [&](RowId r) {
          page.push_back(r);
          return true;
        });
        step.Done(page.size());
        return page;
      }
      // The estimate assumes matches spread evenly over the order; when they
      // cluster (e.g. one name under NAME_ASC) the walk stops after a budget
      // of visits and the partial sort takes over. A forced walk has no budget.
      const bool forced_walk =
          forced == PageCutChoice::kWalkOrder || forced == PageCutChoice::kWalkOrderMask;
      const size_t budget = forced_walk ? order.size()
                                        : static_cast<size_t>(std::min(
                                              static_cast<double>(order.size()),
                                              2 * visits + 1024));
      // A long walk first copies the matches into a flat bitset: a visit is
      // then a load and a shift instead of Bitmap::contains' two binary
      // searches (with their mispredicted branches).
      StepTimer step("page", use_mask ? "walk sort order (row mask)" : "walk sort order",
                     static_cast<int64_t>(visits));
      uint64_t skipped = 0;
      auto visit = [&](bool member, RowId r) {
        if (!member) return true;
        if (skipped < offset) {
          ++skipped;
          return true;
        }
        page.push_back(r);
        return page.size() < limit;
      };
      size_t end = 0;
      if (use_mask) {
        RowMask& mask = ThreadRowMask();
        mask.Assign(rows);
        end = order.ForEach(0, budget, [&](RowId r) { return visit(mask.Contains(r), r); });
      } else {
        end = order.ForEach(0, budget, [&](RowId r) { return visit(rows.contains(r), r); });
      }
      step.Done(page.size());
      if (page.size() == limit || end == order.size()) return page;
    }
  }
  StepTimer step("page", "partial sort of matches", static_cast<int64_t>(total));
  std::vector<RowId> page = SortedPageBySort(store, rows, sort, offset, limit);
  step.Done(page.size());
  return page;
}

PageResult Paginate(const Store& store, const PaginateQuery& query, const ExecOptions& options) {
  const OptionsScope scope(options);
  return Paginate(store, query);
}

std::string Explain(const Store& store, const PaginateQuery& query) {
  std::vector<PlanStep> trace;
  ExecOptions options;
  options.trace = &trace;
  const auto start = Clock::now();
  const PageResult result = Paginate(store, query, options);
  const double total_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  std::string out = absl::StrFormat("plan: %d task runs, count=%d, page rows=%d, total %.1f us\n",
                                    store.task_runs.size(), result.count, result.rows.size(),
                                    total_us);
  for (const PlanStep& step : trace) {
    out += absl::StrFormat("  %-34s %-30s est=%-10s actual=%-10d %.1f us\n", step.what, step.path,
                           step.estimate < 0 ? std::string("?") : std::to_string(step.estimate),
                           step.actual, step.micros);
  }
  return out;
}

namespace {

std::vector<RowId> SortedPageBySort(const Store& store, const Bitmap& rows, TaskRunSort sort,
                                    uint64_t offset, uint64_t limit) {
  const TaskRunTable& t = store.task_runs;
  // A time key: one column read.
  auto by_time = [&](const std::vector<Micros>& col, bool desc) {
    const Micros* c = col.data();
    return CutPage(
        store, rows, offset, limit,
        [c, desc](uint32_t r) { return desc ? ~TimeKey(c[r]) : TimeKey(c[r]); },
        [c](uint32_t r) { __builtin_prefetch(&c[r]); });
  };
  // Names repeat, so most comparisons would tie and read two ids: the key
  // carries the high half of the tie-break (the id's first 4 bytes,
  // descending) below the name code; only equal halves compare whole ids.
  auto by_name = [&](bool desc) {
    const uint32_t* names = t.name.data();
    const Uuid* ids = t.id.data();
    return CutPage(
        store, rows, offset, limit,
        [names, ids, desc](uint32_t r) {
          const uint32_t code = desc ? ~names[r] : names[r];
          return (uint64_t{code} << 32) | (~IdPrefix(ids[r]) >> 32);
        },
        [names, ids](uint32_t r) {
          __builtin_prefetch(&names[r]);
          __builtin_prefetch(&ids[r]);
        });
  };
  switch (sort) {
    case TaskRunSort::kIdDesc: {
      const Uuid* ids = t.id.data();
      return CutPage(
          store, rows, offset, limit, [ids](uint32_t r) { return ~IdPrefix(ids[r]); },
          [ids](uint32_t r) { __builtin_prefetch(&ids[r]); });
    }
    case TaskRunSort::kExpectedStartTimeAsc:
      return by_time(t.expected_start_time, false);
    case TaskRunSort::kExpectedStartTimeDesc:
      return by_time(t.expected_start_time, true);
    case TaskRunSort::kNameAsc:
      return by_name(false);
    case TaskRunSort::kNameDesc:
      return by_name(true);
    case TaskRunSort::kNextScheduledStartTimeAsc:
      return by_time(t.next_scheduled_start_time, false);
    case TaskRunSort::kEndTimeDesc:
      return by_time(t.end_time, true);
  }
  return {};
}

}  // namespace

PageResult Paginate(const Store& store, const PaginateQuery& query) {
  PageResult result;
  const Bitmap rows = MatchTaskRuns(store, query.filters);
  result.count = rows.cardinality();
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  result.rows = SortedPage(store, rows, query.sort, query.offset, limit);
  return result;
}

uint64_t Count(const Store& store, const FilterSet& filters) {
  return MatchTaskRuns(store, filters).cardinality();
}

}  // namespace taskdex
