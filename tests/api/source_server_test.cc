// tests/api/source_server_test.cc: the HTTP server following a database
// (ServerOptions::source): /readyz while loading, ready and stale;
// taskdex_source_* in /metrics; a write in the database answered over HTTP.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "bench/prefect_db.h"
#include "engine/db_follow_loop.h"
#include "engine/db_source.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "engine/uuid.h"
#include "tests/testing/random_data.h"
#include "tests/testing/sqlite_prefect.h"

namespace taskdex {
namespace {

TEST(SourceServerTest, ReadinessMetricsAndWritesFollowTheDatabase) {
  SqlitePrefect db;
  ASSERT_TRUE(db.Create());
  const std::string& url = db.url;
  const SnapshotRecords& data = db.data;
  PrefectDb* writer = db.writer.get();

  DbFollowOptions follow;
  follow.poll_interval_ms = 20;
  follow.max_staleness_s = 1;
  DbFollowLoop loop(*OpenDbSource(url), follow, nullptr);
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.log = nullptr;
  options.source = &loop;
  HttpServer server(options);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(5, 0);

  httplib::Result loading = client.Get("/readyz");
  ASSERT_TRUE(loading);
  EXPECT_EQ(loading->status, 503);
  EXPECT_NE(loading->body.find("loading from the database"), std::string::npos) << loading->body;

  absl::StatusOr<SnapshotRecords> loaded = loop.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine =
      Engine::FromRecords(*std::move(loaded), {.background_merges = false, .expect_writes = true});
  Engine* raw = engine.get();
  server.SetEngine(std::move(engine));
  loop.Start([raw](const Batch& b) { return raw->Apply(b).status(); });

  auto wait_for = [](auto&& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  EXPECT_TRUE(wait_for([&] {
    httplib::Result r = client.Get("/readyz");
    return r && r->status == 200;
  }));
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name : {"taskdex_source_staleness_seconds", "taskdex_source_polls_total",
                           "taskdex_source_errors_total{kind=\"connection\"}",
                           "taskdex_source_rows_total{kind=\"upserted\"}",
                           "taskdex_source_reconnects_total"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }

  // A state change in the database shows in the HTTP answer.
  const std::string body = R"({"task_runs":{"state":{"type":{"any_":["CRASHED"]}}}})";
  auto crashed = [&] {
    httplib::Result r = client.Post("/api/task_runs/count", body, "application/json");
    return r ? r->body : std::string("error");
  };
  const std::string before = crashed();
  ASSERT_TRUE(writer->SetTaskRunState(data.task_runs[0].id, StateType::kCrashed, "Crashed",
                                      1'800'000'000'000'000)
                  .ok());
  EXPECT_TRUE(wait_for([&] { return crashed() != before; })) << before;

  // The follower stops: staleness passes --max-staleness and /readyz says so.
  loop.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  httplib::Result stale = client.Get("/readyz");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 503);
  EXPECT_NE(stale->body.find("max-staleness"), std::string::npos) << stale->body;
  server.Stop();
}

// --fresh-reads: a state change forwarded to "Prefect" (a fake upstream
// that writes the database) is seen by the same client's next read, though
// the follower polls only every 400 ms.
TEST(SourceServerTest, FreshReadsWaitForTheClientsWrite) {
  SqlitePrefect db;
  ASSERT_TRUE(db.Create());
  const std::string& url = db.url;
  const SnapshotRecords& data = db.data;
  PrefectDb* writer = db.writer.get();

  // Prefect's server, reduced to the one write: set a task run's state.
  httplib::Server prefect;
  std::mutex db_mu;
  prefect.Post(R"(/api/task_runs/([0-9a-f-]+)/set_state)",
               [&](const httplib::Request& req, httplib::Response& res) {
                 std::lock_guard lock(db_mu);
                 std::optional<Uuid> id = ParseUuid(req.matches[1].str());
                 bool ok = id && writer->SetTaskRunState(*id, StateType::kCrashed, "Crashed",
                                                         1'800'000'000'000'000)
                                     .ok();
                 res.status = ok ? 201 : 500;
                 res.set_content(R"({"status":"ACCEPT"})", "application/json");
               });
  const int upstream_port = prefect.bind_to_any_port("127.0.0.1");
  std::thread upstream([&] { prefect.listen_after_bind(); });

  DbFollowOptions follow;
  follow.poll_interval_ms = 400;
  DbFollowLoop loop(*OpenDbSource(url), follow, nullptr);
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.log = nullptr;
  options.source = &loop;
  options.upstream = "http://127.0.0.1:" + std::to_string(upstream_port);
  options.fresh_reads = true;
  options.fresh_reads_timeout_ms = 3000;
  HttpServer server(options);
  ASSERT_TRUE(server.Start().ok());
  absl::StatusOr<SnapshotRecords> loaded = loop.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine =
      Engine::FromRecords(*std::move(loaded), {.background_merges = false, .expect_writes = true});
  Engine* raw = engine.get();
  server.SetEngine(std::move(engine));
  loop.Start([raw](const Batch& b) { return raw->Apply(b).status(); });

  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(10, 0);
  const std::string body = R"({"task_runs":{"state":{"type":{"any_":["CRASHED"]}}}})";
  httplib::Result before = client.Post("/api/task_runs/count", body, "application/json");
  ASSERT_TRUE(before);
  std::vector<Uuid> targets;  // not CRASHED yet: each write adds one
  for (const TaskRunRecord& t : data.task_runs) {
    if (t.state_type != StateType::kCrashed && targets.size() < 3) targets.push_back(t.id);
  }
  ASSERT_FALSE(targets.empty());
  int64_t count = std::stoll(before->body);
  for (const Uuid& target : targets) {
    httplib::Result w =
        client.Post(("/api/task_runs/" + UuidToString(target) + "/set_state").c_str(),
                    R"({"state":{"type":"CRASHED"}})", "application/json");
    ASSERT_TRUE(w);
    ASSERT_EQ(w->status, 201) << w->body;
    httplib::Result after = client.Post("/api/task_runs/count", body, "application/json");
    ASSERT_TRUE(after);
    EXPECT_EQ(std::stoll(after->body), ++count) << "a stale read after the write";
  }
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("taskdex_fresh_read_timeouts_total 0"), std::string::npos);
  loop.Stop();
  server.Stop();
  prefect.stop();
  upstream.join();
}

}  // namespace
}  // namespace taskdex
