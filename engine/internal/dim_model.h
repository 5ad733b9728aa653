// engine/internal/dim_model.h
//
// The live store writer's model of the small tables: every flow run, flow
// and deployment as a record, with the reverse lookups a mutation's
// cascades and moves need (engine/live_store.h), and the closure of a set
// of task runs: the dimension rows a segment must carry for them.
//
// Records are shared_ptr<const>: a closure copies pointers, not rows.
//
// Thread safety: none; the live store's writer mutex guards it.

#ifndef TASKDEX_ENGINE_INTERNAL_DIM_MODEL_H_
#define TASKDEX_ENGINE_INTERNAL_DIM_MODEL_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/records.h"
#include "engine/store.h"
#include "engine/types.h"

namespace taskdex::engine_internal {

template <typename T>
using RecordPtr = std::shared_ptr<const T>;
using IdSet = absl::flat_hash_set<Uuid>;

class DimModel {
 public:
  // Every flow, deployment and flow run of `store`.
  static DimModel FromStore(const Store& store);

  const FlowRunRecord* FlowRun(const Uuid& id) const;
  const FlowRecord* Flow(const Uuid& id) const;
  const DeploymentRecord* Deployment(const Uuid& id) const;

  // Put replaces the row with the same id; Erase is a no-op when absent.
  void PutFlowRun(FlowRunRecord r);
  void EraseFlowRun(const Uuid& id);
  void PutFlow(FlowRecord r);
  void EraseFlow(const Uuid& id);
  void PutDeployment(DeploymentRecord r);
  void EraseDeployment(const Uuid& id);

  // Reverse lookups (copies: callers mutate the model while iterating).
  std::vector<Uuid> FlowRunsOfFlow(const Uuid& flow) const;
  std::vector<Uuid> FlowRunsOfDeployment(const Uuid& deployment) const;
  std::vector<Uuid> DeploymentsOfFlow(const Uuid& flow) const;
  std::vector<Uuid> ChildFlowRuns(const Uuid& task_run) const;
  // Task runs some flow run names as parent_task_run_id.
  const absl::flat_hash_map<Uuid, IdSet>& children_by_parent() const { return children_; }

  size_t flow_runs() const { return flow_runs_.size(); }
  // Every record held (pointers: cheap to take under the writer's lock),
  // for a checkpoint (LiveStore::Checkpoint).
  struct Records {
    std::vector<RecordPtr<FlowRecord>> flows;
    std::vector<RecordPtr<DeploymentRecord>> deployments;
    std::vector<RecordPtr<FlowRunRecord>> flow_runs;
  };
  Records AllRecords() const;

  // The dimension rows of a segment (engine/live_store.h, "closure").
  struct Closure {
    absl::flat_hash_map<Uuid, RecordPtr<FlowRunRecord>> flow_runs;
    absl::flat_hash_map<Uuid, RecordPtr<FlowRecord>> flows;
    absl::flat_hash_map<Uuid, RecordPtr<DeploymentRecord>> deployments;
    // parent_task_run_id of the flow runs above.
    IdSet parents;
  };
  // Adds the closure of a task run with this id and flow run.
  void AddTaskRunClosure(const Uuid& task_run, const std::optional<Uuid>& flow_run,
                         Closure* c) const;

 private:
  void AddFlowRunClosure(const Uuid& id, Closure* c) const;
  void AddFlowClosure(const Uuid& id, Closure* c) const;

  absl::flat_hash_map<Uuid, RecordPtr<FlowRunRecord>> flow_runs_;
  absl::flat_hash_map<Uuid, RecordPtr<FlowRecord>> flows_;
  absl::flat_hash_map<Uuid, RecordPtr<DeploymentRecord>> deployments_;
  absl::flat_hash_map<Uuid, IdSet> runs_of_flow_;
  absl::flat_hash_map<Uuid, IdSet> runs_of_deployment_;
  absl::flat_hash_map<Uuid, IdSet> deployments_of_flow_;
  absl::flat_hash_map<Uuid, IdSet> children_;
};

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_DIM_MODEL_H_
