// engine/internal/plan_node.cc

#include "engine/internal/plan_node.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "engine/internal/leaf_eval.h"
#include "engine/plan_cost.h"

namespace taskdex::engine_internal {
namespace {

using namespace plan_cost;  // NOLINT

double Us(double ns) { return ns / 1000; }

// Keeps the rows of `rows` that pass node.check, prefetching the checked
// address a few rows ahead when the node gives one.
Bitmap CheckRows(const Bitmap& rows, const PlanNode& node) {
  if (node.check_addr) {
    const auto& addr = node.check_addr;
    return FilterRows(rows, node.check, [&addr](uint32_t r) { return addr(r); });
  }
  return FilterRows(rows, node.check);
}

// Cost of materializing `node` and intersecting it with `c` candidates.
double MaterializeAndIntersect(PlanNode& node, uint64_t c) {
  return node.materialize_ns +
         kIntersectRowNs * static_cast<double>(c + std::min<uint64_t>(node.estimate, c * 64 + 4096));
}

}  // namespace

PlanNode KnownRows(std::string what, Bitmap rows, double check_ns) {
  PlanNode node;
  node.what = std::move(what);
  node.estimate = rows.cardinality();
  node.materialize_ns = BitmapNs(node.estimate, node.estimate * 8);
  node.check_ns = check_ns;
  auto shared = std::make_shared<const Bitmap>(std::move(rows));
  node.path = "known rows";
  node.materialize = [shared] { return *shared; };
  node.check = [shared](RowId r) { return shared->contains(r); };
  node.exact_count = [shared] { return shared->cardinality(); };
  return node;
}

PlanNode NoRows(std::string what) {
  PlanNode node;
  node.what = std::move(what);
  node.estimate = 0;
  node.materialize_ns = 0;
  node.check_ns = 1;
  node.path = "no rows";
  node.no_rows = true;
  node.materialize = [] { return Bitmap(); };
  node.check = [](RowId) { return false; };
  return node;
}

Bitmap RunAnd(const ExecContext& ctx, std::vector<PlanNode>& kids, uint32_t n) {
  if (kids.empty()) return AllRows(n);
  for (const PlanNode& k : kids) {
    if (k.no_rows) {
      StepTimer step(ctx, k.what, k.path, 0, {}, "and_ is FALSE: ");
      step.Done(0);
      return Bitmap();
    }
  }
  if (kids.size() == 1) {
    // Nothing to choose: no estimate (a like_ would sample rows for it).
    PlanNode& d = kids[0];
    StepTimer step(ctx, d.what, d.path, -1, {}, "only criterion: ");
    Bitmap b = d.materialize();
    step.Done(b.cardinality());
    return b;
  }
  const ConjunctChoice forced = ctx.options.conjunct;
  // The driver: the node whose materialization plus the checks of the
  // others on its rows costs least. A lazy estimate is computed only for a
  // node that could win on its materialization cost alone.
  double other_checks = 0;
  for (const PlanNode& k : kids) other_checks += k.check_ns;
  size_t driver = 0;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < kids.size(); ++i) {
    PlanNode& k = kids[i];
    if (k.force_check && kids.size() > 1) continue;
    if (k.materialize_ns >= best) continue;
    const double score =
        k.materialize_ns + static_cast<double>(k.Estimate()) * (other_checks - k.check_ns);
    if (score < best) {
      best = score;
      driver = i;
    }
  }
  if (best == std::numeric_limits<double>::infinity()) driver = 0;
  std::swap(kids[0], kids[driver]);
  std::optional<Bitmap> candidates;
  {
    PlanNode& d = kids[0];
    StepTimer step(ctx, d.what, d.path, static_cast<int64_t>(d.estimate),
                   ctx.tracing() ? absl::StrFormat("materialize %.1fus, est %d rows",
                                                   Us(d.materialize_ns), d.estimate)
                                 : std::string(),
                   "driver: ");
    candidates = d.materialize();
    step.Done(candidates->cardinality());
  }
  // The others, most selective first (lazy estimates stay at their bound).
  std::sort(kids.begin() + 1, kids.end(),
            [](const PlanNode& a, const PlanNode& b) { return a.estimate < b.estimate; });
  for (size_t i = 1; i < kids.size() && !candidates->isEmpty(); ++i) {
    PlanNode& k = kids[i];
    const uint64_t c = candidates->cardinality();
    double check_cost = static_cast<double>(c) * k.check_ns;
    const bool prepare =
        k.prepare_check && k.prepare_ns + static_cast<double>(c) * k.prepared_check_ns < check_cost;
    if (prepare) check_cost = k.prepare_ns + static_cast<double>(c) * k.prepared_check_ns;
    const double mat_cost = MaterializeAndIntersect(k, c);
    bool check = check_cost <= mat_cost;
    if (k.force_check || forced == ConjunctChoice::kFilterCandidates) check = true;
    if (forced == ConjunctChoice::kMaterialize && !k.force_check) check = false;
    const std::string alternatives =
        ctx.tracing() ? absl::StrFormat("check %d rows %.1fus %s materialize %.1fus",
                                        c, Us(check_cost), check_cost <= mat_cost ? "<=" : ">",
                                        Us(mat_cost))
                      : std::string();
    if (check) {
      if (prepare) {
        k.check = k.prepare_check();
        k.check_ns = k.prepared_check_ns;
      }
      StepTimer step(ctx, k.what, prepare ? "check candidates (prepared)" : "check candidates",
                     static_cast<int64_t>(c), alternatives);
      Bitmap b = CheckRows(*candidates, k);
      step.Done(b.cardinality());
      candidates = std::move(b);
    } else {
      StepTimer step(ctx, k.what, k.path, static_cast<int64_t>(k.estimate), alternatives,
                     "intersect: ");
      *candidates &= k.materialize();
      step.Done(candidates->cardinality());
    }
  }
  return std::move(*candidates);
}

std::optional<PlanNode> MakeLevel(const ExecContext& ctx, BoolOp op, std::string what,
                                  std::vector<std::optional<PlanNode>> kids, uint32_t n) {
  if (kids.empty()) return std::nullopt;
  std::vector<PlanNode> parts;
  for (std::optional<PlanNode>& k : kids) {
    if (!k) {
      if (op == BoolOp::kOr) return std::nullopt;  // TRUE absorbs the OR
      continue;                                    // and vanishes from an AND
    }
    parts.push_back(std::move(*k));
  }
  if (parts.empty()) return std::nullopt;
  // FALSE decides an AND and vanishes from an OR (an OR of only FALSE is
  // FALSE): no estimate or evaluation is spent on the rest.
  if (op == BoolOp::kAnd) {
    for (PlanNode& k : parts) {
      if (k.no_rows) return NoRows(what);
    }
  } else {
    std::erase_if(parts, [](const PlanNode& k) { return k.no_rows; });
    if (parts.empty()) return NoRows(what);
  }
  if (parts.size() == 1) return std::move(parts[0]);
  auto shared = std::make_shared<std::vector<PlanNode>>(std::move(parts));
  PlanNode node;
  node.what = std::move(what);
  double check_ns = 0;
  double prepare_ns = 0;
  double prepared_check_ns = 0;
  for (const PlanNode& k : *shared) {
    check_ns += k.check_ns;
    prepare_ns += k.prepare_check ? k.prepare_ns : 0;
    prepared_check_ns += k.prepare_check ? k.prepared_check_ns : k.check_ns;
  }
  node.check_ns = check_ns;
  const ExecContext* c = &ctx;
  if (op == BoolOp::kAnd) {
    // Rows under independence: n * prod(est_i / n); the driver's cost.
    node.estimate_fn = [shared, n] {
      double rows = n;
      for (PlanNode& k : *shared) rows *= n == 0 ? 0 : static_cast<double>(k.Estimate()) / n;
      return static_cast<uint64_t>(rows);
    };
    uint64_t min_est = n;
    double min_mat = std::numeric_limits<double>::infinity();
    for (const PlanNode& k : *shared) {
      min_est = std::min(min_est, k.estimate);
      min_mat = std::min(min_mat, k.materialize_ns);
    }
    node.estimate = min_est;
    node.materialize_ns = min_mat + static_cast<double>(min_est) * check_ns;
    node.path = "and_ of its criteria";
    node.materialize = [shared, c, n] { return RunAnd(*c, *shared, n); };
    node.check = [shared](RowId r) {
      for (const PlanNode& k : *shared) {
        if (!k.check(r)) return false;
      }
      return true;
    };
  } else {
    uint64_t sum = 0;
    double mat = 0;
    for (const PlanNode& k : *shared) {
      sum += k.estimate;
      mat += k.materialize_ns + BitmapNs(k.estimate, n);
    }
    node.estimate = std::min<uint64_t>(sum, n);
    node.materialize_ns = mat;
    node.path = "union of its criteria";
    node.materialize = [shared, c] {
      std::vector<Bitmap> rows;
      rows.reserve(shared->size());
      for (PlanNode& k : *shared) {
        StepTimer step(*c, k.what, k.path, static_cast<int64_t>(k.estimate), {}, "or_ branch: ");
        rows.push_back(k.materialize());
        step.Done(rows.back().cardinality());
      }
      return UnionAll(rows);
    };
    node.check = [shared](RowId r) {
      for (const PlanNode& k : *shared) {
        if (k.check(r)) return true;
      }
      return false;
    };
  }
  if (prepare_ns > 0) {
    // Buying a child's cheaper check buys the level's: the level's check
    // reads each child's (replaced) check.
    node.prepare_ns = prepare_ns;
    node.prepared_check_ns = prepared_check_ns;
    node.prepare_check = [shared, check = node.check] {
      for (PlanNode& k : *shared) {
        if (!k.prepare_check) continue;
        k.check = k.prepare_check();
        k.check_ns = k.prepared_check_ns;
        k.prepare_check = nullptr;
      }
      return check;
    };
  }
  return node;
}

}  // namespace taskdex::engine_internal
