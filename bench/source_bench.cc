// bench/source_bench.cc: `taskdex bench-source`, the database source's
// targets (issue 12) measured on a throwaway PostgreSQL 15 configured as a
// production server would be (bench/pg_cluster.h, benchmark mode):
//
//  1. Initial load: the follower's full load (DbFollower::Load: COPY of the
//     four tables, rows parsed into records) against the same COPY
//     statements drained by libpq and thrown away, in the same run,
//     alternating, medians of --load-repeats each; the engine build after
//     the load is reported apart.
//  2. Staleness, polling and then logical decoding: writer threads commit
//     --rate task-run state changes a second (Prefect's transaction:
//     insert a task_run_state row, update the task_run), each with a unique
//     state timestamp; the follower's apply callback notes when each one
//     became visible (its batch published). Staleness = visible - commit,
//     p50/p99/max over every change; a change never seen is reported.

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "bench/commands.h"
#include "bench/pg_cluster.h"
#include "bench/prefect_db.h"
#include "engine/db_follow_loop.h"
#include "engine/db_follower.h"
#include "engine/db_source.h"
#include "engine/snapshot_loader.h"

namespace taskdex {
namespace {

constexpr char kHelp[] = R"(Usage:
  taskdex bench-source --snapshot DIR [options]

Measures the database source against PostgreSQL 15 (a throwaway server the
command starts and removes; fsync and synchronous_commit on): the snapshot
DIR is written into Prefect's schema, then

  load       the follower's initial load vs the COPY of the same rows
             alone (PostgreSQL's own time), alternating, medians;
  polling    staleness (commit -> visible) of --rate task-run state
             changes a second for --seconds, polling every 250 ms;
  decoding   the same through a logical replication slot.

Options:
  --snapshot DIR      Data to load (e.g. from `taskdex generate`).
  --rate N            State changes committed per second (default 1000).
  --seconds N         How long the writers run per mode (default 20).
  --writers N         Writer connections (default 4).
  --load-repeats N    Loads and COPYs timed each (default 3).
  --skip-load         Only the staleness runs.
  --skip-staleness    Only the load runs: nothing is written into the
                      database (with --url, one that already holds data is
                      read only).
  --url URL           Use this PostgreSQL database instead of starting one;
                      the snapshot is written into it only when it holds no
                      task runs (its schema created if missing). For logical
                      decoding it needs wal_level = logical.
  -h, --help          Show this help.
)";

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// The four COPY statements drained and dropped: PostgreSQL's time to
// produce and send the rows the load reads.
absl::StatusOr<uint64_t> CopyAll(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string m = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(m);
  }
  PQclear(PQexec(conn, "SET TimeZone = 'UTC'"));
  PQclear(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  uint64_t rows = 0;
  for (EntityKind e : {EntityKind::kFlow, EntityKind::kDeployment, EntityKind::kFlowRun,
                       EntityKind::kTaskRun}) {
    PGresult* res = PQexec(conn, PostgresCopyStatement(e).c_str());
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
      std::string m = PQresultErrorMessage(res);
      PQclear(res);
      PQfinish(conn);
      return absl::InternalError(m);
    }
    PQclear(res);
    char* data = nullptr;
    while (PQgetCopyData(conn, &data, 0) > 0) {
      ++rows;
      PQfreemem(data);
    }
    while ((res = PQgetResult(conn)) != nullptr) PQclear(res);
  }
  PQclear(PQexec(conn, "COMMIT"));
  PQfinish(conn);
  return rows;
}

struct StalenessResult {
  uint64_t committed = 0;
  uint64_t seen = 0;
  std::vector<double> ms;  // per change seen
  bool streaming = false;
  DbSourceStatus status;
};

// Writers commit state changes while a DbFollowLoop follows; the apply
// callback marks each change visible.
absl::StatusOr<StalenessResult> MeasureStaleness(const std::string& url,
                                                 const SnapshotRecords& records,
                                                 const std::string& slot, int rate, int seconds,
                                                 int writers) {
  absl::StatusOr<std::unique_ptr<DbSource>> source = OpenDbSource(url);
  if (!source.ok()) return source.status();
  DbFollowOptions options;
  options.slot = slot;
  options.drop_slot = true;  // at Stop, after its stream is closed
  DbFollowLoop loop(*std::move(source), options, stderr);
  absl::StatusOr<SnapshotRecords> loaded = loop.Load();
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded),
                                                       {.background_merges = true,
                                                        .expect_writes = true});
  // Change i carries state timestamp kBase + i.
  // Distinct per run and mode: Prefect's unique (task_run_id, timestamp)
  // index refuses a state timestamp a task run already has (a rerun on the
  // same database, --url).
  const Micros kBase = 4'000'000'000'000'000 + (std::time(nullptr) % 100'000) * 100'000'000 +
                       (slot.empty() ? 0 : 50'000'000);
  const uint64_t total = static_cast<uint64_t>(rate) * seconds;
  std::vector<std::atomic<int64_t>> committed(total), visible(total);
  for (uint64_t i = 0; i < total; ++i) committed[i] = visible[i] = -1;
  const Clock::time_point t0 = Clock::now();
  auto since_t0 = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  };
  loop.Start([&](const Batch& batch) -> absl::Status {
    absl::Status s = engine->Apply(batch).status();
    if (!s.ok()) return s;
    int64_t now = since_t0();
    for (const Change& c : batch.changes) {
      const auto* t = std::get_if<TaskRunRecord>(&c.row);
      if (t == nullptr || !t->state_timestamp) continue;
      int64_t i = *t->state_timestamp - kBase;
      if (i >= 0 && static_cast<uint64_t>(i) < total) {
        int64_t expected = -1;
        visible[i].compare_exchange_strong(expected, now);
      }
    }
    return absl::OkStatus();
  });
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      absl::StatusOr<std::unique_ptr<PrefectDb>> db = PrefectDb::Open(url);
      if (!db.ok()) {
        failed = true;
        return;
      }
      while (true) {
        uint64_t i = next.fetch_add(1);
        if (i >= total) return;
        // Paced: change i is due at i / rate seconds.
        auto due = t0 + std::chrono::microseconds(i * 1'000'000 / rate);
        std::this_thread::sleep_until(due);
        const TaskRunRecord& t = records.task_runs[(i * 7919 + w) % records.task_runs.size()];
        StateType type = i % 2 ? StateType::kRunning : StateType::kCompleted;
        if (!(*db)->SetTaskRunState(t.id, type, std::string(StateTypeDefaultName(type)),
                                    kBase + static_cast<Micros>(i))
                 .ok()) {
          failed = true;
          return;
        }
        committed[i] = since_t0();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // let the last ones arrive
  loop.Stop();
  if (failed) return absl::InternalError("a writer failed");
  StalenessResult r;
  r.status = loop.Status();
  r.streaming = r.status.streaming;
  for (uint64_t i = 0; i < total; ++i) {
    if (committed[i] < 0) continue;
    ++r.committed;
    if (visible[i] < 0) continue;
    ++r.seen;
    // A change read by a poll that began before its commit returned is
    // visible "before" it: staleness 0.
    r.ms.push_back(std::max<double>(0, (visible[i] - committed[i]) / 1000.0));
  }
  return r;
}

void PrintStaleness(const char* mode, const StalenessResult& r, int rate) {
  std::printf(
      "%-9s %s: %llu changes committed (%d/s), %llu seen; staleness p50 %.1f ms, p99 %.1f ms, "
      "max %.1f ms; %llu polls, %llu rows read (%llu unchanged)\n",
      mode, r.streaming ? "logical decoding" : "polling every 250 ms",
      static_cast<unsigned long long>(r.committed), rate,
      static_cast<unsigned long long>(r.seen), Percentile(r.ms, 0.5), Percentile(r.ms, 0.99),
      r.ms.empty() ? 0 : *std::max_element(r.ms.begin(), r.ms.end()),
      static_cast<unsigned long long>(r.status.polls),
      static_cast<unsigned long long>(r.status.rows_read),
      static_cast<unsigned long long>(r.status.rows_unchanged));
  std::printf("%-9s mean per poll:", "");
  for (int p = 0; p < kDbPollPhases; ++p) {
    std::printf(" %s %.2f ms", DbPollPhaseName(static_cast<DbPollPhase>(p)),
                r.status.polls ? r.status.phase_seconds[p] * 1000 / r.status.polls : 0.0);
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int RunBenchSource(int argc, char** argv) {
  std::optional<std::string> snapshot, given_url;
  int rate = 1000, seconds = 20, writers = 4, repeats = 3;
  bool skip_load = false, skip_staleness = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (arg == "--skip-load") {
      skip_load = true;
      continue;
    }
    if (arg == "--skip-staleness") {
      skip_staleness = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "taskdex bench-source: %s needs a value (or is unknown)\n", arg.c_str());
      return 1;
    }
    std::string v = argv[++i];
    int* target = arg == "--rate"           ? &rate
                  : arg == "--seconds"      ? &seconds
                  : arg == "--writers"      ? &writers
                  : arg == "--load-repeats" ? &repeats
                                            : nullptr;
    if (arg == "--snapshot") {
      snapshot = v;
    } else if (arg == "--url") {
      given_url = v;
    } else if (target == nullptr || !absl::SimpleAtoi(v, target) || *target < 1) {
      std::fprintf(stderr, "taskdex bench-source: bad option %s %s\n", arg.c_str(), v.c_str());
      return 1;
    }
  }
  if (!snapshot) {
    std::fprintf(stderr, "taskdex bench-source: --snapshot DIR is required\n");
    return 1;
  }
  absl::StatusOr<SnapshotRecords> read = ReadSnapshotRecords(*snapshot, {}, nullptr);
  if (!read.ok()) {
    std::fprintf(stderr, "taskdex bench-source: %s\n", std::string(read.status().message()).c_str());
    return 1;
  }
  SnapshotRecords records = MakeRepresentable(*std::move(read));
  std::unique_ptr<PgCluster> cluster;
  std::string url;
  if (given_url) {
    url = *given_url;
  } else {
    PgClusterOptions cluster_options;
    cluster_options.logical = true;
    cluster_options.benchmark = true;
    absl::StatusOr<std::unique_ptr<PgCluster>> started = PgCluster::Start(cluster_options);
    if (!started.ok()) {
      std::fprintf(stderr, "taskdex bench-source: %s\n",
                   std::string(started.status().message()).c_str());
      return 1;
    }
    cluster = *std::move(started);
    url = cluster->url();
  }
  {
    absl::StatusOr<std::unique_ptr<PrefectDb>> db = PrefectDb::Open(url);
    if (!db.ok()) {
      std::fprintf(stderr, "taskdex bench-source: %s\n", std::string(db.status().message()).c_str());
      return 1;
    }
    // An existing database that holds task runs is used as it is.
    DbFollower probe(*OpenDbSource(url), {});
    bool filled = false;
    if (given_url && probe.source().Connect().ok()) {
      uint64_t n = 0;
      filled = probe.source().ReadIds(EntityKind::kFlow, [&](const Uuid&) { ++n; }).ok() && n > 0;
    }
    if (!filled) {
      if (!(*db)->CreateSchema().ok() && !given_url) {
        std::fprintf(stderr, "taskdex bench-source: cannot create Prefect's schema\n");
        return 1;
      }
      auto start = Clock::now();
      absl::Status s = (*db)->InsertAll(records, [&](uint64_t rows) {
        std::fprintf(stderr, "\rwriting into PostgreSQL: %llu rows",
                     static_cast<unsigned long long>(rows));
      });
      std::fprintf(stderr, "\n");
      if (!s.ok() || !(*db)->Exec("VACUUM ANALYZE").ok()) {
        std::fprintf(stderr, "taskdex bench-source: cannot write the data: %s\n",
                     std::string(s.message()).c_str());
        return 1;
      }
      std::printf("data: written in %.1f s\n", Seconds(start, Clock::now()));
    }
    std::printf("data: %zu task runs, %zu flow runs, %zu flows, %zu deployments\n",
                records.task_runs.size(), records.flow_runs.size(), records.flows.size(),
                records.deployments.size());
  }
  if (!skip_load) {
    std::vector<double> copy_s, load_s, build_s;
    for (int r = 0; r < repeats; ++r) {
      auto a = Clock::now();
      absl::StatusOr<uint64_t> rows = CopyAll(url);
      auto b = Clock::now();
      if (!rows.ok()) {
        std::fprintf(stderr, "COPY failed: %s\n", std::string(rows.status().message()).c_str());
        return 1;
      }
      copy_s.push_back(Seconds(a, b));
      DbFollower follower(*OpenDbSource(url), {});
      absl::StatusOr<SnapshotRecords> loaded = follower.Load();
      auto c = Clock::now();
      if (!loaded.ok()) {
        std::fprintf(stderr, "load failed: %s\n", std::string(loaded.status().message()).c_str());
        return 1;
      }
      load_s.push_back(Seconds(b, c));
      std::unique_ptr<Engine> engine = Engine::FromRecords(*std::move(loaded));
      build_s.push_back(Seconds(c, Clock::now()));
      std::printf("load run %d: COPY alone %.2f s (%llu rows), follower load %.2f s, engine build %.2f s\n",
                  r + 1, copy_s.back(), static_cast<unsigned long long>(*rows), load_s.back(),
                  build_s.back());
      std::fflush(stdout);
    }
    std::printf("load: median COPY alone %.2f s, follower load %.2f s (%.2fx), with the engine "
                "build %.2f s (%.2fx)\n",
                Median(copy_s), Median(load_s), Median(load_s) / Median(copy_s),
                Median(load_s) + Median(build_s),
                (Median(load_s) + Median(build_s)) / Median(copy_s));
  }
  for (const char* slot : {"", "taskdex_bench"}) {
    if (skip_staleness) break;
    absl::StatusOr<StalenessResult> r =
        MeasureStaleness(url, records, slot, rate, seconds, writers);
    if (!r.ok()) {
      std::fprintf(stderr, "staleness run failed: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    PrintStaleness(*slot ? "decoding" : "polling", *r, rate);
  }
  return 0;
}

}  // namespace taskdex
