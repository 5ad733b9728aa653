#include "engine/store.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

Uuid U(const char* s) { return *ParseUuid(s); }

Uuid Id(char kind, int n) {
  return U(absl::StrFormat("%c%07d-0000-4000-8000-000000000000", kind, n).c_str());
}

std::vector<uint32_t> Rows(const Bitmap& b) {
  std::vector<uint32_t> v;
  for (uint32_t x : b) v.push_back(x);
  return v;
}

std::vector<uint32_t> Codes(std::span<const uint32_t> s) {
  return std::vector<uint32_t>(s.begin(), s.end());
}

TEST(DictionaryTest, FreezeOrdersCodesLikeStrings) {
  Dictionary d;
  const std::vector<std::string> words = {"extract_a",         "Transform", "extract-b", "",
                                          "\xC3\xA9t\xC3\xA9", "extractXa", "load",      "a"};
  std::vector<uint32_t> old_codes;
  for (const auto& w : words) old_codes.push_back(d.Intern(w));
  EXPECT_EQ(d.Intern("load"), old_codes[6]);  // interning is idempotent
  EXPECT_EQ(d.size(), words.size());
  std::vector<uint32_t> remap = d.Freeze();
  ASSERT_EQ(remap.size(), words.size());
  std::vector<std::string> sorted = words;
  std::sort(sorted.begin(), sorted.end());  // std::string compares bytewise (unsigned)
  for (uint32_t code = 0; code < d.size(); ++code) EXPECT_EQ(d.Get(code), sorted[code]);
  for (size_t i = 0; i < words.size(); ++i) {
    EXPECT_EQ(d.Get(remap[old_codes[i]]), words[i]);
    EXPECT_EQ(d.Find(words[i]), remap[old_codes[i]]);
  }
  // Bytewise: uppercase before lowercase, '-' < 'X' < '_', UTF-8 after ASCII.
  EXPECT_LT(*d.Find("Transform"), *d.Find("a"));
  EXPECT_LT(*d.Find("extract-b"), *d.Find("extractXa"));
  EXPECT_LT(*d.Find("extractXa"), *d.Find("extract_a"));
  EXPECT_LT(*d.Find("load"), *d.Find("\xC3\xA9t\xC3\xA9"));
  EXPECT_EQ(*d.Find(""), 0u);
  EXPECT_FALSE(d.Find("missing").has_value());
  EXPECT_GT(d.MemoryBytes(), 0u);
}

// A frozen or loaded dictionary finds by binary search; pinned here to
// the writer's hash map (the canonical lookup) on seeded strings, with
// near misses (prefixes, extensions) that a wrong search would hit.
TEST(DictionaryTest, FrozenAndLoadedFindMatchTheWriterMap) {
  std::mt19937 rng(20261207);
  Dictionary d;
  std::vector<std::string> words;
  for (int i = 0; i < 3000; ++i) {
    std::string w;
    for (int k = rng() % 6; k >= 0; --k) w += static_cast<char>("ab-_Z\xC3"[rng() % 6]);
    words.push_back(w);
  }
  std::vector<std::optional<uint32_t>> before;
  for (const std::string& w : words) d.Intern(w);
  std::vector<std::string> probes = words;
  for (const std::string& w : words) {
    probes.push_back(w + "a");
    probes.push_back(w.substr(0, w.size() / 2));
  }
  for (const std::string& p : probes) before.push_back(d.Find(p));
  const std::vector<uint32_t> remap = d.Freeze();
  std::string bytes;
  {
    StringSink sink(&bytes);
    SerialWriter w(&sink);
    d.Save(w);
  }
  Dictionary loaded;
  SerialReader r(bytes);
  loaded.Load(r);
  ASSERT_TRUE(r.ok()) << r.error();
  for (size_t i = 0; i < probes.size(); ++i) {
    const std::optional<uint32_t> want =
        before[i] ? std::optional<uint32_t>(remap[*before[i]]) : std::nullopt;
    ASSERT_EQ(d.Find(probes[i]), want) << probes[i];
    ASSERT_EQ(loaded.Find(probes[i]), want) << probes[i];
  }
}

TEST(DictionaryTest, LoadRefusesStringsOutOfOrder) {
  std::string bytes;
  {
    StringSink sink(&bytes);
    SerialWriter w(&sink);
    w.PutArray(std::vector<uint64_t>{1, 2});  // "b", then "a"
    w.PutString("ba");
  }
  Dictionary d;
  SerialReader r(bytes);
  d.Load(r);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ascending"), std::string::npos) << r.error();
}

TEST(DictionaryTest, ViewsStayValidAsTheArenaGrows) {
  Dictionary d;
  std::vector<std::string_view> views;
  for (int i = 0; i < 20000; ++i) {
    uint32_t code = d.Intern(absl::StrFormat("value-%06d", i));
    views.push_back(d.Get(code));
  }
  std::string big(100000, 'x');
  d.Intern(big);
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(views[i], absl::StrFormat("value-%06d", i));
  }
  Dictionary moved = std::move(d);
  EXPECT_EQ(moved.Find(big).has_value(), true);
  EXPECT_EQ(views[123], "value-000123");
}

FlowRecord Flow(int n, std::string name, std::vector<std::string> tags = {}) {
  FlowRecord f;
  f.id = Id('f', n);
  f.name = std::move(name);
  f.tags = std::move(tags);
  return f;
}

DeploymentRecord Deployment(int n, int flow, std::string name) {
  DeploymentRecord d;
  d.id = Id('d', n);
  d.flow_id = Id('f', flow);
  d.name = std::move(name);
  return d;
}

FlowRunRecord FlowRun(int n, int flow, std::optional<int> deployment = std::nullopt,
                      std::optional<int> parent_task = std::nullopt) {
  FlowRunRecord r;
  r.id = Id('a', n);
  r.flow_id = Id('f', flow);
  r.name = absl::StrFormat("fr%d", n);
  if (deployment) r.deployment_id = Id('d', *deployment);
  if (parent_task) r.parent_task_run_id = Id('0', *parent_task);
  return r;
}

TaskRunRecord TaskRun(int n, std::optional<int> flow_run, std::string name,
                      std::vector<std::string> tags = {}) {
  TaskRunRecord r;
  r.id = Id('0', n);
  if (flow_run) r.flow_run_id = Id('a', *flow_run);
  r.name = std::move(name);
  r.task_key = r.name;
  r.dynamic_key = "0";
  r.tags = std::move(tags);
  r.empirical_policy_json = "{}";
  return r;
}

TEST(StoreBuilderTest, BuildsColumnsJoinsAndPostings) {
  StoreBuilder b;
  b.AddFlow(Flow(1, "etl", {"prod", "db"}));
  b.AddFlow(Flow(2, "ml_train"));
  b.AddDeployment(Deployment(1, 1, "etl-nightly"));
  b.AddFlowRun(FlowRun(1, 1, 1));
  b.AddFlowRun(FlowRun(2, 2, std::nullopt, 2));  // subflow of task run 2
  b.AddTaskRun(TaskRun(1, 1, "extract_a", {"io"}));
  b.AddTaskRun(TaskRun(2, 1, "extract-b", {"io", "slow", "io"}));
  b.AddTaskRun(TaskRun(3, 2, "Transform"));
  TaskRunRecord t4 = TaskRun(4, std::nullopt, "notify", {"adhoc"});
  t4.state_type = StateType::kPending;
  t4.state_name = "Pending";
  t4.start_time = 42;
  t4.cache_key = "ck";
  t4.extras_json = ",\"x\":1";
  b.AddTaskRun(std::move(t4));
  std::unique_ptr<Store> store = b.Build();
  const Store& s = *store;

  ASSERT_EQ(s.task_runs.size(), 4u);
  ASSERT_EQ(s.flow_runs.size(), 2u);
  ASSERT_EQ(s.flows.size(), 2u);
  ASSERT_EQ(s.deployments.size(), 1u);

  // Names: code order is string order.
  const TaskRunTable& t = s.task_runs;
  EXPECT_EQ(s.task_run_names.Get(t.name[0]), "extract_a");
  EXPECT_EQ(s.task_run_names.Get(t.name[2]), "Transform");
  EXPECT_LT(t.name[2], t.name[1]);  // "Transform" < "extract-b"
  EXPECT_LT(t.name[1], t.name[0]);  // "extract-b" < "extract_a"
  EXPECT_EQ(s.task_keys.Get(t.task_key[3]), "notify");

  // Tags in line order, duplicates kept, remapped after the freeze.
  std::vector<std::string> tags1;
  for (uint32_t c : t.tags.Of(1)) tags1.push_back(std::string(s.tags.Get(c)));
  EXPECT_EQ(tags1, (std::vector<std::string>{"io", "slow", "io"}));
  EXPECT_TRUE(t.tags.Of(2).empty());
  std::vector<std::string> flow_tags;
  for (uint32_t c : s.flows.tags.Of(0)) flow_tags.push_back(std::string(s.tags.Get(c)));
  EXPECT_EQ(flow_tags, (std::vector<std::string>{"prod", "db"}));

  // Nullable columns.
  EXPECT_EQ(t.state_type[3], static_cast<uint8_t>(StateType::kPending));
  EXPECT_EQ(t.state_type[0], kNullStateType);
  EXPECT_EQ(s.state_names.Get(t.state_name[3]), "Pending");
  EXPECT_EQ(t.state_name[0], kNullCode);
  EXPECT_EQ(t.start_time[3], 42);
  EXPECT_EQ(t.start_time[0], kNullMicros);
  EXPECT_TRUE(t.cache_key.IsNull(0));
  EXPECT_EQ(t.cache_key.Get(3), "ck");
  EXPECT_EQ(t.extras_json.Get(3), ",\"x\":1");
  EXPECT_EQ(t.extras_json.Get(0), "");
  EXPECT_EQ(RenderTaskRunText(s, t.state, 0, 0), "null");
  EXPECT_EQ(t.dynamic_key.Get(2), "0");

  // Joins.
  EXPECT_EQ(t.flow_run_row[0], 0u);
  EXPECT_EQ(t.flow_run_row[2], 1u);
  EXPECT_EQ(t.flow_run_row[3], kNoRow);
  EXPECT_EQ(s.flow_runs.flow_row[1], 1u);
  EXPECT_EQ(s.flow_runs.deployment_row[0], 0u);
  EXPECT_EQ(s.flow_runs.deployment_row[1], kNoRow);
  EXPECT_EQ(s.flow_runs.parent_task_run_row[1], 1u);
  EXPECT_EQ(s.flow_runs.parent_task_run_row[0], kNoRow);
  EXPECT_EQ(s.deployments.flow_row[0], 0u);
  EXPECT_EQ(s.flow_run_by_id.at(Id('a', 2)), 1u);
  EXPECT_EQ(s.task_run_by_id.at(Id('0', 3)), 2u);
  EXPECT_EQ(s.flow_by_id.at(Id('f', 2)), 1u);
  EXPECT_EQ(s.deployment_by_id.at(Id('d', 1)), 0u);

  // Reverse postings.
  ASSERT_EQ(s.task_runs_of_flow_run.size(), 2u);
  EXPECT_EQ(Rows(s.task_runs_of_flow_run[0]), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Rows(s.task_runs_of_flow_run[1]), (std::vector<uint32_t>{2}));
  EXPECT_EQ(Rows(s.task_runs_with_flow_run), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(Rows(s.task_runs_with_subflow), (std::vector<uint32_t>{1}));
  EXPECT_EQ(s.flow_has_deployment, (std::vector<uint8_t>{1, 0}));

  const BuildReport& r = s.report;
  EXPECT_EQ(r.orphan_task_runs + r.flow_runs_missing_flow + r.flow_runs_dangling_deployment +
                r.flow_runs_missing_parent_task_run + r.deployments_missing_flow,
            0u);
  EXPECT_GT(s.MemoryBytes(), 1000u);
  // The join postings built at load are counted, under their own name.
  size_t join_postings = 0;
  for (const auto& [part, bytes] : s.MemoryBreakdown()) {
    if (part == "index.join_postings") join_postings = bytes;
  }
  EXPECT_GT(join_postings, 0u);
  EXPECT_GE(s.task_run_index.MemoryBytes(), join_postings);
}

TEST(StoreBuilderTest, RepeatedIdsReplaceAndAreCounted) {
  StoreBuilder b;
  b.AddTaskRun(TaskRun(1, std::nullopt, "first"));
  b.AddTaskRun(TaskRun(2, std::nullopt, "other"));
  b.AddTaskRun(TaskRun(1, std::nullopt, "second"));
  b.AddTaskRun(TaskRun(1, std::nullopt, "third"));
  b.AddFlowRun(FlowRun(1, 1));
  b.AddFlowRun(FlowRun(1, 1));
  b.AddDeployment(Deployment(1, 1, "x"));
  b.AddDeployment(Deployment(1, 1, "y"));
  auto s = b.Build();
  ASSERT_EQ(s->task_runs.size(), 2u);
  EXPECT_EQ(s->task_run_names.Get(s->task_runs.name[s->task_run_by_id.at(Id('0', 1))]), "third");
  EXPECT_EQ(s->task_run_names.size(), 2u);  // "first" and "second" never interned
  EXPECT_EQ(s->report.replaced_task_runs, 2u);
  EXPECT_EQ(s->report.replaced_flow_runs, 1u);
  EXPECT_EQ(s->report.replaced_deployments, 1u);
  EXPECT_EQ(s->report.replaced_flows, 0u);
  EXPECT_EQ(s->deployment_names.Get(s->deployments.name[0]), "y");
}

TEST(StoreBuilderTest, ReplacedRowsRewriteEveryColumnInPlace) {
  StoreBuilder b;
  TaskRunRecord first = TaskRun(1, 1, "first", {"a", "b"});
  first.cache_key = "old-key";
  first.task_inputs_json = R"({"x":[]})";
  first.state_json = R"({"id":null,"cache_key":"old-key"})";
  first.labels_json = R"({"old":1})";
  b.AddTaskRun(std::move(first));
  TaskRunRecord other = TaskRun(2, 1, "other", {"c"});
  other.cache_key = "other-key";
  other.labels_json = R"({"run":"a0000001-0000-4000-8000-000000000000"})";
  b.AddTaskRun(std::move(other));
  TaskRunRecord second = TaskRun(1, 2, "second", {"d"});
  second.cache_key = "new-key";
  second.dynamic_key = "7";
  second.parameters_json = R"({"p":1})";
  second.state_json = R"({"id":null,"cache_key":"new-key"})";
  second.labels_json = R"({"run":"a0000002-0000-4000-8000-000000000000"})";
  b.AddTaskRun(std::move(second));
  b.AddFlowRun(FlowRun(1, 1));
  b.AddFlowRun(FlowRun(2, 1));
  auto s = b.Build();
  const TaskRunTable& t = s->task_runs;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(s->report.replaced_task_runs, 1u);
  EXPECT_EQ(s->task_run_names.Get(t.name[0]), "second");
  EXPECT_EQ(t.cache_key.Get(0), "new-key");
  EXPECT_EQ(t.cache_key.Get(1), "other-key");
  EXPECT_EQ(t.dynamic_key.Get(0), "7");
  EXPECT_EQ(t.task_inputs_json.Get(0), "{}");
  EXPECT_EQ(t.parameters_json.Get(0), R"({"p":1})");
  std::vector<std::string> tags0;
  for (uint32_t c : t.tags.Of(0)) tags0.push_back(std::string(s->tags.Get(c)));
  EXPECT_EQ(tags0, std::vector<std::string>{"d"});
  EXPECT_EQ(s->tags.size(), 2u);  // "a" and "b" dropped with the old row
  EXPECT_EQ(t.flow_run_row[0], 1u);
  EXPECT_EQ(RenderTaskRunText(*s, t.state, 0, 0), R"({"id":null,"cache_key":"new-key"})");
  EXPECT_EQ(RenderTaskRunText(*s, t.labels, 0, 0),
            R"({"run":"a0000002-0000-4000-8000-000000000000"})");
  // The flow-run id became a hole shared by both rows' label templates.
  EXPECT_EQ(t.labels.code(0), t.labels.code(1));
  EXPECT_EQ(RenderTaskRunText(*s, t.labels, 1, 0),
            R"({"run":"a0000001-0000-4000-8000-000000000000"})");
}

// TaskRunHot is a copy of the columns the page writer reads; every field
// must match them, for joined, orphan and null flow runs, a replaced row and
// null state fields.
TEST(StoreBuilderTest, HotBlockMirrorsTheColumns) {
  StoreBuilder b;
  TaskRunRecord joined = TaskRun(1, 1, "joined", {"a"});
  joined.created = 11;
  joined.updated = 12;
  joined.expected_start_time = 13;
  joined.start_time = 14;
  joined.end_time = 15;
  joined.total_run_time_us = 16;
  joined.state_id = Id('5', 1);
  joined.state_type = StateType::kRunning;
  joined.state_name = "Running";
  joined.state_timestamp = 17;
  joined.state_json = R"({"id":"x"})";
  joined.task_version = "v1";
  b.AddTaskRun(joined);
  b.AddTaskRun(TaskRun(2, 9, "orphan"));           // flow run 9 is never added
  b.AddTaskRun(TaskRun(3, std::nullopt, "none"));  // no flow run
  TaskRunRecord replaced = TaskRun(2, 2, "orphan-no-more", {"b"});
  replaced.state_type = StateType::kFailed;
  replaced.state_name = "Failed";
  b.AddTaskRun(replaced);  // row 1 now joins flow run 2
  b.AddTaskRun(TaskRun(4, 9, "orphan"));
  b.AddFlowRun(FlowRun(1, 1));
  b.AddFlowRun(FlowRun(2, 1));
  auto s = b.Build();
  const TaskRunTable& t = s->task_runs;
  ASSERT_EQ(t.size(), 4u);
  ASSERT_EQ(t.hot.size(), 4u);
  for (RowId r = 0; r < t.size(); ++r) {
    SCOPED_TRACE(r);
    const TaskRunHot& h = t.hot[r];
    EXPECT_EQ(h.id, t.id[r]);
    EXPECT_EQ((h.flags & TaskRunHot::kHasStateId) != 0, t.state_id[r].has_value());
    if (t.state_id[r]) {
      EXPECT_EQ(h.state_id, *t.state_id[r]);
    }
    EXPECT_EQ(h.created, t.created[r]);
    EXPECT_EQ(h.updated, t.updated[r]);
    EXPECT_EQ(h.expected_start_time, t.expected_start_time[r]);
    EXPECT_EQ(h.start_time, t.start_time[r]);
    EXPECT_EQ(h.end_time, t.end_time[r]);
    EXPECT_EQ(h.state_timestamp, t.state_timestamp[r]);
    EXPECT_EQ(h.total_run_time_us, t.total_run_time_us[r]);
    EXPECT_EQ(h.flow_run_row, t.flow_run_row[r]);
    if (h.flow_run_row != kNoRow) {
      ASSERT_TRUE(t.flow_run_id[r].has_value());
      EXPECT_EQ(s->flow_runs.id[h.flow_run_row], *t.flow_run_id[r]);
    }
    EXPECT_EQ(h.name, t.name[r]);
    EXPECT_EQ(h.task_key, t.task_key[r]);
    EXPECT_EQ(h.state_name, t.state_name[r]);
    EXPECT_EQ(h.state_type, t.state_type[r]);
    EXPECT_EQ(h.state_code, t.state.code(r));
    EXPECT_EQ(h.task_version_code, t.task_version.code(r));
    EXPECT_EQ(h.empirical_policy_code, t.empirical_policy.code(r));
  }
  EXPECT_EQ(t.hot[0].flow_run_row, 0u);
  EXPECT_EQ(t.hot[1].flow_run_row, 1u);  // the replacement joined
  EXPECT_EQ(t.hot[2].flow_run_row, kNoRow);
  EXPECT_EQ(t.hot[3].flow_run_row, kNoRow);  // orphan: the column holds its id
  EXPECT_TRUE(t.flow_run_id[3].has_value());
  EXPECT_EQ(s->task_run_names.Get(t.hot[1].name), "orphan-no-more");
  EXPECT_EQ(t.hot[1].state_type, static_cast<uint8_t>(StateType::kFailed));
}

TEST(StoreBuilderTest, CountsDanglingReferences) {
  StoreBuilder b;
  b.AddFlow(Flow(1, "f"));
  b.AddDeployment(Deployment(1, 9, "orphan-deployment"));  // flow 9 absent
  b.AddFlowRun(FlowRun(1, 9, 7, 99));     // flow, deployment and parent task absent
  b.AddFlowRun(FlowRun(2, 1, 1));         // fine
  b.AddTaskRun(TaskRun(1, 5, "orphan"));  // flow run 5 absent
  b.AddTaskRun(TaskRun(2, 2, "ok"));
  auto s = b.Build();
  const BuildReport& r = s->report;
  EXPECT_EQ(r.orphan_task_runs, 1u);
  EXPECT_EQ(r.flow_runs_missing_flow, 1u);
  EXPECT_EQ(r.flow_runs_dangling_deployment, 1u);
  EXPECT_EQ(r.flow_runs_missing_parent_task_run, 1u);
  EXPECT_EQ(r.deployments_missing_flow, 1u);
  EXPECT_EQ(s->deployments.flow_row[0], kNoRow);
  EXPECT_EQ(s->flow_has_deployment, std::vector<uint8_t>{0});
  EXPECT_EQ(s->flow_runs.flow_row[0], kNoRow);
  EXPECT_EQ(s->task_runs.flow_run_row[0], kNoRow);
  EXPECT_TRUE(s->task_runs.flow_run_id[0].has_value());
  EXPECT_EQ(Rows(s->task_runs_with_flow_run), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(s->task_runs_with_subflow.isEmpty());
}

TEST(StoreBuilderTest, EmptyBuildAndReuse) {
  StoreBuilder b;
  auto empty = b.Build();
  EXPECT_EQ(empty->task_runs.size(), 0u);
  EXPECT_TRUE(empty->task_runs_of_flow_run.empty());
  b.AddTaskRun(TaskRun(1, std::nullopt, "x"));
  auto one = b.Build();
  EXPECT_EQ(one->task_runs.size(), 1u);
  auto again = b.Build();  // the builder is empty after Build()
  EXPECT_EQ(again->task_runs.size(), 0u);
}

TEST(StoreBuilderTest, SharedDictionariesRemapEveryColumn) {
  StoreBuilder b;
  FlowRunRecord fr = FlowRun(1, 1);
  fr.state_name = "zeta";
  fr.work_queue_name = "q-b";
  fr.tags = {"m", "a"};
  b.AddFlowRun(std::move(fr));
  DeploymentRecord d = Deployment(1, 1, "dep");
  d.work_queue_name = "q-a";
  d.tags = {"z"};
  b.AddDeployment(std::move(d));
  TaskRunRecord t = TaskRun(1, 1, "t", {"b"});
  t.state_name = "alpha";
  b.AddTaskRun(std::move(t));
  auto s = b.Build();
  EXPECT_EQ(s->state_names.Get(s->flow_runs.state_name[0]), "zeta");
  EXPECT_EQ(s->state_names.Get(s->task_runs.state_name[0]), "alpha");
  EXPECT_EQ(s->work_queue_names.Get(s->flow_runs.work_queue_name[0]), "q-b");
  EXPECT_EQ(s->work_queue_names.Get(s->deployments.work_queue_name[0]), "q-a");
  EXPECT_EQ(Codes(s->flow_runs.tags.Of(0)),
            (std::vector<uint32_t>{*s->tags.Find("m"), *s->tags.Find("a")}));
  EXPECT_EQ(Codes(s->deployments.tags.Of(0)), std::vector<uint32_t>{*s->tags.Find("z")});
  EXPECT_EQ(Codes(s->task_runs.tags.Of(0)), std::vector<uint32_t>{*s->tags.Find("b")});
  EXPECT_EQ(*s->tags.Find("a"), 0u);
  EXPECT_EQ(*s->tags.Find("z"), 3u);
}

}  // namespace
}  // namespace taskdex
