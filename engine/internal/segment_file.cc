// engine/internal/segment_file.cc

#include "engine/internal/segment_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/internal/crc32c.h"
#include "engine/store_codec.h"
#include "index/serial.h"

namespace taskdex::engine_internal {
namespace {

namespace fs = std::filesystem;

// The tombstones' section kind, after the Store's (store_codec.h).
constexpr uint32_t kTombstonesSection = 200;

std::string SectionName(uint32_t kind) {
  return kind == kTombstonesSection ? "tombstones" : StoreSectionName(kind);
}

SnapshotId ToId(const uint8_t (&bytes)[16]) {
  SnapshotId id;
  std::memcpy(id.data(), bytes, 16);
  return id;
}

constexpr char kHeaderMagic[8] = {'T', 'D', 'X', 'S', 'E', 'G', '0', '1'};
constexpr char kFooterMagic[8] = {'T', 'D', 'X', 'E', 'N', 'D', '0', '1'};
constexpr uint32_t kByteOrderMark = 0x01020304;
// The largest alignment of a column's elements (TaskRunHot's); the mapping
// itself is page-aligned.
constexpr uint64_t kArrayAlignment = 128;
constexpr char kFormatName[] = "taskdex-binary-snapshot";

struct FileHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t byte_order;
  uint8_t snapshot_id[16];
  uint32_t segment;
  uint32_t sections;
  uint8_t reserved[20];
  uint32_t crc;  // of the 60 bytes before it
};
static_assert(sizeof(FileHeader) == 64);

struct SectionEntry {
  uint32_t kind;
  uint32_t crc;
  uint64_t offset;
  uint64_t length;
};
static_assert(sizeof(SectionEntry) == 24);

struct FileFooter {
  uint64_t table_offset;
  uint32_t table_entries;
  uint32_t table_crc;
  uint64_t reserved;
  char magic[8];
};
static_assert(sizeof(FileFooter) == 32);

uint32_t Crc32(const void* data, size_t n) { return Crc32c(0, data, n); }

// Writes a file through write(2), keeping the CRC-32C of what it wrote since
// the last Restart() (one section).
class FileSink : public ByteSink {
 public:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void Write(const char* data, size_t n) override {
    crc_ = Crc32c(crc_, data, n);
    offset_ += n;
    while (n > 0 && status_.ok()) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        status_ = ErrnoError("write", path_);
        return;
      }
      data += w;
      n -= static_cast<size_t>(w);
    }
  }
  // Zero bytes up to 8 bytes short of a multiple of kArrayAlignment: a
  // section that opens with an array (its u64 count, then the elements)
  // has its elements aligned there, so ArrayColumn may serve them in place.
  void AlignNextSection() {
    static constexpr char kZeros[kArrayAlignment] = {};
    const uint64_t want = (kArrayAlignment - (offset_ + 8) % kArrayAlignment) % kArrayAlignment;
    if (want != 0) Write(kZeros, want);
  }
  void Restart() { crc_ = 0; }
  uint32_t crc() const { return crc_; }
  uint64_t offset() const { return offset_; }
  const absl::Status& status() const { return status_; }

 private:
  int fd_;
  std::string path_;
  uint32_t crc_ = 0;
  uint64_t offset_ = 0;
  absl::Status status_;
};

absl::Status SyncAndClose(int fd, const std::string& path) {
  if (::fsync(fd) != 0) {
    absl::Status s = ErrnoError("fsync", path);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoError("close", path);
  return absl::OkStatus();
}

// A file mapped read-only; unmapped when destroyed.
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path, bool prefault) {
    MappedFile m;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": not found"));
      return ErrnoError("open", path);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status e = ErrnoError("stat", path);
      ::close(fd);
      return e;
    }
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ > 0) {
      // LoadOptions::prefault: MAP_POPULATE fills the page tables (and
      // reads a cold file) in one call. Without it, pages are faulted in as
      // the sections are checked, the kernel reading ahead. Session 13
      // measured populate faster when every section was copied (the two
      // decoding threads serialized on 1.6M faults); since most bytes are
      // served from the mapping, both measure alike warm and the lazy
      // mapping is faster cold (session 14).
      void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE | (prefault ? MAP_POPULATE : 0),
                       fd, 0);
      if (p == MAP_FAILED) {
        absl::Status e = ErrnoError("mmap", path);
        ::close(fd);
        return e;
      }
      m.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return m;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  std::span<const char> bytes() const { return {data_, size_}; }
  // Drops the whole pages inside `part` (of bytes()) from this mapping: a
  // section copied into the Store is not read again, and its pages should
  // not count in the process's resident size for as long as the blob
  // columns keep the mapping. A later read would fault them back in.
  void Release(std::span<const char> part) const {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(part.data()) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(part.data()) + part.size()) / page * page;
    if (begin < end) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Checks header, footer and section table of a mapped segment file.
absl::StatusOr<std::vector<SectionEntry>> ReadLayout(std::span<const char> f,
                                                     const std::string& path,
                                                     const std::string& snapshot_id) {
  auto fail = [&path](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", std::string(what)));
  };
  if (f.size() < sizeof(FileHeader) + sizeof(FileFooter)) return fail("truncated (too short)");
  FileHeader h;
  std::memcpy(&h, f.data(), sizeof(h));
  if (std::memcmp(h.magic, kHeaderMagic, 8) != 0) return fail("header: not a taskdex segment file");
  if (h.crc != Crc32(&h, offsetof(FileHeader, crc))) return fail("header: checksum mismatch");
  if (h.byte_order != kByteOrderMark) return fail("header: written on a machine of other byte order");
  if (h.format_version != kSegmentFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": header: format version ", h.format_version, "; this taskdex reads ",
                     kSegmentFormatVersion));
  }
  if (SnapshotIdHex(ToId(h.snapshot_id)) != snapshot_id) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": header: file id ", SnapshotIdHex(ToId(h.snapshot_id)),
                     ", the manifest names ", snapshot_id, " (a file from another snapshot)"));
  }
  FileFooter footer;
  std::memcpy(&footer, f.data() + f.size() - sizeof(footer), sizeof(footer));
  if (std::memcmp(footer.magic, kFooterMagic, 8) != 0) return fail("footer: missing (truncated?)");
  const uint64_t table_bytes = uint64_t{footer.table_entries} * sizeof(SectionEntry);
  if (footer.table_entries != h.sections || footer.table_offset < sizeof(FileHeader) ||
      footer.table_offset + table_bytes + sizeof(footer) != f.size()) {
    return fail("footer: section table out of place");
  }
  std::vector<SectionEntry> table(footer.table_entries);
  std::memcpy(table.data(), f.data() + footer.table_offset, table_bytes);
  if (footer.table_crc != Crc32(table.data(), table_bytes)) {
    return fail("section table: checksum mismatch");
  }
  std::vector<uint32_t> seen;
  bool tombstones = false;
  for (const SectionEntry& e : table) {
    if (e.kind == kTombstonesSection && !tombstones) {
      tombstones = true;
    } else if (!IsStoreSection(e.kind) ||
               std::find(seen.begin(), seen.end(), e.kind) != seen.end()) {
      return fail(absl::StrCat("section table: unknown or repeated section kind ", e.kind));
    } else {
      seen.push_back(e.kind);
    }
    if (e.offset < sizeof(FileHeader) || e.offset > footer.table_offset ||
        e.length > footer.table_offset - e.offset) {
      return fail(absl::StrCat("section ", SectionName(e.kind), ": out of the file's bounds"));
    }
  }
  if (table.size() != AllStoreSections().size() + tombstones) {
    return fail("section table: sections missing");
  }
  // Every byte is checked: the sections do not overlap, and what lies
  // between them (FileSink::AlignNextSection) is fewer zero bytes than
  // kArrayAlignment.
  std::vector<SectionEntry> by_offset = table;
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SectionEntry& a, const SectionEntry& b) { return a.offset < b.offset; });
  uint64_t at = sizeof(FileHeader);
  auto gap_ok = [&f, &at](uint64_t until) {
    if (until < at || until - at >= kArrayAlignment) return false;
    return std::all_of(f.data() + at, f.data() + until, [](char c) { return c == 0; });
  };
  for (const SectionEntry& e : by_offset) {
    if (!gap_ok(e.offset)) {
      return fail(absl::StrCat("section ", SectionName(e.kind),
                               ": overlaps another, or follows bytes that are not padding"));
    }
    at = e.offset + e.length;
  }
  if (!gap_ok(footer.table_offset)) return fail("section table: follows bytes that are not padding");
  return table;
}

}  // namespace

std::string SnapshotIdHex(const SnapshotId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : id) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int e = errno;
  std::string message = absl::StrCat(path, ": ", std::string(what), ": ", std::strerror(e));
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("open", dir);
  return SyncAndClose(fd, dir);
}

absl::Status WriteSegmentFile(const Store& store, const std::vector<const Bitmap*>* tombstones,
                              const std::string& path, const SnapshotId& id,
                              const std::function<void(const LoadProgress&)>& progress_fn,
                              uint64_t* bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  FileSink sink(fd, tmp);
  FileHeader header{};
  std::memcpy(header.magic, kHeaderMagic, 8);
  header.format_version = kSegmentFormatVersion;
  header.byte_order = kByteOrderMark;
  std::memcpy(header.snapshot_id, id.data(), 16);
  header.segment = 0;
  header.sections = static_cast<uint32_t>(AllStoreSections().size() + (tombstones != nullptr));
  header.crc = Crc32(&header, offsetof(FileHeader, crc));
  sink.Write(reinterpret_cast<const char*>(&header), sizeof(header));
  std::vector<SectionEntry> table;
  LoadProgress progress;
  progress.phase = "save";
  progress.file = fs::path(path).filename().native();
  for (StoreSection section : AllStoreSections()) {
    sink.AlignNextSection();
    sink.Restart();
    SectionEntry entry{static_cast<uint32_t>(section), 0, sink.offset(), 0};
    {
      SerialWriter w(&sink);
      EncodeSection(store, section, w);
    }
    entry.length = sink.offset() - entry.offset;
    entry.crc = sink.crc();
    table.push_back(entry);
    progress.bytes_done = sink.offset();
    if (progress_fn) progress_fn(progress);
  }
  if (tombstones != nullptr) {
    sink.Restart();
    SectionEntry entry{kTombstonesSection, 0, sink.offset(), 0};
    {
      SerialWriter w(&sink);
      w.Put(static_cast<uint64_t>(tombstones->size()));
      for (const Bitmap* dead : *tombstones) w.PutBitmap(*dead);
    }
    entry.length = sink.offset() - entry.offset;
    entry.crc = sink.crc();
    table.push_back(entry);
  }
  FileFooter footer{};
  footer.table_offset = sink.offset();
  footer.table_entries = static_cast<uint32_t>(table.size());
  footer.table_crc = Crc32(table.data(), table.size() * sizeof(SectionEntry));
  std::memcpy(footer.magic, kFooterMagic, 8);
  sink.Write(reinterpret_cast<const char*>(table.data()), table.size() * sizeof(SectionEntry));
  sink.Write(reinterpret_cast<const char*>(&footer), sizeof(footer));
  if (!sink.status().ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return sink.status();
  }
  if (absl::Status s = SyncAndClose(fd, tmp); !s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename", tmp);
  *bytes = sink.offset();
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  FileSink sink(fd, tmp);
  sink.Write(text.data(), text.size());
  if (!sink.status().ok()) {
    ::close(fd);
    return sink.status();
  }
  if (absl::Status s = SyncAndClose(fd, tmp); !s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename", tmp);
  return absl::OkStatus();
}


absl::StatusOr<SegmentFileContents> ReadSegmentFile(
    const std::string& path, uint64_t bytes, const std::string& file_id_hex, int threads,
    bool prefault, const std::function<void(const LoadProgress&)>& progress) {
  absl::StatusOr<MappedFile> opened = MappedFile::Open(path, prefault);
  if (!opened.ok()) return opened.status();
  // Shared with the blob columns that keep views into it (BlobColumn):
  // unmapped when the last of them goes, or on return if none did.
  const auto mapped = std::make_shared<const MappedFile>(std::move(*opened));
  const std::span<const char> f = mapped->bytes();
  if (f.size() != bytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", f.size(), " bytes, the manifest says ",
                                            bytes, " (truncated or replaced)"));
  }
  absl::StatusOr<std::vector<SectionEntry>> table = ReadLayout(f, path, file_id_hex);
  if (!table.ok()) return table.status();
  // Longest work first, so the threads finish together: the task-run id
  // column (its section is small, but the id map is built after it: ~1 s
  // of one thread at 10M), then by size.
  auto work_first = [](const SectionEntry& e) {
    return e.kind == static_cast<uint32_t>(StoreSection::kTaskRunColumn0);
  };
  std::sort(table->begin(), table->end(), [&](const SectionEntry& a, const SectionEntry& b) {
    if (work_first(a) != work_first(b)) return work_first(a);
    return a.length > b.length;
  });

  SegmentFileContents out;
  out.store = std::make_unique<Store>();
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes_done{0};
  std::mutex error_mu;
  absl::Status error;
  const std::string file = fs::path(path).filename().native();
  auto work = [&](bool report_progress) {
    for (size_t i = next++; i < table->size(); i = next++) {
      const SectionEntry& e = (*table)[i];
      const std::span<const char> section = f.subspan(e.offset, e.length);
      absl::Status s;
      if (Crc32(section.data(), section.size()) != e.crc) {
        s = absl::DataLossError(
            absl::StrCat(path, ": section ", SectionName(e.kind), ": checksum mismatch"));
      } else if (e.kind == kTombstonesSection) {
        SerialReader r(section);
        out.tombstones = r.GetBitmaps();
        out.has_tombstones = true;
        if (r.ok() && !r.at_end()) r.Fail("bytes left over after the bitmap");
        if (!r.ok()) s = absl::DataLossError(absl::StrCat(path, ": section tombstones: ", r.error()));
      } else if (bool kept = false;
                 (s = DecodeSection(static_cast<StoreSection>(e.kind), section, out.store.get(),
                                    mapped, &kept))
                     .ok()) {
        if (!kept) mapped->Release(section);
      } else {
        s = absl::DataLossError(absl::StrCat(path, ": section ", s.message()));
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
      }
      bytes_done += e.length;
      if (report_progress && progress) {
        LoadProgress p;
        p.phase = "read";
        p.file = file;
        p.bytes_done = bytes_done;
        p.bytes_total = f.size();
        progress(p);
      }
    }
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads && static_cast<size_t>(t) < table->size(); ++t) {
    helpers.emplace_back(work, false);
  }
  work(true);
  for (std::thread& t : helpers) t.join();
  if (!error.ok()) return error;
  if (absl::Status s = FinishStore(out.store.get()); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
  }
  return out;
}

}  // namespace taskdex::engine_internal
