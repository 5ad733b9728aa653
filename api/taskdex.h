// api/taskdex.h
//
// The public C++ API of taskdex, for embedders and for the taskdex CLI (which
// uses nothing else). An Engine holds one loaded data set and answers
// Prefect's task-run queries from memory:
//
//   auto engine = taskdex::Engine::Open("data/sample");   // absl::StatusOr
//   if (!engine.ok()) { /* engine.status().message() names file:line: key */ }
//   taskdex::Response r = (*engine)->PaginateJson(R"({"limit": 10})", taskdex::NowMicros());
//   // r.status == 200, r.body == {"results":[...],"count":...,"limit":10,"pages":...,"page":1}
//
// PaginateJson answers exactly as POST /api/task_runs/paginate does (status
// and body, errors in Prefect's shape); the typed calls (Paginate, Count,
// Filter, TaskRunJson) skip JSON parsing for callers that build a FilterSet.
//
// Thread safety: an Engine is immutable after Open; every const method may be
// called from many threads at once.

#ifndef TASKDEX_API_TASKDEX_H_
#define TASKDEX_API_TASKDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/records.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/types.h"

namespace taskdex {

// An HTTP-shaped answer: status code and JSON body.
struct Response {
  int status = 200;
  std::string body;
};

// The current time, as the clock of the `estimated_*` fields.
Micros NowMicros();
// An instant in any form the API accepts for datetimes (RFC 3339 and the
// other forms of paginate.md 2.2). Errors: InvalidArgument.
absl::StatusOr<Micros> ParseInstant(std::string_view text);

class Engine {
 public:
  // Loads a snapshot directory (entities.md 4). Errors: NotFound (no
  // task_runs.ndjson), InvalidArgument ("<file>:<line>: <key>: <reason>").
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& snapshot_dir,
                                                      const LoadOptions& options = {});
  // Builds an engine from records already in memory (tests, other sources).
  static std::unique_ptr<Engine> FromRecords(SnapshotRecords records);

  // POST /api/task_runs/paginate: `body` is the raw request body (0 bytes
  // means no body); `now` is the clock for the computed fields.
  Response PaginateJson(std::string_view body, Micros now) const;

  // The query plan of a paginate body (--explain): one line per executed
  // step with its access path, estimated and actual rows and time. A body
  // that fails validation gives its error message instead.
  std::string Explain(std::string_view body) const;

  // Typed forms. Count and page come from the same data.
  PageResult Paginate(const PaginateQuery& query) const;
  uint64_t Count(const FilterSet& filters) const;
  // Matching task-run rows in `sort` order, [offset, offset + limit).
  std::vector<RowId> Filter(const FilterSet& filters, TaskRunSort sort, uint64_t offset,
                            uint64_t limit) const;

  // GET /api/task_runs/{id}: the full TaskRun object (paginate.md 9.1).
  // Errors: InvalidArgument (not a UUID), NotFound (no such task run).
  absl::StatusOr<std::string> TaskRunJson(std::string_view id, Micros now) const;
  // One result of Paginate/Filter, as /paginate writes it (19 keys).
  std::string TaskRunResponseJson(RowId row, Micros now) const;

  const Store& store() const { return *store_; }
  const LoadReport& load_report() const { return report_; }

 private:
  Engine(std::unique_ptr<Store> store, LoadReport report);

  std::unique_ptr<Store> store_;
  LoadReport report_;
};

}  // namespace taskdex

#endif  // TASKDEX_API_TASKDEX_H_
