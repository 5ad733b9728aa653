// taskdex serve --upstream (api/upstream_proxy.h): a fake Prefect server
// (Boost.Beast, synchronous, a thread per connection) on 127.0.0.1 behind
// an HttpServer, and real clients in front. Each case waits at most a few
// seconds.

#include "api/upstream_proxy.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/strings/str_format.h"
#include "api/http_server.h"
#include "api/taskdex.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/raw_connection.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // as in http_server_test.cc
#endif

namespace taskdex {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr char kSnapshot[] = TASKDEX_EXAMPLES_DIR "/snapshot";

// What the fake upstream received.
struct Seen {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (HeaderNameEquals(n, name)) return v;
    }
    return "<none>";
  }
};

// Prefect's stand-in. Paths: /slow (answers after 3 s), /delay... (after
// 100 ms), /redirect (307),
// /stream (a chunked body in three chunks, the last after release_stream),
// /refuse (closes without reading the body), /ws (WebSocket echo),
// anything else 200 with X-Upstream and a body naming the request.
class FakeUpstream {
 public:
  FakeUpstream() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeUpstream() {
    stopping_ = true;
    beast::error_code ec;
    {
      // Wakes the blocking accept (closing the acceptor would not).
      tcp::socket wake(io_);
      wake.connect(acceptor_.local_endpoint(), ec);
    }
    accept_thread_.join();
    acceptor_.close(ec);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (tcp::socket* s : sockets_) s->shutdown(tcp::socket::shutdown_both, ec);
    }
    for (std::thread& t : threads_) t.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int max_open() const { return max_open_.load(); }  // most connections open at once
  int requests() const { return requests_.load(); }
  std::atomic<bool> release_stream{false};  // /stream's last chunk may go
  Seen last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    const int now_open = ++open_;
    int seen_max = max_open_.load();
    while (now_open > seen_max && !max_open_.compare_exchange_weak(seen_max, now_open)) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      sockets_.push_back(&socket);
    }
    beast::flat_buffer buffer;
    beast::error_code ec;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read_header(socket, buffer, parser, ec);
      if (ec) break;
      if (parser.get().target() == "/refuse") break;  // closes, body unread
      http::read(socket, buffer, parser, ec);
      if (ec) break;
      http::request<http::string_body> req = parser.release();
      ++requests_;
      Seen seen{std::string(req.method_string()), std::string(req.target()), req.body(), {}};
      for (const auto& f : req) seen.headers.emplace_back(f.name_string(), f.value());
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = seen;
      }
      const std::string target(req.target());
      if (target == "/ws") {
        websocket::stream<tcp::socket&> ws(socket);
        ws.accept(req, ec);
        while (!ec) {
          beast::flat_buffer msg;
          ws.read(msg, ec);
          if (ec) break;
          ws.text(ws.got_text());
          ws.write(msg.data(), ec);
        }
        break;
      }
      if (target == "/stream") {
        std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
        net::write(socket, net::buffer(head), ec);
        for (const char* part : {"first,", "second,", "third"}) {
          if (std::string_view(part) == "third") {
            // Held back until the client saw the first chunks (at most
            // 5 s): an answer buffered whole would arrive only after that.
            const auto give_up = Clock::now() + std::chrono::seconds(5);
            while (!release_stream && !stopping_ && Clock::now() < give_up) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
          }
          const std::string chunk = Chunk(part);
          net::write(socket, net::buffer(chunk), ec);
        }
        net::write(socket, net::buffer(std::string("0\r\n\r\n")), ec);
        continue;
      }
      http::response<http::string_body> res{http::status::ok, 11};
      if (target == "/slow") {
        const auto until = Clock::now() + std::chrono::seconds(3);
        while (!stopping_ && Clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      } else if (target.rfind("/delay", 0) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      } else if (target.rfind("/redirect", 0) == 0) {
        res.result(http::status::temporary_redirect);
        res.set(http::field::location, "http://elsewhere.example/x");
      }
      res.set("X-Upstream", "yes");
      res.set("X-Hop", "dropped");
      res.set(http::field::connection, "X-Hop");  // names X-Hop hop-by-hop
      res.set("Keep-Alive", "timeout=99");
      res.set(http::field::content_type, "text/plain");
      res.body() = seen.method + " " + seen.target + " " + seen.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) break;
    }
    std::lock_guard<std::mutex> lock(mu_);  // the destructor shuts sockets down under mu_
    std::erase(sockets_, &socket);
    beast::error_code ignored;
    socket.close(ignored);
    --open_;
  }

  static std::string Chunk(std::string_view s) {
    return absl::StrFormat("%x\r\n%s\r\n", s.size(), s);
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0}, requests_{0}, open_{0}, max_open_{0};
  std::mutex mu_;
  Seen last_;
  std::vector<std::thread> threads_;
  std::vector<tcp::socket*> sockets_;
  std::thread accept_thread_;
};

class UpstreamProxyTest : public ::testing::Test {
 protected:
  void StartServer(std::string upstream, int timeout_seconds = 60, size_t max_connections = 64,
                   int threads = 2) {
    ServerOptions options;
    options.upstream_max_connections = max_connections;
    options.port = 0;
    options.threads = threads;
    options.log = std::getenv("TASKDEX_TEST_LOG") != nullptr ? stderr : nullptr;  // to debug
    options.upstream = std::move(upstream);
    options.upstream_timeout_seconds = timeout_seconds;
    options.on_forwarded = [this](const HttpRequest& req, int status) {
      std::lock_guard<std::mutex> lock(forwarded_mu_);
      forwarded_.push_back(req.method + " " + req.path + " " + std::to_string(status));
    };
    server_ = std::make_unique<HttpServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    auto engine = Engine::Open(kSnapshot);
    ASSERT_TRUE(engine.ok()) << engine.status();
    server_->SetEngine(*std::move(engine));
  }
  std::string UpstreamUrl() const { return "http://127.0.0.1:" + std::to_string(fake_->port()); }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }
  // What on_forwarded saw, once it saw `n` requests (it runs after the
  // answer was written, so maybe after the client read it), within 2 s.
  std::vector<std::string> Forwarded(size_t n) {
    const auto give_up = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < give_up) {
      {
        std::lock_guard<std::mutex> lock(forwarded_mu_);
        if (forwarded_.size() >= n) return forwarded_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard<std::mutex> lock(forwarded_mu_);
    return forwarded_;
  }

  std::unique_ptr<FakeUpstream> fake_ = std::make_unique<FakeUpstream>();
  std::mutex forwarded_mu_;
  std::vector<std::string> forwarded_;
  std::unique_ptr<HttpServer> server_;  // last: stopped first, before what its hook uses
};

TEST_F(UpstreamProxyTest, UnknownGetIsForwardedWithQueryAndHeaders) {
  StartServer(UpstreamUrl());
  httplib::Client c = Client();
  auto res = c.Get("/api/flows/abc?limit=5&x=%20y", {{"X-Custom", "42"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("X-Upstream"), "yes");
  EXPECT_EQ(res->body, "GET /api/flows/abc?limit=5&x=%20y ");
  const Seen seen = fake_->last();
  EXPECT_EQ(seen.target, "/api/flows/abc?limit=5&x=%20y");
  EXPECT_EQ(seen.Header("X-Custom"), "42");
  EXPECT_EQ(seen.Header("Host"), "127.0.0.1:" + std::to_string(fake_->port()));
  EXPECT_EQ(seen.Header("X-Forwarded-Host"), "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(seen.Header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(seen.Header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(Forwarded(1), std::vector<std::string>{"GET /api/flows/abc 200"});
}

TEST_F(UpstreamProxyTest, PostBodyIsForwardedByteExact) {
  StartServer(UpstreamUrl());
  std::string body;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) body.push_back(static_cast<char>(i * 7 % 256));
  httplib::Client c = Client();
  // Over the 1 MiB limit of taskdex's own routes: forwarded bodies have
  // their own (upstream_max_body_bytes).
  auto res = c.Post("/api/artifacts/", body, "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body == "POST /api/artifacts/ " + body) << res->body.size();
  EXPECT_TRUE(fake_->last().body == body) << fake_->last().body.size();
  EXPECT_EQ(fake_->last().Header("Content-Length"), std::to_string(body.size()));
  // taskdex's own routes keep their limit.
  auto own = c.Post("/api/task_runs/filter", body, "application/json");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 413);
}

TEST_F(UpstreamProxyTest, RedirectIsPassedThroughNotFollowed) {
  StartServer(UpstreamUrl());
  httplib::Client c = Client();
  auto res = c.Get("/redirect?q=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(res->get_header_value("Location"), "http://elsewhere.example/x");
  EXPECT_EQ(fake_->requests(), 1);
  // A trailing-slash variant of a taskdex route is Prefect's to redirect.
  auto slash = c.Post("/api/task_runs/filter/", "{}", "application/json");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->status, 200);
  EXPECT_EQ(fake_->last().target, "/api/task_runs/filter/");
}

TEST_F(UpstreamProxyTest, ChunkedStreamArrivesIntact) {
  StartServer(UpstreamUrl());
  RawConnection conn(server_->port(), 5);
  conn.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  // The first chunks arrive while the upstream holds back the last one.
  const auto give_up = Clock::now() + std::chrono::seconds(4);
  while (got.find("second,") == std::string::npos && Clock::now() < give_up) {
    if (!conn.ReadSome(&got)) break;
  }
  EXPECT_NE(got.find("second,"), std::string::npos) << got;
  EXPECT_EQ(got.find("third"), std::string::npos) << got;
  fake_->release_stream = true;
  while (got.find("0\r\n\r\n") == std::string::npos && Clock::now() < give_up) {
    if (!conn.ReadSome(&got)) break;
  }
  const size_t end = got.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << got;
  EXPECT_NE(got.substr(0, end).find("Transfer-Encoding: chunked"), std::string::npos) << got;
  std::string body, rest = got.substr(end + 4);
  while (true) {  // de-chunk
    const size_t eol = rest.find("\r\n");
    ASSERT_NE(eol, std::string::npos) << got;
    const size_t n = std::stoul(rest.substr(0, eol), nullptr, 16);
    if (n == 0) break;
    body += rest.substr(eol + 2, n);
    rest = rest.substr(eol + 2 + n + 2);
  }
  EXPECT_EQ(body, "first,second,third");
  // The connection is still usable.
  conn.Send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, answer;
  ASSERT_TRUE(conn.ReadResponse(&head, &answer));
  EXPECT_EQ(answer, "GET /after ");
}

TEST_F(UpstreamProxyTest, AnsweredRoutesAreNotForwarded) {
  StartServer(UpstreamUrl());
  httplib::Client c = Client();
  for (const char* path : {"/api/task_runs/paginate", "/api/task_runs/filter",
                           "/api/task_runs/count", "/api/task_runs/history"}) {
    auto res = c.Post(path, R"({"history_start":"2024-01-01T00:00:00Z","history_end":"2024-01-02T00:00:00Z","history_interval_seconds":3600})",
                      "application/json");
    ASSERT_TRUE(res) << path;
    EXPECT_NE(res->get_header_value("X-Upstream"), "yes") << path;
  }
  for (const char* path : {"/api/task_runs/00000000-0000-0000-0000-000000000000", "/api/health",
                           "/api/ready", "/livez", "/readyz", "/metrics"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_NE(res->get_header_value("X-Upstream"), "yes") << path;
  }
  auto apply = c.Post("/taskdex/v1/apply", "", "application/x-ndjson");
  ASSERT_TRUE(apply);
  EXPECT_EQ(apply->status, 403);
  EXPECT_EQ(fake_->requests(), 0);
  EXPECT_EQ(fake_->connections(), 0);
  // Another method on a taskdex path is Prefect's (PATCH is a write).
  auto patch = c.Patch("/api/task_runs/00000000-0000-0000-0000-000000000000", "{}",
                       "application/json");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->get_header_value("X-Upstream"), "yes");
  EXPECT_EQ(fake_->requests(), 1);
}

TEST_F(UpstreamProxyTest, UpstreamDownIs502) {
  const std::string url = UpstreamUrl();
  fake_.reset();  // nothing listens there now
  StartServer(url);
  httplib::Client c = Client();
  auto res = c.Get("/api/flows/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body, R"({"exception_message":"Bad Gateway"})");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(Forwarded(1), std::vector<std::string>{"GET /api/flows/ 502"});
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("taskdex_upstream_errors_total{code=\"502\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("taskdex_upstream_requests_total{code=\"502\"} 1"),
            std::string::npos);
}

TEST_F(UpstreamProxyTest, UpstreamClosingMidRequestIs502) {
  StartServer(UpstreamUrl());
  httplib::Client c = Client();
  for (int i = 0; i < 3; ++i) {
    auto res = c.Post("/refuse", std::string(3 << 20, 'b'), "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(res->body, R"({"exception_message":"Bad Gateway"})");
  }
  auto after = c.Get("/api/flows/");  // the pool recovered
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(UpstreamProxyTest, SlowUpstreamIs504WithinTheTimeout) {
  StartServer(UpstreamUrl(), /*timeout_seconds=*/1);
  httplib::Client c = Client();
  const auto start = Clock::now();
  auto res = c.Get("/slow");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 504);
  EXPECT_EQ(res->body, R"({"exception_message":"Gateway Timeout"})");
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 2.5);  // the fake answers after 3 s
}

TEST_F(UpstreamProxyTest, KeepAliveConnectionsAreReused) {
  StartServer(UpstreamUrl());
  httplib::Client c = Client();
  c.set_keep_alive(true);
  for (int i = 0; i < 10; ++i) {
    auto res = c.Get("/api/flows/" + std::to_string(i));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  // Other clients, one connection each, in turn.
  for (int i = 0; i < 5; ++i) {
    httplib::Client other = Client();
    ASSERT_TRUE(other.Get("/api/deployments/"));
  }
  EXPECT_EQ(fake_->requests(), 15);
  EXPECT_LE(fake_->connections(), 2);  // one per event loop at most
}

TEST_F(UpstreamProxyTest, PoolCapMakesRequestsWaitNotFail) {
  // One loop: the freed connection is handed to the next waiter as is.
  StartServer(UpstreamUrl(), 60, /*max_connections=*/1, /*threads=*/1);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(10, 0);
      auto res = c.Get("/delay/" + std::to_string(i));
      if (res && res->status == 200 && res->body == "GET /delay/" + std::to_string(i) + " ") ++ok;
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(fake_->requests(), 4);
  EXPECT_EQ(fake_->connections(), 1);
  EXPECT_EQ(fake_->max_open(), 1);
}

TEST_F(UpstreamProxyTest, HeadAnswerHasNoBodyAndKeepsTheConnection) {
  StartServer(UpstreamUrl());
  RawConnection conn(server_->port(), 5);
  conn.Send("HEAD /api/flows/ HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  ASSERT_TRUE(conn.ReadSome(&got));
  EXPECT_NE(got.find("Content-Length: 17"), std::string::npos) << got;  // "HEAD /api/flows/ "
  EXPECT_TRUE(got.ends_with("\r\n\r\n")) << got;
  conn.Send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /next ");
}

TEST_F(UpstreamProxyTest, HopByHopHeadersAreDropped) {
  StartServer(UpstreamUrl());
  RawConnection conn(server_->port(), 5);
  conn.Send(
      "GET /api/flows/ HTTP/1.1\r\nHost: front\r\nConnection: keep-alive, X-Drop-Me\r\n"
      "X-Drop-Me: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\n"
      "TE: trailers\r\nUpgrade: h2c\r\nX-Forwarded-For: 10.0.0.1\r\nX-Keep: 1\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  const Seen seen = fake_->last();
  for (const char* name : {"X-Drop-Me", "Keep-Alive", "Proxy-Authorization", "TE", "Upgrade"}) {
    EXPECT_EQ(seen.Header(name), "<none>") << name;
  }
  EXPECT_EQ(seen.Header("X-Keep"), "1");
  EXPECT_EQ(seen.Header("X-Forwarded-For"), "10.0.0.1, 127.0.0.1");
  EXPECT_EQ(seen.Header("X-Forwarded-Host"), "front");
  // And on the way back: the upstream's Keep-Alive and Connection-named X-Hop.
  EXPECT_EQ(head.find("X-Hop"), std::string::npos) << head;
  EXPECT_EQ(head.find("Keep-Alive"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Upstream: yes"), std::string::npos) << head;
}

TEST_F(UpstreamProxyTest, WebSocketIsTunnelled) {
  StartServer(UpstreamUrl());
  net::io_context io;
  websocket::stream<tcp::socket> ws(io);
  beast::error_code ec;
  ws.next_layer().connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server_->port())),
      ec);
  ASSERT_FALSE(ec) << ec.message();
  ws.handshake("127.0.0.1", "/ws", ec);
  ASSERT_FALSE(ec) << ec.message();
  for (const std::string& msg : {std::string("hello"), std::string(100000, 'x')}) {
    ws.write(net::buffer(msg), ec);
    ASSERT_FALSE(ec) << ec.message();
    beast::flat_buffer got;
    ws.read(got, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(beast::buffers_to_string(got.data()), msg);
  }
  ws.close(websocket::close_code::normal, ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(UpstreamUrlTest, ParsesHttpAndRefusesHttps) {
  auto u = ParseUpstreamUrl("http://prefect-server:4200/");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "prefect-server");
  EXPECT_EQ(u->port, "4200");
  EXPECT_EQ(u->host_header, "prefect-server:4200");
  auto plain = ParseUpstreamUrl("http://prefect");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->port, "80");
  auto v6 = ParseUpstreamUrl("http://[::1]:4200");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  auto https = ParseUpstreamUrl("https://prefect:4200");
  ASSERT_FALSE(https.ok());
  EXPECT_EQ(https.status().message(),
            "https upstreams are not supported; put taskdex and Prefect on one network or use "
            "a TLS terminator");
  EXPECT_FALSE(ParseUpstreamUrl("http://prefect:4200/api").ok());
  EXPECT_FALSE(ParseUpstreamUrl("http://prefect:0").ok());
  EXPECT_FALSE(ParseUpstreamUrl("prefect:4200").ok());
}

}  // namespace
}  // namespace taskdex
