// engine/internal/exec_context.h
//
// The explicit context of one query execution: the Store it reads, the
// planner overrides and the trace (ExecOptions, engine/executor.h). Every
// planner and executor function takes it as its first argument; nothing is
// read from thread-locals or globals. Lives on the stack of Paginate/Count
// for the duration of one call.
//
// Thread safety: one context per call; the Store is shared read-only.

#ifndef TASKDEX_ENGINE_INTERNAL_EXEC_CONTEXT_H_
#define TASKDEX_ENGINE_INTERNAL_EXEC_CONTEXT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "engine/executor.h"
#include "engine/store.h"

namespace taskdex::engine_internal {

struct ExecContext {
  const Store& store;
  const ExecOptions& options;

  bool tracing() const { return options.trace != nullptr; }

  // Whether a leaf uses its index: forced by options.access, or `cheaper`.
  bool UseIndex(bool available, bool cheaper) const {
    if (!available) return false;
    switch (options.access) {
      case AccessPathChoice::kIndex:
        return true;
      case AccessPathChoice::kScan:
        return false;
      case AccessPathChoice::kAuto:
        break;
    }
    return cheaper;
  }
};

// Records one plan step when tracing; call Done() with the result size.
class StepTimer {
 public:
  using Clock = std::chrono::steady_clock;
  // Nothing is copied unless the context traces (`path_prefix` + `path`
  // is the step's path).
  StepTimer(const ExecContext& ctx, std::string_view what, std::string_view path,
            int64_t estimate = -1, std::string alternatives = {},
            std::string_view path_prefix = {})
      : trace_(ctx.options.trace) {
    if (trace_ == nullptr) return;
    step_.what = std::string(what);
    step_.path = std::string(path_prefix);
    step_.path += path;
    step_.estimate = estimate;
    step_.alternatives = std::move(alternatives);
    start_ = Clock::now();
  }
  void Done(uint64_t actual) {
    if (trace_ == nullptr) return;
    step_.actual = actual;
    step_.micros = std::chrono::duration<double, std::micro>(Clock::now() - start_).count();
    trace_->push_back(std::move(step_));
    trace_ = nullptr;
  }

 private:
  std::vector<PlanStep>* trace_;
  PlanStep step_;
  Clock::time_point start_;
};

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_EXEC_CONTEXT_H_
