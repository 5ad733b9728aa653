// engine/task_run_fields.h
//
// The keys of a task-run snapshot line and of the full TaskRun shape
// (entities.md; paginate.md 8.2 and 9.1): one enum and one name table, shared
// by the snapshot loader (which keys it reads) and the response writer (which
// keys it writes). Constants only, so safe from any thread.

#ifndef TASKDEX_ENGINE_TASK_RUN_FIELDS_H_
#define TASKDEX_ENGINE_TASK_RUN_FIELDS_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace taskdex {

enum class TaskRunField : uint8_t {
  kId,
  kCreated,
  kUpdated,
  kName,
  kFlowRunId,
  kTaskKey,
  kDynamicKey,
  kCacheKey,
  kCacheExpiration,
  kTaskVersion,
  kEmpiricalPolicy,
  kTags,
  kLabels,
  kStateId,
  kTaskInputs,
  kStateType,
  kStateName,
  kRunCount,
  kFlowRunRunCount,
  kExpectedStartTime,
  kNextScheduledStartTime,
  kStartTime,
  kEndTime,
  kTotalRunTime,
  kEstimatedRunTime,
  kEstimatedStartTimeDelta,
  kState,
  kParameters,
  kContext,
};

// JSON key of each field, by TaskRunField value.
inline constexpr std::string_view kTaskRunFieldNames[] = {
    "id",
    "created",
    "updated",
    "name",
    "flow_run_id",
    "task_key",
    "dynamic_key",
    "cache_key",
    "cache_expiration",
    "task_version",
    "empirical_policy",
    "tags",
    "labels",
    "state_id",
    "task_inputs",
    "state_type",
    "state_name",
    "run_count",
    "flow_run_run_count",
    "expected_start_time",
    "next_scheduled_start_time",
    "start_time",
    "end_time",
    "total_run_time",
    "estimated_run_time",
    "estimated_start_time_delta",
    "state",
    "parameters",
    "context",
};
inline constexpr size_t kTaskRunFieldCount = std::size(kTaskRunFieldNames);
static_assert(kTaskRunFieldCount == static_cast<size_t>(TaskRunField::kContext) + 1,
              "one name per TaskRunField");

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_TASK_RUN_FIELDS_H_
