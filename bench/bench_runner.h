// bench/bench_runner.h
//
// The pieces of `taskdex bench` that are worth testing on their own: reading
// a bodies file (plain request bodies, or `{"name": ..., "body": ...}`
// lines as the generator writes them), timing a callable repeatedly,
// timing a list of callables round-robin (interleaved), percentiles, the
// `count` of a /paginate answer, a JSON string literal, and the process's
// resident memory.
//
// Thread safety: free functions without shared state.

#ifndef TASKDEX_BENCH_BENCH_RUNNER_H_
#define TASKDEX_BENCH_BENCH_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskdex {

// One query to run: its display name and the request body bytes.
struct BenchBody {
  std::string name;
  std::string body;
};

// One line of a bodies file. A line that is a JSON object with exactly the
// keys `name` and `body` is named: `body` is used as is when it is a string,
// else re-serialized (minified). Any other line is a plain body named
// `line<N>`. Blank lines yield nullopt.
std::optional<BenchBody> ParseBodyLine(std::string_view line, size_t line_number);

// Every non-blank line of `text`.
std::vector<BenchBody> ParseBodiesFile(std::string_view text);

// Nearest-rank percentile, q in [0, 1]: the smallest sample such that at
// least q of the samples are <= it. 0 for no samples.
double Percentile(std::vector<double> samples, double q);

// Runs `fn` once untimed (warm-up), then up to `repeat` timed runs, stopping
// early once `max_seconds` of timed runs have accumulated (at least one run).
// Returns the durations in microseconds.
std::vector<double> TimeRepeated(const std::function<void()>& fn, int repeat,
                                 double max_seconds);

// Runs every fns[i] once untimed (a warm-up round), then timed rounds that
// each call fns[0], fns[1], ..., fns[n-1] in that order: `rounds` of them,
// stopping early once `max_seconds` of timed runs have accumulated (at least
// one round). Unlike TimeRepeated, a callable never runs twice in a row, so
// each sample pays the cache misses left by the others (what a server sees
// under a mixed load). Returns per callable its durations in microseconds.
std::vector<std::vector<double>> TimeInterleaved(const std::vector<std::function<void()>>& fns,
                                                 int rounds, double max_seconds);

// `s` as a JSON string literal, quotes included (`"`, `\` and control
// characters escaped; other bytes, UTF-8 included, as they are).
std::string JsonQuote(std::string_view s);

// The top-level `count` of a /paginate response body, or nullopt.
std::optional<uint64_t> ResponseCount(std::string_view body);

// VmRSS of this process from /proc/self/status, in bytes (0 if unknown).
uint64_t ResidentBytes();

}  // namespace taskdex

#endif  // TASKDEX_BENCH_BENCH_RUNNER_H_
