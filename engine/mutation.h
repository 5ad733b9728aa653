// engine/mutation.h
//
// A batch of changes to the four entities (entities.md 3), as a change file
// line or Engine::Apply takes them. Plain data: the change-file parser
// (engine/change_file.h) makes batches, the live store (engine/live_store.h)
// applies them.
//
// Conventions:
//  - A batch is applied in order, atomically: readers see all of it or none.
//  - An upsert carries a whole row (a line of the snapshot format,
//    entities.md 4) and replaces the row with the same id whole.
//  - A delete names an id; deleting an id that is not there is not an error
//    (as a replayed DELETE in Prefect). Cascades follow entities.md 3.

#ifndef TASKDEX_ENGINE_MUTATION_H_
#define TASKDEX_ENGINE_MUTATION_H_

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/records.h"
#include "engine/types.h"

namespace taskdex {

enum class EntityKind : uint8_t { kFlow, kDeployment, kFlowRun, kTaskRun };
enum class ChangeOp : uint8_t { kUpsert, kDelete };

// "flow", "deployment", "flow_run", "task_run": the change file's names.
std::string_view EntityKindName(EntityKind kind);

struct Change {
  ChangeOp op = ChangeOp::kUpsert;
  EntityKind entity = EntityKind::kTaskRun;
  // The id of the row: the deleted id, or the upserted row's own id.
  Uuid id;
  // For an upsert, the row (its alternative matches `entity`); monostate
  // for a delete.
  std::variant<std::monostate, FlowRecord, DeploymentRecord, FlowRunRecord, TaskRunRecord> row;
};

struct Batch {
  std::vector<Change> changes;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_MUTATION_H_
