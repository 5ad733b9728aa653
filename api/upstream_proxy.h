// api/upstream_proxy.h
//
// `taskdex serve --upstream URL`: the requests taskdex does not answer
// itself go to Prefect's server, so the UI and clients can point at
// taskdex alone. UpstreamProxy owns the connections to one upstream and
// forwards one request at a time per client connection; which requests go
// is the server's call (api/http_server.cc), reading and framing them the
// transport's (api/http_transport.cc, which hands a forwarded request and
// its client connection to api/internal/upstream_exchange.h).
// Layout: upstream_proxy.cc (creation, the URL, metrics),
// upstream_exchange.cc (one forwarded request), internal/upstream_pool.h
// (the connections shared by the loops).
// Not for: TLS upstreams (http:// only), HTTP/2, caching, load balancing.
//
// One exchange, on the client connection's event loop (no thread is held
// while the upstream thinks):
//   take a pooled keep-alive connection made on this loop, or open one
//   (async resolve + connect, connect_timeout_ms) -> write the request
//   (method, target and body as received; hop-by-hop headers dropped, Host
//   rewritten, X-Forwarded-For/-Proto/-Host added) -> read the answer's
//   head -> stream its body to the client through a 64 KiB buffer (a
//   chunked or close-delimited upstream body is relayed chunked, or
//   close-delimited to an HTTP/1.0 client) -> return the connection to the
//   pool when both sides kept it alive.
// Costs: one buffered request body (at most max_body_bytes, read by the
// transport before forwarding), 64 KiB per exchange in flight, a socket per
// open upstream connection.
//
// Timeouts: connecting, at most connect_timeout_ms; the whole exchange up
// to the answer's head, at most timeout_seconds (from the moment the
// request was read); after the head, each read of the upstream body again
// at most timeout_seconds (a long stream that keeps producing is not cut).
// Failures before the head reached the client answer 502
// {"exception_message":"Bad Gateway"} (refused, reset, a bad answer) or 504
// {"exception_message":"Gateway Timeout"}; after that the client
// connection is closed (its answer is cut short). A pooled connection that
// fails before any byte of the answer (the upstream closed it while idle)
// is retried once on a new connection. Idle connections older than idle_ms
// are not reused (uvicorn closes idle keep-alive connections after 5 s).
//
// Pool: at most max_connections upstream connections are open (busy or
// idle, all loops together); an exchange that finds none free waits for
// one, within its timeout. An idle connection belongs to the loop that
// opened it and is reused only there (an Asio socket lives on one loop);
// when the cap is reached and another loop holds an idle one, that one is
// closed to make room. WebSocket upgrades (a 101 answer) are tunnelled on
// a connection outside the pool: bytes are copied both ways until either
// side closes, with no deadline.
//
// Thread safety: Create and the destructor from the controlling thread,
// the destructor only after the event loops that ran exchanges stopped;
// Stats() and MetricsText() from any thread; exchanges on any loop,
// concurrently. The ForwardDone callback runs on the client's loop.

#ifndef TASKDEX_API_UPSTREAM_PROXY_H_
#define TASKDEX_API_UPSTREAM_PROXY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/http_message.h"

namespace taskdex {

struct UpstreamOptions {
  std::string url;  // http://host[:port][/]; https and paths are refused
  size_t max_connections = 64;
  int connect_timeout_ms = 5000;
  int timeout_seconds = 60;  // Prefect's own requests can be slow
  int idle_ms = 4000;        // below uvicorn's 5 s keep-alive timeout
  int write_timeout_ms = 5000;  // each write to the client while streaming
  // Called on the client's loop when the upstream's answer head has
  // arrived, before any of it is relayed (so before the client can send
  // its next request); nullable. --fresh-reads notes writes here.
  std::function<void(const HttpRequest& request, int status)> on_head;
};

// How one forwarded request ended.
struct ForwardResult {
  int status = 0;         // the upstream's, or 502/504 made by taskdex
  double seconds = 0;     // from the request read to the answer written
  uint64_t bytes_out = 0; // body bytes relayed to the client
  std::string error;      // why taskdex answered 502/504 or cut the answer; "" if not
  bool upgraded = false;  // a WebSocket tunnel (status 101) that has closed
};
using ForwardDone = std::function<void(const HttpRequest& request, const ForwardResult& result)>;

struct UpstreamStats {
  uint64_t forwarded = 0;        // exchanges finished (any status)
  uint64_t errors_502 = 0;
  uint64_t errors_504 = 0;
  uint64_t connections_opened = 0;
  uint64_t open_connections = 0;  // pooled ones, busy or idle
  uint64_t tunnels_open = 0;
  double seconds_sum = 0;         // latency of the finished exchanges
};

class UpstreamProxy {
 public:
  // Errors: InvalidArgument (a URL that is not http://host[:port]).
  static absl::StatusOr<std::unique_ptr<UpstreamProxy>> Create(UpstreamOptions options,
                                                               ForwardDone done);
  ~UpstreamProxy();  // closes the idle connections
  UpstreamProxy(const UpstreamProxy&) = delete;
  UpstreamProxy& operator=(const UpstreamProxy&) = delete;

  UpstreamStats Stats() const;
  // Prometheus text: taskdex_upstream_* counters and gauges.
  std::string MetricsText() const;

  struct Rep;  // internal (upstream_proxy.cc)
  const std::shared_ptr<Rep>& rep() const { return rep_; }

 private:
  explicit UpstreamProxy(std::shared_ptr<Rep> rep) : rep_(std::move(rep)) {}
  std::shared_ptr<Rep> rep_;
};

// Host and port of an http:// URL. Errors: InvalidArgument, with a message
// for the user (https is named: "https upstreams are not supported; ...").
struct UpstreamUrl {
  std::string host;  // without brackets for IPv6
  std::string port;  // "80" when absent
  std::string host_header;  // as it goes in Host: host[:port]
};
absl::StatusOr<UpstreamUrl> ParseUpstreamUrl(std::string_view url);

}  // namespace taskdex

#endif  // TASKDEX_API_UPSTREAM_PROXY_H_
