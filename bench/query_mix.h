// bench/query_mix.h
//
// The request bodies `taskdex generate --queries` writes: POST
// /api/task_runs/paginate bodies shaped like the Prefect UI's calls, plus the
// shapes that stress a planner on realistic data (short and mixed-case
// `like_`, `like_` next to a selective leaf, `or_` at task-run, flow-run and
// deployment level, subflow `exists_` with a flow-run time range, dense
// results under each of the 7 sorts, deep pages of filtered results).
//
// The generator (bench/generator.cc) collects the values the bodies need from
// its world (ids, names, tags, times) into QueryMixFacts, so every body refers
// to something in the data; this file only formats them. Each body is valid
// by paginate.md (fields and operators of each filter class, limit <= 200,
// page >= 1).
//
// Output: one {"name": ..., "body": ...} per line. The bodies of the first
// mix (28, up to "sort_end_time_desc") come first and unchanged, so a
// legacy-shape data set gets the same first lines as before.
//
// Thread safety: a pure function.

#ifndef TASKDEX_BENCH_QUERY_MIX_H_
#define TASKDEX_BENCH_QUERY_MIX_H_

#include <cstdint>
#include <string>
#include <vector>

namespace taskdex {

struct QueryMixFacts {
  uint64_t task_runs = 0;
  // A top-level flow run (with a deployment) holding many task runs, and the
  // ids and names of its own task runs, in file order.
  std::string big_flow_run_id;
  std::vector<std::string> big_task_ids, big_task_names;
  std::string common_name;      // a step name of the most used flow
  std::string rare_name;        // the step name whose like_ matches fewest runs
  std::string mixed_flow, second_flow, like_flow;  // flow names / a flow-name fragment
  std::string dep1, dep2;       // ids of the two most used deployments
  std::vector<std::string> tags;  // the tag vocabulary, commonest first
  std::string paused_tag;       // a tag of a paused deployment that has runs
  std::string now_text, day_ago, two_days_ago, week_ago;
  std::string subflow_after, subflow_before;  // a range holding a subflow's parent
  std::string dated_fragment;   // "YYYY-MM-DD" inside templated names; empty: none
};

// The whole file's text.
std::string QueryMixFile(const QueryMixFacts& facts);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_QUERY_MIX_H_
