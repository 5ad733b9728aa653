// engine/change_file.h
//
// The change file: NDJSON, one change per line (entities.md 3-4; the live
// store's input), read into Batches (engine/mutation.h) and written back.
//
//   {"op":"upsert","entity":"task_run","row":{...a task_runs.ndjson line...}}
//   {"op":"delete","entity":"flow","id":"f1000000-0000-4000-8000-000000000000"}
//
// Rules of a line:
//  - a JSON object with exactly these keys: `op` ("upsert" or "delete"),
//    `entity` ("flow", "deployment", "flow_run", "task_run"), and
//    - for an upsert, `row`: an object, read by the entity's snapshot line
//      parser (engine/snapshot_loader.h), so it follows entities.md 4.2-4.3;
//      no top-level `id` (the row carries it: one source of truth);
//    - for a delete, `id`: a UUID string (the forms of entities.md 2.5); no
//      `row`.
//  - Any other key, or a key given twice, is an error.
//  - Errors are "<key>: <reason>", the row's keys prefixed with "row."
//    ("row.state_type: unknown state type \"RUNING\""); "(line)" when the
//    line is not a JSON object at all.
// Rules of a file (as entities.md 4.1): lines end with LF, CRLF accepted;
// blank or whitespace-only lines are skipped but counted in line numbers.
// Batches are cut every `batch_lines` non-blank lines (0: one batch of all).
// A bad line fails its batch: the error is "<line>: <key>: <reason>" with the
// 1-based line number in the file, and nothing of that batch is returned.
//
// Thread safety: the functions are thread-safe; a ChangeFileReader is used
// by one thread at a time.

#ifndef TASKDEX_ENGINE_CHANGE_FILE_H_
#define TASKDEX_ENGINE_CHANGE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/mutation.h"

namespace taskdex {

// One line (a trailing LF or CRLF is allowed). For an upsert, Change::id is
// the row's id. InvalidArgument "<key>: <reason>" on a bad line.
absl::StatusOr<Change> ParseChangeLine(std::string_view line);

// A whole change file in memory, cut into batches of `batch_lines`
// non-blank lines (0: one batch; an empty file gives no batch). The first
// bad line fails the whole call: InvalidArgument "<line>: <key>: <reason>".
// For files too big to hold, or to apply batch k before batch k+1 is read,
// use ChangeFileReader.
absl::StatusOr<std::vector<Batch>> ParseChangeFile(std::string_view text, size_t batch_lines);

// Streams a change file batch by batch:
//
//   TASKDEX_ASSIGN_OR_RETURN(auto reader, ChangeFileReader::Open(path, n));
//   Batch batch;
//   while (true) {
//     absl::StatusOr<bool> more = reader->Next(&batch);
//     if (!more.ok()) return more.status();  // or report and go on
//     if (!*more) break;
//     Apply(batch);
//   }
//
// Only one batch (and one line) is held at a time.
class ChangeFileReader {
 public:
  // NotFound if `path` cannot be opened.
  static absl::StatusOr<std::unique_ptr<ChangeFileReader>> Open(const std::string& path,
                                                                size_t batch_lines);

  ChangeFileReader(const ChangeFileReader&) = delete;
  ChangeFileReader& operator=(const ChangeFileReader&) = delete;
  ~ChangeFileReader();

  // Reads the next batch into `batch` (replacing its contents). True if a
  // batch was read, false at the end of the file. On a bad line:
  // InvalidArgument "<line>: <key>: <reason>", `batch` is left empty, and
  // the rest of that batch's lines are skipped unread, so a caller that
  // wants to may call Next() again for the batch after it. DataLoss on a
  // read error.
  absl::StatusOr<bool> Next(Batch* batch);

  // Lines consumed so far (blank ones included): after Next(), the line
  // number of the last line of the batch it read or skipped.
  uint64_t lines_read() const { return lines_read_; }
  // Batches read so far, good and bad.
  uint64_t batches_read() const { return batches_read_; }

 private:
  class Impl;  // the stream and the simdjson parser (kept out of this header)
  explicit ChangeFileReader(std::unique_ptr<Impl> impl, size_t batch_lines);

  std::unique_ptr<Impl> impl_;
  size_t batch_lines_;
  uint64_t lines_read_ = 0;
  uint64_t batches_read_ = 0;
};

// Writes `change` as one change-file line (no trailing newline); upserts via
// engine/record_writer.h, so ParseChangeLine(ChangeLine(c)) equals `c` for
// every change ParseChangeLine makes. REQUIRES: for an upsert, `row` holds
// the alternative of `entity`.
std::string ChangeLine(const Change& change);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_CHANGE_FILE_H_
