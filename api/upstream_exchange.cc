// The exchange behind api/upstream_proxy.h: one object per forwarded
// request, kept alive by the shared_ptr its pending operation holds, as the
// transport's sessions are. Everything it does runs on the client
// connection's loop, so it needs no lock; the pool it takes connections
// from is api/internal/upstream_pool.h.

#include <array>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "api/internal/upstream_exchange.h"
#include "api/internal/upstream_pool.h"
#include "api/upstream_proxy.h"

namespace taskdex {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using api_internal::LoopOf;
using api_internal::UpstreamConn;
using api_internal::Waiter;

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

}  // namespace

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
    if (proxy_->options.on_head) proxy_->options.on_head(request_, status_);
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

}  // namespace taskdex
