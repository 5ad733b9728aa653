// api/save_command.h
//
// `taskdex save`: loads a snapshot (NDJSON or binary) and writes it as a
// binary snapshot (engine/binary_snapshot.h), which later loads without
// parsing or index builds.

#ifndef TASKDEX_API_SAVE_COMMAND_H_
#define TASKDEX_API_SAVE_COMMAND_H_

namespace taskdex {

// argv holds the options after "save". Returns the process exit status.
int RunSave(int argc, char** argv);

}  // namespace taskdex

#endif  // TASKDEX_API_SAVE_COMMAND_H_
