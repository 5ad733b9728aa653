// engine/records.h
//
// Plain row structs: one per entity, exactly the fields of entities.md 2,
// already validated and normalized. The snapshot loader produces them, the
// StoreBuilder turns them into columns, and the test-only reference evaluator
// (tests/testing/) filters them with obvious code. This header is the only
// thing the reference shares with the engine.
//
// Opaque sub-documents are minified JSON text, normalized as entities.md 2.1
// says, ready to be spliced into a response.

#ifndef TASKDEX_ENGINE_RECORDS_H_
#define TASKDEX_ENGINE_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/types.h"

namespace taskdex {

struct TaskRunRecord {
  Uuid id;
  std::optional<Micros> created;
  std::optional<Micros> updated;
  std::string name;
  std::optional<Uuid> flow_run_id;
  std::string task_key;
  std::string dynamic_key;
  std::optional<std::string> cache_key;
  std::optional<Micros> cache_expiration;
  std::optional<std::string> task_version;
  // TaskRunPolicy normalized (paginate.md 8.4), e.g.
  // {"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null}
  std::string empirical_policy_json;
  std::vector<std::string> tags;
  std::string labels_json = "{}";  // verbatim object, or "null"
  std::optional<Uuid> state_id;
  std::string task_inputs_json = "{}";  // normalized (paginate.md 8.5)
  std::optional<StateType> state_type;
  std::optional<std::string> state_name;
  int64_t run_count = 0;
  int64_t flow_run_run_count = 0;
  std::optional<Micros> expected_start_time;
  std::optional<Micros> next_scheduled_start_time;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  int64_t total_run_time_us = 0;  // total_run_time, in microseconds
  // The normalized `state` object (paginate.md 8.3), or "null".
  std::string state_json = "null";
  // state.timestamp when `state` is non-null (entities.md 2.1).
  std::optional<Micros> state_timestamp;
  // A SCHEDULED state whose state_details.scheduled_time is null gets the
  // request's `now` on output (paginate.md 8.3). When that applies, this is
  // the byte offset in state_json of that `null` (4 bytes), else -1.
  int32_t state_scheduled_time_null_offset = -1;
  // `parameters` and `context` objects of the line, minified; "{}" if absent.
  std::string parameters_json = "{}";
  std::string context_json = "{}";
  // Unknown keys of the line, in line order, as `,"key":value,"key2":value`
  // (leading comma; empty when none), values verbatim and minified.
  std::string extras_json;

  bool operator==(const TaskRunRecord&) const = default;
};

struct FlowRunRecord {
  Uuid id;
  Uuid flow_id;
  std::string name;
  std::optional<Uuid> deployment_id;
  std::optional<std::string> work_queue_name;
  std::optional<std::string> flow_version;
  std::optional<std::string> idempotency_key;
  std::vector<std::string> tags;
  // `created_by` (entities.md 2.2): has_created_by is false for null/absent.
  // created_by_id / created_by_type hold the text of the `id` / `type` keys
  // (a non-string JSON value is kept as its minified JSON text); nullopt for
  // a missing or null key.
  bool has_created_by = false;
  std::optional<std::string> created_by_id;
  std::optional<std::string> created_by_type;
  std::optional<StateType> state_type;
  std::optional<std::string> state_name;
  std::optional<Micros> expected_start_time;
  std::optional<Micros> next_scheduled_start_time;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::optional<Uuid> parent_task_run_id;

  bool operator==(const FlowRunRecord&) const = default;
};

struct FlowRecord {
  Uuid id;
  std::string name;
  std::vector<std::string> tags;

  bool operator==(const FlowRecord&) const = default;
};

struct DeploymentRecord {
  Uuid id;
  std::string name;
  Uuid flow_id;
  bool paused = false;
  std::vector<std::string> tags;
  std::optional<std::string> work_queue_name;

  bool operator==(const DeploymentRecord&) const = default;
};

// Every record of a data set, ids unique within each vector.
struct SnapshotRecords {
  std::vector<FlowRecord> flows;
  std::vector<DeploymentRecord> deployments;
  std::vector<FlowRunRecord> flow_runs;
  std::vector<TaskRunRecord> task_runs;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_RECORDS_H_
