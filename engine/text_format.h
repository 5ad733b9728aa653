// engine/text_format.h
//
// Number and string text exactly as Prefect's Python writes it (paginate.md
// 1 "response encoding" and 8.7): json.dumps string escaping with
// ensure_ascii=False, Python float repr, durations as seconds.

#ifndef TASKDEX_ENGINE_TEXT_FORMAT_H_
#define TASKDEX_ENGINE_TEXT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace taskdex {

// Python repr(float): shortest round-trip digits; fixed notation when the
// decimal exponent k is in [-4, 16), with at least one digit after the point;
// otherwise d[.ddd]e±XX. 0.0, -0.0, 55.0, 1e-05, 1e+16. REQUIRES: finite.
void AppendPythonFloat(std::string* out, double v);

// A duration in microseconds as seconds: AppendPythonFloat(micros / 1e6).
void AppendDurationSeconds(std::string* out, int64_t micros);

// A float as pydantic's own JSON writer (serde_json + ryu) writes it, for the
// full-shape endpoints (paginate.md 9.1): the same shortest digits, fixed
// notation when -5 <= k < 16 (`0.00001`, `55.0`), else `1e-6`, `1.5e16`
// (no `+`, no exponent padding). REQUIRES: finite.
void AppendPydanticJsonFloat(std::string* out, double v);
void AppendPydanticDurationSeconds(std::string* out, int64_t micros);

// A JSON string literal (with quotes) as json.dumps(ensure_ascii=False)
// writes it: escapes " \\ \b \t \n \f \r, other chars < 0x20 as \u00xx
// (lowercase hex); everything else (UTF-8, '/', 0x7f) verbatim.
// REQUIRES: `s` is valid UTF-8.
void AppendJsonString(std::string* out, std::string_view s);

// The UTF-8 bytes of code point `cp` (1 to 4). REQUIRES: cp <= 0x10FFFF.
void AppendUtf8(std::string* out, uint32_t cp);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_TEXT_FORMAT_H_
