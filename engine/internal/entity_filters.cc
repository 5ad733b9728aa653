// engine/internal/entity_filters.cc

#include "engine/internal/entity_filters.h"

#include <string>
#include <vector>

namespace taskdex::engine_internal {
namespace {

// ---------------------------------------------------------------------------
// FlowRunFilter (paginate.md 4.5)

std::string LowercaseUuidText(const Uuid& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[u.bytes[i] >> 4]);
    out.push_back(kHex[u.bytes[i] & 0xF]);
  }
  return out;
}

Pred EvalCreatedBy(const FlowRunTable& fr, const CreatedByFilter& f) {
  const uint32_t n = fr.size();
  Level level(f.op);
  if (f.id) {
    std::vector<std::string> texts;
    for (const Uuid& u : *f.id) texts.push_back(LowercaseUuidText(u));
    const StringSet set(texts);
    level.Add(set.empty() ? Bitmap() : ScanRows(n, [&](uint32_t r) {
      return fr.has_created_by[r] && !fr.created_by_id.IsNull(r) &&
             set.Has(fr.created_by_id.Get(r));
    }));
  }
  if (f.type && !level.done()) {
    const StringSet set(*f.type);
    level.Add(set.empty() ? Bitmap() : ScanRows(n, [&](uint32_t r) {
      return fr.has_created_by[r] && !fr.created_by_type.IsNull(r) &&
             set.Has(fr.created_by_type.Get(r));
    }));
  }
  if (f.is_null && !level.done()) {
    const bool want_null = *f.is_null;
    level.Add(ScanRows(n, [&](uint32_t r) { return (fr.has_created_by[r] == 0) == want_null; }));
  }
  return level.Finish();
}

// FlowRunFilterParentFlowRunId: R.parent_task_run_id names an existing task
// run whose stored flow_run_id is in `ids`.
Bitmap FlowRunsWithParentFlowRunIn(const Store& s, const std::vector<Uuid>& ids) {
  const UuidSet set(ids);
  if (set.empty()) return Bitmap();
  const FlowRunTable& fr = s.flow_runs;
  return ScanRows(fr.size(), [&](uint32_t r) {
    const RowId parent = fr.parent_task_run_row[r];
    if (parent == kNoRow) return false;
    const std::optional<Uuid>& parent_flow_run = s.task_runs.flow_run_id[parent];
    return parent_flow_run.has_value() && set.Has(*parent_flow_run);
  });
}



// ---------------------------------------------------------------------------
// FlowFilter (4.6) and DeploymentFilter (4.7)



// DeploymentOrFlowNameFilter: deployment name, or its own flow's name.
Pred EvalFlowOrDeploymentName(const ExecContext& ctx, const NameFilter& f) {
  const Store& s = ctx.store;
  if (!f.like || f.like->empty()) return std::nullopt;
  const DeploymentTable& d = s.deployments;
  const bool indexed = s.trigrams.built;
  const CodeMask deployment_names =
      LikeCodes(ctx, s.deployment_names, *f.like, indexed ? &s.trigrams.deployment_names : nullptr,
                &s.folded.deployment_names);
  const CodeMask flow_names =
      LikeCodes(ctx, s.flow_names, *f.like, indexed ? &s.trigrams.flow_names : nullptr,
                &s.folded.flow_names);
  return ScanRows(d.size(), [&](uint32_t r) {
    if (deployment_names->Has(d.name[r])) return true;
    const RowId flow = d.flow_row[r];
    return flow != kNoRow && flow_names->Has(s.flows.name[flow]);
  });
}



}  // namespace

Pred EvalFlowRuns(const ExecContext& ctx, const FlowRunFilter& f) {
  const Store& s = ctx.store;
  const FlowRunTable& fr = s.flow_runs;
  const uint32_t n = fr.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.flow_run_by_id, n));
  const bool indexed = s.trigrams.built;
  if (f.name && !level.done()) {
    level.Add(EvalName(ctx, *f.name, s.flow_run_names, fr.name, nullptr,
                       indexed ? &s.trigrams.flow_run_names : nullptr, &s.folded.flow_run_names));
  }
  if (f.tags && !level.done()) {
    level.Add(EvalTags(ctx, *f.tags, s.tags, fr.tags, n, indexed ? &s.flow_run_index.tags : nullptr,
                       nullptr));
  }
  if (f.deployment_id && !level.done()) level.Add(EvalUuidRef(*f.deployment_id, fr.deployment_id));
  if (f.work_queue_name && !level.done()) {
    level.Add(EvalStringsOnCodes(ctx, *f.work_queue_name, s.work_queue_names, fr.work_queue_name));
  }
  if (f.flow_version && !level.done()) level.Add(EvalStringsOnBlob(*f.flow_version, fr.flow_version));
  if (f.state && !level.done()) {
    level.Add(EvalState(ctx, *f.state, fr.state_type, s.state_names, fr.state_name,
                        indexed ? &s.flow_run_index.state_type : nullptr, nullptr));
  }
  if (f.start_time && !level.done()) {
    // before_/after_ on COALESCE(start_time, expected_start_time); is_null_
    // on start_time alone.
    level.Add(EvalTime(
        *f.start_time, n,
        [&](uint32_t r) {
          return fr.start_time[r] != kNullMicros ? fr.start_time[r] : fr.expected_start_time[r];
        },
        fr.start_time));
  }
  if (f.end_time && !level.done()) level.Add(EvalTime(*f.end_time, fr.end_time));
  if (f.expected_start_time && !level.done()) {
    level.Add(EvalTime(*f.expected_start_time, fr.expected_start_time));
  }
  if (f.next_scheduled_start_time && !level.done()) {
    level.Add(EvalTime(*f.next_scheduled_start_time, fr.next_scheduled_start_time));
  }
  if (f.parent_flow_run_id && !level.done()) {
    // any_ only; the class has no other field.
    level.Add(f.parent_flow_run_id->any ? Pred(FlowRunsWithParentFlowRunIn(s, *f.parent_flow_run_id->any))
                                        : Pred());
  }
  if (f.parent_task_run_id && !level.done()) {
    level.Add(EvalUuidRef(*f.parent_task_run_id, fr.parent_task_run_id));
  }
  if (f.idempotency_key && !level.done()) {
    level.Add(EvalStringsOnBlob(*f.idempotency_key, fr.idempotency_key));
  }
  if (f.created_by && !level.done()) level.Add(EvalCreatedBy(fr, *f.created_by));
  return level.Finish();
}

Pred EvalFlows(const ExecContext& ctx, const FlowFilter& f) {
  const Store& s = ctx.store;
  const FlowTable& fl = s.flows;
  const uint32_t n = fl.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.flow_by_id, n));
  if (f.deployment && !level.done()) {
    if (!f.deployment->is_null) {
      level.Add(Pred());
    } else {
      const bool want_none = *f.deployment->is_null;
      level.Add(ScanRows(n, [&](uint32_t r) {
        const bool has = r < s.flow_has_deployment.size() && s.flow_has_deployment[r];
        return has != want_none;
      }));
    }
  }
  if (f.name && !level.done()) {
    level.Add(EvalName(ctx, *f.name, s.flow_names, fl.name, nullptr,
                       s.trigrams.built ? &s.trigrams.flow_names : nullptr,
                       &s.folded.flow_names));
  }
  if (f.tags && !level.done()) level.Add(EvalTags(ctx, *f.tags, s.tags, fl.tags, n, nullptr, nullptr));
  return level.Finish();
}

Pred EvalDeployments(const ExecContext& ctx, const DeploymentFilter& f) {
  const Store& s = ctx.store;
  const DeploymentTable& d = s.deployments;
  const uint32_t n = d.size();
  Level level(f.op);
  if (f.id && !level.done()) level.Add(EvalId(*f.id, s.deployment_by_id, n));
  if (f.name && !level.done()) {
    level.Add(EvalName(ctx, *f.name, s.deployment_names, d.name, nullptr,
                       s.trigrams.built ? &s.trigrams.deployment_names : nullptr,
                       &s.folded.deployment_names));
  }
  if (f.flow_or_deployment_name && !level.done()) {
    level.Add(EvalFlowOrDeploymentName(ctx, *f.flow_or_deployment_name));
  }
  if (f.paused && !level.done()) {
    if (!f.paused->eq) {
      level.Add(Pred());
    } else {
      const bool want = *f.paused->eq;
      level.Add(ScanRows(n, [&](uint32_t r) { return (d.paused[r] != 0) == want; }));
    }
  }
  if (f.tags && !level.done()) level.Add(EvalTags(ctx, *f.tags, s.tags, d.tags, n, nullptr, nullptr));
  if (f.work_queue_name && !level.done()) {
    level.Add(EvalStringsOnCodes(ctx, *f.work_queue_name, s.work_queue_names, d.work_queue_name));
  }
  // concurrency_limit never adds a criterion.
  return level.Finish();
}

}  // namespace taskdex::engine_internal
