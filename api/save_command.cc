// api/save_command.cc

#include "api/save_command.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/progress_printer.h"
#include "api/taskdex.h"

namespace taskdex {
namespace {

constexpr char kSaveHelp[] = R"(Usage:
  taskdex save --snapshot DIR --out DIR [options]

Loads a snapshot (an NDJSON directory, or a binary snapshot) and writes it as
a binary snapshot into the directory given by --out: one file per segment
with its columns, dictionaries and indexes, each section checksummed (CRC-32C),
and a manifest.json written last. `--snapshot` of every command then loads
it without parsing or rebuilding indexes.

An older snapshot in the --out directory is replaced only once the new one
is complete: until the new manifest is renamed into place the old one stays
loadable, and its segment files are removed after.

Options:
  --snapshot DIR   Snapshot to load (required).
  --out DIR        Directory to write the binary snapshot into (required;
                   created if missing).
  --load-threads N Threads used to load the snapshot (default 0: all cores).
                   --threads N is the same.
  --skip-bad-lines Skip NDJSON lines that fail to parse (counted, reported).
  --prefault, --no-prefault
                   A binary --snapshot: read every page before decoding, or
                   (the default) as the sections are checked.
  --quiet          No progress and no summary on stderr.
  -h, --help       This text.

Exit status: 0 saved; 1 bad usage, or the snapshot could not be loaded or
written (the message names the file).
)";

int Usage(const char* message) {
  std::fprintf(stderr, "taskdex save: %s\nRun `taskdex save --help` for usage.\n", message);
  return 1;
}

}  // namespace

int RunSave(int argc, char** argv) {
  std::string snapshot, out;
  bool quiet = false;
  LoadOptions load_options;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kSaveHelp, stdout);
      return 0;
    } else if (arg == "--snapshot") {
      if (!has_value) return Usage("--snapshot needs a directory");
      snapshot = argv[++i];
    } else if (arg == "--out") {
      if (!has_value) return Usage("--out needs a directory");
      out = argv[++i];
    } else if (arg == "--threads" || arg == "--load-threads") {
      char* end = nullptr;
      const long n = has_value ? std::strtol(argv[++i], &end, 10) : -1;
      if (end == nullptr || *end != '\0' || n < 0 || n > 1024) {
        return Usage("--load-threads needs a number 0..1024");
      }
      load_options.threads = static_cast<int>(n);
    } else if (arg == "--skip-bad-lines") {
      load_options.skip_bad_lines = true;
    } else if (arg == "--prefault" || arg == "--no-prefault") {
      load_options.prefault = arg == "--prefault";
    } else if (arg == "--quiet") {
      quiet = true;
    } else {
      const std::string message = "unknown option: " + std::string(arg);
      return Usage(message.c_str());
    }
  }
  if (snapshot.empty()) return Usage("--snapshot DIR is required");
  if (out.empty()) return Usage("--out DIR is required");

  ProgressPrinter progress("taskdex save", quiet, ProgressPrinter::WhenNotTerminal::kSilent);
  load_options.progress = progress.Callback();
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(snapshot, load_options);
  progress.Finish();
  if (!engine.ok()) {
    std::fprintf(stderr, "taskdex save: cannot load snapshot %s: %s\n", snapshot.c_str(),
                 std::string(engine.status().message()).c_str());
    return 1;
  }
  if (!quiet) std::fputs((*engine)->load_report().Summary().c_str(), stderr);
  SaveOptions save_options;
  save_options.progress = progress.Callback();
  absl::StatusOr<SaveReport> saved = (*engine)->Save(out, save_options);
  progress.Finish();
  if (!saved.ok()) {
    std::fprintf(stderr, "taskdex save: cannot write %s: %s\n", out.c_str(),
                 std::string(saved.status().message()).c_str());
    return 1;
  }
  if (!quiet) {
    std::fprintf(stderr, "saved binary snapshot %s to %s: %llu bytes in %.2f s\n",
                 saved->snapshot_id.c_str(), out.c_str(),
                 static_cast<unsigned long long>(saved->bytes), saved->seconds);
  }
  return 0;
}

}  // namespace taskdex
