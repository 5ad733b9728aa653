// The binary snapshot (engine/binary_snapshot.h), through the public API:
//  - round trips answer exactly as the store they were saved from: every
//    examples.jsonl body (byte-identical responses), seeded random queries
//    on small data sets full of traps and on scale data (ids, counts, and
//    the full JSON of every task run);
//  - integrity: a flipped byte in each section kind, truncation at seeded
//    offsets, files swapped between snapshots, a newer or foreign format,
//    a missing file, and a section that passes its checksum but not the
//    decoder are all refused with the file (and section) named;
//  - a save over an older snapshot replaces it and removes its files.

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/taskdex.h"
#include "engine/internal/crc32c.h"
#include "engine/store_codec.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/testing/engine_compare.h"
#include "tests/testing/random_changes.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"
#include "tests/testing/random_scale_query.h"
#include "tests/testing/test_seed.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

constexpr Micros kNow = 1'733'000'000'000'000;  // a fixed clock for the answers

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/taskdex_binary_" + name + "_" +
                          std::to_string(::getpid());
  fs::remove_all(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The one segment file of a saved snapshot.
std::string SegmentFile(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".tdx") return e.path().native();
  }
  return {};
}

// `prefault`: LoadOptions::prefault (false, the default: pages touched as
// they are read).
std::unique_ptr<Engine> SaveAndReopen(Engine& engine, const std::string& dir,
                                      bool prefault = false) {
  absl::StatusOr<SaveReport> saved = engine.Save(dir);
  EXPECT_TRUE(saved.ok()) << saved.status();
  LoadOptions options;
  options.prefault = prefault;
  absl::StatusOr<std::unique_ptr<Engine>> reopened = Engine::Open(dir, options);
  EXPECT_TRUE(reopened.ok()) << reopened.status();
  if (!reopened.ok()) return nullptr;
  EXPECT_EQ((*reopened)->load_report().format, "binary snapshot");
  return *std::move(reopened);
}

TEST(BinarySnapshotTest, ExamplesAnswerByteForByteAfterARoundTrip) {
  absl::StatusOr<std::unique_ptr<Engine>> before =
      Engine::Open(std::string(TASKDEX_EXAMPLES_DIR) + "/snapshot");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ((*before)->load_report().format, "NDJSON snapshot");
  const std::string dir = TempDir("examples");
  std::unique_ptr<Engine> after = SaveAndReopen(**before, dir);
  ASSERT_NE(after, nullptr);
  // Blob columns are served from the mapped file (BlobColumn), which must
  // outlive the file's name: a later save into the directory removes it.
  fs::remove_all(dir);
  std::ifstream in(std::string(TASKDEX_EXAMPLES_DIR) + "/examples.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    d["body"].Accept(writer);
    const std::string body = buffer.GetString();
    const Response ra = (*before)->PaginateJson(body, kNow);
    const Response rb = after->PaginateJson(body, kNow);
    EXPECT_EQ(ra.status, rb.status) << body;
    EXPECT_EQ(ra.body, rb.body) << body;
    ++checked;
  }
  EXPECT_GE(checked, 50);
  ExpectSameTaskRuns(**before, *after, kNow);
  fs::remove_all(dir);
}

TEST(BinarySnapshotTest, RandomSmallDataSetsAnswerAlikeAfterARoundTrip) {
  const uint64_t seed = TestSeed("BinarySnapshotRandomSmall", 20261206);
  TestRng rng(seed);
  const std::string dir = TempDir("small");
  for (int set = 0; set < 40; ++set) {
    const SnapshotRecords data = RandomRecords(rng);
    std::unique_ptr<Engine> before = Engine::FromRecords(data);
    std::unique_ptr<Engine> after = SaveAndReopen(*before, dir, /*prefault=*/set % 2 == 0);
    ASSERT_NE(after, nullptr);
    for (int q = 0; q < 30; ++q) {
      const PaginateQuery query = RandomQuery(rng, data);
      const TaskRunPage pa = before->Paginate(query);
      const TaskRunPage pb = after->Paginate(query);
      ASSERT_EQ(pa.Ids(), pb.Ids()) << "data set " << set << " query " << q;
      ASSERT_EQ(pa.count, pb.count) << "data set " << set << " query " << q;
    }
    ExpectSameTaskRuns(*before, *after, kNow);
  }
  fs::remove_all(dir);
}

TEST(BinarySnapshotTest, ScaleDataAnswersAlikeAfterARoundTrip) {
  const uint64_t seed = TestSeed("BinarySnapshotScale", 1206);
  TestRng rng(seed);
  const SnapshotRecords data = RandomRecordsAtScale(rng, 4000);
  const ScaleQueryGen gen(data);
  std::unique_ptr<Engine> before = Engine::FromRecords(data);
  const std::string dir = TempDir("scale");
  std::unique_ptr<Engine> after = SaveAndReopen(*before, dir);
  ASSERT_NE(after, nullptr);
  for (int q = 0; q < 300; ++q) {
    PaginateQuery query = gen.Query(rng);
    for (const PageCut& cut : ScalePages(rng, before->Count(query.filters))) {
      query.limit = cut.limit;
      query.offset = cut.offset;
      const TaskRunPage pa = before->Paginate(query);
      const TaskRunPage pb = after->Paginate(query);
      ASSERT_EQ(pa.Ids(), pb.Ids()) << "query " << q;
      ASSERT_EQ(pa.count, pb.count) << "query " << q;
    }
  }
  ExpectSameTaskRuns(*before, *after, kNow);
  fs::remove_all(dir);
}

// Random batches on a copy of `data`'s ids, applied to each engine.
void ApplyRandomBatches(TestRng& rng, const SnapshotRecords& data, int batches,
                        std::initializer_list<Engine*> engines) {
  for (int i = 0; i < batches; ++i) {
    const SnapshotRecords pool = RandomRecords(rng);
    Batch batch;
    const uint64_t n = 1 + rng.Uniform(30);
    for (uint64_t c = 0; c < n; ++c) batch.changes.push_back(RandomChange(rng, data, pool));
    for (Engine* e : engines) ASSERT_TRUE(e->Apply(batch).ok());
  }
}

void ExpectSameAnswers(TestRng& rng, const ScaleQueryGen& gen, const Engine& a, const Engine& b) {
  for (int q = 0; q < 150; ++q) {
    const PaginateQuery query = gen.Query(rng);
    const TaskRunPage pa = a.Paginate(query);
    const TaskRunPage pb = b.Paginate(query);
    ASSERT_EQ(pa.Ids(), pb.Ids()) << "query " << q;
    ASSERT_EQ(pa.count, pb.count) << "query " << q;
  }
  ExpectSameTaskRuns(a, b, kNow);
}

// A live store after changes: several segments, tombstones, flow runs held
// only by the writer's model. The checkpoint restores all of it: the same
// answers, the same segments and tombstones, and the same answers again
// after the same further changes (the restored model cascades alike).
TEST(BinarySnapshotTest, ALiveStoresCheckpointRestoresSegmentsTombstonesAndModel) {
  TestRng rng(TestSeed("BinarySnapshotCheckpoint", 4242));
  const SnapshotRecords data = RandomRecordsAtScale(rng, 1500);
  const ScaleQueryGen gen(data);
  std::unique_ptr<Engine> live = Engine::FromRecords(data);
  ApplyRandomBatches(rng, data, 30, {live.get()});
  const LiveStats before = live->Stats();
  ASSERT_GT(before.segments, 1u);
  ASSERT_GT(before.tombstones, 0u);
  const std::string dir = TempDir("checkpoint");
  std::unique_ptr<Engine> restored = SaveAndReopen(*live, dir);
  ASSERT_NE(restored, nullptr);
  const LiveStats after = restored->Stats();
  EXPECT_EQ(after.segments, before.segments);
  EXPECT_EQ(after.task_runs, before.task_runs);
  EXPECT_EQ(after.tombstones, before.tombstones);
  EXPECT_EQ(after.version, before.version);
  ExpectSameAnswers(rng, gen, *live, *restored);
  ApplyRandomBatches(rng, data, 30, {live.get(), restored.get()});
  ExpectSameAnswers(rng, gen, *live, *restored);
  live->MergeAll();
  restored->MergeAll();
  ExpectSameAnswers(rng, gen, *live, *restored);
  // A checkpoint of the restored store loads again.
  std::unique_ptr<Engine> again = SaveAndReopen(*restored, dir);
  ASSERT_NE(again, nullptr);
  ExpectSameAnswers(rng, gen, *restored, *again);
  fs::remove_all(dir);
}

// Checkpoints into one directory with a SegmentFileCache write each
// segment's file once: the next checkpoint reuses the files of the segments
// that did not change and rewrites only the new ones and the dims file
// (model and tombstones), and still loads as the store it was taken from.
// A flipped byte in any of its files is refused naming that file.
TEST(BinarySnapshotTest, ACheckpointReusesTheFilesOfUnchangedSegments) {
  TestRng rng(TestSeed("BinarySnapshotIncremental", 77));
  const SnapshotRecords data = RandomRecordsAtScale(rng, 3000);
  const ScaleQueryGen gen(data);
  std::unique_ptr<Engine> live = Engine::FromRecords(data);
  ApplyRandomBatches(rng, data, 5, {live.get()});
  const std::string dir = TempDir("incremental");
  SegmentFileCache cache;
  SaveOptions options;
  options.cache = &cache;
  absl::StatusOr<SaveReport> first = live->Save(dir, options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->reused_bytes, 0u);
  ApplyRandomBatches(rng, data, 3, {live.get()});
  absl::StatusOr<SaveReport> second = live->Save(dir, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->reused_bytes, second->bytes) << "the loaded segment is reused";
  absl::StatusOr<std::unique_ptr<Engine>> reopened = Engine::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ExpectSameAnswers(rng, gen, *live, **reopened);
  // Only the files the manifest names are left.
  const std::string manifest = ReadFile(dir + "/manifest.json");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().native();
    if (name == "manifest.json") continue;
    EXPECT_NE(manifest.find(name), std::string::npos) << name << " is left over";
    const std::string pristine = ReadFile(e.path().native());
    std::string bytes = pristine;
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x11);
    WriteFile(e.path().native(), bytes);
    absl::StatusOr<std::unique_ptr<Engine>> broken = Engine::Open(dir);
    ASSERT_FALSE(broken.ok()) << name;
    EXPECT_NE(std::string(broken.status().message()).find(name), std::string::npos)
        << broken.status();
    WriteFile(e.path().native(), pristine);
  }
  fs::remove_all(dir);
}

// A saved copy of a seeded data set, for the corruption tests.
class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRng rng(77);
    engine_ = Engine::FromRecords(RandomRecordsAtScale(rng, 500));
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(engine_->Save(dir_).ok());
    segment_ = SegmentFile(dir_);
    pristine_ = ReadFile(segment_);
    ASSERT_GT(pristine_.size(), 96u);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The error of loading the snapshot as it is now (empty: it loaded).
  std::string LoadError() {
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Open(dir_);
    return e.ok() ? std::string() : std::string(e.status().message());
  }
  struct Entry {
    uint32_t kind, crc;
    uint64_t offset, length;
  };
  // The section table, read as binary_snapshot.h lays it out.
  std::vector<Entry> Table() const {
    uint64_t table_offset;
    uint32_t entries;
    std::memcpy(&table_offset, pristine_.data() + pristine_.size() - 32, 8);
    std::memcpy(&entries, pristine_.data() + pristine_.size() - 24, 4);
    std::vector<Entry> t(entries);
    std::memcpy(t.data(), pristine_.data() + table_offset, entries * sizeof(Entry));
    return t;
  }

  std::unique_ptr<Engine> engine_;
  std::string dir_, segment_, pristine_;
};

TEST_F(CorruptionTest, AFlippedByteInAnySectionIsRefusedNamingIt) {
  const std::vector<Entry> table = Table();
  ASSERT_EQ(table.size(), AllStoreSections().size());
  for (const Entry& e : table) {
    if (e.length == 0) continue;
    for (uint64_t at : {e.offset, e.offset + e.length / 2, e.offset + e.length - 1}) {
      std::string bytes = pristine_;
      bytes[at] = static_cast<char>(bytes[at] ^ 0x5A);
      WriteFile(segment_, bytes);
      const std::string error = LoadError();
      SCOPED_TRACE("section kind " + std::to_string(e.kind) + " byte " + std::to_string(at));
      EXPECT_NE(error.find(fs::path(segment_).filename().native()), std::string::npos) << error;
      EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
    }
  }
  for (const Entry& e : table) {
    std::string bytes = pristine_;
    bytes[e.offset] = static_cast<char>(bytes[e.offset] ^ 1);
    WriteFile(segment_, bytes);
    EXPECT_NE(LoadError().find("section " + StoreSectionName(e.kind) + ":"), std::string::npos)
        << LoadError();
  }
  // Header, section table and footer.
  for (uint64_t at : {uint64_t{3}, uint64_t{40}, pristine_.size() - 40, pristine_.size() - 2}) {
    std::string bytes = pristine_;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
    WriteFile(segment_, bytes);
    EXPECT_NE(LoadError(), "") << "byte " << at;
  }
  WriteFile(segment_, pristine_);
  EXPECT_EQ(LoadError(), "");
}

// Sections start 8 bytes short of a multiple of 128 (segment_file.h); the
// zero bytes between them are checked too.
TEST_F(CorruptionTest, AByteBetweenSectionsIsRefused) {
  std::vector<Entry> table = Table();
  std::sort(table.begin(), table.end(),
            [](const Entry& a, const Entry& b) { return a.offset < b.offset; });
  int gaps = 0;
  uint64_t at = 64;  // the header's size
  for (const Entry& e : table) {
    if ((e.offset + 8) % 128 != 0) ADD_FAILURE() << "section kind " << e.kind << " not aligned";
    if (e.offset > at) {
      ++gaps;
      std::string bytes = pristine_;
      bytes[e.offset - 1] = 1;
      WriteFile(segment_, bytes);
      const std::string error = LoadError();
      EXPECT_NE(error.find("not padding"), std::string::npos) << error;
      EXPECT_NE(error.find(fs::path(segment_).filename().native()), std::string::npos) << error;
    }
    at = e.offset + e.length;
  }
  EXPECT_GT(gaps, 10);
  WriteFile(segment_, pristine_);
  EXPECT_EQ(LoadError(), "");
}

TEST_F(CorruptionTest, TruncationAtAnyOffsetIsRefused) {
  TestRng rng(TestSeed("BinarySnapshotTruncation", 5));
  for (int i = 0; i < 40; ++i) {
    const size_t keep = i == 0 ? 0 : rng.Uniform(pristine_.size());
    WriteFile(segment_, pristine_.substr(0, keep));
    const std::string error = LoadError();
    EXPECT_NE(error.find("truncated"), std::string::npos) << keep << ": " << error;
  }
  // Truncated and the manifest edited to match: the footer is missing.
  std::string manifest = ReadFile(dir_ + "/manifest.json");
  const std::string size = std::to_string(pristine_.size());
  const std::string cut = std::to_string(pristine_.size() - 100);
  manifest.replace(manifest.find("\"bytes\":" + size), 8 + size.size(), "\"bytes\":" + cut);
  WriteFile(dir_ + "/manifest.json", manifest);
  WriteFile(segment_, pristine_.substr(0, pristine_.size() - 100));
  EXPECT_NE(LoadError(), "");
}

TEST_F(CorruptionTest, AFileOfAnotherSnapshotIsRefused) {
  const std::string other_dir = dir_ + "_other";
  ASSERT_TRUE(engine_->Save(other_dir).ok());
  const std::string other = ReadFile(SegmentFile(other_dir));
  ASSERT_EQ(other.size(), pristine_.size());
  WriteFile(segment_, other);
  EXPECT_NE(LoadError().find("another snapshot"), std::string::npos) << LoadError();
  fs::remove_all(other_dir);
}

TEST_F(CorruptionTest, NewerForeignOrBrokenManifestsAreRefused) {
  const std::string path = dir_ + "/manifest.json";
  const std::string manifest = ReadFile(path);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string m = manifest;
    m.replace(m.find(from), from.size(), to);
    WriteFile(path, m);
    return LoadError();
  };
  const std::string current = absl::StrCat("\"format_version\":", kBinaryFormatVersion);
  EXPECT_NE(with(current, absl::StrCat("\"format_version\":", kBinaryFormatVersion + 1))
                .find("newer taskdex"),
            std::string::npos);
  EXPECT_NE(with(current, absl::StrCat("\"format_version\":", kBinaryFormatVersion - 1))
                .find("older taskdex"),
            std::string::npos);
  EXPECT_NE(with("taskdex-binary-snapshot", "other-format").find("not a taskdex binary snapshot"),
            std::string::npos);
  EXPECT_NE(with("{", "[").find("manifest.json"), std::string::npos);
  EXPECT_NE(with("seg-", "../seg-").find("not a plain file name"), std::string::npos);
  WriteFile(path, manifest);
  fs::remove(segment_);
  EXPECT_NE(LoadError().find("not found"), std::string::npos) << LoadError();
}

// A section rewritten with a consistent checksum but a wrong array count
// passes the crc32 and is refused by the decoder, naming the section.
TEST_F(CorruptionTest, ASectionThatPassesItsChecksumButNotTheDecoderIsRefused) {
  for (const Entry& e : Table()) {
    // task_runs.id: the id array's count comes first.
    if (e.kind != static_cast<uint32_t>(StoreSection::kTaskRunColumn0)) continue;
    std::string bytes = pristine_;
    uint64_t count;
    std::memcpy(&count, bytes.data() + e.offset, 8);
    --count;
    std::memcpy(bytes.data() + e.offset, &count, 8);
    const uint32_t crc = engine_internal::Crc32c(0, bytes.data() + e.offset, e.length);
    // Patch the entry's crc in the table (kind, crc, offset, length), then
    // the table's crc in the footer.
    const std::vector<Entry> table = Table();
    uint64_t table_offset;
    std::memcpy(&table_offset, bytes.data() + bytes.size() - 32, 8);
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i].kind == e.kind) {
        std::memcpy(bytes.data() + table_offset + i * sizeof(Entry) + 4, &crc, 4);
      }
    }
    const uint32_t table_crc =
        engine_internal::Crc32c(0, bytes.data() + table_offset, table.size() * sizeof(Entry));
    std::memcpy(bytes.data() + bytes.size() - 20, &table_crc, 4);
    WriteFile(segment_, bytes);
    const std::string error = LoadError();
    EXPECT_NE(error.find("section task_runs.id:"), std::string::npos) << error;
    EXPECT_EQ(error.find("checksum"), std::string::npos) << error;
  }
}

TEST(BinarySnapshotTest, ASaveReplacesAnOlderSnapshotAndItsFiles) {
  TestRng rng(3);
  std::unique_ptr<Engine> a = Engine::FromRecords(RandomRecordsAtScale(rng, 200));
  std::unique_ptr<Engine> b = Engine::FromRecords(RandomRecordsAtScale(rng, 300));
  const std::string dir = TempDir("replace");
  ASSERT_TRUE(a->Save(dir).ok());
  const std::string first = SegmentFile(dir);
  ASSERT_TRUE(b->Save(dir).ok());
  EXPECT_FALSE(fs::exists(first));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.path().extension() == ".tdx";
  EXPECT_EQ(files, 1);
  absl::StatusOr<std::unique_ptr<Engine>> reopened = Engine::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Stats().task_runs, b->Stats().task_runs);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace taskdex
