// tests/engine/store_rows_test.cc
//
// Round trips of engine/store_rows.h: every row of a Store read back as a
// record and fed to a fresh StoreBuilder gives a Store whose rows answer
// identically (task-run JSON of both response shapes byte for byte, every
// column of the other tables), and the records read equal the records that
// were added (the last one for a repeated id). Data: the examples, the
// examples snapshot, data/sample (as loaded, and with lines edited to hold
// null scheduled times, null labels and extra keys), and random data sets
// filled out with every task-run field the generators leave at defaults.

#include "engine/store_rows.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/response_writer.h"
#include "engine/datetime.h"
#include "engine/snapshot_loader.h"
#include "engine/store.h"
#include "engine/text_format.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"
#include "tests/testing/describe.h"
#include "tests/testing/examples_data.h"
#include "tests/testing/random_data.h"
#include "tests/testing/random_scale_data.h"

namespace taskdex {
namespace {

// --- Dumps: every field as text, so EXPECT_EQ shows which one differs -------

std::string D(const Uuid& u) { return UuidToString(u); }
std::string D(const std::optional<Uuid>& u) { return u ? D(*u) : "<null>"; }
std::string D(Micros t) { return t == kNullMicros ? "<null>" : absl::StrCat(t); }
std::string D(const std::optional<Micros>& t) { return t ? absl::StrCat(*t) : "<null>"; }
std::string D(const std::optional<std::string>& s) {
  return s ? absl::StrCat("'", *s, "'") : "<null>";
}
std::string D(const std::optional<StateType>& s) {
  return s ? std::string(StateTypeName(*s)) : "<null>";
}
std::string D(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, "|"), "]");
}

std::string Dump(const TaskRunRecord& r) {
  return absl::StrCat(
      "id=", D(r.id), "\ncreated=", D(r.created), "\nupdated=", D(r.updated), "\nname=", r.name,
      "\nflow_run_id=", D(r.flow_run_id), "\ntask_key=", r.task_key,
      "\ndynamic_key=", r.dynamic_key, "\ncache_key=", D(r.cache_key),
      "\ncache_expiration=", D(r.cache_expiration), "\ntask_version=", D(r.task_version),
      "\nempirical_policy=", r.empirical_policy_json, "\ntags=", D(r.tags),
      "\nlabels=", r.labels_json, "\nstate_id=", D(r.state_id),
      "\ntask_inputs=", r.task_inputs_json, "\nstate_type=", D(r.state_type),
      "\nstate_name=", D(r.state_name), "\nrun_count=", r.run_count,
      "\nflow_run_run_count=", r.flow_run_run_count,
      "\nexpected_start_time=", D(r.expected_start_time),
      "\nnext_scheduled_start_time=", D(r.next_scheduled_start_time),
      "\nstart_time=", D(r.start_time), "\nend_time=", D(r.end_time),
      "\ntotal_run_time_us=", r.total_run_time_us, "\nstate=", r.state_json,
      "\nstate_timestamp=", D(r.state_timestamp),
      "\nnull_offset=", r.state_scheduled_time_null_offset, "\nparameters=", r.parameters_json,
      "\ncontext=", r.context_json, "\nextras=", r.extras_json, "\n");
}

std::string Dump(const FlowRunRecord& r) {
  return absl::StrCat(
      "id=", D(r.id), "\nflow_id=", D(r.flow_id), "\nname=", r.name,
      "\ndeployment_id=", D(r.deployment_id), "\nwork_queue_name=", D(r.work_queue_name),
      "\nflow_version=", D(r.flow_version), "\nidempotency_key=", D(r.idempotency_key),
      "\ntags=", D(r.tags), "\nhas_created_by=", r.has_created_by,
      "\ncreated_by_id=", D(r.created_by_id), "\ncreated_by_type=", D(r.created_by_type),
      "\nstate_type=", D(r.state_type), "\nstate_name=", D(r.state_name),
      "\nexpected_start_time=", D(r.expected_start_time),
      "\nnext_scheduled_start_time=", D(r.next_scheduled_start_time),
      "\nstart_time=", D(r.start_time), "\nend_time=", D(r.end_time),
      "\nparent_task_run_id=", D(r.parent_task_run_id), "\n");
}

std::string Dump(const FlowRecord& r) {
  return absl::StrCat("id=", D(r.id), "\nname=", r.name, "\ntags=", D(r.tags), "\n");
}

std::string Dump(const DeploymentRecord& r) {
  return absl::StrCat("id=", D(r.id), "\nname=", r.name, "\nflow_id=", D(r.flow_id),
                      "\npaused=", r.paused, "\ntags=", D(r.tags),
                      "\nwork_queue_name=", D(r.work_queue_name), "\n");
}

std::string S(std::string_view s) { return std::string(s); }

// Columns, read directly (not through store_rows), so a field the reader
// drops shows up as a difference with the rebuilt store.
std::optional<std::string> Code(const Dictionary& d, uint32_t c) {
  return c == kNullCode ? std::nullopt : std::optional<std::string>(d.Get(c));
}
std::optional<std::string> Blob(const BlobColumn& b, RowId r) {
  return b.IsNull(r) ? std::nullopt : std::optional<std::string>(b.Get(r));
}
std::string RowOf(RowId r) { return r == kNoRow ? "<none>" : absl::StrCat(r); }
std::vector<std::string> TagStrings(const Store& s, const CodeLists& c, RowId r) {
  std::vector<std::string> out;
  for (uint32_t code : c.Of(r)) out.emplace_back(s.tags.Get(code));
  return out;
}
std::string StateByte(uint8_t t) {
  return t == kNullStateType ? "<null>" : std::string(StateTypeName(static_cast<StateType>(t)));
}

std::string TaskRunColumns(const Store& s, RowId r) {
  const TaskRunTable& t = s.task_runs;
  return absl::StrCat(
      "id=", D(t.id[r]), "\ncreated=", D(t.created[r]), "\nupdated=", D(t.updated[r]),
      "\nname=", S(s.task_run_names.Get(t.name[r])), "\nflow_run_id=", D(t.flow_run_id[r]),
      "\nflow_run_row=", RowOf(t.flow_run_row[r]), "\ntask_key=", S(s.task_keys.Get(t.task_key[r])),
      "\ndynamic_key=", D(Blob(t.dynamic_key, r)), "\ncache_key=", D(Blob(t.cache_key, r)),
      "\ncache_expiration=", D(t.cache_expiration[r]),
      "\ntask_version=", RenderTaskRunText(s, t.task_version, r, 7),
      "\nempirical_policy=", RenderTaskRunText(s, t.empirical_policy, r, 7),
      "\ntags=", D(TagStrings(s, t.tags, r)), "\nlabels=", RenderTaskRunText(s, t.labels, r, 7),
      "\nstate_id=", D(t.state_id[r]), "\ntask_inputs=", D(Blob(t.task_inputs_json, r)),
      "\nstate_type=", StateByte(t.state_type[r]),
      "\nstate_name=", D(Code(s.state_names, t.state_name[r])), "\nrun_count=", t.run_count[r],
      "\nflow_run_run_count=", t.flow_run_run_count[r],
      "\nexpected_start_time=", D(t.expected_start_time[r]),
      "\nnext_scheduled_start_time=", D(t.next_scheduled_start_time[r]),
      "\nstart_time=", D(t.start_time[r]), "\nend_time=", D(t.end_time[r]),
      "\ntotal_run_time_us=", t.total_run_time_us[r],
      "\nstate=", RenderTaskRunText(s, t.state, r, 7),
      "\nstate_timestamp=", D(t.state_timestamp[r]), "\nparameters=", D(Blob(t.parameters_json, r)),
      "\ncontext=", D(Blob(t.context_json, r)), "\nextras=", D(Blob(t.extras_json, r)), "\n");
}

std::string FlowRunColumns(const Store& s, RowId r) {
  const FlowRunTable& t = s.flow_runs;
  return absl::StrCat(
      "id=", D(t.id[r]), "\nflow_id=", D(t.flow_id[r]), "\nflow_row=", RowOf(t.flow_row[r]),
      "\nname=", S(s.flow_run_names.Get(t.name[r])), "\ndeployment_id=", D(t.deployment_id[r]),
      "\ndeployment_row=", RowOf(t.deployment_row[r]),
      "\nwork_queue_name=", D(Code(s.work_queue_names, t.work_queue_name[r])),
      "\nflow_version=", D(Blob(t.flow_version, r)),
      "\nidempotency_key=", D(Blob(t.idempotency_key, r)), "\ntags=", D(TagStrings(s, t.tags, r)),
      "\nhas_created_by=", int{t.has_created_by[r]},
      "\ncreated_by_id=", D(Blob(t.created_by_id, r)),
      "\ncreated_by_type=", D(Blob(t.created_by_type, r)),
      "\nstate_type=", StateByte(t.state_type[r]),
      "\nstate_name=", D(Code(s.state_names, t.state_name[r])),
      "\nexpected_start_time=", D(t.expected_start_time[r]),
      "\nnext_scheduled_start_time=", D(t.next_scheduled_start_time[r]),
      "\nstart_time=", D(t.start_time[r]), "\nend_time=", D(t.end_time[r]),
      "\nparent_task_run_id=", D(t.parent_task_run_id[r]),
      "\nparent_task_run_row=", RowOf(t.parent_task_run_row[r]), "\n");
}

std::string FlowColumns(const Store& s, RowId r) {
  return absl::StrCat("id=", D(s.flows.id[r]), "\nname=", S(s.flow_names.Get(s.flows.name[r])),
                      "\ntags=", D(TagStrings(s, s.flows.tags, r)),
                      "\nhas_deployment=", int{s.flow_has_deployment[r]}, "\n");
}

std::string DeploymentColumns(const Store& s, RowId r) {
  const DeploymentTable& t = s.deployments;
  return absl::StrCat("id=", D(t.id[r]), "\nname=", S(s.deployment_names.Get(t.name[r])),
                      "\nflow_id=", D(t.flow_id[r]), "\nflow_row=", RowOf(t.flow_row[r]),
                      "\npaused=", int{t.paused[r]}, "\ntags=", D(TagStrings(s, t.tags, r)),
                      "\nwork_queue_name=", D(Code(s.work_queue_names, t.work_queue_name[r])),
                      "\n");
}

std::vector<uint32_t> Rows(const Bitmap& b) {
  std::vector<uint32_t> v;
  for (uint32_t x : b) v.push_back(x);
  return v;
}

// --- Round trip ---------------------------------------------------------------

std::unique_ptr<Store> Rebuild(const Store& s) {
  StoreBuilder b;
  for (RowId r = 0; r < s.flows.size(); ++r) b.AddFlow(ReadFlowRecord(s, r));
  for (RowId r = 0; r < s.deployments.size(); ++r) b.AddDeployment(ReadDeploymentRecord(s, r));
  for (RowId r = 0; r < s.flow_runs.size(); ++r) b.AddFlowRun(ReadFlowRunRecord(s, r));
  for (RowId r = 0; r < s.task_runs.size(); ++r) b.AddTaskRun(ReadTaskRunRecord(s, r));
  return b.Build();
}

std::string TaskRunJson(const Store& s, RowId r, Micros now) {
  std::string out;
  AppendTaskRunFull(s, r, now, &out);
  out.push_back('\n');
  AppendTaskRunResponse(s, r, now, &out);
  return out;
}

// Rebuilds `a` from its records and compares every row. Returns the number
// of failed rows (0 when identical), so a caller can also EXPECT it.
int ExpectRoundTrip(const Store& a) {
  std::unique_ptr<Store> b = Rebuild(a);
  int failures = 0;
  EXPECT_EQ(a.task_runs.size(), b->task_runs.size());
  EXPECT_EQ(a.flow_runs.size(), b->flow_runs.size());
  EXPECT_EQ(a.flows.size(), b->flows.size());
  EXPECT_EQ(a.deployments.size(), b->deployments.size());
  if (a.task_runs.size() != b->task_runs.size() || a.flow_runs.size() != b->flow_runs.size() ||
      a.flows.size() != b->flows.size() || a.deployments.size() != b->deployments.size()) {
    return 1;
  }
  // `now` values: one far from every datetime of the data, one in it.
  const Micros nows[] = {1893456000000000 + 123456, 1714557600000000};
  for (RowId r = 0; r < a.task_runs.size() && failures < 5; ++r) {
    bool ok = true;
    for (Micros now : nows) {
      const std::string want = TaskRunJson(a, r, now);
      const std::string got = TaskRunJson(*b, r, now);
      EXPECT_EQ(want, got) << "task run row " << r << " now " << now;
      ok = ok && want == got;
    }
    const std::string want = TaskRunColumns(a, r);
    EXPECT_EQ(want, TaskRunColumns(*b, r)) << "task run row " << r;
    EXPECT_EQ(Dump(ReadTaskRunRecord(a, r)), Dump(ReadTaskRunRecord(*b, r))) << "row " << r;
    ok = ok && want == TaskRunColumns(*b, r);
    failures += ok ? 0 : 1;
  }
  for (RowId r = 0; r < a.flow_runs.size() && failures < 5; ++r) {
    const std::string want = FlowRunColumns(a, r);
    EXPECT_EQ(want, FlowRunColumns(*b, r)) << "flow run row " << r;
    failures += want == FlowRunColumns(*b, r) ? 0 : 1;
  }
  for (RowId r = 0; r < a.flows.size() && failures < 5; ++r) {
    const std::string want = FlowColumns(a, r);
    EXPECT_EQ(want, FlowColumns(*b, r)) << "flow row " << r;
    failures += want == FlowColumns(*b, r) ? 0 : 1;
  }
  for (RowId r = 0; r < a.deployments.size() && failures < 5; ++r) {
    const std::string want = DeploymentColumns(a, r);
    EXPECT_EQ(want, DeploymentColumns(*b, r)) << "deployment row " << r;
    failures += want == DeploymentColumns(*b, r) ? 0 : 1;
  }
  EXPECT_EQ(a.report.orphan_task_runs, b->report.orphan_task_runs);
  EXPECT_EQ(a.report.flow_runs_missing_flow, b->report.flow_runs_missing_flow);
  EXPECT_EQ(a.report.flow_runs_dangling_deployment, b->report.flow_runs_dangling_deployment);
  EXPECT_EQ(a.report.flow_runs_missing_parent_task_run,
            b->report.flow_runs_missing_parent_task_run);
  EXPECT_EQ(a.report.deployments_missing_flow, b->report.deployments_missing_flow);
  EXPECT_EQ(Rows(a.task_runs_with_subflow), Rows(b->task_runs_with_subflow));
  return failures;
}

// The records read from `s` equal `records` (ids unique per vector; row
// order may differ from record order).
void ExpectReadsBack(const Store& s, const SnapshotRecords& records) {
  ASSERT_EQ(s.task_runs.size(), records.task_runs.size());
  ASSERT_EQ(s.flow_runs.size(), records.flow_runs.size());
  ASSERT_EQ(s.flows.size(), records.flows.size());
  ASSERT_EQ(s.deployments.size(), records.deployments.size());
  int failures = 0;
  for (const TaskRunRecord& want : records.task_runs) {
    const RowId r = s.task_run_by_id.at(want.id);
    EXPECT_EQ(Dump(want), Dump(ReadTaskRunRecord(s, r)));
    if (Dump(want) != Dump(ReadTaskRunRecord(s, r)) && ++failures == 5) return;
  }
  for (const FlowRunRecord& want : records.flow_runs) {
    EXPECT_EQ(Dump(want), Dump(ReadFlowRunRecord(s, s.flow_run_by_id.at(want.id))));
  }
  for (const FlowRecord& want : records.flows) {
    EXPECT_EQ(Dump(want), Dump(ReadFlowRecord(s, s.flow_by_id.at(want.id))));
  }
  for (const DeploymentRecord& want : records.deployments) {
    EXPECT_EQ(Dump(want), Dump(ReadDeploymentRecord(s, s.deployment_by_id.at(want.id))));
  }
}

std::unique_ptr<Store> BuildFrom(SnapshotRecords records) {
  StoreBuilder b;
  b.AddAll(std::move(records));
  return b.Build();
}

// The records a store keeps: the last record of each id, in first-seen order.
template <typename R>
std::vector<R> LastById(const std::vector<R>& in) {
  absl::flat_hash_map<Uuid, size_t> at;
  std::vector<R> out;
  for (const R& r : in) {
    auto [it, inserted] = at.try_emplace(r.id, out.size());
    if (inserted) {
      out.push_back(r);
    } else {
      out[it->second] = r;
    }
  }
  return out;
}
SnapshotRecords LastById(const SnapshotRecords& in) {
  return SnapshotRecords{LastById(in.flows), LastById(in.deployments), LastById(in.flow_runs),
                         LastById(in.task_runs)};
}

// --- Task-run fields the random generators leave at defaults ------------------

std::string Quoted(const Uuid& u) { return absl::StrCat("\"", UuidToString(u), "\""); }
std::string QuotedTime(Micros t) { return absl::StrCat("\"", FormatDatetime(t), "\""); }
std::string JsonText(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

Uuid FreshUuid(TestRng& rng) {
  Uuid u;
  for (uint8_t& b : u.bytes) b = static_cast<uint8_t>(rng.Next());
  u.bytes[6] = static_cast<uint8_t>(0x40 | (u.bytes[6] & 0x0F));
  u.bytes[8] = static_cast<uint8_t>(0x80 | (u.bytes[8] & 0x3F));
  return u;
}

std::optional<Micros> MaybeTime(TestRng& rng, int null_percent) {
  if (rng.Percent(null_percent)) return std::nullopt;
  return rng.Pick(TestInstants());
}

void FillOut(TestRng& rng, TaskRunRecord& t) {
  static const std::vector<std::string> kDynamicKeys = {"0", "", "17", "a\"b\\c", "\xC3\xA9\n"};
  static const std::vector<std::optional<std::string>> kCacheKeys = {std::nullopt, std::nullopt,
                                                                     "key-1", "k\"ey\t2", ""};
  static const std::vector<std::optional<std::string>> kVersions = {
      std::nullopt, std::nullopt, "1.0", "null", "", "v\"2\"\n\\\x01 \xC3\xA9/"};
  static const std::vector<std::string> kPolicies = {
      R"({"max_retries":0,"retry_delay_seconds":0.0,"retries":null,"retry_delay":null,"retry_jitter_factor":null})",
      R"({"max_retries":3,"retry_delay_seconds":1.5,"retries":3,"retry_delay":[1,2],"retry_jitter_factor":0.5})"};
  t.created = MaybeTime(rng, 10);
  t.updated = MaybeTime(rng, 10);
  t.dynamic_key = rng.Pick(kDynamicKeys);
  t.cache_key = rng.Pick(kCacheKeys);
  t.cache_expiration = MaybeTime(rng, 60);
  t.task_version = rng.Pick(kVersions);
  t.empirical_policy_json = rng.Pick(kPolicies);
  t.state_id = rng.Percent(85) ? std::optional<Uuid>(FreshUuid(rng)) : std::nullopt;
  switch (rng.Uniform(5)) {
    case 0:
      t.labels_json = "null";
      break;
    case 1:
      t.labels_json = "{}";
      break;
    case 2:
      t.labels_json = t.flow_run_id
                          ? absl::StrCat(R"({"prefect.flow-run.id":)", Quoted(*t.flow_run_id), "}")
                          : R"({"k":"v"})";
      break;
    case 3:
      t.labels_json = absl::StrCat(R"({"id":)", Quoted(t.id), R"(,"when":)",
                                   t.created ? QuotedTime(*t.created) : "null", "}");
      break;
    default:
      t.labels_json = R"({"x":"\u0001 \"q\" \u00e9"})";
  }
  t.task_inputs_json = rng.Percent(50) ? "{}"
                                       : absl::StrCat(R"({"x":[{"input_type":"task_run","id":)",
                                                      Quoted(FreshUuid(rng)), "}]}");
  t.run_count = static_cast<int64_t>(rng.Uniform(4));
  t.flow_run_run_count = static_cast<int64_t>(rng.Uniform(3));
  t.total_run_time_us = static_cast<int64_t>(rng.Uniform(5) * 1500000 + rng.Uniform(2));

  t.state_json = "null";
  t.state_timestamp = std::nullopt;
  t.state_scheduled_time_null_offset = -1;
  if (!(rng.Percent(5) || (!t.state_type && rng.Percent(50)))) {
    const Micros ts = rng.Pick(TestInstants());
    t.state_timestamp = ts;
    const std::string type(StateTypeName(t.state_type.value_or(StateType::kCompleted)));
    std::string s = absl::StrCat(
        R"({"id":)", t.state_id ? Quoted(*t.state_id) : "null", R"(,"type":")", type,
        R"(","name":)", t.state_name ? JsonText(*t.state_name) : "null", R"(,"timestamp":)",
        QuotedTime(ts), R"(,"message":null,"data":null,"state_details":{"flow_run_id":)",
        t.flow_run_id ? Quoted(*t.flow_run_id) : "null", R"(,"task_run_id":)", Quoted(t.id),
        R"(,"scheduled_time":)");
    if (t.state_type == StateType::kScheduled && rng.Percent(60)) {
      t.state_scheduled_time_null_offset = static_cast<int32_t>(s.size());
      s += "null";
    } else if (t.expected_start_time && rng.Percent(50)) {
      s += QuotedTime(*t.expected_start_time);
    } else {
      s += rng.Percent(50) ? "null" : QuotedTime(rng.Pick(TestInstants()));
    }
    absl::StrAppend(&s, R"(,"cache_key":)", t.cache_key ? JsonText(*t.cache_key) : "null",
                    R"(,"cache_expiration":)",
                    t.cache_expiration ? QuotedTime(*t.cache_expiration) : "null", "}}");
    t.state_json = std::move(s);
  }

  t.parameters_json = "{}";
  t.context_json = "{}";
  t.extras_json.clear();
  if (rng.Percent(30)) {
    t.parameters_json = R"({"x":1,"y":"\u00e9\n"})";
    absl::StrAppend(&t.extras_json, R"(,"parameters":)", t.parameters_json);
  }
  if (rng.Percent(20)) {
    t.context_json = R"({"c":[true,null]})";
    absl::StrAppend(&t.extras_json, R"(,"context":)", t.context_json);
  }
  if (rng.Percent(25)) absl::StrAppend(&t.extras_json, R"(,"custom_key":{"a":[1,2.5,"\"q\""]})");
}

void FillOut(TestRng& rng, SnapshotRecords& data) {
  for (TaskRunRecord& t : data.task_runs) FillOut(rng, t);
}

// What a data set exercised, summed over cases.
struct Traps {
  int scheduled_now = 0, null_state = 0, null_labels = 0, orphans = 0, extras = 0, versions = 0;
  void Count(const Store& s) {
    orphans += static_cast<int>(s.report.orphan_task_runs);
    for (RowId r = 0; r < s.task_runs.size(); ++r) {
      const TaskRunRecord t = ReadTaskRunRecord(s, r);
      scheduled_now += t.state_scheduled_time_null_offset >= 0;
      null_state += t.state_json == "null";
      null_labels += t.labels_json == "null";
      extras += !t.extras_json.empty();
      versions += t.task_version.has_value();
    }
  }
  void ExpectAllSeen() const {
    EXPECT_GT(scheduled_now, 0);
    EXPECT_GT(null_state, 0);
    EXPECT_GT(null_labels, 0);
    EXPECT_GT(orphans, 0);
    EXPECT_GT(extras, 0);
    EXPECT_GT(versions, 0);
  }
};

// --- Tests --------------------------------------------------------------------

TEST(StoreRowsTest, ExamplesRoundTrip) {
  const SnapshotRecords records = examples::Records();
  std::unique_ptr<Store> store = BuildFrom(records);
  ExpectReadsBack(*store, records);
  EXPECT_EQ(ExpectRoundTrip(*store), 0);
}

TEST(StoreRowsTest, ExamplesSnapshotRoundTrip) {
  const std::string dir = TASKDEX_EXAMPLES_DIR "/snapshot";
  absl::StatusOr<SnapshotRecords> records = ReadSnapshotRecords(dir, LoadOptions{}, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  absl::StatusOr<std::unique_ptr<Store>> store = LoadSnapshot(dir, LoadOptions{}, nullptr);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectReadsBack(**store, LastById(*records));
  EXPECT_EQ(ExpectRoundTrip(**store), 0);
}

TEST(StoreRowsTest, SampleRoundTrip) {
  const std::string dir = TASKDEX_SOURCE_DIR "/data/sample";
  absl::StatusOr<SnapshotRecords> records = ReadSnapshotRecords(dir, LoadOptions{}, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  absl::StatusOr<std::unique_ptr<Store>> store = LoadSnapshot(dir, LoadOptions{}, nullptr);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_GT((*store)->task_runs.size(), 1000u);
  ExpectReadsBack(**store, LastById(*records));
  EXPECT_EQ(ExpectRoundTrip(**store), 0);
}

// data/sample's task-run lines edited, then parsed by the loader: SCHEDULED
// states with a null scheduled_time, null labels, string task versions and
// unknown keys, as the loader records them.
TEST(StoreRowsTest, EditedSampleLinesRoundTrip) {
  const std::string dir = TASKDEX_SOURCE_DIR "/data/sample";
  absl::StatusOr<SnapshotRecords> records = ReadSnapshotRecords(dir, LoadOptions{}, nullptr);
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<std::string> lines;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> f(fopen((dir + "/task_runs.ndjson").c_str(), "rb"),
                                            &fclose);
    ASSERT_NE(f, nullptr);
    std::string text;
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), f.get())) > 0;) text.append(buf, n);
    for (size_t begin = 0; begin < text.size();) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      if (end > begin) lines.push_back(text.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  ASSERT_GT(lines.size(), 1000u);
  records->task_runs.clear();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    auto replace = [&line](std::string_view from, std::string_view to) {
      const size_t at = line.find(from);
      if (at != std::string::npos) line.replace(at, from.size(), to);
    };
    if (line.find(R"("state_type":"SCHEDULED")") != std::string::npos && i % 2 == 0) {
      const std::string key = R"("scheduled_time":")";
      const size_t at = line.find(key);
      if (at != std::string::npos) {
        const size_t close = line.find('"', at + key.size());
        line.replace(at + key.size() - 1, close + 1 - (at + key.size() - 1), "null");
      }
    }
    if (i % 4 == 1) replace(R"("labels":{})", R"("labels":null)");
    if (i % 5 == 2) replace(R"("task_version":null)", R"("task_version":"v\"1\" \u00e9\u0007")");
    if (i % 3 == 0) {
      const size_t last = line.rfind('}');
      line.insert(last, R"(,"zz_extra":[1,{"a":"b\n"}],"parameters":{"p":[null]})");
    }
    absl::StatusOr<TaskRunRecord> r = ParseTaskRunLine(line);
    ASSERT_TRUE(r.ok()) << r.status() << "\n" << line;
    records->task_runs.push_back(*std::move(r));
  }
  const SnapshotRecords kept = LastById(*records);
  std::unique_ptr<Store> store = BuildFrom(*records);
  ExpectReadsBack(*store, kept);
  EXPECT_EQ(ExpectRoundTrip(*store), 0);
  Traps traps;
  traps.Count(*store);
  EXPECT_GT(traps.scheduled_now, 0);
  EXPECT_GT(traps.null_labels, 0);
  EXPECT_GT(traps.extras, 0);
  EXPECT_GT(traps.versions, 0);
}

TEST(StoreRowsTest, RandomDataRoundTrip) {
  Traps traps;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    TestRng rng(seed);
    SnapshotRecords records = RandomRecords(rng);
    FillOut(rng, records);
    std::unique_ptr<Store> store = BuildFrom(records);
    ExpectReadsBack(*store, records);
    ASSERT_EQ(ExpectRoundTrip(*store), 0);
    traps.Count(*store);
  }
  traps.ExpectAllSeen();
}

TEST(StoreRowsTest, RandomScaleDataRoundTrip) {
  Traps traps;
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    TestRng rng(seed);
    SnapshotRecords records = RandomRecordsAtScale(rng, 3000);
    FillOut(rng, records);
    std::unique_ptr<Store> store = BuildFrom(records);
    ExpectReadsBack(*store, records);
    ASSERT_EQ(ExpectRoundTrip(*store), 0);
    traps.Count(*store);
  }
  traps.ExpectAllSeen();
}

// The writer fills the kScheduledNow hole with `now`; the record holds `null`
// there, at the recorded offset.
TEST(StoreRowsTest, ScheduledNowReadsBackAsNull) {
  TaskRunRecord t;
  t.id = UuidFromText("00000000-0000-4000-8000-000000000001");
  t.name = "t";
  t.task_key = "t";
  t.state_type = StateType::kScheduled;
  t.state_name = "Scheduled";
  t.state_timestamp = TestInstants()[0];
  const std::string prefix = R"({"type":"SCHEDULED","state_details":{"scheduled_time":)";
  t.state_json = prefix + "null}}";
  t.state_scheduled_time_null_offset = static_cast<int32_t>(prefix.size());
  StoreBuilder b;
  b.AddTaskRun(t);
  std::unique_ptr<Store> store = b.Build();
  const Micros now = TestInstants()[4];
  std::string json;
  AppendTaskRunFull(*store, 0, now, &json);
  EXPECT_NE(json.find(prefix + QuotedTime(now)), std::string::npos) << json;
  const TaskRunRecord back = ReadTaskRunRecord(*store, 0);
  EXPECT_EQ(back.state_json, t.state_json);
  EXPECT_EQ(back.state_scheduled_time_null_offset, t.state_scheduled_time_null_offset);
  EXPECT_EQ(Dump(back), Dump(t));
  EXPECT_EQ(ExpectRoundTrip(*store), 0);
}

// A repeated id replaces the row in place (entities.md 4.1): the row reads
// back as the later line, for every entity.
TEST(StoreRowsTest, ReplacedRowReadsBackAsTheLaterLine) {
  TestRng rng(42);
  SnapshotRecords first = RandomRecords(rng);
  while (first.task_runs.size() < 3 || first.flow_runs.size() < 2 || first.flows.empty() ||
         first.deployments.empty()) {
    first = RandomRecords(rng);
  }
  FillOut(rng, first);
  // Later lines: the same ids with other values (another data set's fields).
  SnapshotRecords other = RandomRecords(rng);
  while (other.task_runs.empty() || other.flow_runs.empty() || other.flows.empty() ||
         other.deployments.empty()) {
    other = RandomRecords(rng);
  }
  FillOut(rng, other);
  SnapshotRecords all = first;
  TaskRunRecord t = other.task_runs[0];
  t.id = first.task_runs[1].id;
  t.name = "replaced";
  t.tags = {"later", "tags"};
  t.cache_key = "later-key";
  all.task_runs.push_back(t);
  FlowRunRecord fr = other.flow_runs[0];
  fr.id = first.flow_runs[1].id;
  fr.name = "replaced";
  fr.flow_version = "later";
  fr.tags = {"x"};
  all.flow_runs.push_back(fr);
  FlowRecord f = other.flows[0];
  f.id = first.flows[0].id;
  f.name = "replaced";
  f.tags = {"y", "y"};
  all.flows.push_back(f);
  DeploymentRecord d = other.deployments[0];
  d.id = first.deployments[0].id;
  d.name = "replaced";
  d.paused = !first.deployments[0].paused;
  all.deployments.push_back(d);

  std::unique_ptr<Store> store = BuildFrom(all);
  EXPECT_EQ(store->report.replaced_task_runs, 1u);
  EXPECT_EQ(store->report.replaced_flow_runs, 1u);
  EXPECT_EQ(store->report.replaced_flows, 1u);
  EXPECT_EQ(store->report.replaced_deployments, 1u);
  ASSERT_EQ(store->task_runs.size(), first.task_runs.size());
  EXPECT_EQ(store->task_run_by_id.at(t.id), 1u);  // the row keeps its position
  EXPECT_EQ(Dump(ReadTaskRunRecord(*store, 1)), Dump(t));
  EXPECT_EQ(Dump(ReadFlowRunRecord(*store, 1)), Dump(fr));
  EXPECT_EQ(Dump(ReadFlowRecord(*store, 0)), Dump(f));
  EXPECT_EQ(Dump(ReadDeploymentRecord(*store, 0)), Dump(d));
  ExpectReadsBack(*store, LastById(all));
  EXPECT_EQ(ExpectRoundTrip(*store), 0);
}

}  // namespace
}  // namespace taskdex
