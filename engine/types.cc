#include "engine/types.h"

namespace taskdex {
namespace {

constexpr std::string_view kStateNames[kNumStateTypes] = {
    "SCHEDULED", "PENDING", "RUNNING",  "COMPLETED", "FAILED",
    "CANCELLED", "CRASHED", "PAUSED",   "CANCELLING"};
constexpr std::string_view kStateDefaultNames[kNumStateTypes] = {
    "Scheduled", "Pending", "Running",  "Completed", "Failed",
    "Cancelled", "Crashed", "Paused",   "Cancelling"};
constexpr std::string_view kSortNames[kNumTaskRunSorts] = {
    "ID_DESC",   "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC",
    "NAME_ASC",  "NAME_DESC",               "NEXT_SCHEDULED_START_TIME_ASC",
    "END_TIME_DESC"};

}  // namespace

std::string_view StateTypeName(StateType t) { return kStateNames[static_cast<int>(t)]; }

std::string_view StateTypeDefaultName(StateType t) {
  return kStateDefaultNames[static_cast<int>(t)];
}

std::optional<StateType> ParseStateType(std::string_view s) {
  for (int i = 0; i < kNumStateTypes; ++i) {
    if (kStateNames[i] == s) return static_cast<StateType>(i);
  }
  return std::nullopt;
}

bool IsTerminal(StateType t) {
  return t == StateType::kCompleted || t == StateType::kCancelled ||
         t == StateType::kFailed || t == StateType::kCrashed;
}

std::string_view TaskRunSortName(TaskRunSort s) { return kSortNames[static_cast<int>(s)]; }

std::optional<TaskRunSort> ParseTaskRunSort(std::string_view s) {
  for (int i = 0; i < kNumTaskRunSorts; ++i) {
    if (kSortNames[i] == s) return static_cast<TaskRunSort>(i);
  }
  return std::nullopt;
}

}  // namespace taskdex
