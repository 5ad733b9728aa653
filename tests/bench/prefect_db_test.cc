// tests/bench/prefect_db_test.cc
//
// PrefectDb (bench/prefect_db.h) against a real PostgreSQL 15 (one
// bench/pg_cluster per suite, a fresh database per test) and a real
// SQLite file: the schema and every index name of prefect-schema.md 2, bulk
// and one-by-one inserts of random data, values read back by a small reader
// written here (test-only: raw SQL, a few columns), `updated` on state
// changes, cascades, and transaction visibility to a second connection.

#include "bench/prefect_db.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "bench/pg_cluster.h"
#include "tests/testing/random_data.h"

namespace taskdex {
namespace {

using Row = std::vector<std::optional<std::string>>;

// A second, plain connection: what a reader of the database sees.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::vector<Row> Query(const std::string& sql) = 0;
  std::optional<std::string> One(const std::string& sql) {
    std::vector<Row> rows = Query(sql);
    EXPECT_EQ(rows.size(), 1u) << sql;
    if (rows.size() != 1 || rows[0].empty()) return std::nullopt;
    return rows[0][0];
  }
  int64_t Count(const std::string& table) {
    return std::stoll(One("SELECT count(*) FROM " + table).value_or("-1"));
  }
};

class PgReader : public Reader {
 public:
  explicit PgReader(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  }
  ~PgReader() override { PQfinish(conn_); }
  std::vector<Row> Query(const std::string& sql) override {
    PGresult* result = PQexec(conn_, sql.c_str());
    std::vector<Row> rows;
    EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(result);
    for (int r = 0; r < PQntuples(result); ++r) {
      Row& row = rows.emplace_back();
      for (int c = 0; c < PQnfields(result); ++c) {
        if (PQgetisnull(result, r, c)) {
          row.emplace_back();
        } else {
          row.emplace_back(PQgetvalue(result, r, c));
        }
      }
    }
    PQclear(result);
    return rows;
  }

 private:
  PGconn* conn_;
};

class SqliteReader : public Reader {
 public:
  explicit SqliteReader(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~SqliteReader() override { sqlite3_close(db_); }
  std::vector<Row> Query(const std::string& sql) override {
    std::vector<Row> rows;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return rows;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row& row = rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.emplace_back();
        } else {
          row.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c)));
        }
      }
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string KindName(PrefectDbKind kind) {
  return kind == PrefectDbKind::kPostgres ? "Postgres" : "Sqlite";
}

// Every index name of prefect-schema.md 2 (pk_* and uq_flow__name are
// constraints; SQLite lists those in the table's SQL, not as indexes).
const std::vector<std::string>& SpecIndexNames() {
  static const auto* names = new std::vector<std::string>{
      "pk_task_run",
      "ix_task_run__updated",
      "ix_task_run__name",
      "ix_task_run__flow_run_id",
      "ix_task_run__state_id",
      "uq_task_run__flow_run_id_task_key_dynamic_key",
      "ix_task_run__expected_start_time_desc",
      "ix_task_run__next_scheduled_start_time_asc",
      "ix_task_run__end_time_desc",
      "ix_task_run__start_time",
      "ix_task_run__state_type",
      "ix_task_run__state_type_start_time",
      "ix_task_run__state_name",
      "ix_task_run__state_timestamp",
      "pk_task_run_state",
      "ix_task_run_state__updated",
      "ix_task_run_state__type",
      "ix_task_run_state__name",
      "ix_task_run_state__result_artifact_id",
      "uq_task_run_state__task_run_id_timestamp_desc",
      "pk_flow_run",
      "ix_flow_run__updated",
      "ix_flow_run__name",
      "ix_flow_run__flow_id",
      "ix_flow_run__deployment_id",
      "ix_flow_run__work_queue_name",
      "ix_flow_run__flow_version",
      "ix_flow_run__deployment_version",
      "ix_flow_run__infrastructure_document_id",
      "ix_flow_run__parent_task_run_id",
      "ix_flow_run__state_id",
      "ix_flow_run__work_queue_id",
      "uq_flow_run__flow_id_idempotency_key",
      "ix_flow_run__coalesce_start_time_expected_start_time_desc",
      "ix_flow_run__coalesce_start_time_expected_start_time_asc",
      "ix_flow_run__expected_start_time_desc",
      "ix_flow_run__next_scheduled_start_time_asc",
      "ix_flow_run__end_time_desc",
      "ix_flow_run__start_time",
      "ix_flow_run__state_type",
      "ix_flow_run__state_name",
      "ix_flow_run__state_timestamp",
      "ix_flow_run__scheduler_deployment_id_auto_scheduled_next_schedu",
      "ix_flow_run__schedule_id_scheduler",
      "pk_flow",
      "uq_flow__name",
      "ix_flow__updated",
      "ix_flow__created",
      "pk_deployment",
      "ix_deployment__updated",
      "uq_deployment__flow_id_name",
      "ix_deployment__created",
      "ix_deployment__flow_id",
      "ix_deployment__work_queue_name",
      "ix_deployment__work_queue_id",
      "ix_deployment__paused"};
  return *names;
}

constexpr Micros kT0 = 1714557600000000;  // 2024-05-01T10:00:00Z

Uuid Id(uint8_t kind, uint8_t n) {
  Uuid u;
  u.bytes[0] = kind;
  u.bytes[6] = 0x40;
  u.bytes[8] = 0x80;
  u.bytes[15] = n;
  return u;
}

// Micros of a column as the test reader selects it (see TimeSql).
Micros ParseMicros(const std::optional<std::string>& text) {
  if (!text) return kNullMicros;
  if (*text == "0") return 0;  // SQLite interval server default
  if (text->find('-') == std::string::npos) return std::stoll(*text);  // PostgreSQL epoch us
  DatetimeResult r = ParseDatetimeString(*text);
  EXPECT_TRUE(r.ok()) << *text;
  return r.value;
}

std::vector<std::string> ParseTags(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  std::vector<std::string> tags;
  EXPECT_TRUE(doc.IsArray()) << json;
  if (!doc.IsArray()) return tags;
  for (const auto& v : doc.GetArray()) tags.emplace_back(v.GetString(), v.GetStringLength());
  return tags;
}

class PrefectDbTest : public ::testing::TestWithParam<PrefectDbKind> {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/taskdex-sqlite-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    sqlite_dir_ = new std::string(tmpl);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete cluster_error_;
    cluster_error_ = nullptr;
    std::error_code ignored;
    std::filesystem::remove_all(*sqlite_dir_, ignored);
    delete sqlite_dir_;
    sqlite_dir_ = nullptr;
  }

  // The cluster starts with the suite's first PostgreSQL test, so a process
  // running only SQLite tests (ctest runs one test per process) starts none.
  static void StartCluster() {
    if (cluster_ != nullptr || cluster_error_ != nullptr) return;
    absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
    if (cluster.ok()) {
      cluster_ = cluster->release();
    } else {
      cluster_error_ = new std::string(cluster.status().ToString());
    }
  }

  void SetUp() override {
    if (GetParam() == PrefectDbKind::kPostgres) StartCluster();
    if (GetParam() == PrefectDbKind::kPostgres && cluster_ == nullptr) {
      GTEST_SKIP() << "\n*** PostgreSQL tests SKIPPED: " << *cluster_error_
                   << "\n*** CI installs postgresql-15: a skip there is a failure to fix. ***";
    }
    const std::string name = absl::StrCat("t", ++counter_);
    if (GetParam() == PrefectDbKind::kPostgres) {
      absl::StatusOr<std::string> url = cluster_->CreateDatabase(name);
      ASSERT_TRUE(url.ok()) << url.status();
      url_ = *url;
    } else {
      sqlite_path_ = absl::StrCat(*sqlite_dir_, "/", name, ".db");
      url_ = "sqlite://" + sqlite_path_;
    }
    db_ = OpenDb();
    ASSERT_NE(db_, nullptr);
  }

  std::unique_ptr<PrefectDb> OpenDb() {
    absl::StatusOr<std::unique_ptr<PrefectDb>> db = PrefectDb::Open(url_);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }
  std::unique_ptr<Reader> NewReader() {
    if (GetParam() == PrefectDbKind::kPostgres) return std::make_unique<PgReader>(url_);
    return std::make_unique<SqliteReader>(sqlite_path_);
  }
  bool pg() const { return GetParam() == PrefectDbKind::kPostgres; }
  // A timestamp or interval column as text ParseMicros reads.
  std::string TimeSql(const std::string& column) const {
    return pg() ? absl::StrCat("(EXTRACT(EPOCH FROM ", column, ") * 1000000)::bigint") : column;
  }

  // A flow, a flow run of it and `n` task runs of that flow run.
  void InsertFamily(int n) {
    FlowRecord flow{.id = Id(1, 1), .name = "etl", .tags = {}};
    ASSERT_TRUE(db_->InsertFlow(flow).ok());
    FlowRunRecord run;
    run.id = Id(2, 1);
    run.flow_id = flow.id;
    run.name = "run-1";
    ASSERT_TRUE(db_->InsertFlowRun(run).ok());
    for (int i = 0; i < n; ++i) {
      TaskRunRecord t;
      t.id = Id(3, static_cast<uint8_t>(i + 1));
      t.name = absl::StrCat("task-", i);
      t.task_key = t.name;
      t.dynamic_key = "0";
      t.flow_run_id = run.id;
      absl::Status s = db_->InsertTaskRun(t);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  static PgCluster* cluster_;
  static std::string* cluster_error_;
  static std::string* sqlite_dir_;
  static int counter_;
  std::string url_;
  std::string sqlite_path_;
  std::unique_ptr<PrefectDb> db_;
};

PgCluster* PrefectDbTest::cluster_ = nullptr;
std::string* PrefectDbTest::cluster_error_ = nullptr;
std::string* PrefectDbTest::sqlite_dir_ = nullptr;
int PrefectDbTest::counter_ = 0;

TEST_P(PrefectDbTest, CreateSchemaCreatesEveryIndexOfTheSpec) {
  absl::Status s = db_->CreateSchema();
  ASSERT_TRUE(s.ok()) << s;
  std::unique_ptr<Reader> reader = NewReader();
  std::vector<std::string> expected = SpecIndexNames();
  if (pg()) {
    for (const char* t : {"task_run", "flow_run", "flow", "deployment"}) {
      expected.push_back(absl::StrCat("trgm_ix_", t, "_name"));
    }
    std::set<std::string> have;
    for (const Row& r :
         reader->Query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")) {
      have.insert(*r[0]);
    }
    for (const std::string& name : expected) EXPECT_TRUE(have.contains(name)) << name;
    EXPECT_EQ(reader->One("SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum "
                          "JOIN pg_type t ON t.oid = enumtypid WHERE t.typname = 'state_type'"),
              "SCHEDULED,PENDING,RUNNING,COMPLETED,FAILED,CANCELLED,CRASHED,PAUSED,CANCELLING");
    EXPECT_EQ(reader->One("SELECT data_type FROM information_schema.columns WHERE "
                          "table_name = 'task_run' AND column_name = 'total_run_time'"),
              "interval");
    EXPECT_EQ(reader->One("SELECT confdeltype FROM pg_constraint WHERE conname = "
                          "'fk_flow_run__parent_task_run_id__task_run'"),
              "n");  // SET NULL
  } else {
    std::set<std::string> have;
    std::string tables_sql;
    for (const Row& r : reader->Query("SELECT type, name, sql FROM sqlite_master")) {
      if (*r[0] == "index") have.insert(*r[1]);
      if (*r[0] == "table" && r[2]) tables_sql += *r[2];
    }
    for (const std::string& name : expected) {
      const bool constraint = tables_sql.find("CONSTRAINT " + name + " ") != std::string::npos;
      EXPECT_TRUE(have.contains(name) || constraint) << name;
      EXPECT_EQ(name.find("trgm_"), std::string::npos);
    }
    EXPECT_EQ(reader->One("PRAGMA journal_mode"), "wal");
  }
}

TEST_P(PrefectDbTest, InsertsRandomRecordsOneByOneAndInBulk) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  std::unique_ptr<Reader> reader = NewReader();
  size_t task_runs = 0, parents = 0;  // the data must not be trivial
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    TestRng rng(seed);
    SnapshotRecords data = MakeRepresentable(RandomRecords(rng));
    // Random data has no state objects: give every other task run with a
    // state type one, so the task_run_state path is exercised too.
    int64_t with_state = 0;
    for (size_t i = 0; i < data.task_runs.size(); i += 2) {
      TaskRunRecord& t = data.task_runs[i];
      if (!t.state_type) continue;
      Uuid state_id = t.id;
      state_id.bytes[0] ^= 0x5e;
      t.state_id = state_id;
      t.state_timestamp = kT0 + static_cast<Micros>(i);
      t.state_json =
          absl::StrCat(R"({"id":")", UuidToString(state_id), R"(","type":")",
                       std::string(StateTypeName(*t.state_type)), R"(","name":"S","timestamp":")",
                       FormatDatetime(*t.state_timestamp), R"(","message":null,)",
                       R"("data":null,"state_details":{}})");
      ++with_state;
    }
    const bool bulk = seed % 2 == 0;
    if (bulk) {
      uint64_t last = 0;
      absl::Status s = db_->InsertAll(data, [&](uint64_t rows) { last = rows; });
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_EQ(last, data.flows.size() + data.deployments.size() + data.flow_runs.size() +
                          data.task_runs.size() + static_cast<uint64_t>(with_state));
    } else {
      for (const FlowRecord& r : data.flows) ASSERT_TRUE(db_->InsertFlow(r).ok());
      for (const DeploymentRecord& r : data.deployments) ASSERT_TRUE(db_->InsertDeployment(r).ok());
      // Subflows after their parent task run, as Prefect creates them.
      for (const FlowRunRecord& r : data.flow_runs) {
        FlowRunRecord without_parent = r;
        without_parent.parent_task_run_id.reset();
        ASSERT_TRUE(db_->InsertFlowRun(without_parent).ok());
      }
      for (const TaskRunRecord& r : data.task_runs) {
        absl::Status s = db_->InsertTaskRun(r);
        ASSERT_TRUE(s.ok()) << s;
      }
      for (const FlowRunRecord& r : data.flow_runs) {
        if (!r.parent_task_run_id) continue;
        ASSERT_TRUE(db_->Exec(absl::StrCat("UPDATE flow_run SET parent_task_run_id = '",
                                           UuidToString(*r.parent_task_run_id), "' WHERE id = '",
                                           UuidToString(r.id), "'"))
                        .ok());
      }
    }
    EXPECT_EQ(reader->Count("flow"), static_cast<int64_t>(data.flows.size()));
    EXPECT_EQ(reader->Count("deployment"), static_cast<int64_t>(data.deployments.size()));
    EXPECT_EQ(reader->Count("flow_run"), static_cast<int64_t>(data.flow_runs.size()));
    EXPECT_EQ(reader->Count("task_run"), static_cast<int64_t>(data.task_runs.size()));
    EXPECT_EQ(reader->Count("task_run tr JOIN task_run_state s ON s.id = tr.state_id AND "
                            "s.task_run_id = tr.id"),
              with_state);
    // A few columns of every task run and flow run round-trip.
    for (const TaskRunRecord& r : data.task_runs) {
      std::vector<Row> rows = reader->Query(absl::StrCat(
          "SELECT name, flow_run_id, tags, state_type, ", TimeSql("expected_start_time"), ", ",
          TimeSql("end_time"), " FROM task_run WHERE id = '", UuidToString(r.id), "'"));
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_EQ(rows[0][0], r.name);
      EXPECT_EQ(rows[0][1],
                r.flow_run_id ? std::optional(UuidToString(*r.flow_run_id)) : std::nullopt);
      EXPECT_EQ(ParseTags(*rows[0][2]), r.tags);
      EXPECT_EQ(rows[0][3], r.state_type ? std::optional(std::string(StateTypeName(*r.state_type)))
                                         : std::nullopt);
      EXPECT_EQ(ParseMicros(rows[0][4]), r.expected_start_time.value_or(kNullMicros));
      EXPECT_EQ(ParseMicros(rows[0][5]), r.end_time.value_or(kNullMicros));
    }
    for (const FlowRunRecord& r : data.flow_runs) {
      EXPECT_EQ(
          reader->One(absl::StrCat("SELECT parent_task_run_id FROM flow_run WHERE id = '",
                                   UuidToString(r.id), "'")),
          r.parent_task_run_id ? std::optional(UuidToString(*r.parent_task_run_id)) : std::nullopt);
    }
    task_runs += data.task_runs.size();
    for (const FlowRunRecord& r : data.flow_runs) parents += r.parent_task_run_id.has_value();
    ASSERT_TRUE(db_->Exec("DELETE FROM task_run; DELETE FROM flow;").ok());
    EXPECT_EQ(reader->Count("flow_run"), 0);
  }
  EXPECT_GT(task_runs, 30u);
  EXPECT_GT(parents, 2u);
}

TEST_P(PrefectDbTest, TaskRunColumnsAndStateRoundTrip) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  InsertFamily(0);
  TaskRunRecord t;
  t.id = Id(3, 9);
  t.created = kT0 + 1;
  t.updated = kT0 + 250'000;
  t.name = "load \"q\"";
  t.task_key = "load";
  t.dynamic_key = "7";
  t.flow_run_id = Id(2, 1);
  t.tags = {"é", "a\\b", "tab\there"};
  t.labels_json = "null";
  t.empirical_policy_json =
      R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":[1,2.5],"retry_jitter_factor":null})";
  t.state_type = StateType::kCompleted;
  t.state_name = "Completed";
  t.expected_start_time = kT0 - 999'999;
  t.end_time = kT0 + 3'600'000'001;
  t.total_run_time_us = 360'000'000'000'001;  // 100,000 h + 1 us
  t.state_id = Id(5, 1);
  t.state_timestamp = kT0 + 42;
  t.state_json = absl::StrCat(
      R"({"id":")", UuidToString(Id(5, 1)),
      R"(","type":"COMPLETED","name":"Completed","timestamp":"2024-05-01T10:00:00.000042Z",)"
      R"("message":"done ✓","data":{"k":[1,2.5,"x"]},"state_details":{"task_run_id":")",
      UuidToString(t.id), R"("}})");
  absl::Status s = db_->InsertTaskRun(t);
  ASSERT_TRUE(s.ok()) << s;

  std::unique_ptr<Reader> reader = NewReader();
  // The connector's query (prefect-schema.md 3), a few columns.
  std::vector<Row> rows = reader->Query(absl::StrCat(
      "SELECT ", TimeSql("tr.created"), ", ", TimeSql("tr.updated"), ", ",
      TimeSql("tr.expected_start_time"), ", ", TimeSql("tr.end_time"), ", ",
      TimeSql("tr.total_run_time"), ", ", TimeSql("tr.state_timestamp"),
      ", tr.tags, tr.labels, tr.name, s.id, s.type, s.name, ", TimeSql("s.timestamp"),
      ", s.message, s.data, s.state_details, tr.empirical_policy "
      "FROM task_run tr LEFT JOIN task_run_state s ON s.id = tr.state_id WHERE tr.id = '",
      UuidToString(t.id), "'"));
  ASSERT_EQ(rows.size(), 1u);
  const Row& r = rows[0];
  EXPECT_EQ(ParseMicros(r[0]), *t.created);
  EXPECT_EQ(ParseMicros(r[1]), *t.updated);
  EXPECT_EQ(ParseMicros(r[2]), *t.expected_start_time);
  EXPECT_EQ(ParseMicros(r[3]), *t.end_time);
  if (pg()) {
    EXPECT_EQ(ParseMicros(r[4]), t.total_run_time_us);
  } else {
    EXPECT_EQ(r[4], "1981-05-29 16:00:00.000001");  // 1970-01-01 + 100,000 h + 1 us
    EXPECT_EQ(ParseMicros(r[4]), t.total_run_time_us);
  }
  EXPECT_EQ(ParseMicros(r[5]), *t.state_timestamp);
  EXPECT_EQ(ParseTags(*r[6]), t.tags);
  EXPECT_EQ(r[7], "null");  // the JSON value null, not SQL NULL
  EXPECT_EQ(r[8], t.name);
  EXPECT_EQ(r[9], UuidToString(Id(5, 1)));
  EXPECT_EQ(r[10], "COMPLETED");
  EXPECT_EQ(r[11], "Completed");
  EXPECT_EQ(ParseMicros(r[12]), kT0 + 42);
  EXPECT_EQ(r[13], "done ✓");
  if (pg()) {
    EXPECT_EQ(r[14], R"({"k": [1, 2.5, "x"]})");  // jsonb's own text form
  } else {
    // Python's json.dumps text, as Prefect writes it on SQLite.
    EXPECT_EQ(r[6], R"(["\u00e9", "a\\b", "tab\there"])");
    EXPECT_EQ(r[14], R"({"k": [1, 2.5, "x"]})");
    EXPECT_EQ(r[16], R"({"max_retries": 0, "retry_delay_seconds": 0.0, "retries": null, )"
                     R"("retry_delay": [1, 2.5], "retry_jitter_factor": null})");
    // Timestamps: UTC text with 6 fraction digits.
    EXPECT_EQ(reader->One(absl::StrCat("SELECT created FROM task_run WHERE id = '",
                                       UuidToString(t.id), "'")),
              "2024-05-01 10:00:00.000001");
  }
  EXPECT_NE(r[15]->find(UuidToString(t.id)), std::string::npos);
}

TEST_P(PrefectDbTest, StateChangeMovesUpdatedToTheDatabaseClock) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  InsertFamily(1);
  std::unique_ptr<Reader> reader = NewReader();
  const std::string where =
      absl::StrCat(" FROM task_run WHERE id = '", UuidToString(Id(3, 1)), "'");
  const Micros inserted = ParseMicros(reader->One("SELECT " + TimeSql("updated") + where));

  auto wall = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  // In an explicit transaction, 300 ms after BEGIN: PostgreSQL's now() is
  // the transaction's start, SQLite's the statement's time.
  ASSERT_TRUE(db_->Begin().ok());
  const Micros began = wall();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const Micros before_change = wall();
  absl::StatusOr<Uuid> state =
      db_->SetTaskRunState(Id(3, 1), StateType::kRunning, "Running", kT0 + 5'000'000);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(db_->Commit().ok());
  const Micros after = wall();

  const Micros updated = ParseMicros(reader->One("SELECT " + TimeSql("updated") + where));
  EXPECT_GE(updated, inserted);
  if (pg()) {
    EXPECT_GE(updated, began - 1'000'000);  // same machine; allow clock jitter
    EXPECT_LT(updated, before_change - 100'000);
  } else {
    EXPECT_GE(updated, before_change - 1'000);  // milliseconds
    EXPECT_LE(updated, after + 1'000);
    EXPECT_EQ(updated % 1000, 0);
  }
  std::vector<Row> rows =
      reader->Query("SELECT state_id, state_type, state_name, run_count, " + TimeSql("start_time") +
                    ", " + TimeSql("state_timestamp") + ", " + TimeSql("end_time") + where);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], UuidToString(*state));
  EXPECT_EQ(rows[0][1], "RUNNING");
  EXPECT_EQ(rows[0][2], "Running");
  EXPECT_EQ(rows[0][3], "1");
  EXPECT_EQ(ParseMicros(rows[0][4]), kT0 + 5'000'000);
  EXPECT_EQ(ParseMicros(rows[0][5]), kT0 + 5'000'000);
  EXPECT_EQ(rows[0][6], std::nullopt);

  // Entering a terminal state sets end_time, keeps start_time; the new state
  // row is there with the task run's id.
  state = db_->SetTaskRunState(Id(3, 1), StateType::kCompleted, "Completed", kT0 + 9'000'000);
  ASSERT_TRUE(state.ok()) << state.status();
  rows = reader->Query("SELECT run_count, " + TimeSql("start_time") + ", " + TimeSql("end_time") +
                       where);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(ParseMicros(rows[0][1]), kT0 + 5'000'000);
  EXPECT_EQ(ParseMicros(rows[0][2]), kT0 + 9'000'000);
  EXPECT_EQ(reader->One(absl::StrCat("SELECT type FROM task_run_state WHERE id = '",
                                     UuidToString(*state), "'")),
            "COMPLETED");
  EXPECT_EQ(reader->Count("task_run_state"), 2);

  // A plain column update moves `updated` too.
  const Micros renamed_before = wall();
  ASSERT_TRUE(db_->UpdateTaskRunName(Id(3, 1), "renamed").ok());
  EXPECT_GE(ParseMicros(reader->One("SELECT " + TimeSql("updated") + where)),
            renamed_before - 1'000'000);
  EXPECT_EQ(db_->UpdateTaskRunName(Id(3, 99), "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db_->SetTaskRunState(Id(3, 99), StateType::kRunning, "Running", kT0).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(PrefectDbTest, DeletingAFlowRunCascadesToItsTaskRunsAndStates) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  InsertFamily(3);
  ASSERT_TRUE(db_->SetTaskRunState(Id(3, 1), StateType::kPending, "Pending", kT0).ok());
  std::unique_ptr<Reader> reader = NewReader();
  EXPECT_EQ(reader->Count("task_run"), 3);
  EXPECT_EQ(reader->Count("task_run_state"), 1);
  ASSERT_TRUE(db_->Delete(EntityKind::kFlowRun, Id(2, 1)).ok());
  EXPECT_EQ(reader->Count("flow_run"), 0);
  EXPECT_EQ(reader->Count("task_run"), 0);
  EXPECT_EQ(reader->Count("task_run_state"), 0);
  EXPECT_EQ(reader->Count("flow"), 1);
  // Deleting a flow takes its deployments and flow runs along.
  DeploymentRecord d;
  d.id = Id(4, 1);
  d.name = "prod";
  d.flow_id = Id(1, 1);
  ASSERT_TRUE(db_->InsertDeployment(d).ok());
  ASSERT_TRUE(db_->Delete(EntityKind::kFlow, Id(1, 1)).ok());
  EXPECT_EQ(reader->Count("deployment"), 0);
  EXPECT_TRUE(db_->Delete(EntityKind::kFlow, Id(1, 1)).ok());  // already gone: not an error
}

TEST_P(PrefectDbTest, DeletingATaskRunNullsTheSubflowParentAndKeepsItsUpdated) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  InsertFamily(1);
  FlowRunRecord sub;
  sub.id = Id(2, 2);
  sub.flow_id = Id(1, 1);
  sub.name = "subflow";
  sub.parent_task_run_id = Id(3, 1);
  ASSERT_TRUE(db_->InsertFlowRun(sub, kT0 + 123'456).ok());
  std::unique_ptr<Reader> reader = NewReader();
  const std::string sql = absl::StrCat("SELECT parent_task_run_id, ", TimeSql("updated"),
                                       " FROM flow_run WHERE id = '", UuidToString(sub.id), "'");
  std::vector<Row> rows = reader->Query(sql);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], UuidToString(Id(3, 1)));
  EXPECT_EQ(ParseMicros(rows[0][1]), kT0 + 123'456);
  ASSERT_TRUE(db_->Delete(EntityKind::kTaskRun, Id(3, 1)).ok());
  rows = reader->Query(sql);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], std::nullopt);
  EXPECT_EQ(ParseMicros(rows[0][1]), kT0 + 123'456);
  // A dangling parent is refused, as Prefect's FK refuses it.
  sub.id = Id(2, 3);
  sub.parent_task_run_id = Id(3, 77);
  EXPECT_EQ(db_->InsertFlowRun(sub).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(PrefectDbTest, AnOpenTransactionIsInvisibleToAnotherConnection) {
  ASSERT_TRUE(db_->CreateSchema().ok());
  std::unique_ptr<Reader> reader = NewReader();
  ASSERT_TRUE(db_->Begin().ok());
  ASSERT_TRUE(db_->InsertFlow(FlowRecord{.id = Id(1, 2), .name = "a", .tags = {"x"}}).ok());
  InsertFamily(2);  // inside the same transaction
  EXPECT_EQ(reader->Count("flow"), 0);
  EXPECT_EQ(reader->Count("task_run"), 0);
  ASSERT_TRUE(db_->Commit().ok());
  EXPECT_EQ(reader->Count("flow"), 2);
  EXPECT_EQ(reader->Count("task_run"), 2);
  // Rolled back: never visible.
  ASSERT_TRUE(db_->Begin().ok());
  ASSERT_TRUE(db_->Delete(EntityKind::kFlow, Id(1, 1)).ok());
  ASSERT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(reader->Count("flow"), 2);
  EXPECT_EQ(db_->Commit().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PrefectDbJsonTest, PythonJsonWritesJsonDumpsText) {
  EXPECT_EQ(*PythonJson(R"({"a":[1,2.50,{"b":null}],"c":"\u00e9\ud83d\ude00\n","d":{}})"),
            R"({"a": [1, 2.50, {"b": null}], "c": "\u00e9\ud83d\ude00\n", "d": {}})");
  EXPECT_FALSE(PythonJson("{} x").ok());
  EXPECT_EQ(SqliteDatetime(0), "1970-01-01 00:00:00.000000");
  EXPECT_EQ(SqliteDatetime(-1), "1969-12-31 23:59:59.999999");
}

TEST_P(PrefectDbTest, PostgresSurvivesAClusterRestart) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  ASSERT_TRUE(db_->CreateSchema().ok());
  InsertFamily(1);
  db_.reset();
  absl::Status s = cluster_->Restart();
  ASSERT_TRUE(s.ok()) << s;
  db_ = OpenDb();
  ASSERT_NE(db_, nullptr);
  EXPECT_EQ(NewReader()->Count("task_run"), 1);
  EXPECT_TRUE(db_->UpdateTaskRunName(Id(3, 1), "after restart").ok());
}

INSTANTIATE_TEST_SUITE_P(PrefectDb, PrefectDbTest,
                         ::testing::Values(PrefectDbKind::kPostgres, PrefectDbKind::kSqlite),
                         [](const ::testing::TestParamInfo<PrefectDbKind>& param_info) {
                           return KindName(param_info.param);
                         });

}  // namespace
}  // namespace taskdex
