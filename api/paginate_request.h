// api/paginate_request.h
//
// The body of `POST /api/task_runs/paginate` (and of its siblings /filter and
// /count) -> a typed, validated query, or the exact error response Prefect
// would give (paginate.md 1.1, 2, 3, 4.4-4.7): the `{"detail":...}` limit
// errors first, then pydantic's validation errors in Prefect's envelope
// (`exception_message`, `exception_detail`, `request_body`), with pydantic's
// coercions (integer strings, boolean strings, Unix-time datetimes, ...).
//
// Not for: HTTP framing or headers (the X-PREFECT-API-VERSION check and
// content-type sniffing belong to the HTTP layer, which tells this module
// whether the body is JSON), or evaluating the filters (engine/).
//
// Errors are collected, never thrown; every function here is a pure function
// of its arguments and thread-safe.

#ifndef TASKDEX_API_PAGINATE_REQUEST_H_
#define TASKDEX_API_PAGINATE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/json_value.h"
#include "engine/filter_ast.h"

namespace taskdex {

// A complete HTTP answer: status and JSON body.
struct ApiResponse {
  int status = 200;
  std::string body;
};

// A validated /paginate request.
struct PaginateRequest {
  // query.offset = (page - 1) * limit, saturated at UINT64_MAX.
  PaginateQuery query;
  // The effective page as exact decimal text ("1" by default), for the
  // response's `page` echo; it may exceed 64 bits.
  std::string page_text = "1";
};

// How a body reached us.
struct RequestOptions {
  // False when the request had a body whose Content-Type is not JSON
  // (paginate.md 1.1 step 3): the body is ignored and every field takes its
  // default. The CLI always passes true.
  bool body_is_json = true;
  // PREFECT_SERVER_API_DEFAULT_LIMIT: the default and the maximum `limit`.
  int64_t default_limit = kDefaultLimit;
};

// Parses and validates a /paginate body. 0 bytes (or a top-level `null`)
// means all defaults. Returns the query, or the response to send: 400 for an
// undecodable body, 422 with `{"detail":...}` for a limit out of range, 422
// in Prefect's envelope for malformed JSON or validation errors.
std::variant<PaginateRequest, ApiResponse> ParsePaginateBody(std::string_view body_bytes,
                                                             const RequestOptions& options = {});

// ---------------------------------------------------------------------------
// The pieces, for the HTTP layer's other endpoints.

// Which top-level keys an endpoint reads. Errors come in this order: limit
// (a dependency, solved first), sort, page or offset, flows, flow_runs,
// task_runs, deployments (paginate.md 3.2).
enum class BodyKind : uint8_t {
  kPaginate,  // sort, limit, page, the four filters
  kFilter,    // sort, limit, offset (>= 0), the four filters (paginate.md 9.1)
  kCount,     // the four filters only (paginate.md 9.2)
};

// The validated top-level fields; those the BodyKind lacks keep defaults.
struct RequestFields {
  TaskRunSort sort = TaskRunSort::kIdDesc;
  int64_t limit = kDefaultLimit;
  // kPaginate: the page as exact decimal text, and (page - 1) * limit
  // saturated; kFilter: `offset`, saturated at UINT64_MAX.
  std::string page_text = "1";
  uint64_t offset = 0;
  FilterSet filters;
};

// Bytes -> fields or error response, for any BodyKind. An HTTP handler must
// check X-PREFECT-API-VERSION after the JSON parse and before the limit check
// (paginate.md 1.2); it composes ParseJsonBody, JsonErrorResponse,
// ValidateBody and ValidationErrorResponse itself, exactly as this does.
std::variant<RequestFields, ApiResponse> ParseRequestBody(std::string_view body_bytes,
                                                          BodyKind kind,
                                                          const RequestOptions& options = {});

// One element of an error's `loc` after the leading "body": a key or a list
// index.
using LocElement = std::variant<std::string, size_t>;

// One pydantic error as Prefect reports it.
struct ValidationError {
  std::string type;           // "int_parsing", "extra_forbidden", ...
  std::vector<LocElement> loc;  // without the leading "body"
  std::string msg;
  const JsonValue* input = nullptr;  // nullptr is written as `null`
  std::string ctx;                   // a JSON object's text, or empty for no `ctx`
};
using ErrorList = std::vector<ValidationError>;

// Validates the four filter keys of a top-level object (`flows`, `flow_runs`,
// `task_runs`, `deployments`, in that order), appending errors. Other keys
// are ignored. REQUIRES: body.is_object(). `errors` keeps pointers into
// `body`: render them before `body` dies.
void ValidateFilterSet(const JsonValue& body, FilterSet* out, ErrorList* errors);

// Validates the top-level object `body` (nullptr: no body or `null`) for
// `kind`. Returns a response only for the limit range check (paginate.md
// 3.1); every other problem is appended to `errors`.
std::variant<RequestFields, ApiResponse> ValidateBody(const JsonValue* body, BodyKind kind,
                                                      int64_t default_limit, ErrorList* errors);

// Validates `value`, the top-level field `key`, as a pydantic datetime (the
// coercions of paginate.md 2.2), appending an error at ["body", key] on
// failure (for the /history body, api/history_request.h).
std::optional<Micros> ValidateDatetimeField(const JsonValue& value, std::string_view key,
                                            ErrorList* errors);

// The 422 envelope: {"exception_message":"Invalid request received.",
// "exception_detail":[...],"request_body":<request_body echoed>}.
ApiResponse ValidationErrorResponse(const ErrorList& errors, const JsonValue& request_body);

// The answer for a body ParseJsonBody rejected: 400 for kBadBody, 422
// json_invalid for kMalformed. REQUIRES: result.status != kOk.
ApiResponse JsonErrorResponse(const JsonParseResult& result);

// `{"detail":"<detail>"}` with `status`.
ApiResponse DetailResponse(int status, std::string_view detail);

}  // namespace taskdex

#endif  // TASKDEX_API_PAGINATE_REQUEST_H_
