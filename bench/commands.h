// bench/commands.h
//
// Entry points of the taskdex subcommands that live in bench/. Each takes the
// arguments after the command name and returns the process exit status.

#ifndef TASKDEX_BENCH_COMMANDS_H_
#define TASKDEX_BENCH_COMMANDS_H_

namespace taskdex {

// `taskdex generate`: writes a synthetic snapshot (bench/generator.h).
int RunGenerate(int argc, char** argv);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_COMMANDS_H_
