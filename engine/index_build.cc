// engine/index_build.cc
//
// Join postings of TaskRunIndexes; see engine/index_build.h.

#include "engine/index_build.h"

#include "engine/types.h"

namespace taskdex {

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

}  // namespace taskdex
