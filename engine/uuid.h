// engine/uuid.h
//
// UUID text <-> 16 bytes, with exactly the forms pydantic accepts
// (paginate.md 2.1, the `uuid` crate's Uuid::try_parse): 36-char hyphenated,
// 32 hex digits, the hyphenated form in {braces} or after a lowercase
// "urn:uuid:" prefix; any hex letter case; nothing around it.

#ifndef TASKDEX_ENGINE_UUID_H_
#define TASKDEX_ENGINE_UUID_H_

#include <optional>
#include <string>
#include <string_view>

#include "engine/types.h"

namespace taskdex {

// Parses `text`. On failure returns nullopt and, if `reason` is non-null,
// stores the uuid crate's reason text (best effort), e.g.
// "invalid character: found `n` at 1" or
// "invalid length: expected length 32 for simple format, found 4".
std::optional<Uuid> ParseUuid(std::string_view text, std::string* reason = nullptr);

// Lowercase hyphenated form, exactly 36 chars written to out[0..35].
void FormatUuid(const Uuid& u, char* out);
std::string UuidToString(const Uuid& u);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_UUID_H_
