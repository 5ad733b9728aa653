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
// Live updates: Apply takes batches of upserts and deletes while queries
// run; each batch publishes a new version (engine/live_store.h), and every
// query reads one version whole.
//
// Thread safety: every method may be called from many threads at once;
// Apply calls serialize among themselves, never with readers.

#ifndef TASKDEX_API_TASKDEX_H_
#define TASKDEX_API_TASKDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/binary_snapshot.h"
#include "engine/change_file.h"
#include "engine/executor.h"
#include "engine/filter_ast.h"
#include "engine/live_store.h"
#include "engine/mutation.h"
#include "engine/records.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/types.h"
#include "engine/version.h"

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

// A page of task runs and the version it was cut from, which it keeps
// alive: rows are (segment, row) of that version (engine/version.h).
struct TaskRunPage {
  std::shared_ptr<const Version> version;
  std::vector<RowRef> rows;  // in sort order
  uint64_t count = 0;        // every match, ignoring offset and limit
  std::vector<Uuid> Ids() const;
};

// Whether TASKDEX_HUGE_PAGES=1 asks for LoadOptions::huge_pages. Read by the
// commands when they parse their options; the library reads no environment.
bool HugePagesFromEnvironment();

class Engine {
 public:
  // Loads a snapshot directory: NDJSON (entities.md 4), or a binary
  // snapshot (a directory with a manifest.json, engine/binary_snapshot.h;
  // load_report().format says which was found). Errors: NotFound (no
  // task_runs.ndjson), InvalidArgument ("<file>:<line>: <key>: <reason>");
  // for a binary snapshot DataLoss/FailedPrecondition naming file and
  // section.
  // `live` sets the live store (background merges).
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& snapshot_dir,
                                                      const LoadOptions& options = {},
                                                      LiveStore::Options live = {});
  // Builds an engine from records already in memory (tests, other sources).
  static std::unique_ptr<Engine> FromRecords(SnapshotRecords records,
                                             LiveStore::Options live = {});

  // The current version, for readers that make several calls on one
  // version (a page, then its count, then its rows' JSON).
  std::shared_ptr<const Version> Pin() const { return live_->Pin(); }

  // POST /api/task_runs/paginate: `body` is the raw request body (0 bytes
  // means no body); `now` is the clock for the computed fields. Reads one
  // version (the current one, or `at`).
  Response PaginateJson(std::string_view body, Micros now) const;
  Response PaginateJson(std::string_view body, Micros now, const Version& at) const;

  // The query plan of a paginate body (--explain): one line per executed
  // step with its access path, estimated and actual rows and time, per
  // segment. A body that fails validation gives its error message instead.
  std::string Explain(std::string_view body) const;

  // Typed forms. Without `at` each pins the current version.
  TaskRunPage Paginate(const PaginateQuery& query) const;
  TaskRunPage Paginate(const PaginateQuery& query, std::shared_ptr<const Version> at) const;
  uint64_t Count(const FilterSet& filters) const;
  uint64_t Count(const FilterSet& filters, const Version& at) const;
  // Matching task runs in `sort` order, [offset, offset + limit).
  TaskRunPage Filter(const FilterSet& filters, TaskRunSort sort, uint64_t offset,
                     uint64_t limit) const;
  TaskRunPage Filter(const FilterSet& filters, TaskRunSort sort, uint64_t offset, uint64_t limit,
                     std::shared_ptr<const Version> at) const;

  // GET /api/task_runs/{id}: the full TaskRun object (paginate.md 9.1).
  // Errors: InvalidArgument (not a UUID), NotFound (no such task run).
  absl::StatusOr<std::string> TaskRunJson(std::string_view id, Micros now) const;

  // Applies a batch of upserts and deletes atomically (engine/mutation.h,
  // engine/live_store.h): readers see all of it or none, from the version
  // it publishes before returning. Thread-safe; writers serialize.
  absl::StatusOr<ApplyResult> Apply(const Batch& batch) { return live_->Apply(batch); }
  // POST /taskdex/v1/apply: `change_file` (engine/change_file.h) applied as
  // one batch. 200 {"version":N,"upserted":{"flow":..,"deployment":..,
  // "flow_run":..,"task_run":..},"deleted":{..},"moved_task_runs":..,
  // "unchanged":..,"apply_seconds":..,"segments":..,"task_runs":..}; a bad
  // line: 400 {"detail":"line <n>: <key>: <reason>"}, nothing applied.
  Response ApplyJson(std::string_view change_file);
  // Writes the current version as a binary snapshot into directory `dir`
  // (engine/binary_snapshot.h): the loaded store as one file, or, once
  // changes were applied, every segment with its tombstones and the live
  // store's model of the dimension rows (a checkpoint). `source` (JSON) is
  // the position a follower resumes from, kept in the manifest. Readers
  // and writers go on meanwhile: the writer's lock is held only to pin the
  // version (LiveStore::Checkpoint).
  absl::StatusOr<SaveReport> Save(const std::string& dir, const SaveOptions& options = {},
                                  const std::string& source = "null") const;
  // The "source" of the binary snapshot this engine was loaded from
  // ("null": none, or not loaded from one).
  const std::string& snapshot_source() const { return snapshot_source_; }
  // Tells `cache` which files of the binary snapshot this engine was loaded
  // from hold its segments, so that a checkpoint into that directory
  // reuses them (serve's Checkpointer). No-op for other engines.
  void RememberLoadedFiles(SegmentFileCache* cache) const;
  // Merges every segment into one (tombstones reclaimed).
  void MergeAll() { live_->MergeAll(); }
  // One merge by the policy (engine/live_store.h); false when it wants none.
  bool MergeOnce() { return live_->MergeOnce(); }
  LiveStats Stats() const { return live_->Stats(); }
  // Every id held and the newest task-run `updated` (LiveStore::Held),
  // for a database follower resuming from a checkpoint.
  LiveStore::HeldIds Held() const { return live_->Held(); }

  const LoadReport& load_report() const { return report_; }

 private:
  Engine(std::unique_ptr<Store> store, LoadReport report, LiveStore::Options live);
  Engine(std::unique_ptr<LiveStore> live, LoadReport report);

  std::unique_ptr<LiveStore> live_;
  LoadReport report_;
  // The version a single loaded store made: while it is current, Save
  // writes that store alone (its rows are the whole model).
  std::weak_ptr<const Version> single_store_version_;
  std::string snapshot_source_ = "null";
  // The binary snapshot loaded from: its directory and each segment's file.
  std::string loaded_dir_;
  std::vector<std::pair<std::weak_ptr<const Store>, SegmentFileCache::File>> loaded_files_;
};

}  // namespace taskdex

#endif  // TASKDEX_API_TASKDEX_H_
