#include "engine/internal/dim_model.h"

#include <utility>

#include "engine/store_rows.h"

namespace taskdex::engine_internal {
namespace {

void Link(absl::flat_hash_map<Uuid, IdSet>& m, const Uuid& key, const Uuid& id) {
  m[key].insert(id);
}

void Unlink(absl::flat_hash_map<Uuid, IdSet>& m, const Uuid& key, const Uuid& id) {
  auto it = m.find(key);
  if (it == m.end()) return;
  it->second.erase(id);
  if (it->second.empty()) m.erase(it);
}

std::vector<Uuid> Members(const absl::flat_hash_map<Uuid, IdSet>& m, const Uuid& key) {
  auto it = m.find(key);
  if (it == m.end()) return {};
  return std::vector<Uuid>(it->second.begin(), it->second.end());
}

template <typename T>
const T* Lookup(const absl::flat_hash_map<Uuid, RecordPtr<T>>& m, const Uuid& id) {
  auto it = m.find(id);
  return it == m.end() ? nullptr : it->second.get();
}

}  // namespace

DimModel DimModel::FromStore(const Store& store) {
  DimModel m;
  for (RowId r = 0; r < store.flows.size(); ++r) m.PutFlow(ReadFlowRecord(store, r));
  for (RowId r = 0; r < store.deployments.size(); ++r) {
    m.PutDeployment(ReadDeploymentRecord(store, r));
  }
  for (RowId r = 0; r < store.flow_runs.size(); ++r) m.PutFlowRun(ReadFlowRunRecord(store, r));
  return m;
}

DimModel::Records DimModel::AllRecords() const {
  Records out;
  out.flows.reserve(flows_.size());
  for (const auto& [id, r] : flows_) out.flows.push_back(r);
  out.deployments.reserve(deployments_.size());
  for (const auto& [id, r] : deployments_) out.deployments.push_back(r);
  out.flow_runs.reserve(flow_runs_.size());
  for (const auto& [id, r] : flow_runs_) out.flow_runs.push_back(r);
  return out;
}

const FlowRunRecord* DimModel::FlowRun(const Uuid& id) const { return Lookup(flow_runs_, id); }
const FlowRecord* DimModel::Flow(const Uuid& id) const { return Lookup(flows_, id); }
const DeploymentRecord* DimModel::Deployment(const Uuid& id) const {
  return Lookup(deployments_, id);
}

void DimModel::PutFlowRun(FlowRunRecord r) {
  EraseFlowRun(r.id);
  const Uuid id = r.id;
  Link(runs_of_flow_, r.flow_id, id);
  if (r.deployment_id) Link(runs_of_deployment_, *r.deployment_id, id);
  if (r.parent_task_run_id) Link(children_, *r.parent_task_run_id, id);
  flow_runs_[id] = std::make_shared<const FlowRunRecord>(std::move(r));
}

void DimModel::EraseFlowRun(const Uuid& id) {
  auto it = flow_runs_.find(id);
  if (it == flow_runs_.end()) return;
  const FlowRunRecord& r = *it->second;
  Unlink(runs_of_flow_, r.flow_id, id);
  if (r.deployment_id) Unlink(runs_of_deployment_, *r.deployment_id, id);
  if (r.parent_task_run_id) Unlink(children_, *r.parent_task_run_id, id);
  flow_runs_.erase(it);
}

void DimModel::PutFlow(FlowRecord r) {
  const Uuid id = r.id;
  flows_[id] = std::make_shared<const FlowRecord>(std::move(r));
}

void DimModel::EraseFlow(const Uuid& id) { flows_.erase(id); }

void DimModel::PutDeployment(DeploymentRecord r) {
  EraseDeployment(r.id);
  const Uuid id = r.id;
  Link(deployments_of_flow_, r.flow_id, id);
  deployments_[id] = std::make_shared<const DeploymentRecord>(std::move(r));
}

void DimModel::EraseDeployment(const Uuid& id) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return;
  Unlink(deployments_of_flow_, it->second->flow_id, id);
  deployments_.erase(it);
}

std::vector<Uuid> DimModel::FlowRunsOfFlow(const Uuid& flow) const {
  return Members(runs_of_flow_, flow);
}
std::vector<Uuid> DimModel::FlowRunsOfDeployment(const Uuid& deployment) const {
  return Members(runs_of_deployment_, deployment);
}
std::vector<Uuid> DimModel::DeploymentsOfFlow(const Uuid& flow) const {
  return Members(deployments_of_flow_, flow);
}
std::vector<Uuid> DimModel::ChildFlowRuns(const Uuid& task_run) const {
  return Members(children_, task_run);
}

void DimModel::AddTaskRunClosure(const Uuid& task_run, const std::optional<Uuid>& flow_run,
                                 Closure* c) const {
  if (flow_run) AddFlowRunClosure(*flow_run, c);
  auto it = children_.find(task_run);
  if (it != children_.end()) {
    for (const Uuid& child : it->second) AddFlowRunClosure(child, c);
  }
}

void DimModel::AddFlowRunClosure(const Uuid& id, Closure* c) const {
  auto it = flow_runs_.find(id);
  if (it == flow_runs_.end() || c->flow_runs.contains(id)) return;
  c->flow_runs.emplace(id, it->second);
  const FlowRunRecord& r = *it->second;
  AddFlowClosure(r.flow_id, c);
  if (r.deployment_id) {
    auto d = deployments_.find(*r.deployment_id);
    if (d != deployments_.end()) {
      c->deployments.emplace(d->first, d->second);
      AddFlowClosure(d->second->flow_id, c);
    }
  }
  if (r.parent_task_run_id) c->parents.insert(*r.parent_task_run_id);
}

void DimModel::AddFlowClosure(const Uuid& id, Closure* c) const {
  auto it = flows_.find(id);
  if (it != flows_.end()) {
    if (!c->flows.emplace(id, it->second).second) return;
  } else if (c->flows.contains(id)) {
    return;
  }
  // One deployment of the flow is enough for `deployment.is_null_` (has
  // the flow a deployment at all): deployment filters read the flow run's
  // own deployment, which the caller adds.
  auto ds = deployments_of_flow_.find(id);
  if (ds == deployments_of_flow_.end() || ds->second.empty()) return;
  const Uuid& d = *ds->second.begin();
  c->deployments.emplace(d, deployments_.at(d));
}

}  // namespace taskdex::engine_internal
