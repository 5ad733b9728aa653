// bench/generator.cc
//
// How it works: a sequential, cheap "plan" pass decides for every flow run
// its flow, deployment, state, task-run count and the background task runs
// that follow it (a few bytes per flow run). The flow runs are then cut into
// chunks at "group" boundaries (a top-level flow run and the subflow chain
// that follows it); worker threads render chunks into private buffers, each
// group from its own PRNG stream seeded by (seed, first flow-run index), and
// the calling thread writes the buffers in chunk order. So the bytes do not
// depend on the thread count, and memory stays bounded by the chunks in
// flight. Numbers, UUIDs and datetimes are formatted by hand.
//
// Names: each group also has a second PRNG stream, (seed, group) again but
// apart from the first, for the realistic shape's task-run names (which task
// name a run takes, its dynamic key, template values), so the two shapes
// differ in names and dynamic keys only. The legacy shape never draws from it.

#include "bench/generator.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/name_model.h"
#include "bench/query_mix.h"

namespace taskdex {
namespace {

constexpr Micros kMs = 1000;
constexpr Micros kSec = 1000 * kMs;
constexpr Micros kMin = 60 * kSec;
constexpr Micros kHour = 60 * kMin;
constexpr Micros kDay = 24 * kHour;
constexpr Micros kNone = INT64_MIN;

// ---- PRNG -------------------------------------------------------------------------------

uint64_t SplitMix(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256**, seeded through splitmix64.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ (stream + 0x632be59bd9b4e019ULL);
    for (auto& w : s_) w = SplitMix(&x);
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  // Exponential with the given mean, in microseconds.
  Micros Exp(Micros mean) {
    return static_cast<Micros>(-std::log(1.0 - Unit()) * static_cast<double>(mean));
  }
  double Normal() {
    double u1 = 1.0 - Unit(), u2 = Unit();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct Id {
  uint64_t hi = 0, lo = 0;
};

Id NewId(Rng& r) {
  Id id{r.Next(), r.Next()};
  id.hi = (id.hi & ~0xf000ULL) | 0x4000ULL;                      // version 4
  id.lo = (id.lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return id;
}

// ---- formatting -------------------------------------------------------------------------

struct Tables {
  char hex2[256][2];
  char dec2[100][2];
  Tables() {
    const char* h = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      hex2[i][0] = h[i >> 4];
      hex2[i][1] = h[i & 15];
    }
    for (int i = 0; i < 100; ++i) {
      dec2[i][0] = static_cast<char>('0' + i / 10);
      dec2[i][1] = static_cast<char>('0' + i % 10);
    }
  }
};
const Tables kTables;

// Writes through a raw pointer into a buffer the caller made large enough.
struct W {
  char* p;

  template <size_t N>
  void Lit(const char (&s)[N]) {
    std::memcpy(p, s, N - 1);
    p += N - 1;
  }
  void Str(std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void Quoted(std::string_view s) {  // REQUIRES: s needs no JSON escaping
    *p++ = '"';
    Str(s);
    *p++ = '"';
  }
  void Ch(char c) { *p++ = c; }
  void Hex64(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
      std::memcpy(p, kTables.hex2[(v >> (8 * i)) & 0xff], 2);
      p += 2;
    }
  }
  void UuidRaw(const Id& id) {
    Hex64(id.hi >> 32, 4);
    *p++ = '-';
    Hex64(id.hi >> 16, 2);
    *p++ = '-';
    Hex64(id.hi, 2);
    *p++ = '-';
    Hex64(id.lo >> 48, 2);
    *p++ = '-';
    Hex64(id.lo, 6);
  }
  void Uuid(const Id& id) {
    *p++ = '"';
    UuidRaw(id);
    *p++ = '"';
  }
  void UuidOrNull(const Id* id) {
    if (id == nullptr) {
      Lit("null");
    } else {
      Uuid(*id);
    }
  }
  void Uint(uint64_t v) {
    char buf[24];
    int n = 0;
    do {
      buf[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = buf[--n];
  }
  void D2(int v) {
    std::memcpy(p, kTables.dec2[v], 2);
    p += 2;
  }
  // "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" with quotes; fraction only when non-zero.
  void TimeRaw(Micros t) {
    int64_t days = t >= 0 ? t / kDay : -((-t + kDay - 1) / kDay);
    int64_t rem = t - days * kDay;
    // Howard Hinnant's civil_from_days.
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    D2(static_cast<int>(y / 100));
    D2(static_cast<int>(y % 100));
    *p++ = '-';
    D2(static_cast<int>(m));
    *p++ = '-';
    D2(static_cast<int>(d));
    *p++ = 'T';
    int64_t secs = rem / kSec;
    int64_t frac = rem % kSec;
    D2(static_cast<int>(secs / 3600));
    *p++ = ':';
    D2(static_cast<int>(secs / 60 % 60));
    *p++ = ':';
    D2(static_cast<int>(secs % 60));
    if (frac != 0) {
      *p++ = '.';
      D2(static_cast<int>(frac / 10000));
      D2(static_cast<int>(frac / 100 % 100));
      D2(static_cast<int>(frac % 100));
    }
    *p++ = 'Z';
  }
  void Time(Micros t) {
    if (t == kNone) {
      Lit("null");
      return;
    }
    *p++ = '"';
    TimeRaw(t);
    *p++ = '"';
  }
  // Seconds as Python's repr(micros / 1e6): exact for 0 and for values from
  // 100 µs up (the generator writes no smaller non-zero duration).
  void Dur(Micros us) {
    if (us < 0) us = 0;
    Uint(static_cast<uint64_t>(us / kSec));
    *p++ = '.';
    int64_t frac = us % kSec;
    if (frac == 0) {
      *p++ = '0';
      return;
    }
    char digits[6];
    for (int i = 5; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    int n = 6;
    while (digits[n - 1] == '0') --n;
    std::memcpy(p, digits, n);
    p += n;
  }
};

// Appends to a std::string through W (for the small files and the queries).
class StringSink {
 public:
  explicit StringSink(std::string* s) : s_(s) {}
  W Begin(size_t max_bytes) {
    base_ = s_->size();
    s_->resize(base_ + max_bytes);
    return W{s_->data() + base_};
  }
  void End(const W& w) { s_->resize(static_cast<size_t>(w.p - s_->data())); }

 private:
  std::string* s_;
  size_t base_ = 0;
};

std::string IdText(const Id& id) {
  char buf[36];
  W w{buf};
  w.UuidRaw(id);
  return std::string(buf, 36);
}

std::string TimeText(Micros t) {
  char buf[40];
  W w{buf};
  w.TimeRaw(t);
  return std::string(buf, static_cast<size_t>(w.p - buf));
}

// ---- vocabularies -----------------------------------------------------------------------

const char* const kVerbs[] = {
    "extract", "load",    "transform", "fetch",   "upload",  "validate", "score",
    "train",   "render",  "publish",   "notify",  "sync",    "clean",    "copy",
    "parse",   "aggregate", "index",   "compact", "resize",  "send",     "query",
    "check",   "merge",   "split",     "dedupe",  "enrich",  "archive",  "export"};
const char* const kNouns[] = {
    "orders", "customers", "page",    "rows",     "events",  "features", "model",
    "report", "chart",     "email",   "contacts", "partition", "object", "manifest",
    "metrics", "invoices", "users",   "images",   "logs",    "files",    "batch",
    "table",  "records",   "snapshot"};
const char* const kFlowPrefixes[] = {"etl",    "ingest", "sync",    "report", "ml",
                                     "dbt",    "backfill", "cleanup", "export", "score",
                                     "train",  "notify", "audit",   "billing", "crm",
                                     "data",   "quality", "s3",     "warehouse", "stream"};
const char* const kFlowNouns[] = {"orders", "customers", "events",  "daily",   "weekly",
                                  "invoices", "leads",   "models",  "images",  "logs",
                                  "metrics", "contacts", "payments", "users",  "catalog"};
const char* const kAdjectives[] = {
    "amber", "bold",  "brave", "calm",   "clever", "cosmic", "crimson", "daring", "eager",
    "fancy", "fuzzy", "gentle", "golden", "happy", "hidden", "icy",    "jolly",  "lively",
    "lucky", "mellow", "nimble", "proud", "quick", "quiet",  "rustic", "shiny",  "silent",
    "smart", "spry",  "swift", "tidy",   "vivid", "wise",   "zealous"};
const char* const kAnimals[] = {
    "otter", "llama", "fox",    "wolf",  "heron", "badger", "lynx",   "marmot", "newt",
    "ocelot", "panda", "quail", "raven", "seal",  "tapir",  "urchin", "vole",   "walrus",
    "yak",   "zebra", "beetle", "civet", "dingo", "egret",  "ferret", "gecko",  "hyena",
    "ibis",  "jackal", "koala"};
const char* const kBaseTags[] = {
    "prod",   "io",      "db",     "slow",    "critical", "etl",      "ml",       "gpu",
    "s3",     "api",     "batch",  "nightly", "pii",      "experimental", "team:data",
    "env:prod", "env:staging", "hourly", "daily", "backfill", "reports", "dbt",    "crm",
    "billing", "finance", "marketing", "sales", "ops",    "qa",       "security", "infra",
    "k8s",    "spark",   "pandas", "sql",     "http",     "retryable", "idempotent",
    "large",  "small"};
const char* const kQueues[] = {"default", "gpu", "high-priority", "etl_queue", "k8s-batch"};
const char* const kPools[] = {"process-pool", "k8s-gpu", "process-pool", "k8s-etl", "k8s-batch"};
const char* const kDeploymentNames[] = {
    "prod",   "nightly", "hourly", "staging", "backfill", "Backfill", "adhoc", "every-15m",
    "daily",  "weekly",  "manual", "dev",     "eu",       "us",       "v2",    "Daily_Report"};
const char* const kBackgroundTasks[] = {"send_welcome_email", "resize_image", "score_lead"};
const char* const kFailMessages[] = {
    "Task run encountered an exception ValueError: bad row 17",
    "Task run encountered an exception KeyError: 'customer_id'",
    "Task run encountered an exception TimeoutError: read timed out after 30 s"};

// Normalized empirical_policy bodies (paginate.md 8.4), with their retry count.
struct Policy {
  const char* json;
  int retries;
};
const Policy kPolicies[] = {
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":0,"retry_delay":0,"retry_jitter_factor":null})",
     0},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})",
     0},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":1,"retry_delay":10,"retry_jitter_factor":null})",
     1},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":2,"retry_delay":5,"retry_jitter_factor":null})",
     2},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":3,"retry_delay":30,"retry_jitter_factor":null})",
     3},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":3,"retry_delay":[1,10,100],"retry_jitter_factor":0.5})",
     3},
    {R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":2,"retry_delay":2.5,"retry_jitter_factor":null})",
     2},
};

// ---- the static world: tags, flows, deployments ----------------------------------------

constexpr int kNumTags = 100;
constexpr int kNumFlows = 50;
constexpr int kNumDeployments = 200;
constexpr int kFlowsWithoutDeployment = 5;

struct Step {
  std::string name;      // the first of `names` in the realistic shape
  std::string task_key;
  std::vector<uint32_t> names;  // realistic shape: indexes into World::task_names
  bool map = false;
  Micros mean = kSec;
  int policy = 0;
};

struct Flow {
  Id id;
  std::string name;
  std::string tags_json;
  std::vector<Step> steps;
  std::vector<int> deployments;
  std::string params_json;
  std::string versions[2];
  const char* task_version = nullptr;
  Micros created = 0, updated = 0;
  double weight = 1;
};

struct Deployment {
  Id id;
  Id schedule_id;
  std::string name;
  int flow = 0;
  bool paused = false;
  bool scheduled = false;
  int interval_min = 0;
  int queue = -1;
  std::string tags_json;
  std::string version;
  Micros created = 0, updated = 0;
};

enum class FrState : uint8_t {
  kCompleted,
  kFailed,
  kCrashed,
  kCancelled,
  kCancelledEarly,  // cancelled before it started: no task runs
  kRunning,
  kCancelling,
  kPaused,
  kScheduled,
  kLate,
  kPending,
};

bool HasTasks(FrState s) {
  return s != FrState::kScheduled && s != FrState::kLate && s != FrState::kPending &&
         s != FrState::kCancelledEarly;
}
// States whose tasks are cut at a moment inside the last step.
bool IsCut(FrState s) {
  return s == FrState::kCrashed || s == FrState::kCancelled || s == FrState::kRunning ||
         s == FrState::kCancelling || s == FrState::kPaused;
}

struct FrPlan {
  uint16_t flow = 0;
  int16_t deployment = -1;
  FrState state = FrState::kCompleted;
  uint8_t depth = 0;       // 0: top level; d > 0: subflow of the flow run just before
  uint16_t tasks = 0;      // task runs inside it, the parent task of a subflow included
  uint32_t autonomous = 0;  // background task runs written after it
};

struct Chunk {
  uint32_t fr_begin = 0, fr_end = 0;
  uint64_t tasks = 0;  // task-run lines, background ones included
};

class Zipf {
 public:
  Zipf(int n, double s) {
    double sum = 0;
    for (int i = 1; i <= n; ++i) sum += 1.0 / std::pow(i, s);
    double acc = 0;
    for (int i = 1; i <= n; ++i) {
      acc += 1.0 / std::pow(i, s) / sum;
      cdf_.push_back(static_cast<uint64_t>(std::min(acc, 1.0) * 18446744073709549568.0));
    }
    cdf_.back() = UINT64_MAX;
  }
  int Sample(Rng& r) const {
    uint64_t u = r.Next();
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<uint64_t> cdf_;
};

struct World {
  uint64_t seed = 0;
  Micros now = 0;
  Micros window_start = 0;
  std::vector<std::string> tags;
  Zipf tag_zipf{kNumTags, 1.05};
  std::vector<Flow> flows;
  std::vector<Deployment> deployments;
  std::vector<Id> queue_ids, pool_ids;
  std::vector<FrPlan> plan;
  std::vector<uint32_t> group_starts;  // flow-run index of each top-level run
  std::vector<Chunk> chunks;
  uint64_t in_flow_tasks = 0, autonomous_tasks = 0, subflows = 0;
  // Names.
  bool legacy = false;
  int suffix_width = 0;                 // 0: the map index (legacy suffix)
  std::vector<TaskNameSpec> task_names;  // realistic shape only
  std::vector<std::string> task_keys;    // one per task name
  std::vector<std::string> adjectives, nouns;  // flow-run names
};

// 0..5 distinct tag indexes, about 20% empty, Zipf over the vocabulary.
int DrawTags(const World& w, Rng& r, int* out) {
  static constexpr uint32_t kCountCdf[] = {20, 55, 75, 87, 95, 100};
  uint32_t u = static_cast<uint32_t>(r.Below(100));
  int k = 0;
  while (u >= kCountCdf[k]) ++k;
  int n = 0;
  for (int tries = 0; n < k && tries < 20; ++tries) {
    int t = w.tag_zipf.Sample(r);
    bool dup = false;
    for (int i = 0; i < n; ++i) dup |= out[i] == t;
    if (!dup) out[n++] = t;
  }
  std::sort(out, out + n);
  return n;
}

void WriteTags(const World& w, W& o, const int* tags, int n) {
  o.Ch('[');
  for (int i = 0; i < n; ++i) {
    if (i) o.Ch(',');
    o.Quoted(w.tags[tags[i]]);
  }
  o.Ch(']');
}

std::string TagsJson(const World& w, Rng& r) {
  int t[5];
  int n = DrawTags(w, r, t);
  char buf[512];
  W o{buf};
  WriteTags(w, o, t, n);
  return std::string(buf, static_cast<size_t>(o.p - buf));
}

std::string Capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 32);
  return s;
}

uint32_t Fnv(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

void BuildWorld(World& w) {
  Rng r(w.seed, 0xF10E);
  w.window_start = w.now - 30 * kDay;
  for (const char* t : kBaseTags) w.tags.push_back(t);
  for (int i = 0; static_cast<int>(w.tags.size()) < kNumTags; ++i) {
    static const char* const kPrefixes[] = {"team:", "project:", "owner:", "source:"};
    w.tags.push_back(std::string(kPrefixes[i % 4]) + kAnimals[i % 30] +
                     (i >= 30 ? std::string("-") + kAdjectives[i % 34] : ""));
  }
  for (int i = 0; i < 5; ++i) {
    w.queue_ids.push_back(NewId(r));
    w.pool_ids.push_back(NewId(r));
  }
  // Flows.
  std::vector<std::string> seen;
  for (int i = 0; i < kNumFlows; ++i) {
    Flow f;
    f.id = NewId(r);
    std::string a = kFlowPrefixes[r.Below(std::size(kFlowPrefixes))];
    std::string b = kFlowNouns[r.Below(std::size(kFlowNouns))];
    switch (i % 6) {
      case 0: f.name = a + "_" + b; break;
      case 1: f.name = a + "-" + b; break;
      case 2: f.name = Capitalize(a) + "_" + Capitalize(b); break;  // Report_Daily
      case 3: f.name = Capitalize(a) + Capitalize(b); break;        // DataQuality
      case 4: {                                                    // ETL-Customers
        std::string up = a;
        for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        f.name = up + "-" + Capitalize(b);
        break;
      }
      default: f.name = a + "_" + b + "_v2"; break;
    }
    while (std::find(seen.begin(), seen.end(), f.name) != seen.end()) f.name += "_x";
    seen.push_back(f.name);
    f.tags_json = TagsJson(w, r);
    f.created = w.window_start - r.Range(10 * kDay, 120 * kDay);
    f.updated = f.created + r.Range(0, 5 * kDay);
    f.weight = 1.0 / std::pow(i + 1.0, 0.8);
    int nsteps = static_cast<int>(r.Range(2, 6));
    int map_at = static_cast<int>(r.Range(1, nsteps - 1));
    for (int s = 0; s < nsteps; ++s) {
      Step st;
      st.name = std::string(kVerbs[r.Below(std::size(kVerbs))]) + "_" +
                kNouns[r.Below(std::size(kNouns))];
      if (r.Chance(0.15)) st.name = Capitalize(st.name);
      st.map = s == map_at || (s > 0 && r.Chance(0.2));
      st.mean = r.Range(1, 30) * kSec;
      uint64_t pu = r.Below(100);
      st.policy = pu < 55 ? 0 : pu < 75 ? 1 : 2 + static_cast<int>(pu % 5);
      st.task_key = absl::StrFormat("%s-%08x", st.name, Fnv(f.name + "/" + st.name));
      f.steps.push_back(std::move(st));
    }
    f.params_json = absl::StrFormat(R"({"batch_size":%d,"env":"%s"})", 100 * (1 + i % 7),
                                    i % 3 == 0 ? "prod" : "staging");
    uint32_t h = Fnv(f.name);
    f.versions[0] = absl::StrFormat("%08x", h);
    f.versions[1] = absl::StrFormat("%08x", h * 2654435761u);
    f.task_version = i % 4 == 0 ? "1.2.0" : nullptr;
    w.flows.push_back(std::move(f));
  }
  // Deployments: one at least for each of the first 45 flows, the rest by weight.
  int with = kNumFlows - kFlowsWithoutDeployment;
  std::vector<int> owner;
  for (int i = 0; i < with; ++i) owner.push_back(i);
  double total = 0;
  for (int i = 0; i < with; ++i) total += w.flows[i].weight;
  while (static_cast<int>(owner.size()) < kNumDeployments) {
    double u = r.Unit() * total;
    int i = 0;
    while (i < with - 1 && u >= w.flows[i].weight) u -= w.flows[i++].weight;
    owner.push_back(i);
  }
  std::sort(owner.begin(), owner.end());
  for (int i = 0; i < kNumDeployments; ++i) {
    Deployment d;
    d.id = NewId(r);
    d.schedule_id = NewId(r);
    d.flow = owner[i];
    int k = static_cast<int>(w.flows[d.flow].deployments.size());
    d.name = kDeploymentNames[(Fnv(w.flows[d.flow].name) + k) % std::size(kDeploymentNames)];
    if (k >= static_cast<int>(std::size(kDeploymentNames))) d.name += absl::StrFormat("-%d", k);
    d.paused = r.Chance(0.08);
    d.scheduled = r.Chance(0.75);
    static constexpr int kIntervals[] = {15, 60, 360, 1440, 1440, 10080};
    d.interval_min = kIntervals[r.Below(std::size(kIntervals))];
    d.queue = r.Chance(0.1) ? -1 : static_cast<int>(r.Below(std::size(kQueues)));
    d.tags_json = TagsJson(w, r);
    d.version = absl::StrFormat("%08x", static_cast<uint32_t>(r.Next()));
    d.created = w.window_start - r.Range(2 * kDay, 60 * kDay);
    d.updated = d.created + r.Range(0, 20 * kDay);
    w.flows[d.flow].deployments.push_back(i);
    w.deployments.push_back(std::move(d));
  }
}

// Realistic shape: the task-name vocabulary, spread over the flows' steps
// (shared between steps when smaller, several names a step when larger), and
// the flow-run words. Draws from its own stream: the world stays as legacy.
void AssignNames(World& w, uint32_t count) {
  std::vector<std::string> vocab = TaskNameVocabulary(w.seed, count);
  std::vector<Step*> steps;
  for (Flow& f : w.flows) {
    for (Step& st : f.steps) steps.push_back(&st);
  }
  Rng r(w.seed, 0x7A5E);
  w.task_names.resize(count);
  w.task_keys.resize(count);
  std::vector<bool> decided(count, false);
  size_t rounds = std::max<size_t>(steps.size(), count);
  for (size_t j = 0; j < rounds; ++j) {
    Step& st = *steps[j % steps.size()];
    uint32_t name = static_cast<uint32_t>(j % count);
    if (!decided[name]) {
      decided[name] = true;
      w.task_names[name] = DrawTemplate(vocab[name], st.map, r.Next());
      w.task_keys[name] = absl::StrFormat("%s-%08x", vocab[name], Fnv(vocab[name]));
    }
    st.names.push_back(name);
  }
  for (Step* st : steps) {
    st->name = w.task_names[st->names[0]].name;
    st->task_key = w.task_keys[st->names[0]];
  }
  w.adjectives = FlowRunAdjectives(w.seed, 2500);
  w.nouns = FlowRunNouns(w.seed, 2500);
}

// ---- the plan ---------------------------------------------------------------------------

FrState DrawTopState(Rng& r) {
  uint64_t u = r.Below(10000);
  struct {
    uint32_t upto;
    FrState s;
  } static constexpr kMix[] = {
      {8160, FrState::kCompleted}, {8860, FrState::kFailed},     {9010, FrState::kCrashed},
      {9260, FrState::kCancelled}, {9360, FrState::kCancelledEarly}, {9420, FrState::kRunning},
      {9440, FrState::kCancelling}, {9470, FrState::kPaused},   {9870, FrState::kScheduled},
      {9950, FrState::kLate},      {10000, FrState::kPending}};
  for (const auto& m : kMix) {
    if (u < m.upto) return m.s;
  }
  return FrState::kCompleted;
}

int DrawTaskCount(Rng& r, double median) {
  double v = median * std::exp(1.25 * r.Normal());
  return static_cast<int>(std::clamp(v, 1.0, 200.0));
}

int PickFlow(const World& w, Rng& r, double total_weight) {
  double u = r.Unit() * total_weight;
  int i = 0;
  while (i < kNumFlows - 1 && u >= w.flows[i].weight) u -= w.flows[i++].weight;
  return i;
}

void BuildPlan(World& w, uint64_t n) {
  Rng r(w.seed, 0x91A2);
  uint64_t autonomous = (n * 2 + 50) / 100;
  if (autonomous >= n) autonomous = 0;
  uint64_t remaining = n - autonomous;
  w.in_flow_tasks = remaining;
  w.autonomous_tasks = autonomous;
  double total_weight = 0;
  for (const Flow& f : w.flows) total_weight += f.weight;
  // The first top-level runs take every state once, so small data sets hold them all.
  static constexpr FrState kForced[] = {
      FrState::kCompleted, FrState::kRunning,   FrState::kFailed,    FrState::kPaused,
      FrState::kCancelling, FrState::kCrashed,  FrState::kCancelled, FrState::kScheduled,
      FrState::kLate,      FrState::kPending,   FrState::kCancelledEarly, FrState::kRunning};
  size_t top = 0;
  while (remaining > 0) {
    FrPlan p;
    const FrPlan* prev = w.plan.empty() ? nullptr : &w.plan.back();
    bool subflow = prev != nullptr && prev->depth < 2 && prev->tasks >= 1 &&
                   (prev->state == FrState::kCompleted || prev->state == FrState::kFailed ||
                    prev->state == FrState::kRunning) &&
                   remaining >= 2 && r.Chance(0.095);
    if (subflow) {
      p.depth = static_cast<uint8_t>(prev->depth + 1);
      do {
        p.flow = static_cast<uint16_t>(PickFlow(w, r, total_weight));
      } while (p.flow == prev->flow);
      const Flow& f = w.flows[p.flow];
      if (!f.deployments.empty() && r.Chance(0.1)) {
        p.deployment = static_cast<int16_t>(f.deployments[r.Below(f.deployments.size())]);
      }
      p.state = r.Chance(0.85) ? FrState::kCompleted : FrState::kFailed;
      w.plan.back().tasks++;  // the parent's task run that stands for the subflow
      --remaining;
      p.tasks = static_cast<uint16_t>(std::min<uint64_t>(DrawTaskCount(r, 6), remaining));
      remaining -= p.tasks;
      ++w.subflows;
    } else {
      p.flow = static_cast<uint16_t>(PickFlow(w, r, total_weight));
      p.state = top < std::size(kForced) ? kForced[top] : DrawTopState(r);
      ++top;
      const Flow& f = w.flows[p.flow];
      if (!f.deployments.empty() && r.Chance(0.88)) {
        int d = f.deployments[r.Below(f.deployments.size())];
        bool terminal = p.state == FrState::kCompleted || p.state == FrState::kFailed ||
                        p.state == FrState::kCrashed || p.state == FrState::kCancelled ||
                        p.state == FrState::kCancelledEarly;
        if (!w.deployments[d].paused || terminal) p.deployment = static_cast<int16_t>(d);
      }
      if (HasTasks(p.state)) {
        p.tasks = static_cast<uint16_t>(std::min<uint64_t>(DrawTaskCount(r, 11), remaining));
        // A subflow's parent task needs a step after it; keep room for two.
        remaining -= p.tasks;
      }
      w.group_starts.push_back(static_cast<uint32_t>(w.plan.size()));
    }
    w.plan.push_back(p);
    if (w.plan.size() >= (1u << 31)) break;
  }
  // Background task runs, spread in proportion to the task runs before them.
  uint64_t cum = 0, given = 0;
  for (FrPlan& p : w.plan) {
    cum += p.tasks;
    uint64_t want = w.in_flow_tasks == 0 ? 0 : autonomous * cum / w.in_flow_tasks;
    p.autonomous = static_cast<uint32_t>(want - given);
    given = want;
  }
  if (!w.plan.empty()) w.plan.back().autonomous += static_cast<uint32_t>(autonomous - given);
  // Chunks of whole groups, about 8,000 task-run lines each.
  Chunk c;
  for (size_t g = 0; g < w.group_starts.size(); ++g) {
    uint32_t b = w.group_starts[g];
    uint32_t e = g + 1 < w.group_starts.size() ? w.group_starts[g + 1]
                                                : static_cast<uint32_t>(w.plan.size());
    if (c.fr_end == c.fr_begin) c.fr_begin = b;
    for (uint32_t i = b; i < e; ++i) c.tasks += w.plan[i].tasks + w.plan[i].autonomous;
    c.fr_end = e;
    if (c.tasks >= 8000) {
      w.chunks.push_back(c);
      c = Chunk{};
      c.fr_begin = c.fr_end = e;
    }
  }
  if (c.fr_end > c.fr_begin) w.chunks.push_back(c);
}

// Task runs per step for `real` task runs: one-steps take 1 each, map steps
// share the rest. batch has room for every step.
void Batches(const Flow& flow, int real, int* batch) {
  int steps = static_cast<int>(flow.steps.size());
  int ones = 0, maps = 0;
  for (const Step& s : flow.steps) (s.map ? maps : ones)++;
  if (real <= ones) {
    int left = real;
    for (int s = 0; s < steps && left > 0; ++s) {
      if (!flow.steps[s].map) {
        batch[s] = 1;
        --left;
      }
    }
  } else {
    int rest = real - ones;
    int m = 0;
    for (int s = 0; s < steps; ++s) {
      if (flow.steps[s].map) {
        batch[s] = rest / maps + (m < rest % maps ? 1 : 0);
        ++m;
      } else {
        batch[s] = 1;
      }
    }
  }
}

// ---- rendering a group ------------------------------------------------------------------

enum class TState : uint8_t {
  kNoState,  // no state at all
  kCompleted,
  kCached,
  kFailed,
  kCrashed,
  kCancelled,
  kRunning,
  kRetrying,
  kAwaitingRetry,
  kScheduled,
  kPending,
  kPaused,
  kCancelling,
};

struct TypeName {
  const char* type;
  const char* name;
};
TypeName Describe(TState s) {
  switch (s) {
    case TState::kNoState: return {nullptr, nullptr};
    case TState::kCompleted: return {"COMPLETED", "Completed"};
    case TState::kCached: return {"COMPLETED", "Cached"};
    case TState::kFailed: return {"FAILED", "Failed"};
    case TState::kCrashed: return {"CRASHED", "Crashed"};
    case TState::kCancelled: return {"CANCELLED", "Cancelled"};
    case TState::kRunning: return {"RUNNING", "Running"};
    case TState::kRetrying: return {"RUNNING", "Retrying"};
    case TState::kAwaitingRetry: return {"SCHEDULED", "AwaitingRetry"};
    case TState::kScheduled: return {"SCHEDULED", "Scheduled"};
    case TState::kPending: return {"PENDING", "Pending"};
    case TState::kPaused: return {"PAUSED", "Paused"};
    case TState::kCancelling: return {"CANCELLING", "Cancelling"};
  }
  return {nullptr, nullptr};
}
bool Terminal(TState s) {
  return s == TState::kCompleted || s == TState::kCached || s == TState::kFailed ||
         s == TState::kCrashed || s == TState::kCancelled;
}

// A growing output buffer: `used` bytes of content, then slack.
struct OutBuf {
  std::string buf;
  size_t used = 0;
};

struct TaskSim {
  Id id;
  int step = 0;  // index into the flow's steps; -1: the subflow's parent task
  int dyn = 0;
  int upstream = -1;  // index of a task run it consumes
  Micros exp = 0, begin = 0, end1 = 0, begin2 = kNone, end = 0;
  bool cached = false;
  // Result.
  TState state = TState::kCompleted;
  Micros start = kNone, stop = kNone, next = kNone, ts = kNone, total = 0;
  int run_count = 0;
  bool data = false;
  const char* message = nullptr;
  int retry_wait_s = 0;
};

struct FrSim {
  uint32_t index = 0;
  const FrPlan* plan = nullptr;
  Id id;
  std::vector<TaskSim> tasks;
  int parent_task = -1;   // index of the task run standing for the child subflow
  Micros child_offset = 0;  // child's start, relative to this run's start
  Micros last_submit = 0, last_end = 0, span = 0, cut = 0;
  Micros base = 0;  // absolute start
  Micros expected = 0, created = 0, start = kNone, end = kNone, ts = kNone, next = kNone;
  Micros total = 0;
  bool auto_scheduled = false;
  const char* message = nullptr;
};

class GroupRenderer {
 public:
  explicit GroupRenderer(const World& w) : w_(w) {}

  // The start time of flow run b + k of the last Render (kNone: not started).
  Micros start_time(size_t k) const { return frs_[k].start; }

  // Renders flow runs [b, e) (one group) and their background task runs.
  // Returns the number of task-run lines written. `ids`, if non-null,
  // receives the flow-run ids.
  uint64_t Render(uint32_t b, uint32_t e, OutBuf* task_out, OutBuf* fr_out,
                  std::vector<Id>* ids) {
    Rng r(w_.seed, 0x1000000ULL + b);
    Rng names(w_.seed, 0x2000000000ULL + b);  // realistic names only
    names_ = &names;
    size_t n = e - b;
    if (frs_.size() < n) frs_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      FrSim& f = frs_[k];
      f.index = b + static_cast<uint32_t>(k);
      f.plan = &w_.plan[f.index];
      f.id = NewId(r);
      f.tasks.clear();
      f.parent_task = -1;
      f.auto_scheduled = false;
      f.message = nullptr;
      if (ids) ids->push_back(f.id);
    }
    // Lay out from the deepest subflow up, so a parent knows its child's span.
    for (size_t k = n; k-- > 0;) {
      Micros child_span = k + 1 < n ? frs_[k + 1].span : kNone;
      Layout(r, frs_[k], child_span);
    }
    PlaceTop(r, frs_[0]);
    for (size_t k = 1; k < n; ++k) PlaceChild(r, frs_[k - 1], frs_[k]);
    uint64_t lines = 0;
    for (size_t k = 0; k < n; ++k) {
      FrSim& f = frs_[k];
      const Id* child = k + 1 < n ? &frs_[k + 1].id : nullptr;
      const FrSim* parent = k > 0 ? &frs_[k - 1] : nullptr;
      Settle(r, f, k + 1 < n ? &frs_[k + 1] : nullptr);
      for (TaskSim& t : f.tasks) {
        WriteTask(r, f, t, t.step < 0 ? child : nullptr, task_out);
        ++lines;
      }
      WriteFlowRun(r, f, parent, fr_out);
      for (uint32_t a = 0; a < f.plan->autonomous; ++a) {
        WriteBackground(r, f, task_out);
        ++lines;
      }
    }
    names_ = nullptr;
    return lines;
  }

 private:
  void Layout(Rng& r, FrSim& f, Micros child_span) {
    const Flow& flow = w_.flows[f.plan->flow];
    int n = f.plan->tasks;
    bool has_child = child_span != kNone;
    int real = n - (has_child ? 1 : 0);
    int steps = static_cast<int>(flow.steps.size());
    int batch[8] = {0};
    Batches(flow, real, batch);
    int last = -1;
    for (int s = 0; s < steps; ++s) {
      if (batch[s] > 0) last = s;
    }
    // The subflow's parent task goes just before the last non-empty step.
    int child_before = has_child ? std::max(0, last) : -1;
    Micros cursor = r.Range(200 * kMs, 2 * kSec);
    int prev_first = -1, prev_count = 0;
    f.last_submit = f.last_end = cursor;
    for (int s = 0; s <= steps; ++s) {
      if (s == child_before && has_child) {
        TaskSim t;
        t.id = NewId(r);
        t.step = -1;
        t.exp = cursor;
        t.begin = t.exp + r.Range(2 * kMs, 50 * kMs);
        f.child_offset = t.begin + r.Range(100 * kMs, 900 * kMs);
        t.end1 = t.end = f.child_offset + child_span + r.Range(5 * kMs, 200 * kMs);
        f.parent_task = static_cast<int>(f.tasks.size());
        f.tasks.push_back(t);
        cursor = t.end + r.Range(1 * kMs, 300 * kMs);
      }
      if (s == steps || batch[s] == 0) continue;
      const Step& st = flow.steps[s];
      int b = batch[s];
      Micros submit = cursor;
      bool tie = b > 1 && r.Chance(0.5);
      static constexpr int kConc[] = {4, 8, 16};
      int conc = kConc[r.Below(3)];
      Micros slot[16];
      for (int i = 0; i < conc; ++i) slot[i] = submit;
      Micros step_end = submit;
      int first = static_cast<int>(f.tasks.size());
      for (int i = 0; i < b; ++i) {
        TaskSim t;
        t.id = NewId(r);
        t.step = s;
        t.dyn = i;
        if (prev_count > 0) t.upstream = prev_first + (b > 1 ? i % prev_count : 0);
        t.exp = tie ? submit : submit + i * r.Range(100, 20 * kMs);
        t.begin = std::max(t.exp, slot[i % conc]) + r.Range(2 * kMs, 900 * kMs);
        Micros d = r.Exp(st.mean) + r.Range(50 * kMs, 400 * kMs);
        if (r.Chance(0.07)) {
          t.cached = true;
          t.end1 = t.end = t.begin;
        } else if (kPolicies[st.policy].retries > 0 && r.Chance(0.12)) {
          t.end1 = t.begin + r.Exp(st.mean) + 100 * kMs;
          t.begin2 = t.end1 + r.Range(1 * kSec, 30 * kSec);
          t.end = t.begin2 + d;
        } else {
          t.end1 = t.end = t.begin + d;
        }
        slot[i % conc] = t.end;
        step_end = std::max(step_end, t.end);
        f.tasks.push_back(t);
      }
      prev_first = first;
      prev_count = b;
      f.last_submit = submit;
      f.last_end = step_end;
      cursor = step_end + r.Range(1 * kMs, 300 * kMs);
    }
    f.span = cursor + r.Range(20 * kMs, 900 * kMs);
    f.cut = f.last_submit + static_cast<Micros>((0.2 + 0.7 * r.Unit()) *
                                                static_cast<double>(f.last_end - f.last_submit));
  }

  // Absolute times of a top-level run.
  void PlaceTop(Rng& r, FrSim& f) {
    Micros now = w_.now;
    Micros late = r.Chance(0.9) ? r.Range(300 * kMs, 8 * kSec) : r.Range(1 * kMin, 12 * kMin);
    double pos = (f.index + r.Unit()) / static_cast<double>(w_.plan.size());
    Micros past = w_.window_start + static_cast<Micros>(pos * static_cast<double>(
                                                                 now - 6 * kHour - w_.window_start));
    switch (f.plan->state) {
      case FrState::kRunning:
      case FrState::kCancelling:
        f.base = now - f.cut;
        break;
      case FrState::kPaused:
        f.base = now - r.Range(10 * kMin, 6 * kHour) - f.cut;
        break;
      case FrState::kScheduled:
        f.expected = now + r.Range(1 * kMin, 24 * kHour);
        return;
      case FrState::kLate:
        f.expected = now - r.Range(10 * kMin, 6 * kHour);
        return;
      case FrState::kPending:
        f.expected = now - r.Range(30 * kSec, 20 * kMin);
        return;
      case FrState::kCancelledEarly:
        f.expected = past;
        return;
      default:
        f.base = std::min(past + late, now - 5 * kMin - f.span);
        break;
    }
    f.expected = f.base - late;
  }

  void PlaceChild(Rng& r, const FrSim& parent, FrSim& child) {
    child.base = parent.base + parent.child_offset;
    child.expected = child.base - r.Range(10 * kMs, 90 * kMs);
  }

  // Task states and flow-run state from the plan's state and the layout.
  void Settle(Rng& r, FrSim& f, const FrSim* child) {
    FrState st = f.plan->state;
    Micros now = w_.now;
    Micros base = f.base;
    Micros cut = base + f.cut;
    f.start = f.end = f.next = kNone;
    f.total = 0;
    f.auto_scheduled = f.plan->deployment >= 0 && f.plan->depth == 0 &&
                       w_.deployments[f.plan->deployment].scheduled && r.Chance(0.85);
    if (f.auto_scheduled) {
      f.created = std::min(now - kMin, f.expected - r.Range(1 * kDay, 3 * kDay));
    } else {
      f.created = std::min(now - kSec, f.expected - r.Range(1 * kMs, 200 * kMs));
    }
    switch (st) {
      case FrState::kScheduled:
        f.ts = f.created;
        f.next = f.expected;
        return;
      case FrState::kLate:
        f.ts = f.expected + r.Range(15 * kSec, 90 * kSec);
        f.next = f.expected;
        return;
      case FrState::kPending:
        f.ts = std::min(now, f.expected + r.Range(100 * kMs, 20 * kSec));
        return;
      case FrState::kCancelledEarly:
        f.ts = f.start = f.end = f.expected + r.Range(1 * kSec, 90 * kSec);
        f.message = "Cancelled by user.";
        return;
      default:
        break;
    }
    f.start = base;
    int last_step = -2;
    for (const TaskSim& t : f.tasks) last_step = t.step >= 0 ? t.step : last_step;
    bool failed_one = false;
    for (size_t i = 0; i < f.tasks.size(); ++i) {
      TaskSim& t = f.tasks[i];
      Micros exp = base + t.exp, begin = base + t.begin, end1 = base + t.end1,
             end = base + t.end;
      Micros begin2 = t.begin2 == kNone ? kNone : base + t.begin2;
      t.start = t.stop = t.next = kNone;
      t.total = 0;
      t.run_count = 0;
      t.data = false;
      t.message = nullptr;
      if (IsCut(st) && exp > cut) exp = cut;
      t.exp = exp;
      auto complete = [&] {
        if (t.cached) {
          t.state = TState::kCached;
          t.start = t.stop = t.ts = begin;
        } else {
          t.state = TState::kCompleted;
          t.start = begin;
          t.stop = t.ts = end;
          t.run_count = begin2 == kNone ? 1 : 2;
          t.total = (end1 - begin) + (begin2 == kNone ? 0 : end - begin2);
          t.data = r.Chance(0.08);
        }
      };
      if (t.step < 0) {  // the subflow's parent task: it ends as the subflow does
        t.start = begin;
        t.stop = t.ts = end;
        t.run_count = 1;
        t.total = end - begin;
        bool child_failed = child != nullptr && child->plan->state == FrState::kFailed;
        t.state = child_failed ? TState::kFailed : TState::kCompleted;
        if (child_failed) t.message = "Flow run encountered an exception.";
        continue;
      }
      if (!IsCut(st)) {
        complete();
        bool last = t.step == last_step;
        bool fail = st == FrState::kFailed && last &&
                    (r.Chance(0.2) || (i + 1 == f.tasks.size() && !failed_one));
        if (fail) {
          failed_one = true;
          t.state = TState::kFailed;
          t.start = begin;
          t.stop = t.ts = end;
          t.run_count = begin2 == kNone ? 1 : 2;
          t.total = (end1 - begin) + (begin2 == kNone ? 0 : end - begin2);
          t.data = false;
          t.message = kFailMessages[r.Below(3)];
        } else if (st == FrState::kCompleted && i == 0 && f.index < 2) {
          t.state = TState::kNoState;  // two task runs without any state, at any size
        } else if (st == FrState::kCompleted && r.Chance(0.0005)) {
          t.state = TState::kNoState;
        }
        if (t.state == TState::kNoState) {
          t.start = t.stop = t.ts = kNone;
          t.total = 0;
          t.run_count = 0;
          t.data = false;
        }
        continue;
      }
      // Cut states: done before the cut, interrupted at it, or not started.
      if (end <= cut) {
        complete();
        continue;
      }
      if (begin > cut) {
        if (st == FrState::kCancelled) {
          t.state = TState::kCancelled;
          t.start = t.stop = t.ts = cut;
          t.message = "Task run was cancelled.";
        } else {
          t.state = TState::kPending;
          t.ts = exp;
        }
        continue;
      }
      t.start = begin;
      bool in_second = begin2 != kNone && cut >= begin2;
      bool between = begin2 != kNone && cut >= end1 && cut < begin2;
      Micros current = in_second ? begin2 : begin;
      Micros done = in_second ? end1 - begin : (between ? end1 - begin : 0);
      t.run_count = in_second || between ? (in_second ? 2 : 1) : 1;
      switch (st) {
        case FrState::kCrashed:
        case FrState::kCancelled:
          t.state = st == FrState::kCrashed ? TState::kCrashed : TState::kCancelled;
          t.stop = t.ts = cut;
          t.total = done + (between ? 0 : cut - current);
          t.message = st == FrState::kCrashed ? "Execution was interrupted by the runtime."
                                              : "Task run was cancelled.";
          break;
        case FrState::kPaused:
          t.state = TState::kPaused;
          t.ts = cut;
          t.total = done + (between ? 0 : cut - current);
          break;
        case FrState::kCancelling:
          t.state = TState::kCancelling;
          t.ts = std::max(between ? end1 : current + kMs, cut - r.Range(1 * kSec, 30 * kSec));
          t.total = done + (between ? 0 : t.ts - current);
          break;
        default:  // kRunning
          if (between) {
            t.state = TState::kAwaitingRetry;
            t.ts = end1;
            t.next = begin2;
            t.total = done;
            t.retry_wait_s = static_cast<int>((begin2 - end1) / kSec);
          } else {
            t.state = in_second ? TState::kRetrying : TState::kRunning;
            t.ts = current;
            t.total = done;
          }
          break;
      }
    }
    // The flow run's own state.
    switch (st) {
      case FrState::kCompleted:
      case FrState::kFailed:
        f.end = f.ts = base + f.span;
        f.total = f.end - f.start;
        if (st == FrState::kFailed) f.message = "Flow run encountered an exception.";
        break;
      case FrState::kCrashed:
      case FrState::kCancelled:
        f.end = f.ts = cut + r.Range(20 * kMs, 900 * kMs);
        f.total = f.end - f.start;
        f.message = st == FrState::kCrashed
                        ? "Flow run infrastructure exited with non-zero status code 137."
                        : "Flow run was cancelled.";
        break;
      case FrState::kRunning:
        f.ts = f.start;
        break;
      case FrState::kCancelling:
        f.ts = std::max(f.start + kMs, now - r.Range(5 * kSec, 60 * kSec));
        f.total = f.ts - f.start;
        f.message = "Cancellation requested by user.";
        break;
      case FrState::kPaused:
        f.ts = cut;
        f.total = cut - f.start;
        break;
      default:
        break;
    }
  }

  // Gives a W at the end of out's content with room for `need` bytes.
  static W Open(OutBuf* out, size_t need) {
    if (out->buf.size() < out->used + need) {
      out->buf.resize(std::max(out->buf.size() * 2, out->used + need + (1 << 20)));
    }
    return W{out->buf.data() + out->used};
  }
  static void Close(OutBuf* out, const W& w) {
    out->used = static_cast<size_t>(w.p - out->buf.data());
  }

 private:
  void WriteStateDetails(W& o, const Id* flow_run, const Id* task_run, const Id* child,
                         Micros scheduled, const std::string* cache_key, Micros cache_exp,
                         bool deferred, Micros pause_timeout, const char* retriable,
                         const Id* params) {
    o.Lit(R"("state_details":{"flow_run_id":)");
    o.UuidOrNull(flow_run);
    o.Lit(R"(,"task_run_id":)");
    o.UuidOrNull(task_run);
    o.Lit(R"(,"child_flow_run_id":)");
    o.UuidOrNull(child);
    o.Lit(R"(,"scheduled_time":)");
    o.Time(scheduled);
    o.Lit(R"(,"cache_key":)");
    if (cache_key) {
      o.Quoted(*cache_key);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"cache_expiration":)");
    o.Time(cache_exp);
    o.Str(deferred ? R"(,"deferred":true)" : R"(,"deferred":false)");
    o.Lit(R"(,"untrackable_result":false,"pause_timeout":)");
    o.Time(pause_timeout);
    o.Lit(R"(,"pause_reschedule":false,"pause_key":)");
    if (pause_timeout != kNone) {
      o.Lit(R"("approval-1")");
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"run_input_keyset":null,"refresh_cache":null,"retriable":)");
    o.Str(retriable);
    o.Lit(R"(,"transition_id":null,"task_parameters_id":)");
    o.UuidOrNull(params);
    o.Lit(R"(,"traceparent":null,"deployment_concurrency_lease_id":null}})");
  }

  void WriteLabels(W& o, const FrSim& f, bool with_run) {
    o.Lit(R"({"prefect.flow.id":")");
    o.UuidRaw(w_.flows[f.plan->flow].id);
    o.Ch('"');
    if (f.plan->deployment >= 0) {
      o.Lit(R"(,"prefect.deployment.id":")");
      o.UuidRaw(w_.deployments[f.plan->deployment].id);
      o.Ch('"');
    }
    if (with_run) {
      o.Lit(R"(,"prefect.flow-run.id":")");
      o.UuidRaw(f.id);
      o.Ch('"');
    }
    o.Ch('}');
  }

  void WriteComputed(W& o, TState s, Micros total, Micros ts, Micros exp, Micros start) {
    Micros now = w_.now;
    o.Lit(R"(,"total_run_time":)");
    o.Dur(total);
    o.Lit(R"(,"estimated_run_time":)");
    bool running = s == TState::kRunning || s == TState::kRetrying;
    o.Dur(running && ts != kNone ? total + std::max<Micros>(0, now - ts) : total);
    o.Lit(R"(,"estimated_start_time_delta":)");
    Micros delta = 0;
    if (start != kNone && exp != kNone && start > exp) {
      delta = start - exp;
    } else if (start == kNone && exp != kNone && exp < now && !Terminal(s)) {
      delta = now - exp;
    }
    o.Dur(delta);
  }

  void WriteTaskCommon(Rng& r, W& o, const Id& id, Micros created, Micros updated,
                       std::string_view name, std::string_view dyn, const Id* flow_run,
                       std::string_view task_key, const std::string* cache_key,
                       Micros cache_exp, const char* version, int policy) {
    o.Lit(R"({"id":)");
    o.Uuid(id);
    o.Lit(R"(,"created":)");
    o.Time(created);
    o.Lit(R"(,"updated":)");
    o.Time(updated);
    o.Lit(R"(,"name":")");
    o.Str(name);
    o.Lit(R"(","flow_run_id":)");
    o.UuidOrNull(flow_run);
    o.Lit(R"(,"task_key":)");
    o.Quoted(task_key);
    o.Lit(R"(,"dynamic_key":)");
    o.Quoted(dyn);
    o.Lit(R"(,"cache_key":)");
    if (cache_key) {
      o.Quoted(*cache_key);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"cache_expiration":)");
    o.Time(cache_exp);
    o.Lit(R"(,"task_version":)");
    if (version) {
      o.Quoted(version);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"empirical_policy":)");
    o.Str(kPolicies[policy].json);
    o.Lit(R"(,"tags":)");
    int tags[5];
    int nt = DrawTags(w_, r, tags);
    WriteTags(w_, o, tags, nt);
  }

  // A task run's name into buf: "<base>-<first characters of dyn>" (3 in
  // the legacy shape, else the suffix width), or spec's template with the
  // date of `exp` and a value from names_. At most 250 bytes (base is cut at
  // 200); with no spec, at most base + 9.
  std::string_view ComposeName(char* buf, std::string_view base, std::string_view dyn,
                               const TaskNameSpec* spec, Micros exp) {
    W o{buf};
    o.Str(base.substr(0, 200));
    o.Ch('-');
    NameTemplate tmpl = spec ? spec->tmpl : NameTemplate::kSuffix;
    if (tmpl == NameTemplate::kSuffix) {
      size_t width = w_.suffix_width == 0 ? 3 : static_cast<size_t>(w_.suffix_width);
      o.Str(dyn.substr(0, width));
    } else {
      if (tmpl != NameTemplate::kParam) {
        char day[40];
        W t{day};
        t.TimeRaw(exp);
        o.Str(std::string_view(day, 10));
      }
      if (tmpl != NameTemplate::kDate) {
        if (tmpl == NameTemplate::kDateParam) o.Ch('-');
        o.Str(TemplateParams()[spec->param]);
        o.Ch('-');
        o.Uint(names_->Below(spec->values));
      }
    }
    return std::string_view(buf, static_cast<size_t>(o.p - buf));
  }

  void WriteTask(Rng& r, const FrSim& f, const TaskSim& t, const Id* child, OutBuf* out) {
    W o = Open(out, 8192);
    const Flow& flow = w_.flows[f.plan->flow];
    std::string_view base_name;
    std::string_view task_key;
    const TaskNameSpec* spec = nullptr;
    int policy = 0;
    if (t.step >= 0) {
      const Step& st = flow.steps[t.step];
      base_name = st.name;
      task_key = st.task_key;
      policy = st.policy;
      if (!w_.legacy) {
        uint32_t k = st.names[st.names.size() == 1 ? 0 : names_->Below(st.names.size())];
        spec = &w_.task_names[k];
        base_name = spec->name;
        task_key = w_.task_keys[k];
      }
    } else {  // Prefect names a subflow's parent task after the child flow
      const FrSim& c = *(&f + 1);
      base_name = w_.flows[c.plan->flow].name;
      scratch_key_ = absl::StrFormat("%s-%08x", base_name, Fnv(base_name));
      task_key = scratch_key_;
    }
    // The dynamic key: the map index (legacy), or a UUID (Prefect 3).
    char dyn[40];
    W d{dyn};
    if (w_.suffix_width == 0) {
      d.Uint(static_cast<uint64_t>(t.dyn));
    } else {
      d.UuidRaw(NewId(*names_));
    }
    std::string_view dyn_text(dyn, static_cast<size_t>(d.p - dyn));
    char name[320];
    std::string_view name_text = ComposeName(name, base_name, dyn_text, spec, t.exp);
    bool has_state = t.state != TState::kNoState;
    const std::string* cache_key = nullptr;
    Micros cache_exp = kNone;
    if (t.state == TState::kCached) {
      char hex[64];
      W h{hex};
      for (int i = 0; i < 4; ++i) h.Hex64(r.Next(), 8);
      scratch_cache_.assign(hex, 64);
      cache_key = &scratch_cache_;
      if (r.Chance(0.6)) cache_exp = t.ts + 7 * kDay;
    }
    Micros created = t.exp - r.Range(200, 6 * kMs);
    Micros updated = std::min(w_.now, (has_state ? t.ts : t.exp) + r.Range(1 * kMs, 60 * kMs));
    updated = std::max(updated, created);
    WriteTaskCommon(r, o, t.id, created, updated, name_text, dyn_text, &f.id, task_key,
                    cache_key, cache_exp, flow.task_version, policy);
    o.Lit(R"(,"labels":)");
    WriteLabels(o, f, true);
    Id state_id = NewId(r);
    o.Lit(R"(,"state_id":)");
    o.UuidOrNull(has_state ? &state_id : nullptr);
    o.Lit(R"(,"task_inputs":{)");
    if (t.upstream >= 0) {
      o.Lit(R"("x":[{"input_type":"task_run","id":)");
      o.Uuid(f.tasks[t.upstream].id);
      o.Lit("}]");
      if (t.dyn % 8 == 0 && t.step >= 0 && flow.steps[t.step].map) {
        o.Lit(R"(,"item":[{"input_type":"constant","type":"int"}])");
      }
    } else if (t.step >= 0) {
      o.Lit(R"("batch_size":[])");
    }
    o.Ch('}');
    TypeName tn = Describe(t.state);
    o.Lit(R"(,"state_type":)");
    if (has_state) {
      o.Quoted(tn.type);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"state_name":)");
    if (has_state) {
      o.Quoted(tn.name);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"run_count":)");
    o.Uint(static_cast<uint64_t>(t.run_count));
    o.Lit(R"(,"flow_run_run_count":1,"expected_start_time":)");
    o.Time(t.exp);
    o.Lit(R"(,"next_scheduled_start_time":)");
    o.Time(t.next);
    o.Lit(R"(,"start_time":)");
    o.Time(t.start);
    o.Lit(R"(,"end_time":)");
    o.Time(t.stop);
    WriteComputed(o, t.state, t.total, t.ts, t.exp, t.start);
    o.Lit(R"(,"state":)");
    if (!has_state) {
      o.Lit("null}\n");
      Close(out, o);
      return;
    }
    o.Lit(R"({"id":)");
    o.Uuid(state_id);
    o.Lit(R"(,"type":)");
    o.Quoted(tn.type);
    o.Lit(R"(,"name":)");
    o.Quoted(tn.name);
    o.Lit(R"(,"timestamp":)");
    o.Time(t.ts);
    o.Lit(R"(,"message":)");
    if (t.state == TState::kAwaitingRetry) {
      o.Lit(R"("Retry 1/)");
      o.Uint(static_cast<uint64_t>(std::max(1, kPolicies[policy].retries)));
      o.Lit(" will start ");
      o.Uint(static_cast<uint64_t>(t.retry_wait_s));
      o.Lit(R"( second(s) from now")");
    } else if (t.message) {
      o.Quoted(t.message);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"data":)");
    if (t.data) {
      o.Lit(R"({"storage_key":"/opt/prefect/storage/)");
      o.Hex64(r.Next(), 8);
      o.Hex64(r.Next(), 8);
      o.Lit(R"(","expiration":null,"serializer":{"type":"pickle"},"prefect_version":"3.4.11","storage_block_id":null})");
    } else {
      o.Lit("null");
    }
    o.Ch(',');
    Micros pause_timeout = t.state == TState::kPaused ? t.ts + kHour : kNone;
    WriteStateDetails(o, &f.id, &t.id, child, t.state == TState::kAwaitingRetry ? t.next : kNone,
                      cache_key, cache_exp, false, pause_timeout,
                      t.state == TState::kFailed && t.step >= 0 ? "false" : "null", nullptr);
    o.Lit("}\n");
    Close(out, o);
  }

  void WriteBackground(Rng& r, const FrSim& near, OutBuf* out) {
    W o = Open(out, 8192);
    Micros now = w_.now;
    int which = static_cast<int>(r.Below(3));
    Id id = NewId(r);
    Id dyn = NewId(r);
    char dyn_text[36];
    W d{dyn_text};
    d.UuidRaw(dyn);
    std::string_view name = kBackgroundTasks[which];
    char full_name[64];
    std::string_view name_text =
        ComposeName(full_name, name, std::string_view(dyn_text, 36), nullptr, kNone);
    char key[64];
    W k{key};
    k.Str(name);
    k.Lit("-");
    k.Hex64(Fnv(name), 4);
    uint64_t u = r.Below(100);
    Micros anchor = near.expected != 0 ? std::min(near.expected, now - kHour) : now - kDay;
    Micros exp = anchor + r.Range(-30 * kMin, 30 * kMin);
    TState st;
    Micros start = kNone, stop = kNone, ts = kNone, next = kNone, total = 0;
    Micros created;
    int runs = 0;
    const char* message = nullptr;
    if (u < 10) {  // deferred, later
      st = TState::kScheduled;
      exp = now + r.Range(1 * kMin, 8 * kHour);
      created = now - r.Range(1 * kSec, 2 * kHour);
      ts = created;
      next = exp;
    } else if (u < 14) {  // deferred, overdue
      st = TState::kScheduled;
      exp = now - r.Range(1 * kMin, 50 * kMin);
      created = exp - r.Range(200, 6 * kMs);
      ts = created;
      next = exp;
    } else if (u < 18) {
      st = TState::kPending;
      exp = now - r.Range(1 * kMin, 50 * kMin);
      created = exp - r.Range(200, 6 * kMs);
      ts = exp;
    } else if (u < 22) {
      st = TState::kRunning;
      start = now - r.Range(1 * kSec, 20 * kSec);
      exp = start - r.Range(1 * kSec, 5 * kSec);
      created = exp - r.Range(200, 6 * kMs);
      ts = start;
      runs = 1;
    } else {
      start = exp + r.Range(50 * kMs, 40 * kSec);
      total = r.Exp(2 * kSec) + 100 * kMs;
      stop = ts = start + total;
      created = exp - r.Range(200, 6 * kMs);
      runs = 1;
      if (u < 30) {
        st = TState::kFailed;
        message = kFailMessages[r.Below(3)];
      } else {
        st = TState::kCompleted;
      }
    }
    Micros updated = std::max(created, std::min(now, ts + r.Range(1 * kMs, 60 * kMs)));
    WriteTaskCommon(r, o, id, created, updated, name_text,
                    std::string_view(dyn_text, 36), nullptr,
                    std::string_view(key, static_cast<size_t>(k.p - key)), nullptr, kNone,
                    nullptr, 0);
    Id state_id = NewId(r);
    Id params = NewId(r);
    TypeName tn = Describe(st);
    o.Lit(R"(,"labels":{},"state_id":)");
    o.Uuid(state_id);
    o.Lit(R"(,"task_inputs":{"user_id":[],"payload":[]},"state_type":)");
    o.Quoted(tn.type);
    o.Lit(R"(,"state_name":)");
    o.Quoted(tn.name);
    o.Lit(R"(,"run_count":)");
    o.Uint(static_cast<uint64_t>(runs));
    o.Lit(R"(,"flow_run_run_count":0,"expected_start_time":)");
    o.Time(exp);
    o.Lit(R"(,"next_scheduled_start_time":)");
    o.Time(next);
    o.Lit(R"(,"start_time":)");
    o.Time(start);
    o.Lit(R"(,"end_time":)");
    o.Time(stop);
    WriteComputed(o, st, total, ts, exp, start);
    o.Lit(R"(,"state":{"id":)");
    o.Uuid(state_id);
    o.Lit(R"(,"type":)");
    o.Quoted(tn.type);
    o.Lit(R"(,"name":)");
    o.Quoted(tn.name);
    o.Lit(R"(,"timestamp":)");
    o.Time(ts);
    o.Lit(R"(,"message":)");
    if (message) {
      o.Quoted(message);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"data":null,)");
    WriteStateDetails(o, nullptr, &id, nullptr, st == TState::kScheduled ? exp : kNone, nullptr,
                      kNone, true, kNone, st == TState::kFailed ? "false" : "null", &params);
    o.Lit("}\n");
    Close(out, o);
  }

  void WriteFlowRun(Rng& r, const FrSim& f, const FrSim* parent, OutBuf* out) {
    W o = Open(out, 8192);
    const Flow& flow = w_.flows[f.plan->flow];
    const Deployment* dep = f.plan->deployment >= 0 ? &w_.deployments[f.plan->deployment] : nullptr;
    FrState st = f.plan->state;
    const char* type = "COMPLETED";
    const char* name = "Completed";
    switch (st) {
      case FrState::kCompleted: break;
      case FrState::kFailed: type = "FAILED", name = "Failed"; break;
      case FrState::kCrashed: type = "CRASHED", name = "Crashed"; break;
      case FrState::kCancelled:
      case FrState::kCancelledEarly: type = "CANCELLED", name = "Cancelled"; break;
      case FrState::kRunning: type = "RUNNING", name = "Running"; break;
      case FrState::kCancelling: type = "CANCELLING", name = "Cancelling"; break;
      case FrState::kPaused: type = "PAUSED", name = "Paused"; break;
      case FrState::kScheduled: type = "SCHEDULED", name = "Scheduled"; break;
      case FrState::kLate: type = "SCHEDULED", name = "Late"; break;
      case FrState::kPending: type = "PENDING", name = "Pending"; break;
    }
    Id state_id = NewId(r);
    Micros updated = std::min(w_.now, std::max(f.created, f.ts) + r.Range(1 * kMs, 80 * kMs));
    o.Lit(R"({"id":)");
    o.Uuid(f.id);
    o.Lit(R"(,"created":)");
    o.Time(f.created);
    o.Lit(R"(,"updated":)");
    o.Time(updated);
    o.Lit(R"(,"name":")");
    o.Str(w_.adjectives[r.Below(w_.adjectives.size())]);
    o.Ch('-');
    o.Str(w_.nouns[r.Below(w_.nouns.size())]);
    o.Lit(R"(","flow_id":)");
    o.Uuid(flow.id);
    o.Lit(R"(,"state_id":)");
    o.Uuid(state_id);
    o.Lit(R"(,"deployment_id":)");
    o.UuidOrNull(dep ? &dep->id : nullptr);
    o.Lit(R"(,"deployment_version":)");
    if (dep) {
      o.Quoted(dep->version);
    } else {
      o.Lit("null");
    }
    int queue = dep ? dep->queue : -1;
    o.Lit(R"(,"work_queue_id":)");
    o.UuidOrNull(queue >= 0 ? &w_.queue_ids[queue] : nullptr);
    o.Lit(R"(,"work_queue_name":)");
    if (queue >= 0) {
      o.Quoted(kQueues[queue]);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"flow_version":)");
    o.Quoted(flow.versions[f.expected < w_.window_start + 15 * kDay ? 0 : 1]);
    o.Lit(R"(,"parameters":)");
    o.Str(flow.params_json);
    o.Lit(R"(,"idempotency_key":)");
    if (f.auto_scheduled) {
      o.Lit(R"("scheduled )");
      o.UuidRaw(dep->id);
      o.Ch(' ');
      o.UuidRaw(dep->schedule_id);
      o.Ch(' ');
      o.TimeRaw(f.expected);
      o.Ch('"');
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"context":{},"empirical_policy":{"max_retries":0,"retry_delay_seconds":0.0,"retries":0,"retry_delay":0,"pause_keys":[],"resuming":false,"retry_type":null},"tags":)");
    if (dep) {
      o.Str(dep->tags_json);
    } else {
      int tags[5];
      int nt = DrawTags(w_, r, tags);
      WriteTags(w_, o, tags, nt);
    }
    o.Lit(R"(,"labels":)");
    WriteLabels(o, f, false);
    o.Lit(R"(,"parent_task_run_id":)");
    o.UuidOrNull(parent ? &parent->tasks[parent->parent_task].id : nullptr);
    o.Lit(R"(,"state_type":)");
    o.Quoted(type);
    o.Lit(R"(,"state_name":)");
    o.Quoted(name);
    o.Lit(R"(,"run_count":)");
    o.Uint(f.start != kNone && st != FrState::kCancelledEarly ? 1 : 0);
    o.Lit(R"(,"expected_start_time":)");
    o.Time(f.expected);
    o.Lit(R"(,"next_scheduled_start_time":)");
    o.Time(f.next);
    o.Lit(R"(,"start_time":)");
    o.Time(f.start);
    o.Lit(R"(,"end_time":)");
    o.Time(f.end);
    TState as_task = st == FrState::kRunning ? TState::kRunning
                     : (f.end != kNone)      ? TState::kCompleted
                                             : TState::kPending;
    WriteComputed(o, as_task, f.total, f.ts, f.expected, f.start);
    o.Lit(R"(,"auto_scheduled":)");
    o.Str(f.auto_scheduled ? "true" : "false");
    o.Lit(R"(,"infrastructure_document_id":null,"infrastructure_pid":null,"created_by":null,"work_pool_id":)");
    o.UuidOrNull(queue >= 0 ? &w_.pool_ids[queue] : nullptr);
    o.Lit(R"(,"work_pool_name":)");
    if (queue >= 0) {
      o.Quoted(kPools[queue]);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"state":{"id":)");
    o.Uuid(state_id);
    o.Lit(R"(,"type":)");
    o.Quoted(type);
    o.Lit(R"(,"name":)");
    o.Quoted(name);
    o.Lit(R"(,"timestamp":)");
    o.Time(f.ts);
    o.Lit(R"(,"message":)");
    if (f.message) {
      o.Quoted(f.message);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"data":null,)");
    WriteStateDetails(o, &f.id, nullptr, nullptr, st == FrState::kScheduled || st == FrState::kLate ? f.expected : kNone,
                      nullptr, kNone, false, st == FrState::kPaused ? f.ts + 2 * kDay : kNone,
                      "null", nullptr);
    o.Lit(R"(,"job_variables":{}})");
    o.Ch('\n');
    Close(out, o);
  }

  const World& w_;
  Rng* names_ = nullptr;  // the group's name stream, during Render
  std::vector<FrSim> frs_;
  std::string scratch_key_, scratch_cache_;
};

// ---- the small files --------------------------------------------------------------------

std::string FlowsFile(const World& w) {
  std::string out;
  StringSink sink(&out);
  for (const Flow& f : w.flows) {
    W o = sink.Begin(4096);
    o.Lit(R"({"id":)");
    o.Uuid(f.id);
    o.Lit(R"(,"created":)");
    o.Time(f.created);
    o.Lit(R"(,"updated":)");
    o.Time(f.updated);
    o.Lit(R"(,"name":)");
    o.Quoted(f.name);
    o.Lit(R"(,"tags":)");
    o.Str(f.tags_json);
    o.Lit(R"(,"labels":{}})");
    o.Ch('\n');
    sink.End(o);
  }
  return out;
}

std::string DeploymentsFile(const World& w) {
  std::string out;
  StringSink sink(&out);
  for (const Deployment& d : w.deployments) {
    const Flow& f = w.flows[d.flow];
    W o = sink.Begin(8192);
    o.Lit(R"({"id":)");
    o.Uuid(d.id);
    o.Lit(R"(,"created":)");
    o.Time(d.created);
    o.Lit(R"(,"updated":)");
    o.Time(d.updated);
    o.Lit(R"(,"name":)");
    o.Quoted(d.name);
    o.Lit(R"(,"version":)");
    o.Quoted(d.version);
    o.Lit(R"(,"description":null,"flow_id":)");
    o.Uuid(f.id);
    o.Str(d.paused ? R"(,"paused":true)" : R"(,"paused":false)");
    o.Lit(R"(,"schedules":[)");
    if (d.scheduled) {
      o.Lit(R"({"id":)");
      o.Uuid(d.schedule_id);
      o.Lit(R"(,"created":)");
      o.Time(d.created);
      o.Lit(R"(,"updated":)");
      o.Time(d.created);
      o.Lit(R"(,"deployment_id":)");
      o.Uuid(d.id);
      o.Lit(R"(,"schedule":{"interval":)");
      o.Uint(static_cast<uint64_t>(d.interval_min) * 60);
      o.Lit(R"(.0,"anchor_date":"2026-01-01T00:00:00Z","timezone":"UTC"},"active":true,"max_scheduled_runs":null,"parameters":{},"slug":null})");
    }
    o.Lit(R"(],"concurrency_limit":null,"global_concurrency_limit":null,"concurrency_options":null,"job_variables":{},"parameters":{},"tags":)");
    o.Str(d.tags_json);
    o.Lit(R"(,"labels":{"prefect.flow.id":)");
    o.Uuid(f.id);
    o.Lit(R"(},"work_queue_name":)");
    if (d.queue >= 0) {
      o.Quoted(kQueues[d.queue]);
    } else {
      o.Lit("null");
    }
    o.Lit(R"(,"last_polled":null,"parameter_openapi_schema":{"title":"Parameters","type":"object","properties":{}},"path":"/opt/flows","pull_steps":null,"entrypoint":"flows/main.py:)");
    o.Str(f.name);
    o.Lit(R"(","storage_document_id":null,"infrastructure_document_id":null,"created_by":null,"updated_by":null,"work_queue_id":)");
    o.UuidOrNull(d.queue >= 0 ? &w.queue_ids[d.queue] : nullptr);
    o.Lit(R"(,"enforce_parameter_schema":true,"work_pool_name":)");
    if (d.queue >= 0) {
      o.Quoted(kPools[d.queue]);
    } else {
      o.Lit("null");
    }
    o.Str(d.paused ? R"(,"status":"NOT_READY"})" : R"(,"status":"READY"})");
    o.Ch('\n');
    sink.End(o);
  }
  return out;
}

// ---- queries ----------------------------------------------------------------------------

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

uint32_t GroupEnd(const World& w, size_t g) {
  return g + 1 < w.group_starts.size() ? w.group_starts[g + 1]
                                       : static_cast<uint32_t>(w.plan.size());
}

// The flow-run ids of group g and its task-run lines, re-rendered; returns
// the start time of its top-level flow run.
Micros RenderGroup(const World& w, size_t g, OutBuf* tasks, std::vector<Id>* ids) {
  GroupRenderer r(w);
  OutBuf flow_runs;
  r.Render(w.group_starts[g], GroupEnd(w, g), tasks, &flow_runs, ids);
  return r.start_time(0);
}

// Calls fn(id, name, flow_run_id) for each task-run line of `tasks`.
template <typename Fn>
void ForEachTaskLine(const OutBuf& tasks, Fn fn) {
  std::string_view all(tasks.buf.data(), tasks.used);
  while (!all.empty()) {
    size_t end = all.find('\n');
    std::string_view line = all.substr(0, end);
    all = end == std::string_view::npos ? std::string_view() : all.substr(end + 1);
    size_t at = line.find(R"(,"name":")");
    size_t fr = line.find(R"(,"flow_run_id":)");
    if (line.size() < 43 || at == std::string_view::npos || fr == std::string_view::npos) continue;
    at += 9;
    std::string_view name = line.substr(at, line.find('"', at) - at);
    std::string_view flow_run = line.substr(fr + 15, 38);
    fn(line.substr(7, 36), name, flow_run);
  }
}

// A "YYYY-MM-DD" inside a task-run name, or "".
std::string DateIn(std::string_view name) {
  for (size_t i = 0; i + 10 <= name.size(); ++i) {
    std::string_view s = name.substr(i, 10);
    auto digits = [&](size_t from, size_t len) {
      for (size_t k = from; k < from + len; ++k) {
        if (s[k] < '0' || s[k] > '9') return false;
      }
      return true;
    };
    if (digits(0, 4) && s[4] == '-' && digits(5, 2) && s[7] == '-' && digits(8, 2)) {
      return std::string(s);
    }
  }
  return "";
}

std::string QueriesFile(const World& w, uint64_t n) {
  QueryMixFacts facts;
  facts.task_runs = n;
  // The biggest top-level run with a deployment: its id and its task runs
  // come from re-rendering its group.
  uint32_t big_group = 0, big_tasks = 0;
  for (size_t g = 0; g < w.group_starts.size(); ++g) {
    const FrPlan& p = w.plan[w.group_starts[g]];
    if (p.deployment >= 0 && p.tasks > big_tasks) {
      big_tasks = p.tasks;
      big_group = static_cast<uint32_t>(g);
    }
  }
  if (!w.group_starts.empty()) {
    OutBuf t;
    std::vector<Id> ids;
    RenderGroup(w, big_group, &t, &ids);
    facts.big_flow_run_id = IdText(ids[0]);
    std::string quoted = "\"" + facts.big_flow_run_id + "\"";
    ForEachTaskLine(t, [&](std::string_view id, std::string_view name, std::string_view fr) {
      if (fr != quoted) return;
      facts.big_task_ids.emplace_back(id);
      facts.big_task_names.emplace_back(name);
    });
  }
  // A date of a templated task-run name, from the first groups that have one.
  for (size_t g = 0; !w.legacy && g < w.group_starts.size() && g < 64; ++g) {
    OutBuf t;
    RenderGroup(w, g, &t, nullptr);
    ForEachTaskLine(t, [&](std::string_view, std::string_view name, std::string_view) {
      if (facts.dated_fragment.empty()) facts.dated_fragment = DateIn(name);
    });
    if (!facts.dated_fragment.empty()) break;
  }
  // Task runs per flow and per deployment, from the plan.
  std::vector<uint64_t> per_flow(w.flows.size()), per_dep(w.deployments.size());
  for (const FrPlan& p : w.plan) {
    per_flow[p.flow] += p.tasks;
    if (p.deployment >= 0) per_dep[p.deployment] += p.tasks;
  }
  std::vector<int> flows_by_use(w.flows.size());
  for (size_t i = 0; i < flows_by_use.size(); ++i) flows_by_use[i] = static_cast<int>(i);
  std::stable_sort(flows_by_use.begin(), flows_by_use.end(),
                   [&](int a, int b) { return per_flow[a] > per_flow[b]; });
  std::vector<int> deps_by_use(w.deployments.size());
  for (size_t i = 0; i < deps_by_use.size(); ++i) deps_by_use[i] = static_cast<int>(i);
  std::stable_sort(deps_by_use.begin(), deps_by_use.end(),
                   [&](int a, int b) { return per_dep[a] > per_dep[b]; });
  const Flow& top = w.flows[flows_by_use[0]];
  int rare_flow = flows_by_use[0];
  for (int i : flows_by_use) {
    if (per_flow[i] > 0) rare_flow = i;
  }
  facts.common_name = top.steps[0].name;
  facts.rare_name = w.flows[rare_flow].steps[0].name;
  {
    // The task name whose like_ (ASCII case-insensitive substring) matches the
    // fewest task runs, at least one (a step's runs shared among its names).
    std::map<std::string, uint64_t> per_name;
    for (const FrPlan& p : w.plan) {
      const Flow& f = w.flows[p.flow];
      int batch[8] = {0};
      Batches(f, p.tasks, batch);  // close enough: a subflow parent has one task less
      for (size_t i = 0; i < f.steps.size(); ++i) {
        const Step& st = f.steps[i];
        if (w.legacy) {
          per_name[Lower(st.name)] += batch[i];
          continue;
        }
        for (size_t k = 0; k < st.names.size(); ++k) {
          uint64_t share = batch[i] / st.names.size() + (k < batch[i] % st.names.size());
          per_name[Lower(w.task_names[st.names[k]].name)] += share;
        }
      }
    }
    uint64_t best = UINT64_MAX;
    for (const auto& [name, count] : per_name) {
      if (count == 0) continue;
      uint64_t total = 0;
      for (const auto& [other, c] : per_name) {
        if (other.find(name) != std::string::npos) total += c;
      }
      if (total < best) {
        best = total;
        facts.rare_name = name;
      }
    }
  }
  facts.mixed_flow = top.name;
  for (int i : flows_by_use) {
    const std::string& nm = w.flows[i].name;
    if (std::any_of(nm.begin(), nm.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      facts.mixed_flow = nm;
      break;
    }
  }
  facts.second_flow = w.flows[flows_by_use[1]].name;
  facts.like_flow = w.flows[flows_by_use[2]].name.substr(0, 3);
  facts.dep1 = IdText(w.deployments[deps_by_use[0]].id);
  facts.dep2 = IdText(w.deployments[deps_by_use[1]].id);
  facts.tags = w.tags;
  facts.paused_tag = w.tags[0];
  for (int d : deps_by_use) {  // the most used paused deployment with a tag
    const Deployment& dep = w.deployments[d];
    if (per_dep[d] > 0 && dep.paused && dep.tags_json.size() > 4) {
      facts.paused_tag = dep.tags_json.substr(2, dep.tags_json.find('"', 2) - 2);
      break;
    }
  }
  facts.now_text = TimeText(w.now);
  facts.day_ago = TimeText(w.now - kDay);
  facts.two_days_ago = TimeText(w.now - 2 * kDay);
  facts.week_ago = TimeText(w.now - 7 * kDay);
  // Six days around the start of the last flow run with a subflow.
  facts.subflow_after = facts.week_ago;
  facts.subflow_before = facts.day_ago;
  for (size_t g = w.group_starts.size(); g-- > 0;) {
    if (GroupEnd(w, g) - w.group_starts[g] < 2) continue;
    OutBuf t;
    Micros start = RenderGroup(w, g, &t, nullptr);
    if (start == kNone) continue;
    facts.subflow_after = TimeText(start - 3 * kDay);
    facts.subflow_before = TimeText(start + 3 * kDay);
    break;
  }
  return QueryMixFile(facts);
}

// ---- files and the pipeline -------------------------------------------------------------

absl::Status WriteWhole(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(absl::StrFormat("cannot create %s: %s", path, std::strerror(errno)));
  }
  size_t n = std::fwrite(data.data(), 1, data.size(), f);
  int rc = std::fclose(f);
  if (n != data.size() || rc != 0) {
    return absl::InternalError(absl::StrFormat("cannot write %s: %s", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

struct Slot {
  OutBuf tasks, flow_runs;
  uint64_t lines = 0;
  int64_t chunk = -1;  // which chunk it holds, -1 if free
  bool ready = false;
};

}  // namespace

absl::Status GenerateSnapshot(const GenerateOptions& options, GenerateSummary* summary) {
  auto t0 = std::chrono::steady_clock::now();
  if (options.task_runs == 0 || options.task_runs > 0xffffffffULL) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "task_runs: must be in [1, 4294967295], got %d", options.task_runs));
  }
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrFormat("threads: must be in [1, 64], got %d", options.threads));
  }
  if (options.out_dir.empty() && !options.discard) {
    return absl::InvalidArgumentError("out_dir: must not be empty");
  }
  const bool legacy = options.shape == GenerateShape::kLegacy;
  if (legacy && (options.task_names != 0 || options.name_suffix_width != -1)) {
    return absl::InvalidArgumentError(
        "task_names and name_suffix_width apply to the realistic shape only");
  }
  if (options.task_names > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrFormat("task_names: must be in [1, 1000000], got %d", options.task_names));
  }
  if (options.name_suffix_width < -1 || options.name_suffix_width > 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "name_suffix_width: must be in [0, 8], got %d", options.name_suffix_width));
  }
  if (!options.discard && ::mkdir(options.out_dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrFormat("cannot create %s: %s", options.out_dir, std::strerror(errno)));
  }
  auto w = std::make_unique<World>();
  w->seed = options.seed;
  w->now = options.now;
  w->legacy = legacy;
  BuildWorld(*w);
  if (legacy) {
    w->adjectives.assign(std::begin(kAdjectives), std::end(kAdjectives));
    w->nouns.assign(std::begin(kAnimals), std::end(kAnimals));
  } else {
    w->suffix_width = options.name_suffix_width == -1 ? 3 : options.name_suffix_width;
    AssignNames(*w, options.task_names == 0 ? kDefaultTaskNames : options.task_names);
  }
  BuildPlan(*w, options.task_runs);

  GenerateSummary s;
  std::string dir = options.out_dir + "/";
  std::string flows = FlowsFile(*w);
  std::string deps = DeploymentsFile(*w);
  if (!options.discard) {
    absl::Status st = WriteWhole(dir + "flows.ndjson", flows);
    if (st.ok()) st = WriteWhole(dir + "deployments.ndjson", deps);
    if (!st.ok()) return st;
  }
  s.flows = w->flows.size();
  s.deployments = w->deployments.size();
  s.flows_bytes = flows.size();
  s.deployments_bytes = deps.size();

  std::string task_path = dir + "task_runs.ndjson", fr_path = dir + "flow_runs.ndjson";
  const char* sink = options.discard ? "/dev/null" : nullptr;
  FILE* tf = std::fopen(sink ? sink : task_path.c_str(), "wb");
  FILE* ff = tf ? std::fopen(sink ? sink : fr_path.c_str(), "wb") : nullptr;
  if (tf == nullptr || ff == nullptr) {
    std::string bad = tf == nullptr ? task_path : fr_path;
    if (tf) std::fclose(tf);
    return absl::InternalError(absl::StrFormat("cannot create %s: %s", bad, std::strerror(errno)));
  }

  const int threads = options.threads;
  const size_t ring = static_cast<size_t>(threads) * 2;
  std::vector<Slot> slots(ring);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int64_t> next{0};
  int64_t written = 0;  // chunks written so far (guarded by mu)
  const int64_t nchunks = static_cast<int64_t>(w->chunks.size());

  auto worker = [&] {
    GroupRenderer g(*w);
    for (;;) {
      int64_t k = next.fetch_add(1);
      if (k >= nchunks) return;
      Slot* slot = &slots[static_cast<size_t>(k) % ring];
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return slot->chunk == -1 && k < written + static_cast<int64_t>(ring); });
        slot->chunk = k;
      }
      const Chunk& c = w->chunks[static_cast<size_t>(k)];
      slot->tasks.used = 0;
      slot->flow_runs.used = 0;
      uint64_t lines = 0;
      // Groups inside the chunk.
      auto it = std::lower_bound(w->group_starts.begin(), w->group_starts.end(), c.fr_begin);
      for (; it != w->group_starts.end() && *it < c.fr_end; ++it) {
        uint32_t e = (it + 1) != w->group_starts.end() ? *(it + 1) : static_cast<uint32_t>(w->plan.size());
        lines += g.Render(*it, e, &slot->tasks, &slot->flow_runs, nullptr);
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        slot->lines = lines;
        slot->ready = true;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);

  bool io_error = false;
  auto last_report = std::chrono::steady_clock::now();
  for (int64_t k = 0; k < nchunks; ++k) {
    Slot* slot = &slots[static_cast<size_t>(k) % ring];
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return slot->chunk == k && slot->ready; });
    }
    if (!io_error) {
      io_error |= std::fwrite(slot->tasks.buf.data(), 1, slot->tasks.used, tf) !=
                  slot->tasks.used;
      io_error |= std::fwrite(slot->flow_runs.buf.data(), 1, slot->flow_runs.used, ff) !=
                  slot->flow_runs.used;
    }
    s.task_runs += slot->lines;
    s.task_runs_bytes += slot->tasks.used;
    s.flow_runs_bytes += slot->flow_runs.used;
    {
      std::lock_guard<std::mutex> lock(mu);
      slot->ready = false;
      slot->chunk = -1;
      ++written;
    }
    cv.notify_all();
    auto now = std::chrono::steady_clock::now();
    if (options.progress && now - last_report > std::chrono::milliseconds(500)) {
      last_report = now;
      options.progress(s.task_runs, s.task_runs_bytes + s.flow_runs_bytes,
                       std::chrono::duration<double>(now - t0).count());
    }
  }
  for (auto& t : pool) t.join();
  io_error |= std::fclose(tf) != 0;
  io_error |= std::fclose(ff) != 0;
  if (io_error) {
    return absl::InternalError(absl::StrFormat("cannot write %s or %s: %s", task_path, fr_path,
                                               std::strerror(errno)));
  }
  s.flow_runs = w->plan.size();
  s.subflow_runs = w->subflows;
  s.autonomous_task_runs = w->autonomous_tasks;

  if (!options.queries_file.empty()) {
    std::string q = QueriesFile(*w, options.task_runs);
    absl::Status qs = WriteWhole(options.queries_file, q);
    if (!qs.ok()) return qs;
    s.queries = static_cast<uint64_t>(std::count(q.begin(), q.end(), '\n'));
    s.queries_bytes = q.size();
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (summary) *summary = s;
  return absl::OkStatus();
}

}  // namespace taskdex
