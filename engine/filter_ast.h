// engine/filter_ast.h
//
// The typed query: the four filter objects of a request exactly as the client
// sent them, after validation (api/paginate_request.h builds them). The shape
// mirrors Prefect's filter classes one to one (paginate.md 4.4-4.7); the
// meaning of each field (empty lists, absent vs null, state-node quirks, the
// flow_run_id.is_null_ default) is applied by whoever evaluates the AST --
// the executor, and independently the test-only reference evaluator -- so
// the AST itself carries no interpretation.
//
// Conventions:
//  - std::optional<X> sub-filter: nullopt means the key was absent or null.
//  - List<T>: nullopt means absent/null; an engaged empty vector means `[]`.
//  - `op` is the class's `operator`; classes without one keep kAnd.
//  - Strings are exact UTF-8 as sent. No store pointers, no dictionary codes.

#ifndef TASKDEX_ENGINE_FILTER_AST_H_
#define TASKDEX_ENGINE_FILTER_AST_H_

#include <optional>
#include <string>
#include <vector>

#include "engine/types.h"

namespace taskdex {

enum class BoolOp : uint8_t { kAnd, kOr };

template <typename T>
using List = std::optional<std::vector<T>>;

// *FilterId: any_, not_any_ (TaskRunFilterId has no not_any_; it stays nullopt).
struct IdFilter {
  List<Uuid> any;
  List<Uuid> not_any;
};

// *FilterName, DeploymentOrFlowNameFilter (like only).
struct NameFilter {
  List<std::string> any;
  std::optional<std::string> like;
};

// *FilterTags. Task-run and flow tags have no any_ (stays nullopt).
struct TagsFilter {
  BoolOp op = BoolOp::kAnd;
  List<std::string> all;
  List<std::string> any;
  std::optional<bool> is_null;
};

// Datetime filters: before_/after_ inclusive; is_null_ where the class has it.
struct TimeFilter {
  std::optional<Micros> before;
  std::optional<Micros> after;
  std::optional<bool> is_null;
};

// String-valued column filters: work_queue_name, flow_version,
// idempotency_key, state name. Unused fields stay nullopt.
struct StringsFilter {
  BoolOp op = BoolOp::kAnd;
  List<std::string> any;
  List<std::string> not_any;
  std::optional<bool> is_null;
};

struct StateTypesFilter {
  List<StateType> any;
  List<StateType> not_any;  // flow runs only
};

// TaskRunFilterState / FlowRunFilterState (paginate.md 4.1, state nodes).
struct StateFilter {
  BoolOp op = BoolOp::kAnd;
  std::optional<StateTypesFilter> type;
  std::optional<StringsFilter> name;  // any (and not_any for flow runs)
};

// Nullable UUID reference columns: deployment_id, parent_task_run_id,
// parent_flow_run_id (any only), task_runs.flow_run_id.
struct UuidRefFilter {
  BoolOp op = BoolOp::kAnd;
  List<Uuid> any;
  std::optional<bool> is_null;
};

struct SubflowRunsFilter {
  std::optional<bool> exists;
};

struct CreatedByFilter {
  BoolOp op = BoolOp::kAnd;
  List<Uuid> id;          // id_
  List<std::string> type;  // type_
  std::optional<bool> is_null;
};

struct FlowDeploymentFilter {  // FlowFilterDeployment
  BoolOp op = BoolOp::kAnd;
  std::optional<bool> is_null;
};

struct PausedFilter {
  std::optional<bool> eq;
};

// TaskRunFilter (paginate.md 4.4), fields in criteria order.
struct TaskRunFilter {
  BoolOp op = BoolOp::kAnd;
  std::optional<IdFilter> id;
  std::optional<NameFilter> name;
  std::optional<TagsFilter> tags;
  std::optional<StateFilter> state;
  std::optional<TimeFilter> start_time;
  std::optional<TimeFilter> end_time;
  std::optional<TimeFilter> expected_start_time;
  std::optional<SubflowRunsFilter> subflow_runs;
  // TaskRunFilterFlowRunId: the parser sets is_null = false when the key
  // `is_null_` is absent (Prefect's default) and nullopt only for an
  // explicit null (paginate.md 4.4.9).
  std::optional<UuidRefFilter> flow_run_id;
};

// FlowRunFilter (paginate.md 4.5), fields in criteria order.
struct FlowRunFilter {
  BoolOp op = BoolOp::kAnd;
  std::optional<IdFilter> id;
  std::optional<NameFilter> name;
  std::optional<TagsFilter> tags;
  std::optional<UuidRefFilter> deployment_id;
  std::optional<StringsFilter> work_queue_name;
  std::optional<StringsFilter> flow_version;  // any only
  std::optional<StateFilter> state;
  std::optional<TimeFilter> start_time;
  std::optional<TimeFilter> end_time;
  std::optional<TimeFilter> expected_start_time;
  std::optional<TimeFilter> next_scheduled_start_time;
  std::optional<UuidRefFilter> parent_flow_run_id;  // any only
  std::optional<UuidRefFilter> parent_task_run_id;
  std::optional<StringsFilter> idempotency_key;  // any, not_any
  std::optional<CreatedByFilter> created_by;
};

// FlowFilter (paginate.md 4.6).
struct FlowFilter {
  BoolOp op = BoolOp::kAnd;
  std::optional<IdFilter> id;
  std::optional<FlowDeploymentFilter> deployment;
  std::optional<NameFilter> name;
  std::optional<TagsFilter> tags;  // all, is_null
};

// DeploymentFilter (paginate.md 4.7). concurrency_limit is validated by the
// parser and never evaluated; only its presence is recorded.
struct DeploymentFilter {
  BoolOp op = BoolOp::kAnd;
  std::optional<IdFilter> id;
  std::optional<NameFilter> name;
  std::optional<NameFilter> flow_or_deployment_name;  // like only
  std::optional<PausedFilter> paused;
  std::optional<TagsFilter> tags;  // all, any, is_null
  std::optional<StringsFilter> work_queue_name;  // any only
  bool has_concurrency_limit = false;
};

// The four top-level filters of a request (paginate.md 5).
struct FilterSet {
  std::optional<FlowFilter> flows;
  std::optional<FlowRunFilter> flow_runs;
  std::optional<TaskRunFilter> task_runs;
  std::optional<DeploymentFilter> deployments;
};

// A validated /paginate request, as the engine needs it.
struct PaginateQuery {
  FilterSet filters;
  TaskRunSort sort = TaskRunSort::kIdDesc;
  int64_t limit = kDefaultLimit;  // 0..200
  // (page - 1) * limit, saturated at UINT64_MAX (page may exceed 64 bits).
  uint64_t offset = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_FILTER_AST_H_
