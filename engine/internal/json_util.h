// engine/internal/json_util.h
//
// simdjson helpers shared by the snapshot loader and the sub-document
// normalizers (engine/normalize.h): verbatim minified copies of a value,
// short descriptions of a value for error messages, and the simdjson-value
// forms of the normalizers. Private to engine/: simdjson stays out of every
// public header (STYLE.md 1).
//
// Thread safety: pure functions over the caller's simdjson values; one
// simdjson parser per thread, as always.

#ifndef TASKDEX_ENGINE_INTERNAL_JSON_UTIL_H_
#define TASKDEX_ENGINE_INTERNAL_JSON_UTIL_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "engine/normalize.h"
#include "engine/types.h"

namespace taskdex::engine_internal {

using JsonValue = simdjson::ondemand::value;

// The simdjson on-demand kernel this build compiled in ("haswell",
// "icelake", "westmere", or "fallback" when no -march enabled one; see
// TASKDEX_MARCH in the top-level CMakeLists.txt).
std::string_view OnDemandKernelName();

// Strips the whitespace that simdjson's raw_json_token() keeps after a token.
std::string_view TrimTrailingSpace(std::string_view s);

// True if `s` is exactly a JSON number literal (RFC 8259 grammar).
bool IsJsonNumberLiteral(std::string_view s);

// Appends `v` minified: object keys, strings and numbers keep their original
// text (escapes and digits as written); only insignificant whitespace goes.
// Validates the value fully on the way (strings unescape, numbers match the
// grammar). Consumes `v`.
// Values nested deeper than this (counted from the value walked) are
// DEPTH_ERROR: the walk is recursive, and a line of a million '[' would
// otherwise overflow the stack (simdjson's on-demand front end does not
// bound depth in release builds; its debug check aborts at its max_depth,
// 1024 from the document root, so this stays below it with room for the
// levels around the value).
inline constexpr int kMaxJsonDepth = 1000;
simdjson::error_code AppendMinifiedJson(JsonValue v, std::string* out, int depth = 0);

// "12", "\"abc\"", "true", "null", "an object", "an array" (scalars are
// cut at 40 bytes). Does not consume `v` for scalars; for containers the
// caller must not read `v` afterwards.
std::string DescribeJsonValue(JsonValue& v);

// The normalizers of engine/normalize.h over a simdjson value. Error
// messages start with `path` (e.g. "empirical_policy.retries: ...").
absl::Status NormalizeEmpiricalPolicyValue(JsonValue v, std::string_view path, std::string* out);
absl::Status NormalizeTaskInputsValue(JsonValue v, std::string_view path, std::string* out);
absl::Status NormalizeStateValue(JsonValue v, std::string_view path, NormalizedState* out);

// Reads a datetime in any form pydantic accepts (paginate.md 2.2) or null.
// An error names `path`.
absl::Status ReadDatetimeValue(JsonValue v, std::string_view path, std::optional<Micros>* out);
// Reads a UUID string (or null when `nullable`).
absl::Status ReadUuidValue(JsonValue v, std::string_view path, bool nullable,
                           std::optional<Uuid>* out);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_JSON_UTIL_H_
