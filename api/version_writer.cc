#include "api/version_writer.h"

#include <optional>
#include <vector>

#include "absl/strings/str_format.h"
#include "api/response_writer.h"

namespace taskdex {
namespace {

// The rows of `rows` as rows of one segment, if they all are.
std::optional<std::vector<RowId>> OneSegment(std::span<const RowRef> rows, uint32_t* segment) {
  std::vector<RowId> out;
  out.reserve(rows.size());
  *segment = rows.empty() ? 0 : rows[0].segment;
  for (const RowRef& r : rows) {
    if (r.segment != *segment) return std::nullopt;
    out.push_back(r.row);
  }
  return out;
}

}  // namespace

void AppendPaginateResponse(const Version& version, std::span<const RowRef> rows, uint64_t count,
                            int64_t limit, std::string_view page_text, Micros now,
                            std::string* out) {
  uint32_t segment = 0;
  if (std::optional<std::vector<RowId>> one = OneSegment(rows, &segment);
      one && !version.segments.empty()) {
    AppendPaginateResponse(*version.segments[segment].store, *one, count, limit, page_text, now,
                           out);
    return;
  }
  out->append("{\"results\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendTaskRunResponse(*version.segments[rows[i].segment].store, rows[i].row, now, out);
  }
  absl::StrAppendFormat(out, "],\"count\":%d,\"limit\":%d,\"pages\":%d,\"page\":%s}", count,
                        limit, PageCount(count, limit), page_text);
}

void AppendTaskRunFullArray(const Version& version, std::span<const RowRef> rows, Micros now,
                            std::string* out) {
  uint32_t segment = 0;
  if (std::optional<std::vector<RowId>> one = OneSegment(rows, &segment);
      one && !version.segments.empty()) {
    AppendTaskRunFullArray(*version.segments[segment].store, *one, now, out);
    return;
  }
  out->push_back('[');
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendTaskRunFull(*version.segments[rows[i].segment].store, rows[i].row, now, out);
  }
  out->push_back(']');
}

}  // namespace taskdex
