// The event loop behind api/http_transport.h.
//
// Why Beast/Asio and not cpp-httplib (which served until issue 11):
// cpp-httplib gives every connection a thread for its whole life and its
// timeouts are per read, so 71 connections trickling a byte every 2 s held
// all workers and the queue; its parser has no header-count limit and
// drops empty header values. Beast's parser bounds the head and the body
// (for every transfer coding), keeps empty values, reads Content-Length
// lists as h11 does, and Asio's tcp_stream deadlines cover a whole
// composed read, not one recv.

#include "api/http_transport.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_format.h"
#include "api/internal/upstream_exchange.h"
#include "api/upstream_proxy.h"

namespace taskdex {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// RFC 3986 percent-decoding of a path ('+' stays '+'), as Starlette's
// scope["path"] and cpp-httplib's Request::path.
std::string DecodePath(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

class TransportSession;

struct HttpTransport::Rep {
  TransportOptions options;
  Handler handler;
  ErrorAnswer error_answer;
  Placement placement;
  Forwarding forwarding;  // forwarding.proxy null: none
  // The pool for requests that may run long (null: none); `queued` counts
  // the requests handed to it and not yet answered.
  std::unique_ptr<net::thread_pool> pool;
  std::atomic<size_t> queued{0};
  // One event loop per thread (`workers` of them), each with its own
  // connections; the acceptor has a loop and thread of its own.
  std::vector<std::unique_ptr<net::io_context>> loops;
  std::unique_ptr<std::atomic<int>[]> loop_open;  // connections per loop
  net::io_context accept_io{1};
  tcp::acceptor acceptor{accept_io};
  std::vector<std::thread> threads;
  // Open sessions, for Stop() and the connection cap.
  std::mutex sessions_mu;
  std::unordered_set<TransportSession*> sessions;
  std::atomic<bool> stopping{false};
  // Stats.
  std::atomic<uint64_t> open{0}, accepted{0}, rejected_connections{0}, timed_out{0};
  std::atomic<uint64_t> pooled{0}, rejected_busy{0};

  Rep(TransportOptions o, Handler h, ErrorAnswer e, Placement p)
      : options(std::move(o)),
        handler(std::move(h)),
        error_answer(std::move(e)),
        placement(std::move(p)) {
    const int n = std::max(1, options.workers);
    loop_open = std::make_unique<std::atomic<int>[]>(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      loops.push_back(std::make_unique<net::io_context>(1));
      loop_open[i] = 0;
    }
  }
  void Accept();
  void CloseIdle(bool all);
};

// One connection, driven by its loop's thread: read a head, maybe a body,
// answer the request inline, write the answer, repeat. Kept alive by
// the shared_ptr each pending operation holds.
class TransportSession : public std::enable_shared_from_this<TransportSession> {
  friend struct HttpTransport::Rep;  // FinishHandler, Accept, CloseIdle

 public:
  TransportSession(tcp::socket socket, HttpTransport::Rep* rep, size_t loop)
      : stream_(std::move(socket)), rep_(rep), loop_(loop) {}

  void Start() {
    beast::error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_addr_ = remote.address().to_string();
    const tcp::endpoint local = stream_.socket().local_endpoint(ec);
    if (!ec) {
      local_addr_ = local.address().to_string();
      local_port_ = local.port();
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);
    WaitForHead();
  }

  // Refused at the connection cap: one 503, then closed.
  void Reject() { AnswerError(503); }

  // Stop(): a connection with no request in flight is closed now (all:
  // every connection).
  void CloseIfIdle(bool all) {
    if (all || !in_flight_) Close();
  }

 private:
  // The first byte of a head: within head_timeout_ms on a new connection,
  // keep_alive_ms on a kept-alive one.
  void WaitForHead() {
    if (closed_) return;
    if (rep_->stopping) return Close();
    if (buffer_.size() > 0) return ReadHead();  // pipelined bytes
    stream_.expires_after(std::chrono::milliseconds(first_ ? rep_->options.head_timeout_ms
                                                           : rep_->options.keep_alive_ms));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (self->closed_) return;
                              if (ec) return self->OnReadError(ec, false);
                              self->buffer_.commit(n);
                              self->ReadHead();
                            });
  }

  void ReadHead() {
    first_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(rep_->options.max_header_bytes, UINT32_MAX)));
    // A forwarded request may have a larger body; which requests are
    // forwarded is known after the head (OnHead lowers the limit).
    size_t body_limit = rep_->options.max_body_bytes;
    if (rep_->forwarding.proxy != nullptr) {
      body_limit = std::max(body_limit, rep_->forwarding.max_body_bytes);
    }
    parser_->body_limit(body_limit);
    stream_.expires_after(std::chrono::milliseconds(rep_->options.head_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHead(ec);
                            });
  }

  void OnHead(beast::error_code ec) {
    // A read that completed just before Stop() closed this connection
    // still reports success: the request was never taken, so drop it.
    if (closed_) return;
    if (ec) return OnReadError(ec, true);
    const auto& msg = parser_->get();
    size_t fields = 0;
    for (auto it = msg.begin(); it != msg.end(); ++it) ++fields;
    if (fields > rep_->options.max_header_count) return AnswerError(431);
    // h11: a Transfer-Encoding other than "chunked" cannot be framed.
    // (Beast reads such a request as having no body.)
    if (msg.find(http::field::transfer_encoding) != msg.end() && !parser_->chunked()) {
      return AnswerError(400);
    }
    forward_ = false;
    if (rep_->forwarding.proxy != nullptr) {
      const std::string_view target(msg.target().data(), msg.target().size());
      forward_ = rep_->forwarding.wants(
          std::string_view(msg.method_string().data(), msg.method_string().size()),
          DecodePath(target.substr(0, target.find('?'))));
      if (!forward_) {
        const auto length = parser_->content_length();
        if (length.has_value() && *length > rep_->options.max_body_bytes) return AnswerError(413);
        parser_->body_limit(rep_->options.max_body_bytes);
      }
    }
    if (parser_->is_done()) return Dispatch();
    auto expect = msg.find(http::field::expect);
    if (expect != msg.end() && beast::iequals(expect->value(), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(std::chrono::milliseconds(rep_->options.write_timeout_ms));
      return net::async_write(stream_, net::buffer(kContinue),
                              [self = shared_from_this()](beast::error_code wec, size_t) {
                                if (wec || self->closed_) return self->Close();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(std::chrono::milliseconds(
        forward_ ? rep_->forwarding.body_timeout_ms : rep_->options.body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (self->closed_) return;  // as in OnHead
                       if (ec) return self->OnReadError(ec, true);
                       self->Dispatch();
                     });
  }

  // A read failed: `started` when part of a request had arrived.
  void OnReadError(beast::error_code ec, bool started) {
    if (ec == beast::error::timeout) {
      ++rep_->timed_out;
      return Close();
    }
    if (ec == http::error::header_limit) return AnswerError(431);
    if (ec == http::error::body_limit) return AnswerError(413);
    if (!started || ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        ec == net::error::bad_descriptor || ec == http::error::partial_message) {
      return Close();
    }
    AnswerError(400);  // the parser could not read it
  }

  void Dispatch() {
    http::request<http::string_body> msg = parser_->release();
    parser_.reset();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    const size_t q = request.target.find('?');
    request.path = DecodePath(std::string_view(request.target).substr(0, q));
    request.version = static_cast<int>(msg.version());
    request.headers.reserve(16);
    for (const auto& f : msg) {
      request.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    request.body = std::move(msg.body());
    request.remote_addr = remote_addr_;
    request.local_addr = local_addr_;
    request.local_port = local_port_;
    keep_alive_ = msg.keep_alive();
    in_flight_ = true;
    stream_.expires_never();
    if (forward_) return DispatchUpstream(std::move(request));
    if (rep_->pool != nullptr && rep_->placement && rep_->placement(request)) {
      return DispatchToPool(std::move(request));
    }
    // Answered inline, on this connection's loop: no hand-off to another
    // thread (see the header comment).
    HttpResponse response;
    rep_->handler(request, &response);
    Write(std::move(response), false);
  }

  // A request that may run long: answered on the pool, written back here.
  void DispatchToPool(HttpRequest request) {
    if (rep_->queued.fetch_add(1) >= rep_->options.max_queued) {
      --rep_->queued;
      ++rep_->rejected_busy;
      return AnswerError(503);
    }
    ++rep_->pooled;
    net::post(*rep_->pool, [self = shared_from_this(), request = std::move(request)]() mutable {
      HttpResponse response;
      self->rep_->handler(request, &response);
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        --self->rep_->queued;
        self->Write(std::move(response), false);
      });
    });
  }

  // A request for the upstream: the proxy writes the answer on this
  // connection and gives it back (api/internal/upstream_exchange.h).
  void DispatchUpstream(HttpRequest request) {
    api_internal::ClientSide client;
    client.stream = &stream_;
    client.buffer = &buffer_;
    client.keep_alive = keep_alive_;
    client.owner = shared_from_this();
    client.done = [self = shared_from_this()](bool reusable) {
      self->in_flight_ = false;
      if (self->closed_) return;
      if (!reusable || self->rep_->stopping) return self->Close();
      self->WaitForHead();
    };
    api_internal::Forward(rep_->forwarding.proxy->rep(), std::move(request), std::move(client));
  }

  // An answer the transport makes (a framing error, a limit, the cap):
  // always closes the connection.
  void AnswerError(int status) {
    parser_.reset();
    in_flight_ = true;
    HttpResponse response;
    rep_->error_answer(status, &response);
    response.close = true;
    Write(std::move(response), true);
  }

  void Write(HttpResponse response, bool linger) {
    if (closed_) return;
    response_.clear();
    response_.body().clear();
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers) {
      if (HeaderNameEquals(name, "Content-Length") || HeaderNameEquals(name, "Connection") ||
          HeaderNameEquals(name, "Transfer-Encoding")) {
        continue;
      }
      response_.insert(name, value);
    }
    response_.body() = std::move(response.body);
    const bool close = response.close || !keep_alive_ || rep_->stopping;
    response_.keep_alive(!close);
    response_.prepare_payload();
    if (response.head_only) response_.body().clear();  // Content-Length stays
    stream_.expires_after(std::chrono::milliseconds(rep_->options.write_timeout_ms));
    http::async_write(stream_, response_,
                      [self = shared_from_this(), close, linger](beast::error_code ec, size_t) {
                        self->in_flight_ = false;
                        if (ec) return self->Close();
                        if (!close) return self->WaitForHead();
                        if (linger) return self->Linger();
                        self->Close();
                      });
  }

  // After an error answer, unread request bytes may still arrive; closing
  // at once would send a reset that can destroy the answer before the
  // client reads it. Half-close, and drain for up to a second.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(1));
    DrainSome();
  }

  void DrainSome() {
    if (closed_) return;
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->DrainSome();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    {
      std::lock_guard<std::mutex> lock(rep_->sessions_mu);
      rep_->sessions.erase(this);
    }
    --rep_->loop_open[loop_];
    --rep_->open;
  }

  auto executor() { return stream_.get_executor(); }

  beast::tcp_stream stream_;
  HttpTransport::Rep* const rep_;
  const size_t loop_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::string remote_addr_, local_addr_;
  int local_port_ = 0;
  bool first_ = true;
  bool keep_alive_ = false;
  bool forward_ = false;    // the request being read goes upstream
  bool in_flight_ = false;  // a request being answered, or its answer being written
  bool closed_ = false;
  std::array<char, 4096> drain_;
};

void HttpTransport::Rep::Accept() {
  // The new connection goes to the loop with the fewest connections.
  size_t loop = 0;
  for (size_t i = 1; i < loops.size(); ++i) {
    if (loop_open[i].load() < loop_open[loop].load()) loop = i;
  }
  acceptor.async_accept(*loops[loop], [this, loop](beast::error_code ec, tcp::socket socket) {
    if (stopping.load() || !acceptor.is_open()) return;
    if (ec) {
      // EMFILE and the like: retry shortly rather than spin.
      auto timer = std::make_shared<net::steady_timer>(accept_io, std::chrono::milliseconds(10));
      timer->async_wait([this, timer](beast::error_code) {
        if (!stopping.load()) Accept();
      });
      return;
    }
    ++accepted;
    auto session = std::make_shared<TransportSession>(std::move(socket), this, loop);
    ++loop_open[loop];
    bool over_cap;
    {
      std::lock_guard<std::mutex> lock(sessions_mu);
      over_cap = sessions.size() >= options.max_connections;
      sessions.insert(session.get());
    }
    ++open;
    net::post(session->executor(), [session, over_cap, this] {
      if (over_cap) {
        ++rejected_connections;
        session->Reject();
      } else {
        session->Start();
      }
    });
    Accept();
  });
}

void HttpTransport::Rep::CloseIdle(bool all) {
  std::vector<std::shared_ptr<TransportSession>> now;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    for (TransportSession* s : sessions) {
      if (auto p = s->weak_from_this().lock()) now.push_back(std::move(p));
    }
  }
  for (auto& s : now) {
    net::post(s->executor(), [s, all] { s->CloseIfIdle(all); });
  }
}

HttpTransport::HttpTransport(TransportOptions options, Handler handler, ErrorAnswer error_answer,
                             Placement placement)
    : rep_(std::make_shared<Rep>(std::move(options), std::move(handler), std::move(error_answer),
                                 std::move(placement))) {}

HttpTransport::~HttpTransport() { Stop(); }

void HttpTransport::SetForwarding(Forwarding forwarding) {
  rep_->forwarding = std::move(forwarding);
}

absl::Status HttpTransport::Start() {
  Rep& r = *rep_;
  // Every connection is a descriptor: let the process open as many as the
  // hard limit allows (the soft limit is often 1024).
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    const rlim_t want = static_cast<rlim_t>(r.options.max_connections) + 256;
    lim.rlim_cur = std::min(lim.rlim_max, std::max(lim.rlim_cur, want));
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  beast::error_code ec;
  tcp::resolver resolver(r.accept_io);
  auto results = resolver.resolve(r.options.host, std::to_string(r.options.port), ec);
  if (ec || results.empty()) {
    return absl::UnavailableError(
        absl::StrFormat("cannot resolve %s: %s", r.options.host, ec.message()));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  r.acceptor.open(endpoint.protocol(), ec);
  if (!ec) r.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) r.acceptor.bind(endpoint, ec);
  if (!ec) r.acceptor.listen(r.options.backlog, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrFormat("cannot bind %s:%d: %s", r.options.host,
                                                  r.options.port, ec.message()));
  }
  port_ = r.acceptor.local_endpoint().port();
  if (r.options.pool_threads > 0 && r.placement) {
    r.pool = std::make_unique<net::thread_pool>(static_cast<size_t>(r.options.pool_threads));
  }
  r.Accept();
  for (auto& loop : r.loops) {
    r.threads.emplace_back([rep = rep_, io = loop.get()] {
      auto work = net::make_work_guard(*io);  // run until Stop()
      io->run();
    });
  }
  r.threads.emplace_back([rep = rep_] {
    auto work = net::make_work_guard(rep->accept_io);
    rep->accept_io.run();
  });
  return absl::OkStatus();
}

void HttpTransport::Stop() {
  Rep& r = *rep_;
  if (r.threads.empty()) return;
  net::post(r.accept_io, [&r] {
    r.stopping = true;
    beast::error_code ec;
    r.acceptor.close(ec);
    r.CloseIdle(false);
  });
  // In-flight requests finish and their answers are written (then those
  // connections close, stopping is set); the rest waits for the deadline.
  auto wait_closed = [&r](std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (r.open.load() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  wait_closed(std::chrono::milliseconds(r.options.shutdown_timeout_ms));
  // Whatever is left (slow or stuck clients) is closed now.
  net::post(r.accept_io, [&r] { r.CloseIdle(true); });
  wait_closed(std::chrono::milliseconds(1000));
  // Handlers still running finish (io.stop() lets the current handler of
  // each thread return); their answers find closed connections. Pool
  // requests not started are dropped, the running ones finish, and their
  // answers go to loops that no longer run.
  for (auto& loop : r.loops) loop->stop();
  r.accept_io.stop();
  for (std::thread& t : r.threads) t.join();
  r.threads.clear();
  if (r.pool != nullptr) {
    r.pool->stop();
    r.pool->join();
  }
  std::lock_guard<std::mutex> lock(r.sessions_mu);
  r.sessions.clear();
}

TransportStats HttpTransport::Stats() const {
  const Rep& r = *rep_;
  TransportStats s;
  s.open_connections = r.open.load();
  s.accepted = r.accepted.load();
  s.rejected_connections = r.rejected_connections.load();
  s.timed_out = r.timed_out.load();
  s.pooled = r.pooled.load();
  s.rejected_busy = r.rejected_busy.load();
  return s;
}

}  // namespace taskdex
