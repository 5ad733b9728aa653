// tests/concurrency/live_store_concurrency_test.cc
//
// The live store (engine/live_store.h) under real threads: readers query
// while a writer applies batches and merges run, in the background and
// from another thread. What must hold (engine/version.h, DESIGN.md
// "Segments, versions and live updates"):
//   1. Pages walked at one pinned version are one consistent cut: every
//      page reports the version's count, the pages hold no duplicate and
//      miss no row, and together they equal one unpaged query at that
//      version, however rows move between pages meanwhile. A reader's
//      pinned version numbers never decrease.
//   2. Merges running during writes and queries lose or resurrect nothing:
//      after MergeAll the store equals a plain model of what was applied.
//   3. A batch is all or nothing to readers: a version shows every row a
//      batch changed with the batch's value, or none of them.
// These are correctness checks only (no timing), with fixed iteration
// counts so each test ends in a few seconds, also under ThreadSanitizer
// (scripts/test.sh builds this binary with TASKDEX_TSAN). Interleavings
// differ from run to run; the data and the writers' choices are seeded.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/taskdex.h"
#include "engine/executor.h"
#include "engine/live_store.h"
#include "engine/mutation.h"
#include "engine/store.h"
#include "engine/version.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

constexpr Micros kBase = 1714557600000000;  // 2024-05-01T10:00:00Z
constexpr Micros kSecond = 1000000;

// Ids of the test's rows: `kind` in the first byte keeps entities apart.
Uuid MakeId(uint8_t kind, uint32_t n) {
  Uuid u;
  u.bytes[0] = kind;
  for (int i = 0; i < 4; ++i) u.bytes[12 + i] = static_cast<uint8_t>(n >> (8 * (3 - i)));
  // Spread ids so the id sort does not follow creation order.
  u.bytes[1] = static_cast<uint8_t>(n * 97u);
  return u;
}
Uuid FlowId() { return MakeId(1, 0); }
Uuid FlowRunId(uint32_t n) { return MakeId(2, n); }
Uuid TaskRunId(uint32_t n) { return MakeId(3, n); }

FlowRunRecord MakeFlowRun(uint32_t n) {
  FlowRunRecord r;
  r.id = FlowRunId(n);
  r.flow_id = FlowId();
  r.name = "flow-run-" + std::to_string(n);
  r.state_type = StateType::kRunning;
  r.state_name = "Running";
  return r;
}

TaskRunRecord MakeTaskRun(uint32_t n, uint32_t flow_run, std::string name,
                          std::optional<Micros> expected_start, bool hot) {
  TaskRunRecord t;
  t.id = TaskRunId(n);
  t.name = std::move(name);
  t.flow_run_id = FlowRunId(flow_run);
  t.task_key = "key-" + std::to_string(n % 10);
  t.expected_start_time = expected_start;
  t.state_type = StateType::kCompleted;
  t.state_name = "Completed";
  if (hot) t.tags = {"hot"};
  return t;
}

Change Upsert(TaskRunRecord t) {
  Change c;
  c.entity = EntityKind::kTaskRun;
  c.id = t.id;
  c.row = std::move(t);
  return c;
}

Change Delete(const Uuid& id) {
  Change c;
  c.op = ChangeOp::kDelete;
  c.entity = EntityKind::kTaskRun;
  c.id = id;
  return c;
}

std::unique_ptr<Store> Build(const SnapshotRecords& records) {
  StoreBuilder b;
  b.AddAll(records);
  return b.Build();
}

std::vector<Uuid> IdsOf(const Version& v, const VersionPage& page) {
  std::vector<Uuid> ids;
  ids.reserve(page.rows.size());
  for (const RowRef& r : page.rows) ids.push_back(v.segments[r.segment].store->task_runs.id[r.row]);
  return ids;
}

std::string_view NameOf(const Version& v, const RowRef& r) {
  const Store& s = *v.segments[r.segment].store;
  return s.task_run_names.Get(s.task_runs.name[r.row]);
}

// The query shapes readers walk: sorts over every key kind (time with
// nulls, name, id) and filters that rows move into and out of (a tag, a
// join to flow runs, a `like_` on names, which also uses the Store's
// shared like cache).
std::vector<PaginateQuery> WalkQueries() {
  std::vector<FilterSet> filters(4);
  filters[1].task_runs.emplace().tags.emplace().any = std::vector<std::string>{"hot"};
  filters[2].flow_runs.emplace().id.emplace().any = std::vector<Uuid>{FlowRunId(0), FlowRunId(2)};
  filters[3].task_runs.emplace().name.emplace().like = "7";
  const TaskRunSort sorts[] = {TaskRunSort::kExpectedStartTimeAsc, TaskRunSort::kNameDesc,
                               TaskRunSort::kIdDesc, TaskRunSort::kExpectedStartTimeDesc};
  std::vector<PaginateQuery> out;
  for (const FilterSet& f : filters) {
    for (TaskRunSort s : sorts) {
      PaginateQuery q;
      q.filters = f;
      q.sort = s;
      out.push_back(q);
    }
  }
  return out;
}

// --- 1. Pages at a pinned version --------------------------------------------

// A few thousand task runs over four flow runs of one flow; names and
// expected start times follow the row number, so every sort puts them in
// a known order before the writer starts moving them.
SnapshotRecords WalkData(uint32_t task_runs) {
  SnapshotRecords d;
  d.flows.push_back({FlowId(), "flow", {}});
  for (uint32_t r = 0; r < 4; ++r) d.flow_runs.push_back(MakeFlowRun(r));
  for (uint32_t n = 0; n < task_runs; ++n) {
    char name[32];
    std::snprintf(name, sizeof name, "task-%05u", n);
    std::optional<Micros> start;
    if (n % 50 != 0) start = kBase + static_cast<Micros>(n) * kSecond;
    d.task_runs.push_back(MakeTaskRun(n, n % 4, name, start, n % 3 == 0));
  }
  return d;
}

struct WalkStats {
  uint64_t walks = 0;
  uint64_t pages = 0;
  std::set<uint64_t> versions;
};

// Walks every page of `query` at `v` (limit 37) and checks the pages
// against the version's count and one unpaged query at the same version.
// Returns false (after recording failures) on the first inconsistency.
bool WalkAllPages(const std::shared_ptr<const Version>& v, PaginateQuery query, WalkStats* stats) {
  constexpr int64_t kLimit = 37;
  const uint64_t count = Count(*v, query.filters);
  PaginateQuery all = query;
  all.limit = static_cast<int64_t>(count) + 1;
  const VersionPage whole = Paginate(*v, all, ExecOptions{});
  EXPECT_EQ(whole.count, count);
  const std::vector<Uuid> want = IdsOf(*v, whole);
  EXPECT_EQ(want.size(), count);

  std::vector<Uuid> got;
  std::set<Uuid> seen;
  query.limit = kLimit;
  for (query.offset = 0; query.offset < count; query.offset += kLimit) {
    const VersionPage page = Paginate(*v, query, ExecOptions{});
    ++stats->pages;
    if (page.count != count) {
      ADD_FAILURE() << "version " << v->number << " offset " << query.offset << ": page.count "
                    << page.count << " != count " << count;
      return false;
    }
    for (const Uuid& id : IdsOf(*v, page)) {
      if (!seen.insert(id).second) {
        ADD_FAILURE() << "version " << v->number << " offset " << query.offset
                      << ": duplicate id on a later page";
        return false;
      }
      got.push_back(id);
    }
  }
  if (got != want) {
    ADD_FAILURE() << "version " << v->number << ": " << got.size() << " ids over the pages, "
                  << want.size() << " in the unpaged query (or another order)";
    return false;
  }
  return true;
}

TEST(LiveStoreConcurrencyTest, ReadersWalkPagesAtAPinnedVersionWhileRowsMove) {
  constexpr uint32_t kTaskRuns = 3000;
  constexpr int kBatches = 60;
  constexpr int kReaders = 3;
  constexpr int kMinWalksPerReader = 6;
  LiveStore live(Build(WalkData(kTaskRuns)), LiveStore::Options{.background_merges = true});
  const std::vector<PaginateQuery> queries = WalkQueries();
  std::atomic<bool> writer_done{false};
  std::atomic<int> readers_started{0};

  // The writer: each batch re-times and renames rows (moving them between
  // pages of every sort), flips their tag, deletes some and inserts some,
  // and now and then rewrites a flow run (its task runs all move segment).
  std::thread writer([&] {
    std::mt19937_64 rng(20261204);
    uint32_t next_id = kTaskRuns;
    std::vector<uint32_t> alive(kTaskRuns);
    for (uint32_t n = 0; n < kTaskRuns; ++n) alive[n] = n;
    while (readers_started.load() < kReaders) std::this_thread::yield();
    for (int b = 0; b < kBatches; ++b) {
      Batch batch;
      for (int i = 0; i < 40; ++i) {
        const size_t at = rng() % alive.size();
        const uint32_t n = alive[at];
        const uint64_t what = rng() % 10;
        if (what == 0) {
          batch.changes.push_back(Delete(TaskRunId(n)));
          alive[at] = alive.back();
          alive.pop_back();
        } else if (what == 1) {
          const uint32_t fresh = next_id++;
          batch.changes.push_back(Upsert(MakeTaskRun(
              fresh, fresh % 4, "new-" + std::to_string(fresh),
              kBase + static_cast<Micros>(rng() % kTaskRuns) * kSecond, rng() % 2 == 0)));
          alive.push_back(fresh);
        } else {
          std::optional<Micros> start;
          if (rng() % 20 != 0) start = kBase + static_cast<Micros>(rng() % kTaskRuns) * kSecond;
          char name[48];
          std::snprintf(name, sizeof name, "task-%05u-b%d", static_cast<uint32_t>(rng() % 99999),
                        b);
          batch.changes.push_back(Upsert(MakeTaskRun(n, n % 4, name, start, rng() % 3 == 0)));
        }
      }
      if (b % 15 == 7) {
        FlowRunRecord r = MakeFlowRun(static_cast<uint32_t>(b % 4));
        r.name += "-b" + std::to_string(b);
        Change c;
        c.entity = EntityKind::kFlowRun;
        c.id = r.id;
        c.row = std::move(r);
        batch.changes.push_back(std::move(c));
      }
      if (!live.Apply(batch).ok()) {
        ADD_FAILURE() << "batch " << b << " rejected";
        break;
      }
    }
    writer_done.store(true);
  });

  // Explicit merges from another thread, racing the background merger.
  std::thread merger([&] {
    while (!writer_done.load()) {
      if (!live.MergeOnce()) std::this_thread::yield();
    }
  });

  std::vector<WalkStats> stats(kReaders);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      readers_started.fetch_add(1);
      uint64_t last = 0;
      size_t q = static_cast<size_t>(r) * 5;
      for (int walk = 0; walk < kMinWalksPerReader || !writer_done.load(); ++walk) {
        std::shared_ptr<const Version> v = live.Pin();
        if (v->number < last) {
          ADD_FAILURE() << "reader " << r << ": version " << v->number << " after " << last;
          return;
        }
        last = v->number;
        stats[r].versions.insert(v->number);
        ++stats[r].walks;
        if (!WalkAllPages(v, queries[q++ % queries.size()], &stats[r])) return;
      }
    });
  }
  writer.join();
  merger.join();
  for (std::thread& t : readers) t.join();

  std::set<uint64_t> versions;
  uint64_t walks = 0;
  uint64_t pages = 0;
  for (const WalkStats& s : stats) {
    versions.insert(s.versions.begin(), s.versions.end());
    walks += s.walks;
    pages += s.pages;
  }
  // Not asserted (scheduling decides it): how much the readers overlapped
  // the writer.
  std::fprintf(stderr, "walks %llu, pages %llu, distinct versions walked %zu of %llu\n",
               static_cast<unsigned long long>(walks), static_cast<unsigned long long>(pages),
               versions.size(), static_cast<unsigned long long>(live.Pin()->number));
}

// --- 2. Merges during queries ------------------------------------------------

struct ModelRow {
  std::string name;
  Micros expected_start = 0;
};

TEST(LiveStoreConcurrencyTest, MergesDuringQueriesLoseNothing) {
  constexpr uint32_t kInitial = 500;
  constexpr int kBatches = 250;
  constexpr int kReaders = 2;
  SnapshotRecords data;
  data.flows.push_back({FlowId(), "flow", {}});
  data.flow_runs.push_back(MakeFlowRun(0));
  std::map<Uuid, ModelRow> model;
  for (uint32_t n = 0; n < kInitial; ++n) {
    const Micros start = kBase + static_cast<Micros>(n) * kSecond;
    data.task_runs.push_back(MakeTaskRun(n, 0, "t" + std::to_string(n), start, false));
    model[TaskRunId(n)] = {"t" + std::to_string(n), start};
  }
  LiveStore live(Build(data), LiveStore::Options{.background_merges = true});
  std::atomic<bool> writer_done{false};

  std::thread writer([&] {
    std::mt19937_64 rng(7);
    uint32_t next_id = kInitial;
    for (int b = 0; b < kBatches; ++b) {
      Batch batch;
      const int n = 1 + static_cast<int>(rng() % 5);
      for (int i = 0; i < n; ++i) {
        const uint32_t id = rng() % 8 == 0 ? next_id++ : static_cast<uint32_t>(rng() % next_id);
        if (rng() % 6 == 0) {
          batch.changes.push_back(Delete(TaskRunId(id)));
          model.erase(TaskRunId(id));
        } else {
          const std::string name = "t" + std::to_string(id) + "-b" + std::to_string(b);
          const Micros start = kBase + static_cast<Micros>(rng() % 1000) * kSecond;
          batch.changes.push_back(Upsert(MakeTaskRun(id, 0, name, start, false)));
          model[TaskRunId(id)] = {name, start};
        }
      }
      if (!live.Apply(batch).ok()) {
        ADD_FAILURE() << "batch " << b << " rejected";
        break;
      }
    }
    writer_done.store(true);
  });

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      uint64_t queries = 0;
      PaginateQuery q;
      q.sort = r == 0 ? TaskRunSort::kExpectedStartTimeDesc : TaskRunSort::kNameAsc;
      q.limit = 50;
      while (!writer_done.load() || queries < 20) {
        std::shared_ptr<const Version> v = live.Pin();
        const uint64_t count = v->LiveTaskRuns();
        q.offset = (queries * 50) % (count + 1);
        const VersionPage page = Paginate(*v, q, ExecOptions{});
        ++queries;
        if (page.count != count || Count(*v, q.filters) != count) {
          ADD_FAILURE() << "version " << v->number << ": page.count " << page.count << ", Count "
                        << Count(*v, q.filters) << ", task runs that count " << count;
          return;
        }
        const uint64_t want_rows = std::min<uint64_t>(50, count - std::min(count, q.offset));
        if (page.rows.size() != want_rows) {
          ADD_FAILURE() << "version " << v->number << ": " << page.rows.size() << " rows at offset "
                        << q.offset << ", want " << want_rows;
          return;
        }
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();

  live.MergeAll();
  std::shared_ptr<const Version> v = live.Pin();
  EXPECT_LE(v->segments.size(), 1u);
  EXPECT_EQ(v->DeadTaskRuns(), 0u);
  PaginateQuery all;
  all.limit = static_cast<int64_t>(model.size()) + 1;
  const VersionPage page = Paginate(*v, all, ExecOptions{});
  ASSERT_EQ(page.count, model.size());
  std::map<Uuid, ModelRow> got;
  for (const RowRef& r : page.rows) {
    const Store& s = *v->segments[r.segment].store;
    got[s.task_runs.id[r.row]] = {std::string(NameOf(*v, r)),
                                  s.task_runs.expected_start_time[r.row]};
  }
  ASSERT_EQ(got.size(), model.size());
  for (const auto& [id, want] : model) {
    auto it = got.find(id);
    ASSERT_NE(it, got.end()) << "a task run of the model is missing";
    EXPECT_EQ(it->second.name, want.name);
    EXPECT_EQ(it->second.expected_start, want.expected_start);
  }
}

// --- 3. A batch is all or nothing ---------------------------------------------

// Groups of task runs, one flow run each. Batch k rewrites every row of
// group k % kGroups to generation k: name "g<group>-<slot>-gen-<k>", the
// tag "gen-<k>", and a fresh expected start time, so the rows also move
// between segments and sort positions. A reader that pins a version must
// find one generation across each whole group, never older than one it
// saw at an earlier version. Through the public API (api/taskdex.h).
TEST(LiveStoreConcurrencyTest, ABatchIsAllOrNothingToReaders) {
  constexpr uint32_t kGroups = 4;
  constexpr uint32_t kGroupSize = 120;
  constexpr int kBatches = 80;
  constexpr int kReaders = 3;
  auto row = [](uint32_t group, uint32_t slot, int gen) {
    const uint32_t n = group * kGroupSize + slot;
    TaskRunRecord t = MakeTaskRun(
        n, group,
        "g" + std::to_string(group) + "-" + std::to_string(slot) + "-gen-" + std::to_string(gen),
        kBase +
            static_cast<Micros>((slot * 7919 + static_cast<uint32_t>(gen) * 31) % 1000) * kSecond,
        false);
    t.tags = {"gen-" + std::to_string(gen)};
    return t;
  };
  SnapshotRecords data;
  data.flows.push_back({FlowId(), "flow", {}});
  for (uint32_t g = 0; g < kGroups; ++g) {
    data.flow_runs.push_back(MakeFlowRun(g));
    for (uint32_t s = 0; s < kGroupSize; ++s) data.task_runs.push_back(row(g, s, 0));
  }
  std::unique_ptr<Engine> engine =
      Engine::FromRecords(std::move(data), LiveStore::Options{.background_merges = true});
  std::atomic<bool> writer_done{false};

  std::thread writer([&] {
    for (int k = 1; k <= kBatches; ++k) {
      const uint32_t g = static_cast<uint32_t>(k) % kGroups;
      Batch batch;
      for (uint32_t s = 0; s < kGroupSize; ++s) batch.changes.push_back(Upsert(row(g, s, k)));
      if (!engine->Apply(batch).ok()) {
        ADD_FAILURE() << "batch " << k << " rejected";
        break;
      }
    }
    writer_done.store(true);
  });

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::vector<int> last_gen(kGroups, 0);
      for (int round = 0; round < 10 || !writer_done.load(); ++round) {
        std::shared_ptr<const Version> v = engine->Pin();
        for (uint32_t g = 0; g < kGroups; ++g) {
          PaginateQuery q;
          q.filters.flow_runs.emplace().id.emplace().any = std::vector<Uuid>{FlowRunId(g)};
          q.sort = r % 2 == 0 ? TaskRunSort::kExpectedStartTimeAsc : TaskRunSort::kNameDesc;
          q.limit = kGroupSize + 1;
          const TaskRunPage page = engine->Paginate(q, v);
          if (page.count != kGroupSize || page.rows.size() != kGroupSize) {
            ADD_FAILURE() << "version " << v->number << " group " << g << ": count " << page.count
                          << ", rows " << page.rows.size();
            return;
          }
          std::set<int> gens;
          for (const RowRef& ref : page.rows) {
            const std::string_view name = NameOf(*v, ref);
            gens.insert(std::stoi(std::string(name.substr(name.rfind('-') + 1))));
          }
          if (gens.size() != 1) {
            ADD_FAILURE() << "version " << v->number << " group " << g << ": " << gens.size()
                          << " generations, from " << *gens.begin() << " to " << *gens.rbegin();
            return;
          }
          const int gen = *gens.begin();
          if (gen < last_gen[g]) {
            ADD_FAILURE() << "group " << g << ": generation " << gen << " after " << last_gen[g];
            return;
          }
          last_gen[g] = gen;
          // The tag index agrees with the names at the same version.
          FilterSet tagged = q.filters;
          tagged.task_runs.emplace().tags.emplace().any =
              std::vector<std::string>{"gen-" + std::to_string(gen)};
          if (engine->Count(tagged, *v) != kGroupSize) {
            ADD_FAILURE() << "version " << v->number << " group " << g << ": "
                          << engine->Count(tagged, *v) << " rows tagged gen-" << gen;
            return;
          }
        }
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
}

}  // namespace
}  // namespace taskdex
