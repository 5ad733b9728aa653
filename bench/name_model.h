// bench/name_model.h
//
// The vocabularies behind the generator's realistic names (bench/generator.h,
// GenerateShape::kRealistic): task names, the task-run name templates some
// tasks use, and the adjective and noun lists of flow-run names.
//
// Prefect 3 names a task run "<task name>-<first 3 characters of its dynamic
// key>" (the key is a random UUID), unless the task sets `task_run_name`,
// which users template with parameters and dates ("load-{date}-customer-{id}").
// Flow runs get "<adjective>-<noun>" from a list of thousands of words. The
// words here are procedural (syllables), not a copy of Prefect's lists; the
// first entries of each list are real words, so "crimson-otter" occurs.
//
// Conventions: every function is a pure function of its arguments (seed
// included); every string is lowercase ASCII letters, digits, '_' or '-' and
// needs no JSON escaping, except that about 15% of task names start with a
// capital (Prefect keeps the user's spelling).
//
// Thread safety: pure functions; safe from any thread.

#ifndef TASKDEX_BENCH_NAME_MODEL_H_
#define TASKDEX_BENCH_NAME_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace taskdex {

// How a task's runs are named.
enum class NameTemplate : uint8_t {
  kSuffix,     // "<task>-<suffix>" (Prefect's default)
  kDateParam,  // "<task>-<YYYY-MM-DD>-<param>-<n>", e.g. "load_orders-2026-11-03-customer-1842"
  kParam,      // "<task>-<param>-<n>", e.g. "resize_image-file-83412"
  kDate,       // "<task>-<YYYY-MM-DD>", e.g. "Build_report-2026-11-03"
};

struct TaskNameSpec {
  std::string name;      // the task's name, the prefix of its runs' names
  NameTemplate tmpl = NameTemplate::kSuffix;
  uint8_t param = 0;     // index into TemplateParams() (kDateParam, kParam)
  uint32_t values = 1;   // <n> is uniform in [0, values) (kDateParam, kParam)
};

// `n` distinct task names ("fetch_orders", "Score_leads_v2", ...) in a
// seed-dependent order.
std::vector<std::string> TaskNameVocabulary(uint64_t seed, size_t n);

// The template of a task name, from 64 random bits: a mapped task (one that
// fans out over inputs) uses a template about 70% of the time
// (kDateParam with 10^3..10^5 values, kParam with 10^4..10^6), another task
// about 15%.
TaskNameSpec DrawTemplate(std::string name, bool mapped, uint64_t random);

// The parameter words of the templates ("customer", "region", ...).
std::span<const char* const> TemplateParams();

// `n` distinct adjectives / nouns for flow-run names, the first ones real
// words ("crimson", "otter"), the rest procedural ("brivous", "talmer").
std::vector<std::string> FlowRunAdjectives(uint64_t seed, size_t n);
std::vector<std::string> FlowRunNouns(uint64_t seed, size_t n);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_NAME_MODEL_H_
