// tests/testing/reference_evaluator.cc
//
// Each function below mirrors one paragraph of paginate.md; the section is
// named in its comment. Filter nodes follow the evaluation model of 4.1: a
// node collects a list of criteria (one bool each), an empty list is TRUE,
// otherwise the criteria are combined with AND or with the node's operator.

#include "tests/testing/reference_evaluator.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace taskdex {
namespace {

// ---------------------------------------------------------------------------
// like_ (paginate.md 4.2)

// Splits UTF-8 text into code points. Input is valid UTF-8 in practice; a
// stray byte becomes a code point of its own, far above U+10FFFF, so it only
// ever equals the same stray byte.
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int extra = -1;
    uint32_t cp = 0;
    if (b0 < 0x80) {
      extra = 0;
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      extra = 1;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      extra = 2;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      extra = 3;
      cp = b0 & 0x07;
    }
    bool ok = extra >= 0 && i + extra < s.size();
    for (int k = 1; ok && k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) {
        ok = false;
      } else {
        cp = (cp << 6) | (b & 0x3F);
      }
    }
    if (ok) {
      out.push_back(cp);
      i += extra + 1;
    } else {
      out.push_back(0x80000000u | b0);
      i += 1;
    }
  }
  return out;
}

struct LikeToken {
  enum Kind { kAnyRun, kAnyOne, kLiteral };
  Kind kind;
  uint32_t literal = 0;
};

// Step 1 of the engine rules: scan P = "%" + s + "%" left to right.
std::vector<LikeToken> TokenizeLike(std::string_view user_pattern) {
  std::string p = "%";
  p.append(user_pattern);
  p.append("%");
  const std::vector<uint32_t> cps = CodePoints(p);
  std::vector<LikeToken> tokens;
  size_t i = 0;
  while (i < cps.size()) {
    if (cps[i] == '\\' && i + 1 < cps.size()) {
      tokens.push_back({LikeToken::kLiteral, cps[i + 1]});
      i += 2;
    } else if (cps[i] == '%') {
      tokens.push_back({LikeToken::kAnyRun, 0});
      i += 1;
    } else if (cps[i] == '_') {
      tokens.push_back({LikeToken::kAnyOne, 0});
      i += 1;
    } else {
      // Includes a lone final backslash, which cannot happen: P ends with '%'.
      tokens.push_back({LikeToken::kLiteral, cps[i]});
      i += 1;
    }
  }
  return tokens;
}

// Step 3: only A-Z fold.
uint32_t FoldAscii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

// ---------------------------------------------------------------------------
// Criteria lists (paginate.md 4.1)

class Criteria {
 public:
  void Add(bool c) {
    ++size_;
    if (c) ++true_;
  }
  size_t size() const { return size_; }
  // TRUE if empty; else AND or OR of the criteria.
  bool Result(BoolOp op) const {
    if (size_ == 0) return true;
    if (op == BoolOp::kAnd) return true_ == size_;
    return true_ > 0;
  }

 private:
  // The list itself is not needed: AND is "all true", OR "some true".
  size_t size_ = 0;
  size_t true_ = 0;
};

template <typename T>
bool Contains(const std::vector<T>& list, const T& value) {
  for (const T& x : list) {
    if (x == value) return true;
  }
  return false;
}

// any_ on a scalar column: added whenever the list is not null; NULL never
// matches; [] matches nothing.
template <typename T>
void AddAny(Criteria& c, const List<T>& any, const std::optional<T>& value) {
  if (!any.has_value()) return;
  c.Add(value.has_value() && Contains(*any, *value));
}

// not_any_: added only for a non-empty list; NULL never matches.
template <typename T>
void AddNotAny(Criteria& c, const List<T>& not_any, const std::optional<T>& value) {
  if (!not_any.has_value() || not_any->empty()) return;
  c.Add(value.has_value() && !Contains(*not_any, *value));
}

// like_: added only for a non-empty string.
void AddLike(Criteria& c, const std::optional<std::string>& like, const std::string& text) {
  if (!like.has_value() || like->empty()) return;
  c.Add(RefLikeMatches(text, *like));
}

// is_null_ on a nullable column.
void AddIsNull(Criteria& c, const std::optional<bool>& is_null, bool value_is_null) {
  if (!is_null.has_value()) return;
  c.Add(*is_null == value_is_null);
}

// before_ / after_: inclusive; NULL never matches.
void AddBeforeAfter(Criteria& c, const TimeFilter& f, const std::optional<Micros>& value) {
  if (f.before.has_value()) c.Add(value.has_value() && *value <= *f.before);
  if (f.after.has_value()) c.Add(value.has_value() && *value >= *f.after);
}

// ---------------------------------------------------------------------------
// Shared leaf filters

bool IdPred(const IdFilter& f, const Uuid& id) {
  Criteria c;
  AddAny(c, f.any, std::optional<Uuid>(id));
  AddNotAny(c, f.not_any, std::optional<Uuid>(id));
  return c.Result(BoolOp::kAnd);
}

bool NamePred(const NameFilter& f, const std::string& name) {
  Criteria c;
  if (f.any.has_value()) AddAny(c, f.any, std::optional<std::string>(name));  // (copy only then)
  AddLike(c, f.like, name);
  return c.Result(BoolOp::kAnd);
}

// all_: superset ([] ignored); any_: overlap ([] matches nothing);
// is_null_: the array is empty (true) or not (false).
bool TagsPred(const TagsFilter& f, const std::vector<std::string>& tags) {
  Criteria c;
  if (f.all.has_value() && !f.all->empty()) {
    bool every = true;
    for (const std::string& wanted : *f.all) {
      if (!Contains(tags, wanted)) every = false;
    }
    c.Add(every);
  }
  if (f.any.has_value()) {
    bool some = false;
    for (const std::string& wanted : *f.any) {
      if (Contains(tags, wanted)) some = true;
    }
    c.Add(some);
  }
  if (f.is_null.has_value()) c.Add(*f.is_null == tags.empty());
  return c.Result(f.op);
}

// `compared` is what before_/after_ read, `null_tested` what is_null_ reads
// (they differ only for the flow-run start time).
bool TimePred(const TimeFilter& f, const std::optional<Micros>& compared,
              const std::optional<Micros>& null_tested) {
  Criteria c;
  AddBeforeAfter(c, f, compared);
  AddIsNull(c, f.is_null, !null_tested.has_value());
  return c.Result(BoolOp::kAnd);
}

void AddStringsCriteria(Criteria& c, const StringsFilter& f,
                        const std::optional<std::string>& value) {
  AddAny(c, f.any, value);
  AddNotAny(c, f.not_any, value);
  AddIsNull(c, f.is_null, !value.has_value());
}

bool StringsPred(const StringsFilter& f, const std::optional<std::string>& value) {
  Criteria c;
  AddStringsCriteria(c, f, value);
  return c.Result(f.op);
}

// A state node (4.1): a child contributes only when it has exactly one
// criterion; a child with none or with two is skipped.
bool StatePred(const StateFilter& f, const std::optional<StateType>& type,
               const std::optional<std::string>& name) {
  Criteria c;
  if (f.type.has_value()) {
    Criteria child;
    AddAny(child, f.type->any, type);
    AddNotAny(child, f.type->not_any, type);
    if (child.size() == 1) c.Add(child.Result(BoolOp::kAnd));
  }
  if (f.name.has_value()) {
    Criteria child;
    AddStringsCriteria(child, *f.name, name);
    if (child.size() == 1) c.Add(child.Result(BoolOp::kAnd));
  }
  return c.Result(f.op);
}

// deployment_id, parent_task_run_id: any_ and is_null_ on the column.
bool UuidRefPred(const UuidRefFilter& f, const std::optional<Uuid>& value) {
  Criteria c;
  AddAny(c, f.any, value);
  AddIsNull(c, f.is_null, !value.has_value());
  return c.Result(f.op);
}

// ---------------------------------------------------------------------------
// The data, with last-record-wins lookups (RefData, below).

template <typename R>
absl::flat_hash_map<Uuid, size_t> LastIndexById(const std::vector<R>& rows) {
  absl::flat_hash_map<Uuid, size_t> last;
  for (size_t i = 0; i < rows.size(); ++i) last[rows[i].id] = i;  // a later one overwrites
  return last;
}

template <typename R>
const R* FindLast(const std::vector<R>& rows, const absl::flat_hash_map<Uuid, size_t>& last,
                  const Uuid& id) {
  const auto it = last.find(id);
  return it == last.end() ? nullptr : &rows[it->second];
}

class Evaluator {
 public:
  explicit Evaluator(const RefData& d) : d_(d) {}

  // paginate.md 5.
  bool Selected(const FilterSet& fs, const TaskRunRecord& t) const {
    if (fs.task_runs.has_value() && !TaskRunPred(*fs.task_runs, t)) return false;
    if (fs.flows.has_value() || fs.flow_runs.has_value() || fs.deployments.has_value()) {
      if (!t.flow_run_id.has_value()) return false;
      const FlowRunRecord* run = d_.FindFlowRun(*t.flow_run_id);
      if (run == nullptr) return false;
      if (fs.flow_runs.has_value() && !FlowRunPred(*fs.flow_runs, *run)) return false;
      if (fs.flows.has_value()) {
        const FlowRecord* flow = d_.FindFlow(run->flow_id);
        if (flow == nullptr) return false;
        if (!FlowPred(*fs.flows, *flow)) return false;
      }
      if (fs.deployments.has_value()) {
        if (!run->deployment_id.has_value()) return false;
        const DeploymentRecord* dep = d_.FindDeployment(*run->deployment_id);
        if (dep == nullptr) return false;
        if (!DeploymentPred(*fs.deployments, *dep)) return false;
      }
    }
    return true;
  }

 private:
  // 4.4.
  bool TaskRunPred(const TaskRunFilter& f, const TaskRunRecord& t) const {
    Criteria c;
    if (f.id.has_value()) c.Add(IdPred(*f.id, t.id));
    if (f.name.has_value()) c.Add(NamePred(*f.name, t.name));
    if (f.tags.has_value()) c.Add(TagsPred(*f.tags, t.tags));
    if (f.state.has_value()) c.Add(StatePred(*f.state, t.state_type, t.state_name));
    if (f.start_time.has_value()) c.Add(TimePred(*f.start_time, t.start_time, t.start_time));
    if (f.end_time.has_value()) c.Add(TimePred(*f.end_time, t.end_time, t.end_time));
    if (f.expected_start_time.has_value()) {
      c.Add(TimePred(*f.expected_start_time, t.expected_start_time, t.expected_start_time));
    }
    if (f.subflow_runs.has_value()) c.Add(SubflowRunsPred(*f.subflow_runs, t));
    if (f.flow_run_id.has_value()) c.Add(TaskRunFlowRunIdPred(*f.flow_run_id, t));
    return c.Result(f.op);
  }

  // 4.4.8: existence of a flow run naming this task run as its parent.
  bool SubflowRunsPred(const SubflowRunsFilter& f, const TaskRunRecord& t) const {
    Criteria c;
    if (f.exists.has_value()) {
      const bool any_child = d_.IsSubflowParent(t.id);
      c.Add(*f.exists ? any_child : !any_child);
    }
    return c.Result(BoolOp::kAnd);
  }

  // 4.4.9, the rules in their order.
  static bool TaskRunFlowRunIdPred(const UuidRefFilter& f, const TaskRunRecord& t) {
    Criteria c;
    if (f.is_null == std::optional<bool>(true)) {
      c.Add(!t.flow_run_id.has_value());
    } else if (f.is_null == std::optional<bool>(false) && !f.any.has_value()) {
      c.Add(t.flow_run_id.has_value());
    } else if (f.any.has_value()) {
      c.Add(t.flow_run_id.has_value() && Contains(*f.any, *t.flow_run_id));
    }
    return c.Result(f.op);
  }

  // 4.5.
  bool FlowRunPred(const FlowRunFilter& f, const FlowRunRecord& r) const {
    Criteria c;
    if (f.id.has_value()) c.Add(IdPred(*f.id, r.id));
    if (f.name.has_value()) c.Add(NamePred(*f.name, r.name));
    if (f.tags.has_value()) c.Add(TagsPred(*f.tags, r.tags));
    if (f.deployment_id.has_value()) c.Add(UuidRefPred(*f.deployment_id, r.deployment_id));
    if (f.work_queue_name.has_value()) {
      c.Add(StringsPred(*f.work_queue_name, r.work_queue_name));
    }
    if (f.flow_version.has_value()) c.Add(StringsPred(*f.flow_version, r.flow_version));
    if (f.state.has_value()) c.Add(StatePred(*f.state, r.state_type, r.state_name));
    if (f.start_time.has_value()) {
      // before_/after_ read COALESCE(start_time, expected_start_time).
      std::optional<Micros> coalesced =
          r.start_time.has_value() ? r.start_time : r.expected_start_time;
      c.Add(TimePred(*f.start_time, coalesced, r.start_time));
    }
    if (f.end_time.has_value()) c.Add(TimePred(*f.end_time, r.end_time, r.end_time));
    if (f.expected_start_time.has_value()) {
      c.Add(TimePred(*f.expected_start_time, r.expected_start_time, r.expected_start_time));
    }
    if (f.next_scheduled_start_time.has_value()) {
      c.Add(TimePred(*f.next_scheduled_start_time, r.next_scheduled_start_time,
                     r.next_scheduled_start_time));
    }
    if (f.parent_flow_run_id.has_value()) {
      c.Add(ParentFlowRunIdPred(*f.parent_flow_run_id, r));
    }
    if (f.parent_task_run_id.has_value()) {
      c.Add(UuidRefPred(*f.parent_task_run_id, r.parent_task_run_id));
    }
    if (f.idempotency_key.has_value()) {
      c.Add(StringsPred(*f.idempotency_key, r.idempotency_key));
    }
    if (f.created_by.has_value()) c.Add(CreatedByPred(*f.created_by, r));
    return c.Result(f.op);
  }

  // R matches if R.parent_task_run_id names an existing task run T whose
  // flow_run_id is in any_.
  bool ParentFlowRunIdPred(const UuidRefFilter& f, const FlowRunRecord& r) const {
    Criteria c;
    if (f.any.has_value()) {
      bool match = false;
      if (r.parent_task_run_id.has_value()) {
        const TaskRunRecord* parent = d_.FindTaskRun(*r.parent_task_run_id);
        if (parent != nullptr && parent->flow_run_id.has_value() &&
            Contains(*f.any, *parent->flow_run_id)) {
          match = true;
        }
      }
      c.Add(match);
    }
    return c.Result(f.op);
  }

  // id_: the text of created_by.id equals a requested UUID in lowercase
  // hyphenated form; type_: text equality; is_null_: created_by IS (NOT) NULL.
  static bool CreatedByPred(const CreatedByFilter& f, const FlowRunRecord& r) {
    Criteria c;
    if (f.id.has_value()) {
      bool match = false;
      if (r.has_created_by && r.created_by_id.has_value()) {
        for (const Uuid& u : *f.id) {
          if (RefUuidText(u) == *r.created_by_id) match = true;
        }
      }
      c.Add(match);
    }
    if (f.type.has_value()) {
      c.Add(r.has_created_by && r.created_by_type.has_value() &&
            Contains(*f.type, *r.created_by_type));
    }
    AddIsNull(c, f.is_null, !r.has_created_by);
    return c.Result(f.op);
  }

  // 4.6.
  bool FlowPred(const FlowFilter& f, const FlowRecord& flow) const {
    Criteria c;
    if (f.id.has_value()) c.Add(IdPred(*f.id, flow.id));
    if (f.deployment.has_value()) {
      Criteria child;
      if (f.deployment->is_null.has_value()) {
        // The whole deployment table, not the flow run's own deployment.
        const bool has_deployment = d_.FlowHasDeployment(flow.id);
        child.Add(*f.deployment->is_null ? !has_deployment : has_deployment);
      }
      c.Add(child.Result(f.deployment->op));
    }
    if (f.name.has_value()) c.Add(NamePred(*f.name, flow.name));
    if (f.tags.has_value()) c.Add(TagsPred(*f.tags, flow.tags));
    return c.Result(f.op);
  }

  // 4.7. concurrency_limit never adds a criterion.
  bool DeploymentPred(const DeploymentFilter& f, const DeploymentRecord& d) const {
    Criteria c;
    if (f.id.has_value()) c.Add(IdPred(*f.id, d.id));
    if (f.name.has_value()) c.Add(NamePred(*f.name, d.name));
    if (f.flow_or_deployment_name.has_value()) {
      Criteria child;
      const std::optional<std::string>& like = f.flow_or_deployment_name->like;
      if (like.has_value() && !like->empty()) {
        bool match = RefLikeMatches(d.name, *like);
        const FlowRecord* flow = d_.FindFlow(d.flow_id);
        if (flow != nullptr && RefLikeMatches(flow->name, *like)) match = true;
        child.Add(match);
      }
      c.Add(child.Result(BoolOp::kAnd));
    }
    if (f.paused.has_value()) {
      Criteria child;
      if (f.paused->eq.has_value()) child.Add(d.paused == *f.paused->eq);
      c.Add(child.Result(BoolOp::kAnd));
    }
    if (f.tags.has_value()) c.Add(TagsPred(*f.tags, d.tags));
    if (f.work_queue_name.has_value()) {
      c.Add(StringsPred(*f.work_queue_name, d.work_queue_name));
    }
    return c.Result(f.op);
  }

  const RefData& d_;
};

// ---------------------------------------------------------------------------
// Order (paginate.md 6.2)

// Bytewise on UTF-8: unsigned bytes, a prefix first.
int CompareBytes(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// NULL is larger than every value, as in PostgreSQL.
int CompareNullLargest(const std::optional<Micros>& a, const std::optional<Micros>& b) {
  if (!a.has_value() && !b.has_value()) return 0;
  if (!a.has_value()) return 1;
  if (!b.has_value()) return -1;
  if (*a == *b) return 0;
  return *a < *b ? -1 : 1;
}

bool SortsBefore(const TaskRunRecord& a, const TaskRunRecord& b, TaskRunSort sort) {
  int c = 0;
  switch (sort) {
    case TaskRunSort::kIdDesc:
      c = 0;
      break;
    case TaskRunSort::kExpectedStartTimeAsc:
      c = CompareNullLargest(a.expected_start_time, b.expected_start_time);
      break;
    case TaskRunSort::kExpectedStartTimeDesc:
      c = -CompareNullLargest(a.expected_start_time, b.expected_start_time);
      break;
    case TaskRunSort::kNameAsc:
      c = CompareBytes(a.name, b.name);
      break;
    case TaskRunSort::kNameDesc:
      c = -CompareBytes(a.name, b.name);
      break;
    case TaskRunSort::kNextScheduledStartTimeAsc:
      c = CompareNullLargest(a.next_scheduled_start_time, b.next_scheduled_start_time);
      break;
    case TaskRunSort::kEndTimeDesc:
      c = -CompareNullLargest(a.end_time, b.end_time);
      break;
  }
  if (c != 0) return c < 0;
  // Tie-break: id descending (16 unsigned bytes).
  return b.id < a.id;
}

std::vector<const TaskRunRecord*> MatchingRows(const RefData& data, const FilterSet& filters) {
  const SnapshotRecords& records = data.records();
  Evaluator evaluator(data);
  std::vector<const TaskRunRecord*> rows;
  for (size_t i = 0; i < records.task_runs.size(); ++i) {
    if (!data.IsLastTaskRun(i)) continue;
    if (evaluator.Selected(filters, records.task_runs[i])) rows.push_back(&records.task_runs[i]);
  }
  return rows;
}

}  // namespace

bool RefLikeMatches(std::string_view text, std::string_view pattern) {
  const std::vector<LikeToken> tokens = TokenizeLike(pattern);
  const std::vector<uint32_t> chars = CodePoints(text);
  const size_t nt = tokens.size();
  const size_t nc = chars.size();
  // m[i * (nc + 1) + j]: tokens[i..] match chars[j..] exactly.
  std::vector<char> m((nt + 1) * (nc + 1), 0);
  auto at_ij = [&](size_t i, size_t j) -> char& { return m[i * (nc + 1) + j]; };
  at_ij(nt, nc) = 1;
  for (size_t i = nt; i > 0; --i) {
    const LikeToken& tok = tokens[i - 1];
    for (size_t j = nc + 1; j > 0; --j) {
      const size_t at = j - 1;  // position in chars
      const bool have_char = at < nc;
      bool match = false;
      switch (tok.kind) {
        case LikeToken::kAnyRun:
          match = at_ij(i, at) || (have_char && at_ij(i - 1, at + 1));
          break;
        case LikeToken::kAnyOne:
          match = have_char && at_ij(i, at + 1);
          break;
        case LikeToken::kLiteral:
          match = have_char && FoldAscii(chars[at]) == FoldAscii(tok.literal) && at_ij(i, at + 1);
          break;
      }
      at_ij(i - 1, at) = match ? 1 : 0;
    }
  }
  return at_ij(0, 0) != 0;
}

std::string RefUuidText(const Uuid& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[u.bytes[i] >> 4]);
    out.push_back(kHex[u.bytes[i] & 0xF]);
  }
  return out;
}

uint64_t RefPages(uint64_t count, int64_t limit) {
  if (limit <= 0) return 0;
  const auto l = static_cast<uint64_t>(limit);
  return count / l + (count % l != 0 ? 1 : 0);
}

RefData::RefData(const SnapshotRecords& records)
    : records_(records),
      last_flow_(LastIndexById(records.flows)),
      last_deployment_(LastIndexById(records.deployments)),
      last_flow_run_(LastIndexById(records.flow_runs)),
      last_task_run_(LastIndexById(records.task_runs)),
      is_last_task_run_(records.task_runs.size(), false) {
  for (const auto& [id, i] : last_task_run_) is_last_task_run_[i] = true;
  for (const auto& [id, i] : last_flow_run_) {
    const std::optional<Uuid>& parent = records.flow_runs[i].parent_task_run_id;
    if (parent.has_value()) subflow_parents_.insert(*parent);
  }
  for (const auto& [id, i] : last_deployment_) {
    flows_with_deployment_.insert(records.deployments[i].flow_id);
  }
}

const FlowRecord* RefData::FindFlow(const Uuid& id) const {
  return FindLast(records_.flows, last_flow_, id);
}
const DeploymentRecord* RefData::FindDeployment(const Uuid& id) const {
  return FindLast(records_.deployments, last_deployment_, id);
}
const FlowRunRecord* RefData::FindFlowRun(const Uuid& id) const {
  return FindLast(records_.flow_runs, last_flow_run_, id);
}
const TaskRunRecord* RefData::FindTaskRun(const Uuid& id) const {
  return FindLast(records_.task_runs, last_task_run_, id);
}
bool RefData::IsLastTaskRun(size_t i) const { return is_last_task_run_[i]; }
bool RefData::IsSubflowParent(const Uuid& task_run_id) const {
  return subflow_parents_.count(task_run_id) != 0;
}
bool RefData::FlowHasDeployment(const Uuid& flow_id) const {
  return flows_with_deployment_.count(flow_id) != 0;
}

std::vector<Uuid> RefMatchingIds(const SnapshotRecords& records, const FilterSet& filters) {
  return RefMatchingIds(RefData(records), filters);
}

std::vector<Uuid> RefMatchingIds(const RefData& data, const FilterSet& filters) {
  std::vector<Uuid> ids;
  for (const TaskRunRecord* row : MatchingRows(data, filters)) ids.push_back(row->id);
  return ids;
}

ReferenceResult RefPaginate(const SnapshotRecords& records, const PaginateQuery& query) {
  return RefPaginate(RefData(records), query);
}

ReferenceResult RefPaginate(const RefData& data, const PaginateQuery& query) {
  std::vector<const TaskRunRecord*> rows = MatchingRows(data, query.filters);
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const TaskRunRecord* a, const TaskRunRecord* b) {
                     return SortsBefore(*a, *b, query.sort);
                   });
  ReferenceResult result;
  result.count = rows.size();
  result.limit = query.limit;
  result.pages = RefPages(result.count, query.limit);
  for (const TaskRunRecord* row : rows) result.all_ids.push_back(row->id);
  const uint64_t limit = query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0;
  for (uint64_t i = 0; i < rows.size(); ++i) {
    if (i < query.offset) continue;
    if (i - query.offset >= limit) break;
    result.ids.push_back(rows[i]->id);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Sibling endpoints (paginate.md 9)

std::vector<Uuid> RefFilterIds(const RefData& data, const FilterSet& filters, TaskRunSort sort,
                               uint64_t offset, uint64_t limit) {
  std::vector<const TaskRunRecord*> rows = MatchingRows(data, filters);
  std::stable_sort(rows.begin(), rows.end(), [&](const TaskRunRecord* a, const TaskRunRecord* b) {
    return SortsBefore(*a, *b, sort);
  });
  std::vector<Uuid> ids;
  for (uint64_t i = offset; i < rows.size() && i - offset < limit; ++i) ids.push_back(rows[i]->id);
  return ids;
}

const TaskRunRecord* RefReadTaskRun(const RefData& data, const Uuid& id) {
  return data.FindTaskRun(id);
}

// 8.6, first bullet: RUNNING adds the time since the state's timestamp
// (negative when that lies ahead of `now`); without a timestamp, or in any
// other state, total_run_time alone.
int64_t RefEstimatedRunTimeMicros(const TaskRunRecord& t, Micros now) {
  if (t.state_type == std::optional<StateType>(StateType::kRunning) &&
      t.state_timestamp.has_value()) {
    return t.total_run_time_us + (now - *t.state_timestamp);
  }
  return t.total_run_time_us;
}

// 8.6, second bullet, rules 1-3 in order.
int64_t RefEstimatedStartTimeDeltaMicros(const TaskRunRecord& t, Micros now) {
  if (t.start_time.has_value() && t.expected_start_time.has_value() &&
      *t.start_time > *t.expected_start_time) {
    return *t.start_time - *t.expected_start_time;
  }
  if (!t.start_time.has_value() && t.expected_start_time.has_value() &&
      *t.expected_start_time < now) {
    bool terminal = false;
    if (t.state_type.has_value()) {
      for (StateType s : {StateType::kCompleted, StateType::kCancelled, StateType::kFailed,
                          StateType::kCrashed}) {
        if (*t.state_type == s) terminal = true;
      }
    }
    if (!terminal) return now - *t.expected_start_time;
  }
  return 0;
}

std::string RefStateTypeName(StateType type) {
  switch (type) {
    case StateType::kScheduled: return "SCHEDULED";
    case StateType::kPending: return "PENDING";
    case StateType::kRunning: return "RUNNING";
    case StateType::kCompleted: return "COMPLETED";
    case StateType::kFailed: return "FAILED";
    case StateType::kCancelled: return "CANCELLED";
    case StateType::kCrashed: return "CRASHED";
    case StateType::kPaused: return "PAUSED";
    case StateType::kCancelling: return "CANCELLING";
  }
  return "?";
}

std::vector<RefHistoryInterval> RefHistory(const RefData& data, const FilterSet& filters,
                                           Micros history_start, Micros history_end,
                                           int64_t interval_us, Micros now) {
  // The intervals, as PostgreSQL's generate_series(start, end, i) with
  // dt < end and LIMIT 500, in 128 bits so that nothing wraps.
  std::vector<RefHistoryInterval> intervals;
  const __int128 max = std::numeric_limits<Micros>::max();
  for (int k = 0; k < 500; ++k) {
    const __int128 begin =
        static_cast<__int128>(history_start) + static_cast<__int128>(k) * interval_us;
    if (begin >= history_end) break;
    const __int128 end = begin + interval_us;
    RefHistoryInterval iv;
    iv.start = static_cast<Micros>(begin);
    iv.end = static_cast<Micros>(end > max ? max : end);
    intervals.push_back(iv);
  }
  const std::vector<const TaskRunRecord*> rows = MatchingRows(data, filters);
  for (size_t k = 0; k < intervals.size(); ++k) {
    // The interval bounds as the SQL join compares them, unclamped.
    const __int128 begin =
        static_cast<__int128>(history_start) + static_cast<__int128>(k) * interval_us;
    const __int128 end = begin + interval_us;
    std::vector<RefHistoryState>& states = intervals[k].states;
    for (const TaskRunRecord* t : rows) {
      if (!t->state_type.has_value() || !t->expected_start_time.has_value()) continue;
      const __int128 when = *t->expected_start_time;
      if (when < begin || when >= end) continue;
      const std::string type = RefStateTypeName(*t->state_type);
      RefHistoryState* group = nullptr;
      for (RefHistoryState& s : states) {
        if (s.state_type == type && s.state_name == t->state_name) group = &s;
      }
      if (group == nullptr) {
        states.push_back(RefHistoryState{type, t->state_name, 0, 0, 0});
        group = &states.back();
      }
      group->count_runs += 1;
      group->sum_estimated_run_time_us += std::max<int64_t>(0, RefEstimatedRunTimeMicros(*t, now));
      group->sum_estimated_lateness_us +=
          std::max<int64_t>(0, RefEstimatedStartTimeDeltaMicros(*t, now));
    }
    std::stable_sort(states.begin(), states.end(),
                     [](const RefHistoryState& a, const RefHistoryState& b) {
                       const int c = CompareBytes(a.state_type, b.state_type);
                       if (c != 0) return c < 0;
                       if (!a.state_name.has_value() || !b.state_name.has_value()) {
                         return !a.state_name.has_value() && b.state_name.has_value();
                       }
                       return CompareBytes(*a.state_name, *b.state_name) < 0;
                     });
  }
  return intervals;
}

}  // namespace taskdex
