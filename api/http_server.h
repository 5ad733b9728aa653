// api/http_server.h
//
// taskdex's HTTP server: Prefect's task-run read API (paginate.md 1, 3, 9.1-9.4)
// served from an Engine with cpp-httplib, plus health, readiness and
// Prometheus metrics endpoints.
//
//   POST /api/task_runs/paginate | filter | count | history
//   GET  /api/task_runs/{id}
//   GET  /api/health, /api/ready, /livez, /readyz, /metrics
//
// Requests are answered as Prefect does: the body is read per paginate.md 1.1
// (empty body, default_content_type middleware, media-type rules), then the
// X-PREFECT-API-VERSION check (1.2), then validation (3). Framing follows
// RFC 9112 6.3 as uvicorn/h11 does: no Content-Length and no
// Transfer-Encoding means an empty body, answered at once; a
// Transfer-Encoding other than "chunked" is 400 and closes the connection.
// An empty `Content-Type:` header is kept (not JSON: the body is ignored),
// which cpp-httplib's parser alone would drop. Unknown paths give
// 404 {"detail":"Not Found"}, known paths with another method 405
// {"detail":"Method Not Allowed"} (Starlette's bodies); a path that matches
// only after toggling its trailing slash gets Starlette's 307 redirect.
// Optional basic auth (PREFECT_SERVER_API_AUTH_STRING) answers 401
// {"exception_message":"Unauthorized"} on /api paths and /metrics; GET
// /api/health and GET /api/ready are exempt, as in Prefect's middleware
// (src/prefect/server/api/server.py, create_api_app).
//
// The engine may be supplied after the server starts (background loading):
// until SetEngine, /api/ready answers Prefect's 503 {"message":"Database is
// not available"}, /readyz 503 with the load progress, and the query
// endpoints 503 {"exception_message":"Service Unavailable"}.
//
// Thread safety: Start/Stop from one controlling thread; SetEngine and
// SetLoadProgress from any thread; requests are served by a fixed pool of
// worker threads fed by a bounded queue of accepted connections.

#ifndef TASKDEX_API_HTTP_SERVER_H_
#define TASKDEX_API_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "api/taskdex.h"

namespace taskdex {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError, kOff };

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 4200;  // 0: any free port (see HttpServer::port())
  int threads = 8;  // worker threads
  // Accepted connections waiting for a worker. When the queue is full, the
  // accepting thread answers the new connection itself with 503 and
  // `Connection: close` (see BoundedPool in http_server.cc), so a flood of
  // connections cannot grow memory; while it does so it accepts nothing
  // else, which is the back-pressure (the kernel's listen backlog fills).
  int max_queued = 64;
  // "user:pass" for HTTP basic auth; nullopt: no authentication. As in
  // Prefect (`if auth_string is not None`), an empty string turns auth ON:
  // only credentials that decode to "" pass (e.g. `Authorization: Basic =`).
  std::optional<std::string> auth_string;
  size_t max_body_bytes = size_t{1} << 20;  // larger bodies: 413
  // The request head (request line and header lines): more header lines or
  // more bytes than these get 431 and the connection is closed. ~3M small
  // headers grew the server by 440 MB before these limits.
  size_t max_header_count = 100;
  size_t max_header_bytes = 64 * 1024;
  int slow_ms = 1000;                       // warn about slower requests
  LogLevel log_level = LogLevel::kInfo;
  int read_timeout_seconds = 5;   // per read of headers or body
  int write_timeout_seconds = 5;  // per write
  int keep_alive_seconds = 5;     // idle keep-alive connections are closed after this
  int64_t default_limit = kDefaultLimit;
  // POST /taskdex/v1/apply (a change file as body, behind the same auth as
  // the API) is answered only when true; else 403.
  bool enable_writes = false;
  FILE* log = stderr;  // request log (JSON lines); nullptr: none
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // Stops the server if running.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on a background thread. Errors: Unavailable
  // (cannot bind).
  absl::Status Start();
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops accepting, lets in-flight requests finish, joins the threads.
  void Stop();

  // Makes the server ready. Takes ownership; call once.
  void SetEngine(std::unique_ptr<Engine> engine);
  // Load progress for /metrics.
  void SetLoadProgress(uint64_t bytes_done, uint64_t bytes_total, uint64_t lines_done);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
  int port_ = 0;
  std::thread thread_;
};

// Python int() of one part of X-PREFECT-API-VERSION, compared with the
// minimum: returns the version check's error body text (the whole detail
// message), or an empty string when `value` is acceptable (paginate.md 1.2).
std::string CheckApiVersion(std::string_view value);

// gzip-compresses `in` (RFC 1952). Returns false on a zlib error.
bool GzipCompress(std::string_view in, std::string* out);

}  // namespace taskdex

#endif  // TASKDEX_API_HTTP_SERVER_H_
