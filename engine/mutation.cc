#include "engine/mutation.h"

namespace taskdex {

std::string_view EntityKindName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kFlow:
      return "flow";
    case EntityKind::kDeployment:
      return "deployment";
    case EntityKind::kFlowRun:
      return "flow_run";
    case EntityKind::kTaskRun:
      return "task_run";
  }
  return "task_run";
}

}  // namespace taskdex
