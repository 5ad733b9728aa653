// engine/internal/leaf_eval.cc

#include "engine/internal/leaf_eval.h"

#include <tuple>

#include "engine/like_pattern.h"
#include "engine/plan_cost.h"

namespace taskdex::engine_internal {

CodeMask MakeCodeMask(std::vector<uint32_t> list, uint32_t dict_size) {
  auto m = std::make_shared<CodeSet>();
  if (list.size() * 32 >= dict_size) {
    m->bits.assign((static_cast<size_t>(dict_size) + 63) / 64, 0);
    for (uint32_t c : list) m->bits[c >> 6] |= uint64_t{1} << (c & 63);
  }
  m->list = std::move(list);
  return m;
}

bool AllCodesOf(const Dictionary& dict, const std::vector<std::string>& values,
                std::vector<uint32_t>* codes) {
  codes->clear();
  for (const std::string& v : values) {
    std::optional<uint32_t> code = dict.Find(v);
    if (!code) return false;
    codes->push_back(*code);
  }
  std::sort(codes->begin(), codes->end());
  codes->erase(std::unique(codes->begin(), codes->end()), codes->end());
  return true;
}

CodeMask CodesOf(const Dictionary& dict, const std::vector<std::string>& values) {
  std::vector<uint32_t> list;
  for (const std::string& v : values) {
    if (std::optional<uint32_t> code = dict.Find(v)) list.push_back(*code);
  }
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  return MakeCodeMask(std::move(list), dict.size());
}

CodeMask LikeCodes(const ExecContext& ctx, const Dictionary& dict, std::string_view like,
                   const TrigramIndex* trigrams, const FoldedNames* folded) {
  using namespace plan_cost;  // NOLINT
  const bool use_cache = ctx.options.use_like_cache;
  if (use_cache) {
    if (CodeMask hit = ctx.store.like_cache->FindCodes(&dict, like)) {
      StepTimer step(ctx, "like_", "cached codes", static_cast<int64_t>(hit->list.size()));
      step.Done(hit->list.size());
      return hit;
    }
  }
  const LikePattern pattern(like);
  const uint32_t n = dict.size();
  const bool folded_ok = folded != nullptr && folded->size() == n;
  // The alternatives: a scan of the folded copy (memchr/memmem or the
  // matcher per entry), the trigram candidates verified one by one, or the
  // matcher on every entry of the dictionary (no folded copy).
  const double scan_ns = folded_ok ? (pattern.single_literal()
                                          ? kLikeScanByteNs * static_cast<double>(folded->bytes())
                                          : kLikeEntryNs * n)
                                   : kLikeEntryNs * 2 * n;
  LikeChoice choice = ctx.options.like;
  std::optional<Bitmap> candidates;
  if (trigrams != nullptr && choice != LikeChoice::kFoldedScan &&
      choice != LikeChoice::kEntryScan && ctx.options.access != AccessPathChoice::kScan) {
    candidates = trigrams->Candidates(like);
  }
  if (choice == LikeChoice::kAuto) {
    if (candidates && kLikeEntryNs * 2 * static_cast<double>(candidates->cardinality()) < scan_ns) {
      choice = LikeChoice::kTrigram;
    } else {
      choice = folded_ok ? LikeChoice::kFoldedScan : LikeChoice::kEntryScan;
    }
  }
  if (choice == LikeChoice::kTrigram && !candidates) choice = LikeChoice::kEntryScan;
  if (choice == LikeChoice::kFoldedScan && !folded_ok) choice = LikeChoice::kEntryScan;
  std::vector<uint32_t> list;
  const char* path = choice == LikeChoice::kTrigram      ? "trigram candidates + verify"
                     : choice == LikeChoice::kFoldedScan ? "folded dictionary scan"
                                                         : "dictionary scan";
  StepTimer step(ctx, "like_", path,
                 choice == LikeChoice::kTrigram ? static_cast<int64_t>(candidates->cardinality())
                                                : int64_t{n});
  if (choice == LikeChoice::kTrigram) {
    ForEachRow(*candidates, [&](uint32_t code) {
      if (code < n && pattern.Matches(dict.Get(code))) list.push_back(code);
    });
  } else if (choice == LikeChoice::kFoldedScan) {
    list = folded->Match(pattern);
  } else {
    for (uint32_t code = 0; code < n; ++code) {
      if (pattern.Matches(dict.Get(code))) list.push_back(code);
    }
  }
  step.Done(list.size());
  CodeMask m = MakeCodeMask(std::move(list), n);
  if (use_cache) ctx.store.like_cache->PutCodes(&dict, like, m);
  return m;
}

namespace {

// P: PostingIndex or CodeRows (the same questions, index/code_rows.h).
template <typename P>
Bitmap RowsWithCodeIn(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                      const P* postings) {
  using namespace plan_cost;  // NOLINT
  if (mask->list.empty()) return Bitmap();
  const uint32_t n = static_cast<uint32_t>(codes.size());
  if (postings != nullptr) {
    // A union opens each posting and copies its rows; a scan of the code
    // column tests every row against the code bitset.
    const double k = static_cast<double>(mask->list.size());
    const double scan_ns = kScanRowNs * n;
    // The union's row count is only summed when the union could win.
    bool use_postings = k * kPostingOpenNs < scan_ns;
    uint64_t est = 0;
    if (use_postings) {
      est = postings->SumCardinality(mask->list);
      use_postings = UnionNs(mask->list.size(), est, n) < scan_ns;
    }
    if (ctx.UseIndex(true, use_postings)) {
      StepTimer step(ctx, "codes", "posting union", static_cast<int64_t>(est));
      Bitmap b = postings->Union(mask->list);
      step.Done(b.cardinality());
      return b;
    }
  }
  StepTimer step(ctx, "codes", "column scan with code bitset");
  const uint32_t* c = codes.data();
  const CodeSet& set = *mask;
  Bitmap b = ScanRows(n, [c, &set](uint32_t r) { return set.Has(c[r]); });
  step.Done(b.cardinality());
  return b;
}

}  // namespace

Bitmap RowsWithCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                    const PostingIndex* postings) {
  return RowsWithCodeIn(ctx, codes, mask, postings);
}

Bitmap RowsWithCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                    const CodeRows* postings) {
  return RowsWithCodeIn(ctx, codes, mask, postings);
}

// Rows whose code is non-NULL and not in `mask`.
Bitmap RowsWithOtherCode(const ExecContext& ctx, std::span<const uint32_t> codes, const CodeMask& mask,
                         const PostingIndex* postings) {
  if (postings != nullptr && ctx.UseIndex(true, postings->num_codes() <= 256)) {
    StepTimer step(ctx, "other codes", "posting union");
    std::vector<uint32_t> others;
    for (uint32_t c = 0; c < postings->num_codes(); ++c) {
      if (!mask->Has(c)) others.push_back(c);
    }
    Bitmap b = postings->Union(others);
    step.Done(b.cardinality());
    return b;
  }
  return ScanRows(static_cast<uint32_t>(codes.size()), [&](uint32_t r) {
    return codes[r] != kNullCode && !mask->Has(codes[r]);
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
Pred EvalName(const ExecContext& ctx, const NameFilter& f, const Dictionary& dict, std::span<const uint32_t> codes,
              const PostingIndex* postings, const TrigramIndex* trigrams, const FoldedNames* folded) {
  Level level(BoolOp::kAnd);
  if (f.any) level.Add(RowsWithCode(ctx, codes, CodesOf(dict, *f.any), postings));
  if (f.like && !f.like->empty() && !level.done()) {
    level.Add(RowsWithCode(ctx, codes, LikeCodes(ctx, dict, *f.like, trigrams, folded), postings));
  }
  return level.Finish();
}

// *FilterTags: all_ (non-empty), any_ (even []), is_null_ (empty array).
Pred EvalTags(const ExecContext& ctx, const TagsFilter& f, const Dictionary& dict, const CodeLists& tags, uint32_t n,
              const PostingIndex* postings, const Bitmap* has_tags) {
  Level level(f.op);
  if (f.all && !f.all->empty()) {
    std::vector<uint32_t> want;
    const bool all_known = AllCodesOf(dict, *f.all, &want);
    if (!all_known) {
      level.Add(Bitmap());
    } else if (postings != nullptr && ctx.UseIndex(true, true)) {
      StepTimer step(ctx, "tags.all_", "posting intersection", -1);
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
    if (mask->list.empty()) {
      level.Add(Bitmap());
    } else if (postings != nullptr && ctx.UseIndex(true, true)) {
      StepTimer step(ctx, "tags.any_", "posting union",
                     static_cast<int64_t>(postings->SumCardinality(mask->list)));
      Bitmap b = postings->Union(mask->list);
      step.Done(b.cardinality());
      level.Add(std::move(b));
    } else {
      level.Add(ScanRows(n, [&](uint32_t r) {
        for (uint32_t c : tags.Of(r)) {
          if (mask->Has(c)) return true;
        }
        return false;
      }));
    }
  }
  if (f.is_null && !level.done()) {
    const bool want_empty = *f.is_null;
    if (has_tags != nullptr && ctx.UseIndex(true, true)) {
      level.Add(want_empty ? AllRows(n) - *has_tags : *has_tags);
    } else {
      level.Add(ScanRows(n, [&](uint32_t r) { return tags.Of(r).empty() == want_empty; }));
    }
  }
  return level.Finish();
}

// String column filters on a dictionary-coded, nullable column.
Pred EvalStringsOnCodes(const ExecContext& ctx, const StringsFilter& f, const Dictionary& dict,
                        std::span<const uint32_t> codes) {
  Level level(f.op);
  const PostingIndex* no_postings = nullptr;
  if (f.any) level.Add(RowsWithCode(ctx, codes, CodesOf(dict, *f.any), no_postings));
  if (f.not_any && !f.not_any->empty() && !level.done()) {
    level.Add(RowsWithOtherCode(ctx, codes, CodesOf(dict, *f.not_any), nullptr));
  }
  if (f.is_null && !level.done()) {
    const bool want_null = *f.is_null;
    level.Add(ScanRows(static_cast<uint32_t>(codes.size()),
                       [&](uint32_t r) { return (codes[r] == kNullCode) == want_null; }));
  }
  return level.Finish();
}

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

Pred EvalTime(const TimeFilter& f, std::span<const Micros> col) {
  return EvalTime(f, static_cast<uint32_t>(col.size()), [&](uint32_t r) { return col[r]; }, col);
}

RangeLeaf MakeRangeLeaf(const TimeFilter& f, std::span<const Micros> col,
                        const SortedOrder* order, std::span<const Uuid> ids, const char* what) {
  RangeLeaf leaf{col, order, ids, f.after ? *f.after : INT64_MIN + 1,  // kNullMicros is INT64_MIN
                 f.before ? *f.before : INT64_MAX, what};
  if (order != nullptr && order->size() == col.size()) {
    const TaskRunTimeKeys keys{col, ids};
    std::tie(leaf.first, leaf.last) = order->Range(leaf.lo, leaf.hi, keys);
    leaf.has_positions = true;
  }
  return leaf;
}

// The rows of a range leaf: the sorted range of its order when the range is
// small, else a column scan.
Bitmap MaterializeRange(const ExecContext& ctx, const RangeLeaf& leaf) {
  const uint32_t n = static_cast<uint32_t>(leaf.col.size());
  const uint64_t k = leaf.Estimate();
  if (leaf.has_positions && ctx.UseIndex(true, k * 8 < n)) {
    StepTimer step(ctx, leaf.what, "sorted range", static_cast<int64_t>(k));
    Bitmap b = leaf.order->RowsAt(leaf.first, leaf.last);
    step.Done(b.cardinality());
    return b;
  }
  StepTimer step(ctx, leaf.what, "column scan", leaf.has_positions ? static_cast<int64_t>(k) : -1);
  Bitmap b = ScanRows(n, [&](uint32_t r) { return leaf.Contains(r); });
  step.Done(b.cardinality());
  return b;
}

// A task-run time column with its presence bitmap and, optionally, a sorted
// order over it: before_/after_ become a binary-searched range of the order
// when the range is small, is_null_ the presence bitmap. With `defer`, the
// range is appended there instead (for ApplyRangeLeaves).
Pred EvalTimeIndexed(const ExecContext& ctx, const TimeFilter& f, std::span<const Micros> col, const Bitmap& present,
                     const SortedOrder* order, std::span<const Uuid> ids, const char* what,
                     std::vector<RangeLeaf>* defer) {
  if (!f.before && !f.after && !f.is_null) return std::nullopt;
  const uint32_t n = static_cast<uint32_t>(col.size());
  Level level(BoolOp::kAnd);
  if (f.before || f.after) {
    RangeLeaf leaf = MakeRangeLeaf(f, col, order, ids, what);
    if (defer != nullptr) {
      defer->push_back(leaf);
    } else {
      level.Add(MaterializeRange(ctx, leaf));
    }
  }
  if (f.is_null && !level.done()) {
    if (ctx.UseIndex(true, true)) {
      level.Add(*f.is_null ? AllRows(n) - present : present);
    } else {
      const bool want_null = *f.is_null;
      level.Add(ScanRows(n, [&](uint32_t r) { return (col[r] == kNullMicros) == want_null; }));
    }
  }
  return level.Finish();
}

Bitmap RowsWithRefIn(std::span<const std::optional<Uuid>> col, const std::vector<Uuid>& ids) {
  const UuidSet set(ids);
  if (set.empty()) return Bitmap();
  return ScanRows(static_cast<uint32_t>(col.size()),
                  [&](uint32_t r) { return col[r].has_value() && set.Has(*col[r]); });
}

Bitmap RowsWithRefNull(std::span<const std::optional<Uuid>> col, bool want_null) {
  return ScanRows(static_cast<uint32_t>(col.size()),
                  [&](uint32_t r) { return col[r].has_value() != want_null; });
}

// Nullable UUID reference column: any_ (even []), is_null_.
Pred EvalUuidRef(const UuidRefFilter& f, std::span<const std::optional<Uuid>> col) {
  Level level(f.op);
  if (f.any) level.Add(RowsWithRefIn(col, *f.any));
  if (f.is_null && !level.done()) level.Add(RowsWithRefNull(col, *f.is_null));
  return level.Finish();
}

// The state nodes (paginate.md 4.1): a child contributes only when it has
// exactly one criterion; zero or two criteria drop it.
Pred EvalState(const ExecContext& ctx, const StateFilter& f, std::span<const uint8_t> types, const Dictionary& names,
               std::span<const uint32_t> name_codes, const PostingIndex* type_postings,
               const PostingIndex* name_postings) {
  Level level(f.op);
  if (f.type) {
    const StateTypesFilter& t = *f.type;
    const bool has_any = t.any.has_value();
    const bool has_not_any = t.not_any && !t.not_any->empty();
    if (has_any != has_not_any) {
      bool in[kNumStateTypes] = {};
      for (StateType s : has_any ? *t.any : *t.not_any) in[static_cast<int>(s)] = true;
      const bool want_in = has_any;
      if (type_postings != nullptr && ctx.UseIndex(true, true)) {
        std::vector<uint32_t> codes;
        for (int v = 0; v < kNumStateTypes; ++v) {
          if (in[v] == want_in) codes.push_back(static_cast<uint32_t>(v));
        }
        StepTimer step(ctx, "state.type", "posting union",
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
        level.Add(RowsWithCode(ctx, name_codes, CodesOf(names, *s.any), name_postings));
      } else {
        level.Add(RowsWithOtherCode(ctx, name_codes, CodesOf(names, *s.not_any), name_postings));
      }
    }
  }
  return level.Finish();
}
}  // namespace taskdex::engine_internal
