// tests/bench/change_stream_test.cc
//
// bench/change_stream.h: deterministic by seed; every change reads back
// through the change-file parser unchanged; each transition keeps the
// denormalized fields of the task run consistent with its state object;
// the share of new task runs follows the option.

#include "bench/change_stream.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "engine/change_file.h"
#include "engine/snapshot_loader.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

SnapshotRecords Sample() {
  LoadOptions options;
  options.threads = 1;
  absl::StatusOr<SnapshotRecords> records =
      ReadSnapshotRecords(TASKDEX_SOURCE_DIR "/data/sample", options, nullptr);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *std::move(records) : SnapshotRecords();
}

constexpr Micros kNow = 1795780800LL * 1000000;

std::string Lines(const SnapshotRecords& records, uint64_t seed, int n) {
  ChangeStreamOptions options;
  options.seed = seed;
  options.now = kNow;
  ChangeStream stream(records, options);
  std::string out;
  for (int i = 0; i < n; ++i) out += ChangeLine(stream.Next()) + "\n";
  return out;
}

TEST(ChangeStreamTest, SameSeedSameChanges) {
  const SnapshotRecords records = Sample();
  EXPECT_EQ(Lines(records, 7, 300), Lines(records, 7, 300));
  EXPECT_NE(Lines(records, 7, 300), Lines(records, 8, 300));
}

TEST(ChangeStreamTest, ChangesReadBackAndStatesAreConsistent) {
  const SnapshotRecords records = Sample();
  ChangeStreamOptions options;
  options.seed = 3;
  options.now = kNow;
  options.new_task_run_share = 0.25;
  ChangeStream stream(records, options);
  ASSERT_GT(stream.runs_in_flight(), 0u);
  absl::flat_hash_set<Uuid> flow_runs;
  for (const FlowRunRecord& f : records.flow_runs) flow_runs.insert(f.id);

  int completed = 0, failed = 0, running = 0;
  Micros last_clock = kNow;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    Change c = stream.Next();
    ASSERT_EQ(c.op, ChangeOp::kUpsert);
    ASSERT_EQ(c.entity, EntityKind::kTaskRun);
    const TaskRunRecord& r = std::get<TaskRunRecord>(c.row);
    ASSERT_EQ(c.id, r.id);
    std::string line = ChangeLine(c);
    SCOPED_TRACE(line);
    absl::StatusOr<Change> back = ParseChangeLine(line);
    ASSERT_TRUE(back.ok()) << back.status();
    const TaskRunRecord& b = std::get<TaskRunRecord>(back->row);
    // What the loader reads is what the stream made.
    EXPECT_EQ(b.state_json, r.state_json);
    EXPECT_EQ(b.state_timestamp, r.state_timestamp);
    EXPECT_EQ(ChangeLine(*back), line);

    // The state object agrees with the denormalized columns.
    ASSERT_TRUE(r.state_type.has_value());
    ASSERT_TRUE(r.state_id.has_value());
    EXPECT_NE(r.state_json.find("\"id\":\"" + UuidToString(*r.state_id) + "\""), std::string::npos);
    EXPECT_NE(r.state_json.find(absl::StrFormat("\"type\":\"%s\"", StateTypeName(*r.state_type))),
              std::string::npos);
    EXPECT_EQ(r.state_name, std::string(StateTypeDefaultName(*r.state_type)));
    EXPECT_EQ(r.state_timestamp, stream.clock());
    EXPECT_EQ(r.updated, stream.clock());
    EXPECT_GT(stream.clock(), last_clock);
    last_clock = stream.clock();
    if (r.flow_run_id) {
      EXPECT_TRUE(flow_runs.contains(*r.flow_run_id));
    }
    switch (*r.state_type) {
      case StateType::kRunning:
        ++running;
        ASSERT_TRUE(r.start_time.has_value());
        EXPECT_GE(r.run_count, 1);
        EXPECT_FALSE(r.end_time.has_value());
        break;
      case StateType::kCompleted:
      case StateType::kFailed:
        (*r.state_type == StateType::kCompleted ? completed : failed)++;
        ASSERT_TRUE(r.end_time.has_value());
        EXPECT_EQ(*r.end_time, stream.clock());
        if (r.start_time) {
          EXPECT_GE(r.total_run_time_us, *r.end_time - *r.start_time);
        }
        break;
      default:
        break;
    }
  }
  EXPECT_GT(running, 0);
  EXPECT_GT(completed, failed);
  EXPECT_GT(failed, 0);
  // At least about a quarter of the changes create a task run; more once
  // the runs in flight run out (each new run then takes two more changes to
  // finish, so at most about a third).
  EXPECT_EQ(stream.created() + stream.transitions(), static_cast<uint64_t>(n));
  EXPECT_GT(stream.created(), n * 0.22);
  EXPECT_LT(stream.created(), n * 0.35);
}

TEST(ChangeStreamTest, NewRunsGoPendingRunningDone) {
  // No snapshot runs in flight and no flow runs: every run is new, and each
  // goes PENDING -> RUNNING -> COMPLETED/FAILED.
  SnapshotRecords empty;
  ChangeStreamOptions options;
  options.now = kNow;
  options.new_task_run_share = 0.0;
  ChangeStream stream(empty, options);
  Change first = stream.Next();
  const TaskRunRecord& r1 = std::get<TaskRunRecord>(first.row);
  EXPECT_EQ(r1.state_type, StateType::kPending);
  EXPECT_FALSE(r1.flow_run_id.has_value());
  EXPECT_EQ(r1.run_count, 0);
  Change second = stream.Next();
  const TaskRunRecord& r2 = std::get<TaskRunRecord>(second.row);
  EXPECT_EQ(r2.id, r1.id);
  EXPECT_EQ(r2.state_type, StateType::kRunning);
  EXPECT_EQ(r2.start_time, stream.clock());
  EXPECT_EQ(r2.run_count, 1);
  EXPECT_NE(r2.state_id, r1.state_id);
  Change third = stream.Next();
  const TaskRunRecord& r3 = std::get<TaskRunRecord>(third.row);
  EXPECT_EQ(r3.id, r1.id);
  ASSERT_TRUE(r3.state_type && IsTerminal(*r3.state_type));
  EXPECT_EQ(r3.total_run_time_us, *r3.end_time - *r2.start_time);
  EXPECT_EQ(stream.runs_in_flight(), 0u);
  EXPECT_EQ(stream.created(), 1u);
}

}  // namespace
}  // namespace taskdex
