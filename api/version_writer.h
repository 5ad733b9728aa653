// api/version_writer.h
//
// The response bodies of api/response_writer.h for a page of a live
// store's version (engine/version.h), whose rows may come from several
// segments. A page from one segment takes the single-Store writer (with its
// prefetching); a mixed page writes each row from its own segment. Bytes
// are identical either way.
//
// Thread safety: pure functions over a const Version.

#ifndef TASKDEX_API_VERSION_WRITER_H_
#define TASKDEX_API_VERSION_WRITER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/types.h"
#include "engine/version.h"

namespace taskdex {

void AppendPaginateResponse(const Version& version, std::span<const RowRef> rows, uint64_t count,
                            int64_t limit, std::string_view page_text, Micros now,
                            std::string* out);

void AppendTaskRunFullArray(const Version& version, std::span<const RowRef> rows, Micros now,
                            std::string* out);

}  // namespace taskdex

#endif  // TASKDEX_API_VERSION_WRITER_H_
