#include "engine/version.h"

#include <algorithm>
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
  for (const SegmentView& s : segments) n += s.store->MemoryBytes() + s.dead->getSizeInBytes();
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
    PageResult r = Paginate(*s.store, s.dead.get(), query, options);
    out.count = r.count;
    out.rows.reserve(r.rows.size());
    for (RowId row : r.rows) out.rows.push_back({used[0], row});
    return out;
  }
  // Each segment's first offset + limit rows; the merge keeps the page.
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  // The page ends at offset + limit (saturated: offset may be huge).
  const uint64_t end = limit == 0 ? 0
                       : query.offset > UINT64_MAX - limit ? UINT64_MAX
                                                           : query.offset + limit;
  PaginateQuery each = query;
  each.offset = 0;
  const SortSpec spec = SortSpecOf(query.sort);
  struct Run {
    uint32_t segment;
    std::vector<RowId> rows;
    size_t next = 0;
    RowKey head;
  };
  std::vector<Run> runs;
  for (uint32_t i : used) {
    const SegmentView& s = version.segments[i];
    each.limit = static_cast<int64_t>(std::min<uint64_t>(end, s.live));
    PageResult r = Paginate(*s.store, s.dead.get(), each, options);
    out.count += r.count;
    if (!r.rows.empty()) runs.push_back({i, std::move(r.rows), 0, {}});
  }
  for (Run& run : runs) {
    run.head = KeyOf(*version.segments[run.segment].store, run.rows[0], spec.key);
  }
  for (uint64_t taken = 0; taken < end; ++taken) {
    Run* best = nullptr;
    for (Run& run : runs) {
      if (run.next == run.rows.size()) continue;
      if (best == nullptr || Before(run.head, best->head, spec)) best = &run;
    }
    if (best == nullptr) break;
    if (taken >= query.offset) out.rows.push_back({best->segment, best->rows[best->next]});
    if (++best->next < best->rows.size()) {
      best->head = KeyOf(*version.segments[best->segment].store, best->rows[best->next], spec.key);
    }
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
    const PageResult r = Paginate(*s.store, s.dead.get(), query, options);
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
