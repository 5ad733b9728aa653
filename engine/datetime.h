// engine/datetime.h
//
// Datetime parsing with pydantic 2.13's rules (paginate.md 2.2: ISO strings,
// Unix-time strings, integer and float Unix times, their error types) and
// Prefect's output form (paginate.md 8.7). Instants are Micros (types.h).
// Pure functions; thread-safe.

#ifndef TASKDEX_ENGINE_DATETIME_H_
#define TASKDEX_ENGINE_DATETIME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/types.h"

namespace taskdex {

// The pydantic error type of a rejected datetime (paginate.md 2.2, "Error types").
enum class DatetimeErrorType : uint8_t {
  kNone = 0,
  kFromDateParsing,  // "datetime_from_date_parsing"
  kParsing,          // "datetime_parsing"
  kType,             // "datetime_type"
};
std::string_view DatetimeErrorTypeName(DatetimeErrorType t);

struct DatetimeResult {
  DatetimeErrorType error = DatetimeErrorType::kNone;  // kNone: `value` is valid
  Micros value = 0;
  std::string reason;  // for kFromDateParsing / kParsing: the `<reason>` text
  bool ok() const { return error == DatetimeErrorType::kNone; }
};

// A JSON string value (already unescaped).
DatetimeResult ParseDatetimeString(std::string_view s);
// A JSON integer that fits in int64.
DatetimeResult DatetimeFromInt(int64_t v);
// A JSON float (or an integer too large for int64, converted to double).
DatetimeResult DatetimeFromDouble(double v);

// Appends "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (fraction only when non-zero).
void AppendDatetime(std::string* out, Micros t);
std::string FormatDatetime(Micros t);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_DATETIME_H_
