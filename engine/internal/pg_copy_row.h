// engine/internal/pg_copy_row.h
//
// One row of PostgreSQL's COPY text format split into its fields
// (engine/internal/pg_source.cc reads every row of the initial load through
// it, so it is on the load's hot path).
//
// Format: fields split by TAB, the row ends at LF (not passed here), NULL is
// a field of exactly \N, and a backslash escapes: \b \f \n \r \t \v, \ooo
// octal, \xhh hex, and any other character stands for itself (\\ is a
// backslash; "\<TAB>" is a TAB inside the field, as COPY FROM reads it).
//
// How: the row is scanned a field at a time, for the next TAB with memchr
// and for a backslash in that field with memchr; a field without a backslash
// (nearly all of them: UUIDs, timestamps, numbers, most text and JSON) is
// a view into the row itself, not copied. Only a field with a backslash is
// unescaped, into `buf`. Why not one byte loop copying every field into a
// buffer (what this replaced): it touched and copied every byte of the
// ~1 KB rows one at a time, a measured hot spot of the load
// (bench/RESULTS.md, session 12).
//
// Costs: two memchr scans per field; one reservation of `buf` (row size)
// per row, reused across rows by the caller.
//
// Thread safety: pure; the views live as long as `row` and `buf` do.

#ifndef TASKDEX_ENGINE_INTERNAL_PG_COPY_ROW_H_
#define TASKDEX_ENGINE_INTERNAL_PG_COPY_ROW_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskdex::engine_internal {

// Splits `row` (one COPY text row without its LF) into `fields`: nullopt for
// NULL, else the unescaped text, viewing either `row` or `buf`. `buf` is
// cleared and must not change until the views are used.
void SplitCopyRow(std::string_view row, std::string* buf,
                  std::vector<std::optional<std::string_view>>* fields);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_PG_COPY_ROW_H_
