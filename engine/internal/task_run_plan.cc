// engine/internal/task_run_plan.cc

#include "engine/internal/task_run_plan.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/internal/join_plan.h"
#include "engine/internal/leaf_eval.h"
#include "engine/internal/plan_node.h"
#include "engine/like_pattern.h"
#include "engine/plan_cost.h"
#include "index/posting_index.h"

namespace taskdex::engine_internal {
namespace {

using namespace plan_cost;  // NOLINT
using Kids = std::vector<std::optional<PlanNode>>;

// One leaf over task-run rows: its index (when it has one) and its per-row
// check; a full scan is ScanRows with the check.
struct LeafSpec {
  std::string what;
  uint64_t estimate = 0;
  std::function<uint64_t()> estimate_fn;
  bool exact = false;  // `estimate` is the exact row count
  bool has_index = false;
  double index_ns = 0;
  const char* index_path = "index";
  std::function<Bitmap()> index;
  double scan_row_ns = kScanRowNs;  // per row of a full scan with the check
  double check_ns = kCheckRowNs;
  std::function<bool(RowId)> check;
  std::function<const void*(RowId)> addr;
  std::function<Bitmap()> scan;  // ScanRows with the check inlined (SetCheck)
  const void* key_column = nullptr;  // see PlanNode::key_column
  int64_t key_lo = 0;
  int64_t key_hi = 0;
};

// Sets the leaf's check and its full scan, which inlines the check (a call
// through std::function per row would cost more than the test).
template <typename F>
void SetCheck(LeafSpec* spec, uint32_t n, F check) {
  spec->check = check;
  spec->scan = [n, check] { return ScanRows(n, check); };
}

PlanNode Leaf(const ExecContext& ctx, LeafSpec spec, uint32_t n) {
  PlanNode node;
  node.what = std::move(spec.what);
  node.estimate = spec.estimate;
  node.estimate_fn = std::move(spec.estimate_fn);
  if (spec.exact) node.exact_count = [e = spec.estimate] { return e; };
  node.check_ns = spec.check_ns;
  node.check = spec.check;
  node.check_addr = std::move(spec.addr);
  node.key_column = spec.key_column;
  node.key_lo = spec.key_lo;
  node.key_hi = spec.key_hi;
  const double scan_ns = spec.scan_row_ns * n;
  // For Explain: the two ways to materialize, with their estimated costs.
  const std::string weighed =
      !ctx.tracing() ? std::string()
      : spec.has_index
          ? absl::StrFormat(" [%s %.1fus, column scan %.1fus]", spec.index_path,
                            spec.index_ns / 1000, scan_ns / 1000)
          : absl::StrFormat(" [column scan %.1fus, no index]", scan_ns / 1000);
  if (ctx.UseIndex(spec.has_index, spec.index_ns <= scan_ns)) {
    node.materialize_ns = spec.index_ns;
    node.path = spec.index_path + weighed;
    node.materialize = std::move(spec.index);
  } else {
    node.materialize_ns = scan_ns;
    node.path = "column scan" + weighed;
    if (spec.scan) {
      node.materialize = std::move(spec.scan);
    } else {
      node.materialize = [check = std::move(spec.check), n] { return ScanRows(n, check); };
    }
  }
  return node;
}

uint64_t Card(const Bitmap& b) { return b.cardinality(); }

// ---------------------------------------------------------------------------
// TaskRunFilter leaves (paginate.md 4.4)

void AddNameLeaves(const ExecContext& ctx, const NameFilter& f, Kids* kids) {
  const Store& s = ctx.store;
  const TaskRunTable& t = s.task_runs;
  const TaskRunIndexes& x = s.task_run_index;
  const uint32_t n = t.size();
  const uint32_t* names = t.name.data();
  if (f.any) {
    CodeMask m = CodesOf(s.task_run_names, *f.any);
    if (m->list.empty()) {
      kids->push_back(NoRows("task_runs.name.any_"));
    } else {
      LeafSpec spec;
      spec.what = "task_runs.name.any_";
      spec.has_index = x.built;
      spec.estimate = x.built ? x.name.SumCardinality(m->list) : n;
      spec.exact = x.built;
      spec.index_ns = UnionNs(m->list.size(), spec.estimate, n);
      spec.index_path = "posting union";
      spec.index = [&x, m] { return x.name.Union(m->list); };
      SetCheck(&spec, n, [names, m](RowId r) { return m->Has(names[r]); });
      spec.addr = [names](RowId r) { return static_cast<const void*>(names + r); };
      spec.key_column = &t.name;
      spec.key_lo = m->list.front();
      spec.key_hi = m->list.back();
      kids->push_back(Leaf(ctx, std::move(spec), n));
    }
  }
  if (f.like && !f.like->empty()) {
    const std::string like = *f.like;
    const bool use_cache = ctx.options.use_like_cache;
    std::shared_ptr<const Bitmap> rows =
        use_cache ? s.like_cache->FindRows(&t.name, like) : nullptr;
    if (rows) {
      PlanNode node = KnownRows("task_runs.name.like_", *rows, kCheckRowNs * 2);
      node.path = "cached rows";
      // The matching codes bound the rows' names: a NAME sort walks only
      // that part of its order (page_cut.h SortWindow).
      if (CodeMask codes = s.like_cache->FindCodes(&s.task_run_names, like);
          codes && !codes->list.empty()) {
        node.key_column = &t.name;
        node.key_lo = codes->list.front();
        node.key_hi = codes->list.back();
      }
      kids->push_back(std::move(node));
      return;
    }
    CodeMask codes = use_cache ? s.like_cache->FindCodes(&s.task_run_names, like) : nullptr;
    auto pattern = std::make_shared<const LikePattern>(like);
    const Dictionary* dict = &s.task_run_names;
    PlanNode node;
    node.what = "task_runs.name.like_";
    if (codes) {
      node.check = [names, codes](RowId r) { return codes->Has(names[r]); };
      node.check_ns = kCheckRowNs;
      if (!codes->list.empty()) {
        node.key_column = &t.name;
        node.key_lo = codes->list.front();
        node.key_hi = codes->list.back();
      }
    } else {
      node.check = [names, dict, pattern](RowId r) { return pattern->Matches(dict->Get(names[r])); };
      node.check_ns = kCheckLikeRowNs;
      // Many candidates: find the codes once, then test a bit per row.
      const ExecContext* pc = &ctx;
      node.prepare_check = [pc, like, names] {
        const Store& st = pc->store;
        CodeMask m = LikeCodes(*pc, st.task_run_names, like,
                               st.trigrams.built ? &st.trigrams.task_run_names : nullptr,
                               &st.folded.task_run_names);
        return std::function<bool(RowId)>([names, m](RowId r) { return m->Has(names[r]); });
      };
      node.prepared_check_ns = kCheckRowNs;
    }
    node.check_addr = [names](RowId r) { return static_cast<const void*>(names + r); };
    // Estimate: the share of evenly spaced sample rows that match.
    node.estimate = n;
    node.estimate_fn = [n, check = node.check] {
      if (n == 0) return uint64_t{0};
      const uint32_t samples = std::min<uint32_t>(n, kLikeSampleRows);
      uint32_t hits = 0;
      for (uint32_t i = 0; i < samples; ++i) {
        hits += check(static_cast<RowId>(uint64_t{i} * n / samples)) ? 1 : 0;
      }
      return std::max<uint64_t>(1, uint64_t{hits} * n / samples);
    };
    const double scan_ns =
        codes ? 0
              : (s.folded.task_run_names.size() == dict->size()
                     ? kLikeScanByteNs * static_cast<double>(s.folded.task_run_names.bytes())
                     : kLikeEntryNs * dict->size());
    node.materialize_ns = scan_ns + kScanRowNs * n;
    node.prepare_ns = scan_ns;
    node.path = codes ? "cached codes -> rows" : "dictionary -> codes -> rows";
    const ExecContext* c = &ctx;
    node.materialize = [c, like, use_cache] {
      const Store& st = c->store;
      const TaskRunIndexes& xi = st.task_run_index;
      CodeMask m = LikeCodes(*c, st.task_run_names, like,
                             st.trigrams.built ? &st.trigrams.task_run_names : nullptr,
                             &st.folded.task_run_names);
      Bitmap b = RowsWithCode(*c, st.task_runs.name, m, xi.built ? &xi.name : nullptr);
      if (use_cache) st.like_cache->PutRows(&st.task_runs.name, like, std::make_shared<Bitmap>(b));
      return b;
    };
    kids->push_back(std::move(node));
  }
}

std::optional<PlanNode> TagsNode(const ExecContext& ctx, const TagsFilter& f) {
  const Store& s = ctx.store;
  const TaskRunTable& t = s.task_runs;
  const TaskRunIndexes& x = s.task_run_index;
  const uint32_t n = t.size();
  const CodeLists* tags = &t.tags;
  Kids kids;
  if (f.all && !f.all->empty()) {
    std::vector<uint32_t> want;
    const bool all_known = AllCodesOf(s.tags, *f.all, &want);
    if (!all_known) {
      kids.push_back(NoRows("task_runs.tags.all_"));
    } else {
      auto w = std::make_shared<const std::vector<uint32_t>>(std::move(want));
      LeafSpec spec;
      spec.what = "task_runs.tags.all_";
      spec.has_index = x.built;
      uint64_t smallest = n;
      uint64_t total = 0;
      if (x.built) {
        for (uint32_t c : *w) {
          smallest = std::min(smallest, x.tags.Cardinality(c));
          total += x.tags.Cardinality(c);
        }
      }
      spec.estimate = smallest;
      spec.index_ns = UnionNs(w->size(), total, n) + kIntersectRowNs * static_cast<double>(total);
      spec.index_path = "posting intersection";
      spec.index = [&x, w] {
        std::vector<const Bitmap*> parts;
        for (uint32_t c : *w) parts.push_back(&x.tags.Get(c));
        std::sort(parts.begin(), parts.end(), [](const Bitmap* a, const Bitmap* b) {
          return a->cardinality() < b->cardinality();
        });
        Bitmap b = *parts[0];
        for (size_t i = 1; i < parts.size() && !b.isEmpty(); ++i) b &= *parts[i];
        return b;
      };
      SetCheck(&spec, n, [tags, w](RowId r) {
        std::span<const uint32_t> have = tags->Of(r);
        for (uint32_t c : *w) {
          if (std::find(have.begin(), have.end(), c) == have.end()) return false;
        }
        return true;
      });
      spec.check_ns = 2 * kCheckRowNs;
      spec.scan_row_ns = 3 * kScanRowNs;
      kids.push_back(Leaf(ctx, std::move(spec), n));
    }
  }
  if (f.any) {
    CodeMask m = CodesOf(s.tags, *f.any);
    if (m->list.empty()) {
      kids.push_back(NoRows("task_runs.tags.any_"));
    } else {
      LeafSpec spec;
      spec.what = "task_runs.tags.any_";
      spec.has_index = x.built;
      spec.estimate = x.built ? std::min<uint64_t>(n, x.tags.SumCardinality(m->list)) : n;
      spec.index_ns = UnionNs(m->list.size(), spec.estimate, n);
      spec.index_path = "posting union";
      spec.index = [&x, m] { return x.tags.Union(m->list); };
      SetCheck(&spec, n, [tags, m](RowId r) {
        for (uint32_t c : tags->Of(r)) {
          if (m->Has(c)) return true;
        }
        return false;
      });
      spec.check_ns = 2 * kCheckRowNs;
      spec.scan_row_ns = 3 * kScanRowNs;
      kids.push_back(Leaf(ctx, std::move(spec), n));
    }
  }
  if (f.is_null) {
    const bool want_empty = *f.is_null;
    LeafSpec spec;
    spec.what = "task_runs.tags.is_null_";
    spec.has_index = x.built;
    const uint64_t with = x.built ? Card(x.has_tags) : n / 2;
    spec.estimate = want_empty ? n - std::min<uint64_t>(with, n) : with;
    spec.exact = x.built;
    spec.index_ns = BitmapNs(spec.estimate, n);
    spec.index_path = "presence bitmap";
    spec.index = [&x, want_empty, n] { return want_empty ? AllRows(n) - x.has_tags : x.has_tags; };
    SetCheck(&spec, n, [tags, want_empty](RowId r) { return tags->Of(r).empty() == want_empty; });
    kids.push_back(Leaf(ctx, std::move(spec), n));
  }
  return MakeLevel(ctx, f.op, "task_runs.tags", std::move(kids), n);
}

std::optional<PlanNode> StateNode(const ExecContext& ctx, const StateFilter& f) {
  const Store& s = ctx.store;
  const TaskRunTable& t = s.task_runs;
  const TaskRunIndexes& x = s.task_run_index;
  const uint32_t n = t.size();
  Kids kids;
  // A child contributes only when it has exactly one criterion (4.1).
  if (f.type) {
    const StateTypesFilter& ty = *f.type;
    const bool has_any = ty.any.has_value();
    const bool has_not_any = ty.not_any && !ty.not_any->empty();
    if (has_any != has_not_any) {
      auto in = std::make_shared<std::array<uint8_t, 256>>();
      in->fill(0);
      for (StateType st : has_any ? *ty.any : *ty.not_any) (*in)[static_cast<int>(st)] = 1;
      const uint8_t want = has_any ? 1 : 0;
      auto codes = std::make_shared<std::vector<uint32_t>>();
      for (int v = 0; v < kNumStateTypes; ++v) {
        if ((*in)[v] == want) codes->push_back(static_cast<uint32_t>(v));
      }
      const uint8_t* types = t.state_type.data();
      LeafSpec spec;
      spec.what = "task_runs.state.type";
      spec.has_index = x.built;
      spec.estimate = x.built ? x.state_type.SumCardinality(*codes) : n;
      spec.exact = x.built;
      spec.index_ns = UnionNs(codes->size(), spec.estimate, n);
      spec.index_path = "posting union";
      spec.index = [&x, codes] { return x.state_type.Union(*codes); };
      SetCheck(&spec, n, [types, in, want](RowId r) {
        const uint8_t v = types[r];
        return v != kNullStateType && v < kNumStateTypes && (*in)[v] == want;
      });
      spec.addr = [types](RowId r) { return static_cast<const void*>(types + r); };
      kids.push_back(Leaf(ctx, std::move(spec), n));
    }
  }
  if (f.name) {
    const StringsFilter& sn = *f.name;
    const bool has_any = sn.any.has_value();
    const bool has_not_any = sn.not_any && !sn.not_any->empty();
    if (has_any != has_not_any) {
      CodeMask m = CodesOf(s.state_names, has_any ? *sn.any : *sn.not_any);
      const uint32_t* codes = t.state_name.data();
      if (has_any && m->list.empty()) {
        kids.push_back(NoRows("task_runs.state.name.any_"));
      } else {
        LeafSpec spec;
        spec.what = has_any ? "task_runs.state.name.any_" : "task_runs.state.name.not_any_";
        spec.has_index = x.built;
        const uint64_t in_rows = x.built ? x.state_name.SumCardinality(m->list) : n;
        spec.estimate = has_any ? in_rows : n;
        spec.exact = has_any && x.built;
        spec.index_ns = has_any ? UnionNs(m->list.size(), in_rows, n)
                                : UnionNs(x.state_name.num_codes(), n, n);
        spec.index_path = "posting union";
        const ExecContext* c = &ctx;
        if (has_any) {
          spec.index = [&x, m] { return x.state_name.Union(m->list); };
          SetCheck(&spec, n, [codes, m](RowId r) { return m->Has(codes[r]); });
        } else {
          spec.index = [c, m] {
            return RowsWithOtherCode(*c, c->store.task_runs.state_name, m,
                                     &c->store.task_run_index.state_name);
          };
          SetCheck(&spec, n, [codes, m](RowId r) { return codes[r] != kNullCode && !m->Has(codes[r]); });
        }
        spec.addr = [codes](RowId r) { return static_cast<const void*>(codes + r); };
        kids.push_back(Leaf(ctx, std::move(spec), n));
      }
    }
  }
  return MakeLevel(ctx, f.op, "task_runs.state", std::move(kids), n);
}

void AddTimeLeaves(const ExecContext& ctx, const TimeFilter& f, const ArrayColumn<Micros>& col,
                   const Bitmap& present, const SortedOrder* order, const char* what,
                   Kids* kids) {
  const Store& s = ctx.store;
  const TaskRunIndexes& x = s.task_run_index;
  const uint32_t n = static_cast<uint32_t>(col.size());
  const Micros* c = col.data();
  if (f.before || f.after) {
    auto leaf = std::make_shared<RangeLeaf>(
        MakeRangeLeaf(f, col, x.built ? order : nullptr, s.task_runs.id, what));
    LeafSpec spec;
    spec.what = std::string(what) + " range";
    spec.has_index = leaf->has_positions;
    spec.estimate = leaf->Estimate();
    spec.exact = leaf->has_positions;
    spec.index_ns = kSortedRangeRowNs * static_cast<double>(spec.estimate);
    spec.index_path = "sorted range";
    spec.index = [leaf] { return leaf->order->RowsAt(leaf->first, leaf->last); };
    // NULL is kNullMicros = INT64_MIN, below every lower bound.
    SetCheck(&spec, n, [c, lo = leaf->lo, hi = leaf->hi](RowId r) {
      const Micros v = c[r];
      return v >= lo && v <= hi;
    });
    spec.addr = [c](RowId r) { return static_cast<const void*>(c + r); };
    spec.key_column = &col;
    spec.key_lo = leaf->lo;
    spec.key_hi = leaf->hi;
    kids->push_back(Leaf(ctx, std::move(spec), n));
  }
  // A range never matches NULL (paginate.md 4.4.5), so next to one
  // `is_null_: false` adds nothing and `is_null_: true` matches nothing.
  // Dropping the redundant leaf matters to the plan, not the answer: an and_
  // of a range and a presence bitmap was costed as "presence bitmap, then
  // check the range on ~every row" (24 ms at 1M) instead of one column scan
  // (1.5 ms); `taskdex bench --random` found it (bench/RESULTS.md, session 9).
  if (f.is_null && (f.before || f.after)) {
    if (*f.is_null) kids->push_back(NoRows(std::string(what) + ".is_null_ with a range"));
    return;
  }
  if (f.is_null) {
    const bool want_null = *f.is_null;
    LeafSpec spec;
    spec.what = std::string(what) + ".is_null_";
    spec.has_index = x.built;
    const uint64_t with = x.built ? Card(present) : n / 2;
    spec.estimate = want_null ? n - std::min<uint64_t>(with, n) : with;
    spec.exact = x.built;
    spec.index_ns = BitmapNs(spec.estimate, n);
    spec.index_path = "presence bitmap";
    spec.index = [&present, want_null, n] { return want_null ? AllRows(n) - present : present; };
    SetCheck(&spec, n, [c, want_null](RowId r) { return (c[r] == kNullMicros) == want_null; });
    spec.addr = [c](RowId r) { return static_cast<const void*>(c + r); };
    kids->push_back(Leaf(ctx, std::move(spec), n));
  }
}

// flow_run_id in ids, comparing the stored id (orphans included).
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
    // Only a row without a joined flow run (few: orphans, NULLs) can hold
    // an id not in flow_run_by_id; a scan of every row cost 1 ms a million
    // rows in each segment of a live store.
    const UuidSet set(unresolved);
    const ArrayColumn<std::optional<Uuid>>& col = s.task_runs.flow_run_id;
    const Bitmap unjoined = AllRows(s.task_runs.size()) - s.task_runs_with_flow_run;
    result |= FilterRows(unjoined, [&](uint32_t r) { return col[r].has_value() && set.Has(*col[r]); });
  }
  return result;
}

// Rows whose flow_run_id is (not) NULL. Rows with a resolved flow run have
// a non-NULL id, so only the others (NULL or orphan) need the column.
Bitmap FlowRunIdNullRows(const Store& s, bool want_null) {
  const TaskRunTable& t = s.task_runs;
  const Bitmap unjoined = AllRows(t.size()) - s.task_runs_with_flow_run;
  if (s.report.orphan_task_runs == 0) return want_null ? unjoined : s.task_runs_with_flow_run;
  Bitmap b = FilterRows(
      unjoined, [&](uint32_t r) { return t.flow_run_id[r].has_value() != want_null; },
      [&](uint32_t r) { return &t.flow_run_id[r]; });
  if (!want_null) b |= s.task_runs_with_flow_run;
  return b;
}

// TaskRunFilterFlowRunId (4.4.9): at most one criterion.
std::optional<PlanNode> FlowRunIdNode(const ExecContext& ctx, const UuidRefFilter& f) {
  const Store& s = ctx.store;
  const TaskRunTable& t = s.task_runs;
  const uint32_t n = t.size();
  if (f.is_null && (f.is_null == true || !f.any)) {
    const bool want_null = *f.is_null;
    const std::optional<Uuid>* ids = t.flow_run_id.data();
    LeafSpec spec;
    spec.what = "task_runs.flow_run_id.is_null_";
    spec.has_index = true;
    const uint64_t joined = Card(s.task_runs_with_flow_run);
    spec.estimate = want_null ? n - std::min<uint64_t>(joined, n) : joined;
    spec.exact = s.report.orphan_task_runs == 0;
    spec.index_ns = BitmapNs(n, n);
    spec.index_path = s.report.orphan_task_runs == 0 ? "joined rows or their complement"
                                                     : "complement of joined rows + check";
    spec.index = [&s, want_null] { return FlowRunIdNullRows(s, want_null); };
    SetCheck(&spec, n, [ids, want_null](RowId r) { return ids[r].has_value() != want_null; });
    spec.addr = [ids](RowId r) { return static_cast<const void*>(ids + r); };
    return Leaf(ctx, std::move(spec), n);
  }
  if (f.any) {
    return KnownRows("task_runs.flow_run_id.any_", TaskRunsWithFlowRunIdIn(s, *f.any),
                     2 * kCheckRowNs);
  }
  return std::nullopt;
}

// The criteria of a TaskRunFilter, in its operator's level.
Kids TaskRunKids(const ExecContext& ctx, const TaskRunFilter& f) {
  const Store& s = ctx.store;
  const TaskRunTable& t = s.task_runs;
  const TaskRunIndexes& x = s.task_run_index;
  const uint32_t n = t.size();
  Kids kids;
  if (f.id) {
    Pred p = EvalId(*f.id, s.task_run_by_id, n);
    kids.push_back(p ? std::optional<PlanNode>(KnownRows("task_runs.id", std::move(*p), 2 * kCheckRowNs))
                     : std::nullopt);
  }
  if (f.name) {
    Kids name;
    AddNameLeaves(ctx, *f.name, &name);
    kids.push_back(MakeLevel(ctx, BoolOp::kAnd, "task_runs.name", std::move(name), n));
  }
  if (f.tags) kids.push_back(TagsNode(ctx, *f.tags));
  if (f.state) kids.push_back(StateNode(ctx, *f.state));
  auto time = [&](const TimeFilter& tf, const ArrayColumn<Micros>& col, const Bitmap& present,
                  const SortedOrder* order, const char* what) {
    Kids leaves;
    AddTimeLeaves(ctx, tf, col, present, order, what, &leaves);
    kids.push_back(MakeLevel(ctx, BoolOp::kAnd, what, std::move(leaves), n));
  };
  if (f.start_time) time(*f.start_time, t.start_time, x.has_start_time, nullptr, "task_runs.start_time");
  if (f.end_time) time(*f.end_time, t.end_time, x.has_end_time, &x.end_time_desc, "task_runs.end_time");
  if (f.expected_start_time) {
    time(*f.expected_start_time, t.expected_start_time, x.has_expected_start_time,
         &x.expected_start_time_asc, "task_runs.expected_start_time");
  }
  if (f.subflow_runs) {
    if (!f.subflow_runs->exists) {
      kids.push_back(std::nullopt);
    } else {
      const bool want = *f.subflow_runs->exists;
      const Bitmap* with = &s.task_runs_with_subflow;
      LeafSpec spec;
      spec.what = "task_runs.subflow_runs.exists_";
      spec.has_index = true;
      spec.estimate = want ? Card(*with) : n - std::min<uint64_t>(Card(*with), n);
      spec.exact = true;
      spec.index_ns = BitmapNs(spec.estimate, n);
      spec.index_path = "subflow bitmap";
      spec.index = [with, want, n] { return want ? *with : AllRows(n) - *with; };
      SetCheck(&spec, n, [with, want](RowId r) { return with->contains(r) == want; });
      spec.check_ns = 2 * kCheckRowNs;
      spec.scan_row_ns = 4 * kScanRowNs;
      kids.push_back(Leaf(ctx, std::move(spec), n));
    }
  }
  if (f.flow_run_id) kids.push_back(FlowRunIdNode(ctx, *f.flow_run_id));
  return kids;
}

}  // namespace

std::vector<PlanNode> PlanTaskRunRows(const ExecContext& ctx, const FilterSet& filters) {
  const uint32_t n = ctx.store.task_runs.size();
  std::vector<PlanNode> kids;
  if (filters.task_runs) {
    const TaskRunFilter& f = *filters.task_runs;
    Kids task_kids = TaskRunKids(ctx, f);
    if (f.op == BoolOp::kAnd) {
      // The task-run AND joins the join's AND: one level to plan.
      for (std::optional<PlanNode>& k : task_kids) {
        if (k) kids.push_back(std::move(*k));
      }
    } else if (std::optional<PlanNode> level =
                   MakeLevel(ctx, BoolOp::kOr, "task_runs (or_)", std::move(task_kids), n)) {
      kids.push_back(std::move(*level));
    }
  }
  if (!(filters.flows || filters.flow_runs || filters.deployments)) return kids;
  // A selective task-run side runs first: the join's sides evaluate their
  // filters on the whole flow-run, flow and deployment tables, which an
  // empty task-run side never needs (and a small one is checked on).
  uint64_t smallest = n;
  for (const PlanNode& k : kids) smallest = std::min(smallest, k.estimate);
  if (!kids.empty() && smallest <= kSmallTaskRunSide) {
    Bitmap rows = RunAnd(ctx, kids, n);
    kids.clear();
    if (rows.isEmpty()) {
      kids.push_back(NoRows("task_runs (none: the join is not evaluated)"));
      return kids;
    }
    kids.push_back(KnownRows("task_runs (materialized first)", std::move(rows), 2 * kCheckRowNs));
  }
  AddJoinSides(ctx, filters, &kids);
  return kids;
}

Bitmap MatchTaskRunRows(const ExecContext& ctx, const FilterSet& filters) {
  std::vector<PlanNode> kids = PlanTaskRunRows(ctx, filters);
  return RunAnd(ctx, kids, ctx.store.task_runs.size());
}

}  // namespace taskdex::engine_internal
