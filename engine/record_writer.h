// engine/record_writer.h
//
// Records (engine/records.h) written back as lines of the snapshot format
// (entities.md 4): the inverse of the Parse*Line functions of
// engine/snapshot_loader.h, for change files (engine/change_file.h), data
// generators and tests. For every record the line parsers produce,
// Parse*Line(*Line(r)) == r field by field.
//
// Conventions:
//  - One minified JSON object, no trailing newline. Keys in the order of
//    entities.md 2 (for task runs: table 2.1, then `state`, then the extras).
//  - UUIDs lowercase hyphenated; datetimes as engine/datetime.h writes them
//    ("2024-05-01T10:00:05Z", "...05.250000Z": Prefect's 0 or 6 fractional
//    digits); strings escaped as engine/text_format.h's AppendJsonString;
//    total_run_time in seconds as pydantic writes floats.
//  - Sub-documents (state, empirical_policy, task_inputs, labels, extras)
//    are spliced in as stored: they are already minified, normalized JSON.
//  - Task runs: `estimated_run_time` and `estimated_start_time_delta` are
//    not written (the loader ignores them). `parameters` and `context` are
//    written only as part of extras_json, which is where the loader keeps
//    them (entities.md 4.3); parameters_json / context_json are derived
//    from it.
//
// REQUIRES (what the loader guarantees of its records): strings are valid
// UTF-8; times lie in years 1..9999; extras_json is empty or
// `,"key":value...` with no key of table 2.1 other than parameters/context,
// and parameters_json / context_json agree with it; state_json,
// empirical_policy_json, task_inputs_json, labels_json are valid JSON of
// their kind. Records that break these write lines that do not read back
// equal (or do not read back at all).
//
// Pure functions; thread-safe.

#ifndef TASKDEX_ENGINE_RECORD_WRITER_H_
#define TASKDEX_ENGINE_RECORD_WRITER_H_

#include <string>

#include "engine/records.h"

namespace taskdex {

std::string TaskRunLine(const TaskRunRecord& r);
std::string FlowRunLine(const FlowRunRecord& r);
std::string FlowLine(const FlowRecord& r);
std::string DeploymentLine(const DeploymentRecord& r);

// The same, appended to `out` (for writers of many lines).
void AppendTaskRunLine(const TaskRunRecord& r, std::string* out);
void AppendFlowRunLine(const FlowRunRecord& r, std::string* out);
void AppendFlowLine(const FlowRecord& r, std::string* out);
void AppendDeploymentLine(const DeploymentRecord& r, std::string* out);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_RECORD_WRITER_H_
