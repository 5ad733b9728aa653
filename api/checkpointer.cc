// api/checkpointer.cc

#include "api/checkpointer.h"

#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/text_format.h"

namespace taskdex {

std::optional<int64_t> ParseDurationSeconds(std::string_view text) {
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's': unit = 1; text.remove_suffix(1); break;
      case 'm': unit = 60; text.remove_suffix(1); break;
      case 'h': unit = 3600; text.remove_suffix(1); break;
      default: break;
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &n) || n <= 0 ||
      n > int64_t{1} << 40) {
    return std::nullopt;
  }
  return n * unit;
}

absl::StatusOr<std::unique_ptr<Engine>> OpenForResume(const std::string& dir,
                                                      DbFollowLoop* follower,
                                                      const LoadOptions& options) {
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Open(dir, options, {.background_merges = true, .expect_writes = true});
  if (!engine.ok()) return engine.status();
  LiveStore::HeldIds held = (*engine)->Held();
  DbPosition position;
  if ((*engine)->snapshot_source() != "null") {
    absl::StatusOr<DbPosition> p = ParseDbPosition((*engine)->snapshot_source());
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, "/manifest.json: ", p.status().message()));
    }
    position = *p;
  } else {
    position.watermark[static_cast<int>(EntityKind::kTaskRun)] = held.newest_task_run_updated;
  }
  follower->Resume(held.ids, position);
  return engine;
}

Checkpointer::Checkpointer(std::string dir, const DbFollowLoop* follower, FILE* log)
    : dir_(std::move(dir)), follower_(follower), log_(log) {}

Checkpointer::~Checkpointer() { Stop(); }

void Checkpointer::SetEngine(const Engine* engine) {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    engine->RememberLoadedFiles(&cache_);
  }
  engine_.store(engine, std::memory_order_release);
}

Response Checkpointer::CheckpointNow() {
  const Engine* engine = engine_.load(std::memory_order_acquire);
  if (engine == nullptr) {
    return {503, R"({"exception_message":"Service Unavailable"})"};
  }
  std::lock_guard<std::mutex> lock(run_mu_);
  // The position first: the version pinned after it holds all it covers.
  const std::string source =
      follower_ != nullptr ? DbPositionJson(follower_->position()) : std::string("null");
  SaveOptions options;
  options.cache = &cache_;
  absl::StatusOr<SaveReport> saved = engine->Save(dir_, options, source);
  if (!saved.ok()) {
    if (log_ != nullptr) {
      std::fprintf(log_, "taskdex serve: checkpoint into %s failed: %s\n", dir_.c_str(),
                   std::string(saved.status().message()).c_str());
      std::fflush(log_);
    }
    std::string body = "{\"detail\":";
    AppendJsonString(&body, absl::StrCat("checkpoint failed: ", saved.status().message()));
    body += "}";
    return {500, std::move(body)};
  }
  const uint64_t version = saved->version;
  if (log_ != nullptr) {
    std::fprintf(log_,
                 "taskdex serve: checkpoint %s into %s: %llu segments, %llu bytes written, "
                 "%llu reused, in %.2f s\n",
                 saved->snapshot_id.c_str(), dir_.c_str(),
                 static_cast<unsigned long long>(saved->segments),
                 static_cast<unsigned long long>(saved->bytes),
                 static_cast<unsigned long long>(saved->reused_bytes), saved->seconds);
    std::fflush(log_);
  }
  std::string body = absl::StrCat("{\"snapshot_id\":\"", saved->snapshot_id, "\",\"dir\":");
  AppendJsonString(&body, dir_);
  absl::StrAppend(&body, ",\"version\":", version, ",\"segments\":", saved->segments,
                  ",\"bytes\":", saved->bytes, ",\"reused_bytes\":", saved->reused_bytes,
                  ",\"seconds\":",
                  absl::StrFormat("%.3f", saved->seconds), ",\"source\":", source, "}");
  return {200, std::move(body)};
}

void Checkpointer::StartEvery(int64_t seconds) {
  timer_ = std::thread([this, seconds] {
    std::unique_lock<std::mutex> lock(timer_mu_);
    while (!timer_cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return stop_; })) {
      lock.unlock();
      if (engine_.load(std::memory_order_acquire) != nullptr) CheckpointNow();
      lock.lock();
    }
  });
}

void Checkpointer::Stop() {
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    stop_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
}

}  // namespace taskdex
