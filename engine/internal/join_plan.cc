// engine/internal/join_plan.cc

#include "engine/internal/join_plan.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/internal/entity_filters.h"
#include "engine/internal/leaf_eval.h"
#include "engine/plan_cost.h"
#include "index/posting_index.h"

namespace taskdex::engine_internal {
namespace {

using namespace plan_cost;  // NOLINT

uint64_t Card(const Bitmap& b) { return b.cardinality(); }

// ---------------------------------------------------------------------------
// The join (paginate.md 5)

// Task runs of the flow runs in `flow_runs`: union of their postings, one
// pass over task_runs.flow_run_row, or (most flow runs) the joined task
// runs minus the postings of the flow runs that fail.
Bitmap TaskRunsOfFlowRuns(const ExecContext& ctx, const Bitmap& flow_runs) {
  const Store& s = ctx.store;
  const uint64_t k = flow_runs.cardinality();
  if (k == 0) return Bitmap();
  const uint32_t num_flow_runs = s.flow_runs.size();
  const JoinChoice forced = ctx.options.join;
  if (k == num_flow_runs && forced == JoinChoice::kAuto) return s.task_runs_with_flow_run;
  const uint32_t n = s.task_runs.size();
  const bool have_postings = s.task_runs_of_flow_run.size() >= num_flow_runs;
  const uint64_t est = num_flow_runs == 0 ? 0 : k * n / num_flow_runs;
  const double union_ns = UnionNs(k, est, n);
  const double complement_ns =
      UnionNs(num_flow_runs - k, n - std::min<uint64_t>(est, n), n) + kIntersectRowNs * n;
  const double scan_ns = kScanRowNs * n;
  bool use_union = have_postings && union_ns <= scan_ns && union_ns <= complement_ns;
  bool use_complement = have_postings && !use_union && complement_ns < scan_ns;
  if (forced == JoinChoice::kPostings && have_postings) {
    use_union = true;
    use_complement = false;
  } else if (forced != JoinChoice::kAuto) {
    use_union = use_complement = false;
    if (forced == JoinChoice::kJoinPostings && have_postings) use_complement = true;
  }
  if (use_union) {
    StepTimer step(ctx, "join flow_runs -> task_runs", "posting union", static_cast<int64_t>(est));
    std::vector<const Bitmap*> postings;
    postings.reserve(k);
    ForEachRow(flow_runs, [&](uint32_t r) { postings.push_back(&s.task_runs_of_flow_run[r]); });
    Bitmap b = UnionOf(postings);
    step.Done(b.cardinality());
    return b;
  }
  if (use_complement) {
    StepTimer step(ctx, "join flow_runs -> task_runs", "joined minus failing flow runs' postings",
                   static_cast<int64_t>(est));
    std::vector<const Bitmap*> postings;
    postings.reserve(num_flow_runs - k);
    const Bitmap failing = AllRows(num_flow_runs) - flow_runs;
    ForEachRow(failing, [&](uint32_t r) { postings.push_back(&s.task_runs_of_flow_run[r]); });
    Bitmap b = s.task_runs_with_flow_run - UnionOf(postings);
    step.Done(b.cardinality());
    return b;
  }
  StepTimer step(ctx, "join flow_runs -> task_runs", "scan task_runs.flow_run_row");
  std::vector<uint8_t> in(num_flow_runs, 0);
  ForEachRow(flow_runs, [&](uint32_t r) { in[r] = 1; });
  const RowId* join = s.task_runs.flow_run_row.data();
  Bitmap b = ScanRows(n, [&](uint32_t r) { return join[r] != kNoRow && in[join[r]]; });
  step.Done(b.cardinality());
  return b;
}

// A set of rows of a small table as a bitset, for probes.
std::shared_ptr<const std::vector<uint64_t>> BitsOf(const Bitmap& rows, uint32_t size) {
  auto bits = std::make_shared<std::vector<uint64_t>>((static_cast<size_t>(size) + 63) / 64, 0);
  ForEachRow(rows, [&](uint32_t r) {
    if (r < size) (*bits)[r >> 6] |= uint64_t{1} << (r & 63);
  });
  return bits;
}

inline bool BitSet(const std::vector<uint64_t>& bits, uint32_t r) {
  return r != kNoRow && (r >> 6) < bits.size() && ((bits[r >> 6] >> (r & 63)) & 1) != 0;
}

// The task runs whose (resolved) flow run is in `flow_runs`.
PlanNode FlowRunSide(const ExecContext& ctx, const char* what, Bitmap flow_runs) {
  const Store& s = ctx.store;
  const uint32_t n = s.task_runs.size();
  const uint32_t num_flow_runs = s.flow_runs.size();
  const uint64_t k = flow_runs.cardinality();
  if (k == 0) return NoRows(what);
  PlanNode node;
  node.what = what;
  node.estimate = num_flow_runs == 0 ? 0 : k * n / num_flow_runs;
  node.materialize_ns = std::min({UnionNs(k, node.estimate, n), kScanRowNs * n,
                                  UnionNs(num_flow_runs - k, n - std::min<uint64_t>(node.estimate, n), n)});
  node.path = "flow runs' task runs";
  auto rows = std::make_shared<const Bitmap>(std::move(flow_runs));
  if (s.task_run_counts_of_flow_run.size() >= num_flow_runs) {
    node.exact_count = [&s, rows] {
      const uint32_t* counts = s.task_run_counts_of_flow_run.data();
      uint64_t total = 0;
      ForEachRowBatch(*rows, [&](const uint32_t* batch, uint32_t got) {
        for (uint32_t i = 0; i < got; ++i) total += counts[batch[i]];
      });
      return total;
    };
  }
  const ExecContext* c = &ctx;
  node.materialize = [c, rows] { return TaskRunsOfFlowRuns(*c, *rows); };
  auto bits = BitsOf(*rows, num_flow_runs);
  const RowId* join = s.task_runs.flow_run_row.data();
  node.check = [join, bits](RowId r) { return BitSet(*bits, join[r]); };
  node.check_addr = [join](RowId r) { return static_cast<const void*>(join + r); };
  node.check_ns = kProbeRowNs;
  node.force_check = ctx.options.join == JoinChoice::kProbeTaskRuns;
  return node;
}

// The flow-run state type alone, when that is the flow-run filter's only
// criterion (then the task-run join posting by state type answers it).
std::optional<std::vector<uint32_t>> OnlyStateTypeCodes(const FlowRunFilter& f) {
  if (f.id || f.name || f.tags || f.deployment_id || f.work_queue_name || f.flow_version ||
      f.start_time || f.end_time || f.expected_start_time || f.next_scheduled_start_time ||
      f.parent_flow_run_id || f.parent_task_run_id || f.idempotency_key || f.created_by) {
    return std::nullopt;
  }
  if (!f.state || f.state->name || !f.state->type) return std::nullopt;
  const StateTypesFilter& t = *f.state->type;
  const bool has_any = t.any.has_value();
  const bool has_not_any = t.not_any && !t.not_any->empty();
  if (has_any == has_not_any) return std::nullopt;
  bool in[kNumStateTypes] = {};
  for (StateType st : has_any ? *t.any : *t.not_any) in[static_cast<int>(st)] = true;
  std::vector<uint32_t> codes;
  for (int v = 0; v < kNumStateTypes; ++v) {
    if (in[v] == has_any) codes.push_back(static_cast<uint32_t>(v));
  }
  return codes;
}

// A flow or deployment side: task runs whose flow run's key (flow or
// deployment row, through `key_of_flow_run`) is in `keys`.
PlanNode KeyedSide(const ExecContext& ctx, const char* what, const Bitmap& keys, uint32_t num_keys,
                   const PostingIndex& postings, const std::vector<RowId>& key_of_flow_run) {
  const uint32_t n = ctx.store.task_runs.size();
  auto list = std::make_shared<std::vector<uint32_t>>();
  ForEachRow(keys, [&](uint32_t k) { list->push_back(k); });
  if (list->empty()) return NoRows(what);
  PlanNode node;
  node.what = what;
  node.estimate = postings.SumCardinality(*list);
  node.exact_count = [e = node.estimate] { return e; };
  node.materialize_ns = UnionNs(list->size(), node.estimate, n);
  node.path = "task-run join postings";
  node.materialize = [list, &postings] { return postings.Union(*list); };
  auto bits = BitsOf(keys, num_keys);
  const RowId* join = ctx.store.task_runs.flow_run_row.data();
  const RowId* key = key_of_flow_run.data();
  node.check = [join, key, bits](RowId r) {
    const RowId f = join[r];
    return f != kNoRow && BitSet(*bits, key[f]);
  };
  node.check_addr = [join](RowId r) { return static_cast<const void*>(join + r); };
  node.check_ns = kProbeRowNs * 1.5;
  return node;
}

// Flow-run rows whose flow (or deployment) row is in `rows`.
Bitmap FlowRunsJoinedTo(const std::vector<RowId>& join, const Bitmap& rows, uint32_t target_size) {
  auto bits = BitsOf(rows, target_size);
  return ScanRows(static_cast<uint32_t>(join.size()),
                  [&](uint32_t r) { return BitSet(*bits, join[r]); });
}

}  // namespace

void AddJoinSides(const ExecContext& ctx, const FilterSet& filters, std::vector<PlanNode>* kids) {
  const Store& s = ctx.store;
  const TaskRunIndexes& x = s.task_run_index;
  const FlowRunTable& fr = s.flow_runs;
  const JoinChoice join = ctx.options.join;
  const uint32_t n = s.task_runs.size();
  const bool join_postings =
      x.joins_built && (join == JoinChoice::kAuto || join == JoinChoice::kJoinPostings);
  if (!join_postings) {
    // All sides on the flow-run table, then one side over task runs.
    Level flow_runs(BoolOp::kAnd);
    if (filters.flow_runs) flow_runs.Add(EvalFlowRuns(ctx, *filters.flow_runs));
    if (filters.flows && !flow_runs.done()) {
      const Bitmap flows = Materialize(EvalFlows(ctx, *filters.flows), s.flows.size());
      flow_runs.Add(FlowRunsJoinedTo(fr.flow_row, flows, s.flows.size()));
    }
    if (filters.deployments && !flow_runs.done()) {
      const Bitmap deployments =
          Materialize(EvalDeployments(ctx, *filters.deployments), s.deployments.size());
      flow_runs.Add(FlowRunsJoinedTo(fr.deployment_row, deployments, s.deployments.size()));
    }
    kids->push_back(FlowRunSide(ctx, "flow_runs", Materialize(flow_runs.Finish(), fr.size())));
    return;
  }
  if (filters.flow_runs) {
    if (std::optional<std::vector<uint32_t>> codes = OnlyStateTypeCodes(*filters.flow_runs)) {
      auto list = std::make_shared<std::vector<uint32_t>>(std::move(*codes));
      auto in = std::make_shared<std::array<uint8_t, 256>>();
      in->fill(0);
      for (uint32_t c : *list) (*in)[c] = 1;
      PlanNode node;
      node.what = "flow_runs.state.type";
      node.estimate = x.by_flow_run_state_type.SumCardinality(*list);
      node.exact_count = [e = node.estimate] { return e; };
      node.materialize_ns = UnionNs(list->size(), node.estimate, n);
      node.path = "task-run join postings";
      node.materialize = [&x, list] { return x.by_flow_run_state_type.Union(*list); };
      const RowId* join_row = s.task_runs.flow_run_row.data();
      const uint8_t* types = fr.state_type.data();
      node.check = [join_row, types, in](RowId r) {
        const RowId f = join_row[r];
        return f != kNoRow && (*in)[types[f]] != 0;
      };
      node.check_addr = [join_row](RowId r) { return static_cast<const void*>(join_row + r); };
      node.check_ns = kProbeRowNs;
      kids->push_back(std::move(node));
    } else if (Pred rows = [&] {
                 StepTimer step(ctx, "flow_runs", "filter on the flow-run table");
                 Pred p = EvalFlowRuns(ctx, *filters.flow_runs);
                 step.Done(p ? p->cardinality() : fr.size());
                 return p;
               }()) {
      kids->push_back(FlowRunSide(ctx, "flow_runs", std::move(*rows)));
    } else {
      // Every flow run passes: the task runs that have one.
      PlanNode node;
      node.what = "flow_runs (all)";
      node.estimate = Card(s.task_runs_with_flow_run);
      node.exact_count = [e = node.estimate] { return e; };
      node.materialize_ns = BitmapNs(node.estimate, n);
      node.path = "joined task runs";
      node.materialize = [&s] { return s.task_runs_with_flow_run; };
      const RowId* join_row = s.task_runs.flow_run_row.data();
      node.check = [join_row](RowId r) { return join_row[r] != kNoRow; };
      node.check_addr = [join_row](RowId r) { return static_cast<const void*>(join_row + r); };
      node.check_ns = kCheckRowNs;
      kids->push_back(std::move(node));
    }
  }
  if (filters.flows) {
    kids->push_back(KeyedSide(ctx, "flows",
                              Materialize(EvalFlows(ctx, *filters.flows), s.flows.size()),
                              s.flows.size(), x.by_flow, fr.flow_row));
  }
  if (filters.deployments) {
    kids->push_back(KeyedSide(
        ctx, "deployments",
        Materialize(EvalDeployments(ctx, *filters.deployments), s.deployments.size()),
        s.deployments.size(), x.by_deployment, fr.deployment_row));
  }
}

}  // namespace taskdex::engine_internal
