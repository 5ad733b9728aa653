// engine/internal/page_cut.cc

#include "engine/internal/page_cut.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/plan_cost.h"
#include "engine/sort_spec.h"
#include "index/row_mask.h"

namespace taskdex::engine_internal {
namespace {

using plan_cost::kContainsCost;
using plan_cost::kMaskFillDiv;
using plan_cost::kSortStepCost;


struct SortEntry {
  uint64_t key;  // primary key mapped so that ascending order is the wanted order
  RowId row;
};

// An instant as an unsigned key in time order (NULL, kNullMicros, maps to the
// largest; the partial sort places NULLs itself, from engine/sort_spec.h).
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
  const ArrayColumn<Uuid>& ids = s.task_runs.id;
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
    // Keep the best `need` rows seen so far, lazily: candidates gather in a
    // buffer of `cap` entries; a full buffer is cut to its best `need` by
    // nth_element, whose worst kept entry becomes the bound a new row must
    // beat to enter. Linear whatever the order the rows come in. (Why not a
    // heap of `need`: when the rows arrive in the reverse of the wanted
    // order, as they do for a DESC sort over rows stored oldest first,
    // every row enters it at log2(need) mispredicted steps: 5.9 ms for 232k
    // matches at limit 22, bench/RESULTS.md session 9.)
    const size_t cap = std::max<size_t>(2 * need, 1024);
    entries.reserve(cap);
    bool bounded = false;
    SortEntry bound{};
    auto cut = [&] {
      std::nth_element(entries.begin(), entries.begin() + (need - 1), entries.end(), less);
      entries.resize(need);
      bound = entries[need - 1];
      bounded = true;
    };
    ForEachRowBatch(rows, [&](const uint32_t* batch, uint32_t got) {
      read_keys(batch, got);
      for (uint32_t i = 0; i < got; ++i) {
        const SortEntry& e = batch_entries[i];
        if (bounded && !less(e, bound)) continue;
        entries.push_back(e);
        if (entries.size() == cap) cut();
      }
    });
    if (entries.size() > need) cut();
    std::sort(entries.begin(), entries.end(), less);
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

// One RowMask per thread, reused by every query (a fresh one would allocate
// 128 KiB per million rows each time).
RowMask& ThreadRowMask() {
  thread_local RowMask mask;
  return mask;
}

// The task-run time column of a sort key, or nullptr (id, name).
const ArrayColumn<Micros>* TimeColumn(const TaskRunTable& t, SortKey key) {
  switch (key) {
    case SortKey::kExpectedStartTime:
      return &t.expected_start_time;
    case SortKey::kNextScheduledStartTime:
      return &t.next_scheduled_start_time;
    case SortKey::kEndTime:
      return &t.end_time;
    case SortKey::kId:
    case SortKey::kName:
      break;
  }
  return nullptr;
}



std::vector<RowId> SortedPageBySort(const Store& store, const Bitmap& rows, TaskRunSort sort,
                                    uint64_t offset, uint64_t limit) {
  const TaskRunTable& t = store.task_runs;
  // A time key: one column read.
  const SortSpec spec = SortSpecOf(sort);
  auto by_time = [&](const ArrayColumn<Micros>& col) {
    const Micros* c = col.data();
    const bool desc = spec.descending;
    const uint64_t null_key = spec.nulls_first ? 0 : UINT64_MAX;
    return CutPage(
        store, rows, offset, limit,
        [c, desc, null_key](uint32_t r) {
          if (c[r] == kNullMicros) return null_key;
          return desc ? ~TimeKey(c[r]) : TimeKey(c[r]);
        },
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
  switch (spec.key) {
    case SortKey::kId: {
      const Uuid* ids = t.id.data();
      return CutPage(
          store, rows, offset, limit, [ids](uint32_t r) { return ~IdPrefix(ids[r]); },
          [ids](uint32_t r) { __builtin_prefetch(&ids[r]); });
    }
    case SortKey::kName:
      return by_name(spec.descending);
    case SortKey::kExpectedStartTime:
    case SortKey::kNextScheduledStartTime:
    case SortKey::kEndTime:
      return by_time(*TimeColumn(t, spec.key));
  }
  return {};
}

}  // namespace

OrderWindow SortWindow(const ExecContext& ctx, const std::vector<PlanNode>& and_kids,
                       TaskRunSort sort) {
  const Store& store = ctx.store;
  const TaskRunTable& t = store.task_runs;
  const TaskRunIndexes& x = store.task_run_index;
  const SortedOrder& order = x.OrderFor(sort);
  OrderWindow whole{0, order.size()};
  const SortKey key = SortSpecOf(sort).key;
  const void* column = key == SortKey::kName ? static_cast<const void*>(&t.name)
                                             : static_cast<const void*>(TimeColumn(t, key));
  if (column == nullptr) return whole;
  bool bounded = false;
  int64_t lo = INT64_MIN;
  int64_t hi = INT64_MAX;
  for (const PlanNode& k : and_kids) {
    if (k.key_column != column) continue;
    bounded = true;
    lo = std::max(lo, k.key_lo);
    hi = std::min(hi, k.key_hi);
  }
  if (!bounded || !x.built || order.size() != t.size()) return whole;
  if (lo > hi) return OrderWindow{0, 0};
  std::pair<size_t, size_t> range;
  if (column == &t.name) {
    range = order.Range(lo, hi, TaskRunCodeKeys{t.name, t.id});
  } else {
    range = order.Range(lo, hi,
                        TaskRunTimeKeys{*static_cast<const ArrayColumn<Micros>*>(column), t.id});
  }
  return OrderWindow{range.first, range.second};
}

std::vector<RowId> CutSortedPage(const ExecContext& ctx, const Bitmap& rows, TaskRunSort sort,
                                 uint64_t offset, uint64_t limit,
                                 std::optional<OrderWindow> window_in, const Bitmap* dead,
                                 const Bitmap* skip) {
  if (dead != nullptr && (skip == nullptr || dead->isEmpty())) {
    if (dead->isEmpty()) return CutSortedPage(ctx, rows, sort, offset, limit, window_in);
    return CutSortedPage(ctx, rows - *dead, sort, offset, limit, window_in);
  }
  const Store& store = ctx.store;
  // With `dead` (and so `skip`), the matches that count.
  const uint64_t total =
      rows.cardinality() - (dead != nullptr ? rows.and_cardinality(*dead) : 0);
  if (limit == 0 || offset >= total) return {};
  limit = std::min(limit, total - offset);
  const TaskRunTable& t = store.task_runs;
  const uint32_t n = t.size();
  if (store.task_run_index.built && store.task_run_index.OrderFor(sort).size() == n && n > 0) {
    const uint64_t need = offset + limit;
    const PageCutChoice forced = ctx.options.page_cut;
    const SortedOrder& order = store.task_run_index.OrderFor(sort);
    const OrderWindow window = window_in.value_or(OrderWindow{0, order.size()});
    const size_t span = window.last - window.first;
    // Walking the order visits about need * n / total rows (none when every
    // row matches: the page is then a slice); a partial sort touches every
    // match, and the rows that enter its heap pay log2(need) more. Costs in
    // units of one visit of a walk with a RowMask (a sequential read of the
    // order, a bit test), measured at 1M with `taskdex bench --interleave
    // --stage execute --explain`: ~4 ns a visit with a mask, about
    // n / 512 visits to fill the mask, 8 visits for one Bitmap::contains
    // (binary searches, mispredicted branches), 8 visits for one step of
    // the partial sort (its key is a cache miss, even with the prefetches).
    //
    // A page past the middle of the matches is walked from the far end of
    // the window instead: skip the total - need matches after it, backward
    // (the count is exact and every match lies in the window). Only over a
    // plain order (no tombstones to step over, no pending changes).
    const bool backward =
        skip == nullptr && order.pending() == 0 &&
        (forced == PageCutChoice::kWalkBackward ||
         (forced == PageCutChoice::kAuto && total - offset < need));
    const bool backward_forced = backward && forced == PageCutChoice::kWalkBackward;
    const double visits = static_cast<double>(backward ? total - offset : need) * span /
                          static_cast<double>(total);
    const double mask_fill = static_cast<double>(n) / kMaskFillDiv;
    const bool use_mask =
        forced == PageCutChoice::kWalkOrderMask ||
        (forced == PageCutChoice::kAuto && visits + mask_fill < kContainsCost * visits);
    const double walk_cost = use_mask ? visits + mask_fill : kContainsCost * visits;
    const double sort_cost =
        kSortStepCost * (static_cast<double>(total) +
                         static_cast<double>(need) * std::log2(static_cast<double>(need) + 1));
    const bool walk = forced == PageCutChoice::kWalkOrder ||
                      forced == PageCutChoice::kWalkOrderMask || backward_forced ||
                      (forced == PageCutChoice::kAuto && (total == n || walk_cost < sort_cost));
    if (walk) {
      std::vector<RowId> page;
      page.reserve(limit);
      if (total == n && span == n && dead == nullptr) {
        // Every row matches: the page is a slice of the order.
        StepTimer step(ctx, "page", "slice of sort order", static_cast<int64_t>(limit));
        order.ForEach(offset, offset + limit, [&](RowId r) {
          page.push_back(r);
          return true;
        });
        step.Done(page.size());
        return page;
      }
      // The estimate assumes matches spread evenly over the order; when they
      // cluster (e.g. one name under NAME_ASC) a walk stops after a budget of
      // visits and the partial sort takes over. The budget is at least the
      // visits the partial sort would cost, so a walk that gives up has spent
      // at most as much as the sort it falls back to. A forced walk has none.
      auto walk_budget = [&](bool forced_walk) {
        const double visit_cost = use_mask ? 1.0 : kContainsCost;
        return forced_walk ? span
                           : static_cast<size_t>(std::min(
                                 static_cast<double>(span),
                                 std::max(2 * visits + 1024, sort_cost / visit_cost)));
      };
      if (backward) {
        const size_t budget = walk_budget(backward_forced);
        StepTimer step(ctx, "page",
                       use_mask ? "walk sort order backward (row mask)" : "walk sort order backward",
                       static_cast<int64_t>(visits));
        RowMask& mask = ThreadRowMask();
        if (use_mask) mask.Assign(rows);
        const uint64_t after_page = total - need;
        uint64_t skipped = 0;
        size_t visited = 0;
        order.ForEachBackward(window.first, window.last, [&](RowId r) {
          if (++visited > budget) return false;
          if (!(use_mask ? mask.Contains(r) : rows.contains(r))) return true;
          if (skipped < after_page) {
            ++skipped;
            return true;
          }
          page.push_back(r);
          return page.size() < limit;
        });
        std::reverse(page.begin(), page.end());
        step.Done(page.size());
        if (page.size() == limit) return page;
        // Over budget (the matches cluster at the front): sort instead.
      } else {
        const bool forced_walk =
            forced == PageCutChoice::kWalkOrder || forced == PageCutChoice::kWalkOrderMask;
        const size_t budget = walk_budget(forced_walk);
        const size_t stop = window.first + budget;
        // A long walk first copies the matches into a flat bitset: a visit is
        // then a load and a shift instead of Bitmap::contains' two binary
        // searches (with their mispredicted branches).
        StepTimer step(ctx, "page", use_mask ? "walk sort order (row mask)" : "walk sort order",
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
        // Positions in `skip` hold dead rows, stepped over unvisited.
        auto walk_order = [&](size_t first, size_t last, auto f) {
          return skip != nullptr ? order.ForEachNotIn(first, last, *skip, f)
                                 : order.ForEach(first, last, f);
        };
        size_t end = 0;
        if (use_mask) {
          RowMask& mask = ThreadRowMask();
          mask.Assign(rows);
          end = walk_order(window.first, stop, [&](RowId r) { return visit(mask.Contains(r), r); });
        } else {
          // The estimate assumed evenly spread matches; a walk that meets
          // fewer than expected (e.g. the rows with a NULL end_time before the
          // matches under END_TIME_DESC) switches to the mask once it has
          // visited as many rows as the mask costs to fill, and goes on.
          const size_t first_leg =
              window.first + (forced_walk && forced == PageCutChoice::kWalkOrder
                                  ? budget
                                  : std::min(budget, static_cast<size_t>(
                                                         std::max(4 * visits + 256, mask_fill))));
          end = walk_order(window.first, first_leg, [&](RowId r) { return visit(rows.contains(r), r); });
          if (page.size() < limit && end == first_leg && end < stop) {
            RowMask& mask = ThreadRowMask();
            mask.Assign(rows);
            end = walk_order(end, stop, [&](RowId r) { return visit(mask.Contains(r), r); });
          }
        }
        step.Done(page.size());
        if (page.size() == limit || end == window.last) return page;
      }
    }
  }
  StepTimer step(ctx, "page", "partial sort of matches", static_cast<int64_t>(total));
  std::vector<RowId> page = dead != nullptr
                                ? SortedPageBySort(store, rows - *dead, sort, offset, limit)
                                : SortedPageBySort(store, rows, sort, offset, limit);
  step.Done(page.size());
  return page;
}


std::optional<std::vector<RowId>> CutPageByChecking(const ExecContext& ctx, const PlanNode& node,
                                                    uint64_t count, TaskRunSort sort,
                                                    uint64_t offset, uint64_t limit,
                                                    OrderWindow window, const Bitmap* skip) {
  const Store& store = ctx.store;
  const uint32_t n = store.task_runs.size();
  const PageCutChoice forced = ctx.options.page_cut;
  if (forced != PageCutChoice::kAuto && forced != PageCutChoice::kWalkChecking) return std::nullopt;
  if (!store.task_run_index.built || n == 0) return std::nullopt;
  const SortedOrder& order = store.task_run_index.OrderFor(sort);
  if (order.size() != n) return std::nullopt;
  if (limit == 0 || offset >= count) return std::vector<RowId>();
  limit = std::min(limit, count - offset);
  const uint64_t need = offset + limit;
  // Visits of an even spread, each a read of the order and a check.
  const size_t span = window.last - window.first;
  const double visits = static_cast<double>(need) * span / static_cast<double>(count);
  const double visit_ns = plan_cost::kWalkVisitNs + node.check_ns;
  const bool forced_walk = forced == PageCutChoice::kWalkChecking;
  if (!forced_walk && 2 * visits * visit_ns >= node.materialize_ns) return std::nullopt;
  const size_t budget =
      forced_walk ? span
                  : static_cast<size_t>(std::min(
                        static_cast<double>(span),
                        std::max(4 * visits + 1024, node.materialize_ns / visit_ns)));
  StepTimer step(ctx, "page", node.what, static_cast<int64_t>(visits), {},
                 "walk sort order checking ");
  std::vector<RowId> page;
  page.reserve(limit);
  uint64_t skipped = 0;
  auto visit = [&](RowId r) {
    if (!node.check(r)) return true;
    if (skipped < offset) {
      ++skipped;
      return true;
    }
    page.push_back(r);
    return page.size() < limit;
  };
  const size_t end = skip != nullptr
                         ? order.ForEachNotIn(window.first, window.first + budget, *skip, visit)
                         : order.ForEach(window.first, window.first + budget, visit);
  step.Done(page.size());
  if (page.size() == limit || end == window.last) return page;
  return std::nullopt;
}

std::vector<RowId> CutLivePage(const ExecContext& ctx, TaskRunSort sort, const Bitmap& skip,
                               uint64_t offset, uint64_t limit) {
  const SortedOrder& order = ctx.store.task_run_index.OrderFor(sort);
  StepTimer step(ctx, "page", "slice of sort order past tombstones", static_cast<int64_t>(limit));
  std::vector<RowId> page;
  const size_t first = offset >= order.size() ? order.size() : order.NthNotIn(offset, skip);
  if (limit > 0 && first < order.size()) {
    page.reserve(std::min<uint64_t>(limit, order.size() - first));
    order.ForEachNotIn(first, order.size(), skip, [&](RowId r) {
      page.push_back(r);
      return page.size() < limit;
    });
  }
  step.Done(page.size());
  return page;
}

}  // namespace taskdex::engine_internal
