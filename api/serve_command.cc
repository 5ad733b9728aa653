#include "api/serve_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "api/http_server.h"
#include "api/progress_printer.h"
#include "api/taskdex.h"
#include "engine/db_follow_loop.h"
#include "engine/db_source.h"
#include "engine/snapshot_loader.h"
#include "api/upstream_proxy.h"
#include "api/checkpointer.h"
#include "engine/binary_snapshot.h"

namespace taskdex {
namespace {

constexpr char kServeHelp[] = R"(Usage:
  taskdex serve --snapshot DIR [options]
  taskdex serve --source URL [--snapshot DIR] [options]

Loads the snapshot directory DIR, or Prefect's database at URL, in the
background and serves Prefect's task-run read API over HTTP, answering as
Prefect does:

  POST /api/task_runs/paginate   POST /api/task_runs/filter
  POST /api/task_runs/count      POST /api/task_runs/history
  GET  /api/task_runs/{id}
  GET  /api/health (true)        GET  /api/ready (503 while loading)
  GET  /livez, /readyz           GET  /metrics (Prometheus text format)

Every option can also be set by the environment variable in brackets; a
flag wins over the variable.

Options:
  --snapshot DIR         Snapshot directory [TASKDEX_SNAPSHOT]: NDJSON, or a
                         binary snapshot (`taskdex save`, or a checkpoint).
                         With --source too: start from it, then follow the
                         database; a checkpoint written while following
                         resumes from its recorded position (a catch-up
                         poll with reconciliation, no reload).
  --source URL           Prefect's database, loaded and then followed
                         [TASKDEX_SOURCE]: postgresql://USER[:PASS]@HOST:PORT/DB
                         (libpq; the password may also come from PGPASSWORD
                         or ~/.pgpass) or sqlite:///path/to/prefect.db (read
                         only). Prefect's own URL forms work too
                         (postgresql+asyncpg://, sqlite+aiosqlite:///).
  --poll-interval-ms N   How often the database is polled for changes
                         (default 250) [TASKDEX_POLL_INTERVAL_MS].
  --overlap-s N          Each poll re-reads rows whose `updated` is up to N
                         seconds before the newest seen, for transactions
                         that commit late and clock skew (default 60)
                         [TASKDEX_OVERLAP_S].
  --reconcile-interval-s N
                         How often every id is read to find deleted rows
                         (default 300) [TASKDEX_RECONCILE_INTERVAL_S].
  --max-staleness-s N    /readyz answers 503 when the last successful poll
                         started more than N seconds ago (default 30)
                         [TASKDEX_MAX_STALENESS_S].
  --slot NAME            Follow PostgreSQL by logical decoding through this
                         replication slot (test_decoding; created if missing,
                         resumed if it exists) instead of polling: changes
                         arrive within milliseconds, deletes included, and no
                         reconciliation runs. Needs wal_level = logical and
                         the REPLICATION privilege; without them taskdex warns
                         and polls [TASKDEX_SLOT].
  --decode-interval-ms N How often the slot is read (default 20)
                         [TASKDEX_DECODE_INTERVAL_MS].
  --drop-slot            Drop the slot when the server stops (else it stays,
                         and holds WAL on the database until taskdex returns).
  --host HOST            Address to listen on (default 127.0.0.1, loopback
                         only; use 0.0.0.0 to listen everywhere) [TASKDEX_HOST].
  --port N               TCP port (default 4200, Prefect's; 0: any free
                         port) [TASKDEX_PORT].
  --threads N            Event-loop threads (default 8); each serves its share
                         of the connections and answers their cheap requests
                         itself; idle or slow connections hold no thread
                         [TASKDEX_THREADS].
  --query-threads N      Threads answering the requests that may run long,
                         off the event loops: /api/task_runs/history,
                         /taskdex/v1/apply, and the query routes when the
                         store holds more than --inline-max-task-runs task
                         runs (default 4; 0: all inline) [TASKDEX_QUERY_THREADS].
  --max-queued N         Most requests waiting for or running on those
                         threads; the next gets 503 with Retry-After: 1
                         (default 64) [TASKDEX_MAX_QUEUED].
  --inline-max-task-runs N
                         Up to this many task runs, paginate, filter and
                         count are answered on the event loops (default
                         2000000: at 1M the slowest measured query takes
                         ~4 ms) [TASKDEX_INLINE_MAX_TASK_RUNS].
  --load-threads N       Threads loading the snapshot: parsing, then building
                         the indexes (default: all cores)
                         [TASKDEX_LOAD_THREADS].
  --prefault, --no-prefault
                         A binary --snapshot: read every page of its files
                         before decoding, or (the default) as the sections
                         are checked (a cold read overlaps the decoding).
  --auth-string USER:PASS
                         Require HTTP basic auth with these credentials, as
                         Prefect does; 401 {"exception_message":"Unauthorized"}
                         otherwise, on every /api path and /metrics;
                         GET /api/health and GET /api/ready are exempt
                         [TASKDEX_AUTH_STRING, then PREFECT_SERVER_API_AUTH_STRING].
                         Set to an empty string (flag or variable), auth is
                         still on, as in Prefect: only credentials decoding
                         to "" pass. Unset the variables for no auth.
  --max-body-bytes N     Largest request body; larger ones get 413
                         (default 1048576) [TASKDEX_MAX_BODY_BYTES].
  --max-header-count N   Most header lines in a request; more get 431 and
                         the connection is closed (default 100)
                         [TASKDEX_MAX_HEADER_COUNT].
  --max-header-bytes N   Largest request head (request line and headers);
                         larger get 431 and the connection is closed
                         (default 65536) [TASKDEX_MAX_HEADER_BYTES].
  --read-timeout-s N     Deadline for a whole request head, and again for its
                         whole body, in seconds (not per read: a client
                         trickling bytes is closed at it) (default 5)
                         [TASKDEX_READ_TIMEOUT_S].
  --max-connections N    Open connections; the next one gets 503 and is
                         closed (default 4096) [TASKDEX_MAX_CONNECTIONS].
  --shutdown-timeout N   On SIGTERM, seconds to let requests in flight
                         finish; connections still open then are closed
                         (default 10) [TASKDEX_SHUTDOWN_TIMEOUT].
  --slow-ms N            Log a warning for requests slower than N ms
                         (default 1000) [TASKDEX_SLOW_MS].
  --log-level LEVEL      debug, info (one JSON line per request), warning,
                         error or off (default info) [TASKDEX_LOG_LEVEL].
  --skip-bad-lines       Load the valid lines of a snapshot with bad ones
                         [TASKDEX_SKIP_BAD_LINES=1].
  --enable-writes        Answer POST /taskdex/v1/apply: a change file as the
                         body (NDJSON upserts and deletes, as `taskdex apply
                         --changes` reads), applied as one atomic batch,
                         behind the same auth as the API; its size is bounded
                         by --max-body-bytes. Off by default (403).
  --checkpoint-dir DIR   Answer POST /taskdex/v1/checkpoint (behind the same
                         auth as the API): write a binary snapshot of the
                         current version into DIR (segments, tombstones,
                         the live store's model and, with --source, the
                         follower's position), replacing the one there only
                         once complete [TASKDEX_CHECKPOINT_DIR].
  --checkpoint-every DURATION
                         Also write one every DURATION (90s, 15m, 2h; needs
                         --checkpoint-dir) [TASKDEX_CHECKPOINT_EVERY].
  --upstream URL         Front for Prefect's server at URL (http://HOST[:PORT];
                         https is not supported): every request taskdex does
                         not answer itself is forwarded there and its answer
                         relayed, WebSockets tunnelled; 502/504 in Prefect's
                         shape when it fails [TASKDEX_UPSTREAM].
  --upstream-max-connections N
                         Keep-alive connections to the upstream (default 64)
                         [TASKDEX_UPSTREAM_MAX_CONNECTIONS].
  --upstream-timeout-seconds N
                         Deadline for a forwarded request's answer to start,
                         and for each read of its body (default 60)
                         [TASKDEX_UPSTREAM_TIMEOUT_SECONDS].
  --upstream-max-body-bytes N
                         Largest forwarded request body (default 104857600;
                         --max-body-bytes stays the limit for taskdex's own
                         routes) [TASKDEX_UPSTREAM_MAX_BODY_BYTES].
  --fresh-reads          With --upstream and --source: after a client's
                         write to runs was forwarded to Prefect, that
                         client's next task-run read waits until taskdex has
                         polled the database since (read-your-writes), at
                         most --fresh-reads-timeout-ms [TASKDEX_FRESH_READS=1].
  --fresh-reads-timeout-ms N
                         Longest such wait (default 2000); then the read is
                         answered from what taskdex holds
                         [TASKDEX_FRESH_READS_TIMEOUT_MS].
  -h, --help             Show this help.

SIGTERM or SIGINT stops the server: it stops accepting connections, closes
idle and half-sent ones, answers the requests in flight and exits within
--shutdown-timeout seconds whatever the clients do.

Exit status: 0 after a clean stop; 1 for a bad option, a port that cannot be
bound or a snapshot that cannot be loaded.
)";

int Usage(const std::string& message) {
  std::fprintf(stderr, "taskdex serve: %s\nRun `taskdex serve --help` for usage.\n",
               message.c_str());
  return 1;
}

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// Like Env, but a variable set to the empty string counts as set.
std::optional<std::string> EnvSet(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

bool ParseLogLevel(std::string_view s, LogLevel* out) {
  if (s == "debug") *out = LogLevel::kDebug;
  else if (s == "info") *out = LogLevel::kInfo;
  else if (s == "warning" || s == "warn") *out = LogLevel::kWarning;
  else if (s == "error") *out = LogLevel::kError;
  else if (s == "off") *out = LogLevel::kOff;
  else return false;
  return true;
}

// --source: loads the engine from the database (or from `snapshot`, then
// reconciled with the database), hands it to the server and starts
// following. False (after saying why on stderr) when the load fails for a
// reason retrying will not fix (a schema that is not Prefect's, a bad row).
bool LoadAndFollow(const std::optional<std::string>& snapshot, DbFollowLoop* follower,
                   HttpServer* http, ProgressPrinter* printer, int load_threads, bool prefault,
                   bool skip_bad_lines, bool quiet, Checkpointer* checkpointer) {
  const auto start = std::chrono::steady_clock::now();
  SnapshotRecords records;
  if (snapshot && IsBinarySnapshot(*snapshot)) {
    // A binary snapshot: served as loaded, the follower resumes from the
    // position its manifest records (or, without one, from its newest
    // task run as with an NDJSON snapshot), then reconciles.
    LoadOptions options;
    options.threads = load_threads;
    options.prefault = prefault;
    options.progress = [&](const LoadProgress& p) {
      http->SetLoadProgress(p.bytes_done, p.bytes_total, p.lines_done);
      printer->Update(p);
    };
    absl::StatusOr<std::unique_ptr<Engine>> engine = OpenForResume(*snapshot, follower, options);
    printer->Finish();
    if (!engine.ok()) {
      std::fprintf(stderr, "taskdex serve: cannot resume from snapshot %s: %s\n",
                   snapshot->c_str(), std::string(engine.status().message()).c_str());
      return false;
    }
    Engine* raw = engine->get();
    if (!quiet) {
      std::fprintf(stderr, "%staskdex serve: resuming %s from %s\n",
                   (*engine)->load_report().Summary().c_str(), follower->display_url().c_str(),
                   (*engine)->snapshot_source() != "null" ? "the checkpoint's position"
                                                           : "the snapshot's newest task run");
    }
    http->SetEngine(*std::move(engine));
    if (checkpointer != nullptr) checkpointer->SetEngine(raw);
    follower->Start([raw](const Batch& batch) { return raw->Apply(batch).status(); });
    return true;
  }
  if (snapshot) {
    LoadOptions options;
    options.skip_bad_lines = skip_bad_lines;
    options.threads = load_threads;
    options.progress = [&](const LoadProgress& p) {
      http->SetLoadProgress(p.bytes_done, p.bytes_total, p.lines_done);
      printer->Update(p);
    };
    absl::StatusOr<SnapshotRecords> r = ReadSnapshotRecords(*snapshot, options, nullptr);
    printer->Finish();
    if (!r.ok()) {
      std::fprintf(stderr, "taskdex serve: cannot load snapshot %s: %s\n", snapshot->c_str(),
                   std::string(r.status().message()).c_str());
      return false;
    }
    records = *std::move(r);
    follower->Seed(records);
  } else {
    auto last_line = std::chrono::steady_clock::now();
    absl::StatusOr<SnapshotRecords> r = follower->Load([&](uint64_t rows) {
      http->SetLoadProgress(0, 0, rows);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_line < std::chrono::seconds(2)) return;
      last_line = now;
      if (!quiet) std::fprintf(stderr, "taskdex serve: %llu rows read from the database\n",
                               static_cast<unsigned long long>(rows));
    });
    if (!r.ok()) {
      std::fprintf(stderr, "taskdex serve: cannot load %s: %s\n", follower->display_url().c_str(),
                   std::string(r.status().message()).c_str());
      return false;
    }
    records = *std::move(r);
  }
  const uint64_t rows = records.flows.size() + records.deployments.size() +
                        records.flow_runs.size() + records.task_runs.size();
  std::unique_ptr<Engine> engine =
      Engine::FromRecords(std::move(records), {.background_merges = true, .expect_writes = true});
  Engine* raw = engine.get();
  http->SetLoadProgress(0, 0, rows);
  http->SetEngine(std::move(engine));
  if (checkpointer != nullptr) checkpointer->SetEngine(raw);
  if (!quiet) {
    std::fprintf(stderr, "taskdex serve: loaded %llu rows in %.1f s; following %s\n",
                 static_cast<unsigned long long>(rows),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                 follower->display_url().c_str());
  }
  follower->Start([raw](const Batch& batch) { return raw->Apply(batch).status(); });
  return true;
}

}  // namespace

std::optional<std::string> AuthStringFromEnv() {
  if (auto v = EnvSet("TASKDEX_AUTH_STRING")) return v;
  return EnvSet("PREFECT_SERVER_API_AUTH_STRING");
}

int RunServe(int argc, char** argv) {
  ServerOptions server;
  std::optional<std::string> snapshot = Env("TASKDEX_SNAPSHOT");
  std::optional<std::string> source_url = Env("TASKDEX_SOURCE");
  DbFollowOptions follow;
  int overlap_s = 60;
  int load_threads = 0;
  bool skip_bad_lines = Env("TASKDEX_SKIP_BAD_LINES").value_or("0") == "1";
  bool prefault = false;
  std::optional<std::string> checkpoint_dir = Env("TASKDEX_CHECKPOINT_DIR");
  std::optional<std::string> checkpoint_every = Env("TASKDEX_CHECKPOINT_EVERY");
  std::string error;

  auto set_int = [&](const std::string& name, const std::string& value, auto* out,
                     int64_t min) -> bool {
    int64_t v;
    if (!absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &v) || v < min) {
      error = absl::StrFormat("%s must be an integer >= %d, got \"%s\"", name, min, value);
      return false;
    }
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    return true;
  };

  // Environment first, flags override.
  if (auto v = Env("TASKDEX_HOST")) server.host = *v;
  server.auth_string = AuthStringFromEnv();
  if (auto v = Env("TASKDEX_PORT"); v && !set_int("TASKDEX_PORT", *v, &server.port, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_THREADS"); v && !set_int("TASKDEX_THREADS", *v, &server.threads, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_QUERY_THREADS"); v && !set_int("TASKDEX_QUERY_THREADS", *v, &server.query_threads, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_QUEUED"); v && !set_int("TASKDEX_MAX_QUEUED", *v, &server.max_queued, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_INLINE_MAX_TASK_RUNS"); v && !set_int("TASKDEX_INLINE_MAX_TASK_RUNS", *v, &server.inline_max_task_runs, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_LOAD_THREADS"); v && !set_int("TASKDEX_LOAD_THREADS", *v, &load_threads, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_BODY_BYTES"); v && !set_int("TASKDEX_MAX_BODY_BYTES", *v, &server.max_body_bytes, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_HEADER_COUNT"); v && !set_int("TASKDEX_MAX_HEADER_COUNT", *v, &server.max_header_count, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_HEADER_BYTES"); v && !set_int("TASKDEX_MAX_HEADER_BYTES", *v, &server.max_header_bytes, 64)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_CONNECTIONS"); v && !set_int("TASKDEX_MAX_CONNECTIONS", *v, &server.max_connections, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_SHUTDOWN_TIMEOUT"); v && !set_int("TASKDEX_SHUTDOWN_TIMEOUT", *v, &server.shutdown_timeout_seconds, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_READ_TIMEOUT_S"); v && !set_int("TASKDEX_READ_TIMEOUT_S", *v, &server.read_timeout_seconds, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_SLOW_MS"); v && !set_int("TASKDEX_SLOW_MS", *v, &server.slow_ms, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_POLL_INTERVAL_MS"); v && !set_int("TASKDEX_POLL_INTERVAL_MS", *v, &follow.poll_interval_ms, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_SLOT")) follow.slot = *v;
  if (auto v = Env("TASKDEX_DECODE_INTERVAL_MS"); v && !set_int("TASKDEX_DECODE_INTERVAL_MS", *v, &follow.decode_interval_ms, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_OVERLAP_S"); v && !set_int("TASKDEX_OVERLAP_S", *v, &overlap_s, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_RECONCILE_INTERVAL_S"); v && !set_int("TASKDEX_RECONCILE_INTERVAL_S", *v, &follow.reconcile_interval_s, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_MAX_STALENESS_S"); v && !set_int("TASKDEX_MAX_STALENESS_S", *v, &follow.max_staleness_s, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_UPSTREAM")) server.upstream = *v;
  server.fresh_reads = Env("TASKDEX_FRESH_READS").value_or("0") == "1";
  if (auto v = Env("TASKDEX_FRESH_READS_TIMEOUT_MS"); v && !set_int("TASKDEX_FRESH_READS_TIMEOUT_MS", *v, &server.fresh_reads_timeout_ms, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_UPSTREAM_MAX_CONNECTIONS"); v && !set_int("TASKDEX_UPSTREAM_MAX_CONNECTIONS", *v, &server.upstream_max_connections, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_UPSTREAM_TIMEOUT_SECONDS"); v && !set_int("TASKDEX_UPSTREAM_TIMEOUT_SECONDS", *v, &server.upstream_timeout_seconds, 1)) return Usage(error);
  if (auto v = Env("TASKDEX_UPSTREAM_MAX_BODY_BYTES"); v && !set_int("TASKDEX_UPSTREAM_MAX_BODY_BYTES", *v, &server.upstream_max_body_bytes, 0)) return Usage(error);
  if (auto v = Env("TASKDEX_LOG_LEVEL"); v && !ParseLogLevel(*v, &server.log_level)) {
    return Usage("TASKDEX_LOG_LEVEL must be debug, info, warning, error or off");
  }

  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kServeHelp, stdout);
      return 0;
    }
    if (arg == "--skip-bad-lines") {
      skip_bad_lines = true;
      continue;
    }
    if (arg == "--prefault" || arg == "--no-prefault") {
      prefault = arg == "--prefault";
      continue;
    }
    if (arg == "--fresh-reads") {
      server.fresh_reads = true;
      continue;
    }
    if (arg == "--drop-slot") {
      follow.drop_slot = true;
      continue;
    }
    if (arg == "--enable-writes") {
      server.enable_writes = true;
      continue;
    }
    static constexpr std::string_view kValueOptions[] = {
        "--snapshot", "--host",     "--auth-string",    "--port",    "--threads",
        "--load-threads", "--max-body-bytes", "--query-threads", "--max-queued",
        "--inline-max-task-runs",
        "--max-header-count", "--max-header-bytes", "--max-connections",
        "--shutdown-timeout", "--read-timeout-s", "--slow-ms", "--log-level",
        "--source", "--poll-interval-ms", "--overlap-s", "--reconcile-interval-s",
        "--max-staleness-s", "--slot", "--decode-interval-ms",
        "--upstream", "--upstream-max-connections", "--upstream-timeout-seconds",
        "--upstream-max-body-bytes", "--fresh-reads-timeout-ms", "--checkpoint-dir",
        "--checkpoint-every"};
    if (std::find(std::begin(kValueOptions), std::end(kValueOptions), arg) ==
        std::end(kValueOptions)) {
      return Usage("unknown option " + arg);
    }
    std::optional<std::string> v = value();
    if (!v) return Usage(arg + " needs a value");
    bool ok = true;
    if (arg == "--snapshot") snapshot = *v;
    else if (arg == "--source") source_url = *v;
    else if (arg == "--slot") follow.slot = *v;
    else if (arg == "--decode-interval-ms") ok = set_int(arg, *v, &follow.decode_interval_ms, 1);
    else if (arg == "--poll-interval-ms") ok = set_int(arg, *v, &follow.poll_interval_ms, 1);
    else if (arg == "--overlap-s") ok = set_int(arg, *v, &overlap_s, 0);
    else if (arg == "--reconcile-interval-s") ok = set_int(arg, *v, &follow.reconcile_interval_s, 1);
    else if (arg == "--max-staleness-s") ok = set_int(arg, *v, &follow.max_staleness_s, 1);
    else if (arg == "--host") server.host = *v;
    else if (arg == "--auth-string") server.auth_string = *v;
    else if (arg == "--port") ok = set_int(arg, *v, &server.port, 0);
    else if (arg == "--threads") ok = set_int(arg, *v, &server.threads, 1);
    else if (arg == "--load-threads") ok = set_int(arg, *v, &load_threads, 0);
    else if (arg == "--query-threads") ok = set_int(arg, *v, &server.query_threads, 0);
    else if (arg == "--max-queued") ok = set_int(arg, *v, &server.max_queued, 1);
    else if (arg == "--inline-max-task-runs") ok = set_int(arg, *v, &server.inline_max_task_runs, 0);
    else if (arg == "--max-body-bytes") ok = set_int(arg, *v, &server.max_body_bytes, 0);
    else if (arg == "--max-header-count") ok = set_int(arg, *v, &server.max_header_count, 1);
    else if (arg == "--max-header-bytes") ok = set_int(arg, *v, &server.max_header_bytes, 64);
    else if (arg == "--max-connections") ok = set_int(arg, *v, &server.max_connections, 1);
    else if (arg == "--shutdown-timeout") ok = set_int(arg, *v, &server.shutdown_timeout_seconds, 0);
    else if (arg == "--read-timeout-s") ok = set_int(arg, *v, &server.read_timeout_seconds, 1);
    else if (arg == "--slow-ms") ok = set_int(arg, *v, &server.slow_ms, 0);
    else if (arg == "--checkpoint-dir") checkpoint_dir = *v;
    else if (arg == "--checkpoint-every") checkpoint_every = *v;
    else if (arg == "--upstream") server.upstream = *v;
    else if (arg == "--upstream-max-connections") ok = set_int(arg, *v, &server.upstream_max_connections, 1);
    else if (arg == "--upstream-timeout-seconds") ok = set_int(arg, *v, &server.upstream_timeout_seconds, 1);
    else if (arg == "--fresh-reads-timeout-ms") ok = set_int(arg, *v, &server.fresh_reads_timeout_ms, 1);
    else if (arg == "--upstream-max-body-bytes") ok = set_int(arg, *v, &server.upstream_max_body_bytes, 0);
    else if (arg == "--log-level") {
      if (!ParseLogLevel(*v, &server.log_level)) {
        return Usage("--log-level must be debug, info, warning, error or off");
      }
    } else {
      return Usage("unknown option " + arg);
    }
    if (!ok) return Usage(error);
  }
  if (!snapshot && !source_url) return Usage("--snapshot DIR or --source URL is required");
  if (server.fresh_reads && (server.upstream.empty() || !source_url)) {
    return Usage("--fresh-reads needs --upstream (the writes it waits for) and --source (the "
                 "database it waits on)");
  }
  std::optional<int64_t> checkpoint_seconds;
  if (checkpoint_every) {
    checkpoint_seconds = ParseDurationSeconds(*checkpoint_every);
    if (!checkpoint_seconds) {
      return Usage("--checkpoint-every must be a duration such as 90s, 15m or 2h, got \"" +
                   *checkpoint_every + "\"");
    }
    if (!checkpoint_dir) return Usage("--checkpoint-every needs --checkpoint-dir DIR");
  }
  follow.follower.overlap_us = int64_t{overlap_s} * 1'000'000;
  std::unique_ptr<DbFollowLoop> follower;
  if (source_url) {
    absl::StatusOr<std::unique_ptr<DbSource>> db = OpenDbSource(*source_url);
    if (!db.ok()) return Usage(std::string(db.status().message()));
    follower = std::make_unique<DbFollowLoop>(*std::move(db), follow, stderr);
    server.source = follower.get();
  }
  if (server.port > 65535) return Usage("--port must be at most 65535");
  if (!server.upstream.empty()) {
    if (absl::StatusOr<UpstreamUrl> u = ParseUpstreamUrl(server.upstream); !u.ok()) {
      return Usage(std::string(u.status().message()));
    }
  }

  // Signals are taken by sigwait below; block them in every thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // the loader failed
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const bool quiet = server.log_level > LogLevel::kInfo;
  std::unique_ptr<Checkpointer> checkpointer;
  if (checkpoint_dir) {
    checkpointer = std::make_unique<Checkpointer>(*checkpoint_dir, follower.get(),
                                                  quiet ? nullptr : stderr);
    server.checkpoint = [c = checkpointer.get()] { return c->CheckpointNow(); };
    if (checkpoint_seconds) checkpointer->StartEvery(*checkpoint_seconds);
  }
  HttpServer http(server);
  if (absl::Status s = http.Start(); !s.ok()) {
    std::fprintf(stderr, "taskdex serve: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // Always, on stdout, whatever the log level: scripts that ask for
  // `--port 0` read the chosen port from this line.
  std::printf("listening on http://%s:%d\n", server.host.c_str(), http.port());
  std::fflush(stdout);
  if (!quiet) {
    std::fprintf(stderr, "taskdex serve: loading %s\n",
                 snapshot ? snapshot->c_str() : follower->display_url().c_str());
  }

  std::atomic<bool> load_failed{false};
  std::atomic<bool> load_done{false};
  ProgressPrinter printer("taskdex serve", quiet,
                          ProgressPrinter::WhenNotTerminal::kLineEvery2s);
  std::thread loader([&] {
    if (follower != nullptr) {
      if (LoadAndFollow(snapshot, follower.get(), &http, &printer, load_threads, prefault,
                        skip_bad_lines, quiet, checkpointer.get())) {
        load_done = true;
        return;
      }
      load_failed = true;
      load_done = true;
      kill(getpid(), SIGUSR1);
      return;
    }
    LoadOptions options;
    options.skip_bad_lines = skip_bad_lines;
    options.threads = load_threads;
    options.prefault = prefault;
    options.huge_pages = HugePagesFromEnvironment();
    options.progress = [&](const LoadProgress& p) {
      http.SetLoadProgress(p.bytes_done, p.bytes_total, p.lines_done);
      printer.Update(p);
    };
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Open(*snapshot, options,
                     {.background_merges = true, .expect_writes = server.enable_writes});
    printer.Finish();
    if (!engine.ok()) {
      std::fprintf(stderr, "taskdex serve: cannot load snapshot %s: %s\n", snapshot->c_str(),
                   std::string(engine.status().message()).c_str());
      load_failed = true;
      load_done = true;
      kill(getpid(), SIGUSR1);
      return;
    }
    if (!quiet) std::fprintf(stderr, "%s", (*engine)->load_report().Summary().c_str());
    const LoadReport& r = (*engine)->load_report();
    http.SetLoadProgress(r.bytes, r.bytes, r.flows + r.deployments + r.flow_runs + r.task_runs);
    Engine* raw = engine->get();
    http.SetEngine(*std::move(engine));
    if (checkpointer != nullptr) checkpointer->SetEngine(raw);
    load_done = true;
    if (!quiet) std::fprintf(stderr, "taskdex serve: ready\n");
  });

  int sig = 0;
  sigwait(&signals, &sig);
  if (!quiet && sig != SIGUSR1) {
    std::fprintf(stderr, "taskdex serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  if (checkpointer != nullptr) checkpointer->Stop();
  if (follower != nullptr) follower->Stop();
  http.Stop();
  if (!load_done) {
    // Stopped while loading: nothing to keep, do not wait for the load.
    std::fflush(stderr);
    _exit(0);
  }
  loader.join();
  return load_failed ? 1 : 0;
}

}  // namespace taskdex
