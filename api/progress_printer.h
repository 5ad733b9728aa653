// api/progress_printer.h
//
// Load progress of the command-line tools on stderr: phase (parse, build),
// the file being parsed, bytes and lines read, rate and time left.
//
// On a terminal one live line, redrawn at most every 100 ms and closed by
// Finish(). Elsewhere (a log file, a pipe) it depends on the command:
// `serve` prints a line every 2 s so that its log shows a long load
// moving; `query`, `apply` and `bench` print nothing, since their stderr
// is read by scripts. `--quiet` silences both.
//
// Why not a library (indicators, a curses bar): one line of text and a
// carriage return is all a terminal needs, and Debian 12 ships none that
// fits without pulling in a UI toolkit.
//
// Thread safety: Update and Finish from any thread.

#ifndef TASKDEX_API_PROGRESS_PRINTER_H_
#define TASKDEX_API_PROGRESS_PRINTER_H_

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

#include "engine/snapshot_loader.h"

namespace taskdex {

class ProgressPrinter {
 public:
  enum class WhenNotTerminal { kSilent, kLineEvery2s };

  // `command` prefixes each line ("taskdex query"); `terminal` is whether
  // `out` is one (isatty, by default of stderr).
  ProgressPrinter(std::string command, bool quiet, WhenNotTerminal when_not_terminal,
                  FILE* out = stderr);
  ProgressPrinter(std::string command, bool quiet, WhenNotTerminal when_not_terminal, FILE* out,
                  bool terminal);

  void Update(const LoadProgress& p);
  // Ends a live line (a newline); further Updates start a new one.
  void Finish();
  // Update as a LoadOptions::progress callback.
  std::function<void(const LoadProgress&)> Callback();

  // One progress line, without prefix or line end (tests).
  static std::string Format(const LoadProgress& p, double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  const std::string command_;
  const bool quiet_;
  const bool terminal_;
  const WhenNotTerminal when_not_terminal_;
  FILE* const out_;
  const Clock::time_point start_;
  std::mutex mu_;
  Clock::time_point last_{};
  std::string last_phase_;
  bool live_ = false;
};

}  // namespace taskdex

#endif  // TASKDEX_API_PROGRESS_PRINTER_H_
