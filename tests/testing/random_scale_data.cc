// tests/testing/random_scale_data.cc

#include "tests/testing/random_scale_data.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace taskdex {
namespace {

constexpr Micros kSecond = 1'000'000;
constexpr Micros kMinute = 60 * kSecond;
// 2024-05-01T10:00:00Z, as random_data.cc.
constexpr Micros kBase = Micros{1714557600} * kSecond;
// The history spans 30 days.
constexpr Micros kSpan = Micros{30} * 24 * 3600 * kSecond;

// Id kinds (first byte); distinct from random_data.cc's so that ids of the
// two generators never collide.
constexpr uint8_t kTaskRunKind = 0x11;
constexpr uint8_t kFlowRunKind = 0xa1;
constexpr uint8_t kFlowKind = 0xf1;
constexpr uint8_t kDeploymentKind = 0xd1;
constexpr uint8_t kUnknownKind = 0xef;
constexpr uint8_t kCreatorKind = 0xc1;

// Unique per (kind, n): n in bytes 12-15, random bytes 1-3 so that id order
// is unrelated to creation order.
Uuid MakeId(TestRng& rng, uint8_t kind, uint32_t n) {
  Uuid u;
  u.bytes[0] = kind;
  for (int i = 1; i < 4; ++i) u.bytes[i] = static_cast<uint8_t>(rng.Uniform(256));
  u.bytes[6] = 0x40;
  u.bytes[8] = 0x80;
  for (int i = 0; i < 4; ++i) u.bytes[12 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  return u;
}

Uuid FixedId(uint8_t kind, uint8_t n) {
  Uuid u;
  u.bytes[0] = kind;
  u.bytes[6] = 0x40;
  u.bytes[8] = 0x80;
  u.bytes[15] = n;
  return u;
}

std::string HexUuid(const Uuid& u, bool upper) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[u.bytes[i] >> 4]);
    out.push_back(hex[u.bytes[i] & 0xF]);
  }
  return out;
}

std::string Hex(uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kHex[v & 0xF];
  return s;
}

// Picks index i of `weights` with probability weights[i] / sum.
size_t PickWeighted(TestRng& rng, const std::vector<int>& weights) {
  int total = 0;
  for (int w : weights) total += w;
  int x = static_cast<int>(rng.Uniform(static_cast<uint64_t>(total)));
  for (size_t i = 0; i < weights.size(); ++i) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return weights.size() - 1;
}

// Task names: the traps (case variants, like_ metacharacters, a backslash,
// multibyte) plus generated ones.
const std::vector<std::string> kTaskWords = {
    "extract",     "load",        "transform", "fetch_data", "Send-Email", "process%",  "a\\b",
    "caf\xc3\xa9", "\xc3\x89TL",  "x_y",       "Extract",    "LOAD",       "cleanup",   "validate",
    "score",       "train_model", "Report",    "sync",       "notify",     "aggregate", "dedupe"};
const std::vector<std::string> kAdjectives = {
    "happy", "sad",   "quick",  "lazy", "brave", "calm",  "eager", "fancy", "gentle", "jolly",
    "kind",  "lucky", "mighty", "nice", "proud", "silly", "witty", "zany",  "Bold",   "shy_"};
const std::vector<std::string> kNouns = {
    "otter", "llama", "fox",   "panda", "tiger", "whale", "eagle", "koala", "lemur", "moose",
    "newt",  "owl",   "quail", "raven", "seal",  "toad",  "Yak",   "zebra", "100%",  "ant"};
const std::vector<std::string> kFlowWords = {
    "etl",         "ETL",         "ml_train", "Report-Daily", "100%",
    "back\\slash", "caf\xc3\xa9", "ingest",   "billing",      "nightly_sync"};
const std::vector<std::string> kCreatorTypes = {"DEPLOYMENT", "AUTOMATION", "deployment"};

// A skewed tag list: `common` on ~common_percent of the rows, `second` on
// ~15%, one of `rare` on ~12%, and traps ("Prod", "\xc3\xa9") on 1-2%.
std::vector<std::string> SkewedTags(TestRng& rng, int common_percent,
                                    const std::vector<std::string>& rare) {
  std::vector<std::string> tags;
  if (rng.Percent(common_percent)) tags.push_back("prod");
  if (rng.Percent(15)) tags.push_back("db");
  if (rng.Percent(12)) tags.push_back(rng.Pick(rare));
  if (rng.Percent(2)) tags.push_back("Prod");
  if (rng.Percent(1)) tags.push_back("\xc3\xa9");
  if (rng.Percent(1) && !tags.empty()) tags.push_back(tags.front());  // a duplicate
  return tags;
}

// States: one dominant type (COMPLETED), a long tail, a few NULLs.
struct StateDraw {
  std::optional<StateType> type;
  std::optional<std::string> name;
};

StateDraw SkewedState(TestRng& rng, int completed_percent) {
  static const std::vector<std::pair<StateType, const char*>> kTail = {
      {StateType::kFailed, "Failed"},       {StateType::kRunning, "Running"},
      {StateType::kPending, "Pending"},     {StateType::kScheduled, "Scheduled"},
      {StateType::kCancelled, "Cancelled"}, {StateType::kCrashed, "Crashed"},
      {StateType::kPaused, "Paused"},       {StateType::kCancelling, "Cancelling"}};
  static const std::vector<int> kTailWeights = {40, 20, 12, 10, 8, 4, 3, 3};
  StateDraw d;
  if (rng.Percent(3)) {
    if (rng.Percent(30)) d.name = "Completed";  // a name without a type
    return d;
  }
  if (rng.Percent(completed_percent)) {
    d.type = StateType::kCompleted;
    d.name = rng.Percent(10) ? "Cached" : (rng.Percent(1) ? "completed" : "Completed");
  } else {
    const auto& [type, name] = kTail[PickWeighted(rng, kTailWeights)];
    d.type = type;
    d.name = std::string(name);
    if (type == StateType::kScheduled && rng.Percent(30)) d.name = "Late";
    if (type == StateType::kFailed && rng.Percent(20)) d.name = "TimedOut";
  }
  if (rng.Percent(2)) d.name = std::nullopt;
  return d;
}

// An instant near `at`, truncated to the minute 40% of the time so that
// sorts and bounds tie.
Micros Near(TestRng& rng, Micros at, Micros jitter) {
  Micros t = at + static_cast<Micros>(rng.Uniform(static_cast<uint64_t>(jitter) + 1));
  if (rng.Percent(40)) t -= ((t % kMinute) + kMinute) % kMinute;
  return t;
}

struct Scale {
  uint32_t flows;
  uint32_t deployments;
  uint32_t flow_runs;
  uint32_t big_flow_runs;  // flow runs holding big_share_percent of task runs
  int big_share_percent;
  int completed_percent;
  int prod_percent;
};

Scale DrawScale(TestRng& rng, uint32_t task_runs) {
  Scale s;
  s.flows = 8 + static_cast<uint32_t>(rng.Uniform(40));
  s.deployments = s.flows + static_cast<uint32_t>(rng.Uniform(2 * s.flows + 1));
  const uint32_t per_run = 20 + static_cast<uint32_t>(rng.Uniform(60));
  s.flow_runs = std::clamp<uint32_t>(task_runs / per_run, 12, 3000);
  s.big_flow_runs = 1 + static_cast<uint32_t>(rng.Uniform(4));
  s.big_share_percent = 10 + static_cast<int>(rng.Uniform(30));
  s.completed_percent = 55 + static_cast<int>(rng.Uniform(30));
  s.prod_percent = 45 + static_cast<int>(rng.Uniform(30));
  return s;
}

}  // namespace

const std::vector<Uuid>& ScaleUnknownIds() {
  static const std::vector<Uuid>* ids = [] {
    auto* v = new std::vector<Uuid>;
    for (uint8_t n = 1; n <= 4; ++n) v->push_back(FixedId(kUnknownKind, n));
    return v;
  }();
  return *ids;
}

const std::vector<Uuid>& ScaleCreatorIds() {
  static const std::vector<Uuid>* ids = [] {
    auto* v = new std::vector<Uuid>;
    for (uint8_t n = 1; n <= 3; ++n) v->push_back(FixedId(kCreatorKind, n));
    return v;
  }();
  return *ids;
}

SnapshotRecords RandomRecordsAtScale(TestRng& rng, uint32_t task_runs) {
  const uint32_t n = std::max<uint32_t>(task_runs, 1);
  const Scale s = DrawScale(rng, n);
  SnapshotRecords data;

  std::vector<Uuid> flow_ids, deployment_ids, flow_run_ids, task_run_ids;
  for (uint32_t i = 0; i < s.flows; ++i) flow_ids.push_back(MakeId(rng, kFlowKind, i));
  for (uint32_t i = 0; i < s.deployments; ++i) {
    deployment_ids.push_back(MakeId(rng, kDeploymentKind, i));
  }
  for (uint32_t i = 0; i < s.flow_runs; ++i) flow_run_ids.push_back(MakeId(rng, kFlowRunKind, i));
  for (uint32_t i = 0; i < n; ++i) task_run_ids.push_back(MakeId(rng, kTaskRunKind, i));

  // Flows. Names repeat now and then (two flows may share a name).
  std::vector<std::string> rare_tags;
  for (int k = 0; k < 40; ++k) rare_tags.push_back("team-" + std::to_string(k));
  for (uint32_t i = 0; i < s.flows; ++i) {
    FlowRecord f;
    f.id = flow_ids[i];
    f.name = i < kFlowWords.size() ? kFlowWords[i] : rng.Pick(kFlowWords) + "_" + std::to_string(i);
    f.tags = SkewedTags(rng, 50, rare_tags);
    data.flows.push_back(std::move(f));
  }
  // Deployments: the last fifth of the flows has none; 4% name a missing flow.
  const uint32_t flows_with_deployments = std::max<uint32_t>(1, s.flows * 4 / 5);
  std::vector<Uuid> deployment_flow(s.deployments);
  for (uint32_t i = 0; i < s.deployments; ++i) {
    DeploymentRecord d;
    d.id = deployment_ids[i];
    d.flow_id = rng.Percent(4) ? rng.Pick(ScaleUnknownIds())
                               : flow_ids[rng.Uniform(flows_with_deployments)];
    deployment_flow[i] = d.flow_id;
    d.name = (rng.Percent(50) ? "deploy-" : "Nightly_") + std::to_string(i % 17);
    if (rng.Percent(5)) d.name = "d%" + std::to_string(i);
    d.paused = rng.Percent(25);
    d.tags = SkewedTags(rng, 60, rare_tags);
    if (!rng.Percent(20)) d.work_queue_name = rng.Percent(80) ? "default" : "gpu";
    data.deployments.push_back(std::move(d));
  }

  // Flow runs. Their times follow the row order, like the task runs'.
  for (uint32_t i = 0; i < s.flow_runs; ++i) {
    FlowRunRecord r;
    r.id = flow_run_ids[i];
    const uint64_t dep = rng.Uniform(100);
    if (dep < 30) {
      r.flow_id = flow_ids[rng.Uniform(s.flows)];
    } else if (dep < 97) {
      const uint64_t k = rng.Uniform(s.deployments);
      r.deployment_id = deployment_ids[k];
      r.flow_id = deployment_flow[k];
    } else {
      r.deployment_id = rng.Pick(ScaleUnknownIds());  // deleted deployment
      r.flow_id = flow_ids[rng.Uniform(s.flows)];
    }
    if (rng.Percent(2)) r.flow_id = rng.Pick(ScaleUnknownIds());  // missing flow
    r.name = rng.Pick(kAdjectives) + "-" + rng.Pick(kNouns);
    const uint64_t wq = rng.Uniform(100);
    if (wq < 70) {
      r.work_queue_name = "default";
    } else if (wq < 80) {
      r.work_queue_name = "q1";
    } else if (wq < 82) {
      r.work_queue_name = "Q1";
    } else if (wq < 87) {
      r.work_queue_name = "gpu";
    }
    const uint64_t fv = rng.Uniform(100);
    if (fv < 50) {
      r.flow_version = "1.0";
    } else if (fv < 80) {
      r.flow_version = "2.0";
    } else if (fv < 82) {
      r.flow_version = "1.0 ";
    }
    if (rng.Percent(20)) r.idempotency_key = rng.Percent(30) ? "k" : "k-" + std::to_string(i);
    r.tags = SkewedTags(rng, s.prod_percent, rare_tags);
    if (rng.Percent(60)) {
      r.has_created_by = true;
      const uint64_t k = rng.Uniform(10);
      if (k < 6) {
        r.created_by_id = HexUuid(rng.Pick(ScaleCreatorIds()), false);
      } else if (k == 6) {
        r.created_by_id = HexUuid(rng.Pick(ScaleCreatorIds()), true);  // never matches id_
      } else if (k == 7) {
        r.created_by_id = "123";
      }
      if (rng.Percent(75)) r.created_by_type = rng.Pick(kCreatorTypes);
    }
    const StateDraw state = SkewedState(rng, s.completed_percent);
    r.state_type = state.type;
    r.state_name = state.name;
    const Micros at = kBase + static_cast<Micros>(static_cast<double>(kSpan) * i / s.flow_runs);
    if (!rng.Percent(5)) r.expected_start_time = Near(rng, at, 10 * kMinute);
    if (rng.Percent(10)) r.next_scheduled_start_time = Near(rng, at, 10 * kMinute);
    if (!rng.Percent(15)) r.start_time = Near(rng, at + kMinute, 10 * kMinute);
    if (r.start_time.has_value() && !rng.Percent(20)) {
      r.end_time = Near(rng, *r.start_time + kMinute, 60 * kMinute);
    }
    // Subflows: 8% name a task run (some of a later row), 1% a deleted one.
    const uint64_t parent = rng.Uniform(100);
    if (parent < 8) {
      r.parent_task_run_id = task_run_ids[rng.Uniform(n)];
    } else if (parent < 9) {
      r.parent_task_run_id = rng.Pick(ScaleUnknownIds());
    }
    data.flow_runs.push_back(std::move(r));
  }

  // Task names of this data set.
  std::vector<std::string> tasks = kTaskWords;
  const uint32_t extra_tasks = 20 + static_cast<uint32_t>(rng.Uniform(150));
  for (uint32_t k = 0; k < extra_tasks; ++k) {
    std::string t = rng.Pick(kTaskWords) + "_" + std::to_string(k);
    if (rng.Percent(15)) t[0] = static_cast<char>(t[0] >= 'a' && t[0] <= 'z' ? t[0] - 32 : t[0]);
    tasks.push_back(std::move(t));
  }
  // Task popularity is skewed: the first tasks are drawn far more often.
  auto pick_task = [&]() -> const std::string& {
    const uint64_t r = rng.Uniform(tasks.size());
    return tasks[rng.Percent(50) ? r / 8 : r];
  };
  static const std::vector<std::string> kSharedSuffixes = {"0", "1", "2", "A", "retry"};

  data.task_runs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    TaskRunRecord t;
    t.id = task_run_ids[i];
    const std::string& task = pick_task();
    const uint64_t shape = rng.Uniform(100);
    if (shape < 80) {
      t.name = task + "-" + Hex(rng.Uniform(1 << 16), 4);  // nearly unique
    } else if (shape < 92) {
      t.name = task + "-" + rng.Pick(kSharedSuffixes);  // shared by many rows
    } else if (shape < 97) {
      const uint64_t day = 1 + i * 30ULL / n;                                     // 1..30
      t.name = task + "-2024-05-" + (day < 10 ? "0" : "") + std::to_string(day);  // templated
    } else {
      t.name = task;
    }
    t.task_key = task;
    t.dynamic_key = std::to_string(i % 7);
    // Flow run: a few big runs hold a large share; otherwise the run of the
    // same time (task runs of one flow run are close in time).
    const uint64_t fr = rng.Uniform(100);
    if (fr < 3) {
      t.flow_run_id = std::nullopt;  // autonomous task
    } else if (fr < 5) {
      t.flow_run_id = rng.Pick(ScaleUnknownIds());  // orphan
    } else if (rng.Percent(s.big_share_percent)) {
      t.flow_run_id = flow_run_ids[rng.Uniform(s.big_flow_runs)];
    } else {
      const uint64_t near = static_cast<uint64_t>(i) * s.flow_runs / n;
      const uint64_t k = std::min<uint64_t>(near + rng.Uniform(3), s.flow_runs - 1);
      t.flow_run_id = flow_run_ids[k];
    }
    t.tags = SkewedTags(rng, s.prod_percent, rare_tags);
    const StateDraw state = SkewedState(rng, s.completed_percent);
    t.state_type = state.type;
    t.state_name = state.name;
    const Micros at = kBase + static_cast<Micros>(static_cast<double>(kSpan) * i / n);
    if (!rng.Percent(2)) t.expected_start_time = Near(rng, at, 5 * kMinute);
    const bool not_started =
        state.type == StateType::kScheduled || state.type == StateType::kPending;
    if (!not_started && !rng.Percent(5)) t.start_time = Near(rng, at + kSecond, 5 * kMinute);
    if (t.start_time.has_value() && state.type != StateType::kRunning && !rng.Percent(3)) {
      t.end_time = Near(rng, *t.start_time + kSecond, 30 * kMinute);
    }
    if (rng.Percent(8)) t.next_scheduled_start_time = Near(rng, at, 60 * kMinute);
    data.task_runs.push_back(std::move(t));
  }
  return data;
}

}  // namespace taskdex
