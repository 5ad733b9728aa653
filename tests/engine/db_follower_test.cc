// tests/engine/db_follower_test.cc: following real Prefect databases
// (engine/db_follower.h, engine/db_follow_loop.h). A throwaway PostgreSQL 15
// (bench/pg_cluster.h) or a SQLite file gets Prefect's schema and is
// written as Prefect writes (bench/prefect_db.h); after each step the
// follower's engine must answer a set of random bodies exactly as an engine
// freshly loaded from the same database, and as the reference evaluator
// over that load's records.

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/taskdex.h"
#include "bench/prefect_db.h"
#include "engine/db_follow_loop.h"
#include "engine/db_follower.h"
#include "engine/db_source.h"
#include "gtest/gtest.h"
#include "bench/pg_cluster.h"
#include "tests/testing/random_data.h"
#include "tests/testing/reference_evaluator.h"
#include "tests/testing/test_seed.h"

namespace taskdex {
namespace {

constexpr int kQueriesPerCheck = 150;

Uuid RandomId(TestRng& rng) {
  Uuid u;
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng.Next();
    std::memcpy(u.bytes.data() + i, &v, 8);
  }
  u.bytes[6] = (u.bytes[6] & 0x0f) | 0x40;
  u.bytes[8] = (u.bytes[8] & 0x3f) | 0x80;
  return u;
}

// A random data set Prefect could hold, with at least a few rows of each kind.
SnapshotRecords SomeRecords(uint64_t seed) {
  for (uint64_t s = seed;; ++s) {
    TestRng rng(s);
    SnapshotRecords r = MakeRepresentable(RandomRecords(rng));
    if (r.task_runs.size() >= 15 && r.flow_runs.size() >= 4 && r.flows.size() >= 2) return r;
  }
}

absl::Status Apply(Engine* engine, const Batch& batch) { return engine->Apply(batch).status(); }

// The database, loaded afresh.
SnapshotRecords FreshLoad(const std::string& url) {
  absl::StatusOr<std::unique_ptr<DbSource>> source = OpenDbSource(url);
  EXPECT_TRUE(source.ok()) << source.status();
  DbFollower follower(*std::move(source), {});
  absl::StatusOr<SnapshotRecords> records = follower.Load();
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *std::move(records) : SnapshotRecords{};
}

// The followed engine answers as a fresh load and as the reference.
void ExpectSameAnswers(const Engine& followed, const std::string& url, uint64_t seed,
                       const std::string& step) {
  SCOPED_TRACE(step);
  SnapshotRecords fresh = FreshLoad(url);
  std::unique_ptr<Engine> fresh_engine = Engine::FromRecords(fresh);
  RefData ref(fresh);
  TestRng rng(seed);
  int failures = 0;
  for (int q = 0; q < kQueriesPerCheck && failures < 3; ++q) {
    PaginateQuery query;
    query.filters = RandomFilterSet(rng, fresh);
    RandomSortAndPage(rng, &query);
    TaskRunPage got = followed.Paginate(query);
    TaskRunPage want = fresh_engine->Paginate(query);
    ReferenceResult ref_want = RefPaginate(ref, query);
    if (got.Ids() != want.Ids() || got.count != want.count || want.Ids() != ref_want.ids ||
        want.count != ref_want.count) {
      ++failures;
      ADD_FAILURE() << "query " << q << ": followed " << got.count << " rows, fresh "
                    << want.count << ", reference " << ref_want.count;
    }
  }
  EXPECT_EQ(followed.Stats().task_runs, fresh.task_runs.size());
}

struct Db {
  std::unique_ptr<PgCluster> cluster;  // PostgreSQL only
  std::string url;
  std::string dir;  // SQLite only
  std::unique_ptr<PrefectDb> writer;
  ~Db() {
    writer.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

std::unique_ptr<Db> MakeDb(bool postgres, bool logical = false) {
  auto db = std::make_unique<Db>();
  if (postgres) {
    absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start({.logical = logical});
    if (!cluster.ok()) {
      ADD_FAILURE() << "PostgreSQL 15 is needed (scripts/install-deps.sh installs it): "
                    << cluster.status();
      return nullptr;
    }
    db->cluster = *std::move(cluster);
    db->url = db->cluster->url();
  } else {
    char tmpl[] = "/tmp/taskdex-sqlite-XXXXXX";
    db->dir = mkdtemp(tmpl);
    db->url = "sqlite://" + db->dir + "/prefect.db";
  }
  absl::StatusOr<std::unique_ptr<PrefectDb>> writer = PrefectDb::Open(db->url);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!writer.ok()) return nullptr;
  db->writer = *std::move(writer);
  EXPECT_TRUE(db->writer->CreateSchema().ok());
  return db;
}

std::unique_ptr<DbFollower> Follower(const std::string& url) {
  absl::StatusOr<std::unique_ptr<DbSource>> source = OpenDbSource(url);
  EXPECT_TRUE(source.ok()) << source.status();
  return std::make_unique<DbFollower>(*std::move(source), DbFollowerOptions{});
}

class DbFollowerTest : public ::testing::TestWithParam<bool> {};  // true: PostgreSQL

// Writes as Prefect does, step by step, and polls after each.
TEST_P(DbFollowerTest, FollowsWritesDeletesAndCascades) {
  const bool postgres = GetParam();
  const uint64_t seed = TestSeed("DbFollowerTest", 20261206);
  SCOPED_TRACE("TASKDEX_TEST_SEED=" + std::to_string(seed));
  std::unique_ptr<Db> db = MakeDb(postgres);
  ASSERT_NE(db, nullptr);
  SnapshotRecords data = SomeRecords(seed);
  ASSERT_TRUE(db->writer->InsertAll(data).ok());

  std::unique_ptr<DbFollower> follower = Follower(db->url);
  absl::StatusOr<SnapshotRecords> loaded = follower->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->task_runs.size(), data.task_runs.size());
  std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded), {.expect_writes = true});
  ExpectSameAnswers(*engine, db->url, seed + 1, "after the load");
  // The load equals the records written (the reference over them).
  {
    TestRng rng(seed + 2);
    RefData ref(data);
    for (int q = 0; q < kQueriesPerCheck; ++q) {
      PaginateQuery query;
      query.filters = RandomFilterSet(rng, data);
      RandomSortAndPage(rng, &query);
      ASSERT_EQ(engine->Paginate(query).Ids(), RefPaginate(ref, query).ids) << "query " << q;
    }
  }
  auto poll = [&](bool reconcile, const std::string& step) {
    DbPollStats stats;
    absl::Status s = follower->Poll(
        reconcile, [&](const Batch& b) { return Apply(engine.get(), b); }, &stats);
    ASSERT_TRUE(s.ok()) << step << ": " << s;
    ExpectSameAnswers(*engine, db->url, seed + 3, step);
  };

  TestRng rng(seed + 4);
  // New task runs under an existing flow run, and a new flow run.
  for (int i = 0; i < 4; ++i) {
    TaskRunRecord t = data.task_runs[i];
    t.id = RandomId(rng);
    t.dynamic_key = "new-" + std::to_string(i);
    t.state_json = "null";
    t.state_id.reset();
    ASSERT_TRUE(db->writer->InsertTaskRun(t).ok());
  }
  FlowRunRecord fr = data.flow_runs[0];
  fr.id = RandomId(rng);
  fr.idempotency_key.reset();
  fr.parent_task_run_id = data.task_runs[1].id;
  ASSERT_TRUE(db->writer->InsertFlowRun(fr).ok());
  poll(false, "after inserts");

  // State changes (updated = the database's now()).
  Micros ts = 1'800'000'000'000'000;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(db->writer
                    ->SetTaskRunState(data.task_runs[i].id,
                                      i % 2 ? StateType::kRunning : StateType::kCompleted,
                                      i % 2 ? "Running" : "Completed", ts + i)
                    .ok());
  }
  ASSERT_TRUE(db->writer->UpdateTaskRunName(data.task_runs[7].id, "renamed").ok());
  poll(false, "after state changes");

  // A transaction that starts before a poll and commits after it: its
  // `updated` (PostgreSQL: the transaction's start) is below the watermark
  // the poll leaves.
  ASSERT_TRUE(db->writer->Begin().ok());
  ASSERT_TRUE(db->writer->SetTaskRunState(data.task_runs[8].id, StateType::kFailed, "Failed", ts + 10)
                  .ok());
  if (postgres) {
    ASSERT_TRUE(db->writer->UpdateTaskRunName(data.task_runs[9].id, "late").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // Another connection commits a newer change meanwhile, so the watermark
    // passes the open transaction's now().
    std::unique_ptr<PrefectDb> other = *PrefectDb::Open(db->url);
    ASSERT_TRUE(other->UpdateTaskRunName(data.task_runs[10].id, "newer").ok());
    poll(false, "with a transaction open");
  }
  ASSERT_TRUE(db->writer->Commit().ok());
  poll(false, "after the late commit");

  // Deletes leave no trace but reconciliation finds them: a task run that
  // is a subflow's parent (SET NULL, which does not move flow_run.updated),
  // a flow run (its task runs cascade), a flow (its deployments and flow
  // runs cascade).
  ASSERT_TRUE(db->writer->Delete(EntityKind::kTaskRun, data.task_runs[1].id).ok());
  poll(true, "after deleting a subflow's parent task run");
  ASSERT_TRUE(db->writer->Delete(EntityKind::kFlowRun, data.flow_runs[1].id).ok());
  poll(true, "after deleting a flow run");
  ASSERT_TRUE(db->writer->Delete(EntityKind::kFlow, data.flows[0].id).ok());
  poll(true, "after deleting a flow");

  // An unchanged database: the poll re-reads the overlap and skips it.
  DbPollStats stats;
  ASSERT_TRUE(follower->Poll(false, [&](const Batch& b) { return Apply(engine.get(), b); }, &stats)
                  .ok());
  EXPECT_EQ(stats.upserts, 0u);
  EXPECT_EQ(stats.unchanged, stats.rows_read);
}

INSTANTIATE_TEST_SUITE_P(Databases, DbFollowerTest, ::testing::Values(true, false),
                         [](const auto& param_info) { return param_info.param ? "PostgreSQL" : "SQLite"; });

TEST(DbFollowerSqliteTest, FollowsAConcurrentWriterProcess) {
  const uint64_t seed = TestSeed("DbFollowerSqliteTest", 20261207);
  std::unique_ptr<Db> db = MakeDb(false);
  ASSERT_NE(db, nullptr);
  SnapshotRecords data = SomeRecords(seed);
  ASSERT_TRUE(db->writer->InsertAll(data).ok());
  db->writer.reset();  // the child process writes

  std::unique_ptr<DbFollower> follower = Follower(db->url);
  absl::StatusOr<SnapshotRecords> loaded = follower->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded), {.expect_writes = true});

  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The writer: state changes and inserts, each its own transaction.
    absl::StatusOr<std::unique_ptr<PrefectDb>> w = PrefectDb::Open(db->url);
    if (!w.ok()) _exit(2);
    TestRng rng(seed);
    for (int i = 0; i < 300; ++i) {
      const TaskRunRecord& t = data.task_runs[i % data.task_runs.size()];
      StateType type = i % 3 == 0 ? StateType::kRunning : StateType::kCompleted;
      if (!(*w)->SetTaskRunState(t.id, type, std::string(StateTypeDefaultName(type)),
                                 1'800'000'000'000'000 + i)
               .ok()) {
        _exit(3);
      }
    }
    _exit(0);
  }
  int polls = 0;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    DbPollStats stats;
    absl::Status s =
        follower->Poll(false, [&](const Batch& b) { return Apply(engine.get(), b); }, &stats);
    // A busy database is retried by the loop; here, too.
    ASSERT_TRUE(s.ok() || s.code() == absl::StatusCode::kUnavailable) << s;
    ++polls;
  }
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  DbPollStats stats;
  ASSERT_TRUE(follower->Poll(true, [&](const Batch& b) { return Apply(engine.get(), b); }, &stats)
                  .ok());
  EXPECT_GT(polls, 0);
  ExpectSameAnswers(*engine, db->url, seed + 1, "after the writer process");
}

// true: the server takes replication connections (the stream); false:
// it has no walsenders (max_wal_senders = 0, as behind a pooler that
// cannot pass replication connections), and the slot is read through SQL
// functions.
class DbDecodingTest : public ::testing::TestWithParam<bool> {};

TEST_P(DbDecodingTest, FollowsWithoutReconciliation) {
  const uint64_t seed = TestSeed("DbDecodingTest", 20261208);
  std::unique_ptr<Db> db = MakeDb(true, /*logical=*/true);
  ASSERT_NE(db, nullptr);
  const bool replication = GetParam();
  if (!replication) {
    std::ofstream(db->cluster->dir() + "/data/postgresql.conf", std::ios::app)
        << "max_wal_senders = 0\n";
    db->writer.reset();
    ASSERT_TRUE(db->cluster->Restart().ok());
    absl::StatusOr<std::unique_ptr<PrefectDb>> writer = PrefectDb::Open(db->url);
    ASSERT_TRUE(writer.ok()) << writer.status();
    db->writer = *std::move(writer);
  }
  SnapshotRecords data = SomeRecords(seed);
  ASSERT_TRUE(db->writer->InsertAll(data).ok());

  std::unique_ptr<DbFollower> follower = Follower(db->url);
  ASSERT_TRUE(follower->UseChangeStream("taskdex_test").ok());
  const std::string note = follower->source().ChangeStreamNote();
  if (replication) {
    EXPECT_EQ(note, "streaming replication");
  } else {
    EXPECT_NE(note.find("SQL functions"), std::string::npos) << note;
    EXPECT_NE(note.find("max_wal_senders"), std::string::npos) << note;
  }
  absl::StatusOr<SnapshotRecords> loaded = follower->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded), {.expect_writes = true});
  // Reads the stream as the loop does, every 20 ms for 1 s: decoding sees
  // WAL once it is flushed, and the test cluster runs with
  // synchronous_commit = off (flushed within wal_writer_delay, 200 ms).
  auto stream = [&](const std::string& step) {
    for (int i = 0; i < 50; ++i) {
      DbPollStats stats;
      absl::Status s =
          follower->StreamOnce([&](const Batch& b) { return Apply(engine.get(), b); }, &stats);
      ASSERT_TRUE(s.ok()) << step << ": " << s;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ExpectSameAnswers(*engine, db->url, seed + 3, step);
  };
  stream("changes made before the load, read again");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(db->writer
                    ->SetTaskRunState(data.task_runs[i].id, StateType::kRunning, "Running",
                                      1'800'000'000'000'000 + i)
                    .ok());
  }
  stream("after state changes");
  // Deletes and their cascades arrive as rows of the stream.
  ASSERT_TRUE(db->writer->Delete(EntityKind::kFlowRun, data.flow_runs[0].id).ok());
  ASSERT_TRUE(db->writer->Delete(EntityKind::kTaskRun, data.task_runs.back().id).ok());
  stream("after deletes, without reconciliation");
  // A restart of the database: the next read fails, the one after resumes
  // from the slot.
  const TaskRunRecord* survivor = nullptr;  // not cascaded by the deletes above
  for (const TaskRunRecord& t : data.task_runs) {
    if (t.flow_run_id != data.flow_runs[0].id && t.id != data.task_runs.back().id) survivor = &t;
  }
  ASSERT_NE(survivor, nullptr);
  ASSERT_TRUE(db->writer->UpdateTaskRunName(survivor->id, "before restart").ok());
  db->writer.reset();
  // The follower keeps reading while the server restarts, as the loop
  // does (a walsender holds a shutdown until its client has answered):
  // reads fail while it is down, then resume from the slot.
  std::atomic<bool> restarted = false;
  absl::Status restart;
  std::thread restarter([&] {
    restart = db->cluster->Restart();
    restarted = true;
  });
  while (!restarted) {
    DbPollStats stats;
    absl::Status s = follower->StreamOnce([&](const Batch& b) { return Apply(engine.get(), b); },
                                          &stats, /*wait_ms=*/20);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  restarter.join();
  ASSERT_TRUE(restart.ok()) << restart;
  DbPollStats stats;
  absl::Status s =
      follower->StreamOnce([&](const Batch& b) { return Apply(engine.get(), b); }, &stats);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
  stream("after the database restarted");
  ASSERT_TRUE(follower->source().DropChangeStream().ok());
}

INSTANTIATE_TEST_SUITE_P(Reads, DbDecodingTest, ::testing::Values(true, false),
                         [](const auto& param_info) { return param_info.param ? "Stream" : "SqlFunctions"; });

TEST(DbFollowerPgTest, LoopServesTheLastGoodVersionWhileTheDatabaseIsDown) {
  const uint64_t seed = TestSeed("DbFollowerPgTest", 20261209);
  std::unique_ptr<Db> db = MakeDb(true);
  ASSERT_NE(db, nullptr);
  SnapshotRecords data = SomeRecords(seed);
  ASSERT_TRUE(db->writer->InsertAll(data).ok());
  db->writer.reset();

  absl::StatusOr<std::unique_ptr<DbSource>> source = OpenDbSource(db->url);
  ASSERT_TRUE(source.ok());
  DbFollowOptions options;
  options.poll_interval_ms = 20;
  options.max_staleness_s = 1;
  DbFollowLoop loop(*std::move(source), options, nullptr);
  absl::StatusOr<SnapshotRecords> loaded = loop.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded), {.expect_writes = true});
  loop.Start([&](const Batch& b) { return Apply(engine.get(), b); });
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto wait_for = [&](auto&& done) {
    for (int i = 0; i < 1000 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return loop.Status().polls > 0; }));
  EXPECT_EQ(loop.NotReady(now()), std::nullopt);

  ASSERT_TRUE(db->cluster->StopServer().ok());
  ASSERT_TRUE(wait_for([&] { return loop.Status().errors[0] > 0; }));  // kConnection
  const uint64_t count = engine->Stats().task_runs;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::optional<std::string> why = loop.NotReady(now());
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("max-staleness"), std::string::npos) << *why;
  EXPECT_EQ(engine->Stats().task_runs, count);  // still serving
  EXPECT_NE(loop.MetricsText(now()).find("taskdex_source_errors_total{kind=\"connection\"}"),
            std::string::npos);

  ASSERT_TRUE(db->cluster->StartServer().ok());
  std::unique_ptr<PrefectDb> writer = *PrefectDb::Open(db->url);
  ASSERT_TRUE(writer->SetTaskRunState(data.task_runs[1].id, StateType::kCrashed, "Crashed",
                                      1'800'000'000'000'000)
                  .ok());
  ASSERT_TRUE(wait_for([&] { return loop.Status().reconnects > 0 && !loop.NotReady(now()); }));
  ASSERT_TRUE(wait_for([&] { return loop.Status().rows_upserted > 0; }));
  loop.Stop();
  ExpectSameAnswers(*engine, db->url, seed + 1, "after the database came back");
}

TEST(DbFollowerPgTest, ADatabaseWithoutPrefectsTablesIsASchemaError) {
  absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  std::unique_ptr<DbFollower> follower = Follower((*cluster)->url());
  absl::StatusOr<SnapshotRecords> loaded = follower->Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
  EXPECT_NE(loaded.status().message().find("Prefect database"), std::string::npos);
  // Nobody listening: Unavailable, naming the database.
  std::unique_ptr<DbFollower> nobody = Follower("postgresql://postgres@127.0.0.1:1/prefect");
  absl::StatusOr<SnapshotRecords> refused = nobody->Load();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

}  // namespace
}  // namespace taskdex
