// bench/change_stream.cc
//
// The state object of each transition is written in Prefect's input shape
// (id, type, name, timestamp, message, data, the two state_details ids) and
// normalized by engine/normalize.h, so it reads exactly as the loader would
// store it, with no second copy of the normalization rules here.
//
// Random numbers: splitmix64 and modulo / 2^-53 arithmetic, so the output is
// the same with any standard library.

#include "bench/change_stream.h"

#include <algorithm>
#include <cassert>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "engine/change_file.h"
#include "engine/datetime.h"
#include "engine/normalize.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

bool InFlight(const TaskRunRecord& r) { return !r.state_type || !IsTerminal(*r.state_type); }

// Prefect's next state for a run in flight, before the COMPLETED / FAILED
// choice (kCompleted stands for "finishes").
StateType NextType(std::optional<StateType> t) {
  if (!t) return StateType::kPending;
  switch (*t) {
    case StateType::kScheduled:
      return StateType::kPending;
    case StateType::kPending:
    case StateType::kPaused:
      return StateType::kRunning;
    case StateType::kCancelling:
      return StateType::kCancelled;
    default:
      return StateType::kCompleted;
  }
}

std::string QuotedUuidOrNull(const std::optional<Uuid>& u) {
  return u ? absl::StrFormat("\"%s\"", UuidToString(*u)) : std::string("null");
}

}  // namespace

ChangeStream::ChangeStream(const SnapshotRecords& records, const ChangeStreamOptions& options)
    : options_(options), rng_(options.seed), clock_(options.now) {
  flow_runs_.reserve(records.flow_runs.size());
  for (const FlowRunRecord& f : records.flow_runs) flow_runs_.push_back(f.id);
  for (const TaskRunRecord& r : records.task_runs) {
    if (InFlight(r)) in_flight_.push_back(r);
  }
}

uint64_t ChangeStream::Rand() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double ChangeStream::Uniform() { return static_cast<double>(Rand() >> 11) * 0x1.0p-53; }

Uuid ChangeStream::NewUuid() {
  Uuid u;
  uint64_t hi = Rand(), lo = Rand();
  for (int i = 0; i < 8; ++i) {
    u.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    u.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

void ChangeStream::SetState(TaskRunRecord* r, StateType type) {
  const Uuid state_id = NewUuid();
  std::string json = absl::StrFormat(
      R"({"id":"%s","type":"%s","name":"%s","timestamp":"%s","message":null,"data":null,)"
      R"("state_details":{"flow_run_id":%s,"task_run_id":"%s"}})",
      UuidToString(state_id), StateTypeName(type), StateTypeDefaultName(type),
      FormatDatetime(clock_), QuotedUuidOrNull(r->flow_run_id), UuidToString(r->id));
  absl::StatusOr<NormalizedState> state = NormalizeStateJson(json);
  // Our own text of a valid state: a failure is a bug here.
  assert(state.ok());
  if (!state.ok()) state = NormalizedState{json, type, clock_, -1};
  r->state_id = state_id;
  r->state_type = type;
  r->state_name = std::string(StateTypeDefaultName(type));
  r->state_json = std::move(state->json);
  r->state_timestamp = state->timestamp;
  r->state_scheduled_time_null_offset = state->scheduled_time_null_offset;
  r->updated = clock_;
  if (type == StateType::kRunning) {
    if (!r->start_time) r->start_time = clock_;
    ++r->run_count;
    r->next_scheduled_start_time.reset();
    if (!r->expected_start_time) r->expected_start_time = clock_;
  }
  if (IsTerminal(type)) {
    r->end_time = clock_;
    // Time spent RUNNING: from the start (or the last state change when the
    // run started before the snapshot without a start_time) to now.
    Micros since = r->start_time ? *r->start_time : clock_;
    r->total_run_time_us = std::max<Micros>(r->total_run_time_us, clock_ - since);
  }
}

TaskRunRecord ChangeStream::NewTaskRun() {
  TaskRunRecord r;
  r.id = NewUuid();
  r.created = clock_;
  if (!flow_runs_.empty()) {
    r.flow_run_id = flow_runs_[Rand() % flow_runs_.size()];
    r.flow_run_run_count = 1;
  }
  const uint64_t task = Rand() % 50;
  r.name = absl::StrFormat("task_%d-%03x", task, Rand() % 4096);
  r.task_key = absl::StrFormat("task_%d-%08x", task, static_cast<uint32_t>(Rand()));
  r.dynamic_key = UuidToString(NewUuid());
  r.empirical_policy_json = std::string(kDefaultEmpiricalPolicyJson);
  r.expected_start_time = clock_;
  SetState(&r, StateType::kPending);
  return r;
}

Change ChangeStream::Next() {
  clock_ += 1000 + static_cast<Micros>(Rand() % 2'000'000);
  Change c;
  c.op = ChangeOp::kUpsert;
  c.entity = EntityKind::kTaskRun;
  if (in_flight_.empty() || Uniform() < options_.new_task_run_share) {
    in_flight_.push_back(NewTaskRun());
    ++created_;
    c.id = in_flight_.back().id;
    c.row = in_flight_.back();
    return c;
  }
  const size_t i = Rand() % in_flight_.size();
  TaskRunRecord& r = in_flight_[i];
  StateType next = NextType(r.state_type);
  if (next == StateType::kCompleted && Uniform() < options_.failed_share) {
    next = StateType::kFailed;
  }
  SetState(&r, next);
  ++transitions_;
  c.id = r.id;
  c.row = r;
  if (IsTerminal(next)) {
    // Done: swap it out of the runs in flight.
    std::swap(r, in_flight_.back());
    in_flight_.pop_back();
  }
  return c;
}

Batch ChangeStream::NextBatch(size_t n) {
  Batch b;
  b.changes.reserve(n);
  for (size_t i = 0; i < n; ++i) b.changes.push_back(Next());
  return b;
}

absl::Status WriteChangeFile(const SnapshotRecords& records, const ChangeStreamOptions& options,
                             uint64_t lines, const std::string& path) {
  if (!(options.new_task_run_share >= 0 && options.new_task_run_share <= 1) ||
      !(options.failed_share >= 0 && options.failed_share <= 1)) {
    return absl::InvalidArgumentError("change stream shares must lie in [0, 1]");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrFormat("%s: cannot write", path));
  ChangeStream stream(records, options);
  std::string buf;
  for (uint64_t i = 0; i < lines; ++i) {
    buf += ChangeLine(stream.Next());
    buf.push_back('\n');
    if (buf.size() >= (size_t{1} << 20) || i + 1 == lines) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrFormat("%s: write failed", path));
  return absl::OkStatus();
}

}  // namespace taskdex
