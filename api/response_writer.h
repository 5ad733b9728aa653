// api/response_writer.h
//
// Writes task-run response bodies from a Store as compact JSON, byte for byte
// as Prefect writes them (paginate.md 8): the 19-key `/paginate` result, the
// full `TaskRun` shape of `/filter` and `GET /{id}` (paginate.md 9.1), and the
// pagination envelope. Computed fields (estimated_run_time,
// estimated_start_time_delta, a null SCHEDULED scheduled_time) use the
// request's `now`, taken once per request by the caller.
//
// Not for parsing or for error bodies (api/paginate_request).
// Thread safety: pure functions over a const Store; safe to call from many
// threads. They only append to `out` (no other heap allocation per row).

#ifndef TASKDEX_API_RESPONSE_WRITER_H_
#define TASKDEX_API_RESPONSE_WRITER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/store.h"
#include "engine/types.h"

namespace taskdex {

// paginate.md 8.6, in microseconds.
int64_t EstimatedRunTimeMicros(const Store& store, RowId row, Micros now);
int64_t EstimatedStartTimeDeltaMicros(const Store& store, RowId row, Micros now);

// One `TaskRunResponse` object (paginate.md 8.2), 19 keys in order.
// REQUIRES: row < store.task_runs.size().
void AppendTaskRunResponse(const Store& store, RowId row, Micros now, std::string* out);

// One full `TaskRun` object (paginate.md 9.1): 27 keys in order, then the
// row's extras. Durations use pydantic's JSON float form (`0.00001`).
// REQUIRES: row < store.task_runs.size().
void AppendTaskRunFull(const Store& store, RowId row, Micros now, std::string* out);

// `/filter` body: a JSON array of AppendTaskRunFull objects.
void AppendTaskRunFullArray(const Store& store, std::span<const RowId> rows, Micros now,
                            std::string* out);

// The `/paginate` envelope (paginate.md 8.1): results (rows in order),
// count, limit, pages = ceil(count / limit) (0 when limit is 0), and page,
// written as `page_text` verbatim (the exact decimal digits of the request's
// page, which may exceed 64 bits).
// REQUIRES: 0 <= limit; page_text is a JSON integer literal.
void AppendPaginateResponse(const Store& store, std::span<const RowId> rows, uint64_t count,
                            int64_t limit, std::string_view page_text, Micros now,
                            std::string* out);

// ceil(count / limit), 0 when limit is 0.
uint64_t PageCount(uint64_t count, int64_t limit);

}  // namespace taskdex

#endif  // TASKDEX_API_RESPONSE_WRITER_H_
