// bench/random_bodies.cc: see random_bodies.h.

#include "bench/random_bodies.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/datetime.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

constexpr Micros kMinute = 60'000'000;

// splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Percent(int p) { return static_cast<int>(Uniform(100)) < p; }
  int64_t Between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }

 private:
  uint64_t state_;
};

std::string Array(const std::vector<std::string>& quoted) {
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

const char* Bool(bool b) { return b ? "true" : "false"; }

// A JSON object under construction: "key": value pairs in insertion order.
class Obj {
 public:
  void Add(std::string_view key, std::string value_json) {
    parts_.push_back(absl::StrCat(JsonQuote(key), ": ", value_json));
  }
  std::string Text() const { return absl::StrCat("{", absl::StrJoin(parts_, ", "), "}"); }

 private:
  std::vector<std::string> parts_;
};

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Flips the case of each ASCII letter with probability 1/2.
std::string FlipCase(Rng& rng, std::string s) {
  for (char& c : s) {
    if (!rng.Percent(50)) continue;
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

// The fields of one filter class: name and a generator of its value.
struct Field {
  const char* name;
  std::function<std::string()> value;
};

// One body's worth of drawing; all randomness comes from `rng_`.
class BodyGen {
 public:
  BodyGen(const Store& store, Rng& rng, Micros min_time, Micros max_time)
      : s_(store), rng_(rng), min_time_(min_time), max_time_(max_time) {}

  std::string Body() {
    Obj body;
    bool any = false;
    auto maybe = [&](int percent, const char* key, std::string (BodyGen::*make)()) {
      if (!rng_.Percent(percent)) return;
      body.Add(key, (this->*make)());
      any = true;
    };
    maybe(75, "task_runs", &BodyGen::TaskRuns);
    maybe(30, "flow_runs", &BodyGen::FlowRuns);
    maybe(12, "flows", &BodyGen::Flows);
    maybe(12, "deployments", &BodyGen::Deployments);
    if (!any && rng_.Percent(85)) body.Add("task_runs", TaskRuns());
    if (rng_.Percent(85)) {
      body.Add(
          "sort",
          JsonQuote(TaskRunSortName(static_cast<TaskRunSort>(rng_.Uniform(kNumTaskRunSorts)))));
    }
    if (rng_.Percent(88)) {
      static constexpr int kCommon[] = {5, 10, 15, 20, 25, 50, 100, 200};
      const int limit = rng_.Percent(45) ? kCommon[rng_.Uniform(std::size(kCommon))]
                                         : static_cast<int>(rng_.Between(1, 200));
      body.Add("limit", std::to_string(limit));
    }
    const uint64_t p = rng_.Uniform(100);
    int64_t page = 1;
    if (p < 25) {
      page = rng_.Between(2, 10);
    } else if (p < 35) {
      page = rng_.Between(11, 100);
    } else if (p < 40) {
      page = rng_.Between(101, 2000);
    }
    if (page > 1 || rng_.Percent(40)) body.Add("page", std::to_string(page));
    return body.Text();
  }

 private:
  // --- the four filter classes (paginate.md 4.4-4.7) ---

  std::string TaskRuns() {
    const TaskRunTable& t = s_.task_runs;
    return Node(
        true,
        {
            {"id", [&] { return Wrap("any_", Ids(t.id, 95)); }},
            {"name", [&] { return Name(s_.task_run_names, t.name); }},
            {"tags", [&] { return Tags(t.tags, false); }},
            {"state", [&] { return State(false); }},
            {"start_time", [&] { return Time(t.start_time, true); }},
            {"end_time", [&] { return Time(t.end_time, true); }},
            {"expected_start_time", [&] { return Time(t.expected_start_time, false); }},
            {"subflow_runs",
             [&] { return rng_.Percent(85) ? Wrap("exists_", Bool(rng_.Percent(50))) : "{}"; }},
            {"flow_run_id", [&] { return FlowRunIdRef(); }},
        });
  }

  std::string FlowRuns() {
    const FlowRunTable& r = s_.flow_runs;
    return Node(
        true,
        {
            {"id", [&] { return IdFilter(r.id, true); }},
            {"name", [&] { return Name(s_.flow_run_names, r.name); }},
            {"tags", [&] { return Tags(r.tags, true); }},
            {"deployment_id", [&] { return Ref(Ids(s_.deployments.id, 85), true); }},
            {"work_queue_name", [&] { return WorkQueue(true, true); }},
            {"flow_version", [&] { return Wrap("any_", BlobValues(r.flow_version, "1.0")); }},
            {"state", [&] { return State(true); }},
            {"start_time", [&] { return Time(r.start_time, true); }},
            {"end_time", [&] { return Time(r.end_time, true); }},
            {"expected_start_time", [&] { return Time(r.expected_start_time, false); }},
            {"next_scheduled_start_time", [&] { return Time(r.next_scheduled_start_time, false); }},
            {"parent_flow_run_id", [&] { return Ref(ParentFlowRunIds(), false); }},
            {"parent_task_run_id", [&] { return Ref(ParentTaskRunIds(), true); }},
            {"idempotency_key",
             [&] {
               Obj o;
               if (rng_.Percent(70)) o.Add("any_", BlobValues(r.idempotency_key, "k"));
               if (rng_.Percent(40)) o.Add("not_any_", BlobValues(r.idempotency_key, "k"));
               return o.Text();
             }},
            {"created_by", [&] { return CreatedBy(); }},
        });
  }

  std::string Flows() {
    const FlowTable& f = s_.flows;
    return Node(true, {
                          {"id", [&] { return IdFilter(f.id, true); }},
                          {"deployment",
                           [&] {
                             Obj o;
                             Operator(&o);
                             if (rng_.Percent(85)) o.Add("is_null_", Bool(rng_.Percent(40)));
                             return o.Text();
                           }},
                          {"name", [&] { return Name(s_.flow_names, f.name); }},
                          {"tags", [&] { return Tags(f.tags, false); }},
                      });
  }

  std::string Deployments() {
    const DeploymentTable& d = s_.deployments;
    return Node(
        true, {
                  {"id", [&] { return IdFilter(d.id, true); }},
                  {"name", [&] { return Name(s_.deployment_names, d.name); }},
                  {"flow_or_deployment_name",
                   [&] {
                     const bool flow = rng_.Percent(40) && s_.flows.size() > 0;
                     const std::string name =
                         flow ? std::string(s_.flow_names.Get(s_.flows.name[Row(s_.flows.size())]))
                              : PickName(s_.deployment_names, d.name);
                     return Wrap("like_", JsonQuote(Fragment(name)));
                   }},
                  {"paused", [&] { return Wrap("eq_", Bool(rng_.Percent(30))); }},
                  {"tags", [&] { return Tags(d.tags, true); }},
                  {"work_queue_name", [&] { return WorkQueue(false, false); }},
                  {"concurrency_limit",
                   [&] {
                     Obj o;
                     if (rng_.Percent(50)) o.Add("ge_", std::to_string(rng_.Uniform(5)));
                     if (rng_.Percent(50)) o.Add("le_", std::to_string(5 + rng_.Uniform(20)));
                     if (rng_.Percent(30)) o.Add("is_null_", Bool(rng_.Percent(50)));
                     return o.Text();
                   }},
              });
  }

  // A composite or leaf node: `operator` (when the class has one) and 1..3
  // of its fields, drawn without repetition, written in class order.
  std::string Node(bool has_operator, const std::vector<Field>& fields) {
    Obj o;
    if (has_operator) Operator(&o);
    const uint64_t k =
        1 + (rng_.Percent(55) ? 0 : rng_.Uniform(std::min<size_t>(3, fields.size())));
    std::vector<size_t> chosen;
    while (chosen.size() < k) {
      const size_t i = rng_.Uniform(fields.size());
      if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) chosen.push_back(i);
    }
    std::sort(chosen.begin(), chosen.end());
    for (size_t i : chosen) o.Add(fields[i].name, fields[i].value());
    return o.Text();
  }

  void Operator(Obj* o) {
    const uint64_t r = rng_.Uniform(100);
    if (r < 30) {
      o->Add("operator", "\"or_\"");
    } else if (r < 50) {
      o->Add("operator", "\"and_\"");
    }  // else absent: and_
  }

  static std::string Wrap(std::string_view key, std::string value) {
    Obj o;
    o.Add(key, std::move(value));
    return o.Text();
  }

  // --- values ---

  RowId Row(uint32_t size) { return static_cast<RowId>(rng_.Uniform(size)); }

  uint64_t ListLength() {
    const uint64_t r = rng_.Uniform(100);
    return r < 55 ? 1 : r < 80 ? 2 : r < 92 ? 3 : 4 + rng_.Uniform(7);
  }

  std::string UnknownId() {
    Uuid u;
    u.bytes[0] = 0xee;
    u.bytes[6] = 0x40;
    u.bytes[8] = 0x80;
    u.bytes[15] = static_cast<uint8_t>(1 + rng_.Uniform(3));
    return JsonQuote(UuidToString(u));
  }

  // 1..10 ids of the pool's rows; each unknown with probability 100 - known%.
  std::string Ids(std::span<const Uuid> pool, int known_percent) {
    std::vector<std::string> v;
    const uint64_t n = ListLength();
    for (uint64_t i = 0; i < n; ++i) {
      if (pool.empty() || !rng_.Percent(known_percent)) {
        v.push_back(UnknownId());
      } else {
        v.push_back(JsonQuote(UuidToString(pool[Row(static_cast<uint32_t>(pool.size()))])));
      }
    }
    return Array(v);
  }

  std::string IdFilter(std::span<const Uuid> pool, bool has_not_any) {
    Obj o;
    const bool any = !has_not_any || rng_.Percent(75);
    if (any) o.Add("any_", Ids(pool, 90));
    if (has_not_any && (!any || rng_.Percent(25))) o.Add("not_any_", Ids(pool, 90));
    return o.Text();
  }

  // `{operator?, any_?, is_null_?}` of a UUID reference.
  std::string Ref(std::string ids, bool has_is_null) {
    Obj o;
    Operator(&o);
    const bool any = !has_is_null || rng_.Percent(65);
    if (any) o.Add("any_", std::move(ids));
    if (has_is_null && (!any || rng_.Percent(20))) o.Add("is_null_", Bool(rng_.Percent(50)));
    return o.Text();
  }

  // TaskRunFilterFlowRunId (paginate.md 4.4.9): is_null_ defaults to false.
  std::string FlowRunIdRef() {
    Obj o;
    Operator(&o);
    const uint64_t r = rng_.Uniform(100);
    if (r < 50) {
      std::vector<std::string> v;
      const uint64_t n = ListLength();
      for (uint64_t i = 0; i < n; ++i) {
        // The flow run of a random task run (it has task runs), else any.
        const uint32_t tr = s_.task_runs.size();
        const RowId fr = tr == 0 ? kNoRow : s_.task_runs.flow_run_row[Row(tr)];
        if (fr != kNoRow && rng_.Percent(85)) {
          v.push_back(JsonQuote(UuidToString(s_.flow_runs.id[fr])));
        } else if (s_.flow_runs.size() > 0 && rng_.Percent(80)) {
          v.push_back(JsonQuote(UuidToString(s_.flow_runs.id[Row(s_.flow_runs.size())])));
        } else {
          v.push_back(UnknownId());
        }
      }
      o.Add("any_", Array(v));
      if (rng_.Percent(20)) o.Add("is_null_", "null");
    } else if (r < 70) {
      o.Add("is_null_", "false");
    } else if (r < 85) {
      o.Add("is_null_", "true");
    } else if (r < 92) {
      o.Add("is_null_", "null");
    }  // else {}: flow_run_id IS NOT NULL
    return o.Text();
  }

  // Flow runs that have subflows: the flow run of a subflow's parent task.
  std::string ParentFlowRunIds() {
    std::vector<std::string> v;
    const uint64_t n = ListLength();
    for (uint64_t i = 0; i < n; ++i) {
      std::string id = UnknownId();
      for (int tries = 0; tries < 16 && s_.flow_runs.size() > 0; ++tries) {
        const RowId parent = s_.flow_runs.parent_task_run_row[Row(s_.flow_runs.size())];
        if (parent == kNoRow) continue;
        const RowId fr = s_.task_runs.flow_run_row[parent];
        if (fr != kNoRow) id = JsonQuote(UuidToString(s_.flow_runs.id[fr]));
        break;
      }
      if (rng_.Percent(20) && s_.flow_runs.size() > 0) {
        id = JsonQuote(UuidToString(s_.flow_runs.id[Row(s_.flow_runs.size())]));
      }
      v.push_back(std::move(id));
    }
    return Array(v);
  }

  // Task runs that have subflows, or any task run.
  std::string ParentTaskRunIds() {
    std::vector<std::string> v;
    const uint64_t n = ListLength();
    for (uint64_t i = 0; i < n; ++i) {
      std::string id = UnknownId();
      for (int tries = 0; tries < 16 && s_.flow_runs.size() > 0; ++tries) {
        const auto& parent = s_.flow_runs.parent_task_run_id[Row(s_.flow_runs.size())];
        if (!parent) continue;
        id = JsonQuote(UuidToString(*parent));
        break;
      }
      if (rng_.Percent(20) && s_.task_runs.size() > 0) {
        id = JsonQuote(UuidToString(s_.task_runs.id[Row(s_.task_runs.size())]));
      }
      v.push_back(std::move(id));
    }
    return Array(v);
  }

  // A name as rows carry it (frequent names more often) or any distinct one.
  std::string PickName(const Dictionary& dict, std::span<const uint32_t> by_row) {
    if (!by_row.empty() && rng_.Percent(70)) {
      const uint32_t code = by_row[Row(static_cast<uint32_t>(by_row.size()))];
      if (code != kNullCode) return std::string(dict.Get(code));
    }
    if (dict.size() == 0) return "x";
    return std::string(dict.Get(static_cast<uint32_t>(rng_.Uniform(dict.size()))));
  }

  // A piece of 1..6 characters of `name`, case-flipped a third of the time,
  // a `_` wildcard now and then.
  std::string Fragment(const std::string& name) {
    std::vector<size_t> starts;  // code-point starts
    for (size_t i = 0; i < name.size(); ++i) {
      if (!IsContinuation(name[i])) starts.push_back(i);
    }
    if (starts.empty()) return rng_.Percent(50) ? "a" : "_";
    const uint64_t r = rng_.Uniform(100);
    const size_t want = r < 20 ? 1 : r < 40 ? 2 : r < 60 ? 3 : 4 + rng_.Uniform(3);
    const size_t len = std::min(want, starts.size());
    const size_t first = rng_.Uniform(starts.size() - len + 1);
    const size_t begin = starts[first];
    const size_t end = first + len < starts.size() ? starts[first + len] : name.size();
    std::string s = name.substr(begin, end - begin);
    if (rng_.Percent(35)) s = FlipCase(rng_, s);
    if (rng_.Percent(8)) {
      const size_t at = rng_.Uniform(s.size());
      if (static_cast<unsigned char>(s[at]) < 0x80) s[at] = '_';
    }
    return s;
  }

  std::string Name(const Dictionary& dict, std::span<const uint32_t> by_row) {
    Obj o;
    const uint64_t r = rng_.Uniform(100);
    if (r < 35 || r >= 90) {
      std::vector<std::string> v;
      const uint64_t n = ListLength();
      for (uint64_t i = 0; i < n; ++i) {
        std::string name = PickName(dict, by_row);
        if (rng_.Percent(8)) name = FlipCase(rng_, name);  // must not match
        v.push_back(JsonQuote(name));
      }
      o.Add("any_", Array(v));
    }
    if (r >= 35) o.Add("like_", JsonQuote(Fragment(PickName(dict, by_row))));
    return o.Text();
  }

  // A tag some row of this entity carries, else any tag.
  std::string Tag(const CodeLists& lists) {
    const uint32_t rows = static_cast<uint32_t>(lists.offsets.size() - 1);
    for (int tries = 0; tries < 8 && rows > 0 && rng_.Percent(80); ++tries) {
      const auto codes = lists.Of(Row(rows));
      if (!codes.empty()) return JsonQuote(s_.tags.Get(codes[rng_.Uniform(codes.size())]));
    }
    if (s_.tags.size() == 0) return JsonQuote("prod");
    return JsonQuote(s_.tags.Get(static_cast<uint32_t>(rng_.Uniform(s_.tags.size()))));
  }

  std::string Tags(const CodeLists& lists, bool has_any) {
    Obj o;
    Operator(&o);
    auto list = [&](uint64_t n) {
      std::vector<std::string> v;
      for (uint64_t i = 0; i < n; ++i) v.push_back(Tag(lists));
      return Array(v);
    };
    const uint64_t r = rng_.Uniform(100);
    if (r >= 80) {
      o.Add("is_null_", Bool(rng_.Percent(50)));
    } else if (r < 45 || !has_any) {
      o.Add("all_", list(rng_.Percent(70) ? 1 : 2));
      if (rng_.Percent(20)) o.Add("is_null_", Bool(rng_.Percent(30)));
    } else {
      o.Add("any_", list(1 + rng_.Uniform(3)));
    }
    return o.Text();
  }

  std::string StateTypes() {
    std::vector<std::string> v;
    const uint64_t n = 1 + rng_.Uniform(3);
    for (uint64_t i = 0; i < n; ++i) {
      v.push_back(JsonQuote(StateTypeName(static_cast<StateType>(rng_.Uniform(kNumStateTypes)))));
    }
    return Array(v);
  }

  std::string StateNames(bool flow_run) {
    std::vector<std::string> v;
    const uint64_t n = 1 + rng_.Uniform(2);
    for (uint64_t i = 0; i < n; ++i) {
      const std::span<const uint32_t> col =
          flow_run ? std::span<const uint32_t>(s_.flow_runs.state_name) : s_.task_runs.state_name.span();
      v.push_back(JsonQuote(PickName(s_.state_names, col)));
    }
    return Array(v);
  }

  std::string State(bool flow_run) {
    Obj o;
    Operator(&o);
    const uint64_t r = rng_.Uniform(100);
    if (r < 75) {
      Obj t;
      const bool any = !flow_run || rng_.Percent(70);
      if (any) t.Add("any_", StateTypes());
      if (flow_run && (!any || rng_.Percent(15))) t.Add("not_any_", StateTypes());
      o.Add("type", t.Text());
    }
    if (r >= 50) {
      Obj n;
      const bool any = !flow_run || rng_.Percent(70);
      if (any) n.Add("any_", StateNames(flow_run));
      if (flow_run && (!any || rng_.Percent(15))) n.Add("not_any_", StateNames(flow_run));
      o.Add("name", n.Text());
    }
    return o.Text();
  }

  std::string WorkQueue(bool has_operator, bool has_is_null) {
    Obj o;
    if (has_operator) Operator(&o);
    const bool any = !has_is_null || rng_.Percent(70);
    if (any) {
      std::vector<std::string> v;
      const uint64_t n = 1 + rng_.Uniform(2);
      for (uint64_t i = 0; i < n; ++i) {
        v.push_back(JsonQuote(PickName(s_.work_queue_names, s_.flow_runs.work_queue_name)));
      }
      o.Add("any_", Array(v));
    }
    if (has_is_null && (!any || rng_.Percent(15))) o.Add("is_null_", Bool(rng_.Percent(40)));
    return o.Text();
  }

  // Non-null values of a flow-run blob column (1..2), or `fallback`.
  std::string BlobValues(const BlobColumn& col, std::string_view fallback) {
    std::vector<std::string> v;
    const uint64_t n = 1 + rng_.Uniform(2);
    for (uint64_t i = 0; i < n; ++i) {
      std::string value(fallback);
      for (int tries = 0; tries < 8 && col.size() > 0; ++tries) {
        const RowId row = Row(static_cast<uint32_t>(col.size()));
        if (col.IsNull(row)) continue;
        value = std::string(col.Get(row));
        break;
      }
      v.push_back(JsonQuote(value));
    }
    return Array(v);
  }

  std::string CreatedBy() {
    Obj o;
    Operator(&o);
    const FlowRunTable& r = s_.flow_runs;
    const uint64_t pick = rng_.Uniform(100);
    if (pick < 40) {
      std::vector<std::string> v;
      for (int tries = 0; tries < 16 && r.size() > 0 && v.empty(); ++tries) {
        const RowId row = Row(r.size());
        if (r.created_by_id.IsNull(row)) continue;
        if (auto id = ParseUuid(r.created_by_id.Get(row)))
          v.push_back(JsonQuote(UuidToString(*id)));
      }
      if (v.empty() || rng_.Percent(15)) v.push_back(UnknownId());
      o.Add("id_", Array(v));
    } else if (pick < 80) {
      o.Add("type_", BlobValues(r.created_by_type, "DEPLOYMENT"));
    }
    if (pick >= 80 || rng_.Percent(10)) o.Add("is_null_", Bool(rng_.Percent(50)));
    return o.Text();
  }

  // A time of a row of this column (when not null), else one inside the
  // data's range.
  Micros TimeValue(std::span<const Micros> col) {
    if (!col.empty() && rng_.Percent(50)) {
      const Micros t = col[Row(static_cast<uint32_t>(col.size()))];
      if (t != kNullMicros) return t;
    }
    return rng_.Between(min_time_, std::max(min_time_, max_time_));
  }

  // before_/after_ (a point bound or a window of a minute .. a week or a
  // tenth of the range), or is_null_ where the class has it.
  std::string Time(std::span<const Micros> col, bool has_is_null) {
    Obj o;
    const uint64_t r = rng_.Uniform(100);
    const Micros t = TimeValue(col);
    if (has_is_null && r >= 88) {
      o.Add("is_null_", Bool(rng_.Percent(40)));
      return o.Text();
    }
    if (r < 35) {
      o.Add("after_", JsonQuote(FormatDatetime(t)));
    } else if (r < 60) {
      o.Add("before_", JsonQuote(FormatDatetime(t)));
    } else {
      static constexpr Micros kWindows[] = {kMinute, 60 * kMinute, 24 * 60 * kMinute,
                                            7 * 24 * 60 * kMinute};
      Micros w = kWindows[rng_.Uniform(std::size(kWindows))];
      if (rng_.Percent(20)) w = std::max<Micros>(kMinute, (max_time_ - min_time_) / 10);
      o.Add("after_", JsonQuote(FormatDatetime(t - w / 2)));
      o.Add("before_", JsonQuote(FormatDatetime(t + w / 2)));
    }
    if (has_is_null && rng_.Percent(8)) o.Add("is_null_", "false");
    return o.Text();
  }

  const Store& s_;
  Rng& rng_;
  Micros min_time_;
  Micros max_time_;
};

void Widen(std::span<const Micros> col, Micros* lo, Micros* hi) {
  for (Micros t : col) {
    if (t == kNullMicros) continue;
    *lo = std::min(*lo, t);
    *hi = std::max(*hi, t);
  }
}

}  // namespace

RandomBodies::RandomBodies(const Store& store) : store_(store) {
  Micros lo = INT64_MAX, hi = INT64_MIN;
  for (std::span<const Micros> col :
       {store.task_runs.expected_start_time.span(), store.task_runs.start_time.span(),
        store.task_runs.end_time.span(), std::span<const Micros>(store.flow_runs.expected_start_time),
        std::span<const Micros>(store.flow_runs.start_time),
        std::span<const Micros>(store.flow_runs.end_time)}) {
    Widen(col, &lo, &hi);
  }
  if (lo > hi) {  // no times at all: a fixed day
    lo = Micros{1714557600} * 1'000'000;
    hi = lo + 24 * 60 * kMinute;
  }
  min_time_ = lo;
  max_time_ = hi;
}

std::vector<BenchBody> RandomBodies::Generate(uint64_t seed, int n) const {
  Rng rng(seed * 0x9e3779b97f4a7c15ULL + 0x7261'6e64'6f6dULL);
  BodyGen gen(store_, rng, min_time_, max_time_);
  std::vector<BenchBody> out;
  out.reserve(static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) out.push_back({absl::StrCat("random", i), gen.Body()});
  return out;
}

}  // namespace taskdex
