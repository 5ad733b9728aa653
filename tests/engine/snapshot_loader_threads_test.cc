// tests/engine/snapshot_loader_threads_test.cc
//
// LoadSnapshot with one thread and with several (and blocks of a few lines,
// so every file is many blocks) must build the same Store: the parallel
// parts of StoreBuilder::Build (engine/internal/task_group.h) and the block
// pipeline may change how fast, never what. Checked through the public
// answers: every case of examples.jsonl, every task run's full JSON, and
// random paginate bodies (bench/random_bodies.h) over a seeded data set at
// scale with repeated ids (entities.md 4.1: a later line replaces the row in
// place).

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_format.h"
#include "api/taskdex.h"
#include "bench/generator.h"
#include "bench/random_bodies.h"
#include "engine/record_writer.h"
#include "engine/snapshot_loader.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_snapshot.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"
#include "tests/testing/test_seed.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

constexpr char kNow[] = "2024-05-01T12:00:00Z";
constexpr uint64_t kDefaultSeed = 13;
// Enough rows that each sorted order and posting index is more than a toy,
// few enough that two loads and the comparisons take about a second.
constexpr uint32_t kTaskRuns = 12000;

std::unique_ptr<Engine> Load(const std::string& dir, int threads, size_t block_bytes) {
  LoadOptions options;
  options.threads = threads;
  options.block_bytes = block_bytes;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(dir, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

const Store& StoreOf(const Engine& engine) {
  return *engine.Pin()->segments.front().store;
}

// Every task run's full JSON, and the answer to every body, must match.
void ExpectSameAnswers(const Engine& one, const Engine& many,
                       const std::vector<std::string>& bodies) {
  const Micros now = *ParseInstant(kNow);
  const Store& a = StoreOf(one);
  const Store& b = StoreOf(many);
  ASSERT_EQ(a.task_runs.size(), b.task_runs.size());
  ASSERT_EQ(a.flow_runs.size(), b.flow_runs.size());
  const LoadReport& ra = one.load_report();
  const LoadReport& rb = many.load_report();
  EXPECT_EQ(ra.bytes, rb.bytes);
  EXPECT_EQ(ra.flows, rb.flows);
  EXPECT_EQ(ra.deployments, rb.deployments);
  EXPECT_EQ(ra.build.replaced_task_runs, rb.build.replaced_task_runs);
  EXPECT_EQ(ra.build.replaced_flow_runs, rb.build.replaced_flow_runs);
  EXPECT_EQ(ra.build.orphan_task_runs, rb.build.orphan_task_runs);
  EXPECT_EQ(ra.build.flow_runs_missing_flow, rb.build.flow_runs_missing_flow);
  EXPECT_EQ(ra.build.flow_runs_dangling_deployment, rb.build.flow_runs_dangling_deployment);
  EXPECT_EQ(ra.build.flow_runs_missing_parent_task_run,
            rb.build.flow_runs_missing_parent_task_run);
  EXPECT_EQ(ra.build.deployments_missing_flow, rb.build.deployments_missing_flow);
  for (RowId r = 0; r < a.task_runs.size(); ++r) {
    ASSERT_EQ(UuidToString(a.task_runs.id[r]), UuidToString(b.task_runs.id[r])) << "row " << r;
    absl::StatusOr<std::string> ja = one.TaskRunJson(UuidToString(a.task_runs.id[r]), now);
    absl::StatusOr<std::string> jb = many.TaskRunJson(UuidToString(a.task_runs.id[r]), now);
    ASSERT_TRUE(ja.ok() && jb.ok());
    ASSERT_EQ(*ja, *jb) << "row " << r;
  }
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    Response pa = one.PaginateJson(body, now);
    Response pb = many.PaginateJson(body, now);
    ASSERT_EQ(pa.status, pb.status);
    ASSERT_EQ(pa.body, pb.body);
  }
}

TEST(SnapshotLoaderThreadsTest, ExamplesAnswerTheSameWithOneOrFourThreads) {
  const std::string dir = std::string(TASKDEX_EXAMPLES_DIR) + "/snapshot";
  std::unique_ptr<Engine> one = Load(dir, 1, 0);
  std::unique_ptr<Engine> many = Load(dir, 4, 256);
  ASSERT_TRUE(one && many);
  std::vector<std::string> bodies;
  std::ifstream in(std::string(TASKDEX_EXAMPLES_DIR) + "/examples.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("body")) continue;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
    d["body"].Accept(writer);
    bodies.emplace_back(buf.GetString(), buf.GetSize());
  }
  ASSERT_GE(bodies.size(), 60u);
  ExpectSameAnswers(*one, *many, bodies);
}

TEST(SnapshotLoaderThreadsTest, SeededDataAnswersTheSameWithOneOrFourThreads) {
  const uint64_t seed = TestSeed("snapshot_loader_threads_test", kDefaultSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  TestRng rng(seed);
  SnapshotRecords data = RandomRecordsAtScale(rng, kTaskRuns);
  TempSnapshot snap;
  std::string text;
  // The scale records set only what filters and sorts read: give the
  // sub-documents a valid value so the lines read back.
  for (TaskRunRecord& r : data.task_runs) {
    if (r.empirical_policy_json.empty()) r.empirical_policy_json = "{}";
    if (r.labels_json.empty()) r.labels_json = "{}";
    if (r.task_inputs_json.empty()) r.task_inputs_json = "{}";
    if (r.state_json.empty()) r.state_json = "null";
  }
  for (const TaskRunRecord& r : data.task_runs) {
    AppendTaskRunLine(r, &text);
    text.push_back('\n');
  }
  // Repeated ids: a later line replaces the earlier row in place, whichever
  // block (and thread) each line lands in.
  for (size_t i = 0; i < data.task_runs.size(); i += 97) {
    TaskRunRecord r = data.task_runs[i];
    r.name += "-again";
    r.tags.push_back("replaced");
    r.dynamic_key += "x";
    AppendTaskRunLine(r, &text);
    text.push_back('\n');
  }
  snap.Write("task_runs.ndjson", text);
  text.clear();
  for (const FlowRunRecord& r : data.flow_runs) {
    AppendFlowRunLine(r, &text);
    text.push_back('\n');
  }
  if (!data.flow_runs.empty()) {
    FlowRunRecord r = data.flow_runs.front();
    r.name += "-again";
    AppendFlowRunLine(r, &text);
    text.push_back('\n');
  }
  snap.Write("flow_runs.ndjson", text);
  text.clear();
  for (const FlowRecord& r : data.flows) {
    AppendFlowLine(r, &text);
    text.push_back('\n');
  }
  snap.Write("flows.ndjson", text);
  text.clear();
  for (const DeploymentRecord& r : data.deployments) {
    AppendDeploymentLine(r, &text);
    text.push_back('\n');
  }
  snap.Write("deployments.ndjson", text);

  std::unique_ptr<Engine> one = Load(snap.dir(), 1, 0);
  std::unique_ptr<Engine> many = Load(snap.dir(), 4, 4096);
  ASSERT_TRUE(one && many);
  EXPECT_EQ(one->load_report().build.replaced_task_runs, (data.task_runs.size() + 96) / 97);
  EXPECT_EQ(many->load_report().build.replaced_task_runs, (data.task_runs.size() + 96) / 97);
  std::vector<std::string> bodies;
  for (BenchBody& b : RandomBodies(StoreOf(*one)).Generate(seed, 400)) {
    bodies.push_back(std::move(b.body));
  }
  ExpectSameAnswers(*one, *many, bodies);
}

// The benchmark's realistic lines (full state objects, labels, parameters:
// the template columns' holes), as `taskdex generate` writes them.
TEST(SnapshotLoaderThreadsTest, GeneratedSnapshotAnswersTheSameWithOneOrFourThreads) {
  const uint64_t seed = TestSeed("snapshot_loader_threads_test", kDefaultSeed);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  TempSnapshot snap;
  GenerateOptions options;
  options.task_runs = kTaskRuns / 2;
  options.seed = seed;
  options.out_dir = snap.dir();
  options.threads = 1;
  GenerateSummary summary;
  absl::Status generated = GenerateSnapshot(options, &summary);
  ASSERT_TRUE(generated.ok()) << generated;
  std::unique_ptr<Engine> one = Load(snap.dir(), 1, 0);
  std::unique_ptr<Engine> many = Load(snap.dir(), 4, 8192);
  ASSERT_TRUE(one && many);
  std::vector<std::string> bodies;
  for (BenchBody& b : RandomBodies(StoreOf(*one)).Generate(seed + 1, 300)) {
    bodies.push_back(std::move(b.body));
  }
  ExpectSameAnswers(*one, *many, bodies);
}

}  // namespace
}  // namespace taskdex
