// tests/engine/live_store_test.cc
//
// The live store against a model (STYLE.md 8): random batches of upserts,
// deletes and their cascades are applied both to the engine
// (engine/live_store.h) and to plain records by an independent, naive
// implementation of entities.md 3 (ModelApply below); after every batch,
// random queries must give the reference evaluator's page and count on the
// model's records, under the default plan and under forced planner modes.
// Merges run between batches at random. Plus the atomicity of a rejected
// batch and the readers' pinned version.
//
// The seed is fixed; set TASKDEX_TEST_SEED to explore others.

#include "engine/live_store.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/executor.h"
#include "engine/store.h"
#include "engine/version.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/random_changes.h"
#include "tests/testing/random_data.h"
#include "tests/testing/reference_evaluator.h"

namespace taskdex {
namespace {

uint64_t Seed() {
  const char* env = std::getenv("TASKDEX_TEST_SEED");
  return (env != nullptr && *env != '\0') ? std::strtoull(env, nullptr, 0) : 20261204;
}

// --- The model: entities.md 3 on plain vectors, as simply as possible. ---

template <typename R>
void Upsert(std::vector<R>& rows, const R& r) {
  for (R& x : rows) {
    if (x.id == r.id) {
      x = r;
      return;
    }
  }
  rows.push_back(r);
}

template <typename R, typename P>
std::vector<Uuid> IdsWhere(const std::vector<R>& rows, P pred) {
  std::vector<Uuid> out;
  for (const R& x : rows) {
    if (pred(x)) out.push_back(x.id);
  }
  return out;
}

template <typename R>
bool Erase(std::vector<R>& rows, const Uuid& id) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].id == id) {
      rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

void ModelDeleteTaskRun(SnapshotRecords& m, const Uuid& id) {
  if (!Erase(m.task_runs, id)) return;
  for (FlowRunRecord& r : m.flow_runs) {
    if (r.parent_task_run_id == id) r.parent_task_run_id.reset();
  }
}

void ModelDeleteFlowRun(SnapshotRecords& m, const Uuid& id) {
  for (const Uuid& t : IdsWhere(m.task_runs, [&](const TaskRunRecord& t) {
         return t.flow_run_id == id;
       })) {
    ModelDeleteTaskRun(m, t);
  }
  Erase(m.flow_runs, id);
}

void ModelApply(SnapshotRecords& m, const Change& c) {
  if (c.op == ChangeOp::kUpsert) {
    std::visit(
        [&](const auto& row) {
          using R = std::decay_t<decltype(row)>;
          if constexpr (std::is_same_v<R, TaskRunRecord>) Upsert(m.task_runs, row);
          if constexpr (std::is_same_v<R, FlowRunRecord>) Upsert(m.flow_runs, row);
          if constexpr (std::is_same_v<R, FlowRecord>) Upsert(m.flows, row);
          if constexpr (std::is_same_v<R, DeploymentRecord>) Upsert(m.deployments, row);
        },
        c.row);
    return;
  }
  switch (c.entity) {
    case EntityKind::kTaskRun:
      ModelDeleteTaskRun(m, c.id);
      break;
    case EntityKind::kFlowRun:
      ModelDeleteFlowRun(m, c.id);
      break;
    case EntityKind::kFlow:
      for (const Uuid& d : IdsWhere(m.deployments, [&](const DeploymentRecord& d) {
             return d.flow_id == c.id;
           })) {
        Erase(m.deployments, d);
      }
      for (const Uuid& r : IdsWhere(m.flow_runs, [&](const FlowRunRecord& r) {
             return r.flow_id == c.id;
           })) {
        ModelDeleteFlowRun(m, r);
      }
      Erase(m.flows, c.id);
      break;
    case EntityKind::kDeployment: {
      bool exists = false;
      for (const DeploymentRecord& d : m.deployments) exists = exists || d.id == c.id;
      if (!exists) break;
      for (const Uuid& r : IdsWhere(m.flow_runs, [&](const FlowRunRecord& r) {
             return r.deployment_id == c.id && r.state_type == StateType::kScheduled;
           })) {
        ModelDeleteFlowRun(m, r);
      }
      Erase(m.deployments, c.id);
      break;
    }
  }
}

// A later line with a repeated id replaces the earlier one in place
// (entities.md 4.1): the model holds each id once.
template <typename R>
std::vector<R> Dedupe(const std::vector<R>& rows) {
  std::vector<R> out;
  for (const R& r : rows) Upsert(out, r);
  return out;
}

SnapshotRecords Deduped(const SnapshotRecords& m) {
  return {Dedupe(m.flows), Dedupe(m.deployments), Dedupe(m.flow_runs), Dedupe(m.task_runs)};
}

// --- Random batches. ---

struct ForcedMode {
  const char* name;
  ExecOptions options;
};

std::vector<ForcedMode> Modes() {
  std::vector<ForcedMode> modes;
  modes.push_back({"auto", {}});
  ExecOptions o;
  o.access = AccessPathChoice::kScan;
  modes.push_back({"scan", o});
  o = {};
  o.access = AccessPathChoice::kIndex;
  modes.push_back({"index", o});
  for (JoinChoice j : {JoinChoice::kPostings, JoinChoice::kScanTaskRuns, JoinChoice::kProbeTaskRuns,
                       JoinChoice::kJoinPostings}) {
    o = {};
    o.join = j;
    modes.push_back({"join", o});
  }
  for (PageCutChoice p : {PageCutChoice::kWalkOrder, PageCutChoice::kPartialSort,
                          PageCutChoice::kWalkOrderMask, PageCutChoice::kWalkChecking,
                          PageCutChoice::kWalkBackward}) {
    o = {};
    o.page_cut = p;
    modes.push_back({"page_cut", o});
  }
  for (ConjunctChoice cc : {ConjunctChoice::kMaterialize, ConjunctChoice::kFilterCandidates}) {
    o = {};
    o.conjunct = cc;
    modes.push_back({"conjunct", o});
  }
  for (auto& m : modes) m.options.use_like_cache = false;
  return modes;
}

std::vector<Uuid> IdsOf(const Version& v, const VersionPage& page) {
  std::vector<Uuid> ids;
  for (const RowRef& r : page.rows) ids.push_back(v.segments[r.segment].store->task_runs.id[r.row]);
  return ids;
}

std::unique_ptr<Store> Build(const SnapshotRecords& records) {
  StoreBuilder b;
  b.AddAll(records);
  return b.Build();
}

TEST(LiveStoreModel, RandomBatchesMatchTheModel) {
  const uint64_t seed = Seed();
  std::fprintf(stderr, "live_store_test: TASKDEX_TEST_SEED=%llu\n",
               static_cast<unsigned long long>(seed));
  const std::vector<ForcedMode> modes = Modes();
  int checked = 0;
  for (int set = 0; set < 12; ++set) {
    TestRng rng(seed * 7919 + static_cast<uint64_t>(set));
    SnapshotRecords model = Deduped(RandomRecords(rng));
    LiveStore live(Build(model), LiveStore::Options{});
    for (int batch = 0; batch < 25; ++batch) {
      const SnapshotRecords pool = RandomRecords(rng);
      Batch b;
      const uint64_t n = 1 + rng.Uniform(8);
      for (uint64_t i = 0; i < n; ++i) {
        Change c = RandomChange(rng, model, pool);
        ModelApply(model, c);
        b.changes.push_back(std::move(c));
      }
      ASSERT_TRUE(live.Apply(b).ok());
      if (rng.Percent(25)) live.MergeOnce();
      if (rng.Percent(10)) live.MergeAll();
      std::shared_ptr<const Version> v = live.Pin();
      ASSERT_EQ(v->LiveTaskRuns(), model.task_runs.size())
          << "set " << set << " batch " << batch;
      for (int q = 0; q < 6; ++q) {
        const PaginateQuery query = RandomQuery(rng, model);
        const ReferenceResult want = RefPaginate(model, query);
        for (const ForcedMode& mode : modes) {
          const VersionPage got = Paginate(*v, query, mode.options);
          ASSERT_EQ(got.count, want.count)
              << "set " << set << " batch " << batch << " mode " << mode.name << "\n"
              << DescribeQuery(query);
          ASSERT_EQ(IdsOf(*v, got), want.ids)
              << "set " << set << " batch " << batch << " mode " << mode.name << "\n"
              << DescribeQuery(query);
          ++checked;
        }
        ASSERT_EQ(Count(*v, query.filters), want.count);
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

// The page merge (engine/version.cc) at every offset: a large segment and
// small ones, each sort, limits 1 and 3, against the model.
TEST(LiveStoreModel, EveryOffsetOfEverySortMatchesTheModel) {
  TestRng rng(Seed() + 7);
  SnapshotRecords model;
  while (model.task_runs.size() < 30) model = Deduped(RandomRecords(rng));
  LiveStore live(Build(model), LiveStore::Options{});
  for (int batch = 0; batch < 3; ++batch) {
    const SnapshotRecords pool = RandomRecords(rng);
    Batch b;
    for (int i = 0; i < 6; ++i) {
      Change c = RandomChange(rng, model, pool);
      if (c.entity != EntityKind::kTaskRun || c.op != ChangeOp::kUpsert) continue;
      ModelApply(model, c);
      b.changes.push_back(std::move(c));
    }
    ASSERT_TRUE(live.Apply(b).ok());
  }
  std::shared_ptr<const Version> v = live.Pin();
  ASSERT_GE(v->segments.size(), 2u);
  // The first segment's tombstones carry their sort positions, so a page
  // without criteria takes the walk that steps over them
  // (engine/tombstones.h); they must be exactly the dead rows' positions.
  const SegmentView& first = v->segments[0];
  ASSERT_FALSE(first.dead->isEmpty());
  ASSERT_NE(first.dead_positions, nullptr);
  for (int sort = 0; sort < kNumTaskRunSorts; ++sort) {
    const SortedOrder& order = first.store->task_run_index.OrderFor(static_cast<TaskRunSort>(sort));
    Bitmap want;
    for (uint32_t p = 0; p < order.size(); ++p) {
      if (first.dead->contains(order.At(p))) want.add(p);
    }
    ASSERT_EQ(first.dead_positions->by_sort[sort], want) << "sort " << sort;
  }
  for (const SegmentView& s : v->segments) {
    ASSERT_TRUE(s.dead->isEmpty() || s.dead_positions != nullptr) << "segment " << s.id;
  }
  // Both ways of merging the segments: the rank selection over their live
  // orders (engine/version.cc LiveOrderMerge) and the merge of their pages.
  ExecOptions by_rank;
  by_rank.segment_merge = SegmentMergeChoice::kRankSelection;
  ExecOptions by_pages;
  by_pages.segment_merge = SegmentMergeChoice::kPages;
  for (int sort = 0; sort < kNumTaskRunSorts; ++sort) {
    for (int64_t limit : {1, 3}) {
      for (uint64_t offset = 0; offset <= model.task_runs.size() + 1; ++offset) {
        PaginateQuery q;
        q.sort = static_cast<TaskRunSort>(sort);
        q.limit = limit;
        q.offset = offset;
        const ReferenceResult want = RefPaginate(model, q);
        for (const ExecOptions& options : {ExecOptions{}, by_rank, by_pages}) {
          const VersionPage got = Paginate(*v, q, options);
          ASSERT_EQ(got.count, want.count);
          ASSERT_EQ(IdsOf(*v, got), want.ids) << DescribeQuery(q);
        }
      }
    }
  }
}

TEST(LiveStore, RejectedBatchAppliesNothing) {
  TestRng rng(Seed());
  SnapshotRecords model = RandomRecords(rng);
  while (model.task_runs.empty()) model = RandomRecords(rng);
  model = Deduped(model);
  LiveStore live(Build(model), LiveStore::Options{});
  const uint64_t before = live.Pin()->number;
  Batch b;
  Change del;
  del.op = ChangeOp::kDelete;
  del.entity = EntityKind::kTaskRun;
  del.id = model.task_runs[0].id;
  b.changes.push_back(del);
  Change bad;
  bad.entity = EntityKind::kTaskRun;
  bad.id = NewId(rng);
  bad.row = FlowRecord{};  // not a task run
  b.changes.push_back(bad);
  absl::StatusOr<ApplyResult> r = live.Apply(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "change 1: row is not a task_run");
  EXPECT_EQ(live.Pin()->number, before);
  EXPECT_EQ(live.Pin()->LiveTaskRuns(), model.task_runs.size());
}

TEST(LiveStore, PinnedVersionDoesNotChange) {
  TestRng rng(Seed() + 1);
  SnapshotRecords model = RandomRecords(rng);
  while (model.task_runs.size() < 3) model = RandomRecords(rng);
  model = Deduped(model);
  LiveStore live(Build(model), LiveStore::Options{});
  std::shared_ptr<const Version> pinned = live.Pin();
  const uint64_t count = Count(*pinned, FilterSet{});
  Batch b;
  for (const TaskRunRecord& t : model.task_runs) {
    Change c;
    c.op = ChangeOp::kDelete;
    c.entity = EntityKind::kTaskRun;
    c.id = t.id;
    b.changes.push_back(c);
  }
  ASSERT_TRUE(live.Apply(b).ok());
  live.MergeAll();
  EXPECT_EQ(Count(*live.Pin(), FilterSet{}), 0u);
  EXPECT_EQ(Count(*pinned, FilterSet{}), count);
}

}  // namespace
}  // namespace taskdex
