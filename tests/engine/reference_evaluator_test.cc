// tests/engine/reference_evaluator_test.cc
//
// The oracle must itself be right: it answers every example of examples.md
// (filters built by hand), and its like_ follows paginate.md 4.2 token by
// token.

#include "tests/testing/reference_evaluator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/snapshot_loader.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/examples_data.h"
#include "tests/testing/random_data.h"
#include "tests/testing/shrink.h"

namespace taskdex {
namespace {

using examples::At;
using examples::D;
using examples::F;
using examples::FR;
using examples::T;

// "T1".."T7" for task-run ids of the examples, the uuid text otherwise.
std::vector<std::string> Names(const std::vector<Uuid>& ids) {
  std::vector<std::string> out;
  for (const Uuid& id : ids) {
    std::string name = RefUuidText(id);
    for (int n = 1; n <= 7; ++n) {
      if (id == T(n)) name = "T" + std::to_string(n);
    }
    out.push_back(name);
  }
  return out;
}

std::vector<std::string> Ts(std::initializer_list<int> ns) {
  std::vector<std::string> out;
  for (int n : ns) out.push_back("T" + std::to_string(n));
  return out;
}

ReferenceResult RunExamples(const FilterSet& fs, TaskRunSort sort = TaskRunSort::kIdDesc,
                    int64_t limit = 200, uint64_t page = 1) {
  PaginateQuery q;
  q.filters = fs;
  q.sort = sort;
  q.limit = limit;
  q.offset = (page - 1) * static_cast<uint64_t>(limit);
  return RefPaginate(examples::Records(), q);
}

// Checks the rows (in order) and the count of a limit-200 first page.
void ExpectRows(const FilterSet& fs, std::initializer_list<int> expected) {
  SCOPED_TRACE(DescribeFilterSet(fs));
  ReferenceResult r = RunExamples(fs);
  EXPECT_EQ(Names(r.ids), Ts(expected));
  EXPECT_EQ(r.count, expected.size());
  EXPECT_EQ(r.pages, expected.size() == 0 ? 0u : 1u);
}

FilterSet TaskRuns(const TaskRunFilter& f) {
  FilterSet fs;
  fs.task_runs = f;
  return fs;
}
FilterSet FlowRuns(const FlowRunFilter& f) {
  FilterSet fs;
  fs.flow_runs = f;
  return fs;
}
FilterSet Deployments(const DeploymentFilter& f) {
  FilterSet fs;
  fs.deployments = f;
  return fs;
}
FilterSet Flows(const FlowFilter& f) {
  FilterSet fs;
  fs.flows = f;
  return fs;
}
TaskRunFilter TaskName(const std::string& like) {
  TaskRunFilter f;
  f.name = NameFilter{std::nullopt, like};
  return f;
}

TEST(ReferenceEvaluatorTest, Example01EmptyBody) {
  ExpectRows(FilterSet{}, {7, 6, 5, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example02EmptyAnyMatchesNothingEmptyAllIsIgnored) {
  TaskRunFilter f;
  f.id = IdFilter{std::vector<Uuid>{}, std::nullopt};
  ExpectRows(TaskRuns(f), {});

  TaskRunFilter g;
  g.state = StateFilter{};
  g.state->type = StateTypesFilter{std::vector<StateType>{}, std::nullopt};
  ExpectRows(TaskRuns(g), {});

  TaskRunFilter h;
  h.tags = TagsFilter{};
  h.tags->all = std::vector<std::string>{};
  ExpectRows(TaskRuns(h), {7, 6, 5, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example03FlowRunIdDefaultHidesAutonomousTasks) {
  UuidRefFilter r;
  r.is_null = false;  // the parser's default for an absent is_null_
  TaskRunFilter f;
  f.flow_run_id = r;
  ExpectRows(TaskRuns(f), {7, 6, 4, 3, 2, 1});

  r.is_null = std::nullopt;  // explicit null
  f.flow_run_id = r;
  ExpectRows(TaskRuns(f), {7, 6, 5, 4, 3, 2, 1});

  r.is_null = true;
  f.flow_run_id = r;
  ExpectRows(TaskRuns(f), {5});

  r.any = std::vector<Uuid>{FR(2)};
  f.flow_run_id = r;  // is_null_ true wins over any_
  ExpectRows(TaskRuns(f), {5});

  r.is_null = false;
  f.flow_run_id = r;
  ExpectRows(TaskRuns(f), {7, 3});
}

TEST(ReferenceEvaluatorTest, Example04UnderscoreIsAWildcard) {
  ExpectRows(TaskRuns(TaskName("ct_a")), {6, 1});
}

TEST(ReferenceEvaluatorTest, Example05BackslashEscapes) {
  ExpectRows(TaskRuns(TaskName("ct\\_a")), {1});
  ExpectRows(TaskRuns(TaskName("TRANS")), {3});
  ExpectRows(TaskRuns(TaskName("")), {7, 6, 5, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example06TagsIsNullMeansEmptyArray) {
  TaskRunFilter f;
  f.tags = TagsFilter{};
  f.tags->is_null = true;
  ExpectRows(TaskRuns(f), {7, 4, 3});
  f.tags->is_null = false;
  ExpectRows(TaskRuns(f), {6, 5, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example07TagsAllIsSuperset) {
  TaskRunFilter f;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"io", "slow"};
  ExpectRows(TaskRuns(f), {2});
  f.tags->all = std::vector<std::string>{"io"};
  ExpectRows(TaskRuns(f), {6, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example08OrAtTaskRunLevel) {
  TaskRunFilter f;
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"slow"};
  f.state = StateFilter{};
  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kFailed}, std::nullopt};
  ExpectRows(TaskRuns(f), {3, 2});
}

TEST(ReferenceEvaluatorTest, Example09NestedOperators) {
  TaskRunFilter f = TaskName("load");
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->op = BoolOp::kAnd;
  f.tags->all = std::vector<std::string>{"io"};
  f.tags->is_null = false;
  ExpectRows(TaskRuns(f), {6, 4, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example10EmptyChildUnderOrIsTrue) {
  TaskRunFilter f = TaskName("");
  f.op = BoolOp::kOr;
  f.tags = TagsFilter{};
  f.tags->all = std::vector<std::string>{"slow"};
  ExpectRows(TaskRuns(f), {7, 6, 5, 4, 3, 2, 1});

  TaskRunFilter g;
  g.op = BoolOp::kOr;
  ExpectRows(TaskRuns(g), {7, 6, 5, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example11StateNodesSkipEmptyChildren) {
  TaskRunFilter f;
  f.state = StateFilter{};
  f.state->op = BoolOp::kOr;
  f.state->type = StateTypesFilter{};
  f.state->name = StringsFilter{};
  f.state->name->any = std::vector<std::string>{"Cached"};
  ExpectRows(TaskRuns(f), {2});

  TaskRunFilter g;
  g.state = StateFilter{};
  g.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted}, std::nullopt};
  g.state->name = StringsFilter{};
  g.state->name->any = std::vector<std::string>{"Completed"};
  ExpectRows(TaskRuns(g), {1});
}

TEST(ReferenceEvaluatorTest, Example12AnyFlowRunSideFilterNeedsAFlowRun) {
  ExpectRows(FlowRuns(FlowRunFilter{}), {7, 6, 4, 3, 2, 1});
  ExpectRows(Flows(FlowFilter{}), {7, 6, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example13DeploymentFilterNeedsALiveDeployment) {
  ExpectRows(Deployments(DeploymentFilter{}), {4, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example14DeploymentIdIsNullSeesStoredId) {
  FlowRunFilter f;
  f.deployment_id = UuidRefFilter{};
  f.deployment_id->is_null = false;
  ExpectRows(FlowRuns(f), {6, 4, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example15DeploymentSubFilters) {
  DeploymentFilter cl;
  cl.has_concurrency_limit = true;
  ExpectRows(Deployments(cl), {4, 2, 1});

  DeploymentFilter paused;
  paused.paused = PausedFilter{true};
  ExpectRows(Deployments(paused), {4});
  paused.paused = PausedFilter{false};
  ExpectRows(Deployments(paused), {2, 1});

  DeploymentFilter fodn;
  fodn.flow_or_deployment_name = NameFilter{std::nullopt, "daily"};
  ExpectRows(Deployments(fodn), {4});

  DeploymentFilter name;
  name.name = NameFilter{std::nullopt, "t_m"};
  ExpectRows(Deployments(name), {4});

  DeploymentFilter id;
  id.id = IdFilter{std::nullopt, std::vector<Uuid>{D(1)}};
  ExpectRows(Deployments(id), {4});

  DeploymentFilter tags;
  tags.tags = TagsFilter{};
  tags.tags->any = std::vector<std::string>{"nightly"};
  ExpectRows(Deployments(tags), {2, 1});

  DeploymentFilter wq;
  wq.work_queue_name = StringsFilter{};
  wq.work_queue_name->any = std::vector<std::string>{"default"};
  ExpectRows(Deployments(wq), {2, 1});

  FilterSet both;
  both.flows = FlowFilter{};
  both.flows->tags = TagsFilter{};
  both.flows->tags->all = std::vector<std::string>{"prod"};
  both.deployments = DeploymentFilter{};
  both.deployments->tags = TagsFilter{};
  both.deployments->tags->is_null = true;
  ExpectRows(both, {4});
}

TEST(ReferenceEvaluatorTest, Example16FlowRunStateAnyWithNotAnyDropsTypeCondition) {
  FlowRunFilter f;
  f.state = StateFilter{};
  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted},
                                   std::vector<StateType>{StateType::kFailed}};
  ExpectRows(FlowRuns(f), {7, 6, 4, 3, 2, 1});

  f.state->type = StateTypesFilter{std::vector<StateType>{StateType::kCompleted}, std::nullopt};
  ExpectRows(FlowRuns(f), {6, 2, 1});

  f.state->type = StateTypesFilter{std::nullopt, std::vector<StateType>{StateType::kCompleted}};
  ExpectRows(FlowRuns(f), {7, 4, 3});
}

TEST(ReferenceEvaluatorTest, Example17NotAnyExcludesNulls) {
  FlowRunFilter f;
  f.idempotency_key = StringsFilter{};
  f.idempotency_key->not_any = std::vector<std::string>{"k"};
  ExpectRows(FlowRuns(f), {});
}

TEST(ReferenceEvaluatorTest, Example18FlowRunTagsAny) {
  FlowRunFilter f;
  f.tags = TagsFilter{};
  f.tags->any = std::vector<std::string>{};
  ExpectRows(FlowRuns(f), {});
  f.tags->any = std::vector<std::string>{"eu", "nightly"};
  ExpectRows(FlowRuns(f), {6, 4});
}

TEST(ReferenceEvaluatorTest, Example19Subflows) {
  TaskRunFilter f;
  f.subflow_runs = SubflowRunsFilter{true};
  ExpectRows(TaskRuns(f), {2});
  f.subflow_runs = SubflowRunsFilter{false};
  ExpectRows(TaskRuns(f), {7, 6, 5, 4, 3, 1});

  FlowRunFilter g;
  g.parent_flow_run_id = UuidRefFilter{};
  g.parent_flow_run_id->any = std::vector<Uuid>{FR(1)};
  ExpectRows(FlowRuns(g), {4});
}

TEST(ReferenceEvaluatorTest, Example20FlowFilters) {
  FlowFilter f;
  f.deployment = FlowDeploymentFilter{};
  f.deployment->is_null = true;
  ExpectRows(Flows(f), {7, 3});

  FlowFilter g;
  g.name = NameFilter{std::nullopt, "_"};
  ExpectRows(Flows(g), {7, 6, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, Example21TimeBoundsAreInclusive) {
  TaskRunFilter f;
  f.end_time = TimeFilter{};
  f.end_time->before = At(10, 4);
  ExpectRows(TaskRuns(f), {7, 3, 1});

  TaskRunFilter g;
  g.end_time = TimeFilter{};
  g.end_time->after = At(10, 4);  // "2024-05-01T12:04:00+02:00"
  ExpectRows(TaskRuns(g), {7, 3, 2});
}

TEST(ReferenceEvaluatorTest, Example22EndTimeDescNullsFirstTiesByIdDesc) {
  ReferenceResult r = RunExamples(FilterSet{}, TaskRunSort::kEndTimeDesc);
  EXPECT_EQ(Names(r.ids), Ts({6, 5, 4, 2, 7, 3, 1}));
  EXPECT_EQ(r.count, 7u);
}

TEST(ReferenceEvaluatorTest, Example23OtherSorts) {
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kExpectedStartTimeAsc).ids),
            Ts({1, 2, 7, 3, 4, 6, 5}));
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kExpectedStartTimeDesc).ids),
            Ts({5, 6, 4, 7, 3, 2, 1}));
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kNameAsc).ids), Ts({3, 7, 2, 6, 1, 4, 5}));
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kNameDesc).ids), Ts({5, 4, 1, 6, 2, 7, 3}));
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kNextScheduledStartTimeAsc).ids),
            Ts({6, 7, 5, 4, 3, 2, 1}));
  EXPECT_EQ(Names(RunExamples(FilterSet{}, TaskRunSort::kIdDesc).ids), Ts({7, 6, 5, 4, 3, 2, 1}));
}

TEST(ReferenceEvaluatorTest, Example24PaginationArithmetic) {
  ReferenceResult r = RunExamples(FilterSet{}, TaskRunSort::kIdDesc, 3, 2);
  EXPECT_EQ(Names(r.ids), Ts({4, 3, 2}));
  EXPECT_EQ(r.count, 7u);
  EXPECT_EQ(r.pages, 3u);

  r = RunExamples(FilterSet{}, TaskRunSort::kIdDesc, 3, 4);
  EXPECT_TRUE(r.ids.empty());
  EXPECT_EQ(r.count, 7u);
  EXPECT_EQ(r.pages, 3u);

  r = RunExamples(FilterSet{}, TaskRunSort::kIdDesc, 0, 5);
  EXPECT_TRUE(r.ids.empty());
  EXPECT_EQ(r.count, 7u);
  EXPECT_EQ(r.pages, 0u);

  r = RunExamples(FilterSet{}, TaskRunSort::kIdDesc, 2, 1);
  EXPECT_EQ(Names(r.ids), Ts({7, 6}));
  EXPECT_EQ(r.pages, 4u);

  r = RunExamples(FilterSet{}, TaskRunSort::kIdDesc, 2, 2);
  EXPECT_EQ(Names(r.ids), Ts({5, 4}));
  EXPECT_EQ(r.pages, 4u);

  PaginateQuery q;
  q.limit = 200;
  q.offset = UINT64_MAX;  // a page whose offset overflows: empty
  ReferenceResult far = RefPaginate(examples::Records(), q);
  EXPECT_TRUE(far.ids.empty());
  EXPECT_EQ(far.count, 7u);
}

TEST(ReferenceEvaluatorTest, Example25UnknownTopLevelKeyIsAnEmptyFilterSet) {
  // {"taskruns": {"id": {}}} parses to an empty FilterSet: all 7.
  ExpectRows(FilterSet{}, {7, 6, 5, 4, 3, 2, 1});
}

TEST(ReferenceEvaluatorTest, CreatedByComparesLowercaseText) {
  FlowRunFilter f;
  f.created_by = CreatedByFilter{};
  f.created_by->id = std::vector<Uuid>{examples::Creator()};
  ExpectRows(FlowRuns(f), {2, 1});
  f.created_by->id = std::vector<Uuid>{};
  ExpectRows(FlowRuns(f), {});

  FlowRunFilter g;
  g.created_by = CreatedByFilter{};
  g.created_by->type = std::vector<std::string>{"deployment"};  // case-sensitive
  ExpectRows(FlowRuns(g), {});
  g.created_by->type = std::vector<std::string>{"DEPLOYMENT"};
  ExpectRows(FlowRuns(g), {2, 1});

  FlowRunFilter h;
  h.created_by = CreatedByFilter{};
  h.created_by->is_null = true;
  ExpectRows(FlowRuns(h), {7, 6, 4, 3});
}

TEST(ReferenceEvaluatorTest, FlowRunStartTimeFallsBackToExpectedStartTime) {
  SnapshotRecords data = examples::Records();
  data.flow_runs[1].expected_start_time = At(10, 30);  // FR2: no start_time
  data.flow_runs[0].start_time = At(9, 0);              // FR1
  PaginateQuery q;
  q.filters.flow_runs = FlowRunFilter{};
  q.filters.flow_runs->start_time = TimeFilter{};
  q.filters.flow_runs->start_time->after = At(10, 30);
  EXPECT_EQ(Names(RefPaginate(data, q).ids), Ts({7, 3}));
  q.filters.flow_runs->start_time = TimeFilter{};
  q.filters.flow_runs->start_time->is_null = true;  // start_time alone
  EXPECT_EQ(Names(RefPaginate(data, q).ids), Ts({7, 6, 4, 3}));
}

TEST(ReferenceEvaluatorTest, RepeatedIdKeepsTheLastRecord) {
  SnapshotRecords data = examples::Records();
  TaskRunRecord again = data.task_runs[0];  // T1
  again.name = "renamed";
  data.task_runs.push_back(again);
  PaginateQuery q;
  q.filters.task_runs = TaskRunFilter{};
  q.filters.task_runs->name = NameFilter{std::vector<std::string>{"extract_a"}, std::nullopt};
  EXPECT_TRUE(RefPaginate(data, q).ids.empty());
  q.filters.task_runs = TaskName("renamed");
  EXPECT_EQ(Names(RefPaginate(data, q).ids), Ts({1}));
  EXPECT_EQ(RefPaginate(data, PaginateQuery{}).count, 7u);
}

// The snapshot copy of examples.md, read by the loader, holds the same rows
// (in the fields the filters read) as the records built in code.
TEST(ReferenceEvaluatorTest, ExamplesSnapshotMatchesTheRecordsBuiltInCode) {
  LoadOptions options;
  options.threads = 1;
  absl::StatusOr<SnapshotRecords> loaded =
      ReadSnapshotRecords(TASKDEX_EXAMPLES_DIR "/snapshot", options, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(DescribeRecords(*loaded), DescribeRecords(examples::Records()));
  EXPECT_EQ(Names(RefPaginate(*loaded, PaginateQuery{}).ids), Ts({7, 6, 5, 4, 3, 2, 1}));
}

TEST(RefLikeMatchesTest, FollowsTheTokenRules) {
  EXPECT_TRUE(RefLikeMatches("extract_a", "ct_a"));
  EXPECT_TRUE(RefLikeMatches("extractXa", "ct_a"));
  EXPECT_FALSE(RefLikeMatches("extractXa", "ct\\_a"));
  EXPECT_TRUE(RefLikeMatches("extract_a", "ct\\_a"));
  EXPECT_TRUE(RefLikeMatches("Transform", "TRANS"));
  EXPECT_TRUE(RefLikeMatches("", ""));
  EXPECT_TRUE(RefLikeMatches("abc", ""));
  EXPECT_FALSE(RefLikeMatches("", "_"));
  EXPECT_TRUE(RefLikeMatches("\xc3\xa9", "_"));          // one code point
  EXPECT_FALSE(RefLikeMatches("\xc3\xa9", "__"));
  EXPECT_FALSE(RefLikeMatches("\xc3\xa9", "\xc3\x89"));  // no folding beyond ASCII
  EXPECT_TRUE(RefLikeMatches("100%", "0\\%"));
  EXPECT_FALSE(RefLikeMatches("100", "0\\%"));
  EXPECT_TRUE(RefLikeMatches("a\\b", "\\\\"));
  EXPECT_FALSE(RefLikeMatches("ab", "\\\\"));
  EXPECT_TRUE(RefLikeMatches("xa\\b", "a\\\\b"));
  // A trailing backslash escapes the closing %: "ends with a%".
  EXPECT_TRUE(RefLikeMatches("xxa%", "a\\"));
  EXPECT_FALSE(RefLikeMatches("xxa%y", "a\\"));
  EXPECT_FALSE(RefLikeMatches("xxa", "a\\"));
  // \x is a literal x; case still folds.
  EXPECT_TRUE(RefLikeMatches("aXb", "\\x"));
  EXPECT_TRUE(RefLikeMatches("report_main", "t_m"));
  EXPECT_TRUE(RefLikeMatches("d-1-1", "d_1"));
  EXPECT_TRUE(RefLikeMatches("Report-Daily", "daily"));
  EXPECT_TRUE(RefLikeMatches("ABC", "a%c"));
  EXPECT_FALSE(RefLikeMatches("ABD", "a%c"));
  EXPECT_TRUE(RefLikeMatches("[", "["));  // "[" and "{" differ by 0x20 only
  EXPECT_FALSE(RefLikeMatches("[", "{"));
}

TEST(DescribeTest, FilterSetReadsAsARequestBody) {
  TaskRunFilter f = TaskName("ct_a");
  f.op = BoolOp::kOr;
  f.flow_run_id = UuidRefFilter{};
  f.end_time = TimeFilter{};
  f.end_time->before = At(10, 4) + 1;
  EXPECT_EQ(DescribeFilterSet(TaskRuns(f)),
            "{\"task_runs\":{\"operator\":\"or_\",\"name\":{\"like_\":\"ct_a\"},"
            "\"end_time\":{\"before_\":\"2024-05-01T10:04:00.000001Z\"},"
            "\"flow_run_id\":{\"is_null_\":null}}}");
  EXPECT_EQ(UuidFromText("A1000000-0000-4000-8000-000000000000"), FR(1));
  EXPECT_EQ(RefUuidText(F(2)), "f2000000-0000-4000-8000-000000000000");
}

TEST(RandomDataTest, SameSeedSameData) {
  TestRng a(42), b(42), c(43);
  SnapshotRecords x = RandomRecords(a), y = RandomRecords(b), z = RandomRecords(c);
  EXPECT_EQ(DescribeRecords(x), DescribeRecords(y));
  EXPECT_NE(DescribeRecords(x), DescribeRecords(z));
  EXPECT_EQ(DescribeQuery(RandomQuery(a, x)), DescribeQuery(RandomQuery(b, y)));
}

TEST(RandomDataTest, IdsAreUniquePerEntity) {
  TestRng rng(7);
  for (int i = 0; i < 50; ++i) {
    SnapshotRecords data = RandomRecords(rng);
    std::vector<Uuid> ids;
    for (const auto& t : data.task_runs) ids.push_back(t.id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  }
}

TEST(RandomDataTest, FiltersSelectSomethingAndNotEverythingOften) {
  // The vocabularies are small enough that random filters are informative:
  // across many cases, both empty and non-empty, partial results occur.
  TestRng rng(11);
  int partial = 0, empty = 0, all = 0;
  for (int i = 0; i < 40; ++i) {
    SnapshotRecords data = RandomRecords(rng);
    for (int j = 0; j < 25; ++j) {
      PaginateQuery q = RandomQuery(rng, data);
      const uint64_t n = RefPaginate(data, q).count;
      if (n == 0) {
        ++empty;
      } else if (n == data.task_runs.size()) {
        ++all;
      } else {
        ++partial;
      }
    }
  }
  SCOPED_TRACE(testing::Message() << "partial " << partial << " empty " << empty << " all " << all);
  EXPECT_GT(partial, 150);
  EXPECT_GT(empty, 50);
  EXPECT_GT(all, 50);
}

TEST(ShrinkTest, FindsTheSmallestDisagreementOfAPlantedBug) {
  // A fake "engine" that forgets that not_any_ excludes NULLs: the shrinker
  // must reduce a random failing case to one flow run filter field.
  SnapshotRecords data = examples::Records();
  PaginateQuery query;
  query.filters.flow_runs = FlowRunFilter{};
  query.filters.flow_runs->idempotency_key = StringsFilter{};
  query.filters.flow_runs->idempotency_key->not_any = std::vector<std::string>{"k", "K"};
  query.filters.flow_runs->name = NameFilter{std::nullopt, std::string("o")};
  query.filters.task_runs = TaskRunFilter{};
  query.filters.task_runs->tags = TagsFilter{};
  query.sort = TaskRunSort::kNameAsc;
  auto buggy_fails = [](const SnapshotRecords& d, const PaginateQuery& q) {
    if (!q.filters.flow_runs || !q.filters.flow_runs->idempotency_key ||
        !q.filters.flow_runs->idempotency_key->not_any ||
        q.filters.flow_runs->idempotency_key->not_any->empty()) {
      return false;
    }
    return RefPaginate(d, q).count != RefPaginate(d, PaginateQuery{}).count &&
           !RefPaginate(d, PaginateQuery{}).ids.empty();
  };
  ASSERT_TRUE(buggy_fails(data, query));
  ShrinkFailure(buggy_fails, &data, &query);
  EXPECT_FALSE(query.filters.task_runs.has_value());
  EXPECT_FALSE(query.filters.flow_runs->name.has_value());
  EXPECT_EQ(query.filters.flow_runs->idempotency_key->not_any->size(), 1u);
  EXPECT_EQ(data.task_runs.size(), 1u);
  EXPECT_EQ(query.sort, TaskRunSort::kIdDesc);
}

}  // namespace
}  // namespace taskdex
