// engine/internal/segment_file.h
//
// One file of a binary snapshot (engine/binary_snapshot.h): a Store, and
// optionally its tombstones, as checksummed sections.
//
//   header  (64 bytes)  magic "TDXSEG01", format version, byte-order mark,
//                       file id (16 random bytes, named by the manifest), section
//                       count, CRC-32C of the header's first 60 bytes
//   sections            the Store's parts as engine/store_codec.h encodes
//                       them, each starting 8 bytes short of a multiple of
//                       128 (zero bytes between them, outside any
//                       checksum, never read), so that the elements of an
//                       array opening a section are 128-aligned in the
//                       mapping and may be served in place (ArrayColumn,
//                       index/array_column.h); then (a live store's "dims" file only)
//                       "tombstones": per segment of the snapshot, in the
//                       manifest's order, the task-run rows that do not
//                       count. Kept apart from the segments, which never
//                       change, so that a later checkpoint reuses their
//                       files and rewrites only this one.
//   section table       per section: kind, CRC-32C (engine/internal/crc32c.h), offset, length
//   footer  (32 bytes)  table offset, table entries, table CRC-32C,
//                       magic "TDXEND01"
//
// Written under "<path>.tmp", fsynced, renamed to <path>. Read from a
// mapping: header, footer and table checked first, then each section's
// CRC-32C just before it is decoded, sections on several threads; errors
// name the file and the section.
//
// Thread safety: free functions.

#ifndef TASKDEX_ENGINE_INTERNAL_SEGMENT_FILE_H_
#define TASKDEX_ENGINE_INTERNAL_SEGMENT_FILE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "index/bitmap.h"

namespace taskdex::engine_internal {

// Moves with kBinaryFormatVersion (engine/binary_snapshot.h).
inline constexpr uint32_t kSegmentFormatVersion = 3;

using SnapshotId = std::array<uint8_t, 16>;
std::string SnapshotIdHex(const SnapshotId& id);

// errno's text as a Status naming `path` (PermissionDenied or Internal).
absl::Status ErrnoError(std::string_view what, const std::string& path);

// Writes `store` (and `tombstones`, when not null) to `path`. `*bytes`:
// the file's size. `progress` may be empty.
absl::Status WriteSegmentFile(const Store& store, const std::vector<const Bitmap*>* tombstones,
                              const std::string& path, const SnapshotId& id,
                              const std::function<void(const LoadProgress&)>& progress,
                              uint64_t* bytes);

struct SegmentFileContents {
  std::unique_ptr<Store> store;
  std::vector<Bitmap> tombstones;
  bool has_tombstones = false;
};

// Reads the file at `path`, which must be `bytes` long and carry file id
// `file_id_hex`. Errors: NotFound, DataLoss("<path>: <section>: <what>"),
// FailedPrecondition (another format version, another snapshot's file).
// `prefault`: LoadOptions::prefault.
absl::StatusOr<SegmentFileContents> ReadSegmentFile(
    const std::string& path, uint64_t bytes, const std::string& file_id_hex, int threads,
    bool prefault, const std::function<void(const LoadProgress&)>& progress);

// Writes `text` to `path` via "<path>.tmp", fsync and rename.
absl::Status WriteFileAtomically(const std::string& path, std::string_view text);
absl::Status SyncDirectory(const std::string& dir);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_SEGMENT_FILE_H_
