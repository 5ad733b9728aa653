// bench/bench_command.cc
//
// `taskdex bench`: loads a snapshot, times request bodies through the same
// path a server request takes (Engine::PaginateJson: parse, plan, execute,
// write; or plan + execute only), one query after another or round-robin
// over the file (--interleave), and optionally checks and times each body on SQLite with Prefect's
// schema and SQL (bench/sqlite_compare.h).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/paginate_request.h"
#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "bench/commands.h"
#include "bench/sqlite_compare.h"
#include "engine/executor.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

constexpr char kBenchHelp[] = R"(Usage:
  taskdex bench --snapshot DIR --bodies FILE [options]

Loads the snapshot DIR (prints load time, task runs/s, MB/s of NDJSON and the
resident memory after load), then runs every body of FILE through the
/paginate request path (parse, plan, execute, write the JSON answer): one
untimed warm-up, then up to --repeat timed runs or about --max-seconds per
query. Prints per query p50 and p99 (microseconds), the samples and the
answer's `count`, then p50 and p99 over all samples.

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
  --bodies FILE       Bodies file, one per line. Required.
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
                      schema and indexes, translate each query into Prefect's
                      SQL (page + count), check that both give the same ids
                      in order and the same count, and time SQLite too
                      (same --repeat/--max-seconds). A mismatch is printed
                      with the body and both answers, and the exit code is 1.
  --now T             The clock for computed fields (RFC 3339), default: now.
  --threads N         Loader threads (0: all cores, default).
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

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string IdsText(const std::vector<Uuid>& ids) {
  std::vector<std::string> parts;
  for (const Uuid& id : ids) parts.push_back(UuidToString(id));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

struct Options {
  std::string snapshot;
  std::string bodies;
  int repeat = 200;
  double max_seconds = 1.0;
  bool json = false;
  bool compare_sqlite = false;
  bool interleave = false;
  bool execute_only = false;
  bool explain = false;
  std::optional<std::string> now;
  int threads = 0;
};

struct QueryResult {
  std::string name;
  int status = 0;
  std::optional<uint64_t> count;
  std::vector<double> samples;
  std::vector<double> sqlite_samples;
  bool compared = false;
  bool match = true;
};

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
    } else if (arg == "--compare-sqlite") {
      opt.compare_sqlite = true;
    } else if (arg == "--now") {
      opt.now = value();
      if (!opt.now) return Usage("--now needs a time, e.g. 2026-11-28T12:00:00Z");
    } else if (arg == "--threads") {
      if (!number(0, 1024, &d)) return Usage("--threads needs a number 0..1024");
      opt.threads = static_cast<int>(d);
    } else {
      return Usage(absl::StrCat("unknown option \"", std::string(arg), "\""));
    }
  }
  if (opt.snapshot.empty()) return Usage("--snapshot DIR is required");
  if (opt.bodies.empty()) return Usage("--bodies FILE is required");
  Micros now = NowMicros();
  if (opt.now) {
    auto parsed = ParseInstant(*opt.now);
    if (!parsed.ok()) return Usage(absl::StrCat("--now: ", parsed.status().message()));
    now = *parsed;
  }
  std::ifstream in(opt.bodies, std::ios::binary);
  if (!in) return Usage(absl::StrCat("cannot read ", opt.bodies));
  const std::string bodies_text((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  const std::vector<BenchBody> bodies = ParseBodiesFile(bodies_text);

  // --- load ---
  LoadOptions load_options;
  load_options.threads = opt.threads;
  const auto load_start = std::chrono::steady_clock::now();
  auto engine = Engine::Open(opt.snapshot, load_options);
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
        "load: %llu task runs, %llu flow runs, %.1f MB NDJSON in %.3f s: %.0f task runs/s, "
        "%.1f MB/s; RSS after load %.1f MB\n",
        static_cast<unsigned long long>(report.task_runs),
        static_cast<unsigned long long>(report.flow_runs), mb, load_seconds,
        report.task_runs / load_seconds, mb / load_seconds, rss_mb);
  }

  std::unique_ptr<SqliteMirror> mirror;
  if (opt.compare_sqlite) {
    const auto start = std::chrono::steady_clock::now();
    auto records = ReadSnapshotRecords(opt.snapshot, load_options, nullptr);
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

  // --- queries ---
  std::vector<QueryResult> results;
  std::vector<double> all, all_sqlite;
  bool failed = false;
  if (!opt.json) {
    std::printf("%-32s %6s %10s %6s %10s %10s", "query", "status", "count", "n", "p50_us",
                "p99_us");
    if (mirror) std::printf(" %12s %12s %8s", "sqlite_p50", "sqlite_p99", "ratio");
    std::printf("\n");
  }
  // The callables that are timed, per query: the request path (or, with
  // --stage execute, plan + execute of the parsed body) and SQLite's.
  std::vector<std::optional<PaginateQuery>> parsed_queries(bodies.size());
  std::vector<std::optional<SqliteQuery>> sqlite_queries(bodies.size());
  auto timed = [&](size_t i) -> std::function<void()> {
    if (parsed_queries[i]) {
      const PaginateQuery* query = &*parsed_queries[i];
      return [&engine, query] { (void)(*engine)->Paginate(*query); };
    }
    const std::string* body = &bodies[i].body;
    return [&engine, body, now] { (void)(*engine)->PaginateJson(*body, now); };
  };
  auto sqlite_timed = [&](size_t i) -> std::function<void()> {
    const SqliteQuery* sql = &*sqlite_queries[i];
    return [&mirror, sql] { (void)mirror->Run(*sql); };
  };
  auto print = [&](const QueryResult& r) {
    const double p50 = Percentile(r.samples, 0.5), p99 = Percentile(r.samples, 0.99);
    const double sp50 = Percentile(r.sqlite_samples, 0.5);
    const double sp99 = Percentile(r.sqlite_samples, 0.99);
    if (opt.json) {
      std::string line = absl::StrFormat(
          "{\"event\":\"query\",\"name\":%s,\"status\":%d,\"count\":%s,\"samples\":%d,"
          "\"p50_us\":%.1f,\"p99_us\":%.1f",
          JsonQuote(r.name), r.status, r.count ? std::to_string(*r.count) : "null",
          static_cast<int>(r.samples.size()), p50, p99);
      if (r.compared) {
        absl::StrAppendFormat(&line,
                              ",\"sqlite_samples\":%d,\"sqlite_p50_us\":%.1f,"
                              "\"sqlite_p99_us\":%.1f,\"ratio\":%.2f,\"match\":%s",
                              static_cast<int>(r.sqlite_samples.size()), sp50, sp99,
                              p50 > 0 ? sp50 / p50 : 0.0, r.match ? "true" : "false");
      }
      std::printf("%s}\n", line.c_str());
    } else {
      std::printf("%-32s %6d %10s %6d %10.1f %10.1f", r.name.c_str(), r.status,
                  r.count ? std::to_string(*r.count).c_str() : "-",
                  static_cast<int>(r.samples.size()), p50, p99);
      if (r.compared) {
        std::printf(" %12.1f %12.1f %7.1fx%s", sp50, sp99, p50 > 0 ? sp50 / p50 : 0.0,
                    r.match ? "" : "  MISMATCH");
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  };
  for (size_t i = 0; i < bodies.size(); ++i) {
    const BenchBody& b = bodies[i];
    QueryResult r;
    r.name = b.name;
    Response first = (*engine)->PaginateJson(b.body, now);
    r.status = first.status;
    if (first.status == 200) r.count = ResponseCount(first.body);
    auto parsed = ParsePaginateBody(b.body);
    const auto* request = std::get_if<PaginateRequest>(&parsed);
    if (opt.execute_only && request != nullptr) parsed_queries[i] = request->query;
    if (!opt.interleave) {
      r.samples = TimeRepeated(timed(i), opt.repeat, opt.max_seconds);
    }
    if (mirror && first.status == 200 && request != nullptr) {
      r.compared = true;
      const PageResult page = (*engine)->Paginate(request->query);
      std::vector<Uuid> engine_ids;
      for (RowId row : page.rows) engine_ids.push_back((*engine)->store().task_runs.id[row]);
      const SqliteQuery sql = TranslateQuery(request->query);
      auto answer = mirror->Run(sql);
      if (!answer.ok()) {
        std::fprintf(stderr, "taskdex bench: SQLite failed on %s: %s\n  body: %s\n",
                     b.name.c_str(), std::string(answer.status().message()).c_str(),
                     b.body.c_str());
        r.match = false;
      } else {
        r.match = answer->ids == engine_ids && answer->count == page.count &&
                  r.count == page.count;
        if (!r.match) {
          std::fprintf(stderr,
                       "\n*** MISMATCH on %s ***\n  body: %s\n  taskdex: count %llu "
                       "(response count %s), ids %s\n  sqlite:  count %llu, ids %s\n  sql: "
                       "%s\n\n",
                       b.name.c_str(), b.body.c_str(),
                       static_cast<unsigned long long>(page.count),
                       r.count ? std::to_string(*r.count).c_str() : "none",
                       IdsText(engine_ids).c_str(),
                       static_cast<unsigned long long>(answer->count),
                       IdsText(answer->ids).c_str(), sql.page_sql.c_str());
        }
        sqlite_queries[i] = sql;
        if (!opt.interleave) {
          r.sqlite_samples = TimeRepeated(sqlite_timed(i), opt.repeat, opt.max_seconds);
        }
      }
      failed |= !r.match;
    }
    if (!opt.interleave) print(r);
    results.push_back(std::move(r));
  }
  if (opt.interleave) {
    const double budget = opt.max_seconds * static_cast<double>(bodies.size());
    std::vector<std::function<void()>> fns;
    for (size_t i = 0; i < bodies.size(); ++i) fns.push_back(timed(i));
    std::vector<std::vector<double>> samples = TimeInterleaved(fns, opt.repeat, budget);
    for (size_t i = 0; i < bodies.size(); ++i) results[i].samples = std::move(samples[i]);
    std::vector<size_t> with_sqlite;
    fns.clear();
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (sqlite_queries[i]) {
        with_sqlite.push_back(i);
        fns.push_back(sqlite_timed(i));
      }
    }
    if (!fns.empty()) {
      samples = TimeInterleaved(fns, opt.repeat, budget);
      for (size_t j = 0; j < with_sqlite.size(); ++j) {
        results[with_sqlite[j]].sqlite_samples = std::move(samples[j]);
      }
    }
    for (const QueryResult& r : results) print(r);
  }
  for (const QueryResult& r : results) {
    all.insert(all.end(), r.samples.begin(), r.samples.end());
    all_sqlite.insert(all_sqlite.end(), r.sqlite_samples.begin(), r.sqlite_samples.end());
  }
  if (opt.explain) {
    // Per query, per plan step: the step as first seen and its durations.
    std::vector<std::vector<PlanStep>> steps(bodies.size());
    std::vector<std::vector<std::vector<double>>> step_micros(bodies.size());
    std::vector<std::optional<PaginateQuery>> queries(bodies.size());
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto parsed = ParsePaginateBody(bodies[i].body);
      if (const auto* request = std::get_if<PaginateRequest>(&parsed)) queries[i] = request->query;
    }
    auto run = [&](size_t i) {
      if (!queries[i]) return;
      std::vector<PlanStep> trace;
      ExecOptions options;
      options.trace = &trace;
      (void)Paginate((*engine)->store(), *queries[i], options);
      if (steps[i].empty()) {
        steps[i] = trace;
        step_micros[i].resize(trace.size());
      }
      for (size_t k = 0; k < trace.size() && k < steps[i].size(); ++k) {
        step_micros[i][k].push_back(trace[k].micros);
      }
    };
    for (int round = 0; round < opt.repeat; ++round) {
      if (opt.interleave) {
        for (size_t i = 0; i < bodies.size(); ++i) run(i);
      } else if (round == 0) {
        for (size_t i = 0; i < bodies.size(); ++i) {
          for (int k = 0; k < opt.repeat; ++k) run(i);
        }
      }
    }
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (opt.json) {
        for (size_t k = 0; k < steps[i].size(); ++k) {
          const PlanStep& st = steps[i][k];
          std::printf("{\"event\":\"step\",\"name\":%s,\"what\":%s,\"path\":%s,"
                      "\"estimate\":%lld,\"actual\":%llu,\"p50_us\":%.1f}\n",
                      JsonQuote(bodies[i].name).c_str(), JsonQuote(st.what).c_str(),
                      JsonQuote(st.path).c_str(), static_cast<long long>(st.estimate),
                      static_cast<unsigned long long>(st.actual),
                      Percentile(step_micros[i][k], 0.5));
        }
        continue;
      }
      std::printf("plan of %s:\n", bodies[i].name.c_str());
      for (size_t k = 0; k < steps[i].size(); ++k) {
        const PlanStep& st = steps[i][k];
        std::printf("  %-34s %-34s est=%-10s actual=%-10llu p50 %.1f us\n", st.what.c_str(),
                    st.path.c_str(),
                    st.estimate < 0 ? "?" : std::to_string(st.estimate).c_str(),
                    static_cast<unsigned long long>(st.actual),
                    Percentile(step_micros[i][k], 0.5));
      }
    }
  }
  int mismatches = 0;
  // Pooled percentiles weigh fast queries more (they get more samples), so
  // the comparison's headline is the median of the per-query p50 ratios.
  std::vector<double> ratios;
  for (const QueryResult& r : results) {
    mismatches += !r.match;
    const double q50 = Percentile(r.samples, 0.5);
    if (!r.sqlite_samples.empty() && q50 > 0) {
      ratios.push_back(Percentile(r.sqlite_samples, 0.5) / q50);
    }
  }
  const double median_ratio = Percentile(ratios, 0.5);
  const double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
  const double sp50 = Percentile(all_sqlite, 0.5), sp99 = Percentile(all_sqlite, 0.99);
  double sum = 0;
  for (double v : all) sum += v;
  const double mean = all.empty() ? 0 : sum / static_cast<double>(all.size());
  const char* mode = opt.interleave ? "interleaved" : "repeated";
  const char* stage = opt.execute_only ? "execute" : "full";
  if (opt.json) {
    std::string line = absl::StrFormat(
        "{\"event\":\"overall\",\"mode\":\"%s\",\"stage\":\"%s\",\"queries\":%d,"
        "\"samples\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f",
        mode, stage, static_cast<int>(results.size()), static_cast<int>(all.size()), p50, p99,
        mean);
    if (mirror) {
      absl::StrAppendFormat(&line,
                            ",\"sqlite_samples\":%d,\"sqlite_p50_us\":%.1f,\"sqlite_p99_us\":%.1f,"
                            "\"median_query_ratio\":%.2f,\"mismatches\":%d",
                            static_cast<int>(all_sqlite.size()), sp50, sp99, median_ratio,
                            mismatches);
    }
    std::printf("%s}\n", line.c_str());
  } else {
    std::printf("overall (%s, stage %s): %d queries, %d samples, p50 %.1f us, p99 %.1f us, "
                "mean %.1f us\n",
                mode, stage, static_cast<int>(results.size()), static_cast<int>(all.size()), p50,
                p99, mean);
    if (mirror) {
      std::printf("sqlite overall: %d samples, p50 %.1f us, p99 %.1f us; "
                  "median_query_ratio %.1fx (median over queries of sqlite p50 / taskdex "
                  "p50); %d mismatches\n",
                  static_cast<int>(all_sqlite.size()), sp50, sp99, median_ratio, mismatches);
    }
  }
  if (mismatches > 0) {
    std::fprintf(stderr, "taskdex bench: %d MISMATCH(ES) between taskdex and SQLite\n",
                 mismatches);
  }
  return failed ? 1 : 0;
}

}  // namespace taskdex
