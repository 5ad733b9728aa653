// bench/query_set_runner.cc: see query_set_runner.h.

#include "bench/query_set_runner.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/paginate_request.h"
#include "engine/executor.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

std::string IdsText(const std::vector<Uuid>& ids) {
  std::vector<std::string> parts;
  for (const Uuid& id : ids) parts.push_back(UuidToString(id));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

struct QueryResult {
  std::string name;
  int status = 0;
  std::optional<uint64_t> count;
  std::vector<double> samples;
  std::vector<double> sqlite_samples;  // Prefect's SQL
  bool compared = false;
  bool match = true;                      // the exact SQL gave taskdex's ids and count
  std::optional<uint64_t> prefect_count;  // the count by Prefect's SQL
  // --compare-postgres: Prefect's statements on PostgreSQL.
  std::vector<double> pg_samples;
  bool pg_compared = false;
  bool pg_match = true;  // same ids in order and same count as taskdex
  std::optional<uint64_t> pg_count;
};

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

double Ratio(const QueryResult& r) {
  const double p50 = Percentile(r.samples, 0.5);
  return p50 > 0 ? Percentile(r.sqlite_samples, 0.5) / p50 : 0.0;
}

double PgRatio(const QueryResult& r) {
  const double p50 = Percentile(r.samples, 0.5);
  return p50 > 0 ? Percentile(r.pg_samples, 0.5) / p50 : 0.0;
}

// Runs Prefect's PostgreSQL statements of one body once and compares the
// answer with taskdex's (a difference is reported, not failed: ties and
// NULLs may come in another order under Prefect's ORDER BY). Returns the
// SQL to time, or nullopt when PostgreSQL failed.
std::optional<PgQuery> CheckOnPostgres(const Engine& engine, PgCompare& pg, const BenchBody& b,
                                       const PaginateQuery& query, QueryResult* r) {
  r->pg_compared = true;
  const TaskRunPage page = engine.Paginate(query);
  PgQuery sql = TranslateQueryPostgres(query);
  auto answer = pg.Run(sql);
  if (!answer.ok()) {
    std::fprintf(stderr, "taskdex bench: PostgreSQL failed on %s: %s\n  body: %s\n",
                 b.name.c_str(), std::string(answer.status().message()).c_str(), b.body.c_str());
    r->pg_match = false;
    return std::nullopt;
  }
  r->pg_count = answer->count;
  r->pg_match = answer->ids == page.Ids() && answer->count == page.count;
  if (answer->count != page.count) {
    // Counts have no tie issue: this is a difference in the filters.
    std::fprintf(stderr,
                 "taskdex bench: PostgreSQL COUNT differs on %s: taskdex %llu, postgres %llu\n"
                 "  body: %s\n  sql: %s\n",
                 b.name.c_str(), static_cast<unsigned long long>(page.count),
                 static_cast<unsigned long long>(answer->count), b.body.c_str(),
                 sql.count_sql.c_str());
  }
  return sql;
}

// Checks one body on SQLite: the exact SQL must give taskdex's page and
// count (untimed); Prefect's SQL must run. Returns the Prefect SQL to time,
// or nullopt when SQLite failed.
std::optional<SqliteQuery> CheckOnSqlite(const Engine& engine, SqliteMirror& mirror,
                                         const BenchBody& b, const PaginateQuery& query,
                                         QueryResult* r) {
  r->compared = true;
  const TaskRunPage page = engine.Paginate(query);
  const std::vector<Uuid> engine_ids = page.Ids();
  const SqliteQuery exact = TranslateQuery(query, SqlFlavor::kExact);
  auto answer = mirror.Run(exact);
  if (!answer.ok()) {
    std::fprintf(stderr, "taskdex bench: SQLite failed on %s: %s\n  body: %s\n", b.name.c_str(),
                 std::string(answer.status().message()).c_str(), b.body.c_str());
    r->match = false;
    return std::nullopt;
  }
  r->match = answer->ids == engine_ids && answer->count == page.count && r->count == page.count;
  if (!r->match) {
    std::fprintf(stderr,
                 "\n*** MISMATCH on %s ***\n  body: %s\n  taskdex: count %llu "
                 "(response count %s), ids %s\n  sqlite:  count %llu, ids %s\n  sql: %s\n\n",
                 b.name.c_str(), b.body.c_str(), static_cast<unsigned long long>(page.count),
                 r->count ? std::to_string(*r->count).c_str() : "none", IdsText(engine_ids).c_str(),
                 static_cast<unsigned long long>(answer->count), IdsText(answer->ids).c_str(),
                 exact.page_sql.c_str());
  }
  SqliteQuery prefect = TranslateQuery(query, SqlFlavor::kPrefect);
  auto prefect_answer = mirror.Run(prefect);
  if (!prefect_answer.ok()) {
    std::fprintf(stderr, "taskdex bench: SQLite failed on Prefect's SQL of %s: %s\n  body: %s\n",
                 b.name.c_str(), std::string(prefect_answer.status().message()).c_str(),
                 b.body.c_str());
    r->match = false;
    return std::nullopt;
  }
  r->prefect_count = prefect_answer->count;
  return prefect;
}

}  // namespace

bool RunQuerySet(const Engine& engine, SqliteMirror* mirror, const std::vector<BenchBody>& bodies,
                 const QuerySetOptions& opt) {
  const bool table = opt.slowest <= 0;
  const Micros now = opt.now;
  std::vector<QueryResult> results;
  if (!opt.json && table) {
    std::printf("%-32s %6s %10s %6s %10s %10s", "query", "status", "count", "n", "p50_us",
                "p99_us");
    if (mirror) std::printf(" %12s %12s %8s", "sqlite_p50", "sqlite_p99", "ratio");
    if (opt.postgres) {
      std::printf(" %12s %12s %12s %8s", "pg_p50", "pg_p99", "pg_max", "pg_ratio");
    }
    std::printf("\n");
  }
  // The callables that are timed, per query: the request path (or, with
  // --stage execute, plan + execute of the parsed body) and SQLite's.
  std::vector<std::optional<PaginateQuery>> parsed_queries(bodies.size());
  std::vector<std::optional<SqliteQuery>> sqlite_queries(bodies.size());
  auto timed = [&](size_t i) -> std::function<void()> {
    if (parsed_queries[i]) {
      const PaginateQuery* query = &*parsed_queries[i];
      return [&engine, query] { (void)engine.Paginate(*query); };
    }
    const std::string* body = &bodies[i].body;
    return [&engine, body, now] { (void)engine.PaginateJson(*body, now); };
  };
  auto sqlite_timed = [&](size_t i) -> std::function<void()> {
    const SqliteQuery* sql = &*sqlite_queries[i];
    return [mirror, sql] { (void)mirror->Run(*sql); };
  };
  std::vector<std::optional<PgQuery>> pg_queries(bodies.size());
  PgCompare* const pg = opt.postgres;
  auto pg_timed = [&](size_t i) -> std::function<void()> {
    const PgQuery* sql = &*pg_queries[i];
    return [pg, sql] { (void)pg->Run(*sql); };
  };
  auto print = [&](const QueryResult& r) {
    const double p50 = Percentile(r.samples, 0.5), p99 = Percentile(r.samples, 0.99);
    const double sp50 = Percentile(r.sqlite_samples, 0.5);
    const double sp99 = Percentile(r.sqlite_samples, 0.99);
    if (opt.json) {
      std::string line = absl::StrFormat(
          "{\"event\":\"query\",\"set\":\"%s\",\"name\":%s,\"status\":%d,\"count\":%s,"
          "\"samples\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
          opt.set, JsonQuote(r.name), r.status, r.count ? std::to_string(*r.count) : "null",
          static_cast<int>(r.samples.size()), p50, p99, Max(r.samples));
      if (r.compared) {
        absl::StrAppendFormat(&line,
                              ",\"sqlite_samples\":%d,\"sqlite_p50_us\":%.1f,"
                              "\"sqlite_p99_us\":%.1f,\"ratio\":%.2f,\"match\":%s,"
                              "\"prefect_sql_count\":%s",
                              static_cast<int>(r.sqlite_samples.size()), sp50, sp99, Ratio(r),
                              r.match ? "true" : "false",
                              r.prefect_count ? std::to_string(*r.prefect_count) : "null");
      }
      if (r.pg_compared) {
        absl::StrAppendFormat(&line,
                              ",\"pg_samples\":%d,\"pg_p50_us\":%.1f,\"pg_p99_us\":%.1f,"
                              "\"pg_max_us\":%.1f,\"pg_ratio\":%.2f,\"pg_match\":%s,"
                              "\"pg_count\":%s",
                              static_cast<int>(r.pg_samples.size()),
                              Percentile(r.pg_samples, 0.5), Percentile(r.pg_samples, 0.99),
                              Max(r.pg_samples), PgRatio(r), r.pg_match ? "true" : "false",
                              r.pg_count ? std::to_string(*r.pg_count) : "null");
      }
      std::printf("%s}\n", line.c_str());
    } else {
      std::printf("%-32s %6d %10s %6d %10.1f %10.1f", r.name.c_str(), r.status,
                  r.count ? std::to_string(*r.count).c_str() : "-",
                  static_cast<int>(r.samples.size()), p50, p99);
      if (r.compared) {
        std::printf(" %12.1f %12.1f %7.2fx%s", sp50, sp99, Ratio(r), r.match ? "" : "  MISMATCH");
      }
      if (r.pg_compared) {
        std::printf(" %12.1f %12.1f %12.1f %7.2fx%s", Percentile(r.pg_samples, 0.5),
                    Percentile(r.pg_samples, 0.99), Max(r.pg_samples), PgRatio(r),
                    r.pg_match                           ? ""
                    : r.pg_count && *r.pg_count != r.count ? "  COUNT DIFFERS"
                                                           : "  order differs");
      } else if (pg) {
        std::printf(" %12s %12s %12s %8s", "-", "-", "-", "-");
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  };
  bool failed = false;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const BenchBody& b = bodies[i];
    QueryResult r;
    r.name = b.name;
    Response first = engine.PaginateJson(b.body, now);
    r.status = first.status;
    if (first.status == 200) r.count = ResponseCount(first.body);
    auto parsed = ParsePaginateBody(b.body);
    const auto* request = std::get_if<PaginateRequest>(&parsed);
    if (opt.execute_only && request != nullptr) parsed_queries[i] = request->query;
    if (!opt.interleave) r.samples = TimeRepeated(timed(i), opt.repeat, opt.max_seconds);
    if (mirror && first.status == 200 && request != nullptr) {
      sqlite_queries[i] = CheckOnSqlite(engine, *mirror, b, request->query, &r);
      if (sqlite_queries[i] && !opt.interleave) {
        r.sqlite_samples = TimeRepeated(sqlite_timed(i), opt.repeat, opt.max_seconds);
      }
      failed |= !r.match;
    }
    if (pg && first.status == 200 && request != nullptr) {
      pg_queries[i] = CheckOnPostgres(engine, *pg, b, request->query, &r);
      if (pg_queries[i] && !opt.interleave) {
        r.pg_samples = TimeRepeated(pg_timed(i), opt.repeat, opt.max_seconds);
      }
      failed |= !pg_queries[i];
    }
    if (!opt.interleave && table) print(r);
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
    std::vector<size_t> with_pg;
    fns.clear();
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (pg_queries[i]) {
        with_pg.push_back(i);
        fns.push_back(pg_timed(i));
      }
    }
    if (!fns.empty()) {
      samples = TimeInterleaved(fns, opt.repeat, budget);
      for (size_t j = 0; j < with_pg.size(); ++j) {
        results[with_pg[j]].pg_samples = std::move(samples[j]);
      }
    }
    if (table) {
      for (const QueryResult& r : results) print(r);
    }
  }
  if (!table && opt.json) {
    for (const QueryResult& r : results) print(r);
  }
  std::vector<double> all, all_sqlite, all_pg;
  for (const QueryResult& r : results) {
    all.insert(all.end(), r.samples.begin(), r.samples.end());
    all_sqlite.insert(all_sqlite.end(), r.sqlite_samples.begin(), r.sqlite_samples.end());
    all_pg.insert(all_pg.end(), r.pg_samples.begin(), r.pg_samples.end());
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
      (void)Paginate(*engine.Pin(), *queries[i], options);
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
          std::printf(
              "{\"event\":\"step\",\"set\":\"%s\",\"name\":%s,\"what\":%s,\"path\":%s,"
              "\"estimate\":%lld,\"actual\":%llu,\"p50_us\":%.1f}\n",
              opt.set.c_str(), JsonQuote(bodies[i].name).c_str(), JsonQuote(st.what).c_str(),
              JsonQuote(st.path).c_str(), static_cast<long long>(st.estimate),
              static_cast<unsigned long long>(st.actual), Percentile(step_micros[i][k], 0.5));
        }
        continue;
      }
      std::printf("plan of %s:\n", bodies[i].name.c_str());
      for (size_t k = 0; k < steps[i].size(); ++k) {
        const PlanStep& st = steps[i][k];
        std::printf("  %-34s %-34s est=%-10s actual=%-10llu p50 %.1f us\n", st.what.c_str(),
                    st.path.c_str(), st.estimate < 0 ? "?" : std::to_string(st.estimate).c_str(),
                    static_cast<unsigned long long>(st.actual), Percentile(step_micros[i][k], 0.5));
      }
    }
  }
  // Pooled percentiles weigh fast queries more (they get more samples), so
  // the comparison's headlines are over queries: the median and the minimum
  // of the per-query ratios SQLite p50 / taskdex p50 (below 1: SQLite, with
  // the SQL Prefect sends, is faster on that query).
  int mismatches = 0;
  std::vector<double> ratios;
  size_t min_at = results.size();
  for (size_t i = 0; i < results.size(); ++i) {
    const QueryResult& r = results[i];
    mismatches += !r.match;
    if (r.sqlite_samples.empty() || Percentile(r.samples, 0.5) <= 0) continue;
    ratios.push_back(Ratio(r));
    if (min_at == results.size() || Ratio(r) < Ratio(results[min_at])) min_at = i;
  }
  const int sqlite_faster =
      static_cast<int>(std::count_if(ratios.begin(), ratios.end(), [](double x) { return x < 1; }));
  const double median_ratio = Percentile(ratios, 0.5);
  const double min_ratio = ratios.empty() ? 0 : *std::min_element(ratios.begin(), ratios.end());
  // The same over PostgreSQL (Prefect's statements there).
  int pg_differs = 0, pg_count_differs = 0;
  std::vector<double> pg_ratios;
  size_t pg_min_at = results.size();
  for (size_t i = 0; i < results.size(); ++i) {
    const QueryResult& r = results[i];
    pg_differs += r.pg_compared && !r.pg_match;
    pg_count_differs += r.pg_compared && r.pg_count && r.count && *r.pg_count != *r.count;
    if (r.pg_samples.empty() || Percentile(r.samples, 0.5) <= 0) continue;
    pg_ratios.push_back(PgRatio(r));
    if (pg_min_at == results.size() || PgRatio(r) < PgRatio(results[pg_min_at])) pg_min_at = i;
  }
  const int pg_faster = static_cast<int>(
      std::count_if(pg_ratios.begin(), pg_ratios.end(), [](double x) { return x < 1; }));
  const double pg_median_ratio = Percentile(pg_ratios, 0.5);
  const double pg_min_ratio =
      pg_ratios.empty() ? 0 : *std::min_element(pg_ratios.begin(), pg_ratios.end());
  const std::string pg_min_name = pg_min_at < results.size() ? results[pg_min_at].name : "";
  const double pp50 = Percentile(all_pg, 0.5), pp99 = Percentile(all_pg, 0.99);
  const std::string min_name = min_at < results.size() ? results[min_at].name : "";
  const double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99), max = Max(all);
  const double sp50 = Percentile(all_sqlite, 0.5), sp99 = Percentile(all_sqlite, 0.99);
  const double mean =
      all.empty() ? 0
                  : std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
  const char* mode = opt.interleave ? "interleaved" : "repeated";
  const char* stage = opt.execute_only ? "execute" : "full";
  if (opt.json) {
    std::string line = absl::StrFormat(
        "{\"event\":\"overall\",\"set\":\"%s\",\"mode\":\"%s\",\"stage\":\"%s\",\"queries\":%d,"
        "\"samples\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f",
        opt.set, mode, stage, static_cast<int>(results.size()), static_cast<int>(all.size()), p50,
        p99, max, mean);
    if (mirror) {
      absl::StrAppendFormat(&line,
                            ",\"sqlite_samples\":%d,\"sqlite_p50_us\":%.1f,\"sqlite_p99_us\":%.1f,"
                            "\"median_query_ratio\":%.2f,\"min_query_ratio\":%.2f,"
                            "\"min_query\":%s,\"sqlite_faster_queries\":%d,\"mismatches\":%d",
                            static_cast<int>(all_sqlite.size()), sp50, sp99, median_ratio,
                            min_ratio, JsonQuote(min_name), sqlite_faster, mismatches);
    }
    if (pg) {
      absl::StrAppendFormat(
          &line,
          ",\"pg_samples\":%d,\"pg_p50_us\":%.1f,\"pg_p99_us\":%.1f,\"pg_max_us\":%.1f,"
          "\"pg_overall_ratio\":%.2f,\"pg_median_query_ratio\":%.2f,"
          "\"pg_min_query_ratio\":%.2f,\"pg_min_query\":%s,\"pg_faster_queries\":%d,"
          "\"pg_differing_answers\":%d,\"pg_differing_counts\":%d",
          static_cast<int>(all_pg.size()), pp50, pp99, Max(all_pg), p50 > 0 ? pp50 / p50 : 0.0,
          pg_median_ratio, pg_min_ratio, JsonQuote(pg_min_name), pg_faster, pg_differs,
          pg_count_differs);
    }
    std::printf("%s}\n", line.c_str());
  } else {
    std::printf(
        "overall %s (%s, stage %s): %d queries, %d samples, p50 %.1f us, p99 %.1f us, "
        "max %.1f us, mean %.1f us\n",
        opt.set.c_str(), mode, stage, static_cast<int>(results.size()),
        static_cast<int>(all.size()), p50, p99, max, mean);
    if (mirror) {
      std::printf(
          "sqlite (the SQL Prefect sends) %s: %d samples, p50 %.1f us, p99 %.1f us; "
          "median_query_ratio %.2fx, min_query_ratio %.2fx (%s) (over queries, sqlite "
          "p50 / taskdex p50); SQLite faster on %d of %d queries; %d mismatches with the exact "
          "SQL\n",
          opt.set.c_str(), static_cast<int>(all_sqlite.size()), sp50, sp99, median_ratio, min_ratio,
          min_name.c_str(), sqlite_faster, static_cast<int>(ratios.size()), mismatches);
    }
    if (pg) {
      std::printf(
          "postgres (the SQL Prefect sends: page + state load + count) %s: %d samples, p50 "
          "%.1f us, p99 %.1f us, max %.1f us; overall p50 ratio %.2fx (postgres p50 / taskdex "
          "p50); median_query_ratio %.2fx, min_query_ratio %.2fx (%s) (over queries); "
          "PostgreSQL faster on %d of %d queries; %d answers differ from taskdex (%d in the "
          "count; the rest in the page: ties/NULL order under Prefect's ORDER BY; counted, "
          "not failed)\n",
          opt.set.c_str(), static_cast<int>(all_pg.size()), pp50, pp99, Max(all_pg),
          p50 > 0 ? pp50 / p50 : 0.0, pg_median_ratio, pg_min_ratio, pg_min_name.c_str(),
          pg_faster, static_cast<int>(pg_ratios.size()), pg_differs, pg_count_differs);
    }
  }
  if (!table) {
    std::vector<size_t> order(results.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::vector<double> medians;
    for (const QueryResult& r : results) medians.push_back(Percentile(r.samples, 0.5));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return medians[a] > medians[b]; });
    order.resize(std::min(order.size(), static_cast<size_t>(opt.slowest)));
    if (!opt.json)
      std::printf("slowest %d of %s by p50:\n", static_cast<int>(order.size()), opt.set.c_str());
    for (size_t rank = 0; rank < order.size(); ++rank) {
      const QueryResult& r = results[order[rank]];
      const std::string& body = bodies[order[rank]].body;
      const std::string plan = engine.Explain(body);
      if (opt.json) {
        std::printf(
            "{\"event\":\"slowest\",\"set\":\"%s\",\"rank\":%d,\"name\":%s,"
            "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"count\":%s,"
            "\"body\":%s,\"plan\":%s}\n",
            opt.set.c_str(), static_cast<int>(rank + 1), JsonQuote(r.name).c_str(),
            medians[order[rank]], Percentile(r.samples, 0.99), Max(r.samples),
            r.count ? std::to_string(*r.count).c_str() : "null", JsonQuote(body).c_str(),
            JsonQuote(plan).c_str());
        continue;
      }
      std::printf("%2d. %s: p50 %.1f us, p99 %.1f us, max %.1f us, count %s",
                  static_cast<int>(rank + 1), r.name.c_str(), medians[order[rank]],
                  Percentile(r.samples, 0.99), Max(r.samples),
                  r.count ? std::to_string(*r.count).c_str() : "-");
      if (r.compared) {
        std::printf(", sqlite p50 %.1f us (%.2fx)", Percentile(r.sqlite_samples, 0.5), Ratio(r));
      }
      if (r.pg_compared) {
        std::printf(", postgres p50 %.1f us (%.2fx)", Percentile(r.pg_samples, 0.5), PgRatio(r));
      }
      std::printf("\n    body: %s\n", body.c_str());
      size_t at = 0;
      while (at < plan.size()) {
        size_t end = plan.find('\n', at);
        if (end == std::string::npos) end = plan.size();
        if (end > at) std::printf("    %.*s\n", static_cast<int>(end - at), plan.data() + at);
        at = end + 1;
      }
    }
  }
  std::fflush(stdout);
  if (mismatches > 0) {
    std::fprintf(stderr, "taskdex bench: %d MISMATCH(ES) between taskdex and SQLite in %s\n",
                 mismatches, opt.set.c_str());
  }
  return !failed;
}

}  // namespace taskdex
