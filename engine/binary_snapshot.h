// engine/binary_snapshot.h
//
// taskdex's binary snapshot: a directory holding one file per segment and
// a manifest, loaded without parsing or index builds (issue 13).
//
//   DIR/manifest.json          written last; names everything else
//   DIR/seg-<file id>.tdx      one per segment (engine/internal/
//                              segment_file.h: the Store's sections, CRC-32C
//                              each); a segment never changes, so its file
//                              is written once and reused by later
//                              checkpoints (SegmentFileCache)
//   DIR/dims-<file id>.tdx     a live store's checkpoint only: the writer's
//                              model of flow runs, flows and deployments
//                              (engine/live_store.h Checkpoint) and every
//                              segment's tombstones; rewritten each time
//
// manifest.json: {"format":"taskdex-binary-snapshot","format_version":1,
// "taskdex_version":..,"snapshot_id":<32 hex>,"created":..,"version":<the
// live store's version number>,"segments":[{"file","id":<the file's id,
// 32 hex, also in its header>,"bytes","role":"segment"|"dims","task_runs",
// "flow_runs","flows","deployments"}],"source":<the follower's position,
// a JSON value, null when none>}.
//
// Integrity: every file is written under a temporary name, fsynced and
// renamed; the manifest last, then the directory is fsynced. Files carry
// the snapshot id in their names and headers, so a save into a directory
// holding an older snapshot never overwrites a file the old manifest names:
// the old one stays loadable until the new manifest's rename, and its
// files are removed after. Loading refuses, naming the file and the
// section: a missing or foreign manifest, a newer format, a file of
// another snapshot (swapped in), a wrong size (truncated), a bad header,
// table or footer, a section whose checksum fails, and a section that passes
// its checksum but disagrees with the rest (engine/store_codec.h checks).
// Nothing is served from a refused snapshot.
//
// Costs: save writes each column once through a 1 MiB buffer (CRC-32C as
// it goes); load maps each file, checks each section's CRC-32C and decodes
// it on `threads` threads: arrays are copied into the Store's vectors; blob
// bytes, dictionary strings and template literals stay in the mapping as
// views that share it (the mapping outlives the file's name); the id hash
// maps are rebuilt. Why CRC-32C and not zlib's crc32: engine/internal/crc32c.h.
//
// Thread safety: free functions; a save reads const Stores that others
// may read at the same time.

#ifndef TASKDEX_ENGINE_BINARY_SNAPSHOT_H_
#define TASKDEX_ENGINE_BINARY_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/live_store.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"

namespace taskdex {

// 1: session 13. 2: task-run name postings as CodeRows (index/code_rows.h).
// 3: CRC-32C instead of zlib's crc32 (engine/internal/crc32c.h).
inline constexpr uint32_t kBinaryFormatVersion = 3;
inline constexpr char kManifestFile[] = "manifest.json";

// The segment files a saver wrote into a directory, by the Store they hold,
// so that the next checkpoint into that directory reuses them (a segment's
// Store never changes; a weak_ptr tells a live Store from a freed one at
// the same address). Not thread-safe: one saver at a time.
class SegmentFileCache {
 public:
  struct File {
    std::string name;  // in the directory
    std::string id;    // 32 hex
    uint64_t bytes = 0;
  };
  // The file holding `store` in `dir` (compared as canonical paths), if
  // one was written or loaded there and is still there with its size.
  const File* Find(const std::string& dir, const std::shared_ptr<const Store>& store) const;
  void Put(const std::string& dir, const std::shared_ptr<const Store>& store, File file);
  // Forgets the entries whose Store is gone.
  void Prune();

 private:
  struct Entry {
    std::string dir;
    std::weak_ptr<const Store> store;
    const Store* key = nullptr;
    File file;
  };
  std::vector<Entry> entries_;
};

struct SaveOptions {
  // Written into the manifest.
  std::string taskdex_version = "0.1.0";
  // Called now and then from the saving thread (phase "save"); may be empty.
  std::function<void(const LoadProgress&)> progress;
  // Segment files to reuse and to remember (null: write every file).
  SegmentFileCache* cache = nullptr;
};

struct SaveReport {
  uint64_t bytes = 0;  // of every file written
  uint64_t reused_bytes = 0;  // of the segment files reused (not written)
  uint64_t segments = 0;
  uint64_t version = 0;  // the live store's version number written
  double seconds = 0;
  std::string snapshot_id;
};

// What to write: segments (each a Store and, for a live store's, its
// tombstones), and for a live store's checkpoint the writer's model.
struct SnapshotToSave {
  struct Segment {
    std::shared_ptr<const Store> store;
    const Bitmap* dead = nullptr;  // null: none (written only with `dims`)
  };
  std::vector<Segment> segments;
  const Store* dims = nullptr;  // null: the one segment's own rows are the model
  uint64_t version = 1;
  std::string source = "null";  // JSON: the follower's position to resume from
};

// Writes a binary snapshot into directory `dir` (created if missing; an
// older snapshot there is replaced). Errors: Internal/PermissionDenied
// naming the file, with errno's text; InvalidArgument for several segments
// without `dims`.
absl::StatusOr<SaveReport> SaveBinarySnapshot(const SnapshotToSave& snapshot,
                                              const std::string& dir, const SaveOptions& options);

struct LoadedSnapshot {
  std::vector<RestoredSegment> segments;
  std::vector<SegmentFileCache::File> files;  // segments[i]'s file
  std::unique_ptr<Store> dims;  // null when the snapshot has none
  uint64_t version = 1;
  std::string source = "null";  // as the manifest holds it
};

// True if `path` is a directory holding a manifest.json.
bool IsBinarySnapshot(const std::string& path);

// Loads a binary snapshot. LoadOptions::threads decode sections in
// parallel; progress is called with phase "read". Errors: NotFound (no
// manifest, a missing file), DataLoss("<file>: <section>: <what>"),
// FailedPrecondition (a newer format, a foreign file).
absl::StatusOr<LoadedSnapshot> LoadBinarySnapshot(const std::string& dir,
                                                  const LoadOptions& options, LoadReport* report);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_BINARY_SNAPSHOT_H_
