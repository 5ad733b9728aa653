// tests/engine/pg_replication_test.cc: the pure parts of the replication
// stream (engine/internal/pg_replication.h): positions and test_decoding's
// lines. The stream itself runs against a real server in
// db_follower_test.cc (DbDecodingTest).

#include "engine/internal/pg_replication.h"

#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace taskdex::engine_internal {
namespace {

TEST(PgReplicationTest, PositionsReadAndPrintAsPostgreSQLDoes) {
  EXPECT_EQ(ParseLsn("16/B374D848"), uint64_t{0x16B374D848});
  EXPECT_EQ(ParseLsn("0/0"), uint64_t{0});
  EXPECT_EQ(ParseLsn("ffffffff/ffffffff"), ~uint64_t{0});
  EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn(0x100000000), "1/0");
  for (uint64_t lsn : {uint64_t{1}, uint64_t{0xDBDD91E8}, uint64_t{0x1DBDD91E8}, ~uint64_t{0}}) {
    EXPECT_EQ(ParseLsn(FormatLsn(lsn)), lsn) << FormatLsn(lsn);
  }
  for (const char* bad : {"", "/", "1/", "/1", "12345", "g/1", "1/2/3", "123456789/0", "1 /2"}) {
    EXPECT_EQ(ParseLsn(bad), std::nullopt) << bad;
  }
}

TEST(PgReplicationTest, BeginLinesGiveTheTransactionId) {
  EXPECT_EQ(ParseBeginXid("BEGIN 1234"), 1234u);
  EXPECT_EQ(ParseBeginXid("BEGIN 4294967295"), 4294967295u);
  for (const char* bad : {"BEGIN", "BEGIN ", "BEGIN x", "BEGIN 4294967296", "COMMIT 12"}) {
    EXPECT_EQ(ParseBeginXid(bad), std::nullopt) << bad;
  }
}

// pg_current_snapshot() is "xmin:xmax:in-progress ids", 64-bit.
TEST(PgReplicationTest, ATransactionIsVisibleBelowXmaxAndNotInProgress) {
  auto visible = [](const char* snapshot, std::vector<uint32_t> xids) {
    absl::StatusOr<bool> v = VisibleInSnapshot(snapshot, xids);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.value_or(false);
  };
  EXPECT_TRUE(visible("100:110:", {99, 100, 105, 109}));
  EXPECT_FALSE(visible("100:110:", {110}));             // begun after
  EXPECT_FALSE(visible("100:110:", {105, 120}));
  EXPECT_FALSE(visible("100:110:100,104", {104}));      // still in progress
  EXPECT_TRUE(visible("100:110:100,104", {101, 105}));
  EXPECT_TRUE(visible("100:110:", {}));
  // Across an epoch: xmax 2^32 + 5; xid 0xFFFFFFF0 is of the epoch before.
  EXPECT_TRUE(visible("4294967290:4294967301:", {0xFFFFFFF0u, 3u}));
  EXPECT_FALSE(visible("4294967290:4294967301:4294967299", {3u}));
  EXPECT_FALSE(visible("4294967290:4294967301:", {5u}));
  EXPECT_FALSE(visible("4294967290:4294967301:", {6u}));
  for (const char* bad : {"", "1", "1:2", "a:b:", "1:2:x", "1:2:3,"}) {
    EXPECT_FALSE(VisibleInSnapshot(bad, {1}).ok()) << bad;
  }
}

using Changes = std::vector<std::tuple<EntityKind, ChangeOp, Uuid>>;

Uuid Id(const char* text) { return *ParseUuid(text); }

TEST(PgReplicationTest, DecodedLinesGiveEntityOperationAndId) {
  const char* a = "1f0c6a8e-0000-4000-8000-000000000001";
  const char* b = "1f0c6a8e-0000-4000-8000-000000000002";
  Changes out;
  ASSERT_TRUE(ParseDecodedChange(absl::StrCat("table public.task_run: UPDATE: id[uuid]:'", a,
                                               "' created[timestamp with time zone]:'2024-05-01'"),
                                 &out)
                  .ok());
  ASSERT_TRUE(ParseDecodedChange(
                  absl::StrCat("table public.task_run_state: INSERT: id[uuid]:'", b,
                               "' name[character varying]:'x' task_run_id[uuid]:'", a, "'"),
                  &out)
                  .ok());
  ASSERT_TRUE(
      ParseDecodedChange(absl::StrCat("table public.flow: DELETE: id[uuid]:'", b, "'"), &out).ok());
  // An UPDATE that changed the key prints the old one first.
  ASSERT_TRUE(ParseDecodedChange(absl::StrCat("table public.flow_run: UPDATE: old-key: id[uuid]:'",
                                              a, "' new-tuple: id[uuid]:'", b, "' x[text]:'y'"),
                                 &out)
                  .ok());
  // A column whose name ends in "id" is not the id.
  ASSERT_TRUE(ParseDecodedChange(
                  absl::StrCat("table public.deployment: INSERT: id[uuid]:'", a,
                               "' work_queue_id[uuid]:'", b, "'"),
                  &out)
                  .ok());
  Changes want = {{EntityKind::kTaskRun, ChangeOp::kUpsert, Id(a)},
                  {EntityKind::kTaskRun, ChangeOp::kUpsert, Id(a)},
                  {EntityKind::kFlow, ChangeOp::kDelete, Id(b)},
                  {EntityKind::kFlowRun, ChangeOp::kUpsert, Id(b)},
                  {EntityKind::kDeployment, ChangeOp::kUpsert, Id(a)}};
  EXPECT_EQ(out, want);
}

TEST(PgReplicationTest, OtherLinesAreSkippedAndAMissingIdIsAnError) {
  Changes out;
  for (const char* skipped :
       {"BEGIN", "COMMIT", "table public.log: INSERT: id[uuid]:'1f0c6a8e-0000-4000-8000-000000000001'",
        "table public.task_run: TRUNCATE: (no-flags)",
        "table public.task_run_state: DELETE: id[uuid]:'1f0c6a8e-0000-4000-8000-000000000001'"}) {
    ASSERT_TRUE(ParseDecodedChange(skipped, &out).ok()) << skipped;
  }
  EXPECT_TRUE(out.empty());
  absl::Status s = ParseDecodedChange("table public.task_run: INSERT: name[text]:'x'", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("no id"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace taskdex::engine_internal
