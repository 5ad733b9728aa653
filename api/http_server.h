// api/http_server.h
//
// taskdex's HTTP server: Prefect's task-run read API (paginate.md 1, 3, 9.1-9.4)
// served from an Engine, plus health, readiness and Prometheus metrics
// endpoints. Connections, framing, limits and deadlines are the transport's
// (api/http_transport.h, Boost.Beast); this layer is Prefect's rules.
//
//   POST /api/task_runs/paginate | filter | count | history
//   GET  /api/task_runs/{id}
//   GET  /api/health, /api/ready, /livez, /readyz, /metrics
//
// Requests are answered as Prefect does: the body is read per paginate.md 1.1
// (empty body, default_content_type middleware, media-type rules), then the
// X-PREFECT-API-VERSION check (1.2), then validation (3). Framing follows
// RFC 9112 6.3 as uvicorn/h11 does (see the transport). An empty
// `Content-Type:` header is kept (not JSON: the body is ignored). Unknown
// paths give
// 404 {"detail":"Not Found"}, known paths with another method 405
// {"detail":"Method Not Allowed"} (Starlette's bodies); a path that matches
// only after toggling its trailing slash gets Starlette's 307 redirect.
// With ServerOptions::upstream, all of those go to Prefect's server
// instead (api/upstream_proxy.h): taskdex answers only the routes above.
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
// SetLoadProgress from any thread; requests are served by a fixed set of
// event-loop threads (an idle keep-alive connection holds no thread), the
// ones that may run long by a bounded pool (ServerOptions::query_threads).

#ifndef TASKDEX_API_HTTP_SERVER_H_
#define TASKDEX_API_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "api/http_message.h"
#include "api/taskdex.h"
#include "engine/db_follow_loop.h"

namespace taskdex {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError, kOff };

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 4200;  // 0: any free port (see HttpServer::port())
  // Event-loop threads; each serves its connections and answers their
  // requests (api/http_transport.h). One more thread accepts.
  int threads = 8;
  // Requests that may run long enough to stall an event loop are answered
  // on a pool of query_threads threads instead (api/http_transport.h):
  // /api/task_runs/history, /taskdex/v1/apply, and the query routes
  // (paginate, filter, count) once the store holds more than
  // inline_max_task_runs task runs. At most max_queued wait or run there;
  // the next is answered 503 {"exception_message":"Service Unavailable"}.
  // query_threads 0: every request inline.
  int query_threads = 4;
  size_t max_queued = 64;
  uint64_t inline_max_task_runs = kInlineMaxTaskRuns;
  // Measured (bench/RESULTS.md session 9): at 1M realistic task runs the
  // slowest of 2,000 random /paginate bodies costs 4 ms, the p99 2.7 ms;
  // a query's cost grows with the rows, so up to 2M one stays near 10 ms
  // on its loop, and beyond, queries go to the pool.
  static constexpr uint64_t kInlineMaxTaskRuns = 2'000'000;
  // Open connections; the next one is answered 503
  // {"exception_message":"Service Unavailable"} with `Retry-After: 1` and
  // closed at once.
  size_t max_connections = 4096;
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
  // The whole request head must arrive within this many seconds of its
  // first awaited byte, and the whole body within as many again (not per
  // read: a trickling client is closed at the deadline).
  int read_timeout_seconds = 5;
  int write_timeout_seconds = 5;  // the whole answer
  int keep_alive_seconds = 5;     // idle keep-alive connections are closed after this
  // Stop(): connections still busy after this many seconds are closed.
  int shutdown_timeout_seconds = 10;
  int64_t default_limit = kDefaultLimit;
  // POST /taskdex/v1/apply (a change file as body, behind the same auth as
  // the API) is answered only when true; else 403.
  bool enable_writes = false;
  // POST /taskdex/v1/checkpoint (behind the same auth as the API) calls
  // this and answers its Response; empty: 403. `taskdex serve
  // --checkpoint-dir` sets it (api/serve_command.cc: the engine's Save
  // with the follower's position).
  std::function<Response()> checkpoint;
  FILE* log = stderr;  // request log (JSON lines); nullptr: none
  // A database the server follows (engine/db_follow_loop.h): its
  // taskdex_source_* metrics are added to /metrics, and /readyz answers 503
  // {"message":<why>} while it is loading or staler than its
  // --max-staleness. Not owned; must outlive Stop().
  const DbFollowLoop* source = nullptr;

  // Front for Prefect's server (api/upstream_proxy.h): "http://host:port",
  // or empty for none. Every request taskdex does not answer itself (an
  // unknown path, another method on a known one, a trailing-slash variant)
  // is forwarded there instead of answered 404/405/307; auth on forwarded
  // requests is the upstream's.
  std::string upstream;
  size_t upstream_max_connections = 64;
  int upstream_timeout_seconds = 60;
  // Forwarded bodies may be larger than max_body_bytes (Prefect takes
  // large artifact and block bodies); they are read whole, within
  // upstream_timeout_seconds, before forwarding.
  size_t upstream_max_body_bytes = size_t{100} << 20;
  // Called on an event loop after a forwarded request's answer was relayed
  // (status: what the client got; 101 when a tunnel closed). Nullable. The
  // hook for read-your-writes (--fresh-reads): a forwarded write that
  // touches task runs is seen here.
  std::function<void(const HttpRequest&, int status)> on_forwarded;
  // Read-your-writes (--fresh-reads; needs `upstream` and `source`): after
  // a client's write that touches runs was forwarded and answered (a POST,
  // PUT, PATCH or DELETE under /api/task_runs, /api/flow_runs, /api/flows
  // or /api/deployments, not a read such as .../filter, status < 400), that
  // client's next task-run read waits until a poll of the database that
  // started after the answer has succeeded, at most
  // fresh_reads_timeout_ms (then it is answered from what is there). The
  // client is its address. Such a read is answered on the query pool, so
  // its wait holds no event loop.
  bool fresh_reads = false;
  int fresh_reads_timeout_ms = 2000;
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
  // Stops accepting, closes idle and half-read connections, answers the
  // requests in flight, closes what is left after shutdown_timeout_seconds
  // and joins the threads.
  void Stop();

  // Makes the server ready. Takes ownership; call once.
  void SetEngine(std::unique_ptr<Engine> engine);
  // Load progress for /metrics.
  void SetLoadProgress(uint64_t bytes_done, uint64_t bytes_total, uint64_t lines_done);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
  int port_ = 0;
};

// Python int() of one part of X-PREFECT-API-VERSION, compared with the
// minimum: returns the version check's error body text (the whole detail
// message), or an empty string when `value` is acceptable (paginate.md 1.2).
std::string CheckApiVersion(std::string_view value);

// gzip-compresses `in` (RFC 1952). Returns false on a zlib error.
bool GzipCompress(std::string_view in, std::string* out);

}  // namespace taskdex

#endif  // TASKDEX_API_HTTP_SERVER_H_
