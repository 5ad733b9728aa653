#include "engine/version.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "absl/strings/str_format.h"
#include "engine/sort_spec.h"

namespace taskdex {
namespace {

// The sort key of one row of one segment, comparable across segments (a
// name by its string: segments have their own dictionaries).
struct RowKey {
  bool null = false;
  int64_t time = 0;
  std::string_view name;
  Uuid id;
};

RowKey KeyOf(const Store& store, RowId row, SortKey key) {
  const TaskRunTable& t = store.task_runs;
  RowKey k;
  k.id = t.id[row];
  Micros m = 0;
  switch (key) {
    case SortKey::kId:
      return k;
    case SortKey::kName:
      k.name = store.task_run_names.Get(t.name[row]);
      return k;
    case SortKey::kExpectedStartTime:
      m = t.expected_start_time[row];
      break;
    case SortKey::kNextScheduledStartTime:
      m = t.next_scheduled_start_time[row];
      break;
    case SortKey::kEndTime:
      m = t.end_time[row];
      break;
  }
  k.null = m == kNullMicros;
  k.time = m;
  return k;
}

// Whether `a` comes before `b` in the page order of `spec`.
bool Before(const RowKey& a, const RowKey& b, const SortSpec& spec) {
  if (spec.key != SortKey::kId) {
    if (a.null != b.null) return a.null == spec.nulls_first;
    if (!a.null) {
      int c = 0;
      if (spec.key == SortKey::kName) {
        c = a.name.compare(b.name);
      } else {
        c = a.time < b.time ? -1 : (a.time > b.time ? 1 : 0);
      }
      if (c != 0) return spec.descending ? c > 0 : c < 0;
    }
  }
  return b.id < a.id;  // id DESC
}

// A page without criteria over segments whose sort orders hold every row
// and whose tombstones' positions are known: every segment's live rows are
// its order minus those positions, so the page is found by rank without
// reading the rows before it (a deep page merged offset + limit rows a
// segment: 2 ms at offset 1M after 100k changes, 5 segments).
class LiveOrderMerge {
 public:
  // nullopt when a segment lacks what the selection needs.
  static std::optional<LiveOrderMerge> Of(const Version& v, const std::vector<uint32_t>& used,
                                          TaskRunSort sort) {
    LiveOrderMerge m;
    m.spec_ = SortSpecOf(sort);
    for (uint32_t i : used) {
      const SegmentView& s = v.segments[i];
      const Store& st = *s.store;
      const SortedOrder& order = st.task_run_index.OrderFor(sort);
      if (!st.task_run_index.built || order.size() != st.task_runs.size()) return std::nullopt;
      const Bitmap* skip = &Empty();
      if (!s.dead->isEmpty()) {
        if (!s.dead_positions) return std::nullopt;
        skip = &s.dead_positions->by_sort[static_cast<int>(sort)];
      }
      m.parts_.push_back({i, &st, &order, skip, s.live});
    }
    return m;
  }

  // Rows [offset, offset + limit) of the merged order.
  std::vector<RowRef> Page(uint64_t offset, uint64_t limit) const {
    // c[i]: rows of part i before the page (merged rank < offset). A row's
    // merged rank is its rank in its part plus the rows of every other
    // part before its key; it grows along a part's order, so c[i] is a
    // binary search over that part's live ranks.
    const size_t k = parts_.size();
    std::vector<uint64_t> c(k);
    for (size_t i = 0; i < k; ++i) {
      uint64_t lo = 0, hi = parts_[i].live;
      while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (MergedRank(i, mid) < offset) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      c[i] = lo;
    }
    std::vector<RowRef> out;
    while (out.size() < limit) {
      size_t best = k;
      RowKey best_key;
      for (size_t i = 0; i < k; ++i) {
        if (c[i] >= parts_[i].live) continue;
        const RowKey key = KeyOf(*parts_[i].store, RowAt(i, c[i]), spec_.key);
        if (best == k || Before(key, best_key, spec_)) {
          best = i;
          best_key = key;
        }
      }
      if (best == k) break;
      out.push_back({parts_[best].segment, RowAt(best, c[best]++)});
    }
    return out;
  }

 private:
  struct Part {
    uint32_t segment;
    const Store* store;
    const SortedOrder* order;
    const Bitmap* skip;  // dead positions
    uint64_t live;
  };
  static const Bitmap& Empty() {
    static const Bitmap kEmpty;
    return kEmpty;
  }
  RowId RowAt(size_t i, uint64_t rank) const {
    const Part& p = parts_[i];
    return p.order->At(p.order->NthNotIn(rank, *p.skip));
  }
  // Live rows of part i whose key comes before `key` (rows are unique
  // across parts, so no row ties with it).
  uint64_t LiveBefore(size_t i, const RowKey& key) const {
    const Part& p = parts_[i];
    size_t lo = 0, hi = p.order->size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Before(KeyOf(*p.store, p.order->At(mid), spec_.key), key, spec_)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo - (lo == 0 || p.skip->isEmpty() ? 0 : p.skip->rank(static_cast<uint32_t>(lo - 1)));
  }
  uint64_t MergedRank(size_t i, uint64_t rank) const {
    const RowKey key = KeyOf(*parts_[i].store, RowAt(i, rank), spec_.key);
    uint64_t r = rank;
    for (size_t j = 0; j < parts_.size(); ++j) {
      if (j != i) r += LiveBefore(j, key);
    }
    return r;
  }

  SortSpec spec_;
  std::vector<Part> parts_;
};

bool NoCriteria(const FilterSet& f) {
  return !f.flows && !f.flow_runs && !f.task_runs && !f.deployments;
}

// When the rank selection (LiveOrderMerge) replaces the merge of the
// segments' pages, by cost. The merge reads the key of each of the small
// segments' first offset + limit rows and merges them: kPageMergeRowNs a
// row. The selection does (sum over segments of log2 rows)^2 probes (a
// binary search over each segment's ranks, each probe binary-searching
// the others): kRankProbeNs a probe. Measured with `taskdex bench
// --changes` (1M task runs, 100k generated changes, 5 segments, the UI
// mix): deep_page (offset ~1M, ~35k small-segment rows) 1.85 ms by page
// merge (53 ns a row); by selection ~5,200 probes, 0.33-0.40 ms (70 ns a
// probe), while a top page (offset 0) took 17 us by merge and 460 us by
// selection.
constexpr double kPageMergeRowNs = 50;
constexpr double kRankProbeNs = 70;

}  // namespace

uint64_t Version::LiveTaskRuns() const {
  uint64_t n = 0;
  for (const SegmentView& s : segments) n += s.live;
  return n;
}

uint64_t Version::DeadTaskRuns() const {
  uint64_t n = 0;
  for (const SegmentView& s : segments) n += s.dead->cardinality();
  return n;
}

size_t Version::MemoryBytes() const {
  size_t n = 0;
  for (const SegmentView& s : segments) {
    n += s.store->MemoryBytes() + s.dead->getSizeInBytes();
    if (s.inverse) n += s.inverse->MemoryBytes();
    if (s.dead_positions) n += s.dead_positions->MemoryBytes();
  }
  return n;
}

std::shared_ptr<const Version> SingleSegmentVersion(std::shared_ptr<const Store> store) {
  auto v = std::make_shared<Version>();
  v->number = 1;
  SegmentView s;
  s.id = 1;
  s.live = store->task_runs.size();
  s.store = std::move(store);
  s.dead = std::make_shared<const Bitmap>();
  v->segments.push_back(std::move(s));
  return v;
}

VersionPage Paginate(const Version& version, const PaginateQuery& query,
                     const ExecOptions& options) {
  VersionPage out;
  std::vector<uint32_t> used;
  for (uint32_t i = 0; i < version.segments.size(); ++i) {
    if (version.segments[i].live != 0) used.push_back(i);
  }
  if (used.size() <= 1) {
    if (used.empty()) return out;
    const SegmentView& s = version.segments[used[0]];
    PageResult r = Paginate(*s.store, s.tombstones(), query, options);
    out.count = r.count;
    out.rows.reserve(r.rows.size());
    for (RowId row : r.rows) out.rows.push_back({used[0], row});
    return out;
  }
  const SegmentMergeChoice merge_choice = options.segment_merge;
  auto rank_selection_pays = [&] {
    if (merge_choice != SegmentMergeChoice::kAuto || options.page_cut != PageCutChoice::kAuto) {
      return false;
    }
    const uint64_t lim = static_cast<uint64_t>(std::max<int64_t>(query.limit, 0));
    const uint64_t end = query.offset > UINT64_MAX - lim ? UINT64_MAX : query.offset + lim;
    uint32_t big = used[0];
    for (uint32_t i : used) {
      if (version.segments[i].live > version.segments[big].live) big = i;
    }
    double merge_rows = 0;
    double log_sum = 0;
    for (uint32_t i : used) {
      const uint32_t live = version.segments[i].live;
      if (i != big) merge_rows += static_cast<double>(std::min<uint64_t>(end, live));
      log_sum += std::log2(static_cast<double>(live) + 1);
    }
    return log_sum * log_sum * kRankProbeNs < merge_rows * kPageMergeRowNs;
  };
  if (NoCriteria(query.filters) &&
      (merge_choice == SegmentMergeChoice::kRankSelection || rank_selection_pays())) {
    if (std::optional<LiveOrderMerge> merge = LiveOrderMerge::Of(version, used, query.sort)) {
      for (uint32_t i : used) out.count += version.segments[i].live;
      const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
      if (limit > 0 && query.offset < out.count) out.rows = merge->Page(query.offset, limit);
      return out;
    }
  }
  // The largest segment B, and the others: each other segment gives its
  // first offset + limit rows, merged into L (m rows). At most m of them
  // precede the page, so B gives only its rows at B-ranks
  // [offset - m', offset + limit) with m' = min(m, offset): a window W,
  // not B's whole prefix (a deep page of a large segment stays a walk of
  // its sort order, not a vector of a million rows to merge). The rows
  // before W[0] in the merged order are B's first offset - m' and the L
  // rows before W[0] (when W starts past B's first row, m' = m and they
  // all precede the page); merging W with the rest of L from there gives
  // the page.
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  // The page ends at offset + limit (saturated: offset may be huge).
  const uint64_t end = limit == 0 ? 0
                       : query.offset > UINT64_MAX - limit ? UINT64_MAX
                                                           : query.offset + limit;
  const SortSpec spec = SortSpecOf(query.sort);
  uint32_t big = used[0];
  for (uint32_t i : used) {
    if (version.segments[i].live > version.segments[big].live) big = i;
  }
  struct Keyed {
    RowRef ref;
    RowKey key;
  };
  auto keyed = [&](uint32_t segment, RowId row) {
    return Keyed{{segment, row}, KeyOf(*version.segments[segment].store, row, spec.key)};
  };
  auto before = [&](const Keyed& a, const Keyed& b) { return Before(a.key, b.key, spec); };
  std::vector<Keyed> small;  // L
  PaginateQuery each = query;
  each.offset = 0;
  for (uint32_t i : used) {
    if (i == big) continue;
    const SegmentView& s = version.segments[i];
    each.limit = static_cast<int64_t>(std::min<uint64_t>(end, s.live));
    PageResult r = Paginate(*s.store, s.tombstones(), each, options);
    out.count += r.count;
    const size_t mid = small.size();
    for (RowId row : r.rows) small.push_back(keyed(i, row));
    std::inplace_merge(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(mid),
                       small.end(), before);
  }
  if (small.size() > end) small.resize(end);
  const uint64_t m = small.size();
  const uint64_t m_before = std::min<uint64_t>(m, query.offset);
  const SegmentView& b = version.segments[big];
  PaginateQuery window_query = query;
  window_query.offset = query.offset - m_before;
  window_query.limit = static_cast<int64_t>(std::min<uint64_t>(
      limit == 0 ? 0 : m_before + limit, b.live));
  PageResult window = Paginate(*b.store, b.tombstones(), window_query, options);
  out.count += window.count;
  if (limit == 0) return out;
  // Merged rank of the first row to emit, then the merge of W and L.
  size_t j = 0;  // next L row
  uint64_t rank = window_query.offset;
  if (window_query.offset == 0) {
    rank = 0;  // W is B's prefix: a plain merge from the start
  } else if (!window.rows.empty()) {
    // Here m' = m <= offset, so W[0]'s rank, offset - m + j, is at most
    // offset: the skipped rows all precede the page.
    const Keyed first = keyed(big, window.rows[0]);
    while (j < small.size() && before(small[j], first)) ++j;
    rank += j;
  } else if (window.count != 0) {
    return out;  // B and L together end before the page
  } else {
    rank = 0;  // B has no match: the merged order is L
  }
  size_t w = 0;
  Keyed head_w = window.rows.empty() ? Keyed{} : keyed(big, window.rows[0]);
  while (out.rows.size() < limit) {
    const bool have_w = w < window.rows.size();
    const bool have_l = j < small.size();
    if (!have_w && !have_l) break;
    RowRef next;
    if (have_w && (!have_l || !before(small[j], head_w))) {
      next = head_w.ref;
      if (++w < window.rows.size()) head_w = keyed(big, window.rows[w]);
    } else {
      next = small[j++].ref;
    }
    if (rank++ >= query.offset) out.rows.push_back(next);
  }
  return out;
}

uint64_t Count(const Version& version, const FilterSet& filters) {
  uint64_t n = 0;
  for (const SegmentView& s : version.segments) {
    if (s.live == 0) continue;
    n += MatchTaskRuns(*s.store, s.dead.get(), filters).cardinality();
  }
  return n;
}

std::vector<Bitmap> MatchTaskRuns(const Version& version, const FilterSet& filters) {
  std::vector<Bitmap> out(version.segments.size());
  for (size_t i = 0; i < version.segments.size(); ++i) {
    const SegmentView& s = version.segments[i];
    if (s.live != 0) out[i] = MatchTaskRuns(*s.store, s.dead.get(), filters);
  }
  return out;
}

std::optional<RowRef> FindTaskRun(const Version& version, const Uuid& id) {
  // Newest first: a replaced row's newer copy is in a later segment.
  for (size_t i = version.segments.size(); i-- > 0;) {
    const SegmentView& s = version.segments[i];
    auto it = s.store->task_run_by_id.find(id);
    if (it != s.store->task_run_by_id.end() && !s.dead->contains(it->second)) {
      return RowRef{static_cast<uint32_t>(i), it->second};
    }
  }
  return std::nullopt;
}

std::string Explain(const Version& version, const PaginateQuery& query) {
  if (version.segments.size() == 1 && version.segments[0].dead->isEmpty()) {
    return Explain(*version.segments[0].store, query);
  }
  std::string out =
      absl::StrFormat("version %d: %d segments, %d task runs that count, %d tombstoned\n",
                      version.number, version.segments.size(), version.LiveTaskRuns(),
                      version.DeadTaskRuns());
  for (const SegmentView& s : version.segments) {
    if (s.live == 0) continue;
    out += absl::StrFormat("segment %d: %d rows, %d count\n", s.id, s.store->task_runs.size(),
                           s.live);
    std::vector<PlanStep> trace;
    ExecOptions options;
    options.trace = &trace;
    const PageResult r = Paginate(*s.store, s.tombstones(), query, options);
    out += absl::StrFormat("  count=%d, page rows=%d\n", r.count, r.rows.size());
    for (const PlanStep& step : trace) {
      out += absl::StrFormat("  %-34s %-40s est=%-10s actual=%-10d %.1f us\n", step.what,
                             step.path,
                             step.estimate < 0 ? std::string("?") : std::to_string(step.estimate),
                             step.actual, step.micros);
    }
  }
  return out;
}

}  // namespace taskdex
