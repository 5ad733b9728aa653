// bench/store_memory_benchmark.cc
//
// Not a Google Benchmark suite: loads one snapshot and prints where the
// Store's memory goes (Store::MemoryBreakdown) next to the process's
// resident and peak resident memory, so layout changes can be measured on
// real data:   store_memory_benchmark DIR
// Thread safety: a single-threaded program.

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "engine/snapshot_loader.h"
#include "engine/store.h"

namespace {

// A "VmRSS:"-style line of /proc/self/status, in kB (0 if absent).
long StatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: store_memory_benchmark SNAPSHOT_DIR\n");
    return 2;
  }
  taskdex::LoadReport report;
  auto store = taskdex::LoadSnapshot(argv[1], taskdex::LoadOptions{}, &report);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  std::printf("%s", report.Summary().c_str());
  const taskdex::Store& s = **store;
  size_t total = 0;
  for (const auto& [name, bytes] : s.MemoryBreakdown()) {
    std::printf("%-36s %10.1f MB  %7.1f B/task run\n", name.c_str(), bytes / 1e6,
                s.task_runs.size() ? static_cast<double>(bytes) / s.task_runs.size() : 0.0);
    total += bytes;
  }
  std::printf("%-36s %10.1f MB\n", "MemoryBytes", s.MemoryBytes() / 1e6);
  std::printf("templates: state %u, labels %u, empirical_policy %u, task_version %u\n",
              s.task_runs.state.num_templates(), s.task_runs.labels.num_templates(),
              s.task_runs.empirical_policy.num_templates(),
              s.task_runs.task_version.num_templates());
  std::printf("VmRSS %.1f MB, VmHWM (peak) %.1f MB, NDJSON %.1f MB\n", StatusKb("VmRSS") / 1e3,
              StatusKb("VmHWM") / 1e3, static_cast<double>(report.bytes) / 1e6);
  return 0;
}
