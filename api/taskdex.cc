#include "api/taskdex.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <cstdlib>
#include <utility>
#include <variant>

#include "absl/strings/str_format.h"
#include "api/paginate_request.h"
#include "api/response_writer.h"
#include "api/version_writer.h"
#include "engine/datetime.h"
#include "engine/huge_pages.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {

Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<Micros> ParseInstant(std::string_view text) {
  DatetimeResult r = ParseDatetimeString(text);
  if (!r.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("not a datetime: \"%s\" (%s)", text, r.reason));
  }
  return r.value;
}

std::vector<Uuid> TaskRunPage::Ids() const {
  std::vector<Uuid> ids;
  ids.reserve(rows.size());
  for (const RowRef& r : rows) ids.push_back(version->segments[r.segment].store->task_runs.id[r.row]);
  return ids;
}

Engine::Engine(std::unique_ptr<Store> store, LoadReport report, LiveStore::Options live)
    : live_(std::make_unique<LiveStore>(std::move(store), live)),
      report_(std::move(report)),
      single_store_version_(live_->Pin()) {}

Engine::Engine(std::unique_ptr<LiveStore> live, LoadReport report)
    : live_(std::move(live)), report_(std::move(report)) {}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const std::string& snapshot_dir,
                                                     const LoadOptions& options,
                                                     LiveStore::Options live) {
  LoadReport report;
  if (IsBinarySnapshot(snapshot_dir)) {
    absl::StatusOr<LoadedSnapshot> loaded = LoadBinarySnapshot(snapshot_dir, options, &report);
    if (!loaded.ok()) return loaded.status();
    std::unique_ptr<Engine> engine;
    if (loaded->dims == nullptr) {  // one segment, no tombstones: a saved store
      engine.reset(new Engine(std::move(loaded->segments.front().store), std::move(report), live));
    } else {
      engine.reset(new Engine(std::make_unique<LiveStore>(std::move(loaded->segments),
                                                          *loaded->dims, loaded->version, live),
                              std::move(report)));
    }
    engine->snapshot_source_ = std::move(loaded->source);
    engine->loaded_dir_ = snapshot_dir;
    // Segment i of the version as restored is file i (a merge or an apply
    // since would have published another version number).
    const std::shared_ptr<const Version> version = engine->Pin();
    if (version->number == loaded->version &&
        version->segments.size() == loaded->files.size()) {
      for (size_t i = 0; i < loaded->files.size(); ++i) {
        engine->loaded_files_.emplace_back(version->segments[i].store, loaded->files[i]);
      }
    }
    if (options.huge_pages) CollapseToHugePages();
    return engine;
  }
  absl::StatusOr<std::unique_ptr<Store>> store = LoadSnapshot(snapshot_dir, options, &report);
  if (!store.ok()) return store.status();
  // Opt-in (LoadOptions::huge_pages): the built Store in 2 MiB pages
  // (engine/huge_pages.h). It cuts the page writer's cold cost in
  // bench/page_benchmark by ~15%, but the 1M query mix measured slower with
  // it (collapse time and huge-page faults of later heap growth), so it is
  // off by default until measured on a quiet machine.
  if (options.huge_pages) CollapseToHugePages();
  return std::unique_ptr<Engine>(new Engine(*std::move(store), std::move(report), live));
}

absl::StatusOr<SaveReport> Engine::Save(const std::string& dir, const SaveOptions& options,
                                        const std::string& source) const {
  SnapshotToSave snapshot;
  snapshot.source = source;
  std::shared_ptr<const Version> version = Pin();
  if (version == single_store_version_.lock()) {
    snapshot.version = version->number;
    snapshot.segments.push_back({version->segments.front().store, nullptr});
    return SaveBinarySnapshot(snapshot, dir, options);
  }
  LiveStore::CheckpointState state = live_->Checkpoint();
  snapshot.version = state.version->number;
  snapshot.dims = state.dims.get();
  for (const SegmentView& s : state.version->segments) {
    snapshot.segments.push_back({s.store, s.dead.get()});
  }
  return SaveBinarySnapshot(snapshot, dir, options);
}

void Engine::RememberLoadedFiles(SegmentFileCache* cache) const {
  for (const auto& [weak, file] : loaded_files_) {
    if (std::shared_ptr<const Store> store = weak.lock()) cache->Put(loaded_dir_, store, file);
  }
}

bool HugePagesFromEnvironment() {
  const char* env = std::getenv("TASKDEX_HUGE_PAGES");
  return env != nullptr && std::string_view(env) == "1";
}

std::unique_ptr<Engine> Engine::FromRecords(SnapshotRecords records, LiveStore::Options live) {
  LoadReport report;
  report.flows = records.flows.size();
  report.deployments = records.deployments.size();
  report.flow_runs = records.flow_runs.size();
  report.task_runs = records.task_runs.size();
  StoreBuilder builder;
  builder.AddAll(std::move(records));
  std::unique_ptr<Store> store = builder.Build();
  report.build = store->report;
  return std::unique_ptr<Engine>(new Engine(std::move(store), std::move(report), live));
}

Response Engine::PaginateJson(std::string_view body, Micros now) const {
  return PaginateJson(body, now, *Pin());
}

Response Engine::PaginateJson(std::string_view body, Micros now, const Version& at) const {
  std::variant<PaginateRequest, ApiResponse> parsed = ParsePaginateBody(body);
  if (auto* error = std::get_if<ApiResponse>(&parsed)) {
    return Response{error->status, std::move(error->body)};
  }
  const PaginateRequest& request = std::get<PaginateRequest>(parsed);
  const VersionPage page = taskdex::Paginate(at, request.query, ExecOptions{});
  Response response;
  AppendPaginateResponse(at, page.rows, page.count, request.query.limit, request.page_text, now,
                         &response.body);
  return response;
}

std::string Engine::Explain(std::string_view body) const {
  std::variant<PaginateRequest, ApiResponse> parsed = ParsePaginateBody(body);
  if (auto* error = std::get_if<ApiResponse>(&parsed)) {
    return "no plan: status " + std::to_string(error->status) + " " + error->body + "\n";
  }
  return taskdex::Explain(*Pin(), std::get<PaginateRequest>(parsed).query);
}

TaskRunPage Engine::Paginate(const PaginateQuery& query) const { return Paginate(query, Pin()); }

TaskRunPage Engine::Paginate(const PaginateQuery& query, std::shared_ptr<const Version> at) const {
  VersionPage page = taskdex::Paginate(*at, query, ExecOptions{});
  return TaskRunPage{std::move(at), std::move(page.rows), page.count};
}

uint64_t Engine::Count(const FilterSet& filters) const { return Count(filters, *Pin()); }

uint64_t Engine::Count(const FilterSet& filters, const Version& at) const {
  return taskdex::Count(at, filters);
}

TaskRunPage Engine::Filter(const FilterSet& filters, TaskRunSort sort, uint64_t offset,
                           uint64_t limit) const {
  return Filter(filters, sort, offset, limit, Pin());
}

TaskRunPage Engine::Filter(const FilterSet& filters, TaskRunSort sort, uint64_t offset,
                           uint64_t limit, std::shared_ptr<const Version> at) const {
  PaginateQuery query;
  query.filters = filters;
  query.sort = sort;
  query.offset = offset;
  // "All rows" (UINT64_MAX) must not wrap to a negative int64 limit.
  query.limit = static_cast<int64_t>(
      std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  return Paginate(query, std::move(at));
}

Response Engine::ApplyJson(std::string_view change_file) {
  auto detail = [](int status, std::string_view message) {
    std::string body = "{\"detail\":";
    AppendJsonString(&body, message);
    body += "}";
    return Response{status, std::move(body)};
  };
  absl::StatusOr<std::vector<Batch>> batches = ParseChangeFile(change_file, 0);
  if (!batches.ok()) return detail(400, absl::StrFormat("line %s", batches.status().message()));
  ApplyResult r;
  if (!batches->empty()) {
    absl::StatusOr<ApplyResult> applied = Apply((*batches)[0]);
    if (!applied.ok()) return detail(400, std::string(applied.status().message()));
    r = *applied;
  } else {
    r.version = Pin()->number;
  }
  const LiveStats s = Stats();
  auto counts = [](const uint64_t (&n)[4]) {
    return absl::StrFormat(R"({"flow":%d,"deployment":%d,"flow_run":%d,"task_run":%d})", n[0],
                           n[1], n[2], n[3]);
  };
  return Response{
      200, absl::StrFormat(
               R"({"version":%d,"upserted":%s,"deleted":%s,"moved_task_runs":%d,"unchanged":%d,)"
               R"("apply_seconds":%.6f,"segments":%d,"task_runs":%d})",
               r.version, counts(r.upserted), counts(r.deleted), r.moved_task_runs, r.unchanged,
               r.micros / 1e6, s.segments, s.task_runs)};
}

absl::StatusOr<std::string> Engine::TaskRunJson(std::string_view id, Micros now) const {
  std::string reason;
  std::optional<Uuid> uuid = ParseUuid(id, &reason);
  if (!uuid) {
    return absl::InvalidArgumentError(absl::StrFormat("task run id: %s", reason));
  }
  std::shared_ptr<const Version> v = Pin();
  std::optional<RowRef> at = FindTaskRun(*v, *uuid);
  if (!at) {
    return absl::NotFoundError(absl::StrFormat("task run %s not found", UuidToString(*uuid)));
  }
  std::string out;
  AppendTaskRunFull(*v->segments[at->segment].store, at->row, now, &out);
  return out;
}

}  // namespace taskdex
