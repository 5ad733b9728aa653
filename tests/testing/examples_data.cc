// tests/testing/examples_data.cc

#include "tests/testing/examples_data.h"

#include <utility>

namespace taskdex {
namespace examples {
namespace {

Uuid Make(uint8_t first, uint8_t last) {
  Uuid u;
  u.bytes[0] = first;
  u.bytes[6] = 0x40;
  u.bytes[8] = 0x80;
  u.bytes[15] = last;
  return u;
}

TaskRunRecord Task(int n, const char* name, std::optional<Uuid> flow_run,
                   std::vector<std::string> tags, std::optional<StateType> type,
                   std::optional<std::string> state_name, std::optional<Micros> expected,
                   std::optional<Micros> start, std::optional<Micros> end,
                   std::optional<Micros> next_scheduled) {
  TaskRunRecord t;
  t.id = T(n);
  t.name = name;
  t.task_key = name;
  t.dynamic_key = "0";
  t.flow_run_id = flow_run;
  t.tags = std::move(tags);
  t.state_type = type;
  t.state_name = std::move(state_name);
  t.expected_start_time = expected;
  t.start_time = start;
  t.end_time = end;
  t.next_scheduled_start_time = next_scheduled;
  return t;
}

}  // namespace

Uuid T(int n) { return Make(0x00, static_cast<uint8_t>(n)); }
Uuid FR(int n) { return Make(static_cast<uint8_t>(0xa0 + n), 0); }
Uuid F(int n) { return Make(static_cast<uint8_t>(0xf0 + n), 0); }
Uuid D(int n) { return Make(static_cast<uint8_t>(0xd0 + n), 0); }
Uuid Creator() { return Make(0xc0, 0); }

Micros At(int hh, int mm, int ss) {
  // 2024-05-01T00:00:00Z is 1714521600 s.
  return (Micros{1714521600} + hh * 3600 + mm * 60 + ss) * 1'000'000;
}

SnapshotRecords Records() {
  SnapshotRecords r;
  r.flows.push_back({F(1), "etl", {"prod", "db"}});
  r.flows.push_back({F(2), "ml_train", {}});
  r.flows.push_back({F(3), "Report-Daily", {"prod"}});

  DeploymentRecord d1;
  d1.id = D(1);
  d1.name = "etl-nightly";
  d1.flow_id = F(1);
  d1.paused = false;
  d1.tags = {"nightly"};
  d1.work_queue_name = "default";
  r.deployments.push_back(d1);
  DeploymentRecord d2;
  d2.id = D(2);
  d2.name = "report_main";
  d2.flow_id = F(3);
  d2.paused = true;
  d2.tags = {};
  d2.work_queue_name = std::nullopt;
  r.deployments.push_back(d2);

  FlowRunRecord fr1;
  fr1.id = FR(1);
  fr1.name = "happy-otter";
  fr1.flow_id = F(1);
  fr1.deployment_id = D(1);
  fr1.tags = {"prod"};
  fr1.state_type = StateType::kCompleted;
  fr1.state_name = "Completed";
  fr1.work_queue_name = "default";
  fr1.has_created_by = true;
  fr1.created_by_id = "c0000000-0000-4000-8000-000000000000";
  fr1.created_by_type = "DEPLOYMENT";
  r.flow_runs.push_back(fr1);
  FlowRunRecord fr2;
  fr2.id = FR(2);
  fr2.name = "sad-llama";
  fr2.flow_id = F(2);
  fr2.tags = {};
  fr2.state_type = StateType::kFailed;
  fr2.state_name = "Failed";
  r.flow_runs.push_back(fr2);
  FlowRunRecord fr3;
  fr3.id = FR(3);
  fr3.name = "quick-fox";
  fr3.flow_id = F(3);
  fr3.deployment_id = D(2);
  fr3.tags = {"prod", "eu"};
  fr3.state_type = StateType::kRunning;
  fr3.state_name = "Running";
  fr3.parent_task_run_id = T(2);
  r.flow_runs.push_back(fr3);
  FlowRunRecord fr4;
  fr4.id = FR(4);
  fr4.name = "lone-wolf";
  fr4.flow_id = F(1);
  fr4.deployment_id = D(9);  // deleted: dangling
  fr4.tags = {"nightly"};
  fr4.state_type = StateType::kCompleted;
  fr4.state_name = "Completed";
  r.flow_runs.push_back(fr4);

  const std::nullopt_t null = std::nullopt;
  r.task_runs.push_back(Task(1, "extract_a", FR(1), {"io"}, StateType::kCompleted, "Completed",
                             At(10, 0), At(10, 0, 5), At(10, 1), null));
  r.task_runs.push_back(Task(2, "extract-b", FR(1), {"io", "slow"}, StateType::kCompleted,
                             "Cached", At(10, 2), At(10, 2), At(10, 5), null));
  r.task_runs.push_back(Task(3, "Transform", FR(2), {}, StateType::kFailed, "Failed", At(10, 3),
                             At(10, 3), At(10, 4), null));
  r.task_runs.push_back(Task(4, "load", FR(3), {}, StateType::kRunning, "Running", At(10, 4),
                             At(10, 4), null, null));
  r.task_runs.push_back(
      Task(5, "notify", null, {"adhoc"}, StateType::kPending, "Pending", null, null, null, null));
  r.task_runs.push_back(Task(6, "extractXa", FR(4), {"io"}, StateType::kScheduled, "Scheduled",
                             At(10, 10), null, null, At(10, 10)));
  r.task_runs.push_back(
      Task(7, "cleanup", FR(2), {}, null, null, At(10, 3), null, At(10, 4), null));
  return r;
}

}  // namespace examples
}  // namespace taskdex
