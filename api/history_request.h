// api/history_request.h
//
// The body of POST /api/task_runs/history (paginate.md 9.4) -> a validated
// request or Prefect's error answer, and the response writer. Required:
// history_start, history_end (datetimes), history_interval_seconds (a
// number, >= 1 second); optional: the four filters. Errors come in Prefect's
// envelope (paginate.md 3.2), in declaration order: history_start,
// history_end, history_interval_seconds, flows, flow_runs, task_runs,
// deployments; then, only when the body is valid, the interval check
// 422 {"detail":"History interval must not be less than 1 second."}.
//
// Not for: the X-PREFECT-API-VERSION check or body decoding (the HTTP layer
// runs ParseJsonBody first, as for /paginate).
//
// Thread safety: pure functions of their arguments.

#ifndef TASKDEX_API_HISTORY_REQUEST_H_
#define TASKDEX_API_HISTORY_REQUEST_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "api/json_value.h"
#include "api/paginate_request.h"
#include "engine/filter_ast.h"
#include "engine/history.h"
#include "engine/version.h"
#include "engine/store.h"

namespace taskdex {

struct HistoryRequest {
  Micros start = 0;
  Micros end = 0;
  int64_t interval_micros = 1000000;
  FilterSet filters;
};

// Validates the top-level value `body` (nullptr: no body or `null`, which
// gives three `missing` errors). Returns a response only for the interval
// check; every other problem is appended to `errors` (pointers into `body`).
std::variant<HistoryRequest, ApiResponse> ValidateHistoryBody(const JsonValue* body,
                                                              ErrorList* errors);

// Bytes -> request or error response (no version check), for tests and the CLI.
std::variant<HistoryRequest, ApiResponse> ParseHistoryBody(std::string_view body_bytes,
                                                           bool body_is_json = true);

// The response: [{"interval_start":..,"interval_end":..,"states":[{"state_type",
// "state_name","count_runs","sum_estimated_run_time","sum_estimated_lateness"}]}].
void AppendHistoryJson(const std::vector<HistoryInterval>& intervals, std::string* out);

// Runs a validated request against one version and writes the 200 body.
std::string HistoryResponseJson(const Version& version, const HistoryRequest& request,
                                Micros now);

}  // namespace taskdex

#endif  // TASKDEX_API_HISTORY_REQUEST_H_
