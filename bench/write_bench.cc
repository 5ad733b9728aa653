#include "bench/write_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/change_stream.h"
#include "engine/store_rows.h"

namespace taskdex {
namespace {

using Clock = std::chrono::steady_clock;

double MicrosBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The records a ChangeStream starts from: the task runs in flight (not in
// a terminal state) and every flow run, read from the loaded store.
SnapshotRecords InFlight(const Version& v) {
  SnapshotRecords r;
  for (const SegmentView& s : v.segments) {
    const Store& store = *s.store;
    for (RowId row = 0; row < store.task_runs.size(); ++row) {
      const uint8_t type = store.task_runs.state_type[row];
      if (s.dead->contains(row)) continue;
      if (type != kNullStateType && IsTerminal(static_cast<StateType>(type))) continue;
      r.task_runs.push_back(ReadTaskRunRecord(store, row));
    }
    for (RowId row = 0; row < store.flow_runs.size(); ++row) {
      r.flow_runs.push_back(ReadFlowRunRecord(store, row));
    }
  }
  return r;
}

struct Latencies {
  std::vector<double> micros;
  std::vector<size_t> body;  // the body of each sample
  double p50() const { return Percentile(micros, 0.5); }
  double p99() const { return Percentile(micros, 0.99); }
  double max() const { return micros.empty() ? 0 : *std::max_element(micros.begin(), micros.end()); }
};

// The mix round-robin on this thread until `stop` or `seconds`.
Latencies RunReads(const Engine& engine, const std::vector<BenchBody>& bodies, Micros now,
                   double seconds, const std::atomic<bool>* stop) {
  Latencies out;
  if (bodies.empty()) return out;
  const Clock::time_point start = Clock::now();
  for (size_t i = 0;; ++i) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    const Clock::time_point t0 = Clock::now();
    if (MicrosBetween(start, t0) > seconds * 1e6) break;
    Response r = engine.PaginateJson(bodies[i % bodies.size()].body, now);
    out.micros.push_back(MicrosBetween(t0, Clock::now()));
    out.body.push_back(i % bodies.size());
    if (r.status != 200) {
      std::fprintf(stderr, "taskdex bench --writes: %s answered %d\n",
                   bodies[i % bodies.size()].name.c_str(), r.status);
    }
  }
  return out;
}

// The `k` bodies with the slowest single reads.
void PrintSlowest(const char* phase, const Latencies& l, const std::vector<BenchBody>& bodies,
                  size_t k, bool json) {
  std::vector<double> worst(bodies.size(), 0);
  for (size_t i = 0; i < l.micros.size(); ++i) {
    worst[l.body[i]] = std::max(worst[l.body[i]], l.micros[i]);
  }
  std::vector<size_t> order(bodies.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return worst[a] > worst[b]; });
  for (size_t i = 0; i < std::min(k, order.size()); ++i) {
    const BenchBody& b = bodies[order[i]];
    if (json) {
      std::printf("{\"event\":\"writes_slowest\",\"phase\":\"%s\",\"name\":%s,\"max_us\":%.1f}\n",
                  phase, JsonQuote(b.name).c_str(), worst[order[i]]);
    } else {
      std::printf("  slowest in %s: %-40s max %9.1f us\n", phase, b.name.c_str(),
                  worst[order[i]]);
    }
  }
}

void PrintReads(const char* phase, const Latencies& l, bool json) {
  if (json) {
    std::printf(
        "{\"event\":\"writes\",\"phase\":\"%s\",\"reads\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
        "\"max_us\":%.1f}\n",
        phase, l.micros.size(), l.p50(), l.p99(), l.max());
  } else {
    std::printf("%-22s %8zu reads  p50 %8.1f us  p99 %9.1f us  max %9.1f us\n", phase,
                l.micros.size(), l.p50(), l.p99(), l.max());
  }
}

}  // namespace

bool RunWriteBench(Engine& engine, const std::vector<BenchBody>& bodies,
                   const WriteBenchOptions& options) {
  ChangeStreamOptions stream_options;
  stream_options.seed = options.seed;
  stream_options.now = options.now;
  ChangeStream stream(InFlight(*engine.Pin()), stream_options);
  bool ok = true;

  // 1. Reads alone on the loaded store.
  const Latencies fresh = RunReads(engine, bodies, options.now, options.seconds, nullptr);
  PrintReads("reads_as_loaded", fresh, options.json);

  // 2. Apply at full speed.
  {
    Latencies apply;
    uint64_t upserts = 0;
    const Clock::time_point start = Clock::now();
    while (MicrosBetween(start, Clock::now()) < options.seconds * 1e6) {
      const Batch b = stream.NextBatch(options.batch);
      const Clock::time_point t0 = Clock::now();
      absl::StatusOr<ApplyResult> r = engine.Apply(b);
      apply.micros.push_back(MicrosBetween(t0, Clock::now()));
      if (!r.ok()) {
        std::fprintf(stderr, "taskdex bench --writes: %s\n",
                     std::string(r.status().message()).c_str());
        return false;
      }
      upserts += b.changes.size();
    }
    const double secs = MicrosBetween(start, Clock::now()) / 1e6;
    const LiveStats s = engine.Stats();
    if (options.json) {
      std::printf(
          "{\"event\":\"writes\",\"phase\":\"apply_max\",\"upserts\":%llu,\"seconds\":%.3f,"
          "\"upserts_per_s\":%.0f,\"batch\":%zu,\"apply_p50_us\":%.1f,\"apply_p99_us\":%.1f,"
          "\"apply_max_us\":%.1f,\"segments\":%llu,\"merges\":%llu}\n",
          static_cast<unsigned long long>(upserts), secs, upserts / secs, options.batch,
          apply.p50(), apply.p99(), apply.max(), static_cast<unsigned long long>(s.segments),
          static_cast<unsigned long long>(s.merges));
    } else {
      std::printf(
          "apply_max              %8llu upserts in %.2f s: %.0f upserts/s (batches of %zu); "
          "apply p50 %.1f us p99 %.1f us max %.1f us; %llu segments, %llu merges\n",
          static_cast<unsigned long long>(upserts), secs, upserts / secs, options.batch,
          apply.p50(), apply.p99(), apply.max(), static_cast<unsigned long long>(s.segments),
          static_cast<unsigned long long>(s.merges));
    }
  }

  // 2b. Let the merges the full-speed phase queued run (as they would
  // before a steady load), so phase 3 measures a steady 'rate', not the
  // backlog of phase 2 (which left 47-238 segments at 1M).
  {
    const Clock::time_point start = Clock::now();
    const uint64_t segments_before = engine.Stats().segments;
    while (engine.MergeOnce()) {
    }
    const LiveStats s = engine.Stats();
    const double secs = MicrosBetween(start, Clock::now()) / 1e6;
    const char* format =
        options.json ? "{\"event\":\"writes\",\"phase\":\"settle\",\"segments_before\":%llu,"
                       "\"segments\":%llu,\"seconds\":%.3f}\n"
                     : "settle                 merges after apply_max: %llu -> %llu segments "
                       "in %.2f s\n";
    std::printf(format, static_cast<unsigned long long>(segments_before),
                static_cast<unsigned long long>(s.segments), secs);
  }

  // 3. Reads while a writer applies `rate` upserts/s.
  {
    std::atomic<bool> stop{false};
    std::mutex mu;  // guards returned_at
    std::vector<std::pair<uint64_t, Clock::time_point>> returned_at;  // version, Apply returned
    std::vector<std::pair<uint64_t, Clock::time_point>> seen_at;      // version, first seen
    uint64_t written = 0;
    std::thread writer([&] {
      const Clock::time_point start = Clock::now();
      while (!stop.load()) {
        // Paced: batch k is due at start + k * batch / rate.
        const double due_us = static_cast<double>(written) / options.rate * 1e6;
        const double at_us = MicrosBetween(start, Clock::now());
        if (at_us < due_us) {
          std::this_thread::sleep_for(std::chrono::microseconds(
              static_cast<int64_t>(std::min(due_us - at_us, 2000.0))));
          continue;
        }
        const Batch b = stream.NextBatch(options.batch);
        absl::StatusOr<ApplyResult> r = engine.Apply(b);
        const Clock::time_point done = Clock::now();
        if (!r.ok()) {
          ok = false;
          break;
        }
        written += b.changes.size();
        std::lock_guard<std::mutex> lock(mu);
        returned_at.emplace_back(r->version, done);
      }
    });
    std::thread probe([&] {
      uint64_t last = engine.Pin()->number;
      while (!stop.load()) {
        const uint64_t v = engine.Pin()->number;
        if (v != last) {
          seen_at.emplace_back(v, Clock::now());
          last = v;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
    const Clock::time_point start = Clock::now();
    const Latencies loaded = RunReads(engine, bodies, options.now, options.seconds, nullptr);
    stop = true;
    writer.join();
    probe.join();
    const double secs = MicrosBetween(start, Clock::now()) / 1e6;
    // Lag: first seen minus Apply returned, per version the probe saw
    // (merges publish versions too; those have no Apply and are skipped).
    Latencies lag;
    for (const auto& [v, seen] : seen_at) {
      for (const auto& [rv, ret] : returned_at) {
        if (rv == v) lag.micros.push_back(std::max(0.0, MicrosBetween(ret, seen)));
      }
    }
    PrintReads("reads_while_writing", loaded, options.json);
    PrintSlowest("reads_while_writing", loaded, bodies, 5, options.json);
    const double ratio = fresh.p99() > 0 ? loaded.p99() / fresh.p99() : 0;
    const unsigned long long segments = engine.Stats().segments;
    if (options.json) {
      std::printf(
          "{\"event\":\"writes\",\"phase\":\"with_writes\",\"target_rate\":%.0f,"
          "\"achieved_rate\":%.0f,\"read_p99_ratio\":%.2f,\"visibility_lag_p50_us\":%.1f,"
          "\"visibility_lag_p99_us\":%.1f,\"versions_seen\":%zu,\"segments\":%llu}\n",
          options.rate, written / secs, ratio, lag.p50(), lag.p99(), lag.micros.size(), segments);
    } else {
      std::printf(
          "with_writes            target %.0f upserts/s, achieved %.0f/s; read p99 %.2fx of "
          "reads_as_loaded; visibility lag p50 %.1f us p99 %.1f us (%zu versions, probe "
          "polls every 50 us); %llu segments at the end\n",
          options.rate, written / secs, ratio, lag.p50(), lag.p99(), lag.micros.size(), segments);
    }
  }

  // 4. Reads on the store the writes left, then memory against one merge.
  const LiveStats before = engine.Stats();
  const Latencies after = RunReads(engine, bodies, options.now, options.seconds, nullptr);
  PrintReads("reads_after_writes", after, options.json);
  PrintSlowest("reads_after_writes", after, bodies, 5, options.json);
  const Clock::time_point merge_start = Clock::now();
  engine.MergeAll();
  const double merge_seconds = MicrosBetween(merge_start, Clock::now()) / 1e6;
  const LiveStats merged = engine.Stats();
  const double p50_ratio = fresh.p50() > 0 ? after.p50() / fresh.p50() : 0;
  const double p99_ratio = fresh.p99() > 0 ? after.p99() / fresh.p99() : 0;
  const double mem_ratio =
      merged.memory_bytes > 0 ? static_cast<double>(before.memory_bytes) / merged.memory_bytes : 0;
  if (options.json) {
    std::printf(
        "{\"event\":\"writes\",\"phase\":\"after\",\"segments\":%llu,\"tombstones\":%llu,"
        "\"read_p50_ratio\":%.2f,\"read_p99_ratio\":%.2f,\"memory_mb\":%.1f,"
        "\"merged_memory_mb\":%.1f,\"memory_ratio\":%.2f,\"merge_all_seconds\":%.3f}\n",
        static_cast<unsigned long long>(before.segments),
        static_cast<unsigned long long>(before.tombstones), p50_ratio, p99_ratio,
        before.memory_bytes / 1e6, merged.memory_bytes / 1e6, mem_ratio, merge_seconds);
  } else {
    std::printf(
        "after                  %llu segments, %llu tombstones: read p50 %.2fx, p99 %.2fx of "
        "reads_as_loaded; memory %.1f MB vs %.1f MB merged into one (%.2fx); MergeAll %.3f s\n",
        static_cast<unsigned long long>(before.segments),
        static_cast<unsigned long long>(before.tombstones), p50_ratio, p99_ratio,
        before.memory_bytes / 1e6, merged.memory_bytes / 1e6, mem_ratio, merge_seconds);
  }
  return ok;
}

namespace {

// One timed operation: when it started and how long it took.
struct TimedOp {
  Clock::time_point start;
  double micros;
};

// Stats of the operations that overlap [from, to).
Latencies Overlapping(const std::vector<TimedOp>& ops, Clock::time_point from,
                      Clock::time_point to) {
  Latencies out;
  for (const TimedOp& op : ops) {
    const Clock::time_point end =
        op.start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double, std::micro>(op.micros));
    if (end >= from && op.start < to) out.micros.push_back(op.micros);
  }
  return out;
}

}  // namespace

bool RunCheckpointBench(Engine& engine, const std::vector<BenchBody>& bodies,
                        const WriteBenchOptions& options, const std::string& dir) {
  ChangeStreamOptions stream_options;
  stream_options.seed = options.seed;
  stream_options.now = options.now;
  ChangeStream stream(InFlight(*engine.Pin()), stream_options);
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<TimedOp> applies, reads;  // each written by one thread
  std::thread writer([&] {
    const Clock::time_point start = Clock::now();
    uint64_t written = 0;
    while (!stop.load()) {
      const double due_us = static_cast<double>(written) / options.rate * 1e6;
      const double at_us = MicrosBetween(start, Clock::now());
      if (at_us < due_us) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<int64_t>(std::min(due_us - at_us, 2000.0))));
        continue;
      }
      const Batch b = stream.NextBatch(options.batch);
      const Clock::time_point t0 = Clock::now();
      if (!engine.Apply(b).ok()) {
        failed = true;
        break;
      }
      applies.push_back({t0, MicrosBetween(t0, Clock::now())});
      written += b.changes.size();
    }
  });
  std::thread reader([&] {
    for (size_t i = 0; !stop.load() && !bodies.empty(); ++i) {
      const Clock::time_point t0 = Clock::now();
      engine.PaginateJson(bodies[i % bodies.size()].body, options.now);
      reads.push_back({t0, MicrosBetween(t0, Clock::now())});
    }
  });
  // A baseline window without a checkpoint, then a checkpoint; twice: the
  // first writes every segment, the second reuses the unchanged ones
  // (SegmentFileCache) and writes the new segments and the dims file.
  SegmentFileCache cache;
  SaveOptions save_options;
  save_options.cache = &cache;
  struct Window {
    Clock::time_point base_from, from, to;
    absl::StatusOr<SaveReport> saved;
  };
  std::vector<Window> windows;
  for (int round = 0; round < 2 && !failed; ++round) {
    Window w{Clock::now(), {}, {}, absl::UnknownError("not run")};
    std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
    w.from = Clock::now();
    w.saved = engine.Save(dir, save_options);
    w.to = Clock::now();
    windows.push_back(std::move(w));
    if (!windows.back().saved.ok()) break;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  writer.join();
  reader.join();
  for (size_t i = 0; i < windows.size(); ++i) {
    const Window& w = windows[i];
    if (!w.saved.ok() || failed) {
      std::fprintf(stderr, "taskdex bench --checkpoint: %s\n",
                   w.saved.ok() ? "an Apply failed"
                                : std::string(w.saved.status().message()).c_str());
      return false;
    }
    const Latencies base_reads = Overlapping(reads, w.base_from, w.from);
    const Latencies base_applies = Overlapping(applies, w.base_from, w.from);
    const Latencies ckpt_reads = Overlapping(reads, w.from, w.to);
    const Latencies ckpt_applies = Overlapping(applies, w.from, w.to);
    const double seconds = MicrosBetween(w.from, w.to) / 1e6;
    const char* which = i == 0 ? "first" : "next";
    if (options.json) {
      std::printf(
          "{\"event\":\"checkpoint\",\"which\":\"%s\",\"seconds\":%.3f,\"bytes\":%llu,"
          "\"reused_bytes\":%llu,\"segments\":%llu,\"rate\":%.0f,\"reads_before_p50_us\":%.1f,"
          "\"reads_before_max_us\":%.1f,\"reads_during_p50_us\":%.1f,"
          "\"reads_during_max_us\":%.1f,\"applies_before_max_us\":%.1f,\"applies_during\":%zu,"
          "\"applies_during_max_us\":%.1f}\n",
          which, seconds, static_cast<unsigned long long>(w.saved->bytes),
          static_cast<unsigned long long>(w.saved->reused_bytes),
          static_cast<unsigned long long>(w.saved->segments), options.rate, base_reads.p50(),
          base_reads.max(), ckpt_reads.p50(), ckpt_reads.max(), base_applies.max(),
          ckpt_applies.micros.size(), ckpt_applies.max());
      continue;
    }
    std::printf(
        "checkpoint (%s)  %.3f s: %.1f MB written, %.1f MB reused, %llu segments; while %.0f "
        "upserts/s applied (batches of %zu) and a reader ran the mix\n",
        which, seconds, w.saved->bytes / 1e6, w.saved->reused_bytes / 1e6,
        static_cast<unsigned long long>(w.saved->segments), options.rate, options.batch);
    std::printf(
        "  reads   before: %6zu  p50 %8.1f us  p99 %9.1f us  max %9.1f us\n"
        "  reads   during: %6zu  p50 %8.1f us  p99 %9.1f us  max %9.1f us\n",
        base_reads.micros.size(), base_reads.p50(), base_reads.p99(), base_reads.max(),
        ckpt_reads.micros.size(), ckpt_reads.p50(), ckpt_reads.p99(), ckpt_reads.max());
    std::printf(
        "  applies before: %6zu  p50 %8.1f us  p99 %9.1f us  max %9.1f us\n"
        "  applies during: %6zu  p50 %8.1f us  p99 %9.1f us  max %9.1f us\n",
        base_applies.micros.size(), base_applies.p50(), base_applies.p99(), base_applies.max(),
        ckpt_applies.micros.size(), ckpt_applies.p50(), ckpt_applies.p99(), ckpt_applies.max());
  }
  return true;
}

}  // namespace taskdex
