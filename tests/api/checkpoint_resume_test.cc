// Checkpoints of a followed database and resuming from them
// (api/checkpointer.h): a checkpoint records the follower's position; a
// new follower started from it catches up with one poll (changes, a
// delete, a new row made after the checkpoint) and then holds exactly what
// a fresh load of the database holds. Also the duration syntax of
// --checkpoint-every and the errors of a checkpoint that cannot be written.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "api/checkpointer.h"
#include "api/taskdex.h"
#include "engine/db_follow_loop.h"
#include "engine/db_source.h"
#include "gtest/gtest.h"
#include "tests/testing/engine_compare.h"
#include "tests/testing/random_changes.h"
#include "tests/testing/sqlite_prefect.h"

namespace taskdex {
namespace {

namespace fs = std::filesystem;

constexpr Micros kNow = 1'733'000'000'000'000;

// The same task runs, byte for byte, and as many parents of each kind.
void ExpectSameContents(const Engine& a, const Engine& b) {
  ExpectSameTaskRuns(a, b, kNow);
  const LiveStore::HeldIds ha = a.Held(), hb = b.Held();
  for (int e = 0; e < 3; ++e) EXPECT_EQ(ha.ids[e].size(), hb.ids[e].size()) << "entity " << e;
}

std::string TaskRunName(const Engine& e, const Uuid& id) {
  absl::StatusOr<std::string> json = e.TaskRunJson(IdText(id), kNow);
  if (!json.ok()) return "<absent>";
  const size_t at = json->find("\"name\":\"");
  return json->substr(at + 8, json->find('"', at + 8) - at - 8);
}

TEST(CheckpointResumeTest, AFollowerResumesFromItsCheckpointAndCatchesUp) {
  SqlitePrefect db;
  ASSERT_TRUE(db.Create(6));
  const SnapshotRecords& data = db.data;
  PrefectDb& writer = *db.writer;
  const std::string dir = ::testing::TempDir() + "/taskdex_resume_" + std::to_string(getpid());
  fs::remove_all(dir);

  DbFollowOptions follow;
  DbFollowLoop first(*OpenDbSource(db.url), follow, nullptr);
  absl::StatusOr<SnapshotRecords> loaded = first.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Engine> live =
      Engine::FromRecords(*std::move(loaded), {.background_merges = false, .expect_writes = true});
  auto apply_live = [&](const Batch& b) { return live->Apply(b).status(); };
  ASSERT_TRUE(writer.SetTaskRunState(data.task_runs[0].id, StateType::kCrashed, "Crashed",
                                     1'800'000'000'000'000)
                  .ok());
  ASSERT_TRUE(first.PollOnce(apply_live).ok());

  Checkpointer checkpointer(dir, &first, nullptr);
  EXPECT_EQ(checkpointer.CheckpointNow().status, 503);  // no engine yet
  checkpointer.SetEngine(live.get());
  const Response r = checkpointer.CheckpointNow();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"watermark_us\""), std::string::npos) << r.body;
  first.Stop();

  // After the checkpoint: a state change, a rename, a delete, a new row.
  ASSERT_TRUE(writer.SetTaskRunState(data.task_runs[1].id, StateType::kFailed, "Failed",
                                     1'800'000'100'000'000)
                  .ok());
  ASSERT_TRUE(writer.UpdateTaskRunName(data.task_runs[2].id, "renamed after the checkpoint").ok());
  ASSERT_TRUE(writer.Delete(EntityKind::kTaskRun, data.task_runs[3].id).ok());
  TaskRunRecord fresh = data.task_runs[4];
  TestRng rng(99);
  fresh.id = NewId(rng);
  fresh.name = "inserted after the checkpoint";
  fresh.state_id = NewId(rng);  // a state row of its own
  fresh.dynamic_key = "after-the-checkpoint";  // unique per (flow run, task key)
  const absl::Status inserted = writer.InsertTaskRun(fresh);
  ASSERT_TRUE(inserted.ok()) << inserted;

  DbFollowLoop second(*OpenDbSource(db.url), follow, nullptr);
  absl::StatusOr<std::unique_ptr<Engine>> resumed = OpenForResume(dir, &second, LoadOptions{});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  // As checkpointed: the state change followed before it, none after.
  ExpectSameContents(*live, **resumed);
  EXPECT_NE(TaskRunName(**resumed, data.task_runs[2].id), "renamed after the checkpoint");
  ASSERT_TRUE(
      second.PollOnce([&](const Batch& b) { return (*resumed)->Apply(b).status(); }).ok());
  EXPECT_EQ(TaskRunName(**resumed, data.task_runs[2].id), "renamed after the checkpoint");
  EXPECT_EQ(TaskRunName(**resumed, data.task_runs[3].id), "<absent>");
  EXPECT_EQ(TaskRunName(**resumed, fresh.id), "inserted after the checkpoint");

  // Caught up: the same as a fresh load of the database.
  DbFollowLoop third(*OpenDbSource(db.url), follow, nullptr);
  absl::StatusOr<SnapshotRecords> again = third.Load();
  ASSERT_TRUE(again.ok()) << again.status();
  std::unique_ptr<Engine> reloaded = Engine::FromRecords(*std::move(again));
  ExpectSameContents(**resumed, *reloaded);
  fs::remove_all(dir);
}

// A server started from a checkpoint and checkpointing into the same
// directory (the usual restart) reuses the loaded segment files at once.
TEST(CheckpointResumeTest, AServerStartedFromACheckpointReusesItsFiles) {
  TestRng rng(8);
  std::unique_ptr<Engine> live = Engine::FromRecords(RandomRecords(rng));
  const std::string dir = ::testing::TempDir() + "/taskdex_reuse_" + std::to_string(getpid());
  fs::remove_all(dir);
  ASSERT_TRUE(live->Save(dir).ok());
  for (int round = 0; round < 2; ++round) {  // a saved store, then a checkpoint of it
    absl::StatusOr<std::unique_ptr<Engine>> restarted = Engine::Open(dir);
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    Checkpointer checkpointer(dir + "/.", nullptr, nullptr);  // another spelling of dir
    checkpointer.SetEngine(restarted->get());
    const Response r = checkpointer.CheckpointNow();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find("\"reused_bytes\":0,"), std::string::npos) << r.body;
    ExpectSameTaskRuns(*live, **Engine::Open(dir), kNow);
  }
  fs::remove_all(dir);
}

TEST(CheckpointResumeTest, ACheckpointThatCannotBeWrittenSaysWhy) {
  TestRng rng(5);
  std::unique_ptr<Engine> engine = Engine::FromRecords(RandomRecords(rng));
  // A directory under a regular file cannot be created.
  const std::string file = ::testing::TempDir() + "/taskdex_not_a_dir_" + std::to_string(getpid());
  { std::ofstream(file) << "x"; }
  Checkpointer checkpointer(file + "/checkpoint", nullptr, nullptr);
  checkpointer.SetEngine(engine.get());
  const Response r = checkpointer.CheckpointNow();
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("checkpoint failed"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(file), std::string::npos) << r.body;
  fs::remove(file);
}

TEST(CheckpointResumeTest, DurationsOfCheckpointEvery) {
  EXPECT_EQ(ParseDurationSeconds("90"), 90);
  EXPECT_EQ(ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(ParseDurationSeconds("15m"), 900);
  EXPECT_EQ(ParseDurationSeconds("2h"), 7200);
  for (const char* bad : {"", "0", "-5m", "m", "1.5h", "10d", "ten"}) {
    EXPECT_EQ(ParseDurationSeconds(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace taskdex
