// bench/query_set_runner.h
//
// One set of request bodies timed by `taskdex bench` (the --bodies file, or
// the --random bodies): each body through the /paginate request path
// (Engine::PaginateJson, or plan + execute only), one query after another or
// round-robin (interleaved); optionally checked against SQLite with the exact
// SQL (untimed) and timed on SQLite with the SQL Prefect sends
// (bench/sqlite_compare.h); optionally timed on PostgreSQL with the
// statements Prefect sends there (bench/pg_compare.h: page, state load,
// count), each body's answer compared once with taskdex's (a difference is
// counted and reported, not failed: Prefect's ORDER BY has no tie-break);
// optionally each query's plan steps. Prints a
// table (or JSON lines) per query, or for a large set (`slowest` > 0) only
// the overall line and the `slowest` bodies by median with body and plan;
// then the overall line: p50, p99, max and mean over all samples, and with
// SQLite the median and minimum over queries of SQLite p50 / taskdex p50.
//
// Thread safety: runs on the calling thread; prints to stdout/stderr.

#ifndef TASKDEX_BENCH_QUERY_SET_RUNNER_H_
#define TASKDEX_BENCH_QUERY_SET_RUNNER_H_

#include <string>
#include <vector>

#include "api/taskdex.h"
#include "bench/bench_runner.h"
#include "bench/pg_compare.h"
#include "bench/sqlite_compare.h"

namespace taskdex {

struct QuerySetOptions {
  std::string set;  // "bodies" or "random": the `set` of JSON lines, a title
  int repeat = 200;
  double max_seconds = 1.0;
  bool json = false;
  bool interleave = false;
  bool execute_only = false;  // --stage execute
  bool explain = false;       // per-query plan steps with their median time
  // > 0: no per-query table; print the `slowest` queries (by p50) with their
  // body and plan instead.
  int slowest = 0;
  Micros now = 0;
  // --compare-postgres: the database to time Prefect's statements on.
  PgCompare* postgres = nullptr;
};

// Runs the set. Returns false when SQLite disagreed with taskdex on some
// query or failed on it, or PostgreSQL failed on one (each case is printed
// to stderr).
bool RunQuerySet(const Engine& engine, SqliteMirror* mirror, const std::vector<BenchBody>& bodies,
                 const QuerySetOptions& opt);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_QUERY_SET_RUNNER_H_
