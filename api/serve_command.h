// api/serve_command.h
//
// `taskdex serve`: loads a snapshot in the background and serves Prefect's
// task-run read API over HTTP (api/http_server.h) until SIGTERM or SIGINT.
//
// Thread safety: call from main() only (it installs signal handling).

#ifndef TASKDEX_API_SERVE_COMMAND_H_
#define TASKDEX_API_SERVE_COMMAND_H_

#include <optional>
#include <string>

namespace taskdex {

// The auth string the environment asks for: TASKDEX_AUTH_STRING, else
// PREFECT_SERVER_API_AUTH_STRING. A variable set to "" counts as set (auth
// on with empty credentials), as Prefect's `if auth_string is not None`
// does for PREFECT_SERVER_API_AUTH_STRING=; nullopt when neither is set.
std::optional<std::string> AuthStringFromEnv();

// argv holds the options after "serve". Returns the process exit status.
int RunServe(int argc, char** argv);

}  // namespace taskdex

#endif  // TASKDEX_API_SERVE_COMMAND_H_
