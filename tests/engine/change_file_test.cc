// tests/engine/change_file_test.cc
//
// The change file (engine/change_file.h) and the record writer
// (engine/record_writer.h): every error of a change line with its message,
// line numbers with blank lines and CRLF, batching, streaming with a bad
// batch in the middle, and round trips record -> line -> record compared
// field by field over hand-made records and the examples and sample
// snapshots.

#include "engine/change_file.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/record_writer.h"
#include "engine/snapshot_loader.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

// gmock is not linked: plain prefix and substring checks.
void ExpectStartsWith(const absl::Status& s, std::string_view prefix) {
  EXPECT_EQ(std::string(s.message()).substr(0, prefix.size()), prefix) << s;
}

// --- field-by-field comparison --------------------------------------------

#define EXPECT_FIELD(f) EXPECT_EQ(a.f, b.f) << "field " #f

void ExpectSame(const TaskRunRecord& a, const TaskRunRecord& b) {
  EXPECT_FIELD(id);
  EXPECT_FIELD(created);
  EXPECT_FIELD(updated);
  EXPECT_FIELD(name);
  EXPECT_FIELD(flow_run_id);
  EXPECT_FIELD(task_key);
  EXPECT_FIELD(dynamic_key);
  EXPECT_FIELD(cache_key);
  EXPECT_FIELD(cache_expiration);
  EXPECT_FIELD(task_version);
  EXPECT_FIELD(empirical_policy_json);
  EXPECT_FIELD(tags);
  EXPECT_FIELD(labels_json);
  EXPECT_FIELD(state_id);
  EXPECT_FIELD(task_inputs_json);
  EXPECT_FIELD(state_type);
  EXPECT_FIELD(state_name);
  EXPECT_FIELD(run_count);
  EXPECT_FIELD(flow_run_run_count);
  EXPECT_FIELD(expected_start_time);
  EXPECT_FIELD(next_scheduled_start_time);
  EXPECT_FIELD(start_time);
  EXPECT_FIELD(end_time);
  EXPECT_FIELD(total_run_time_us);
  EXPECT_FIELD(state_json);
  EXPECT_FIELD(state_timestamp);
  EXPECT_FIELD(state_scheduled_time_null_offset);
  EXPECT_FIELD(parameters_json);
  EXPECT_FIELD(context_json);
  EXPECT_FIELD(extras_json);
}

void ExpectSame(const FlowRunRecord& a, const FlowRunRecord& b) {
  EXPECT_FIELD(id);
  EXPECT_FIELD(flow_id);
  EXPECT_FIELD(name);
  EXPECT_FIELD(deployment_id);
  EXPECT_FIELD(work_queue_name);
  EXPECT_FIELD(flow_version);
  EXPECT_FIELD(idempotency_key);
  EXPECT_FIELD(tags);
  EXPECT_FIELD(has_created_by);
  EXPECT_FIELD(created_by_id);
  EXPECT_FIELD(created_by_type);
  EXPECT_FIELD(state_type);
  EXPECT_FIELD(state_name);
  EXPECT_FIELD(expected_start_time);
  EXPECT_FIELD(next_scheduled_start_time);
  EXPECT_FIELD(start_time);
  EXPECT_FIELD(end_time);
  EXPECT_FIELD(parent_task_run_id);
}

void ExpectSame(const FlowRecord& a, const FlowRecord& b) {
  EXPECT_FIELD(id);
  EXPECT_FIELD(name);
  EXPECT_FIELD(tags);
}

void ExpectSame(const DeploymentRecord& a, const DeploymentRecord& b) {
  EXPECT_FIELD(id);
  EXPECT_FIELD(name);
  EXPECT_FIELD(flow_id);
  EXPECT_FIELD(paused);
  EXPECT_FIELD(tags);
  EXPECT_FIELD(work_queue_name);
}

#undef EXPECT_FIELD

void ExpectSame(const Change& a, const Change& b) {
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.entity, b.entity);
  EXPECT_EQ(a.id, b.id);
  ASSERT_EQ(a.row.index(), b.row.index());
  std::visit(
      [&b](const auto& row) {
        using T = std::decay_t<decltype(row)>;
        if constexpr (!std::is_same_v<T, std::monostate>) ExpectSame(row, std::get<T>(b.row));
      },
      a.row);
}

// Writes `r`, parses the line back with `parse`, and compares.
template <typename Record, typename Parse>
void ExpectRoundTrip(const Record& r, std::string (*write)(const Record&), Parse parse) {
  std::string line = write(r);
  SCOPED_TRACE(line);
  absl::StatusOr<Record> back = parse(line);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(r, *back);
  // And the line is a fixed point: writing the parsed record gives it again.
  EXPECT_EQ(write(*back), line);
}

void ExpectRecordsRoundTrip(const SnapshotRecords& records) {
  for (const TaskRunRecord& r : records.task_runs) ExpectRoundTrip(r, &TaskRunLine, ParseTaskRunLine);
  for (const FlowRunRecord& r : records.flow_runs) ExpectRoundTrip(r, &FlowRunLine, ParseFlowRunLine);
  for (const FlowRecord& r : records.flows) ExpectRoundTrip(r, &FlowLine, ParseFlowLine);
  for (const DeploymentRecord& r : records.deployments) {
    ExpectRoundTrip(r, &DeploymentLine, ParseDeploymentLine);
  }
}

// --- test data --------------------------------------------------------------

constexpr char kTaskId[] = "00000000-0000-4000-8000-000000000001";
constexpr char kFlowId[] = "f1000000-0000-4000-8000-000000000000";

// A task run with nulls, escaped tags, labels, extras (parameters among
// them) and a SCHEDULED state whose scheduled_time is null, as the loader
// reads it.
TaskRunRecord ScheduledTaskRun() {
  absl::StatusOr<TaskRunRecord> r = ParseTaskRunLine(absl::StrFormat(
      R"({"id":"%s","created":"2024-05-01T09:59:58.250000Z","updated":null,"name":"say \"hi\"\n",)"
      R"("flow_run_id":null,"task_key":"k","dynamic_key":"0","cache_key":"ck",)"
      R"("tags":["a\\b","é","tab\there",""],"labels":{"n":1.50,"b":true},)"
      R"("state_type":"SCHEDULED","state_name":"Late","run_count":2,"total_run_time":1.5,)"
      R"("expected_start_time":"2024-05-01T10:00:00+02:00","next_scheduled_start_time":null,)"
      R"("future":[1e5,{"x":-0.0}],"parameters":{"p":[1,2]},"context":null,)"
      R"("state":{"id":"5e000000-0000-4000-8000-000000000001","type":"SCHEDULED","name":"Late",)"
      R"("timestamp":"2024-05-01T08:00:00.000001Z","state_details":{"scheduled_time":null}},)"
      R"("zz":"last"})",
      kTaskId));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : TaskRunRecord();
}

FlowRunRecord FlowRun() {
  absl::StatusOr<FlowRunRecord> r = ParseFlowRunLine(
      R"({"id":"a1000000-0000-4000-8000-000000000000","flow_id":"f1000000-0000-4000-8000-000000000000",)"
      R"("name":"happy-otter","deployment_id":null,"work_queue_name":"q","tags":["x"],)"
      R"("created_by":{"id":123,"type":null,"display_value":"d"},"state_type":"RUNNING",)"
      R"("start_time":"2024-05-01T10:00:00.5Z","parent_task_run_id":"00000000-0000-4000-8000-000000000002"})");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : FlowRunRecord();
}

std::string Upsert(std::string_view entity, std::string_view row) {
  return absl::StrFormat(R"({"op":"upsert","entity":"%s","row":%s})", entity, row);
}
std::string Delete(std::string_view entity, std::string_view id) {
  return absl::StrFormat(R"({"op":"delete","entity":"%s","id":"%s"})", entity, id);
}
std::string FlowRow(int n) {
  return absl::StrFormat(R"({"id":"f%d000000-0000-4000-8000-000000000000","name":"flow%d"})", n,
                         n);
}

// A scratch file, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    static std::atomic<int> counter{0};
    path_ = fs::path(testing::TempDir()) /
            absl::StrFormat("taskdex_changes_%d_%d.ndjson", ::getpid(), counter++);
    std::ofstream f(path_, std::ios::binary);
    f << text;
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// --- the record writer ------------------------------------------------------

TEST(RecordWriterTest, WritesKeysInTableOrder) {
  FlowRecord f;
  f.id = *ParseUuid(kFlowId);
  f.name = "a\"b";
  f.tags = {"x", "y"};
  EXPECT_EQ(FlowLine(f), R"({"id":"f1000000-0000-4000-8000-000000000000","name":"a\"b","tags":["x","y"]})");
  DeploymentRecord d;
  d.id = *ParseUuid("d1000000-0000-4000-8000-000000000000");
  d.name = "dep";
  d.flow_id = f.id;
  d.paused = true;
  EXPECT_EQ(DeploymentLine(d),
            R"({"id":"d1000000-0000-4000-8000-000000000000","name":"dep",)"
            R"("flow_id":"f1000000-0000-4000-8000-000000000000","paused":true,"tags":[],)"
            R"("work_queue_name":null})");
}

TEST(RecordWriterTest, TaskRunWithNullsTagsExtrasAndNullScheduledTimeRoundTrips) {
  TaskRunRecord r = ScheduledTaskRun();
  // The case under test: the loader marked the null scheduled_time.
  ASSERT_GE(r.state_scheduled_time_null_offset, 0);
  EXPECT_EQ(r.state_json.substr(r.state_scheduled_time_null_offset, 4), "null");
  EXPECT_EQ(r.parameters_json, R"({"p":[1,2]})");
  EXPECT_EQ(r.extras_json, R"(,"future":[1e5,{"x":-0.0}],"parameters":{"p":[1,2]},"context":null,"zz":"last")");
  EXPECT_EQ(r.total_run_time_us, 1'500'000);
  ExpectRoundTrip(r, &TaskRunLine, ParseTaskRunLine);
}

TEST(RecordWriterTest, MinimalTaskRunRoundTrips) {
  absl::StatusOr<TaskRunRecord> r = ParseTaskRunLine(absl::StrFormat(
      R"({"id":"%s","name":"t","task_key":"k","dynamic_key":"0","labels":null})", kTaskId));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->labels_json, "null");
  ExpectRoundTrip(*r, &TaskRunLine, ParseTaskRunLine);
}

TEST(RecordWriterTest, FlowRunWithCreatedByRoundTrips) {
  FlowRunRecord r = FlowRun();
  EXPECT_TRUE(r.has_created_by);
  EXPECT_EQ(r.created_by_id, "123");
  EXPECT_FALSE(r.created_by_type.has_value());
  ExpectRoundTrip(r, &FlowRunLine, ParseFlowRunLine);
  r.has_created_by = false;
  r.created_by_id.reset();
  ExpectRoundTrip(r, &FlowRunLine, ParseFlowRunLine);
}

TEST(RecordWriterTest, ExamplesSnapshotRoundTrips) {
  LoadOptions options;
  options.threads = 1;
  absl::StatusOr<SnapshotRecords> records =
      ReadSnapshotRecords(TASKDEX_EXAMPLES_DIR "/snapshot", options, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->task_runs.size(), 7u);
  ASSERT_EQ(records->flow_runs.size(), 4u);
  ASSERT_EQ(records->flows.size(), 3u);
  ASSERT_EQ(records->deployments.size(), 2u);
  ExpectRecordsRoundTrip(*records);
}

TEST(RecordWriterTest, SampleSnapshotRoundTrips) {
  LoadOptions options;
  options.threads = 1;
  absl::StatusOr<SnapshotRecords> records =
      ReadSnapshotRecords(TASKDEX_SOURCE_DIR "/data/sample", options, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_GT(records->task_runs.size(), 1000u);
  ExpectRecordsRoundTrip(*records);
}

// --- one change line ----------------------------------------------------------

TEST(ChangeFileTest, ParsesAnUpsertWhateverTheKeyOrder) {
  absl::StatusOr<Change> c =
      ParseChangeLine(absl::StrFormat(R"({ "row" : %s , "entity":"flow", "op":"upsert" })", FlowRow(1)));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->op, ChangeOp::kUpsert);
  EXPECT_EQ(c->entity, EntityKind::kFlow);
  EXPECT_EQ(UuidToString(c->id), kFlowId);
  ASSERT_TRUE(std::holds_alternative<FlowRecord>(c->row));
  EXPECT_EQ(std::get<FlowRecord>(c->row).name, "flow1");
}

TEST(ChangeFileTest, ParsesADelete) {
  // Any UUID form pydantic accepts; a trailing CRLF is fine.
  absl::StatusOr<Change> c = ParseChangeLine(
      R"({"op":"delete","entity":"task_run","id":"{00000000-0000-4000-8000-00000000000A}"})"
      "\r\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->op, ChangeOp::kDelete);
  EXPECT_EQ(c->entity, EntityKind::kTaskRun);
  EXPECT_EQ(UuidToString(c->id), "00000000-0000-4000-8000-00000000000a");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(c->row));
}

TEST(ChangeFileTest, EachEntityNameSelectsItsRowParser) {
  const std::string task = absl::StrFormat(
      R"({"id":"%s","name":"t","task_key":"k","dynamic_key":"0"})", kTaskId);
  const std::string flow_run =
      R"({"id":"a1000000-0000-4000-8000-000000000000","flow_id":"f1000000-0000-4000-8000-000000000000","name":"r"})";
  const std::string deployment =
      R"({"id":"d1000000-0000-4000-8000-000000000000","flow_id":"f1000000-0000-4000-8000-000000000000","name":"d"})";
  auto c = ParseChangeLine(Upsert("task_run", task));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(std::holds_alternative<TaskRunRecord>(c->row));
  c = ParseChangeLine(Upsert("flow_run", flow_run));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(std::holds_alternative<FlowRunRecord>(c->row));
  c = ParseChangeLine(Upsert("deployment", deployment));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(std::holds_alternative<DeploymentRecord>(c->row));
  EXPECT_EQ(UuidToString(c->id), "d1000000-0000-4000-8000-000000000000");
  // A flow-run row is not a task-run row: the entity decides the parser.
  c = ParseChangeLine(Upsert("task_run", flow_run));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "row.task_key: missing required key");
}

struct ErrorCase {
  std::string line;
  std::string message;
};

TEST(ChangeFileTest, EveryErrorNamesItsKey) {
  const std::string flow = FlowRow(1);
  const std::vector<ErrorCase> cases = {
      {"[1,2]", "(line): expected a JSON object"},
      {R"("upsert")", "(line): expected a JSON object"},
      {Upsert("flow", flow) + " {}", "(line): not valid JSON (content after the object)"},
      {R"({"entity":"flow","row":{}})", "op: missing required key"},
      {R"({"op":"upsert","row":{}})", "entity: missing required key"},
      {R"({"op":1,"entity":"flow"})", "op: expected a string, got 1"},
      {R"({"op":"insert","entity":"flow"})", R"(op: must be "upsert" or "delete", got "insert")"},
      {R"({"op":"upsert","entity":"task"})",
       R"(entity: must be "flow", "deployment", "flow_run" or "task_run", got "task")"},
      {R"({"op":"upsert","entity":null})", "entity: expected a string, got null"},
      {R"({"op":"upsert","entity":"flow"})", "row: missing required key"},
      {R"({"op":"upsert","entity":"flow","row":[1]})", "row: expected an object, got an array"},
      {R"({"op":"upsert","entity":"flow","row":"{}"})",
       R"(row: expected an object, got "{}")"},
      {absl::StrFormat(R"({"op":"upsert","entity":"flow","row":%s,"id":"%s"})", flow, kFlowId),
       R"(id: not allowed with op "upsert" (the row carries its id))"},
      {absl::StrFormat(R"({"op":"delete","entity":"flow","id":"%s","row":%s})", kFlowId, flow),
       R"(row: not allowed with op "delete")"},
      {R"({"op":"delete","entity":"flow"})", "id: missing required key"},
      {R"({"op":"delete","entity":"flow","id":7})", "id: expected a string, got 7"},
      {R"({"op":"delete","entity":"flow","id":"nope"})", "id: invalid UUID \"nope\": "},
      {R"({"op":"delete","entity":"flow","id":"f1000000-0000-4000-8000-000000000000","why":1})",
       "why: unknown key (a change has op, entity, and row or id)"},
      {R"({"op":"delete","op":"delete"})", "op: repeated key"},
      {Upsert("flow", R"({"name":"x"})"), "row.id: missing required key"},
      {Upsert("flow", R"({"id":"f1000000-0000-4000-8000-000000000000","name":"x","tags":[1]})"),
       "row.tags[0]: expected a string, got 1"},
      {Upsert("task_run",
              absl::StrFormat(R"({"id":"%s","name":"t","task_key":"k","dynamic_key":"0",)"
                              R"("state_type":"RUNING"})",
                              kTaskId)),
       R"(row.state_type: unknown state type "RUNING")"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.line);
    absl::StatusOr<Change> got = ParseChangeLine(c.line);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    // Messages ending in ": " are prefixes (the rest is the UUID parser's
    // reason); the others are exact.
    if (c.message.ends_with(": ")) {
      ExpectStartsWith(got.status(), c.message);
    } else {
      EXPECT_EQ(std::string(got.status().message()), c.message);
    }
  }
}

TEST(ChangeFileTest, InvalidJsonIsALineError) {
  // simdjson sees `not json` as a bad scalar, not as a broken object.
  absl::StatusOr<Change> scalar = ParseChangeLine("not json");
  ASSERT_FALSE(scalar.ok());
  EXPECT_EQ(std::string(scalar.status().message()), "(line): expected a JSON object");
  for (std::string line : {"{\"op\":\"upsert\"", "{\"op\":\"upsert\",}", "{\"op\":\"up"}) {
    SCOPED_TRACE(line);
    absl::StatusOr<Change> got = ParseChangeLine(line);
    ASSERT_FALSE(got.ok());
    ExpectStartsWith(got.status(), "(line): not valid JSON (");
  }
}

// --- whole files ------------------------------------------------------------

TEST(ChangeFileTest, CutsBatchesByNonBlankLines) {
  // Five changes with blank, whitespace-only and CRLF lines among them; no
  // newline after the last one.
  const std::string text = Upsert("flow", FlowRow(1)) + "\r\n" + "\n" + "  \t\r\n" +
                           Upsert("flow", FlowRow(2)) + "\n" + Delete("flow", kFlowId) + "\r\n" +
                           "\n" + Upsert("flow", FlowRow(3)) + "\n" + Upsert("flow", FlowRow(4));
  auto all = ParseChangeFile(text, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].changes.size(), 5u);

  auto twos = ParseChangeFile(text, 2);
  ASSERT_TRUE(twos.ok()) << twos.status();
  ASSERT_EQ(twos->size(), 3u);
  EXPECT_EQ((*twos)[0].changes.size(), 2u);
  EXPECT_EQ((*twos)[1].changes.size(), 2u);
  EXPECT_EQ((*twos)[2].changes.size(), 1u);
  EXPECT_EQ((*twos)[1].changes[0].op, ChangeOp::kDelete);
  EXPECT_EQ(std::get<FlowRecord>((*twos)[2].changes[0].row).name, "flow4");

  auto exact = ParseChangeFile(text, 5);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->size(), 1u);
}

TEST(ChangeFileTest, EmptyAndBlankFilesHaveNoBatch) {
  for (std::string text : {"", "\n", "  \r\n\t\n"}) {
    auto batches = ParseChangeFile(text, 0);
    ASSERT_TRUE(batches.ok()) << batches.status();
    EXPECT_TRUE(batches->empty());
  }
}

TEST(ChangeFileTest, ErrorsCarryTheLineNumberCountingBlankLines) {
  const std::string text = Upsert("flow", FlowRow(1)) + "\r\n\r\n   \n" + Upsert("flow", FlowRow(2)) +
                           "\n" + R"({"op":"delete","entity":"flow","id":"x"})" + "\r\n";
  auto batches = ParseChangeFile(text, 1);
  ASSERT_FALSE(batches.ok());
  EXPECT_EQ(batches.status().code(), absl::StatusCode::kInvalidArgument);
  ExpectStartsWith(batches.status(), "5: id: invalid UUID \"x\"");
  auto bad_first = ParseChangeFile("\n{}\n", 0);
  ASSERT_FALSE(bad_first.ok());
  EXPECT_EQ(bad_first.status().message(), "2: op: missing required key");
}

TEST(ChangeFileTest, ReaderRejectsOnlyTheBadBatch) {
  // Batches of 2: lines 1-2, 3-5 (line 4 blank; line 5 bad), 6-7.
  TempFile file(Upsert("flow", FlowRow(1)) + "\n" + Upsert("flow", FlowRow(2)) + "\n" +
                Upsert("flow", FlowRow(3)) + "\n\n" + R"({"op":"upsert","entity":"flow","row":{}})" +
                "\n" + Delete("flow", kFlowId) + "\r\n" + Upsert("flow", FlowRow(4)));
  auto reader = ChangeFileReader::Open(file.path(), 2);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Batch batch;
  absl::StatusOr<bool> more = (*reader)->Next(&batch);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  ASSERT_EQ(batch.changes.size(), 2u);
  EXPECT_EQ(std::get<FlowRecord>(batch.changes[1].row).name, "flow2");
  EXPECT_EQ((*reader)->lines_read(), 2u);

  more = (*reader)->Next(&batch);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().message(), "5: row.id: missing required key");
  EXPECT_TRUE(batch.changes.empty());
  EXPECT_EQ((*reader)->lines_read(), 5u);

  more = (*reader)->Next(&batch);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  ASSERT_EQ(batch.changes.size(), 2u);
  EXPECT_EQ(batch.changes[0].op, ChangeOp::kDelete);
  EXPECT_EQ(std::get<FlowRecord>(batch.changes[1].row).name, "flow4");
  EXPECT_EQ((*reader)->lines_read(), 7u);

  more = (*reader)->Next(&batch);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_TRUE(batch.changes.empty());
  EXPECT_EQ((*reader)->batches_read(), 3u);
}

TEST(ChangeFileTest, ReaderSkipsTheRestOfABadBatchUnparsed) {
  // Line 2 is bad; line 3, in the same batch, is bad too but is not
  // reported: the batch is already rejected.
  TempFile file(Upsert("flow", FlowRow(1)) + "\n{\"op\":\"x\"}\n{\"op\":\"y\"}\n" +
                Upsert("flow", FlowRow(2)) + "\n");
  auto reader = ChangeFileReader::Open(file.path(), 3);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Batch batch;
  absl::StatusOr<bool> more = (*reader)->Next(&batch);
  ASSERT_FALSE(more.ok());
  ExpectStartsWith(more.status(), "2: op: must be");
  more = (*reader)->Next(&batch);
  ASSERT_TRUE(more.ok()) << more.status();
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(std::get<FlowRecord>(batch.changes[0].row).name, "flow2");
}

TEST(ChangeFileTest, ReaderOfAMissingFileIsNotFound) {
  auto reader = ChangeFileReader::Open("/nonexistent/taskdex/changes.ndjson", 0);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
}

// --- ChangeLine -------------------------------------------------------------

void ExpectChangeRoundTrips(const Change& c) {
  std::string line = ChangeLine(c);
  SCOPED_TRACE(line);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  absl::StatusOr<Change> back = ParseChangeLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(c, *back);
  EXPECT_EQ(ChangeLine(*back), line);
}

TEST(ChangeFileTest, ChangeLineRoundTripsEveryEntityAndDeletes) {
  LoadOptions options;
  options.threads = 1;
  absl::StatusOr<SnapshotRecords> records =
      ReadSnapshotRecords(TASKDEX_EXAMPLES_DIR "/snapshot", options, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();

  std::vector<Change> changes;
  auto upsert = [&changes](EntityKind kind, const auto& row) {
    Change c;
    c.op = ChangeOp::kUpsert;
    c.entity = kind;
    c.id = row.id;
    c.row = row;
    changes.push_back(c);
  };
  upsert(EntityKind::kTaskRun, ScheduledTaskRun());
  upsert(EntityKind::kFlowRun, FlowRun());
  for (const auto& r : records->task_runs) upsert(EntityKind::kTaskRun, r);
  for (const auto& r : records->flow_runs) upsert(EntityKind::kFlowRun, r);
  for (const auto& r : records->flows) upsert(EntityKind::kFlow, r);
  for (const auto& r : records->deployments) upsert(EntityKind::kDeployment, r);
  for (EntityKind kind :
       {EntityKind::kFlow, EntityKind::kDeployment, EntityKind::kFlowRun, EntityKind::kTaskRun}) {
    Change c;
    c.op = ChangeOp::kDelete;
    c.entity = kind;
    c.id = *ParseUuid(kTaskId);
    changes.push_back(c);
  }
  std::string file;
  for (const Change& c : changes) {
    ExpectChangeRoundTrips(c);
    file += ChangeLine(c) + "\n";
  }
  EXPECT_EQ(ChangeLine(changes.back()),
            R"({"op":"delete","entity":"task_run","id":"00000000-0000-4000-8000-000000000001"})");

  // The same changes as one file, in batches of 4.
  auto batches = ParseChangeFile(file, 4);
  ASSERT_TRUE(batches.ok()) << batches.status();
  size_t i = 0;
  for (const Batch& b : *batches) {
    EXPECT_LE(b.changes.size(), 4u);
    for (const Change& c : b.changes) ExpectSame(changes[i++], c);
  }
  EXPECT_EQ(i, changes.size());
}

}  // namespace
}  // namespace taskdex
