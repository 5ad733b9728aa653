// engine/internal/crc32c.h
//
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; the checksum of
// iSCSI, ext4 and LevelDB), the checksum of every section of a binary
// snapshot (engine/internal/segment_file.h).
//
// Why not zlib's crc32 (formats 1 and 2): a 10M load checks 6.5 GB, and
// zlib ran at 2.9-3.9 GB/s here, 11-14% of the load's profile (session 13);
// SSE4.2's crc32 instruction computes CRC-32C at 8.3-8.8 GB/s on the same
// core (session 14, bench/RESULTS.md). Abseil's absl/crc is newer than
// Debian 12's Abseil, and no other Debian-packaged crc32c is among the
// project's dependencies.
//
// Crc32c uses the instruction when the build targets SSE4.2 (TASKDEX_MARCH,
// CMakeLists.txt: haswell by default on x86-64), the bitwise loop
// otherwise; both give the same values, pinned by
// tests/engine/crc32c_test.cc.
//
// Thread safety: pure functions.

#ifndef TASKDEX_ENGINE_INTERNAL_CRC32C_H_
#define TASKDEX_ENGINE_INTERNAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace taskdex::engine_internal {

// The CRC-32C of `crc`'s bytes followed by data[0, n): start with crc = 0;
// Crc32c(Crc32c(0, a, i), a + i, n - i) == Crc32c(0, a, n).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);

// The same, one bit at a time: the canonical definition, for tests.
uint32_t Crc32cBitwise(uint32_t crc, const void* data, size_t n);

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_CRC32C_H_
