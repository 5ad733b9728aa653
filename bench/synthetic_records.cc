// bench/synthetic_records.cc: see synthetic_records.h.

#include "bench/synthetic_records.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace taskdex {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  Uuid NextUuid() {
    Uuid u;
    const uint64_t a = Next(), b = Next();
    for (int i = 0; i < 8; ++i) {
      u.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
      u.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
    }
    u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x40);
    u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
    return u;
  }

 private:
  uint64_t s_;
};

constexpr Micros kStart = 1793491200000000;  // 2026-11-01T00:00:00Z
constexpr Micros kMonth = 30LL * 24 * 3600 * 1000000;

std::vector<std::string> Tags(Rng& rng) {
  std::vector<std::string> tags;
  const int n = static_cast<int>(rng.Uniform(4));
  for (int i = 0; i < n; ++i) {
    std::string t = absl::StrCat("tag-", rng.Uniform(50));
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(std::move(t));
  }
  return tags;
}

}  // namespace

SnapshotRecords SyntheticRecords(uint64_t task_runs, uint64_t seed) {
  Rng rng(seed);
  SnapshotRecords out;
  static const char* const kVerbs[] = {"send", "load", "extract", "transform", "check", "sync"};
  static const char* const kNouns[] = {"email", "table", "report", "orders", "users", "batch"};
  for (int i = 0; i < 50; ++i) {
    FlowRecord f;
    f.id = rng.NextUuid();
    f.name = absl::StrCat("flow-", i);
    f.tags = Tags(rng);
    out.flows.push_back(std::move(f));
  }
  for (int i = 0; i < 200; ++i) {
    DeploymentRecord d;
    d.id = rng.NextUuid();
    d.flow_id = out.flows[rng.Uniform(40)].id;  // flows 40..49 have none
    d.name = absl::StrCat("deploy-", i);
    d.paused = rng.Uniform(10) == 0;
    d.tags = Tags(rng);
    d.work_queue_name = absl::StrCat("queue-", rng.Uniform(5));
    out.deployments.push_back(std::move(d));
  }
  const uint64_t flow_runs = std::max<uint64_t>(1, task_runs / 10);
  for (uint64_t i = 0; i < flow_runs; ++i) {
    FlowRunRecord r;
    r.id = rng.NextUuid();
    r.flow_id = out.flows[rng.Uniform(out.flows.size())].id;
    r.name = absl::StrCat("run-", i);
    if (rng.Uniform(4) != 0) r.deployment_id = out.deployments[rng.Uniform(200)].id;
    r.work_queue_name = absl::StrCat("queue-", rng.Uniform(5));
    r.tags = Tags(rng);
    r.state_type = static_cast<StateType>(rng.Uniform(kNumStateTypes));
    r.state_name = std::string(StateTypeDefaultName(*r.state_type));
    r.expected_start_time = kStart + static_cast<Micros>(rng.Uniform(kMonth));
    if (rng.Uniform(3) != 0) r.start_time = *r.expected_start_time + 1000000;
    out.flow_runs.push_back(std::move(r));
  }
  out.task_runs.reserve(task_runs);
  for (uint64_t i = 0; i < task_runs; ++i) {
    TaskRunRecord t;
    t.id = rng.NextUuid();
    t.name = absl::StrCat(kVerbs[rng.Uniform(6)], "_", kNouns[rng.Uniform(6)], "-",
                          rng.Uniform(1000));
    if (rng.Uniform(20) != 0) t.flow_run_id = out.flow_runs[rng.Uniform(flow_runs)].id;
    t.task_key = t.name;
    t.dynamic_key = absl::StrCat(i);
    t.empirical_policy_json =
        R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})";
    t.tags = Tags(rng);
    t.state_type = static_cast<StateType>(rng.Uniform(kNumStateTypes));
    t.state_name = std::string(StateTypeDefaultName(*t.state_type));
    t.expected_start_time = kStart + static_cast<Micros>(rng.Uniform(kMonth));
    if (rng.Uniform(2) == 0) t.next_scheduled_start_time = t.expected_start_time;
    if (rng.Uniform(3) != 0) {
      t.start_time = *t.expected_start_time + static_cast<Micros>(rng.Uniform(60000000));
      if (rng.Uniform(3) != 0) t.end_time = *t.start_time + static_cast<Micros>(rng.Uniform(6e8));
    }
    out.task_runs.push_back(std::move(t));
  }
  return out;
}

}  // namespace taskdex
