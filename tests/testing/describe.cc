// tests/testing/describe.cc

#include "tests/testing/describe.h"

#include <cstdio>
#include <string>
#include <vector>

#include "tests/testing/reference_evaluator.h"

namespace taskdex {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string StateTypeText(StateType t) {
  static const char* const kNames[kNumStateTypes] = {
      "SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED",
      "CANCELLED", "CRASHED", "PAUSED",  "CANCELLING"};
  return kNames[static_cast<int>(t)];
}

std::string SortText(TaskRunSort s) {
  static const char* const kNames[kNumTaskRunSorts] = {
      "ID_DESC",   "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC",
      "NAME_ASC",  "NAME_DESC",               "NEXT_SCHEDULED_START_TIME_ASC",
      "END_TIME_DESC"};
  return kNames[static_cast<int>(s)];
}

// A JSON object written key by key.
class Obj {
 public:
  Obj& Raw(const char* key, const std::string& json) {
    if (!body_.empty()) body_.push_back(',');
    body_ += Quote(key) + ":" + json;
    return *this;
  }
  Obj& Str(const char* key, const std::string& s) { return Raw(key, Quote(s)); }
  Obj& Bool(const char* key, bool b) { return Raw(key, b ? "true" : "false"); }
  Obj& OptBool(const char* key, const std::optional<bool>& b) {
    if (b.has_value()) Bool(key, *b);
    return *this;
  }
  Obj& OptStr(const char* key, const std::optional<std::string>& s) {
    if (s.has_value()) Str(key, *s);
    return *this;
  }
  Obj& OptTime(const char* key, const std::optional<Micros>& t) {
    if (t.has_value()) Str(key, DescribeMicros(*t));
    return *this;
  }
  Obj& Strings(const char* key, const List<std::string>& v) {
    if (v.has_value()) Raw(key, StringArray(*v));
    return *this;
  }
  Obj& Uuids(const char* key, const List<Uuid>& v) {
    if (!v.has_value()) return *this;
    std::string a = "[";
    for (size_t i = 0; i < v->size(); ++i) {
      if (i > 0) a.push_back(',');
      a += Quote(RefUuidText((*v)[i]));
    }
    return Raw(key, a + "]");
  }
  Obj& States(const char* key, const List<StateType>& v) {
    if (!v.has_value()) return *this;
    std::string a = "[";
    for (size_t i = 0; i < v->size(); ++i) {
      if (i > 0) a.push_back(',');
      a += Quote(StateTypeText((*v)[i]));
    }
    return Raw(key, a + "]");
  }
  Obj& Op(BoolOp op) {
    if (op == BoolOp::kOr) Str("operator", "or_");
    return *this;
  }
  std::string Json() const { return "{" + body_ + "}"; }

  static std::string StringArray(const std::vector<std::string>& v) {
    std::string a = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) a.push_back(',');
      a += Quote(v[i]);
    }
    return a + "]";
  }

 private:
  std::string body_;
};

template <typename T, typename F>
void Sub(Obj& o, const char* key, const std::optional<T>& f, F describe) {
  if (f.has_value()) o.Raw(key, describe(*f));
}

std::string Id(const IdFilter& f) { return Obj().Uuids("any_", f.any).Uuids("not_any_", f.not_any).Json(); }
std::string Name(const NameFilter& f) {
  return Obj().Strings("any_", f.any).OptStr("like_", f.like).Json();
}
std::string Tags(const TagsFilter& f) {
  return Obj().Op(f.op).Strings("all_", f.all).Strings("any_", f.any).OptBool("is_null_", f.is_null).Json();
}
std::string Time(const TimeFilter& f) {
  return Obj().OptTime("before_", f.before).OptTime("after_", f.after).OptBool("is_null_", f.is_null).Json();
}
std::string Strings(const StringsFilter& f) {
  return Obj()
      .Op(f.op)
      .Strings("any_", f.any)
      .Strings("not_any_", f.not_any)
      .OptBool("is_null_", f.is_null)
      .Json();
}
std::string State(const StateFilter& f) {
  Obj o;
  o.Op(f.op);
  Sub(o, "type", f.type, [](const StateTypesFilter& t) {
    return Obj().States("any_", t.any).States("not_any_", t.not_any).Json();
  });
  Sub(o, "name", f.name, Strings);
  return o.Json();
}
std::string Ref(const UuidRefFilter& f) {
  return Obj().Op(f.op).Uuids("any_", f.any).OptBool("is_null_", f.is_null).Json();
}

std::string TaskRuns(const TaskRunFilter& f) {
  Obj o;
  o.Op(f.op);
  Sub(o, "id", f.id, Id);
  Sub(o, "name", f.name, Name);
  Sub(o, "tags", f.tags, Tags);
  Sub(o, "state", f.state, State);
  Sub(o, "start_time", f.start_time, Time);
  Sub(o, "end_time", f.end_time, Time);
  Sub(o, "expected_start_time", f.expected_start_time, Time);
  Sub(o, "subflow_runs", f.subflow_runs,
      [](const SubflowRunsFilter& s) { return Obj().OptBool("exists_", s.exists).Json(); });
  Sub(o, "flow_run_id", f.flow_run_id, [](const UuidRefFilter& r) {
    Obj x;
    x.Op(r.op).Uuids("any_", r.any);
    if (r.is_null.has_value()) {
      x.Bool("is_null_", *r.is_null);
    } else {
      x.Raw("is_null_", "null");
    }
    return x.Json();
  });
  return o.Json();
}

std::string FlowRuns(const FlowRunFilter& f) {
  Obj o;
  o.Op(f.op);
  Sub(o, "id", f.id, Id);
  Sub(o, "name", f.name, Name);
  Sub(o, "tags", f.tags, Tags);
  Sub(o, "deployment_id", f.deployment_id, Ref);
  Sub(o, "work_queue_name", f.work_queue_name, Strings);
  Sub(o, "flow_version", f.flow_version, Strings);
  Sub(o, "state", f.state, State);
  Sub(o, "start_time", f.start_time, Time);
  Sub(o, "end_time", f.end_time, Time);
  Sub(o, "expected_start_time", f.expected_start_time, Time);
  Sub(o, "next_scheduled_start_time", f.next_scheduled_start_time, Time);
  Sub(o, "parent_flow_run_id", f.parent_flow_run_id, Ref);
  Sub(o, "parent_task_run_id", f.parent_task_run_id, Ref);
  Sub(o, "idempotency_key", f.idempotency_key, Strings);
  Sub(o, "created_by", f.created_by, [](const CreatedByFilter& c) {
    return Obj().Op(c.op).Uuids("id_", c.id).Strings("type_", c.type).OptBool("is_null_", c.is_null).Json();
  });
  return o.Json();
}

std::string Flows(const FlowFilter& f) {
  Obj o;
  o.Op(f.op);
  Sub(o, "id", f.id, Id);
  Sub(o, "deployment", f.deployment, [](const FlowDeploymentFilter& d) {
    return Obj().Op(d.op).OptBool("is_null_", d.is_null).Json();
  });
  Sub(o, "name", f.name, Name);
  Sub(o, "tags", f.tags, Tags);
  return o.Json();
}

std::string Deployments(const DeploymentFilter& f) {
  Obj o;
  o.Op(f.op);
  Sub(o, "id", f.id, Id);
  Sub(o, "name", f.name, Name);
  Sub(o, "flow_or_deployment_name", f.flow_or_deployment_name, Name);
  Sub(o, "paused", f.paused,
      [](const PausedFilter& p) { return Obj().OptBool("eq_", p.eq).Json(); });
  Sub(o, "tags", f.tags, Tags);
  Sub(o, "work_queue_name", f.work_queue_name, Strings);
  if (f.has_concurrency_limit) o.Raw("concurrency_limit", "{}");
  return o.Json();
}

Obj FilterObj(const FilterSet& fs) {
  Obj o;
  Sub(o, "flows", fs.flows, Flows);
  Sub(o, "flow_runs", fs.flow_runs, FlowRuns);
  Sub(o, "task_runs", fs.task_runs, TaskRuns);
  Sub(o, "deployments", fs.deployments, Deployments);
  return o;
}

std::string OptUuid(const std::optional<Uuid>& u) {
  return u.has_value() ? Quote(RefUuidText(*u)) : "null";
}
std::string OptStrOrNull(const std::optional<std::string>& s) {
  return s.has_value() ? Quote(*s) : "null";
}
std::string OptTimeOrNull(const std::optional<Micros>& t) {
  return t.has_value() ? Quote(DescribeMicros(*t)) : "null";
}
std::string OptStateOrNull(const std::optional<StateType>& t) {
  return t.has_value() ? Quote(StateTypeText(*t)) : "null";
}

// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

}  // namespace

std::string DescribeMicros(Micros t) {
  constexpr int64_t kDay = int64_t{86400} * 1'000'000;
  int64_t days = t / kDay;
  int64_t rest = t % kDay;
  if (rest < 0) {
    rest += kDay;
    days -= 1;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  const int64_t secs = rest / 1'000'000;
  const int64_t micros = rest % 1'000'000;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  std::string out = buf;
  if (micros != 0) {
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(micros));
    out += buf;
  }
  return out + "Z";
}

std::string DescribeFilterSet(const FilterSet& filters) { return FilterObj(filters).Json(); }

std::string DescribeQuery(const PaginateQuery& query) {
  Obj o = FilterObj(query.filters);
  o.Str("sort", SortText(query.sort));
  o.Raw("limit", std::to_string(query.limit));
  o.Raw("offset", std::to_string(query.offset));
  return o.Json();
}

Uuid UuidFromText(std::string_view text) {
  Uuid u;
  if (text.size() != 36) return Uuid{};
  int nibble = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return Uuid{};
      continue;
    }
    int v = 0;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return Uuid{};
    }
    u.bytes[nibble / 2] = static_cast<uint8_t>(u.bytes[nibble / 2] | (nibble % 2 == 0 ? v << 4 : v));
    ++nibble;
  }
  return u;
}

std::string DescribeIds(const std::vector<Uuid>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    out += RefUuidText(ids[i]);
  }
  return out;
}

std::string DescribeRecords(const SnapshotRecords& records) {
  std::string out = "flows.ndjson:\n";
  for (const FlowRecord& f : records.flows) {
    out += Obj()
               .Str("id", RefUuidText(f.id))
               .Str("name", f.name)
               .Raw("tags", Obj::StringArray(f.tags))
               .Json() +
           "\n";
  }
  out += "deployments.ndjson:\n";
  for (const DeploymentRecord& d : records.deployments) {
    out += Obj()
               .Str("id", RefUuidText(d.id))
               .Str("name", d.name)
               .Str("flow_id", RefUuidText(d.flow_id))
               .Bool("paused", d.paused)
               .Raw("tags", Obj::StringArray(d.tags))
               .Raw("work_queue_name", OptStrOrNull(d.work_queue_name))
               .Json() +
           "\n";
  }
  out += "flow_runs.ndjson:\n";
  for (const FlowRunRecord& r : records.flow_runs) {
    Obj o;
    o.Str("id", RefUuidText(r.id))
        .Str("name", r.name)
        .Str("flow_id", RefUuidText(r.flow_id))
        .Raw("deployment_id", OptUuid(r.deployment_id))
        .Raw("work_queue_name", OptStrOrNull(r.work_queue_name))
        .Raw("flow_version", OptStrOrNull(r.flow_version))
        .Raw("idempotency_key", OptStrOrNull(r.idempotency_key))
        .Raw("tags", Obj::StringArray(r.tags));
    if (r.has_created_by) {
      Obj c;
      c.OptStr("id", r.created_by_id).OptStr("type", r.created_by_type);
      o.Raw("created_by", c.Json());
    } else {
      o.Raw("created_by", "null");
    }
    o.Raw("state_type", OptStateOrNull(r.state_type))
        .Raw("state_name", OptStrOrNull(r.state_name))
        .Raw("expected_start_time", OptTimeOrNull(r.expected_start_time))
        .Raw("next_scheduled_start_time", OptTimeOrNull(r.next_scheduled_start_time))
        .Raw("start_time", OptTimeOrNull(r.start_time))
        .Raw("end_time", OptTimeOrNull(r.end_time))
        .Raw("parent_task_run_id", OptUuid(r.parent_task_run_id));
    out += o.Json() + "\n";
  }
  out += "task_runs.ndjson:\n";
  for (const TaskRunRecord& t : records.task_runs) {
    out += Obj()
               .Str("id", RefUuidText(t.id))
               .Str("name", t.name)
               .Raw("flow_run_id", OptUuid(t.flow_run_id))
               .Str("task_key", t.task_key)
               .Str("dynamic_key", t.dynamic_key)
               .Raw("tags", Obj::StringArray(t.tags))
               .Raw("state_type", OptStateOrNull(t.state_type))
               .Raw("state_name", OptStrOrNull(t.state_name))
               .Raw("expected_start_time", OptTimeOrNull(t.expected_start_time))
               .Raw("next_scheduled_start_time", OptTimeOrNull(t.next_scheduled_start_time))
               .Raw("start_time", OptTimeOrNull(t.start_time))
               .Raw("end_time", OptTimeOrNull(t.end_time))
               .Json() +
           "\n";
  }
  return out;
}

}  // namespace taskdex
