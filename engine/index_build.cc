// engine/index_build.cc
//
// Secondary indexes of a Store; see engine/index_build.h.

#include "engine/index_build.h"

#include <algorithm>
#include <span>
#include <vector>

#include "engine/sort_spec.h"
#include "engine/types.h"

namespace taskdex {
namespace {

Bitmap NonNull(std::span<const Micros> col) {
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < col.size(); ++r) {
    if (col[r] != kNullMicros) rows.push_back(r);
  }
  Bitmap b;
  if (!rows.empty()) b.addMany(rows.size(), rows.data());
  b.runOptimize();
  b.shrinkToFit();
  return b;
}

// Postings from a single-valued column; `skip` codes (NULL) are left out.
// `codes`: a std::vector or an ArrayColumn of codes.
template <typename Column>
void BuildPostings(const Column& codes, uint32_t skip, PostingIndex* out) {
  for (uint32_t r = 0; r < codes.size(); ++r) {
    if (codes[r] != skip) out->Add(r, codes[r]);
  }
  out->Optimize();
}

void BuildPostings(const CodeLists& lists, uint32_t n, PostingIndex* out) {
  for (uint32_t r = 0; r < n; ++r) {
    std::span<const uint32_t> have = lists.Of(r);
    for (size_t i = 0; i < have.size(); ++i) {
      // A row once per distinct code (lists keep duplicates).
      if (std::find(have.begin(), have.begin() + static_cast<ptrdiff_t>(i), have[i]) ==
          have.begin() + static_cast<ptrdiff_t>(i)) {
        out->Add(r, have[i]);
      }
    }
  }
  out->Optimize();
}

void BuildTrigrams(const Dictionary& dict, TrigramIndex* out) {
  for (uint32_t c = 0; c < dict.size(); ++c) out->Add(c, dict.Get(c));
  out->Optimize();
}

// Direction and NULL placement of each order from engine/sort_spec.h.
SortedOrder::Options OrderOptions(TaskRunSort sort) {
  const SortSpec spec = SortSpecOf(sort);
  return SortedOrder::Options{spec.descending, spec.nulls_first};
}

template <typename Keys>
void BuildOrder(TaskRunSort sort, uint32_t n, const Keys& keys, SortedOrder* out) {
  *out = SortedOrder(OrderOptions(sort));
  out->Build(n, keys);
}

}  // namespace

void BuildJoinIndexes(Store& s) {
  const TaskRunTable& t = s.task_runs;
  const FlowRunTable& fr = s.flow_runs;
  TaskRunIndexes& x = s.task_run_index;
  for (RowId r = 0; r < t.size(); ++r) {
    const RowId f = t.flow_run_row[r];
    if (f == kNoRow || f >= fr.size()) continue;
    if (fr.flow_row[f] != kNoRow) x.by_flow.Add(r, fr.flow_row[f]);
    if (fr.deployment_row[f] != kNoRow) x.by_deployment.Add(r, fr.deployment_row[f]);
    if (fr.state_type[f] != kNullStateType) x.by_flow_run_state_type.Add(r, fr.state_type[f]);
  }
  x.by_flow.Optimize();
  x.by_deployment.Optimize();
  x.by_flow_run_state_type.Optimize();
  x.joins_built = true;
}

void AddIndexTasks(Store& s, bool name_trigrams, engine_internal::TaskGroup* group) {
  const TaskRunTable& t = s.task_runs;
  const uint32_t n = t.size();
  TaskRunIndexes& x = s.task_run_index;
  // Longest first (measured at 1M task runs, ~1M distinct names, session
  // 13): the trigrams of the task-run names (1.4 s) and their postings
  // (1.2 s as a bitmap per name; a counting sort into CodeRows since
  // session 14), then the sorted orders (0.1-0.6 s each: a
  // sort of every row with a UUID tie break); the rest is under 0.1 s.
  if (name_trigrams) {
    group->Add([&s] { BuildTrigrams(s.task_run_names, &s.trigrams.task_run_names); });
  }
  group->Add([&x, &t] { x.name.Build(t.name, kNullCode); });
  group->Add([&x, &t, n] {
    x.id_desc = SortedOrder(SortedOrder::Options{});  // the key is the tie-break alone
    x.id_desc.Build(n, TaskRunIdKeys{t.id});
  });
  const TaskRunTimeKeys expected{t.expected_start_time, t.id};
  const TaskRunCodeKeys names{t.name, t.id};
  group->Add([&x, n, expected] {
    BuildOrder(TaskRunSort::kExpectedStartTimeAsc, n, expected, &x.expected_start_time_asc);
  });
  group->Add([&x, n, expected] {
    BuildOrder(TaskRunSort::kExpectedStartTimeDesc, n, expected, &x.expected_start_time_desc);
  });
  group->Add([&x, n, names] { BuildOrder(TaskRunSort::kNameAsc, n, names, &x.name_asc); });
  group->Add([&x, n, names] { BuildOrder(TaskRunSort::kNameDesc, n, names, &x.name_desc); });
  group->Add([&x, &t, n] {
    BuildOrder(TaskRunSort::kNextScheduledStartTimeAsc, n,
               TaskRunTimeKeys{t.next_scheduled_start_time, t.id},
               &x.next_scheduled_start_time_asc);
  });
  group->Add([&x, &t, n] {
    BuildOrder(TaskRunSort::kEndTimeDesc, n, TaskRunTimeKeys{t.end_time, t.id},
               &x.end_time_desc);
  });
  group->Add([&s] { BuildJoinIndexes(s); });
  group->Add([&x, &t, n] { BuildPostings(t.tags, n, &x.tags); });
  group->Add([&x, &t] { BuildPostings(t.state_type, kNullStateType, &x.state_type); });
  group->Add([&x, &t] { BuildPostings(t.state_name, kNullCode, &x.state_name); });
  group->Add([&x, &t, n] {
    for (uint32_t r = 0; r < n; ++r) {
      if (!t.tags.Of(r).empty()) x.has_tags.add(r);
    }
    x.has_tags.runOptimize();
  });
  group->Add([&x, &t] { x.has_start_time = NonNull(t.start_time); });
  group->Add([&x, &t] { x.has_end_time = NonNull(t.end_time); });
  group->Add([&x, &t] { x.has_expected_start_time = NonNull(t.expected_start_time); });
  group->Add([&s] {
    const FlowRunTable& fr = s.flow_runs;
    BuildPostings(fr.state_type, kNullStateType, &s.flow_run_index.state_type);
    BuildPostings(fr.tags, fr.size(), &s.flow_run_index.tags);
  });
  if (name_trigrams) {
    group->Add([&s] { BuildTrigrams(s.flow_run_names, &s.trigrams.flow_run_names); });
    group->Add([&s] {
      BuildTrigrams(s.flow_names, &s.trigrams.flow_names);
      BuildTrigrams(s.deployment_names, &s.trigrams.deployment_names);
    });
  }
  group->Add([&s] { s.folded.task_run_names.Build(s.task_run_names); });
  group->Add([&s] {
    s.folded.flow_run_names.Build(s.flow_run_names);
    s.folded.flow_names.Build(s.flow_names);
    s.folded.deployment_names.Build(s.deployment_names);
  });
}

void FinishIndexes(Store& s, bool name_trigrams) {
  s.task_run_index.built = true;
  if (name_trigrams) s.trigrams.built = true;
}

}  // namespace taskdex
