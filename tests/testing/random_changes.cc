// tests/testing/random_changes.cc

#include "tests/testing/random_changes.h"

#include <optional>
#include <utility>

namespace taskdex {
namespace {

template <typename R>
Uuid SomeId(TestRng& rng, const std::vector<R>& rows) {
  if (rows.empty() || rng.Percent(15)) return NewId(rng);
  return rng.Pick(rows).id;
}

}  // namespace

Uuid NewId(TestRng& rng) {
  Uuid u;
  for (auto& b : u.bytes) b = static_cast<uint8_t>(rng.Next());
  return u;
}

// One random change: row contents come from a fresh random data set, ids
// and references from the model (existing, new or dangling).
Change RandomChange(TestRng& rng, const SnapshotRecords& m, const SnapshotRecords& pool) {
  Change c;
  const uint64_t kind = rng.Uniform(100);
  c.op = rng.Percent(20) ? ChangeOp::kDelete : ChangeOp::kUpsert;
  if (kind < 60 && !pool.task_runs.empty()) {
    c.entity = EntityKind::kTaskRun;
    c.id = SomeId(rng, m.task_runs);
    if (c.op == ChangeOp::kUpsert) {
      TaskRunRecord t = rng.Pick(pool.task_runs);
      t.id = c.id;
      if (rng.Percent(85)) {
        t.flow_run_id = m.flow_runs.empty() || rng.Percent(10) ? std::optional<Uuid>(NewId(rng))
                                                               : rng.Pick(m.flow_runs).id;
      }
      c.row = std::move(t);
    }
  } else if (kind < 85 && !pool.flow_runs.empty()) {
    c.entity = EntityKind::kFlowRun;
    c.id = SomeId(rng, m.flow_runs);
    if (c.op == ChangeOp::kUpsert) {
      FlowRunRecord r = rng.Pick(pool.flow_runs);
      r.id = c.id;
      r.flow_id = SomeId(rng, m.flows);
      if (rng.Percent(60)) r.deployment_id = SomeId(rng, m.deployments);
      if (rng.Percent(30)) r.parent_task_run_id = SomeId(rng, m.task_runs);
      c.row = std::move(r);
    }
  } else if (kind < 93 && !pool.deployments.empty()) {
    c.entity = EntityKind::kDeployment;
    c.id = SomeId(rng, m.deployments);
    if (c.op == ChangeOp::kUpsert) {
      DeploymentRecord d = rng.Pick(pool.deployments);
      d.id = c.id;
      d.flow_id = SomeId(rng, m.flows);
      c.row = std::move(d);
    }
  } else if (!pool.flows.empty()) {
    c.entity = EntityKind::kFlow;
    c.id = SomeId(rng, m.flows);
    if (c.op == ChangeOp::kUpsert) {
      FlowRecord f = rng.Pick(pool.flows);
      f.id = c.id;
      c.row = std::move(f);
    }
  } else {
    c.op = ChangeOp::kDelete;
    c.entity = EntityKind::kTaskRun;
    c.id = NewId(rng);
  }
  return c;
}

}  // namespace taskdex
