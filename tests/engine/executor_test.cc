// Tests for engine/executor: every example of examples.md 2-24 on the
// examples data set, built from records here and also loaded from the
// examples snapshot (both must agree), LikeMatches rules, sort orders with NULL placement
// and tie-breaks, pagination arithmetic, and joins to missing rows.

#include "engine/executor.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

// ---------------------------------------------------------------------------
// Data helpers

Uuid U(std::string_view text) {
  Uuid u;
  int nibble = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;  // hyphens
    }
    u.bytes[nibble / 2] = static_cast<uint8_t>(u.bytes[nibble / 2] | (v << (nibble % 2 ? 0 : 4)));
    ++nibble;
  }
  return u;
}

// 2024-05-01T<h>:<m>:<s>Z in microseconds.
Micros At(int h, int m, int s = 0) {
  return (int64_t{1714521600} + h * 3600 + m * 60 + s) * 1000000;
}

const Uuid kF1 = U("f1000000-0000-4000-8000-000000000000");
const Uuid kF2 = U("f2000000-0000-4000-8000-000000000000");
const Uuid kF3 = U("f3000000-0000-4000-8000-000000000000");
const Uuid kD1 = U("d1000000-0000-4000-8000-000000000000");
const Uuid kD2 = U("d2000000-0000-4000-8000-000000000000");
const Uuid kD9 = U("d9000000-0000-4000-8000-000000000000");
const Uuid kFR1 = U("a1000000-0000-4000-8000-000000000000");
const Uuid kFR2 = U("a2000000-0000-4000-8000-000000000000");
const Uuid kFR3 = U("a3000000-0000-4000-8000-000000000000");
const Uuid kFR4 = U("a4000000-0000-4000-8000-000000000000");

Uuid TaskId(int n) {
  Uuid u = U("00000000-0000-4000-8000-000000000000");
  u.bytes[15] = static_cast<uint8_t>(n);
  return u;
}

TaskRunRecord Task(int n, std::string name, std::optional<Uuid> flow_run,
                   std::vector<std::string> tags, std::optional<StateType> type,
                   std::optional<std::string> state_name, std::optional<Micros> expected,
                   std::optional<Micros> start, std::optional<Micros> end,
                   std::optional<Micros> next = std::nullopt) {
  TaskRunRecord r;
  r.id = TaskId(n);
  r.name = name;
  r.task_key = name;
  r.dynamic_key = "0";
  r.flow_run_id = flow_run;
  r.tags = std::move(tags);
  r.state_type = type;
  r.state_name = std::move(state_name);
  r.expected_start_time = expected;
  r.start_time = start;
  r.end_time = end;
  r.next_scheduled_start_time = next;
  return r;
}

FlowRunRecord FlowRun(Uuid id, std::string name, Uuid flow, std::optional<Uuid> deployment,
                      std::vector<std::string> tags, StateType type, std::string state_name) {
  FlowRunRecord r;
  r.id = id;
  r.name = std::move(name);
  r.flow_id = flow;
  r.deployment_id = deployment;
  r.tags = std::move(tags);
  r.state_type = type;
  r.state_name = std::move(state_name);
  return r;
}

// The data set of examples.md.
std::unique_ptr<Store> BuildExamplesStore() {
  StoreBuilder b;
  b.AddFlow({kF1, "etl", {"prod", "db"}});
  b.AddFlow({kF2, "ml_train", {}});
  b.AddFlow({kF3, "Report-Daily", {"prod"}});

  b.AddDeployment({kD1, "etl-nightly", kF1, false, {"nightly"}, "default"});
  b.AddDeployment({kD2, "report_main", kF3, true, {}, std::nullopt});

  FlowRunRecord fr1 =
      FlowRun(kFR1, "happy-otter", kF1, kD1, {"prod"}, StateType::kCompleted, "Completed");
  fr1.work_queue_name = "default";
  fr1.has_created_by = true;
  fr1.created_by_id = "c0000000-0000-4000-8000-000000000000";
  fr1.created_by_type = "DEPLOYMENT";
  b.AddFlowRun(fr1);
  b.AddFlowRun(FlowRun(kFR2, "sad-llama", kF2, std::nullopt, {}, StateType::kFailed, "Failed"));
  FlowRunRecord fr3 =
      FlowRun(kFR3, "quick-fox", kF3, kD2, {"prod", "eu"}, StateType::kRunning, "Running");
  fr3.parent_task_run_id = TaskId(2);
  b.AddFlowRun(fr3);
  b.AddFlowRun(
      FlowRun(kFR4, "lone-wolf", kF1, kD9, {"nightly"}, StateType::kCompleted, "Completed"));

  b.AddTaskRun(Task(1, "extract_a", kFR1, {"io"}, StateType::kCompleted, "Completed", At(10, 0),
                    At(10, 0, 5), At(10, 1)));
  b.AddTaskRun(Task(2, "extract-b", kFR1, {"io", "slow"}, StateType::kCompleted, "Cached",
                    At(10, 2), At(10, 2), At(10, 5)));
  b.AddTaskRun(Task(3, "Transform", kFR2, {}, StateType::kFailed, "Failed", At(10, 3), At(10, 3),
                    At(10, 4)));
  b.AddTaskRun(Task(4, "load", kFR3, {}, StateType::kRunning, "Running", At(10, 4), At(10, 4),
                    std::nullopt));
  b.AddTaskRun(Task(5, "notify", std::nullopt, {"adhoc"}, StateType::kPending, "Pending",
                    std::nullopt, std::nullopt, std::nullopt));
  b.AddTaskRun(Task(6, "extractXa", kFR4, {"io"}, StateType::kScheduled, "Scheduled", At(10, 10),
                    std::nullopt, std::nullopt, At(10, 10)));
  b.AddTaskRun(Task(7, "cleanup", kFR2, {}, std::nullopt, std::nullopt, At(10, 3), std::nullopt,
                    At(10, 4)));
  return b.Build();
}

// "T<n>" for a task-run row, from the last byte of its id.
std::vector<std::string> Names(const Store& store, const std::vector<RowId>& rows) {
  std::vector<std::string> out;
  for (RowId r : rows) out.push_back("T" + std::to_string(store.task_runs.id[r].bytes[15]));
  return out;
}

using Ids = std::vector<std::string>;
const Ids kAll = {"T7", "T6", "T5", "T4", "T3", "T2", "T1"};
const Ids kWithFlowRun = {"T7", "T6", "T4", "T3", "T2", "T1"};

class ExecutorExamplesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_ = BuildExamplesStore().release();
    absl::StatusOr<std::unique_ptr<Store>> loaded =
        LoadSnapshot(TASKDEX_EXAMPLES_DIR "/snapshot", LoadOptions{}, nullptr);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    snapshot_store_ = loaded->release();
  }
  static void TearDownTestSuite() {
    delete store_;
    delete snapshot_store_;
    store_ = snapshot_store_ = nullptr;
  }

  // Ids of the page in `sort` order, checked against Count() and against
  // the same query on the store loaded from the snapshot.
  static Ids Run(const FilterSet& filters, TaskRunSort sort = TaskRunSort::kIdDesc) {
    PaginateQuery q;
    q.filters = filters;
    q.sort = sort;
    PageResult page = Paginate(*store_, q);
    EXPECT_EQ(page.count, Count(*store_, filters));
    EXPECT_EQ(page.count, page.rows.size());
    Ids ids = Names(*store_, page.rows);
    if (snapshot_store_ != nullptr) {
      PageResult loaded = Paginate(*snapshot_store_, q);
      EXPECT_EQ(loaded.count, page.count);
      EXPECT_EQ(Names(*snapshot_store_, loaded.rows), ids) << "snapshot store disagrees";
    }
    return ids;
  }

  static FilterSet Tasks(TaskRunFilter f) {
    FilterSet fs;
    fs.task_runs = std::move(f);
    return fs;
  }
  static FilterSet FlowRuns(FlowRunFilter f) {
    FilterSet fs;
    fs.flow_runs = std::move(f);
    return fs;
  }
  static FilterSet Flows(FlowFilter f) {
    FilterSet fs;
    fs.flows = std::move(f);
    return fs;
  }
  static FilterSet Deployments(DeploymentFilter f) {
    FilterSet fs;
    fs.deployments = std::move(f);
    return fs;
  }

  static Store* store_;
  static Store* snapshot_store_;
};

Store* ExecutorExamplesTest::store_ = nullptr;
Store* ExecutorExamplesTest::snapshot_store_ = nullptr;

TaskRunFilter TaskNameLike(std::string like) {
  TaskRunFilter f;
  f.name = NameFilter{std::nullopt, std::move(like)};
  return f;
}

// Example 1.
TEST_F(ExecutorExamplesTest, EmptyBodySelectsAllInIdDescOrder) {
  EXPECT_EQ(Run(FilterSet{}), kAll);
  EXPECT_EQ(Run(Tasks(TaskRunFilter{})), kAll);
}

// Example 2.
TEST_F(ExecutorExamplesTest, EmptyAnyMatchesNothingEmptyAllIsIgnored) {
  TaskRunFilter ids;
  ids.id = IdFilter{std::vector<Uuid>{}, std::nullopt};
  EXPECT_EQ(Run(Tasks(ids)), Ids{});

  TaskRunFilter types;
  types.state = StateFilter{};
  types.state->type = StateTypesFilter{std::vector<StateType>{}, std::nullopt};
  EXPECT_EQ(Run(Tasks(types)), Ids{});

  TaskRunFilter tags;
  tags.tags = TagsFilter{};
  tags.tags->all = std::vector<std::string>{};
  EXPECT_EQ(Run(Tasks(tags)), kAll);
}

// Example 3.
TEST_F(ExecutorExamplesTest, FlowRunIdRules) {
  auto with = [](std::optional<bool> is_null, List<Uuid> any) {
    TaskRunFilter f;
    f.flow_run_id = UuidRefFilter{BoolOp::kAnd, std::move(any), is_null};
    return Tasks(f);
  };
  EXPECT_EQ(Run(with(false, std::nullopt)), kWithFlowRun);  // `{}`
  EXPECT_EQ(Run(with(std::nullopt, std::nullopt)), kAll);
  EXPECT_EQ(Run(with(true, std::nullopt)), Ids{"T5"});
  EXPECT_EQ(Run(with(true, std::vector<Uuid>{kFR2})), Ids{"T5"});
  EXPECT_EQ(Run(with(false, std::vector<Uuid>{kFR2})), (Ids{"T7", "T3"}));
  EXPECT_EQ(Run(with(std::nullopt, std::vector<Uuid>{kFR2})), (Ids{"T7", "T3"}));
  EXPECT_EQ(Run(with(false, std::vector<Uuid>{})), Ids{});
}

// Examples 4 and 5.
TEST_F(ExecutorExamplesTest, NameLike) {
  EXPECT_EQ(Run(Tasks(TaskNameLike("ct_a"))), (Ids{"T6", "T1"}));
  EXPECT_EQ(Run(Tasks(TaskNameLike("ct\\_a"))), Ids{"T1"});
  EXPECT_EQ(Run(Tasks(TaskNameLike("TRANS"))), Ids{"T3"});
  EXPECT_EQ(Run(Tasks(TaskNameLike(""))), kAll);
}

TEST_F(ExecutorExamplesTest, NameAnyIsExactAndUnknownValuesMatchNothing) {
  TaskRunFilter f;
  f.name = NameFilter{std::vector<std::string>{"load", "LOAD", "nope"}, std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), Ids{"T4"});
  f.name = NameFilter{std::vector<std::string>{"nope"}, std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), Ids{});
  // any_ and like_ are ANDed.
  f.name = NameFilter{std::vector<std::string>{"load", "extract_a"}, std::string("extract")};
  EXPECT_EQ(Run(Tasks(f)), Ids{"T1"});
}

// Example 6.
TEST_F(ExecutorExamplesTest, TagsIsNullMeansEmptyArray) {
  TaskRunFilter f;
  f.tags = TagsFilter{};
  f.tags->is_null = true;
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T7", "T4", "T3"}));
  f.tags->is_null = false;
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T6", "T5", "T2", "T1"}));
}

// Example 7.
TEST_F(ExecutorExamplesTest, TagsAllIsSuperset) {
  TaskRunFilter f;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"io", "slow"};
  EXPECT_EQ(Run(Tasks(f)), Ids{"T2"});
  f.tags->all = std::vector<std::string>{"io"};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T6", "T2", "T1"}));
  f.tags->all = std::vector<std::string>{"io", "io"};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T6", "T2", "T1"}));
  f.tags->all = std::vector<std::string>{"io", "unknown"};
  EXPECT_EQ(Run(Tasks(f)), Ids{});
}

// Example 8.
TEST_F(ExecutorExamplesTest, OrAtTopLevel) {
  TaskRunFilter f;
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"slow"};
  f.state = StateFilter{};
  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kFailed}, std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T3", "T2"}));
}

// Example 9.
TEST_F(ExecutorExamplesTest, NestedOperators) {
  TaskRunFilter f = TaskNameLike("load");
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->op = BoolOp::kAnd;
  f.tags->all = std::vector<std::string>{"io"};
  f.tags->is_null = false;
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T6", "T4", "T2", "T1"}));
}

// Example 10.
TEST_F(ExecutorExamplesTest, EmptyChildUnderOrMakesLevelTrue) {
  TaskRunFilter f = TaskNameLike("");
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"slow"};
  EXPECT_EQ(Run(Tasks(f)), kAll);

  TaskRunFilter only_or;
  only_or.op = BoolOp::kOr;
  EXPECT_EQ(Run(Tasks(only_or)), kAll);

  // A present but empty sub-filter under OR, with a criterion matching nothing.
  TaskRunFilter g;
  g.op = BoolOp::kOr;
  g.name = NameFilter{};
  g.id = IdFilter{std::vector<Uuid>{}, std::nullopt};
  EXPECT_EQ(Run(Tasks(g)), kAll);
}

// Example 11.
TEST_F(ExecutorExamplesTest, StateNodeSkipsEmptyChildren) {
  TaskRunFilter f;
  f.state = StateFilter{};
  f.state->op = BoolOp::kOr;
  f.state->type = StateTypesFilter{};
  f.state->name = StringsFilter{};
  f.state->name->any = std::vector<std::string>{"Cached"};
  EXPECT_EQ(Run(Tasks(f)), Ids{"T2"});

  TaskRunFilter g;
  g.state = StateFilter{};
  g.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted}, std::nullopt};
  g.state->name = StringsFilter{};
  g.state->name->any = std::vector<std::string>{"Completed"};
  EXPECT_EQ(Run(Tasks(g)), Ids{"T1"});

  // A state node with only empty children is TRUE.
  TaskRunFilter h;
  h.state = StateFilter{};
  h.state->op = BoolOp::kOr;
  h.state->type = StateTypesFilter{};
  h.state->name = StringsFilter{};
  EXPECT_EQ(Run(Tasks(h)), kAll);
}

// Example 12.
TEST_F(ExecutorExamplesTest, EmptyFlowSideFilterRequiresFlowRun) {
  EXPECT_EQ(Run(FlowRuns(FlowRunFilter{})), kWithFlowRun);
  EXPECT_EQ(Run(Flows(FlowFilter{})), kWithFlowRun);
}

// Example 13.
TEST_F(ExecutorExamplesTest, DeploymentFilterRequiresLiveDeployment) {
  EXPECT_EQ(Run(Deployments(DeploymentFilter{})), (Ids{"T4", "T2", "T1"}));
}

// Example 14.
TEST_F(ExecutorExamplesTest, DeploymentIdIsNullSeesStoredId) {
  FlowRunFilter f;
  f.deployment_id = UuidRefFilter{};
  f.deployment_id->is_null = false;
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T6", "T4", "T2", "T1"}));
  f.deployment_id->is_null = true;
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T7", "T3"}));
  f.deployment_id->is_null = std::nullopt;
  f.deployment_id->any = std::vector<Uuid>{kD9};
  EXPECT_EQ(Run(FlowRuns(f)), Ids{"T6"});
}

// Example 15.
TEST_F(ExecutorExamplesTest, DeploymentSubFilters) {
  DeploymentFilter limit;
  limit.has_concurrency_limit = true;
  EXPECT_EQ(Run(Deployments(limit)), (Ids{"T4", "T2", "T1"}));

  DeploymentFilter paused;
  paused.paused = PausedFilter{true};
  EXPECT_EQ(Run(Deployments(paused)), Ids{"T4"});
  paused.paused = PausedFilter{false};
  EXPECT_EQ(Run(Deployments(paused)), (Ids{"T2", "T1"}));

  DeploymentFilter either;
  either.flow_or_deployment_name = NameFilter{std::nullopt, std::string("daily")};
  EXPECT_EQ(Run(Deployments(either)), Ids{"T4"});
  either.flow_or_deployment_name = NameFilter{std::nullopt, std::string("NIGHTLY")};
  EXPECT_EQ(Run(Deployments(either)), (Ids{"T2", "T1"}));
  either.flow_or_deployment_name = NameFilter{std::nullopt, std::string("")};
  EXPECT_EQ(Run(Deployments(either)), (Ids{"T4", "T2", "T1"}));

  DeploymentFilter name;
  name.name = NameFilter{std::nullopt, std::string("t_m")};
  EXPECT_EQ(Run(Deployments(name)), Ids{"T4"});

  DeploymentFilter id;
  id.id = IdFilter{std::nullopt, std::vector<Uuid>{kD1}};
  EXPECT_EQ(Run(Deployments(id)), Ids{"T4"});

  DeploymentFilter tags;
  tags.tags = TagsFilter{};
  tags.tags->any = std::vector<std::string>{"nightly"};
  EXPECT_EQ(Run(Deployments(tags)), (Ids{"T2", "T1"}));

  DeploymentFilter queue;
  queue.work_queue_name = StringsFilter{};
  queue.work_queue_name->any = std::vector<std::string>{"default"};
  EXPECT_EQ(Run(Deployments(queue)), (Ids{"T2", "T1"}));

  FilterSet combined;
  combined.flows = FlowFilter{};
  combined.flows->tags = TagsFilter{};
  combined.flows->tags->all = std::vector<std::string>{"prod"};
  combined.deployments = DeploymentFilter{};
  combined.deployments->tags = TagsFilter{};
  combined.deployments->tags->is_null = true;
  EXPECT_EQ(Run(combined), Ids{"T4"});
}

// Example 16.
TEST_F(ExecutorExamplesTest, FlowRunStateQuirkDropsTwoCriteriaChild) {
  FlowRunFilter f;
  f.state = StateFilter{};
  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted},
                                   std::vector<StateType>{StateType::kFailed}};
  EXPECT_EQ(Run(FlowRuns(f)), kWithFlowRun);

  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted}, std::nullopt};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T6", "T2", "T1"}));

  f.state->type = StateTypesFilter{std::nullopt, std::vector<StateType>{StateType::kCompleted}};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T7", "T4", "T3"}));

  // any_ with an empty not_any_ is one criterion and is kept.
  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted},
                                   std::vector<StateType>{}};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T6", "T2", "T1"}));

  // The same quirk for names.
  FlowRunFilter g;
  g.state = StateFilter{};
  g.state->name = StringsFilter{};
  g.state->name->any = std::vector<std::string>{"Failed"};
  g.state->name->not_any = std::vector<std::string>{"Running"};
  EXPECT_EQ(Run(FlowRuns(g)), kWithFlowRun);
  g.state->name->not_any = std::nullopt;
  EXPECT_EQ(Run(FlowRuns(g)), (Ids{"T7", "T3"}));
}

// Example 17.
TEST_F(ExecutorExamplesTest, NotAnyExcludesNulls) {
  FlowRunFilter f;
  f.idempotency_key = StringsFilter{};
  f.idempotency_key->not_any = std::vector<std::string>{"k"};
  EXPECT_EQ(Run(FlowRuns(f)), Ids{});
  // An empty not_any_ adds no criterion.
  f.idempotency_key->not_any = std::vector<std::string>{};
  EXPECT_EQ(Run(FlowRuns(f)), kWithFlowRun);

  // not_any_ on work_queue_name: FR1 has `default`, the others NULL.
  FlowRunFilter q;
  q.work_queue_name = StringsFilter{};
  q.work_queue_name->not_any = std::vector<std::string>{"other"};
  EXPECT_EQ(Run(FlowRuns(q)), (Ids{"T2", "T1"}));
}

// Example 18.
TEST_F(ExecutorExamplesTest, FlowRunTagsAny) {
  FlowRunFilter f;
  f.tags = TagsFilter{};
  f.tags->any = std::vector<std::string>{};
  EXPECT_EQ(Run(FlowRuns(f)), Ids{});
  f.tags->any = std::vector<std::string>{"eu", "nightly"};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T6", "T4"}));
}

// Example 19.
TEST_F(ExecutorExamplesTest, Subflows) {
  TaskRunFilter f;
  f.subflow_runs = SubflowRunsFilter{true};
  EXPECT_EQ(Run(Tasks(f)), Ids{"T2"});
  f.subflow_runs = SubflowRunsFilter{false};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T7", "T6", "T5", "T4", "T3", "T1"}));
  f.subflow_runs = SubflowRunsFilter{std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), kAll);

  FlowRunFilter g;
  g.parent_flow_run_id = UuidRefFilter{};
  g.parent_flow_run_id->any = std::vector<Uuid>{kFR1};
  EXPECT_EQ(Run(FlowRuns(g)), Ids{"T4"});
  g.parent_flow_run_id->any = std::vector<Uuid>{kFR3};
  EXPECT_EQ(Run(FlowRuns(g)), Ids{});

  FlowRunFilter p;
  p.parent_task_run_id = UuidRefFilter{};
  p.parent_task_run_id->any = std::vector<Uuid>{TaskId(2)};
  EXPECT_EQ(Run(FlowRuns(p)), Ids{"T4"});
  p.parent_task_run_id = UuidRefFilter{};
  p.parent_task_run_id->is_null = true;
  EXPECT_EQ(Run(FlowRuns(p)), (Ids{"T7", "T6", "T3", "T2", "T1"}));
}

// Example 20.
TEST_F(ExecutorExamplesTest, FlowFilters) {
  FlowFilter f;
  f.deployment = FlowDeploymentFilter{};
  f.deployment->is_null = true;
  EXPECT_EQ(Run(Flows(f)), (Ids{"T7", "T3"}));
  f.deployment->is_null = false;
  EXPECT_EQ(Run(Flows(f)), (Ids{"T6", "T4", "T2", "T1"}));

  FlowFilter name;
  name.name = NameFilter{std::nullopt, std::string("_")};
  EXPECT_EQ(Run(Flows(name)), kWithFlowRun);
  name.name = NameFilter{std::vector<std::string>{"ml_train"}, std::nullopt};
  EXPECT_EQ(Run(Flows(name)), (Ids{"T7", "T3"}));

  FlowFilter id;
  id.id = IdFilter{std::nullopt, std::vector<Uuid>{kF1}};
  EXPECT_EQ(Run(Flows(id)), (Ids{"T7", "T4", "T3"}));
}

// Example 21.
TEST_F(ExecutorExamplesTest, TimeBoundsAreInclusive) {
  TaskRunFilter f;
  f.end_time = TimeFilter{At(10, 4), std::nullopt, std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T7", "T3", "T1"}));
  f.end_time = TimeFilter{std::nullopt, At(10, 4), std::nullopt};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T7", "T3", "T2"}));
  f.end_time = TimeFilter{std::nullopt, std::nullopt, true};
  EXPECT_EQ(Run(Tasks(f)), (Ids{"T6", "T5", "T4"}));

  TaskRunFilter start;
  start.start_time = TimeFilter{At(10, 3), At(10, 0, 5), std::nullopt};
  EXPECT_EQ(Run(Tasks(start)), (Ids{"T3", "T2", "T1"}));
  start.start_time = TimeFilter{std::nullopt, std::nullopt, false};
  EXPECT_EQ(Run(Tasks(start)), (Ids{"T4", "T3", "T2", "T1"}));

  TaskRunFilter expected;
  expected.expected_start_time = TimeFilter{std::nullopt, At(10, 4), std::nullopt};
  EXPECT_EQ(Run(Tasks(expected)), (Ids{"T6", "T4"}));
}

// Examples 22 and 23.
TEST_F(ExecutorExamplesTest, AllSortsPlaceNullsAsPostgresAndBreakTiesByIdDesc) {
  const FilterSet all;
  EXPECT_EQ(Run(all, TaskRunSort::kIdDesc), kAll);
  EXPECT_EQ(Run(all, TaskRunSort::kEndTimeDesc),
            (Ids{"T6", "T5", "T4", "T2", "T7", "T3", "T1"}));
  EXPECT_EQ(Run(all, TaskRunSort::kExpectedStartTimeAsc),
            (Ids{"T1", "T2", "T7", "T3", "T4", "T6", "T5"}));
  EXPECT_EQ(Run(all, TaskRunSort::kExpectedStartTimeDesc),
            (Ids{"T5", "T6", "T4", "T7", "T3", "T2", "T1"}));
  EXPECT_EQ(Run(all, TaskRunSort::kNameAsc), (Ids{"T3", "T7", "T2", "T6", "T1", "T4", "T5"}));
  EXPECT_EQ(Run(all, TaskRunSort::kNameDesc), (Ids{"T5", "T4", "T1", "T6", "T2", "T7", "T3"}));
  EXPECT_EQ(Run(all, TaskRunSort::kNextScheduledStartTimeAsc),
            (Ids{"T6", "T7", "T5", "T4", "T3", "T2", "T1"}));
}

// Example 24.
TEST_F(ExecutorExamplesTest, PaginationArithmetic) {
  auto page = [](TaskRunSort sort, uint64_t offset, int64_t limit) {
    PaginateQuery q;
    q.sort = sort;
    q.offset = offset;
    q.limit = limit;
    PageResult r = Paginate(*store_, q);
    EXPECT_EQ(r.count, 7u);
    return Names(*store_, r.rows);
  };
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 3, 3), (Ids{"T4", "T3", "T2"}));
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 9, 3), Ids{});
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 20, 0), Ids{});
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 0, 0), Ids{});
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 0, 2), (Ids{"T7", "T6"}));
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 2, 2), (Ids{"T5", "T4"}));
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 6, 2), Ids{"T1"});
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 7, 2), Ids{});
  EXPECT_EQ(page(TaskRunSort::kIdDesc, 0, 200), kAll);
  EXPECT_EQ(page(TaskRunSort::kIdDesc, UINT64_MAX, 200), Ids{});
  EXPECT_EQ(page(TaskRunSort::kEndTimeDesc, UINT64_MAX, 1), Ids{});
  // Pages of a sorted order concatenate to the full order.
  Ids joined;
  for (uint64_t offset = 0; offset < 7; offset += 2) {
    Ids part = page(TaskRunSort::kEndTimeDesc, offset, 2);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  EXPECT_EQ(joined, (Ids{"T6", "T5", "T4", "T2", "T7", "T3", "T1"}));
}

TEST_F(ExecutorExamplesTest, SortedPageCutsFromGivenRows) {
  Bitmap rows = MatchTaskRuns(*store_, FilterSet{});
  EXPECT_EQ(Names(*store_, SortedPage(*store_, rows, TaskRunSort::kNameAsc, 1, 2)),
            (Ids{"T7", "T2"}));
  EXPECT_EQ(Names(*store_, SortedPage(*store_, rows, TaskRunSort::kNameAsc, 6, UINT64_MAX)),
            Ids{"T5"});
  EXPECT_EQ(SortedPage(*store_, Bitmap(), TaskRunSort::kNameAsc, 0, 10).size(), 0u);
}

TEST_F(ExecutorExamplesTest, FlowRunCreatedBy) {
  FlowRunFilter f;
  f.created_by = CreatedByFilter{};
  f.created_by->id = std::vector<Uuid>{U("c0000000-0000-4000-8000-000000000000")};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T2", "T1"}));
  f.created_by = CreatedByFilter{};
  f.created_by->type = std::vector<std::string>{"DEPLOYMENT"};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T2", "T1"}));
  f.created_by->type = std::vector<std::string>{"deployment"};
  EXPECT_EQ(Run(FlowRuns(f)), Ids{});
  f.created_by = CreatedByFilter{};
  f.created_by->id = std::vector<Uuid>{};
  EXPECT_EQ(Run(FlowRuns(f)), Ids{});
  f.created_by = CreatedByFilter{};
  f.created_by->is_null = true;
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T7", "T6", "T4", "T3"}));
  f.created_by->op = BoolOp::kOr;
  f.created_by->type = std::vector<std::string>{"DEPLOYMENT"};
  EXPECT_EQ(Run(FlowRuns(f)), kWithFlowRun);
}

TEST_F(ExecutorExamplesTest, FlowRunIdAndNameFilters) {
  FlowRunFilter f;
  f.id = IdFilter{std::vector<Uuid>{kFR2, kFR3}, std::vector<Uuid>{kFR3}};
  EXPECT_EQ(Run(FlowRuns(f)), (Ids{"T7", "T3"}));
  FlowRunFilter n;
  n.name = NameFilter{std::nullopt, std::string("O")};  // happy-otter, quick-fox, lone-wolf
  EXPECT_EQ(Run(FlowRuns(n)), (Ids{"T6", "T4", "T2", "T1"}));
  FlowRunFilter v;
  v.flow_version = StringsFilter{};
  v.flow_version->any = std::vector<std::string>{"1.0"};
  EXPECT_EQ(Run(FlowRuns(v)), Ids{});
}

TEST_F(ExecutorExamplesTest, AllFourFiltersCombine) {
  FilterSet fs;
  fs.task_runs = TaskNameLike("extract");
  fs.flow_runs = FlowRunFilter{};
  fs.flows = FlowFilter{};
  fs.flows->name = NameFilter{std::vector<std::string>{"etl"}, std::nullopt};
  fs.deployments = DeploymentFilter{};
  EXPECT_EQ(Run(fs), (Ids{"T2", "T1"}));  // T6 drops out: D9 is gone
}

// ---------------------------------------------------------------------------
// Joins to missing rows (entities.md 1.1)

TEST(ExecutorTest, OrphansAndMissingParentsNeverJoin) {
  StoreBuilder b;
  const Uuid ghost_run = U("ee000000-0000-4000-8000-000000000000");
  const Uuid ghost_flow = U("ef000000-0000-4000-8000-000000000000");
  b.AddFlow({kF1, "etl", {}});
  b.AddDeployment({kD1, "dep", ghost_flow, false, {}, std::nullopt});  // flow missing
  FlowRunRecord r1 = FlowRun(kFR1, "r1", ghost_flow, kD1, {}, StateType::kCompleted, "Completed");
  r1.start_time = std::nullopt;
  r1.expected_start_time = At(9, 0);
  b.AddFlowRun(r1);
  FlowRunRecord r2 = FlowRun(kFR2, "r2", kF1, std::nullopt, {}, StateType::kCompleted, "Completed");
  r2.start_time = At(11, 0);
  r2.expected_start_time = At(8, 0);
  r2.parent_task_run_id = U("00000000-0000-4000-8000-0000000000ff");  // absent task run
  b.AddFlowRun(r2);
  b.AddTaskRun(Task(1, "a", kFR1, {}, std::nullopt, std::nullopt, {}, {}, {}));
  b.AddTaskRun(Task(2, "b", kFR2, {}, std::nullopt, std::nullopt, {}, {}, {}));
  b.AddTaskRun(Task(3, "orphan", ghost_run, {}, std::nullopt, std::nullopt, {}, {}, {}));
  std::unique_ptr<Store> store = b.Build();
  auto ids = [&](const FilterSet& fs) {
    Bitmap rows = MatchTaskRuns(*store, fs);
    EXPECT_EQ(rows.cardinality(), Count(*store, fs));
    return Names(*store, SortedPage(*store, rows, TaskRunSort::kIdDesc, 0, 100));
  };

  FilterSet none;
  EXPECT_EQ(ids(none), (Ids{"T3", "T2", "T1"}));

  FilterSet flow_runs;
  flow_runs.flow_runs = FlowRunFilter{};
  EXPECT_EQ(ids(flow_runs), (Ids{"T2", "T1"}));  // the orphan never joins

  // The orphan's stored flow_run_id still matches task_runs.flow_run_id.
  FilterSet by_stored_id;
  by_stored_id.task_runs = TaskRunFilter{};
  by_stored_id.task_runs->flow_run_id = UuidRefFilter{};
  by_stored_id.task_runs->flow_run_id->is_null = false;
  by_stored_id.task_runs->flow_run_id->any = std::vector<Uuid>{ghost_run, kFR2};
  EXPECT_EQ(ids(by_stored_id), (Ids{"T3", "T2"}));
  by_stored_id.flow_runs = FlowRunFilter{};
  EXPECT_EQ(ids(by_stored_id), Ids{"T2"});

  // FR1's flow is missing: it never matches a flows filter.
  FilterSet flows;
  flows.flows = FlowFilter{};
  EXPECT_EQ(ids(flows), Ids{"T2"});

  // D1's flow is missing: only the deployment-name branch can match.
  FilterSet either;
  either.deployments = DeploymentFilter{};
  either.deployments->flow_or_deployment_name = NameFilter{std::nullopt, std::string("etl")};
  EXPECT_EQ(ids(either), Ids{});
  either.deployments->flow_or_deployment_name = NameFilter{std::nullopt, std::string("DEP")};
  EXPECT_EQ(ids(either), Ids{"T1"});

  // start_time before_/after_ read COALESCE(start_time, expected_start_time);
  // is_null_ reads start_time alone.
  FilterSet start;
  start.flow_runs = FlowRunFilter{};
  start.flow_runs->start_time = TimeFilter{At(9, 30), std::nullopt, std::nullopt};
  EXPECT_EQ(ids(start), Ids{"T1"});  // FR1 via expected 09:00; FR2 starts 11:00
  start.flow_runs->start_time = TimeFilter{std::nullopt, At(10, 0), std::nullopt};
  EXPECT_EQ(ids(start), Ids{"T2"});
  start.flow_runs->start_time = TimeFilter{std::nullopt, std::nullopt, true};
  EXPECT_EQ(ids(start), Ids{"T1"});
  start.flow_runs->start_time = TimeFilter{At(12, 0), std::nullopt, true};
  EXPECT_EQ(ids(start), Ids{"T1"});

  // parent_task_run_id names an absent task run: non-null, but
  // parent_flow_run_id cannot match through it.
  FilterSet parent;
  parent.flow_runs = FlowRunFilter{};
  parent.flow_runs->parent_task_run_id = UuidRefFilter{};
  parent.flow_runs->parent_task_run_id->is_null = false;
  EXPECT_EQ(ids(parent), Ids{"T2"});
  parent.flow_runs->parent_task_run_id = std::nullopt;
  parent.flow_runs->parent_flow_run_id = UuidRefFilter{};
  parent.flow_runs->parent_flow_run_id->any = std::vector<Uuid>{kFR1, kFR2, ghost_run};
  EXPECT_EQ(ids(parent), Ids{});
}

// Many flow runs, so that both ways of carrying a flow-run set to task runs
// (postings union and a pass over flow_run_row) are exercised, and pages big
// enough for both the heap and the full sort.
TEST(ExecutorTest, LargeStoreCarriesAndSortsConsistently) {
  StoreBuilder b;
  b.AddFlow({kF1, "etl", {}});
  constexpr int kFlowRuns = 64;
  constexpr int kPerRun = 10;
  auto flow_run_id = [](int i) {
    Uuid u = U("a0000000-0000-4000-8000-000000000000");
    u.bytes[14] = static_cast<uint8_t>(i);
    return u;
  };
  for (int i = 0; i < kFlowRuns; ++i) {
    b.AddFlowRun(FlowRun(flow_run_id(i), "r" + std::to_string(i), kF1, std::nullopt, {},
                         i % 2 ? StateType::kFailed : StateType::kCompleted, "x"));
  }
  int n = 0;
  for (int i = 0; i < kFlowRuns; ++i) {
    for (int j = 0; j < kPerRun; ++j, ++n) {
      TaskRunRecord t = Task(0, "t" + std::to_string(n % 37), flow_run_id(i), {}, std::nullopt,
                             std::nullopt, At(10, n % 13), std::nullopt, std::nullopt);
      t.id.bytes[14] = static_cast<uint8_t>(n >> 8);
      t.id.bytes[15] = static_cast<uint8_t>(n);
      t.id.bytes[0] = static_cast<uint8_t>((n * 37) % 251);  // ids not in row order
      b.AddTaskRun(t);
    }
  }
  TaskRunRecord free_run =
      Task(0, "free", std::nullopt, {}, std::nullopt, std::nullopt, {}, {}, {});
  free_run.id.bytes[1] = 0xFF;
  b.AddTaskRun(free_run);
  std::unique_ptr<Store> store = b.Build();
  const uint32_t num = store->task_runs.size();

  // Few flow runs: postings. Half of them: a pass over flow_run_row.
  for (const std::vector<Uuid>& ids :
       {std::vector<Uuid>{flow_run_id(3)}, std::vector<Uuid>{flow_run_id(3), flow_run_id(40)}}) {
    FilterSet fs;
    fs.flow_runs = FlowRunFilter{};
    fs.flow_runs->id = IdFilter{ids, std::nullopt};
    EXPECT_EQ(Count(*store, fs), ids.size() * kPerRun);
  }
  FilterSet failed;
  failed.flow_runs = FlowRunFilter{};
  failed.flow_runs->state = StateFilter{};
  failed.flow_runs->state->type =
      StateTypesFilter{std::vector<StateType>{StateType::kFailed}, std::nullopt};
  Bitmap rows = MatchTaskRuns(*store, failed);
  EXPECT_EQ(rows.cardinality(), uint64_t{kFlowRuns / 2 * kPerRun});
  for (uint32_t r = 0; r < num; ++r) {
    const RowId fr = store->task_runs.flow_run_row[r];
    const bool want = fr != kNoRow && store->flow_runs.state_type[fr] ==
                                          static_cast<uint8_t>(StateType::kFailed);
    EXPECT_EQ(rows.contains(r), want) << r;
  }

  // Every sort: small pages (heap) agree with slices of the full order.
  Bitmap all = MatchTaskRuns(*store, FilterSet{});
  for (int s = 0; s < kNumTaskRunSorts; ++s) {
    const TaskRunSort sort = static_cast<TaskRunSort>(s);
    SCOPED_TRACE(std::string(TaskRunSortName(sort)));
    std::vector<RowId> full = SortedPage(*store, all, sort, 0, num);
    ASSERT_EQ(full.size(), num);
    for (uint64_t offset : {uint64_t{0}, uint64_t{5}, uint64_t{37}, uint64_t{num - 3}}) {
      std::vector<RowId> part = SortedPage(*store, all, sort, offset, 7);
      std::vector<RowId> want(full.begin() + offset,
                              full.begin() + std::min<uint64_t>(offset + 7, num));
      EXPECT_EQ(part, want) << offset;
    }
    // The full order is strictly ordered by the key, then id descending.
    const TaskRunTable& t = store->task_runs;
    for (size_t i = 1; i < full.size(); ++i) {
      const RowId a = full[i - 1], c = full[i];
      if (sort == TaskRunSort::kIdDesc) {
        EXPECT_GT(t.id[a], t.id[c]);
      } else if (sort == TaskRunSort::kNameAsc) {
        const auto na = store->task_run_names.Get(t.name[a]);
        const auto nc = store->task_run_names.Get(t.name[c]);
        EXPECT_TRUE(na < nc || (na == nc && t.id[a] > t.id[c]));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// LikeMatches (paginate.md 4.2)

struct LikeCase {
  std::string_view text;
  std::string_view pattern;
  bool want;
};

TEST(LikeMatchesTest, Table) {
  const LikeCase cases[] = {
      // Contains search, `_` is one character, `%` any run.
      {"extract_a", "ct_a", true},
      {"extractXa", "ct_a", true},
      {"extract-b", "ct_a", false},
      {"abc", "a%c", true},
      {"ac", "a%c", true},
      {"abd", "a%c", false},
      {"", "_", false},
      {"x", "_", true},
      {"abc", "abcd", false},
      {"mississippi", "issip", true},
      {"abab", "bab", true},
      {"aab", "ab", true},
      {"report_main", "t_m", true},
      // Empty pattern matches everything, including the empty string.
      {"", "", true},
      {"abc", "", true},
      {"", "%", true},
      // Backslash escapes.
      {"extract_a", "ct\\_a", true},
      {"extractXa", "ct\\_a", false},
      {"100%", "0\\%", true},
      {"100", "0\\%", false},
      {"a\\b", "a\\\\b", true},
      {"ab", "a\\\\b", false},
      {"abc", "\\a\\b", true},
      // A trailing backslash consumes the closing `%`: "ends with abc%".
      {"xabc%", "abc\\", true},
      {"abc%", "abc\\", true},
      {"xabc%y", "abc\\", false},
      {"xabc", "abc\\", false},
      {"%", "\\", true},
      {"x", "\\", false},
      // ASCII-only case folding.
      {"Transform", "TRANS", true},
      {"TRANSFORM", "trans", true},
      {"\xC3\x89", "\xC3\xA9", false},  // É vs é
      {"\xC3\xA9", "\xC3\xA9", true},
      {"\xC3\x89t\xC3\xA9", "\xC3\x89T", true},
      {"@", "`", false},
      {"[", "{", false},
      // `_` consumes one UTF-8 code point, not one byte.
      {"\xC3\xA9", "_", true},
      {"\xC3\xA9", "__", false},
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE6\x97\xA5_\xE8\xAA\x9E", true},   // 日本語, 日_語
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE6\x9C\xAC__", false},            // 本__
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE6\x9C\xAC_", true},              // 本_
      {"\xF0\x9F\x98\x80x", "_x", true},                                              // 😀x
      {"a\xF0\x9F\x98\x80", "a_", true},
      {"a\xF0\x9F\x98\x80", "a__", false},
  };
  for (const LikeCase& c : cases) {
    EXPECT_EQ(LikeMatches(c.text, c.pattern), c.want)
        << "text=\"" << c.text << "\" pattern=\"" << c.pattern << "\"";
  }
}

}  // namespace
}  // namespace taskdex
