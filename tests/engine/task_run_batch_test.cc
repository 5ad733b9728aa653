// tests/engine/task_run_batch_test.cc
//
// StoreBuilder::AddTaskRuns (a TaskRunBatch, its strings interned on the
// parsing thread: engine/task_run_batch.h) must build the Store that
// AddTaskRun, one record at a time, builds: the same codes in every
// dictionary and template column (after Build), the same rendered text, the
// same replaced rows. Batches of several sizes, so a string is new in one
// batch and known in the next, and a repeated id lands in the same batch or
// a later one.

#include "engine/task_run_batch.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/store.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"
#include "tests/testing/test_seed.h"

namespace taskdex {
namespace {

constexpr uint64_t kDefaultSeed = 14;

// The task runs, with every 7th repeated later (renamed, one more tag).
std::vector<TaskRunRecord> WithRepeats(std::vector<TaskRunRecord> runs) {
  const size_t n = runs.size();
  for (size_t i = 0; i < n; i += 7) {
    TaskRunRecord r = runs[i];
    r.name += "-again";
    r.tags.push_back("replaced");
    r.state_name = "Again";
    r.task_key += "-again";
    runs.push_back(std::move(r));
  }
  return runs;
}

void AddOthers(const SnapshotRecords& data, StoreBuilder* b) {
  for (const FlowRecord& r : data.flows) b->AddFlow(r);
  for (const DeploymentRecord& r : data.deployments) b->AddDeployment(r);
  for (const FlowRunRecord& r : data.flow_runs) b->AddFlowRun(r);
}

std::unique_ptr<Store> OneByOne(const SnapshotRecords& data,
                                const std::vector<TaskRunRecord>& runs) {
  StoreBuilder b;
  AddOthers(data, &b);
  for (const TaskRunRecord& r : runs) b.AddTaskRun(r);
  return b.Build();
}

std::unique_ptr<Store> Batched(const SnapshotRecords& data, const std::vector<TaskRunRecord>& runs,
                               size_t batch_size) {
  StoreBuilder b;
  AddOthers(data, &b);
  for (size_t begin = 0; begin < runs.size(); begin += batch_size) {
    TaskRunBatch batch;
    for (size_t i = begin; i < runs.size() && i < begin + batch_size; ++i) {
      PreparedTaskRun p;
      p.record = runs[i];
      PrepareTaskRun(&p);
      batch.Add(std::move(p));
    }
    b.AddTaskRuns(&batch);
  }
  return b.Build();
}

std::string Row(const Store& s, RowId r) {
  const TaskRunTable& t = s.task_runs;
  std::string tags;
  for (uint32_t c : t.tags.Of(r)) absl::StrAppend(&tags, c, ":", std::string(s.tags.Get(c)), ",");
  const auto code = [](const Dictionary& d, uint32_t c) {
    return c == kNullCode ? std::string("<null>") : absl::StrCat(c, ":", std::string(d.Get(c)));
  };
  return absl::StrCat(
      "id=", UuidToString(t.id[r]), "\nname=", code(s.task_run_names, t.name[r]),
      "\ntask_key=", code(s.task_keys, t.task_key[r]),
      "\nstate_name=", code(s.state_names, t.state_name[r]), "\ntags=", tags,
      "\ndynamic_key=", std::string(t.dynamic_key.Get(r)),
      "\ntask_version=", t.task_version.code(r), ":", RenderTaskRunText(s, t.task_version, r, 7),
      "\nempirical_policy=",
      t.empirical_policy.code(r), ":", RenderTaskRunText(s, t.empirical_policy, r, 7),
      "\nlabels=", t.labels.code(r), ":", RenderTaskRunText(s, t.labels, r, 7),
      "\nstate=", t.state.code(r), ":", RenderTaskRunText(s, t.state, r, 7),
      "\ntask_inputs=", std::string(t.task_inputs_json.Get(r)), "\n");
}

void ExpectSameStore(const Store& a, const Store& b) {
  ASSERT_EQ(a.task_runs.size(), b.task_runs.size());
  EXPECT_EQ(a.report.replaced_task_runs, b.report.replaced_task_runs);
  EXPECT_EQ(a.task_keys.size(), b.task_keys.size());
  EXPECT_EQ(a.state_names.size(), b.state_names.size());
  EXPECT_EQ(a.tags.size(), b.tags.size());
  EXPECT_EQ(a.task_runs.state.num_templates(), b.task_runs.state.num_templates());
  EXPECT_EQ(a.task_runs.labels.num_templates(), b.task_runs.labels.num_templates());
  for (RowId r = 0; r < a.task_runs.size(); ++r) {
    ASSERT_EQ(Row(a, r), Row(b, r)) << "row " << r;
  }
}

TEST(TaskRunBatchTest, BatchesBuildTheStoreThatOneByOneBuilds) {
  const uint64_t seed = TestSeed("task_run_batch_test", kDefaultSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  TestRng rng(seed);
  for (int round = 0; round < 20; ++round) {
    SnapshotRecords data = RandomRecords(rng);
    const std::vector<TaskRunRecord> runs = WithRepeats(data.task_runs);
    std::unique_ptr<Store> one = OneByOne(data, runs);
    for (size_t batch_size : {size_t{1}, size_t{3}, size_t{1000}}) {
      SCOPED_TRACE(absl::StrCat("round ", round, ", batches of ", batch_size));
      ExpectSameStore(*one, *Batched(data, runs, batch_size));
    }
  }
}

TEST(TaskRunBatchTest, BatchesAtScaleBuildTheSameStore) {
  const uint64_t seed = TestSeed("task_run_batch_test", kDefaultSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  TestRng rng(seed);
  SnapshotRecords data = RandomRecordsAtScale(rng, 3000);
  for (TaskRunRecord& r : data.task_runs) {
    if (r.empirical_policy_json.empty()) r.empirical_policy_json = "{}";
    if (r.labels_json.empty()) r.labels_json = "{}";
    if (r.task_inputs_json.empty()) r.task_inputs_json = "{}";
    if (r.state_json.empty()) r.state_json = "null";
  }
  const std::vector<TaskRunRecord> runs = WithRepeats(data.task_runs);
  std::unique_ptr<Store> one = OneByOne(data, runs);
  ExpectSameStore(*one, *Batched(data, runs, 257));
}

TEST(TaskRunBatchTest, LocalStringsNumberInFirstUseOrder) {
  LocalStrings s;
  EXPECT_EQ(s.Intern(std::string_view("b")), 0u);
  EXPECT_EQ(s.Intern(std::string("a")), 1u);
  EXPECT_EQ(s.Intern(std::string("b")), 0u);
  EXPECT_EQ(s.Intern(std::string_view("a")), 1u);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.strings()[0], "b");
  EXPECT_EQ(s.strings()[1], "a");
}

}  // namespace
}  // namespace taskdex
