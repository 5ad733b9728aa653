// index/status_macros.h
//
// Debian 12's Abseil (20220623) predates ABSL_RETURN_IF_ERROR, so taskdex
// carries its own two macros. Nothing else lives here.

#ifndef TASKDEX_INDEX_STATUS_MACROS_H_
#define TASKDEX_INDEX_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TASKDEX_RETURN_IF_ERROR(expr)                    \
  do {                                                   \
    ::absl::Status taskdex_status_ = (expr);             \
    if (!taskdex_status_.ok()) return taskdex_status_;   \
  } while (0)

#define TASKDEX_STATUS_CONCAT_INNER_(a, b) a##b
#define TASKDEX_STATUS_CONCAT_(a, b) TASKDEX_STATUS_CONCAT_INNER_(a, b)

// TASKDEX_ASSIGN_OR_RETURN(auto x, Foo());
#define TASKDEX_ASSIGN_OR_RETURN(lhs, expr) \
  TASKDEX_ASSIGN_OR_RETURN_IMPL_(TASKDEX_STATUS_CONCAT_(taskdex_statusor_, __LINE__), lhs, expr)
#define TASKDEX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // TASKDEX_INDEX_STATUS_MACROS_H_
