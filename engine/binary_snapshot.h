// engine/binary_snapshot.h
//
// taskdex's binary snapshot: a directory holding one file per segment and
// a manifest, loaded without parsing or index builds (issue 13).
//
//   DIR/manifest.json        written last; names everything else
//   DIR/seg-<id>-<n>.tdx     one per segment (<id>: the snapshot's id)
//
// A segment file:
//   header  (64 bytes)  magic "TDXSEG01", format version, byte-order mark,
//                       snapshot id (16 bytes), segment number, section
//                       count, crc32 of the header's first 60 bytes
//   sections            each 8-aligned: the Store's parts as
//                       engine/store_codec.h encodes them
//   section table       per section: kind, offset, length, crc32 (zlib)
//   footer  (32 bytes)  table offset, table entries, table crc32,
//                       magic "TDXEND01"
// manifest.json: {"format":"taskdex-binary-snapshot","format_version":1,
// "taskdex_version":...,"snapshot_id":...,"created":...,"segments":[{"file",
// "bytes","task_runs","flow_runs","flows","deployments"}],"source":null}.
//
// Integrity: every file is written under a temporary name, fsynced and
// renamed; the manifest last, then the directory is fsynced; segment files
// carry the snapshot id in their names and headers, so a save into a
// directory holding an older snapshot never overwrites a file the old
// manifest names (the old one stays loadable until the new manifest's
// rename, and its files are removed after). Loading refuses, naming the
// file and the section: a missing or foreign manifest, a newer format, a
// file of another snapshot (swapped in), a wrong size (truncated), a bad
// header, table or footer, a section whose crc32 fails, and a section that
// passes its checksum but disagrees with the rest (store_codec.h checks).
// Nothing is served from a refused snapshot.
//
// Costs: save writes each column once through a 1 MiB buffer (crc32 as it
// goes); load maps each file, checks each section's crc32 and copies it
// into the Store's vectors on `threads` threads, then rebuilds the id hash
// maps. Why zlib's crc32 and not crc32c: zlib is already a dependency and
// ran at 2.3 GB/s here (bench/RESULTS.md "Session 13"); no Debian-packaged
// crc32c is among the project's dependencies.
//
// Thread safety: free functions; a Save reads a const Store that others may
// read at the same time.

#ifndef TASKDEX_ENGINE_BINARY_SNAPSHOT_H_
#define TASKDEX_ENGINE_BINARY_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"

namespace taskdex {

inline constexpr uint32_t kBinaryFormatVersion = 1;
inline constexpr char kManifestFile[] = "manifest.json";

struct SaveOptions {
  // Written into the manifest.
  std::string taskdex_version = "0.1.0";
  // Called now and then from the saving thread (phase "save"); may be empty.
  std::function<void(const LoadProgress&)> progress;
};

struct SaveReport {
  uint64_t bytes = 0;  // of every file written
  uint64_t segments = 0;
  double seconds = 0;
  std::string snapshot_id;
};

// Writes `store` as a binary snapshot of one segment into directory `dir`
// (created if missing; an older snapshot there is replaced). Errors:
// Internal/PermissionDenied naming the file, with errno's text.
absl::StatusOr<SaveReport> SaveBinarySnapshot(const Store& store, const std::string& dir,
                                              const SaveOptions& options);

// True if `path` is a directory holding a manifest.json.
bool IsBinarySnapshot(const std::string& path);

// Loads a binary snapshot of one segment. LoadOptions::threads decode
// sections in parallel; progress is called with phase "read". Errors:
// NotFound (no manifest), DataLoss("<file>: <section>: <what>"),
// FailedPrecondition (a newer format, a foreign file).
absl::StatusOr<std::unique_ptr<Store>> LoadBinarySnapshot(const std::string& dir,
                                                          const LoadOptions& options,
                                                          LoadReport* report);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_BINARY_SNAPSHOT_H_
