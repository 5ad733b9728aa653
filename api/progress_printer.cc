#include "api/progress_printer.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_format.h"

namespace taskdex {

ProgressPrinter::ProgressPrinter(std::string command, bool quiet,
                                 WhenNotTerminal when_not_terminal, FILE* out)
    : ProgressPrinter(std::move(command), quiet, when_not_terminal, out,
                      isatty(fileno(out)) != 0) {}

ProgressPrinter::ProgressPrinter(std::string command, bool quiet,
                                 WhenNotTerminal when_not_terminal, FILE* out, bool terminal)
    : command_(std::move(command)),
      quiet_(quiet),
      terminal_(terminal),
      when_not_terminal_(when_not_terminal),
      out_(out),
      start_(Clock::now()) {}

std::string ProgressPrinter::Format(const LoadProgress& p, double seconds) {
  if (p.phase == "build") {
    return absl::StrFormat("build: joins and dictionaries of %d lines (parsed in %.1f s)",
                           p.lines_done, seconds);
  }
  if (p.phase == "indexes") {
    return absl::StrFormat("build: indexes (sorted orders, postings, trigrams) of %d lines, "
                           "%.1f s so far", p.lines_done, seconds);
  }
  const double mb = p.bytes_done / 1e6;
  const double rate = seconds > 0 ? mb / seconds : 0;
  const double left = p.bytes_total > p.bytes_done ? (p.bytes_total - p.bytes_done) / 1e6 : 0;
  const double pct = p.bytes_total > 0 ? 100.0 * p.bytes_done / p.bytes_total : 0;
  std::string eta = rate > 0 ? absl::StrFormat("%.0f s left", left / rate) : "";
  // "parse" counts lines; "read" (a binary snapshot) and "save" have none.
  const std::string lines =
      p.phase == "parse" ? absl::StrFormat("  %d lines", p.lines_done) : std::string();
  if (p.bytes_total == 0) {  // a total not known in advance (save)
    return absl::StrFormat("%s %s: %.1f MB  %.1f MB/s", std::string(p.phase), std::string(p.file),
                           mb, rate);
  }
  return absl::StrFormat("%s %s: %5.1f%%%s  %.1f/%.1f MB  %.1f MB/s  %s", std::string(p.phase),
                         std::string(p.file), pct, lines, mb, p.bytes_total / 1e6, rate, eta);
}

void ProgressPrinter::Update(const LoadProgress& p) {
  if (quiet_ || (!terminal_ && when_not_terminal_ == WhenNotTerminal::kSilent)) return;
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  const double interval = terminal_ ? 0.1 : 2.0;
  // A new phase is always shown: the build prints once, then runs silently.
  const bool new_phase = p.phase != last_phase_;
  if (!new_phase && std::chrono::duration<double>(now - last_).count() < interval) return;
  last_ = now;
  last_phase_ = std::string(p.phase);
  const std::string line =
      Format(p, std::chrono::duration<double>(now - start_).count());
  if (terminal_) {
    std::fprintf(out_, "\r%s: %-90s", command_.c_str(), line.c_str());
    live_ = true;
  } else {
    std::fprintf(out_, "%s: %s\n", command_.c_str(), line.c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (live_) std::fprintf(out_, "\n");
  std::fflush(out_);
  live_ = false;
  last_phase_.clear();
}

std::function<void(const LoadProgress&)> ProgressPrinter::Callback() {
  return [this](const LoadProgress& p) { Update(p); };
}

}  // namespace taskdex
