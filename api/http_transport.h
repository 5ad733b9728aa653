// api/http_transport.h
//
// The connection layer of `taskdex serve`: an event-driven HTTP/1.1 server
// on Boost.Beast / Boost.Asio in which an idle or slow connection costs
// memory (a few KiB), not a thread. It reads and frames requests and
// writes answers; what a request means is the Handler's business
// (api/http_server.cc).
//
// Threads. `workers` event loops, one thread each; a new connection goes
// to the loop with the fewest connections and stays there, and the
// acceptor has a loop and thread of its own. Where a request is answered
// is the Placement's call (the owner knows what a request costs):
//  - inline, on its connection's loop, for the requests that are cheap:
//    no hand-off between threads (handing every request to a worker pool
//    cost ~30-45% of throughput on 2 cores in futex wake-ups;
//    bench/RESULTS.md session 8). Such a request delays only the other
//    connections of its own loop, for as long as it runs;
//  - on the pool (`pool_threads` threads) for the requests that may run
//    long, so they cannot stall a loop: at most `max_queued` of them wait
//    or run at once; the next is answered 503 (and closed) at once. The
//    answer is written back on the connection's loop.
// A connection holds no thread while it is idle or while its request is
// being read, so keep-alive clients are bounded by `max_connections`, not
// by the threads. A connection has at most one request in flight (no
// pipelining: the next head is read after the answer is written).
//
// Limits and deadlines (why: issue 11 -- per-read timeouts let a client
// trickling one byte every 2 s hold a thread forever, and unbounded heads
// grew memory by 440 MB):
//  - the whole head (request line and headers) must arrive within
//    head_timeout_ms of its first byte being awaited; an idle keep-alive
//    connection is closed after keep_alive_ms; the whole body within
//    body_timeout_ms; each answer must be written within write_timeout_ms.
//    A connection past a deadline is closed without an answer, as uvicorn
//    does.
//  - at most max_header_count header lines and max_header_bytes bytes of
//    head: 431, closed; a body over max_body_bytes, whatever its transfer
//    coding: 413, closed (a Content-Length over the limit at once, before
//    any body byte is read).
//  - at most max_connections open connections: the next one is answered
//    503 and closed at once; the listen backlog is `backlog`.
//  - at most max_queued requests on the pool (above): 503, closed.
// Framing as h11 (uvicorn, Prefect's server) does it: a request the parser
// cannot read (bad request line, header, chunk, Content-Length, a
// Transfer-Encoding other than chunked) is answered 400 once and the
// connection closed, so no leftover bytes are read as a next request;
// chunk extensions are accepted. `Expect: 100-continue` is answered before
// the body is read.
//
// Forwarding (SetForwarding, api/upstream_proxy.h): requests the owner
// does not answer go to an upstream instead of the Handler; their bodies
// have a limit and deadline of their own, and their connection is lent to
// the proxy until the answer is relayed (or, for a WebSocket tunnel,
// until either side closes: in flight all along, so Stop() closes it at
// the shutdown timeout).
//
// Stop() stops accepting, closes connections that have no request in
// flight, lets handlers running or queued finish and their answers be
// written (with `Connection: close`), then closes whatever is left after
// shutdown_timeout_ms, drops pool requests not yet started, and joins
// every thread. So Stop() returns within the shutdown timeout plus the
// longest handler, whatever the clients do.
//
// Thread safety: Start and Stop from one controlling thread; Stats() from
// any thread; the handler, placement and error-answer callbacks from any of
// the transport's threads, concurrently.

#ifndef TASKDEX_API_HTTP_TRANSPORT_H_
#define TASKDEX_API_HTTP_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api/http_message.h"

namespace taskdex {

class UpstreamProxy;  // api/upstream_proxy.h

struct TransportOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int workers = 8;                // event loops, each answering its connections' requests
  int pool_threads = 0;           // threads for the requests placed off the loops (0: none)
  size_t max_queued = 64;         // requests waiting for or running on the pool; beyond: 503
  size_t max_connections = 4096;  // open connections; beyond: 503 and close
  int backlog = 1024;             // listen backlog (the kernel caps it at somaxconn)
  size_t max_header_count = 100;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = size_t{1} << 20;
  int head_timeout_ms = 5000;
  int body_timeout_ms = 5000;
  int keep_alive_ms = 5000;
  int write_timeout_ms = 5000;
  int shutdown_timeout_ms = 10000;
};

// Answers the transport makes itself, filled by the owner (Prefect's error
// bodies live in the server, not here): status is 400, 413, 431 or 503.
using ErrorAnswer = std::function<void(int status, HttpResponse* response)>;
// Fills the answer; runs on the connection's loop thread, or on a pool
// thread for a request the Placement sends there.
using Handler = std::function<void(HttpRequest& request, HttpResponse* response)>;
// Runs on the loop thread before the handler: true when the request may
// run long enough to stall its loop (it is then answered on the pool). An
// empty Placement, or pool_threads 0, answers everything inline.
using Placement = std::function<bool(const HttpRequest& request)>;

// Requests handed to an upstream (api/upstream_proxy.h) instead of the
// Handler: decided when the head has arrived, so that their bodies get
// their own limit and deadline; then read whole, and the connection lent to
// the proxy until the answer is relayed (a WebSocket tunnel keeps it).
struct Forwarding {
  const UpstreamProxy* proxy = nullptr;  // null: nothing is forwarded
  // True when the request goes upstream; on the loop, after the head.
  std::function<bool(std::string_view method, std::string_view path)> wants;
  size_t max_body_bytes = size_t{100} << 20;  // instead of max_body_bytes
  int body_timeout_ms = 60000;                // instead of body_timeout_ms
};

struct TransportStats {
  uint64_t open_connections = 0;
  uint64_t accepted = 0;
  uint64_t rejected_connections = 0;  // over max_connections
  uint64_t timed_out = 0;             // closed at a deadline
  uint64_t pooled = 0;                // requests answered on the pool
  uint64_t rejected_busy = 0;         // over max_queued: 503
};

class HttpTransport {
 public:
  HttpTransport(TransportOptions options, Handler handler, ErrorAnswer error_answer,
                Placement placement = nullptr);
  ~HttpTransport();  // Stop()
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Binds, listens and starts the loop threads and the accepting one. Errors:
  // Unavailable (cannot resolve or bind).
  absl::Status Start();
  // Before Start. The proxy must outlive the transport's loops' use of it:
  // destroy it after Stop().
  void SetForwarding(Forwarding forwarding);
  int port() const { return port_; }
  // See the header comment. Idempotent.
  void Stop();
  TransportStats Stats() const;

  struct Rep;  // internal (http_transport.cc)

 private:
  std::shared_ptr<Rep> rep_;
  int port_ = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_API_HTTP_TRANSPORT_H_
