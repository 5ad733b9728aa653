// engine/binary_snapshot.cc

#include "engine/binary_snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/store_codec.h"
#include "engine/text_format.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

constexpr char kHeaderMagic[8] = {'T', 'D', 'X', 'S', 'E', 'G', '0', '1'};
constexpr char kFooterMagic[8] = {'T', 'D', 'X', 'E', 'N', 'D', '0', '1'};
constexpr uint32_t kByteOrderMark = 0x01020304;
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

uint32_t Crc32Continue(uint32_t crc32_so_far, const void* data, size_t n) {
  uLong crc = crc32_so_far;
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, size_t{1} << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

uint32_t Crc32(const void* data, size_t n) { return Crc32Continue(0, data, n); }

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int e = errno;
  std::string message = absl::StrCat(path, ": ", std::string(what), ": ", std::strerror(e));
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[bytes[i] >> 4];
    s += kDigits[bytes[i] & 15];
  }
  return s;
}

// Writes a file through write(2), keeping the crc32 of what it wrote since
// the last Restart() (one section).
class FileSink : public ByteSink {
 public:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void Write(const char* data, size_t n) override {
    crc_ = Crc32Continue(crc_, data, n);
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
  void Restart() { crc_ = static_cast<uint32_t>(crc32(0L, Z_NULL, 0)); }
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

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("open", dir);
  return SyncAndClose(fd, dir);
}

// Writes one segment file under a temporary name, then renames it.
absl::Status WriteSegmentFile(const Store& store, const std::string& path,
                              const uint8_t (&id)[16], uint32_t segment,
                              const SaveOptions& options, uint64_t* bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  FileSink sink(fd, tmp);
  FileHeader header{};
  std::memcpy(header.magic, kHeaderMagic, 8);
  header.format_version = kBinaryFormatVersion;
  header.byte_order = kByteOrderMark;
  std::memcpy(header.snapshot_id, id, 16);
  header.segment = segment;
  header.sections = static_cast<uint32_t>(kStoreSections.size());
  header.crc = Crc32(&header, offsetof(FileHeader, crc));
  sink.Write(reinterpret_cast<const char*>(&header), sizeof(header));
  std::vector<SectionEntry> table;
  LoadProgress progress;
  progress.phase = "save";
  progress.file = fs::path(path).filename().native();
  for (StoreSection section : kStoreSections) {
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
    if (options.progress) options.progress(progress);
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

}  // namespace

absl::StatusOr<SaveReport> SaveBinarySnapshot(const Store& store, const std::string& dir,
                                              const SaveOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  uint8_t id[16];
  std::random_device rd;
  for (uint8_t& b : id) b = static_cast<uint8_t>(rd());
  SaveReport report;
  report.snapshot_id = Hex(id, 16);
  const std::string file = absl::StrCat("seg-", report.snapshot_id.substr(0, 16), "-0.tdx");
  uint64_t bytes = 0;
  if (absl::Status s = WriteSegmentFile(store, (fs::path(dir) / file).native(), id, 0, options,
                                        &bytes);
      !s.ok()) {
    return s;
  }
  std::string manifest = absl::StrCat(
      "{\"format\":\"", kFormatName, "\",\"format_version\":", kBinaryFormatVersion,
      ",\"taskdex_version\":");
  AppendJsonString(&manifest, options.taskdex_version);
  absl::StrAppend(&manifest, ",\"snapshot_id\":\"", report.snapshot_id, "\",\"created\":\"");
  AppendDatetime(&manifest, std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  absl::StrAppend(&manifest, "\",\"segments\":[{\"file\":\"", file, "\",\"bytes\":", bytes,
                  ",\"task_runs\":", store.task_runs.size(), ",\"flow_runs\":",
                  store.flow_runs.size(), ",\"flows\":", store.flows.size(),
                  ",\"deployments\":", store.deployments.size(), "}],\"source\":null}\n");
  const std::string manifest_path = (fs::path(dir) / kManifestFile).native();
  if (absl::Status s = WriteFileAtomically(manifest_path, manifest); !s.ok()) return s;
  if (absl::Status s = SyncDirectory(dir); !s.ok()) return s;
  // The new manifest is in place: files of earlier snapshots are unreferenced.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().native();
    if (name.starts_with("seg-") && name != file) fs::remove(entry.path(), ec);
  }
  report.bytes = bytes + manifest.size();
  report.segments = 1;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

bool IsBinarySnapshot(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / kManifestFile, ec);
}

namespace {

// A file mapped read-only; unmapped when destroyed.
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path) {
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
      void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        absl::Status e = ErrnoError("mmap", path);
        ::close(fd);
        return e;
      }
      m.data_ = static_cast<const char*>(p);
      ::madvise(p, m.size_, MADV_WILLNEED);
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

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

struct ManifestSegment {
  std::string file;
  uint64_t bytes = 0;
};
struct Manifest {
  std::string snapshot_id;
  std::vector<ManifestSegment> segments;
};

absl::StatusOr<Manifest> ReadManifest(const std::string& path) {
  auto fail = [&path](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", std::string(what)));
  };
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS) {
    if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": not found"));
    return ErrnoError("read", path);
  }
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  if (parser.iterate(text).get(doc) != simdjson::SUCCESS || doc.get_object().get(root)) {
    return fail("not a JSON object");
  }
  Manifest m;
  std::string_view format;
  if (root["format"].get_string().get(format) || format != kFormatName) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a taskdex binary snapshot (\"format\" is not \"", kFormatName,
                     "\")"));
  }
  uint64_t version = 0;
  if (root["format_version"].get_uint64().get(version)) return fail("no \"format_version\"");
  if (version != kBinaryFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": format version ", version, "; this taskdex reads version ",
        kBinaryFormatVersion, version > kBinaryFormatVersion ? " (written by a newer taskdex)" : ""));
  }
  std::string_view id;
  if (root["snapshot_id"].get_string().get(id) || id.size() != 32) {
    return fail("\"snapshot_id\" is not 32 hex digits");
  }
  m.snapshot_id = std::string(id);
  simdjson::ondemand::array segments;
  if (root["segments"].get_array().get(segments)) return fail("no \"segments\" array");
  for (auto element : segments) {
    simdjson::ondemand::object seg;
    std::string_view file;
    ManifestSegment s;
    if (element.get_object().get(seg) || seg["file"].get_string().get(file) ||
        seg["bytes"].get_uint64().get(s.bytes)) {
      return fail("a segment lacks \"file\" or \"bytes\"");
    }
    if (file.empty() || file.find('/') != std::string_view::npos || file.starts_with(".")) {
      return fail(absl::StrCat("segment file name \"", std::string(file), "\" is not a plain file name"));
    }
    s.file = std::string(file);
    m.segments.push_back(std::move(s));
  }
  if (m.segments.size() != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": ", m.segments.size(), " segments; this taskdex loads snapshots of one segment"));
  }
  return m;
}

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
  if (h.format_version != kBinaryFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": header: format version ", h.format_version, "; this taskdex reads ",
                     kBinaryFormatVersion));
  }
  if (Hex(h.snapshot_id, 16) != snapshot_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": header: belongs to snapshot ", Hex(h.snapshot_id, 16), ", not to ", snapshot_id,
        " named by the manifest (a file from another snapshot)"));
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
  std::vector<bool> seen(kStoreSections.size() + 1, false);
  for (const SectionEntry& e : table) {
    if (e.kind == 0 || e.kind > kStoreSections.size() || seen[e.kind]) {
      return fail(absl::StrCat("section table: unknown or repeated section kind ", e.kind));
    }
    seen[e.kind] = true;
    if (e.offset < sizeof(FileHeader) || e.offset > footer.table_offset ||
        e.length > footer.table_offset - e.offset) {
      return fail(absl::StrCat("section ", std::string(StoreSectionName(e.kind)), ": out of the file's bounds"));
    }
  }
  if (table.size() != kStoreSections.size()) return fail("section table: sections missing");
  return table;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> LoadBinarySnapshot(const std::string& dir,
                                                          const LoadOptions& options,
                                                          LoadReport* report) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Manifest> manifest = ReadManifest((fs::path(dir) / kManifestFile).native());
  if (!manifest.ok()) return manifest.status();
  const ManifestSegment& seg = manifest->segments.front();
  const std::string path = (fs::path(dir) / seg.file).native();
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const std::span<const char> f = mapped->bytes();
  if (f.size() != seg.bytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", f.size(), " bytes, the manifest says ",
                                            seg.bytes, " (truncated or replaced)"));
  }
  absl::StatusOr<std::vector<SectionEntry>> table = ReadLayout(f, path, manifest->snapshot_id);
  if (!table.ok()) return table.status();
  // Largest sections first, so the threads finish together.
  std::sort(table->begin(), table->end(),
            [](const SectionEntry& a, const SectionEntry& b) { return a.length > b.length; });

  auto store = std::make_unique<Store>();
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes_done{0};
  std::mutex error_mu;
  absl::Status error;
  auto work = [&](bool report_progress) {
    for (size_t i = next++; i < table->size(); i = next++) {
      const SectionEntry& e = (*table)[i];
      const std::span<const char> bytes = f.subspan(e.offset, e.length);
      absl::Status s;
      if (Crc32(bytes.data(), bytes.size()) != e.crc) {
        s = absl::DataLossError(
            absl::StrCat(path, ": section ", std::string(StoreSectionName(e.kind)), ": checksum mismatch"));
      } else if (s = DecodeSection(static_cast<StoreSection>(e.kind), bytes, store.get());
                 !s.ok()) {
        s = absl::DataLossError(absl::StrCat(path, ": section ", s.message()));
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
      }
      bytes_done += e.length;
      if (report_progress && options.progress) {
        LoadProgress p;
        p.phase = "read";
        p.file = seg.file;
        p.bytes_done = bytes_done;
        p.bytes_total = f.size();
        options.progress(p);
      }
    }
  };
  const int threads = std::max(1, options.threads > 0
                                      ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads && static_cast<size_t>(t) < table->size(); ++t) {
    helpers.emplace_back(work, false);
  }
  work(true);
  for (std::thread& t : helpers) t.join();
  if (!error.ok()) return error;
  if (absl::Status s = FinishStore(store.get()); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
  }
  if (report != nullptr) {
    report->format = "binary snapshot";
    report->bytes = f.size();
    report->task_runs = store->task_runs.size();
    report->flow_runs = store->flow_runs.size();
    report->flows = store->flows.size();
    report->deployments = store->deployments.size();
    report->build = store->report;
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return store;
}

}  // namespace taskdex
