// engine/huge_pages.h
//
// Backs the process's large anonymous memory (the Store's columns, blobs and
// indexes, once built) with transparent huge pages. A page write touches ~30
// scattered column entries per row (api/response_writer.cc); with 4 KiB pages
// nearly each is also a TLB miss, which costs more than the cache miss
// itself on virtualized hosts. With 2 MiB pages a 1M-row Store spans a few
// hundred TLB entries.
//
// Best effort and Linux only: where THP is disabled ("never"), the kernel is
// older than 6.1 (no MADV_COLLAPSE) or a region cannot be collapsed, memory
// stays as it was. Contents never change.
//
// Engine::Open calls it when LoadOptions::huge_pages is set (the commands
// set it from TASKDEX_HUGE_PAGES=1; off by default: see api/taskdex.cc for
// the measurements).
//
// Thread safety: call once, after the Store is built and before it is
// shared; it walks /proc/self/maps and does not lock out other threads'
// allocations (a region they map meanwhile is simply not collapsed).

#ifndef TASKDEX_ENGINE_HUGE_PAGES_H_
#define TASKDEX_ENGINE_HUGE_PAGES_H_

#include <cstddef>

namespace taskdex {

struct HugePageReport {
  size_t regions = 0;          // anonymous writable regions of >= 2 MiB seen
  size_t bytes_collapsed = 0;  // bytes now in huge pages (aligned 2 MiB spans)
  size_t bytes_failed = 0;     // aligned spans the kernel refused
};

// Asks the kernel to collapse every 2 MiB-aligned span of the process's
// private anonymous writable mappings (heap and mmap'd chunks) into huge
// pages (madvise MADV_HUGEPAGE, then MADV_COLLAPSE). Spans never touched are
// skipped so resident memory grows only by the untouched parts of partly
// used spans.
HugePageReport CollapseToHugePages();

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_HUGE_PAGES_H_
