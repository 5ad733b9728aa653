// bench/bench_command.cc
//
// `taskdex bench`: parses the options, loads a snapshot (and, with
// --compare-sqlite, an SQLite mirror of it; with --compare-postgres, a
// throwaway PostgreSQL holding it in Prefect's schema), then times the bodies
// of a file
// and/or N random bodies drawn from the loaded data (bench/random_bodies.h),
// each set by bench/query_set_runner.h.

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/progress_printer.h"
#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "bench/commands.h"
#include "bench/pg_cluster.h"
#include "bench/pg_compare.h"
#include "bench/prefect_db.h"
#include "bench/query_set_runner.h"
#include "bench/random_bodies.h"
#include "bench/write_bench.h"
#include "engine/change_file.h"
#include "bench/sqlite_compare.h"

namespace taskdex {
namespace {

constexpr char kBenchHelp[] = R"(Usage:
  taskdex bench --snapshot DIR --bodies FILE [options]
  taskdex bench --snapshot DIR --random N [--seed S] [options]

Loads the snapshot DIR (prints load time, task runs/s, MB/s of NDJSON and the
resident memory after load), then runs every body of FILE through the
/paginate request path (parse, plan, execute, write the JSON answer): one
untimed warm-up, then up to --repeat timed runs or about --max-seconds per
query. Prints per query p50 and p99 (microseconds), the samples and the
answer's `count`, then p50, p99 and max over all samples.

--random N draws N valid random bodies from the loaded data (every filter
field, `operator` at every level, all sorts, limit 1..200, deep pages;
deterministic for the data and --seed) and runs them round-robin as
--interleave does (always); with --bodies too, both sets run and are
reported separately. For the random set
only the overall line and the --slowest bodies (by p50) are printed, each
with its body text and its plan.

By default each query runs --repeat times in a row, so its caches stay warm
(the best case). With --interleave the whole file runs round-robin instead
(query 1, 2, ..., N, 1, 2, ...: one untimed round, then --repeat timed
rounds), so each sample pays the cache misses the other queries left behind,
as a server under a mixed load does; the table is the same.

FILE holds one body per line: a plain request body, or a named line
{"name": "...", "body": {...}} (an object with exactly those two keys; the
body may also be a JSON string holding the body text).

Options:
  --snapshot DIR      Snapshot directory (task_runs.ndjson, ...). Required.
  --bodies FILE       Bodies file, one per line.
  --random N          N random bodies (--bodies or --random is required).
  --seed S            Seed of the random bodies (default 1).
  --write-random FILE Also write the --random bodies to FILE, one
                      {"name":..,"body":..} line each (as --bodies and
                      `taskdex query --bodies` read them).
  --slowest K         How many of the slowest random bodies to print
                      (default 10; 0: the per-query table instead).
  --repeat N          Timed runs per query, at most (default 200).
  --max-seconds S     Stop a query's runs after S seconds of samples
                      (default 1.0; with --interleave, stop the rounds
                      after S seconds times the number of queries).
  --interleave        Run the queries round-robin, --repeat rounds (see
                      above).
  --explain           After the timings, run the queries --repeat more times
                      (round-robin with --interleave) with a plan trace and
                      print each query's plan steps (access path, estimated
                      and actual rows) with their median microseconds.
  --stage S           What is timed: `full` (default: parse, plan,
                      execute, write the answer) or `execute` (plan and
                      execute only: match, count and cut the page of the
                      body parsed beforehand; bodies that do not parse
                      are timed in full).
  --json              Print JSON lines instead of the table.
  --compare-sqlite    Also load the data into in-memory SQLite with Prefect's
                      schema and indexes. Each query is checked once,
                      untimed, with SQL that gives the exact answer (same
                      ids in order, same count; a mismatch is printed with
                      the body and both answers, and the exit code is 1),
                      and timed (same --repeat/--max-seconds) with the
                      statements Prefect itself sends on SQLite (its ORDER
                      BY, EXISTS joins, LIKE, json_each, count). Prints per
                      query the ratio SQLite p50 / taskdex p50, and over
                      queries median_query_ratio and min_query_ratio.
  --compare-postgres  Also start a throwaway PostgreSQL 15 server configured
                      for benchmarks (durable commits, 256 MB shared_buffers;
                      bench/pg_cluster.h), write the data into Prefect's own
                      schema and indexes (bench/prefect_db.h, COPY), run
                      VACUUM ANALYZE, and time (same --repeat/--max-seconds/
                      --interleave) the statements Prefect's server sends to
                      PostgreSQL for each body: the page (Prefect's WHERE,
                      EXISTS joins, ORDER BY, LIMIT/OFFSET), the selectin load
                      of the page's states and the count, prepared once as
                      asyncpg does (bench/pg_compare.h says what is left
                      out). Prints per query postgres p50/p99/max and the
                      ratio postgres p50 / taskdex p50, and overall the
                      pooled p50 ratio and the median/min over queries.
                      Answers that differ from taskdex's (ties and NULLs
                      under Prefect's ORDER BY) are counted, not failed.
                      Prefect's foreign keys forbid some rows of a snapshot
                      (orphans, dangling flow ids, repeated unique keys):
                      they are dropped or repaired (MakeRepresentable), and
                      taskdex (and SQLite) then load the same repaired
                      records, so both sides answer over the same data.
  --writes RATE       Instead of the tables above: the live store under
                      writes (bench/write_bench.h). Generated Prefect
                      activity (state changes of task runs in flight, new
                      task runs) in batches; phases of --write-seconds each:
                      the --bodies mix alone; Apply at full speed
                      (upserts/s); the mix while a writer applies RATE
                      upserts/s (read p50/p99 and their ratio to the mix
                      alone, achieved write rate, visibility lag); the mix
                      on the store the writes left, and its memory against
                      the same rows merged into one segment.
  --checkpoint DIR    With --writes RATE: instead of its phases, a
                      checkpoint (binary snapshot, engine/binary_snapshot.h)
                      into DIR after --write-seconds of writes and reads,
                      timed, with the reads and applies that overlapped it
                      against those before (bench/write_bench.h).
  --changes FILE      Before the tables: apply the change file FILE
                      (engine/change_file.h) in batches of --write-batch
                      lines, then run the merge policy until it wants no
                      more merges, and print the segments and tombstones
                      left: the tables then time a store built by
                      segments and merges, as a live cache has it.
  --write-batch N     Upserts per Apply with --writes, lines per batch with
                      --changes (default 1000).
  --write-seconds S   Length of each --writes phase (default 10).
  --now T             The clock for computed fields (RFC 3339), default: now.
  --load-threads N    Loader threads: parse, then build (0: all cores,
                      default). --threads N is the same.
  --build-threads N   Threads of the build phase alone (default: as
                      --load-threads); 1 is the sequential build of the
                      loader before session 13, for same-run comparisons.
  --prefault, --no-prefault
                      A binary --snapshot: read every page before decoding,
                      or (the default) as the sections are checked.
  --quiet             No load progress on stderr (shown only on a terminal).
  -h, --help          Show this help.

Exit codes: 0 ok, 1 a mismatch or a failed SQLite query, 2 usage or load error.
)";

int Usage(const std::string& message) {
  std::fprintf(stderr, "taskdex bench: %s\nRun `taskdex bench --help` for usage.\n",
               message.c_str());
  return 2;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Options {
  std::string snapshot;
  std::string bodies;
  int repeat = 200;
  double max_seconds = 1.0;
  bool json = false;
  bool compare_sqlite = false;
  bool compare_postgres = false;
  bool interleave = false;
  bool execute_only = false;
  bool explain = false;
  std::optional<std::string> now;
  int threads = 0;
  int build_threads = 0;
  bool prefault = false;
  bool quiet = false;
  int random = 0;  // --random N
  uint64_t seed = 1;
  int slowest = 10;
  double writes = 0;  // --writes RATE (0: no write benchmark)
  double write_batch = 1000;
  double write_seconds = 10;
  std::string checkpoint;  // --checkpoint DIR
  std::string write_random;  // --write-random FILE
  std::string changes;  // --changes FILE
};

// --changes: applies FILE in batches of `batch` lines, then merges by the
// policy until it wants none (what a live store settles to when writes
// stop). False (after printing why) on a bad file or a rejected batch.
bool ApplyChangeFile(Engine& engine, const std::string& path, size_t batch, bool json) {
  auto reader = ChangeFileReader::Open(path, batch);
  if (!reader.ok()) {
    std::fprintf(stderr, "taskdex bench: cannot read %s: %s\n", path.c_str(),
                 std::string(reader.status().message()).c_str());
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t changes = 0;
  Batch b;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&b);
    if (!more.ok()) {
      std::fprintf(stderr, "taskdex bench: %s:%s\n", path.c_str(),
                   std::string(more.status().message()).c_str());
      return false;
    }
    if (!*more) break;
    if (absl::StatusOr<ApplyResult> r = engine.Apply(b); !r.ok()) {
      std::fprintf(stderr, "taskdex bench: %s: batch ending at line %llu: %s\n", path.c_str(),
                   static_cast<unsigned long long>((*reader)->lines_read()),
                   std::string(r.status().message()).c_str());
      return false;
    }
    changes += b.changes.size();
    while (engine.MergeOnce()) {
    }
  }
  const double seconds = SecondsSince(start);
  const LiveStats s = engine.Stats();
  const char* format =
      json ? "{\"event\":\"changes\",\"changes\":%llu,\"seconds\":%.3f,\"segments\":%llu,"
             "\"tombstones\":%llu,\"task_runs\":%llu}\n"
           : "changes: %llu applied in %.3f s with merges; %llu segments, %llu tombstones, "
             "%llu task runs\n";
  std::printf(format, static_cast<unsigned long long>(changes), seconds,
              static_cast<unsigned long long>(s.segments),
              static_cast<unsigned long long>(s.tombstones),
              static_cast<unsigned long long>(s.task_runs));
  std::fflush(stdout);
  return true;
}

}  // namespace

int RunBench(int argc, char** argv) {
  Options opt;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    auto number = [&](double lo, double hi, double* out) {
      auto v = value();
      if (!v) return false;
      char* end = nullptr;
      const double d = std::strtod(v->c_str(), &end);
      if (end == v->c_str() || *end != '\0' || !(d >= lo && d <= hi)) return false;
      *out = d;
      return true;
    };
    double d = 0;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kBenchHelp, stdout);
      return 0;
    } else if (arg == "--snapshot") {
      auto v = value();
      if (!v) return Usage("--snapshot needs a directory");
      opt.snapshot = *v;
    } else if (arg == "--bodies") {
      auto v = value();
      if (!v) return Usage("--bodies needs a file");
      opt.bodies = *v;
    } else if (arg == "--repeat") {
      if (!number(1, 1e9, &d)) return Usage("--repeat needs a number >= 1");
      opt.repeat = static_cast<int>(d);
    } else if (arg == "--max-seconds") {
      if (!number(0, 1e6, &d)) return Usage("--max-seconds needs a number of seconds");
      opt.max_seconds = d;
    } else if (arg == "--json") {
      opt.json = true;
    } else if (arg == "--quiet") {
      opt.quiet = true;
    } else if (arg == "--interleave") {
      opt.interleave = true;
    } else if (arg == "--explain") {
      opt.explain = true;
    } else if (arg == "--stage") {
      auto v = value();
      if (!v || (*v != "full" && *v != "execute")) {
        return Usage("--stage needs `full` or `execute`");
      }
      opt.execute_only = *v == "execute";
    } else if (arg == "--random") {
      if (!number(1, 1e7, &d)) return Usage("--random needs a number of bodies >= 1");
      opt.random = static_cast<int>(d);
    } else if (arg == "--seed") {
      if (!number(0, 9007199254740992.0, &d)) return Usage("--seed needs a number >= 0");
      opt.seed = static_cast<uint64_t>(d);
    } else if (arg == "--slowest") {
      if (!number(0, 1e6, &d)) return Usage("--slowest needs a number >= 0");
      opt.slowest = static_cast<int>(d);
    } else if (arg == "--writes") {
      if (!number(1, 1e9, &d)) return Usage("--writes needs a rate of upserts/s >= 1");
      opt.writes = d;
    } else if (arg == "--write-random") {
      auto v = value();
      if (!v) return Usage("--write-random needs a file");
      opt.write_random = *v;
    } else if (arg == "--checkpoint") {
      auto v = value();
      if (!v) return Usage("--checkpoint needs a directory");
      opt.checkpoint = *v;
    } else if (arg == "--changes") {
      auto v = value();
      if (!v) return Usage("--changes needs a change file");
      opt.changes = *v;
    } else if (arg == "--write-batch") {
      if (!number(1, 1e7, &d)) return Usage("--write-batch needs a number >= 1");
      opt.write_batch = d;
    } else if (arg == "--write-seconds") {
      if (!number(0.01, 1e6, &d)) return Usage("--write-seconds needs a number of seconds");
      opt.write_seconds = d;
    } else if (arg == "--compare-sqlite") {
      opt.compare_sqlite = true;
    } else if (arg == "--compare-postgres") {
      opt.compare_postgres = true;
    } else if (arg == "--now") {
      opt.now = value();
      if (!opt.now) return Usage("--now needs a time, e.g. 2026-11-28T12:00:00Z");
    } else if (arg == "--threads" || arg == "--load-threads") {
      if (!number(0, 1024, &d)) return Usage("--load-threads needs a number 0..1024");
      opt.threads = static_cast<int>(d);
    } else if (arg == "--prefault" || arg == "--no-prefault") {
      opt.prefault = arg == "--prefault";
    } else if (arg == "--build-threads") {
      if (!number(0, 1024, &d)) return Usage("--build-threads needs a number 0..1024");
      opt.build_threads = static_cast<int>(d);
    } else {
      return Usage(absl::StrCat("unknown option \"", std::string(arg), "\""));
    }
  }
  if (opt.snapshot.empty()) return Usage("--snapshot DIR is required");
  if (opt.bodies.empty() && opt.random == 0) {
    return Usage("--bodies FILE or --random N is required");
  }
  if ((!opt.changes.empty() || opt.writes > 0) && opt.compare_postgres) {
    return Usage("--compare-postgres cannot be combined with --changes or --writes "
                 "(PostgreSQL holds the snapshot's rows, not the changed ones)");
  }
  if (!opt.changes.empty() && (opt.compare_sqlite || opt.writes > 0)) {
    return Usage("--changes cannot be combined with --compare-sqlite (SQLite holds the "
                 "snapshot's rows, not the changed ones) or --writes");
  }
  Micros now = NowMicros();
  if (opt.now) {
    auto parsed = ParseInstant(*opt.now);
    if (!parsed.ok()) return Usage(absl::StrCat("--now: ", parsed.status().message()));
    now = *parsed;
  }
  std::vector<BenchBody> bodies;
  if (!opt.bodies.empty()) {
    std::ifstream in(opt.bodies, std::ios::binary);
    if (!in) return Usage(absl::StrCat("cannot read ", opt.bodies));
    const std::string bodies_text((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    bodies = ParseBodiesFile(bodies_text);
  }

  // --- load ---
  LoadOptions load_options;
  load_options.threads = opt.threads;
  load_options.build_threads = opt.build_threads;
  load_options.prefault = opt.prefault;
  load_options.huge_pages = HugePagesFromEnvironment();
  ProgressPrinter progress("taskdex bench", opt.quiet, ProgressPrinter::WhenNotTerminal::kSilent);
  load_options.progress = progress.Callback();
  const auto load_start = std::chrono::steady_clock::now();
  auto engine = Engine::Open(opt.snapshot, load_options, {.background_merges = opt.writes > 0,
                                                         .expect_writes = opt.writes > 0 ||
                                                                          !opt.changes.empty()});
  progress.Finish();
  load_options.progress = nullptr;  // the records read again below are not shown
  const double load_seconds = SecondsSince(load_start);
  if (!engine.ok()) {
    std::fprintf(stderr, "taskdex bench: cannot load %s: %s\n", opt.snapshot.c_str(),
                 std::string(engine.status().message()).c_str());
    return 2;
  }
  const LoadReport& report = (*engine)->load_report();
  const double rss_mb = static_cast<double>(ResidentBytes()) / 1e6;
  const double mb = static_cast<double>(report.bytes) / 1e6;
  if (opt.json) {
    std::printf(
        "{\"event\":\"load\",\"task_runs\":%llu,\"flow_runs\":%llu,\"seconds\":%.3f,"
        "\"task_runs_per_s\":%.0f,\"ndjson_mb\":%.1f,\"mb_per_s\":%.1f,\"rss_mb\":%.1f}\n",
        static_cast<unsigned long long>(report.task_runs),
        static_cast<unsigned long long>(report.flow_runs), load_seconds,
        report.task_runs / load_seconds, mb, mb / load_seconds, rss_mb);
  } else {
    std::printf(
        "load: %llu task runs, %llu flow runs, %.1f MB of %s in %.3f s: %.0f task runs/s, "
        "%.1f MB/s; RSS after load %.1f MB\n",
        static_cast<unsigned long long>(report.task_runs),
        static_cast<unsigned long long>(report.flow_runs), mb, std::string(report.format).c_str(),
        load_seconds,
        report.task_runs / load_seconds, mb / load_seconds, rss_mb);
  }

  // --compare-postgres: the records as Prefect's constraints let them into
  // its database; taskdex (and SQLite) are rebuilt from the same records.
  std::optional<SnapshotRecords> representable;
  std::unique_ptr<PgCluster> pg_cluster;
  std::unique_ptr<PgCompare> pg;
  if (opt.compare_postgres) {
    const auto start = std::chrono::steady_clock::now();
    auto records = ReadSnapshotRecords(opt.snapshot, load_options, nullptr);
    if (!records.ok()) {
      std::fprintf(stderr, "taskdex bench: cannot read %s: %s\n", opt.snapshot.c_str(),
                   std::string(records.status().message()).c_str());
      return 2;
    }
    const size_t task_runs = records->task_runs.size(), flow_runs = records->flow_runs.size();
    representable = MakeRepresentable(*std::move(records));
    engine->reset();
    *engine = Engine::FromRecords(*representable, {.background_merges = false,
                                                    .expect_writes = false});
    const char* format =
        opt.json ? "{\"event\":\"representable\",\"task_runs\":%zu,\"of_task_runs\":%zu,"
                   "\"flow_runs\":%zu,\"of_flow_runs\":%zu,\"seconds\":%.3f}\n"
                 : "postgres: Prefect's constraints keep %zu of %zu task runs and %zu of %zu flow "
                   "runs (MakeRepresentable); taskdex reloaded from these same records in %.3f s, "
                   "so both sides answer over the same data\n";
    std::printf(format, representable->task_runs.size(), task_runs,
                representable->flow_runs.size(), flow_runs, SecondsSince(start));
    std::fflush(stdout);

    const auto pg_start = std::chrono::steady_clock::now();
    auto cluster = PgCluster::Start(PgClusterOptions{.logical = false, .benchmark = true});
    if (!cluster.ok()) {
      std::fprintf(stderr, "taskdex bench: cannot start PostgreSQL: %s\n",
                   std::string(cluster.status().message()).c_str());
      return 2;
    }
    pg_cluster = *std::move(cluster);
    auto db = PrefectDb::Open(pg_cluster->url());
    absl::Status s = db.ok() ? (*db)->CreateSchema() : db.status();
    const auto insert_start = std::chrono::steady_clock::now();
    if (s.ok()) {
      s = (*db)->InsertAll(*representable, [](uint64_t rows) {
        std::fprintf(stderr, "\rpostgres: %llu rows written",
                     static_cast<unsigned long long>(rows));
      });
      std::fprintf(stderr, "\n");
    }
    const double insert_seconds = SecondsSince(insert_start);
    absl::StatusOr<std::unique_ptr<PgCompare>> connected =
        s.ok() ? PgCompare::Connect(pg_cluster->url())
               : absl::StatusOr<std::unique_ptr<PgCompare>>(s);
    const auto vacuum_start = std::chrono::steady_clock::now();
    if (connected.ok()) s = (*connected)->Exec("VACUUM ANALYZE");
    if (!connected.ok() || !s.ok()) {
      std::fprintf(stderr, "taskdex bench: cannot load PostgreSQL: %s\n",
                   std::string((connected.ok() ? s : connected.status()).message()).c_str());
      return 2;
    }
    pg = *std::move(connected);
    const double vacuum_seconds = SecondsSince(vacuum_start);
    const char* pg_format =
        opt.json ? "{\"event\":\"postgres_load\",\"task_runs\":%zu,\"seconds\":%.3f,"
                   "\"insert_seconds\":%.3f,\"vacuum_analyze_seconds\":%.3f}\n"
                 : "postgres: %zu task runs in Prefect's schema (COPY) in %.3f s (%.3f s writing, "
                   "%.3f s VACUUM ANALYZE)\n";
    std::printf(pg_format, representable->task_runs.size(), SecondsSince(pg_start), insert_seconds,
                vacuum_seconds);
  }

  std::unique_ptr<SqliteMirror> mirror;
  if (opt.compare_sqlite) {
    const auto start = std::chrono::steady_clock::now();
    auto records = representable ? absl::StatusOr<SnapshotRecords>(*representable)
                                 : ReadSnapshotRecords(opt.snapshot, load_options, nullptr);
    if (!records.ok()) {
      std::fprintf(stderr, "taskdex bench: cannot read %s: %s\n", opt.snapshot.c_str(),
                   std::string(records.status().message()).c_str());
      return 2;
    }
    const double read_seconds = SecondsSince(start);
    auto created = SqliteMirror::Create(*records);
    if (!created.ok()) {
      std::fprintf(stderr, "taskdex bench: cannot build SQLite: %s\n",
                   std::string(created.status().message()).c_str());
      return 2;
    }
    mirror = std::move(*created);
    const double total = SecondsSince(start);
    if (opt.json) {
      std::printf("{\"event\":\"sqlite_load\",\"task_runs\":%llu,\"seconds\":%.3f,"
                  "\"read_seconds\":%.3f}\n",
                  static_cast<unsigned long long>(mirror->task_run_rows()), total, read_seconds);
    } else {
      std::printf("sqlite: %llu task runs loaded + indexed in %.3f s (%.3f s of it reading)\n",
                  static_cast<unsigned long long>(mirror->task_run_rows()), total,
                  read_seconds);
    }
  }
  std::fflush(stdout);

  if (opt.writes > 0) {
    if (bodies.empty()) return Usage("--writes needs --bodies FILE (the mix to read)");
    WriteBenchOptions w;
    w.rate = opt.writes;
    w.batch = static_cast<size_t>(opt.write_batch);
    w.seconds = opt.write_seconds;
    w.seed = opt.seed;
    w.now = now;
    w.json = opt.json;
    if (!opt.checkpoint.empty()) return RunCheckpointBench(**engine, bodies, w, opt.checkpoint) ? 0 : 1;
    return RunWriteBench(**engine, bodies, w) ? 0 : 1;
  }

  if (!opt.changes.empty() && !ApplyChangeFile(**engine, opt.changes,
                                                static_cast<size_t>(opt.write_batch), opt.json)) {
    return 2;
  }

  // --- queries ---
  QuerySetOptions set_options;
  set_options.repeat = opt.repeat;
  set_options.max_seconds = opt.max_seconds;
  set_options.json = opt.json;
  set_options.interleave = opt.interleave;
  set_options.execute_only = opt.execute_only;
  set_options.explain = opt.explain;
  set_options.now = now;
  set_options.postgres = pg.get();
  bool ok = true;
  if (!opt.bodies.empty()) {
    set_options.set = "bodies";
    ok &= RunQuerySet(**engine, mirror.get(), bodies, set_options);
  }
  if (opt.random > 0) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<BenchBody> random =
        RandomBodies(*(*engine)->Pin()->segments.at(0).store).Generate(opt.seed, opt.random);
    if (!opt.json) {
      std::printf("random: %d bodies, seed %llu, drawn in %.3f s\n", opt.random,
                  static_cast<unsigned long long>(opt.seed), SecondsSince(start));
    }
    if (!opt.write_random.empty()) {
      std::FILE* f = std::fopen(opt.write_random.c_str(), "w");
      if (f == nullptr) {
        std::fprintf(stderr, "taskdex bench: cannot write %s: %s\n", opt.write_random.c_str(),
                     std::strerror(errno));
        return 2;
      }
      for (const BenchBody& b : random) {
        std::fprintf(f, "{\"name\":%s,\"body\":%s}\n", JsonQuote(b.name).c_str(),
                     JsonQuote(b.body).c_str());
      }
      std::fclose(f);
    }
    // Always round-robin: a random body must not find its own postings warm.
    set_options.set = "random";
    set_options.slowest = opt.slowest;
    set_options.interleave = true;
    ok &= RunQuerySet(**engine, mirror.get(), random, set_options);
  }
  return ok ? 0 : 1;
}

}  // namespace taskdex
