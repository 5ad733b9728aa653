// api/serve_command.h
//
// `taskdex serve`: loads a snapshot in the background and serves Prefect's
// task-run read API over HTTP (api/http_server.h) until SIGTERM or SIGINT.
//
// Thread safety: call from main() only (it installs signal handling).

#ifndef TASKDEX_API_SERVE_COMMAND_H_
#define TASKDEX_API_SERVE_COMMAND_H_

namespace taskdex {

// argv holds the options after "serve". Returns the process exit status.
int RunServe(int argc, char** argv);

}  // namespace taskdex

#endif  // TASKDEX_API_SERVE_COMMAND_H_
