// tests/engine/db_source_test.cc: a database row's way to a record
// (engine/db_source.h), without a database: canonical text in, the record
// the snapshot line parser makes out.

#include "engine/db_source.h"

#include <optional>
#include <string>
#include <vector>

#include "engine/datetime.h"
#include "engine/internal/db_dialects.h"
#include "engine/internal/row_parse_pool.h"
#include "engine/uuid.h"
#include "engine/snapshot_loader.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

using engine_internal::DbTimeToIso;

// A row of `entity` with every column NULL but those given (by key, or by
// expression for the columns without a key).
std::vector<std::optional<std::string_view>> Row(
    EntityKind entity, const std::vector<std::pair<std::string_view, std::string_view>>& set) {
  std::span<const DbColumn> columns = DbColumns(entity);
  std::vector<std::optional<std::string_view>> row(columns.size());
  for (const auto& [name, value] : set) {
    bool found = false;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].key == name || columns[i].expr == name) {
        row[i] = value;
        found = true;
      }
    }
    EXPECT_TRUE(found) << name;
  }
  return row;
}

TEST(DbSourceTest, EveryEntityStartsWithIdAndUpdated) {
  for (EntityKind e : {EntityKind::kFlow, EntityKind::kDeployment, EntityKind::kFlowRun,
                       EntityKind::kTaskRun}) {
    std::span<const DbColumn> c = DbColumns(e);
    ASSERT_GE(c.size(), 2u);
    EXPECT_EQ(std::string(c[0].key), "id");
    EXPECT_EQ(std::string(c[1].key), "updated");
    EXPECT_EQ(std::string(c[0].expr), std::string(DbAlias(e)) + ".id");
  }
}

TEST(DbSourceTest, DatabaseTimesBecomeIso) {
  std::string out;
  ASSERT_TRUE(DbTimeToIso("2024-05-01 12:00:00.5+00", &out));  // PostgreSQL, TimeZone UTC
  EXPECT_EQ(out, "2024-05-01T12:00:00.5Z");
  ASSERT_TRUE(DbTimeToIso("2024-05-01 12:00:00+00", &out));
  EXPECT_EQ(out, "2024-05-01T12:00:00Z");
  ASSERT_TRUE(DbTimeToIso("2024-05-01 12:00:00.123456", &out));  // SQLite, UTC text
  EXPECT_EQ(out, "2024-05-01T12:00:00.123456Z");
  ASSERT_TRUE(DbTimeToIso("2024-05-01 12:00:00.123+02", &out));
  EXPECT_EQ(out, "2024-05-01T12:00:00.123+02:00");
  EXPECT_EQ(ParseDatetimeString(out).value, ParseDatetimeString("2024-05-01T10:00:00.123Z").value);
  EXPECT_FALSE(DbTimeToIso("0", &out));
  EXPECT_FALSE(DbTimeToIso("infinity", &out));
}

TEST(DbSourceTest, DataTruthinessIsPythons) {
  for (std::string_view falsy : {"null", "false", "0", "0.0", "-0", "\"\"", "{}", "[]", " { } ",
                                 "[ ]", "0e0"}) {
    EXPECT_FALSE(JsonTruthy(falsy)) << falsy;
  }
  for (std::string_view truthy : {"true", "1", "0.5", "\" \"", "\"0\"", "{\"a\": 1}", "[0]",
                                  "{\"type\": \"reference\"}"}) {
    EXPECT_TRUE(JsonTruthy(truthy)) << truthy;
  }
}

TEST(DbSourceTest, TaskRunRowEqualsItsApiLine) {
  auto row = Row(EntityKind::kTaskRun,
                 {{"id", "a1000000-0000-4000-8000-000000000001"},
                  {"updated", "2024-05-01T12:00:01.000001Z"},
                  {"created", "2024-05-01T12:00:00Z"},
                  {"name", "say \"hi\"\t-0"},
                  {"flow_run_id", "b1000000-0000-4000-8000-000000000001"},
                  {"task_key", "k"},
                  {"dynamic_key", "0"},
                  {"empirical_policy", "{\"retries\": 2}"},
                  {"tags", "[\"a\", \"b\"]"},
                  {"labels", "{\"x\": 1.50}"},
                  {"state_id", "c1000000-0000-4000-8000-000000000001"},
                  {"task_inputs", "{}"},
                  {"state_type", "COMPLETED"},
                  {"state_name", "Completed"},
                  {"run_count", "1"},
                  {"flow_run_run_count", "1"},
                  {"start_time", "2024-05-01T12:00:00.5Z"},
                  {"total_run_time", "55.000000"},
                  {"tr.state_timestamp", "2024-05-01T12:00:02Z"},
                  {"state.id", "c1000000-0000-4000-8000-000000000001"},
                  {"state.type", "COMPLETED"},
                  {"state.name", "Completed"},
                  {"state.timestamp", "2024-05-01T12:00:03Z"},
                  {"state.state_details", "{}"},
                  {"state.data", "null"},
                  {"a.data", "{\"result\": 7}"}});
  absl::StatusOr<Change> change = DbRowToUpsert(EntityKind::kTaskRun, row);
  ASSERT_TRUE(change.ok()) << change.status();
  const TaskRunRecord& got = std::get<TaskRunRecord>(change->row);

  absl::StatusOr<TaskRunRecord> want = ParseTaskRunLine(
      R"({"id":"a1000000-0000-4000-8000-000000000001","updated":"2024-05-01T12:00:01.000001Z",)"
      R"("created":"2024-05-01T12:00:00Z","name":"say \"hi\"\t-0",)"
      R"("flow_run_id":"b1000000-0000-4000-8000-000000000001","task_key":"k","dynamic_key":"0",)"
      R"("empirical_policy":{"retries":2},"tags":["a","b"],"labels":{"x": 1.50},)"
      R"("state_id":"c1000000-0000-4000-8000-000000000001","task_inputs":{},)"
      R"("state_type":"COMPLETED","state_name":"Completed","run_count":1,"flow_run_run_count":1,)"
      R"("start_time":"2024-05-01T12:00:00.5Z","total_run_time":55.0,)"
      R"("state":{"id":"c1000000-0000-4000-8000-000000000001","type":"COMPLETED",)"
      R"("name":"Completed","timestamp":"2024-05-01T12:00:03Z","message":null,)"
      R"("state_details":{},"data":{"result": 7}}})");
  ASSERT_TRUE(want.ok()) << want.status();
  // The connector reads state_timestamp from its column (prefect-schema.md 2.1).
  want->state_timestamp = ParseDatetimeString("2024-05-01T12:00:02Z").value;
  EXPECT_EQ(got, *want);
  EXPECT_EQ(got.total_run_time_us, 55'000'000);
}

// A task-run row with the required columns set, plus `more`.
std::vector<std::optional<std::string_view>> MinimalTaskRun(
    std::vector<std::pair<std::string_view, std::string_view>> more) {
  std::vector<std::pair<std::string_view, std::string_view>> set = {
      {"id", "a1000000-0000-4000-8000-000000000001"},
      {"updated", "2024-05-01T12:00:01Z"},
      {"name", "n"},
      {"task_key", "k"},
      {"dynamic_key", "0"},
      {"empirical_policy", "{}"},
      {"tags", "[]"},
      {"task_inputs", "{}"},
      {"run_count", "0"},
      {"flow_run_run_count", "0"},
      {"total_run_time", "0"}};
  set.insert(set.end(), more.begin(), more.end());
  return Row(EntityKind::kTaskRun, set);
}

TEST(DbSourceTest, MissingStateRowLoadsAsNullState) {
  // state_id names a row the LEFT JOIN did not find (no foreign key).
  auto row = MinimalTaskRun({{"state_id", "c1000000-0000-4000-8000-000000000001"}});
  absl::StatusOr<Change> change = DbRowToUpsert(EntityKind::kTaskRun, row);
  ASSERT_TRUE(change.ok()) << change.status();
  const TaskRunRecord& got = std::get<TaskRunRecord>(change->row);
  EXPECT_EQ(got.state_json, "null");
  EXPECT_FALSE(got.state_timestamp.has_value());
  EXPECT_TRUE(got.state_id.has_value());
}

TEST(DbSourceTest, TruthyStateDataWinsOverTheArtifact) {
  auto row = MinimalTaskRun({{"state.id", "c1000000-0000-4000-8000-000000000001"},
                             {"state.type", "FAILED"},
                             {"state.timestamp", "2024-05-01T12:00:03Z"},
                             {"state.state_details", "{}"},
                             {"state.data", "[1]"},
                             {"a.data", "{\"result\": 7}"}});
  absl::StatusOr<Change> change = DbRowToUpsert(EntityKind::kTaskRun, row);
  ASSERT_TRUE(change.ok()) << change.status();
  const TaskRunRecord& got = std::get<TaskRunRecord>(change->row);
  EXPECT_NE(got.state_json.find("\"data\":[1]"), std::string::npos) << got.state_json;
  EXPECT_NE(got.state_json.find("\"name\":\"Failed\""), std::string::npos) << got.state_json;
}

TEST(DbSourceTest, BadRowNamesTableIdAndKey) {
  auto row = Row(EntityKind::kFlowRun, {{"id", "b1000000-0000-4000-8000-000000000001"},
                                        {"updated", "2024-05-01T12:00:01Z"},
                                        {"flow_id", "f1000000-0000-4000-8000-000000000001"},
                                        {"name", "r"},
                                        {"tags", "[]"},
                               {"state_type", "RUNING"}});
  absl::StatusOr<Change> change = DbRowToUpsert(EntityKind::kFlowRun, row);
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(change.status().message().find("flow_run b1000000-0000-4000-8000-000000000001: "
                                           "state_type"),
            std::string::npos)
      << change.status();
}

TEST(DbSourceTest, OtherEntitiesAndUrls) {
  auto flow = Row(EntityKind::kFlow, {{"id", "f1000000-0000-4000-8000-000000000001"},
                                      {"updated", "2024-05-01T12:00:01Z"},
                                      {"name", "etl"},
                                      {"tags", "[\"x\"]"}});
  absl::StatusOr<Change> f = DbRowToUpsert(EntityKind::kFlow, flow);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(std::get<FlowRecord>(f->row).tags, std::vector<std::string>{"x"});
  auto dep = Row(EntityKind::kDeployment, {{"id", "d1000000-0000-4000-8000-000000000001"},
                                           {"updated", "2024-05-01T12:00:01Z"},
                                           {"name", "prod"},
                                           {"flow_id", "f1000000-0000-4000-8000-000000000001"},
                                           {"paused", "true"},
                                           {"tags", "[]"}});
  absl::StatusOr<Change> d = DbRowToUpsert(EntityKind::kDeployment, dep);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(std::get<DeploymentRecord>(d->row).paused);

  EXPECT_TRUE(OpenDbSource("postgresql://u@127.0.0.1:1/db").ok());
  EXPECT_TRUE(OpenDbSource("postgresql+asyncpg://u:p@127.0.0.1:1/db").ok());
  EXPECT_TRUE(OpenDbSource("sqlite+aiosqlite:////tmp/x.db").ok());
  absl::StatusOr<std::unique_ptr<DbSource>> masked = OpenDbSource("postgresql://u:secret@h/db");
  ASSERT_TRUE(masked.ok());
  EXPECT_EQ((*masked)->display_url(), "postgresql://u:***@h/db");
  absl::StatusOr<std::unique_ptr<DbSource>> bad = OpenDbSource("mysql://x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--source"), std::string::npos);
}

// Rows parsed on workers come back in the order they were added, across
// blocks, and the first bad row (in that order) is the error.
TEST(DbSourceTest, ParsePoolKeepsOrderAndTheFirstError) {
  const size_t n = 3 * engine_internal::RowParsePool::kRowsPerBlock + 17;
  auto flow_row = [](size_t i, std::string* id, std::string* name) {
    Uuid u;
    u.bytes[15] = static_cast<uint8_t>(i);
    u.bytes[14] = static_cast<uint8_t>(i >> 8);
    *id = UuidToString(u);
    *name = "flow-" + std::to_string(i);
    return Row(EntityKind::kFlow,
               {{"id", *id}, {"updated", "2024-05-01T12:00:01Z"}, {"name", *name}, {"tags", "[]"}});
  };
  for (size_t bad : {n, size_t{5000}}) {
    engine_internal::RowParsePool pool(EntityKind::kFlow, 3);
    std::string id, name;
    for (size_t i = 0; i < n; ++i) {
      auto row = flow_row(i, &id, &name);
      if (i == bad || i == bad + 1) row[3] = "{}";  // tags must be an array
      pool.Add(row);
    }
    std::vector<Change> out;
    absl::Status s = pool.Finish(&out);
    if (bad == n) {
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(out.size(), n);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::get<FlowRecord>(out[i].row).name, "flow-" + std::to_string(i));
      }
    } else {
      ASSERT_FALSE(s.ok());
      flow_row(bad, &id, &name);
      EXPECT_NE(s.message().find(id), std::string::npos) << s;
    }
  }
}

}  // namespace
}  // namespace taskdex
