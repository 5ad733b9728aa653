// engine/binary_snapshot.cc
//
// The snapshot directory: manifest, file names, replacing an older
// snapshot. The files themselves: engine/internal/segment_file.h.

#include "engine/binary_snapshot.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/internal/segment_file.h"
#include "engine/text_format.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;
using engine_internal::ErrnoError;

constexpr char kFormatName[] = "taskdex-binary-snapshot";

std::string PathIn(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).native();
}

void AppendCounts(std::string* m, const Store& s) {
  absl::StrAppend(m, ",\"task_runs\":", s.task_runs.size(), ",\"flow_runs\":",
                  s.flow_runs.size(), ",\"flows\":", s.flows.size(), ",\"deployments\":",
                  s.deployments.size(), "}");
}

struct ManifestSegment {
  std::string file;
  std::string id;
  uint64_t bytes = 0;
  bool dims = false;  // role "dims"
};
struct Manifest {
  std::string snapshot_id;
  uint64_t version = 1;
  std::vector<ManifestSegment> segments;
  std::string source = "null";
};

absl::StatusOr<Manifest> ReadManifest(const std::string& path) {
  auto fail = [&path](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", std::string(what)));
  };
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS) {
    if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": not found"));
    return ErrnoError("read", path);
  }
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  if (parser.iterate(text).get(doc) != simdjson::SUCCESS || doc.get_object().get(root)) {
    return fail("not a JSON object");
  }
  Manifest m;
  std::string_view format;
  if (root["format"].get_string().get(format) || format != kFormatName) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a taskdex binary snapshot (\"format\" is not \"", kFormatName,
                     "\")"));
  }
  uint64_t version = 0;
  if (root["format_version"].get_uint64().get(version)) return fail("no \"format_version\"");
  if (version != kBinaryFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": format version ", version, "; this taskdex reads version ",
        kBinaryFormatVersion,
        version > kBinaryFormatVersion
            ? " (written by a newer taskdex)"
            : " (written by an older taskdex: save the snapshot again from its NDJSON)"));
  }
  std::string_view id;
  if (root["snapshot_id"].get_string().get(id) || id.size() != 32) {
    return fail("\"snapshot_id\" is not 32 hex digits");
  }
  m.snapshot_id = std::string(id);
  simdjson::ondemand::array segments;
  if (root["segments"].get_array().get(segments)) return fail("no \"segments\" array");
  for (auto element : segments) {
    simdjson::ondemand::object seg;
    std::string_view file;
    ManifestSegment s;
    if (element.get_object().get(seg) || seg["file"].get_string().get(file) ||
        seg["bytes"].get_uint64().get(s.bytes)) {
      return fail("a segment lacks \"file\" or \"bytes\"");
    }
    if (file.empty() || file.find('/') != std::string_view::npos || file.starts_with(".")) {
      return fail(absl::StrCat("segment file name \"", std::string(file), "\" is not a plain file name"));
    }
    s.file = std::string(file);
    std::string_view file_id;
    if (seg["id"].get_string().get(file_id) || file_id.size() != 32) {
      return fail("a segment's \"id\" is not 32 hex digits");
    }
    s.id = std::string(file_id);
    std::string_view role = "segment";
    if (auto r = seg["role"]; r.error() != simdjson::NO_SUCH_FIELD && r.get_string().get(role)) {
      return fail("a segment's \"role\" is not a string");
    }
    if (role != "segment" && role != "dims") {
      return fail(absl::StrCat("unknown segment role \"", std::string(role), "\""));
    }
    s.dims = role == "dims";
    m.segments.push_back(std::move(s));
  }
  // Optional fields: a snapshot of `taskdex save` may have neither.
  if (auto v = root["version"]; v.error() != simdjson::NO_SUCH_FIELD && v.get_uint64().get(m.version)) {
    return fail("\"version\" is not a number");
  }
  if (auto src = root["source"]; src.error() != simdjson::NO_SUCH_FIELD) {
    simdjson::ondemand::value value;
    std::string_view raw;
    if (src.get(value) || simdjson::to_json_string(value).get(raw)) {
      return fail("\"source\" is not JSON");
    }
    m.source = std::string(raw);
  }
  int dims = 0;
  for (const ManifestSegment& s : m.segments) dims += s.dims;
  if (dims > 1 || (dims == 0 && m.segments.size() != 1)) {
    return fail("segments: a snapshot has one segment, or segments and one \"dims\" file");
  }
  return m;
}

}  // namespace

// `dir` as the cache compares it: one spelling per directory.
std::string CanonicalDir(const std::string& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(dir, ec);
  return ec ? dir : p.native();
}

const SegmentFileCache::File* SegmentFileCache::Find(
    const std::string& dir, const std::shared_ptr<const Store>& store) const {
  const std::string canonical = CanonicalDir(dir);
  for (const Entry& e : entries_) {
    if (e.key != store.get() || e.dir != canonical || e.store.lock() != store) continue;
    std::error_code ec;
    const auto size = fs::file_size(PathIn(dir, e.file.name), ec);
    if (!ec && size == e.file.bytes) return &e.file;
  }
  return nullptr;
}

void SegmentFileCache::Put(const std::string& dir, const std::shared_ptr<const Store>& store,
                           File file) {
  entries_.push_back(Entry{CanonicalDir(dir), store, store.get(), std::move(file)});
}

void SegmentFileCache::Prune() {
  std::erase_if(entries_, [](const Entry& e) { return e.store.expired(); });
}

absl::StatusOr<SaveReport> SaveBinarySnapshot(const SnapshotToSave& snapshot,
                                              const std::string& dir, const SaveOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (snapshot.dims == nullptr &&
      (snapshot.segments.size() != 1 || snapshot.segments.front().dead != nullptr)) {
    return absl::InvalidArgumentError(
        "a snapshot of several segments, or with tombstones, needs the writer's model");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  std::random_device rd;
  auto new_id = [&rd] {
    engine_internal::SnapshotId id;
    for (uint8_t& b : id) b = static_cast<uint8_t>(rd());
    return id;
  };
  SaveReport report;
  report.snapshot_id = engine_internal::SnapshotIdHex(new_id());
  std::string manifest = absl::StrCat("{\"format\":\"", kFormatName,
                                      "\",\"format_version\":", kBinaryFormatVersion,
                                      ",\"taskdex_version\":");
  AppendJsonString(&manifest, options.taskdex_version);
  absl::StrAppend(&manifest, ",\"snapshot_id\":\"", report.snapshot_id, "\",\"created\":\"");
  AppendDatetime(&manifest, std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  absl::StrAppend(&manifest, "\",\"version\":", snapshot.version, ",\"segments\":[");
  std::vector<std::string> files;
  auto list = [&](const Store& store, const SegmentFileCache::File& f, std::string_view role) {
    absl::StrAppend(&manifest, files.empty() ? "" : ",", "{\"file\":\"", f.name, "\",\"id\":\"",
                    f.id, "\",\"bytes\":", f.bytes, ",\"role\":\"", std::string(role), "\"");
    AppendCounts(&manifest, store);
    files.push_back(f.name);
  };
  auto write = [&](const Store& store, const std::vector<const Bitmap*>* tombstones,
                   std::string_view prefix) -> absl::StatusOr<SegmentFileCache::File> {
    const engine_internal::SnapshotId id = new_id();
    SegmentFileCache::File f;
    f.id = engine_internal::SnapshotIdHex(id);
    f.name = absl::StrCat(std::string(prefix), f.id.substr(0, 16), ".tdx");
    if (absl::Status s = engine_internal::WriteSegmentFile(store, tombstones, PathIn(dir, f.name),
                                                           id, options.progress, &f.bytes);
        !s.ok()) {
      return s;
    }
    report.bytes += f.bytes;
    return f;
  };
  for (const SnapshotToSave::Segment& seg : snapshot.segments) {
    const SegmentFileCache::File* reused =
        options.cache != nullptr ? options.cache->Find(dir, seg.store) : nullptr;
    if (reused != nullptr) {
      report.reused_bytes += reused->bytes;
      list(*seg.store, *reused, "segment");
      continue;
    }
    absl::StatusOr<SegmentFileCache::File> f = write(*seg.store, nullptr, "seg-");
    if (!f.ok()) return f.status();
    if (options.cache != nullptr) options.cache->Put(dir, seg.store, *f);
    list(*seg.store, *f, "segment");
  }
  if (snapshot.dims != nullptr) {
    std::vector<const Bitmap*> tombstones;
    const Bitmap none;
    for (const SnapshotToSave::Segment& seg : snapshot.segments) {
      tombstones.push_back(seg.dead != nullptr ? seg.dead : &none);
    }
    absl::StatusOr<SegmentFileCache::File> f = write(*snapshot.dims, &tombstones, "dims-");
    if (!f.ok()) return f.status();
    list(*snapshot.dims, *f, "dims");
  }
  absl::StrAppend(&manifest, "],\"source\":", snapshot.source, "}\n");
  if (absl::Status s = engine_internal::WriteFileAtomically(PathIn(dir, kManifestFile), manifest);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = engine_internal::SyncDirectory(dir); !s.ok()) return s;
  // The new manifest is in place: files only earlier snapshots named go.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().native();
    if ((name.starts_with("seg-") || name.starts_with("dims-")) &&
        std::find(files.begin(), files.end(), name) == files.end()) {
      fs::remove(entry.path(), ec);
    }
  }
  if (options.cache != nullptr) options.cache->Prune();
  report.bytes += manifest.size();
  report.segments = snapshot.segments.size();
  report.version = snapshot.version;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

bool IsBinarySnapshot(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / kManifestFile, ec);
}

absl::StatusOr<LoadedSnapshot> LoadBinarySnapshot(const std::string& dir,
                                                  const LoadOptions& options, LoadReport* report) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Manifest> manifest = ReadManifest(PathIn(dir, kManifestFile));
  if (!manifest.ok()) return manifest.status();
  const int threads = std::max(1, options.threads > 0
                                      ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency()));
  LoadedSnapshot out;
  out.version = manifest->version;
  out.source = manifest->source;
  uint64_t bytes = 0;
  std::vector<Bitmap> tombstones;
  std::string dims_path;
  for (const ManifestSegment& seg : manifest->segments) {
    const std::string path = PathIn(dir, seg.file);
    absl::StatusOr<engine_internal::SegmentFileContents> file = engine_internal::ReadSegmentFile(
        path, seg.bytes, seg.id, threads, options.prefault, options.progress);
    if (!file.ok()) return file.status();
    bytes += seg.bytes;
    if (file->has_tombstones != seg.dims) {
      return absl::DataLossError(absl::StrCat(
          path, seg.dims ? ": no tombstones section in the dims file"
                         : ": a tombstones section in a segment file"));
    }
    if (seg.dims) {
      out.dims = std::move(file->store);
      tombstones = std::move(file->tombstones);
      dims_path = path;
    } else {
      out.segments.push_back(RestoredSegment{std::move(file->store), Bitmap()});
      out.files.push_back(SegmentFileCache::File{seg.file, seg.id, seg.bytes});
    }
  }
  if (out.dims != nullptr) {
    if (tombstones.size() != out.segments.size()) {
      return absl::DataLossError(absl::StrCat(dims_path, ": section tombstones: ",
                                              tombstones.size(), " bitmaps for ",
                                              out.segments.size(), " segments"));
    }
    for (size_t i = 0; i < tombstones.size(); ++i) {
      const Bitmap& dead = tombstones[i];
      if (!dead.isEmpty() && dead.maximum() >= out.segments[i].store->task_runs.size()) {
        return absl::DataLossError(absl::StrCat(
            dims_path, ": section tombstones: a row out of range of segment ", i));
      }
      out.segments[i].dead = std::move(tombstones[i]);
    }
  }
  if (report != nullptr) {
    report->format = "binary snapshot";
    report->bytes = bytes;
    report->task_runs = report->flow_runs = 0;
    for (const RestoredSegment& s : out.segments) {
      report->task_runs += s.store->task_runs.size() - s.dead.cardinality();
    }
    const Store& dims = out.dims ? *out.dims : *out.segments.front().store;
    report->flow_runs = dims.flow_runs.size();
    report->flows = dims.flows.size();
    report->deployments = dims.deployments.size();
    if (!out.segments.empty()) report->build = out.segments.front().store->report;
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

}  // namespace taskdex
