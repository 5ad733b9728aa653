// engine/db_follow_loop.cc: the follower's thread, backoff and status
// (engine/db_follow_loop.h).

#include "engine/db_follow_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_format.h"

namespace taskdex {
namespace {

Micros WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

DbErrorKind KindOf(const absl::Status& s, bool from_apply) {
  if (from_apply) return DbErrorKind::kApply;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      return DbErrorKind::kConnection;
    case absl::StatusCode::kFailedPrecondition:
      return DbErrorKind::kSchema;
    case absl::StatusCode::kInvalidArgument:
      return DbErrorKind::kData;
    default:
      return DbErrorKind::kOther;
  }
}

// Apply errors are told apart from the database's by this wrapper.
struct ApplyFailed {
  absl::Status status;
};

}  // namespace

std::string_view DbErrorKindName(DbErrorKind kind) {
  static constexpr std::string_view kNames[kDbErrorKinds] = {"connection", "schema", "data",
                                                             "apply", "other"};
  return kNames[static_cast<int>(kind)];
}

double DbSourceStatus::Staleness(Micros now) const {
  if (last_success_start == 0) return std::numeric_limits<double>::infinity();
  return std::max<double>(0, static_cast<double>(now - last_success_start) / 1e6);
}

DbFollowLoop::DbFollowLoop(std::unique_ptr<DbSource> source, DbFollowOptions options, FILE* log)
    : options_(options),
      url_(source->display_url()),
      log_(log),
      follower_(std::move(source), options.follower) {}

DbFollowLoop::~DbFollowLoop() { Stop(); }

bool DbFollowLoop::SleepFor(int ms) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
  return !stop_;
}

void DbFollowLoop::Failed(const absl::Status& status, bool from_apply) {
  follower_.source().Disconnect();
  DbErrorKind kind = KindOf(status, from_apply);
  std::string message(status.message());
  bool loaded;
  {
    std::lock_guard lock(mu_);
    status_.connected = false;
    ++status_.errors[static_cast<int>(kind)];
    status_.last_error = message;
    loaded = status_.loaded;
  }
  ++failures_in_row_;
  if (message != failing_with_ && log_ != nullptr) {
    std::fprintf(log_, "taskdex source: %s error (%s): %s\n",
                 std::string(DbErrorKindName(kind)).c_str(),
                 loaded ? "serving the last good version" : "not loaded yet", message.c_str());
    std::fflush(log_);
  }
  failing_with_ = message;
}

void DbFollowLoop::Succeeded() {
  if (failures_in_row_ > 0) {
    {
      std::lock_guard lock(mu_);
      ++status_.reconnects;
    }
    if (log_ != nullptr) {
      std::fprintf(log_, "taskdex source: %s answers again after %d failed attempts\n",
                   url_.c_str(), failures_in_row_);
      std::fflush(log_);
    }
  }
  failures_in_row_ = 0;
  failing_with_.clear();
}

// Opens the change stream when one is asked for and not yet decided.
// Unavailable is returned (retry); a refusal is logged once and the loop
// polls from then on.
absl::Status DbFollowLoop::DecideStream() {
  if (stream_decided_ || options_.slot.empty()) return absl::OkStatus();
  absl::Status s = follower_.UseChangeStream(options_.slot);
  if (s.code() == absl::StatusCode::kUnavailable) return s;
  stream_decided_ = true;
  if (log_ != nullptr) {
    if (s.ok()) {
      std::string note = follower_.source().ChangeStreamNote();
      std::fprintf(log_, "taskdex source: following by logical decoding, slot %s%s%s\n",
                   options_.slot.c_str(), note.empty() ? "" : ", ", note.c_str());
    } else {
      std::fprintf(log_,
                   "taskdex source: warning: logical decoding is not available (%s); polling "
                   "every %d ms instead\n",
                   std::string(s.message()).c_str(), options_.poll_interval_ms);
    }
    std::fflush(log_);
  }
  std::lock_guard lock(mu_);
  status_.streaming = s.ok();
  return absl::OkStatus();
}

absl::StatusOr<SnapshotRecords> DbFollowLoop::Load(
    const std::function<void(uint64_t rows)>& progress) {
  int backoff = kBackoffMinMs;
  while (true) {
    if (absl::Status s = DecideStream(); !s.ok()) {
      Failed(s, false);
      if (!SleepFor(backoff)) return absl::CancelledError("stopped while loading");
      backoff = std::min(backoff * 2, kBackoffMaxMs);
      continue;
    }
    Micros start = WallMicros();
    absl::StatusOr<SnapshotRecords> records = follower_.Load([&](const DbLoadProgress& p) {
      {
        std::lock_guard lock(mu_);
        status_.rows_loaded = p.rows_done;
      }
      if (progress) progress(p.rows_done);
    });
    if (records.ok()) {
      Succeeded();
      Micros end = WallMicros();
      std::lock_guard lock(mu_);
      status_.loaded = true;
      status_.connected = true;
      status_.rows_loaded = records->flows.size() + records->deployments.size() +
                            records->flow_runs.size() + records->task_runs.size();
      status_.load_seconds = static_cast<double>(end - start) / 1e6;
      status_.last_success_start = start;
      status_.last_success_end = end;
      last_reconcile_ = start;
      position_ = follower_.position();
      return records;
    }
    Failed(records.status(), false);
    if (records.status().code() != absl::StatusCode::kUnavailable) return records.status();
    if (!SleepFor(backoff)) return absl::CancelledError("stopped while loading");
    backoff = std::min(backoff * 2, kBackoffMaxMs);
  }
}

void DbFollowLoop::Resume(const std::array<std::vector<Uuid>, 4>& held,
                          const DbPosition& position) {
  follower_.Resume(held, position);
  Seeded(held[0].size() + held[1].size() + held[2].size() + held[3].size());
}

void DbFollowLoop::Seeded(uint64_t rows) {
  reconcile_next_ = true;
  std::lock_guard lock(mu_);
  status_.loaded = true;
  status_.rows_loaded = rows;
  position_ = follower_.position();
}

DbPosition DbFollowLoop::position() const {
  std::lock_guard lock(mu_);
  return position_;
}

void DbFollowLoop::Seed(const SnapshotRecords& records) {
  follower_.Seed(records);
  Seeded(records.flows.size() + records.deployments.size() + records.flow_runs.size() +
         records.task_runs.size());
}

absl::Status DbFollowLoop::PollOnce(const std::function<absl::Status(const Batch&)>& apply) {
  Micros start = WallMicros();
  if (absl::Status s = DecideStream(); !s.ok()) {
    Failed(s, false);
    return s;
  }
  const bool stream = follower_.streaming() && !reconcile_next_;
  bool reconcile = !stream && (reconcile_next_ || start - last_reconcile_ >=
                                                      int64_t{options_.reconcile_interval_s} *
                                                          1'000'000);
  bool apply_failed = false;
  auto checked_apply = [&](const Batch& batch) {
    absl::Status a = apply(batch);
    apply_failed = !a.ok();
    return a;
  };
  DbPollStats stats;
  absl::Status s = stream ? follower_.StreamOnce(checked_apply, &stats, options_.decode_interval_ms)
                          : follower_.Poll(reconcile, checked_apply, &stats);
  if (!s.ok()) {
    Failed(s, apply_failed);
    return s;
  }
  Succeeded();
  if (reconcile) {
    reconcile_next_ = false;
    last_reconcile_ = start;
  }
  std::lock_guard lock(mu_);
  position_ = follower_.position();
  status_.connected = true;
  status_.last_success_start = start;
  status_.last_success_end = WallMicros();
  ++status_.polls;
  status_.reconciliations += reconcile ? 1 : 0;
  status_.rows_read += stats.rows_read;
  status_.rows_unchanged += stats.unchanged;
  status_.rows_upserted += stats.upserts;
  status_.rows_deleted += stats.deletes;
  for (int p = 0; p < kDbPollPhases; ++p) status_.phase_seconds[p] += stats.phase_seconds[p];
  polled_.notify_all();
  return absl::OkStatus();
}

Micros DbFollowLoop::Now() { return WallMicros(); }

bool DbFollowLoop::WaitForPollAfter(Micros t, int timeout_ms) const {
  std::unique_lock lock(mu_);
  return polled_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                          [&] { return status_.last_success_start >= t; });
}

void DbFollowLoop::Start(std::function<absl::Status(const Batch&)> apply) {
  apply_ = std::move(apply);
  thread_ = std::thread([this] { Run(); });
}

void DbFollowLoop::Run() {
  int backoff = kBackoffMinMs;
  while (true) {
    auto started = std::chrono::steady_clock::now();
    const int interval =
        follower_.streaming() ? options_.decode_interval_ms : options_.poll_interval_ms;
    int wait_ms = interval;
    if (PollOnce(apply_).ok()) {
      backoff = kBackoffMinMs;
      // Polls start every interval; a slow one is followed at once.
      auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count();
      wait_ms = std::max<int>(0, interval - static_cast<int>(spent));
    } else {
      wait_ms = std::max(backoff, options_.poll_interval_ms);
      backoff = std::min(backoff * 2, kBackoffMaxMs);
    }
    if (!SleepFor(wait_ms)) return;
  }
}

void DbFollowLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (options_.drop_slot && follower_.streaming() && !slot_dropped_) {
    absl::Status s = follower_.source().DropChangeStream();
    slot_dropped_ = s.ok();
    if (log_ != nullptr) {
      std::fprintf(log_, "taskdex source: %s replication slot %s\n",
                   s.ok() ? "dropped" : "could not drop", options_.slot.c_str());
      if (!s.ok()) std::fprintf(log_, "taskdex source: %s\n", std::string(s.message()).c_str());
      std::fflush(log_);
    }
  }
}

DbSourceStatus DbFollowLoop::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::string DbFollowLoop::MetricsText(Micros now) const {
  DbSourceStatus s = Status();
  double staleness = s.Staleness(now);
  std::string out;
  out += absl::StrFormat(
      "# HELP taskdex_source_staleness_seconds Time since the start of the last successful "
      "load or poll of the database: changes committed before it are visible.\n"
      "# TYPE taskdex_source_staleness_seconds gauge\ntaskdex_source_staleness_seconds %s\n",
      std::isinf(staleness) ? "+Inf" : absl::StrFormat("%.3f", staleness));
  out += absl::StrFormat(
      "# HELP taskdex_source_last_success_timestamp_seconds Unix time the last successful "
      "poll ended.\n# TYPE taskdex_source_last_success_timestamp_seconds gauge\n"
      "taskdex_source_last_success_timestamp_seconds %.3f\n",
      static_cast<double>(s.last_success_end) / 1e6);
  out += absl::StrFormat(
      "# HELP taskdex_source_connected Whether the last call to the database succeeded.\n"
      "# TYPE taskdex_source_connected gauge\ntaskdex_source_connected %d\n"
      "# HELP taskdex_source_streaming Whether changes come by logical decoding (else "
      "polling).\n# TYPE taskdex_source_streaming gauge\ntaskdex_source_streaming %d\n"
      "# HELP taskdex_source_loaded Whether the initial load is done.\n"
      "# TYPE taskdex_source_loaded gauge\ntaskdex_source_loaded %d\n"
      "# HELP taskdex_source_load_rows Rows read by the initial load.\n"
      "# TYPE taskdex_source_load_rows gauge\ntaskdex_source_load_rows %d\n"
      "# HELP taskdex_source_load_seconds Time the initial load took.\n"
      "# TYPE taskdex_source_load_seconds gauge\ntaskdex_source_load_seconds %.3f\n",
      s.connected ? 1 : 0, s.streaming ? 1 : 0, s.loaded ? 1 : 0, s.rows_loaded,
      s.load_seconds);
  out += absl::StrFormat(
      "# HELP taskdex_source_polls_total Successful polls.\n"
      "# TYPE taskdex_source_polls_total counter\ntaskdex_source_polls_total %d\n"
      "# HELP taskdex_source_reconciliations_total Successful reconciliations.\n"
      "# TYPE taskdex_source_reconciliations_total counter\n"
      "taskdex_source_reconciliations_total %d\n"
      "# HELP taskdex_source_rows_total Rows by what the polls did with them: read, "
      "unchanged (skipped), upserted, deleted.\n# TYPE taskdex_source_rows_total counter\n"
      "taskdex_source_rows_total{kind=\"read\"} %d\ntaskdex_source_rows_total{kind=\"unchanged\"} %d\n"
      "taskdex_source_rows_total{kind=\"upserted\"} %d\ntaskdex_source_rows_total{kind=\"deleted\"} %d\n"
      "# HELP taskdex_source_reconnects_total Recoveries after a failed load or poll.\n"
      "# TYPE taskdex_source_reconnects_total counter\ntaskdex_source_reconnects_total %d\n",
      s.polls, s.reconciliations, s.rows_read, s.rows_unchanged, s.rows_upserted,
      s.rows_deleted, s.reconnects);
  out +=
      "# HELP taskdex_source_poll_seconds_total Time successful polls spent, by phase: changes "
      "(what changed: keys, the slot's changes, reconciliation's ids), rows (read by id), "
      "apply (into the engine), confirm (the slot's position).\n"
      "# TYPE taskdex_source_poll_seconds_total counter\n";
  for (int p = 0; p < kDbPollPhases; ++p) {
    out += absl::StrFormat("taskdex_source_poll_seconds_total{phase=\"%s\"} %.6f\n",
                           DbPollPhaseName(static_cast<DbPollPhase>(p)), s.phase_seconds[p]);
  }
  out +=
      "# HELP taskdex_source_errors_total Failed loads and polls by kind.\n"
      "# TYPE taskdex_source_errors_total counter\n";
  for (int k = 0; k < kDbErrorKinds; ++k) {
    out += absl::StrFormat("taskdex_source_errors_total{kind=\"%s\"} %d\n",
                           std::string(DbErrorKindName(static_cast<DbErrorKind>(k))), s.errors[k]);
  }
  return out;
}

std::optional<std::string> DbFollowLoop::NotReady(Micros now) const {
  DbSourceStatus s = Status();
  if (!s.loaded) {
    return absl::StrFormat("loading from the database: %d rows read", s.rows_loaded);
  }
  double staleness = s.Staleness(now);
  if (s.last_success_start != 0 && staleness <= options_.max_staleness_s) return std::nullopt;
  return absl::StrFormat("the database was last read %.1f s ago (over --max-staleness %d s)%s%s",
                         staleness, options_.max_staleness_s,
                         s.last_error.empty() ? "" : ": ", s.last_error);
}

}  // namespace taskdex
