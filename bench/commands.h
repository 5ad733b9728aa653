// bench/commands.h
//
// The bench/ subcommands of the taskdex executable (api/main.cc dispatches
// to them). Each takes the arguments after the command name and returns the
// process exit status.

#ifndef TASKDEX_BENCH_COMMANDS_H_
#define TASKDEX_BENCH_COMMANDS_H_

namespace taskdex {

// `taskdex generate`: writes a synthetic snapshot (bench/generator.h).
int RunGenerate(int argc, char** argv);

// `taskdex bench`: times request bodies against a snapshot.
int RunBench(int argc, char** argv);

// `taskdex bench-source`: the database source against PostgreSQL
// (bench/source_bench.cc).
int RunBenchSource(int argc, char** argv);

}  // namespace taskdex

#endif  // TASKDEX_BENCH_COMMANDS_H_
