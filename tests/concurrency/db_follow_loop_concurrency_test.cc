// The database follower's thread against the server's readers (run under
// ThreadSanitizer by scripts/test.sh): a DbFollowLoop polls an in-memory
// DbSource that a writer thread changes (task runs renamed, added, deleted)
// and fails now and then, while readers query the engine and read the
// loop's status, metrics and readiness. At the end the engine holds
// exactly the source's task runs.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/taskdex.h"
#include "engine/datetime.h"
#include "engine/db_follow_loop.h"
#include "engine/db_source.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

// Task runs only, each a (name, updated) pair keyed by its id text.
class FakeSource final : public DbSource {
 public:
  std::string_view dialect() const override { return "fake"; }
  const std::string& display_url() const override { return url_; }
  absl::Status Connect() override {
    std::lock_guard lock(mu_);
    if (fail_next_) {
      fail_next_ = false;
      return absl::UnavailableError("fake: connection refused");
    }
    return absl::OkStatus();
  }
  void Disconnect() override {}
  absl::Status BeginRead() override {
    mu_.lock();  // the snapshot: writers wait until EndRead
    return absl::OkStatus();
  }
  absl::Status EndRead() override {
    mu_.unlock();
    return absl::OkStatus();
  }
  absl::Status Read(EntityKind entity, std::optional<Micros> since, std::span<const Uuid> ids,
                    const std::function<absl::Status(DbRow)>& on_row) override {
    if (entity != EntityKind::kTaskRun) return absl::OkStatus();
    std::span<const DbColumn> columns = DbColumns(entity);
    for (const auto& [id, row] : rows_) {
      if (since && row.updated < *since) continue;
      if (!ids.empty()) {
        bool wanted = false;
        for (const Uuid& u : ids) wanted |= UuidToString(u) == id;
        if (!wanted) continue;
      }
      std::string updated = FormatDatetime(row.updated);
      std::vector<std::optional<std::string_view>> values(columns.size());
      for (size_t i = 0; i < columns.size(); ++i) {
        std::string_view key = columns[i].key;
        if (key == "id") values[i] = id;
        if (key == "updated") values[i] = updated;
        if (key == "name") values[i] = row.name;
        if (key == "task_key" || key == "dynamic_key") values[i] = "k";
        if (key == "empirical_policy" || key == "task_inputs") values[i] = "{}";
        if (key == "tags") values[i] = "[]";
        if (key == "run_count" || key == "flow_run_run_count" || key == "total_run_time") {
          values[i] = "0";
        }
      }
      if (absl::Status s = on_row(values); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status ReadIds(EntityKind entity,
                       const std::function<void(const Uuid&)>& on_id) override {
    if (entity != EntityKind::kTaskRun) return absl::OkStatus();
    for (const auto& [id, row] : rows_) on_id(*ParseUuid(id));
    return absl::OkStatus();
  }

  // Writer side.
  void Put(int n, const std::string& name, Micros updated) {
    std::lock_guard lock(mu_);
    rows_[IdOf(n)] = Row{name, updated};
  }
  void Remove(int n) {
    std::lock_guard lock(mu_);
    rows_.erase(IdOf(n));
  }
  void FailNextConnect() {
    std::lock_guard lock(mu_);
    fail_next_ = true;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return rows_.size();
  }
  static std::string IdOf(int n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "a1000000-0000-4000-8000-%012d", n);
    return buf;
  }

 private:
  struct Row {
    std::string name;
    Micros updated;
  };
  std::string url_ = "fake://";
  std::mutex mu_;
  std::map<std::string, Row> rows_;
  bool fail_next_ = false;
};

TEST(DbFollowLoopConcurrencyTest, PollsWhileReadersQueryAndAWriterChangesTheSource) {
  auto owned = std::make_unique<FakeSource>();
  FakeSource* source = owned.get();
  const Micros t0 = 1'700'000'000'000'000;
  for (int n = 0; n < 50; ++n) source->Put(n, "r" + std::to_string(n), t0);
  DbFollowOptions options;
  options.poll_interval_ms = 1;
  options.reconcile_interval_s = 1;
  DbFollowLoop loop(std::move(owned), options, nullptr);
  absl::StatusOr<SnapshotRecords> loaded = loop.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> engine =
      Engine::FromRecords(*std::move(loaded), {.background_merges = true, .expect_writes = true});
  loop.Start([&](const Batch& b) { return engine->Apply(b).status(); });

  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        PaginateQuery q;
        q.limit = 10;
        TaskRunPage page = engine->Paginate(q);
        EXPECT_LE(page.rows.size(), 10u);
        const Micros now = t0 + 10'000'000;
        DbSourceStatus s = loop.Status();
        EXPECT_GE(s.rows_loaded, 50u);
        EXPECT_FALSE(loop.MetricsText(now).empty());
        (void)loop.NotReady(now);
      }
    });
  }
  for (int step = 1; step <= 200; ++step) {
    const Micros t = t0 + step * 1000;
    source->Put(step % 70, "step" + std::to_string(step), t);
    if (step % 17 == 0) source->Remove((step * 7) % 70);
    if (step % 50 == 0) source->FailNextConnect();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  // Removals are found by reconciliation (every second here).
  const uint64_t want = source->size();
  bool caught_up = false;
  for (int i = 0; i < 400 && !caught_up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    caught_up = engine->Stats().task_runs == want && loop.Status().reconciliations >= 2;
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  loop.Stop();
  EXPECT_TRUE(caught_up) << engine->Stats().task_runs << " vs " << want;
  EXPECT_GE(loop.Status().reconnects, 1u);
  EXPECT_GE(loop.Status().errors[static_cast<int>(DbErrorKind::kConnection)], 1u);
}

}  // namespace
}  // namespace taskdex
