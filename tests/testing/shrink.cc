// tests/testing/shrink.cc

#include "tests/testing/shrink.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace taskdex {
namespace {

// Walks every simplification point of a FilterSet in a fixed order and
// applies the one numbered `target`.
class Simplifier {
 public:
  explicit Simplifier(int target) : target_(target) {}
  bool applied() const { return applied_; }

  void Walk(FilterSet& fs) {
    Opt(fs.task_runs, [&](TaskRunFilter& f) {
      Op(f.op);
      Opt(f.id, [&](IdFilter& x) { Id(x); });
      Opt(f.name, [&](NameFilter& x) { Name(x); });
      Opt(f.tags, [&](TagsFilter& x) { Tags(x); });
      Opt(f.state, [&](StateFilter& x) { State(x); });
      Opt(f.start_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.end_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.expected_start_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.subflow_runs, [&](SubflowRunsFilter& x) { Bool(x.exists); });
      Opt(f.flow_run_id, [&](UuidRefFilter& x) { Ref(x); });
    });
    Opt(fs.flow_runs, [&](FlowRunFilter& f) {
      Op(f.op);
      Opt(f.id, [&](IdFilter& x) { Id(x); });
      Opt(f.name, [&](NameFilter& x) { Name(x); });
      Opt(f.tags, [&](TagsFilter& x) { Tags(x); });
      Opt(f.deployment_id, [&](UuidRefFilter& x) { Ref(x); });
      Opt(f.work_queue_name, [&](StringsFilter& x) { Strings(x); });
      Opt(f.flow_version, [&](StringsFilter& x) { Strings(x); });
      Opt(f.state, [&](StateFilter& x) { State(x); });
      Opt(f.start_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.end_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.expected_start_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.next_scheduled_start_time, [&](TimeFilter& x) { Time(x); });
      Opt(f.parent_flow_run_id, [&](UuidRefFilter& x) { Ref(x); });
      Opt(f.parent_task_run_id, [&](UuidRefFilter& x) { Ref(x); });
      Opt(f.idempotency_key, [&](StringsFilter& x) { Strings(x); });
      Opt(f.created_by, [&](CreatedByFilter& x) {
        Op(x.op);
        L(x.id);
        L(x.type);
        Bool(x.is_null);
      });
    });
    Opt(fs.flows, [&](FlowFilter& f) {
      Op(f.op);
      Opt(f.id, [&](IdFilter& x) { Id(x); });
      Opt(f.deployment, [&](FlowDeploymentFilter& x) {
        Op(x.op);
        Bool(x.is_null);
      });
      Opt(f.name, [&](NameFilter& x) { Name(x); });
      Opt(f.tags, [&](TagsFilter& x) { Tags(x); });
    });
    Opt(fs.deployments, [&](DeploymentFilter& f) {
      Op(f.op);
      Opt(f.id, [&](IdFilter& x) { Id(x); });
      Opt(f.name, [&](NameFilter& x) { Name(x); });
      Opt(f.flow_or_deployment_name, [&](NameFilter& x) { Name(x); });
      Opt(f.paused, [&](PausedFilter& x) { Bool(x.eq); });
      Opt(f.tags, [&](TagsFilter& x) { Tags(x); });
      Opt(f.work_queue_name, [&](StringsFilter& x) { Strings(x); });
      if (f.has_concurrency_limit) Point([&] { f.has_concurrency_limit = false; });
    });
  }

 private:
  template <typename Fn>
  void Point(Fn apply) {
    if (applied_) return;
    if (counter_++ == target_) {
      apply();
      applied_ = true;
    }
  }
  template <typename T, typename Fn>
  void Opt(std::optional<T>& o, Fn inner) {
    if (applied_ || !o.has_value()) return;
    Point([&] { o.reset(); });
    if (!applied_) inner(*o);
  }
  template <typename T>
  void L(List<T>& l) {
    if (applied_ || !l.has_value()) return;
    Point([&] { l.reset(); });
    for (size_t i = 0; i < l->size() && !applied_; ++i) {
      Point([&] {
        std::vector<T> rest;
        for (size_t j = 0; j < l->size(); ++j) {
          if (j != i) rest.push_back((*l)[j]);
        }
        l = std::move(rest);
      });
    }
  }
  void Op(BoolOp& op) {
    if (op == BoolOp::kOr) Point([&] { op = BoolOp::kAnd; });
  }
  void Bool(std::optional<bool>& b) {
    if (b.has_value()) Point([&] { b.reset(); });
  }
  template <typename T>
  void Value(std::optional<T>& v) {
    if (v.has_value()) Point([&] { v.reset(); });
  }
  void Id(IdFilter& x) {
    L(x.any);
    L(x.not_any);
  }
  void Name(NameFilter& x) {
    L(x.any);
    Value(x.like);
  }
  void Tags(TagsFilter& x) {
    Op(x.op);
    L(x.all);
    L(x.any);
    Bool(x.is_null);
  }
  void Time(TimeFilter& x) {
    Value(x.before);
    Value(x.after);
    Bool(x.is_null);
  }
  void Strings(StringsFilter& x) {
    Op(x.op);
    L(x.any);
    L(x.not_any);
    Bool(x.is_null);
  }
  void State(StateFilter& x) {
    Op(x.op);
    Opt(x.type, [&](StateTypesFilter& t) {
      L(t.any);
      L(t.not_any);
    });
    Opt(x.name, [&](StringsFilter& n) { Strings(n); });
  }
  void Ref(UuidRefFilter& x) {
    Op(x.op);
    L(x.any);
    Bool(x.is_null);
  }

  const int target_;
  int counter_ = 0;
  bool applied_ = false;
};

// Calls `still_fails` until `max_checks` calls have been made; after that
// every check answers false, so no further change is kept.
class BudgetedCheck {
 public:
  BudgetedCheck(const FailurePredicate& still_fails, int max_checks)
      : still_fails_(still_fails), left_(max_checks) {}
  bool exhausted() const { return left_ <= 0; }
  bool operator()(const SnapshotRecords& data, const PaginateQuery& query) {
    if (left_ <= 0) return false;
    --left_;
    return still_fails_(data, query);
  }

 private:
  const FailurePredicate& still_fails_;
  int left_;
};

// Tries removing runs of records of `rows`, halving the run length from half
// the table down to one record (so a data set of 100k records sheds most of
// them in a few dozen checks); keeps removals that still fail.
template <typename R>
bool ShrinkRows(BudgetedCheck& still_fails, SnapshotRecords* data, const PaginateQuery& query,
                std::vector<R> SnapshotRecords::*rows) {
  bool progress = false;
  for (size_t chunk = std::max<size_t>(1, (data->*rows).size() / 2);; chunk /= 2) {
    for (size_t end = (data->*rows).size(); end > 0 && !still_fails.exhausted();) {
      const size_t begin = end >= chunk ? end - chunk : 0;
      SnapshotRecords candidate = *data;
      std::vector<R>& v = candidate.*rows;
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(begin),
              v.begin() + static_cast<std::ptrdiff_t>(end));
      if (still_fails(candidate, query)) {
        *data = std::move(candidate);
        progress = true;
      }
      end = begin;
    }
    if (chunk <= 1 || still_fails.exhausted()) break;
  }
  return progress;
}

}  // namespace

std::vector<FilterSet> FilterSimplifications(const FilterSet& filters) {
  std::vector<FilterSet> out;
  for (int k = 0;; ++k) {
    FilterSet copy = filters;
    Simplifier s(k);
    s.Walk(copy);
    if (!s.applied()) break;
    out.push_back(std::move(copy));
  }
  return out;
}

void ShrinkFailure(const FailurePredicate& check, SnapshotRecords* data, PaginateQuery* query,
                   int max_checks) {
  BudgetedCheck still_fails(check, max_checks);
  bool progress = true;
  int rounds = 0;
  while (progress && rounds++ < 50 && !still_fails.exhausted()) {
    progress = false;
    // The query first: fewer filters make record removals more likely to stick.
    for (const FilterSet& candidate : FilterSimplifications(query->filters)) {
      PaginateQuery q = *query;
      q.filters = candidate;
      if (still_fails(*data, q)) {
        *query = std::move(q);
        progress = true;
        break;  // recompute the simplifications of the smaller tree
      }
    }
    if (progress) continue;
    if (query->sort != TaskRunSort::kIdDesc) {
      PaginateQuery q = *query;
      q.sort = TaskRunSort::kIdDesc;
      if (still_fails(*data, q)) {
        *query = q;
        progress = true;
      }
    }
    if (query->limit != 200 || query->offset != 0) {
      PaginateQuery q = *query;
      q.limit = 200;
      q.offset = 0;
      if (still_fails(*data, q)) {
        *query = q;
        progress = true;
      }
    }
    progress |= ShrinkRows<TaskRunRecord>(still_fails, data, *query,
                                               &SnapshotRecords::task_runs);
    progress |= ShrinkRows<FlowRunRecord>(still_fails, data, *query,
                                               &SnapshotRecords::flow_runs);
    progress |= ShrinkRows<FlowRecord>(still_fails, data, *query, &SnapshotRecords::flows);
    progress |= ShrinkRows<DeploymentRecord>(still_fails, data, *query,
                                                  &SnapshotRecords::deployments);
  }
}

}  // namespace taskdex
