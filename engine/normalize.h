// engine/normalize.h
//
// Normalization of the opaque task-run sub-documents at load time
// (entities.md 2.1): `empirical_policy` (paginate.md 8.4), `task_inputs`
// (8.5) and `state` (8.3). Each function takes the sub-document as JSON text
// and returns the minified, normalized JSON that responses splice in
// verbatim, so hand-written data prints exactly as Prefect would print it.
// Data written by Prefect comes out unchanged.
//
// Not for request parsing; not for `labels` or `state.data`, which are kept
// verbatim.
//
// Errors are InvalidArgument "<path>: <reason>", the path starting at the
// sub-document's key (e.g. "state.state_details.scheduled_time: ...").
// Thread safety: pure functions (one simdjson parser per thread inside).

#ifndef TASKDEX_ENGINE_NORMALIZE_H_
#define TASKDEX_ENGINE_NORMALIZE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/types.h"

namespace taskdex {

// The normalized form of an empty or absent `empirical_policy`.
inline constexpr std::string_view kDefaultEmpiricalPolicyJson =
    "{\"max_retries\":0,\"retry_delay_seconds\":0.0,\"retries\":null,"
    "\"retry_delay\":null,\"retry_jitter_factor\":null}";

// `json` must be an object: fills defaults, applies the deprecated-field copy
// (max_retries -> retries, retry_delay_seconds -> retry_delay), drops unknown
// keys, writes floats as Python does and integral floats of integer fields
// as integers.
absl::StatusOr<std::string> NormalizeEmpiricalPolicyJson(std::string_view json);

// `json` must be an object of arrays of inputs: canonical key order
// (`input_type` then `id` / `name` / `type`), unknown keys dropped, inputs
// without `input_type` recognized by their key, UUIDs lowercased.
absl::StatusOr<std::string> NormalizeTaskInputsJson(std::string_view json);

struct NormalizedState {
  // "null", or the State object with keys id, type, name, timestamp, message,
  // data, state_details (every StateDetails key, in order).
  std::string json = "null";
  std::optional<StateType> type;
  std::optional<Micros> timestamp;
  // Byte offset in `json` of the `null` of state_details.scheduled_time when
  // the type is SCHEDULED and scheduled_time is null (records.h), else -1.
  int32_t scheduled_time_null_offset = -1;
};

// `json` is a State object or null. `id`, `type` and `timestamp` are
// required; `name` defaults to the type's title case; falsy `data` becomes
// null; datetimes are rewritten in UTC with `Z`; UUIDs lowercased.
absl::StatusOr<NormalizedState> NormalizeStateJson(std::string_view json);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_NORMALIZE_H_
