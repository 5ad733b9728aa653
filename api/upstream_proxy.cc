// The pool and the exchange behind api/upstream_proxy.h.
//
// An exchange is one object per forwarded request, kept alive by the
// shared_ptr its pending operation holds, as the transport's sessions are.
// Everything it does runs on the client connection's loop, so it needs no
// lock; the pool (idle connections per loop, the open count, the waiters)
// is shared by the loops and sits behind one mutex held for a few list
// operations, never across I/O.

#include "api/upstream_proxy.h"

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "api/internal/upstream_exchange.h"

namespace taskdex {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = 64 * 1024;            // relay buffer per exchange
constexpr uint32_t kMaxAnswerHead = 64 * 1024;  // upstream status line + headers
constexpr size_t kTunnelChunk = 16 * 1024;      // per direction

// RFC 9110 7.6.1: meant for one connection, not forwarded as received.
bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"Connection", "Keep-Alive", "TE", "Trailer",
                                                "Transfer-Encoding", "Upgrade"};
  for (std::string_view h : kNames) {
    if (HeaderNameEquals(name, h)) return true;
  }
  return name.size() >= 6 && HeaderNameEquals(name.substr(0, 6), "Proxy-");
}

// The header names Connection headers list (also hop-by-hop), lowercase.
void AddConnectionTokens(std::string_view value, std::vector<std::string>* out) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string token(absl::StripAsciiWhitespace(absl::string_view(
        value.data(), comma == std::string_view::npos ? value.size() : comma)));
    if (!token.empty()) out->push_back(absl::AsciiStrToLower(token));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

std::vector<std::string> ConnectionTokens(const HttpHeaders& headers) {
  std::vector<std::string> out;
  for (const auto& [name, value] : headers) {
    if (HeaderNameEquals(name, "Connection")) AddConnectionTokens(value, &out);
  }
  return out;
}

std::vector<std::string> ConnectionTokens(const http::fields& fields) {
  std::vector<std::string> out;
  auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    AddConnectionTokens(std::string_view(it->value().data(), it->value().size()), &out);
  }
  return out;
}

bool Listed(const std::vector<std::string>& tokens, std::string_view name) {
  for (const std::string& t : tokens) {
    if (HeaderNameEquals(t, name)) return true;
  }
  return false;
}

// One upstream connection; used only on the loop it was made on.
struct UpstreamConn {
  explicit UpstreamConn(const net::any_io_executor& ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool counted = true;  // holds one of the pool's max_connections slots
};

// An exchange waiting for a connection: granted an idle one made on its
// loop, or (null) a slot to open one.
struct Waiter {
  net::any_io_executor executor;
  const void* loop = nullptr;
  std::function<void(std::shared_ptr<UpstreamConn>)> grant;
};

const void* LoopOf(const net::any_io_executor& ex) {
  return &net::query(ex, net::execution::context);
}

}  // namespace

struct UpstreamProxy::Rep {
  UpstreamOptions options;
  UpstreamUrl url;
  ForwardDone done;

  std::mutex mu;
  size_t open = 0;  // counted connections, busy or idle (guarded by mu)
  std::map<const void*, std::vector<std::shared_ptr<UpstreamConn>>> idle;  // by loop (mu)
  std::deque<std::shared_ptr<Waiter>> waiters;                           // FIFO (mu)
  std::map<int, uint64_t> by_status;                                    // (mu)
  double seconds_sum = 0;                                               // (mu)
  std::atomic<uint64_t> forwarded{0}, errors_502{0}, errors_504{0}, opened{0}, tunnels{0};

  enum class Take { kIdle, kSlot, kQueued };

  // A connection for an exchange on `loop`: an idle one of that loop
  // (*conn), a slot to open one, or queued (`waiter` is granted one later).
  Take TakeOrWait(const void* loop, std::shared_ptr<UpstreamConn>* conn,
                  std::shared_ptr<Waiter> waiter) {
    std::vector<std::shared_ptr<UpstreamConn>> stale;
    Take take = Take::kQueued;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto& mine = idle[loop];
      const auto too_old = Clock::now() - std::chrono::milliseconds(options.idle_ms);
      while (!mine.empty()) {
        std::shared_ptr<UpstreamConn> c = std::move(mine.back());
        mine.pop_back();
        if (c->idle_since >= too_old) {
          *conn = std::move(c);
          take = Take::kIdle;
          break;
        }
        stale.push_back(std::move(c));  // the upstream may have closed it
        --open;
      }
      if (take == Take::kQueued && open < options.max_connections) {
        ++open;
        take = Take::kSlot;
      }
      if (take == Take::kQueued) {
        for (auto& [other, list] : idle) {
          if (list.empty()) continue;
          // Close another loop's idle connection there; its slot is ours.
          std::shared_ptr<UpstreamConn> c = std::move(list.back());
          list.pop_back();
          net::post(c->stream.get_executor(), [c] { c->stream.close(); });
          take = Take::kSlot;
          break;
        }
      }
      if (take == Take::kQueued) waiters.push_back(std::move(waiter));
    }
    for (auto& c : stale) c->stream.close();  // on this loop: ours
    return take;
  }

  // The exchange is done with `conn` (on conn's loop). A reusable one goes
  // to a waiter of the same loop or the idle list; else it is closed and
  // its slot goes to the first waiter, or is freed.
  void Release(std::shared_ptr<UpstreamConn> conn, bool reusable) {
    if (!conn->counted) {
      conn->stream.close();
      return;
    }
    const void* loop = LoopOf(conn->stream.get_executor());
    std::shared_ptr<Waiter> to;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!waiters.empty()) {
        to = std::move(waiters.front());
        waiters.pop_front();
        if (!reusable || to->loop != loop) {
          conn->stream.close();
          conn = nullptr;  // a slot
        }
      } else if (reusable) {
        conn->idle_since = Clock::now();
        idle[loop].push_back(std::move(conn));
        return;
      } else {
        conn->stream.close();
        --open;
        return;
      }
    }
    net::post(to->executor, [to, conn] { to->grant(conn); });
  }

  // false when `waiter` was already granted (the grant is on its way).
  bool Cancel(const Waiter* waiter) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = waiters.begin(); it != waiters.end(); ++it) {
      if (it->get() == waiter) {
        waiters.erase(it);
        return true;
      }
    }
    return false;
  }

  void Report(const HttpRequest& request, const ForwardResult& result) {
    ++forwarded;
    if (result.status == 502 && !result.error.empty()) ++errors_502;
    if (result.status == 504 && !result.error.empty()) ++errors_504;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++by_status[result.status];
      seconds_sum += result.seconds;
    }
    if (done) done(request, result);
  }
};

namespace {

// One forwarded request; see the header comment of api/upstream_proxy.h.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<UpstreamProxy::Rep> proxy, HttpRequest request,
           api_internal::ClientSide client)
      : proxy_(std::move(proxy)),
        request_(std::move(request)),
        client_(std::move(client)),
        start_(Clock::now()),
        deadline_(start_ + std::chrono::seconds(proxy_->options.timeout_seconds)),
        wait_timer_(client_.stream->get_executor()),
        resolver_(client_.stream->get_executor()) {}

  void Start() {
    BuildRequest();
    if (upgrade_) return Open(false);  // a tunnel: outside the pool
    auto waiter = std::make_shared<Waiter>();
    waiter->executor = client_.stream->get_executor();
    waiter->loop = LoopOf(waiter->executor);
    waiter->grant = [self = shared_from_this()](std::shared_ptr<UpstreamConn> c) {
      self->OnGranted(std::move(c));
    };
    std::shared_ptr<UpstreamConn> conn;
    switch (proxy_->TakeOrWait(waiter->loop, &conn, waiter)) {
      case UpstreamProxy::Rep::Take::kIdle:
        conn_ = std::move(conn);
        reused_ = true;
        return WriteRequest();
      case UpstreamProxy::Rep::Take::kSlot:
        return Open(true);
      case UpstreamProxy::Rep::Take::kQueued:
        waiting_ = true;
        waiter_ = waiter.get();  // not owned: the waiter holds this exchange
        wait_timer_.expires_at(deadline_);
        wait_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
          if (ec || !self->waiting_) return;
          // Still queued at the deadline; if a grant is on its way, it
          // arrives next and is taken.
          if (self->proxy_->Cancel(self->waiter_)) {
            self->waiting_ = false;
            self->waiter_ = nullptr;
            self->Fail(504, "no free upstream connection within the timeout");
          }
        });
        return;
    }
  }

 private:
  void OnGranted(std::shared_ptr<UpstreamConn> conn) {
    waiting_ = false;
    waiter_ = nullptr;
    wait_timer_.cancel();
    if (conn != nullptr) {
      conn_ = std::move(conn);
      reused_ = true;
      return WriteRequest();
    }
    Open(true);
  }

  // The request as it goes upstream (RFC 9110 7.6: hop-by-hop headers and
  // those the Connection header names are dropped; Host is the upstream's).
  void BuildRequest() {
    out_.version(11);
    out_.method_string(request_.method);
    out_.target(request_.target);
    const std::vector<std::string> tokens = ConnectionTokens(request_.headers);
    upgrade_ = request_.has_header("Upgrade") && Listed(tokens, "upgrade");
    head_only_ = request_.method == "HEAD";
    std::string forwarded_for, host;
    bool has_proto = false, has_forwarded_host = false;
    for (const auto& [name, value] : request_.headers) {
      if (IsHopByHop(name) || Listed(tokens, name) || HeaderNameEquals(name, "Content-Length") ||
          HeaderNameEquals(name, "Expect")) {
        continue;  // Expect: the transport answered 100 Continue itself
      }
      if (HeaderNameEquals(name, "Host")) {
        if (host.empty()) host = value;
        continue;
      }
      if (HeaderNameEquals(name, "X-Forwarded-For")) {
        forwarded_for += forwarded_for.empty() ? value : ", " + value;
        continue;
      }
      has_proto |= HeaderNameEquals(name, "X-Forwarded-Proto");
      has_forwarded_host |= HeaderNameEquals(name, "X-Forwarded-Host");
      out_.insert(name, value);
    }
    out_.set(http::field::host, proxy_->url.host_header);
    if (!request_.remote_addr.empty()) {
      forwarded_for += forwarded_for.empty() ? request_.remote_addr : ", " + request_.remote_addr;
    }
    if (!forwarded_for.empty()) out_.set("X-Forwarded-For", forwarded_for);
    if (!has_proto) out_.set("X-Forwarded-Proto", "http");
    if (!has_forwarded_host && !host.empty()) out_.set("X-Forwarded-Host", host);
    if (upgrade_) {
      out_.set(http::field::connection, "Upgrade");
      out_.set(http::field::upgrade, request_.get_header_value("Upgrade"));
    }
    out_.body() = std::move(request_.body);  // given back in Report
    out_.prepare_payload();
  }

  void Open(bool counted) {
    conn_ = std::make_shared<UpstreamConn>(client_.stream->get_executor());
    conn_->counted = counted;
    ++proxy_->opened;
    resolver_.async_resolve(
        proxy_->url.host, proxy_->url.port,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->Fail(502, "cannot resolve the upstream: " + ec.message());
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              self->deadline_ - Clock::now());
          self->conn_->stream.expires_after(std::max(
              std::chrono::milliseconds(1),
              std::min(left, std::chrono::milliseconds(self->proxy_->options.connect_timeout_ms))));
          self->conn_->stream.async_connect(
              results, [self](beast::error_code cec, const tcp::endpoint&) {
                if (cec == beast::error::timeout) return self->Fail(504, "upstream connect timeout");
                if (cec) return self->Fail(502, "cannot connect to the upstream: " + cec.message());
                beast::error_code ignored;
                self->conn_->stream.socket().set_option(tcp::no_delay(true), ignored);
                self->WriteRequest();
              });
        });
  }

  void WriteRequest() {
    conn_->stream.expires_at(deadline_);
    http::async_write(conn_->stream, out_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->UpstreamError(ec, "writing the request");
      self->ReadHead();
    });
  }

  void ReadHead() {
    parser_.emplace();
    parser_->header_limit(kMaxAnswerHead);
    // Streamed, never held whole: no limit. (Not boost::none: Beast 1.74
    // compares a Content-Length with the empty optional and finds it over.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_only_) parser_->skip(true);
    http::async_read_header(conn_->stream, conn_->buffer, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->UpstreamError(ec, "reading the answer");
                              self->OnHead();
                            });
  }

  // Before the answer's head: retry a reused connection the upstream had
  // closed while idle, else 502 or 504.
  void UpstreamError(beast::error_code ec, const char* what) {
    const bool closed_idle = ec == http::error::end_of_stream || ec == net::error::eof ||
                             ec == net::error::connection_reset || ec == net::error::broken_pipe;
    if (reused_ && !retried_ && closed_idle) {
      retried_ = true;
      reused_ = false;
      conn_->stream.close();
      // The slot stays ours: a new connection in place of the dead one.
      return Open(true);
    }
    if (ec == beast::error::timeout) return Fail(504, absl::StrFormat("upstream timeout %s", what));
    Fail(502, absl::StrFormat("upstream error %s: %s", what, ec.message()));
  }

  void OnHead() {
    auto& res = parser_->get();
    status_ = res.result_int();
    if (status_ == 101 && upgrade_) return StartTunnel();
    upstream_keep_alive_ = res.keep_alive();
    const std::vector<std::string> tokens = ConnectionTokens(res.base());
    std::vector<std::string> drop;
    for (const auto& f : res) {
      const std::string name(f.name_string());
      if (IsHopByHop(name) || Listed(tokens, name)) drop.push_back(name);
    }
    for (const std::string& name : drop) res.erase(name);
    client_reusable_ = client_.keep_alive;
    if (!parser_->is_done() && !parser_->content_length().has_value()) {
      // Chunked or close-delimited upstream: chunked to the client, or
      // close-delimited to an HTTP/1.0 one.
      if (request_.version >= 11) {
        res.chunked(true);
      } else {
        client_reusable_ = false;
      }
    }
    res.version(11);
    res.keep_alive(client_reusable_);
    chunk_ = std::make_unique<char[]>(kChunk);
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = !parser_->is_done();
    serializer_.emplace(res);
    client_.stream->expires_after(std::chrono::milliseconds(proxy_->options.write_timeout_ms));
    http::async_write_header(*client_.stream, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->End(false, "client write: " + ec.message());
                               self->Relay();
                             });
  }

  // Beast's relay pattern (buffer_body), with read_some so that each
  // piece is passed on as it arrives: read some of the upstream body into
  // chunk_, write it, repeat.
  void Relay() {
    if (parser_->is_done() || serializer_->is_done()) return End(true, "");
    auto& body = parser_->get().body();
    body.data = chunk_.get();
    body.size = kChunk;
    conn_->stream.expires_after(std::chrono::seconds(proxy_->options.timeout_seconds));
    http::async_read_some(conn_->stream, conn_->buffer, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec == http::error::need_buffer) ec = {};
                            if (ec == beast::error::timeout) {
                              return self->End(false, "upstream body timeout");
                            }
                            if (ec) return self->End(false, "upstream body: " + ec.message());
                            self->WriteSome();
                          });
  }

  void WriteSome() {
    auto& b = parser_->get().body();
    b.size = kChunk - b.size;
    b.more = !parser_->is_done();
    // Nothing parsed yet (a chunk header alone): read on. An empty buffer
    // would be written as an empty chunk, which ends a chunked body.
    if (b.size == 0 && b.more) return Relay();
    b.data = b.size > 0 ? chunk_.get() : nullptr;
    bytes_out_ += b.size;
    client_.stream->expires_after(std::chrono::milliseconds(proxy_->options.write_timeout_ms));
    http::async_write(*client_.stream, *serializer_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec == http::error::need_buffer) ec = {};
                        if (ec) return self->End(false, "client write: " + ec.message());
                        self->Relay();
                      });
  }

  // After the head reached the client: `complete` when the whole answer did.
  void End(bool complete, std::string error) {
    if (finished_) return;
    finished_ = true;
    client_.stream->expires_never();
    const bool reusable = complete && upstream_keep_alive_ && conn_->buffer.size() == 0;
    proxy_->Release(std::move(conn_), reusable);
    Report(status_, std::move(error), false);
    client_.done(complete && client_reusable_);
  }

  // Before the head reached the client: taskdex answers 502 or 504.
  void Fail(int status, std::string error) {
    if (finished_) return;
    finished_ = true;
    if (conn_ != nullptr) proxy_->Release(std::move(conn_), false);
    answer_.version(11);
    answer_.result(static_cast<unsigned>(status));
    answer_.set(http::field::content_type, "application/json");
    answer_.body() = status == 504 ? R"({"exception_message":"Gateway Timeout"})"
                                   : R"({"exception_message":"Bad Gateway"})";
    answer_.keep_alive(client_.keep_alive);
    answer_.prepare_payload();
    if (head_only_) answer_.body().clear();  // Content-Length stays
    status_ = status;
    client_.stream->expires_after(std::chrono::milliseconds(proxy_->options.write_timeout_ms));
    http::async_write(*client_.stream, answer_,
                      [self = shared_from_this(), error = std::move(error)](beast::error_code ec,
                                                                           size_t) mutable {
                        self->client_.stream->expires_never();
                        self->Report(self->status_, std::move(error), false);
                        self->client_.done(!ec && self->client_.keep_alive);
                      });
  }

  void Report(int status, std::string error, bool upgraded) {
    ForwardResult r;
    r.status = status;
    r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    r.bytes_out = bytes_out_;
    r.error = std::move(error);
    r.upgraded = upgraded;
    request_.body = std::move(out_.body());
    proxy_->Report(request_, r);
  }

  // 101 Switching Protocols: the answer's head as received, then bytes
  // both ways until either side closes.
  void StartTunnel() {
    ++proxy_->tunnels;
    auto& res = parser_->get();
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    serializer_.emplace(res);
    client_.stream->expires_after(std::chrono::milliseconds(proxy_->options.write_timeout_ms));
    http::async_write_header(*client_.stream, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->CloseTunnel();
                               self->client_.stream->expires_never();
                               self->conn_->stream.expires_never();
                               self->Pump(0);
                               self->Pump(1);
                             });
  }

  // Direction 0: upstream -> client, 1: client -> upstream. Bytes already
  // read past the heads go first.
  void Pump(int dir) {
    beast::tcp_stream& from = dir == 0 ? conn_->stream : *client_.stream;
    beast::tcp_stream& to = dir == 0 ? *client_.stream : conn_->stream;
    beast::flat_buffer& leftover = dir == 0 ? conn_->buffer : *client_.buffer;
    if (leftover.size() > 0) {
      const size_t n = std::min(leftover.size(), kTunnelChunk);
      net::buffer_copy(net::buffer(pipe_[dir]), leftover.data(), n);
      leftover.consume(n);
      return PumpWrite(dir, n);
    }
    from.async_read_some(net::buffer(pipe_[dir]),
                         [self = shared_from_this(), dir, &to](beast::error_code ec, size_t n) {
                           if (ec == net::error::eof) {
                             // Half-close: the other direction may go on.
                             beast::error_code ignored;
                             to.socket().shutdown(tcp::socket::shutdown_send, ignored);
                             if (++self->pumps_done_ == 2) self->CloseTunnel();
                             return;
                           }
                           if (ec) return self->CloseTunnel();
                           self->PumpWrite(dir, n);
                         });
  }

  void PumpWrite(int dir, size_t n) {
    beast::tcp_stream& to = dir == 0 ? *client_.stream : conn_->stream;
    net::async_write(to, net::buffer(pipe_[dir].data(), n),
                     [self = shared_from_this(), dir](beast::error_code ec, size_t) {
                       if (ec) return self->CloseTunnel();
                       self->Pump(dir);
                     });
  }

  void CloseTunnel() {
    if (finished_) return;
    finished_ = true;
    --proxy_->tunnels;
    proxy_->Release(conn_, false);  // not counted: closed
    Report(101, "", true);
    client_.done(false);  // closes the client connection
  }

  std::shared_ptr<UpstreamProxy::Rep> proxy_;
  HttpRequest request_;
  api_internal::ClientSide client_;
  const Clock::time_point start_;
  const Clock::time_point deadline_;  // for the answer's head
  net::steady_timer wait_timer_;
  tcp::resolver resolver_;
  const Waiter* waiter_ = nullptr;  // while queued
  std::shared_ptr<UpstreamConn> conn_;
  http::request<http::string_body> out_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::optional<http::response_serializer<http::buffer_body>> serializer_;
  std::unique_ptr<char[]> chunk_;
  http::response<http::string_body> answer_;
  std::array<std::array<char, kTunnelChunk>, 2> pipe_;
  uint64_t bytes_out_ = 0;
  int status_ = 0;
  int pumps_done_ = 0;
  bool upgrade_ = false;
  bool head_only_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool waiting_ = false;
  bool upstream_keep_alive_ = false;
  bool client_reusable_ = false;
  bool finished_ = false;
};

}  // namespace

namespace api_internal {

void Forward(const std::shared_ptr<UpstreamProxy::Rep>& proxy, HttpRequest request,
             ClientSide client) {
  std::make_shared<Exchange>(proxy, std::move(request), std::move(client))->Start();
}

}  // namespace api_internal

absl::StatusOr<UpstreamUrl> ParseUpstreamUrl(std::string_view url) {
  if (url.substr(0, 8) == "https://") {
    return absl::InvalidArgumentError(
        "https upstreams are not supported; put taskdex and Prefect on one network or use a TLS "
        "terminator");
  }
  if (url.substr(0, 7) != "http://") {
    return absl::InvalidArgumentError(
        absl::StrFormat("--upstream: expected http://HOST[:PORT], got \"%s\"", url));
  }
  std::string_view rest = url.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos || rest.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--upstream: expected http://HOST[:PORT] (no path, query or user), got \"%s\"", url));
  }
  UpstreamUrl out;
  out.host_header = std::string(rest);
  std::string_view port;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat("--upstream: bad IPv6 host in \"%s\"", url));
    }
    out.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        return absl::InvalidArgumentError(absl::StrFormat("--upstream: bad host in \"%s\"", url));
      }
      port = rest.substr(close + 2);
    }
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  int n = 80;
  if (!port.empty() || out.host_header.back() == ':') {
    if (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &n) || n < 1 ||
        n > 65535) {
      return absl::InvalidArgumentError(absl::StrFormat("--upstream: bad port in \"%s\"", url));
    }
  }
  if (out.host.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("--upstream: no host in \"%s\"", url));
  }
  out.port = std::to_string(n);
  return out;
}

absl::StatusOr<std::unique_ptr<UpstreamProxy>> UpstreamProxy::Create(UpstreamOptions options,
                                                                     ForwardDone done) {
  absl::StatusOr<UpstreamUrl> url = ParseUpstreamUrl(options.url);
  if (!url.ok()) return url.status();
  auto rep = std::make_shared<Rep>();
  rep->options = std::move(options);
  rep->options.max_connections = std::max<size_t>(1, rep->options.max_connections);
  rep->url = *std::move(url);
  rep->done = std::move(done);
  return std::unique_ptr<UpstreamProxy>(new UpstreamProxy(std::move(rep)));
}

UpstreamProxy::~UpstreamProxy() {
  std::lock_guard<std::mutex> lock(rep_->mu);
  for (auto& [loop, list] : rep_->idle) {
    for (auto& c : list) c->stream.close();
  }
  rep_->idle.clear();
  rep_->waiters.clear();  // their exchanges die with their loops
  rep_->done = nullptr;
}

UpstreamStats UpstreamProxy::Stats() const {
  UpstreamStats s;
  s.forwarded = rep_->forwarded.load();
  s.errors_502 = rep_->errors_502.load();
  s.errors_504 = rep_->errors_504.load();
  s.connections_opened = rep_->opened.load();
  s.tunnels_open = rep_->tunnels.load();
  std::lock_guard<std::mutex> lock(rep_->mu);
  s.open_connections = rep_->open;
  s.seconds_sum = rep_->seconds_sum;
  return s;
}

std::string UpstreamProxy::MetricsText() const {
  const UpstreamStats s = Stats();
  std::string out =
      "# HELP taskdex_upstream_requests_total Requests forwarded to --upstream, by the status "
      "the client got.\n# TYPE taskdex_upstream_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(rep_->mu);
    for (const auto& [code, n] : rep_->by_status) {
      out += absl::StrFormat("taskdex_upstream_requests_total{code=\"%d\"} %d\n", code, n);
    }
  }
  out += absl::StrFormat(
      "# HELP taskdex_upstream_errors_total Forwarded requests taskdex answered itself: 502 "
      "(upstream refused, reset or unreadable), 504 (timeout).\n"
      "# TYPE taskdex_upstream_errors_total counter\n"
      "taskdex_upstream_errors_total{code=\"502\"} %d\ntaskdex_upstream_errors_total{code=\"504\"} %d\n"
      "# HELP taskdex_upstream_seconds Forwarded requests, from read to answered.\n"
      "# TYPE taskdex_upstream_seconds summary\n"
      "taskdex_upstream_seconds_sum %.6f\ntaskdex_upstream_seconds_count %d\n"
      "# HELP taskdex_upstream_connections Open pooled upstream connections, busy or idle.\n"
      "# TYPE taskdex_upstream_connections gauge\ntaskdex_upstream_connections %d\n"
      "# HELP taskdex_upstream_connections_opened_total Upstream connections opened.\n"
      "# TYPE taskdex_upstream_connections_opened_total counter\n"
      "taskdex_upstream_connections_opened_total %d\n"
      "# HELP taskdex_upstream_tunnels Open WebSocket tunnels.\n"
      "# TYPE taskdex_upstream_tunnels gauge\ntaskdex_upstream_tunnels %d\n",
      s.errors_502, s.errors_504, s.seconds_sum, s.forwarded, s.open_connections,
      s.connections_opened, s.tunnels_open);
  return out;
}

}  // namespace taskdex
