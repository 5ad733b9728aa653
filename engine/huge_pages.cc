// engine/huge_pages.cc: see huge_pages.h.

#include "engine/huge_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace taskdex {

HugePageReport CollapseToHugePages() {
  HugePageReport report;
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  constexpr uintptr_t kMaxRegion = uintptr_t{1} << 40;  // 1 TiB
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return report;
  // Read all lines first: collapsing changes the maps being read.
  struct Range {
    uintptr_t begin, end;
  };
  std::vector<Range> ranges;
  char line[512];
  while (std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long begin = 0, end = 0, offset = 0, inode = 0;
    char perms[8] = {0};
    char dev[16] = {0};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &begin, &end, perms, &offset, dev, &inode,
                    &path_at) < 6) {
      continue;
    }
    // Private anonymous read-write memory: no file, or [heap]; not the
    // stack or special mappings.
    const char* path = line + path_at;
    const bool anonymous = inode == 0 && (path[0] == '\n' || path[0] == '\0' ||
                                          std::strncmp(path, "[heap]", 6) == 0);
    if (!anonymous || std::strncmp(perms, "rw-p", 4) != 0) continue;
    // Huge reservations (sanitizer shadow memory, arenas reserved but never
    // used) are not a Store: skip them rather than probe every span.
    if (end - begin < kHuge || end - begin > kMaxRegion) continue;
    ranges.push_back({begin, end});
  }
  std::fclose(maps);
  const long page = sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> resident(kHuge / static_cast<uintptr_t>(page));
  for (const Range& r : ranges) {
    ++report.regions;
    for (uintptr_t b = (r.begin + kHuge - 1) & ~(kHuge - 1); b + kHuge <= r.end; b += kHuge) {
      // Skip spans with no resident page (never written: collapsing would
      // only add memory).
      void* p = reinterpret_cast<void*>(b);
      if (mincore(p, kHuge, resident.data()) != 0) continue;
      bool any = false;
      for (unsigned char c : resident) any |= (c & 1) != 0;
      if (!any) continue;
      madvise(p, kHuge, MADV_HUGEPAGE);
      if (madvise(p, kHuge, MADV_COLLAPSE) == 0) {
        report.bytes_collapsed += kHuge;
      } else {
        report.bytes_failed += kHuge;
      }
    }
  }
#endif
  return report;
}

}  // namespace taskdex
