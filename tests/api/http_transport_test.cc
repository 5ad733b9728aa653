// The connection layer alone (api/http_transport.h), on a real loopback
// socket with a trivial handler: framing, limits, deadlines, the
// connection cap, overload and graceful stop. Each case is bounded in time
// (short deadlines) and size.

#include "api/http_transport.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_connection.h"

namespace taskdex {
namespace {

using Clock = std::chrono::steady_clock;

class HttpTransportTest : public ::testing::Test {
 protected:
  // Echo: "<method> <path> <body>", after `handler_sleep_ms`.
  void StartTransport(TransportOptions options) {
    options.port = 0;
    transport_ = std::make_unique<HttpTransport>(
        options,
        [this](HttpRequest& req, HttpResponse* res) {
          ++handled_;
          if (handler_sleep_ms_ > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(handler_sleep_ms_.load()));
          }
          res->set_content(req.method + " " + req.path + " " + req.body, "text/plain");
        },
        [](int status, HttpResponse* res) {
          res->status = status;
          res->set_content(absl::StrFormat("error %d", status), "text/plain");
        });
    ASSERT_TRUE(transport_->Start().ok());
  }
  // As StartTransport, with requests to /pool... placed on the pool, where
  // the handler waits for OpenGate() (at most 8 s) before answering.
  void StartPooled(TransportOptions options) {
    options.port = 0;
    transport_ = std::make_unique<HttpTransport>(
        options,
        [this](HttpRequest& req, HttpResponse* res) {
          if (req.path.starts_with("/pool")) {
            ++in_gate_;
            const auto give_up = Clock::now() + std::chrono::seconds(8);
            while (!gate_open_ && Clock::now() < give_up) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
          }
          res->set_content(req.method + " " + req.path + " " + req.body, "text/plain");
        },
        [](int status, HttpResponse* res) {
          res->status = status;
          res->set_content(absl::StrFormat("error %d", status), "text/plain");
        },
        [](const HttpRequest& req) { return req.path.starts_with("/pool"); });
    ASSERT_TRUE(transport_->Start().ok());
  }
  void OpenGate() { gate_open_ = true; }
  // Waits until `n` requests wait at the gate.
  bool WaitInGate(int n) {
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    while (in_gate_ < n && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return in_gate_ >= n;
  }
  int port() const { return transport_->port(); }

  std::atomic<int> in_gate_{0};
  std::atomic<bool> gate_open_{false};
  std::unique_ptr<HttpTransport> transport_;
  std::atomic<int> handled_{0};
  std::atomic<int> handler_sleep_ms_{0};
};

std::string Status(const std::string& head) { return head.substr(9, 3); }

TEST_F(HttpTransportTest, KeepAliveRequestsAndBodies) {
  StartTransport({});
  RawConnection conn(port(), 5);
  std::string head, body;
  conn.Send("GET /a%20b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /a b ");
  conn.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "POST /p hello");
  // Chunked, with a chunk extension (RFC 9112 7.1.1).
  conn.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2;foo=bar\r\nab\r\n1\r\nc\r\n0\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "POST /c abc");
  // A list of equal lengths is one length (h11).
  conn.Send("POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "POST /l ok");
  // Connection: close is honoured.
  conn.Send("GET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_TRUE(conn.Closed());
}

TEST_F(HttpTransportTest, FramingErrorsAre400AndClose) {
  StartTransport({});
  const std::string next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string& request : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("POST /p HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}"),
           std::string("POST /p HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}"),
           std::string("POST /p HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}"),
           std::string("POST /p HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n{}"),
           std::string("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
       }) {
    SCOPED_TRACE(request);
    RawConnection conn(port(), 5);
    conn.Send(request + next);
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(Status(head), "400") << head;
    EXPECT_TRUE(conn.Closed());  // and no answer for the leftover bytes
  }
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpTransportTest, LimitsOnHeadAndBody) {
  TransportOptions options;
  options.max_header_count = 10;
  options.max_header_bytes = 2000;
  options.max_body_bytes = 1000;
  StartTransport(options);
  auto headers = [](int n, size_t size) {
    std::string out;
    for (int i = 0; i < n; ++i) out += absl::StrFormat("X-%d: %s\r\n", i, std::string(size, 'v'));
    return out;
  };
  struct Case {
    std::string what, request, status;
  };
  const std::string start = "POST /p HTTP/1.1\r\nHost: x\r\n";
  const std::string chunk = "190\r\n" + std::string(400, ' ') + "\r\n";
  for (const Case& c : {
           Case{"10 headers", start + headers(8, 1) + "Content-Length: 2\r\n\r\n{}", "200"},
           Case{"11 headers", start + headers(9, 1) + "Content-Length: 2\r\n\r\n{}", "431"},
           Case{"100000 headers", start + headers(100000, 1) + "\r\n", "431"},
           Case{"a 3000-byte header", start + headers(1, 3000) + "\r\n", "431"},
           Case{"Content-Length over", start + "Content-Length: 1001\r\n\r\n", "413"},
           Case{"a huge Content-Length", start + "Content-Length: 99999999999999999999999\r\n\r\n",
                "400"},
           Case{"chunked over", start + "Transfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk,
                "413"},
       }) {
    SCOPED_TRACE(c.what);
    RawConnection conn(port(), 5);
    conn.TrySend(c.request);  // the server may close before taking it all
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(Status(head), c.status) << head;
    if (c.status != "200") {
      EXPECT_TRUE(conn.Closed());
    }
  }
}

TEST_F(HttpTransportTest, ExpectContinue) {
  StartTransport({});
  RawConnection conn(port(), 5);
  conn.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(Status(head), "100");
  conn.Send("{}");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "POST /p {}");
}

// Issue 11 finding 3: connections trickling a head byte by byte hold no
// worker, and are closed at the head deadline (not per read).
TEST_F(HttpTransportTest, SlowHeadsHoldNoWorkerAndMeetTheDeadline) {
  TransportOptions options;
  options.workers = 1;
  options.head_timeout_ms = 1500;
  StartTransport(options);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port(), 5));
    slow.back()->Send("POST /slow HTTP/1.1\r\n");
  }
  const auto start = Clock::now();
  bool all_closed = false;
  while (!all_closed && Clock::now() - start < std::chrono::seconds(4)) {
    // Normal requests are answered at once meanwhile.
    RawConnection conn(port(), 5);
    conn.Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(body, "GET /fast ");
    // A byte every 300 ms: each read is quick, the head never ends.
    all_closed = true;
    for (auto& s : slow) {
      all_closed &= !s->TrySend("X");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(all_closed);
  EXPECT_GE(seconds, 1.2);  // not before the deadline
  EXPECT_LE(seconds, 3.5);  // and not much after it
  EXPECT_GE(transport_->Stats().timed_out, 50u);
}

TEST_F(HttpTransportTest, IdleKeepAliveIsClosed) {
  TransportOptions options;
  options.keep_alive_ms = 300;
  StartTransport(options);
  RawConnection conn(port(), 5);
  conn.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  const auto start = Clock::now();
  EXPECT_TRUE(conn.Closed());  // blocks until the server closes
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST_F(HttpTransportTest, ConnectionCapAnswers503) {
  TransportOptions options;
  options.max_connections = 3;
  StartTransport(options);
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawConnection>(port(), 5));
    open.back()->Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string head, body;
    ASSERT_TRUE(open.back()->ReadResponse(&head, &body));  // accepted, kept alive
  }
  std::string head, body;
  {
    RawConnection extra(port(), 5);
    ASSERT_TRUE(extra.ReadResponse(&head, &body));
    EXPECT_EQ(Status(head), "503");
    EXPECT_TRUE(extra.Closed());
  }
  open.pop_back();  // one leaves: room for a new one
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  RawConnection again(port(), 5);
  again.Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(again.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /b ");
  EXPECT_EQ(transport_->Stats().rejected_connections, 1u);
}

// A slow request delays only the connections of its own loop: a new
// connection goes to the loop with the fewest connections.
TEST_F(HttpTransportTest, ASlowRequestHoldsOnlyItsLoop) {
  TransportOptions options;
  options.workers = 2;
  handler_sleep_ms_ = 800;
  StartTransport(options);
  RawConnection slow(port(), 5);
  slow.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // in the handler
  handler_sleep_ms_ = 0;
  const auto start = Clock::now();
  RawConnection fast(port(), 5);
  fast.Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(fast.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /fast ");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
  ASSERT_TRUE(slow.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /slow ");
}

// A request the Placement sends to the pool does not hold its loop: with
// one loop, another connection is answered while the pooled request is
// still running (inline, the second answer would wait for the gate, which
// opens only after it arrived, and the read would time out).
TEST_F(HttpTransportTest, APooledRequestLeavesItsLoopFree) {
  TransportOptions options;
  options.workers = 1;
  options.pool_threads = 1;
  StartPooled(options);
  RawConnection pooled(port(), 10);
  pooled.Send("GET /pool HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(WaitInGate(1));
  RawConnection fast(port(), 3);
  std::string head, body;
  for (int i = 0; i < 3; ++i) {  // keep-alive: the same loop, three times
    fast.Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(fast.ReadResponse(&head, &body));
    EXPECT_EQ(body, "GET /fast ");
  }
  OpenGate();
  ASSERT_TRUE(pooled.ReadResponse(&head, &body));
  EXPECT_EQ(Status(head), "200");
  EXPECT_EQ(body, "GET /pool ");
  // The pooled connection stays usable (keep-alive, back on its loop).
  pooled.Send("GET /pool2 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(pooled.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /pool2 ");
  EXPECT_EQ(transport_->Stats().pooled, 2u);
}

// At most max_queued requests wait for or run on the pool; the next one is
// answered 503 at once and closed, and the queued one still gets its answer.
TEST_F(HttpTransportTest, AFullPoolAnswers503) {
  TransportOptions options;
  options.workers = 2;
  options.pool_threads = 1;
  options.max_queued = 1;
  StartPooled(options);
  RawConnection first(port(), 10);
  first.Send("POST /pool HTTP/1.1\r\nContent-Length: 1\r\n\r\na");
  ASSERT_TRUE(WaitInGate(1));
  RawConnection second(port(), 3);
  second.Send("POST /pool HTTP/1.1\r\nContent-Length: 1\r\n\r\nb");
  std::string head, body;
  ASSERT_TRUE(second.ReadResponse(&head, &body));
  EXPECT_EQ(Status(head), "503");
  EXPECT_EQ(body, "error 503");
  EXPECT_TRUE(second.Closed());
  OpenGate();
  ASSERT_TRUE(first.ReadResponse(&head, &body));
  EXPECT_EQ(body, "POST /pool a");
  const TransportStats stats = transport_->Stats();
  EXPECT_EQ(stats.pooled, 1u);
  EXPECT_EQ(stats.rejected_busy, 1u);
}

// Stop() waits for a pooled request in flight and writes its answer.
TEST_F(HttpTransportTest, StopAnswersAPooledRequest) {
  TransportOptions options;
  options.pool_threads = 2;
  options.shutdown_timeout_ms = 3000;
  StartPooled(options);
  RawConnection pooled(port(), 10);
  pooled.Send("GET /pool HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(WaitInGate(1));
  std::thread stopper([&] { transport_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Stop() is waiting
  OpenGate();
  std::string head, body;
  ASSERT_TRUE(pooled.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /pool ");
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  stopper.join();
}

// Issue 11 finding 4: Stop() answers what is in flight, closes idle and
// slow connections, and returns within the shutdown timeout. The in-flight
// answer must arrive whole: a cut connection fails ReadResponse.
TEST_F(HttpTransportTest, StopAnswersInFlightAndClosesTheRest) {
  TransportOptions options;
  options.shutdown_timeout_ms = 1000;
  options.head_timeout_ms = 60000;  // slow clients would outlive the stop
  handler_sleep_ms_ = 400;
  StartTransport(options);
  RawConnection idle(port(), 5);
  idle.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, body;
  handler_sleep_ms_ = 0;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port(), 5));
    slow.back()->Send("POST /slow HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
  }
  ASSERT_TRUE(idle.ReadResponse(&head, &body));
  handler_sleep_ms_ = 400;
  RawConnection busy(port(), 5);
  busy.Send("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // in the handler now
  const auto start = Clock::now();
  std::thread stopper([&] { transport_->Stop(); });
  ASSERT_TRUE(busy.ReadResponse(&head, &body));
  EXPECT_EQ(body, "GET /busy ");
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  stopper.join();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_TRUE(idle.Closed());
  for (auto& s : slow) EXPECT_TRUE(s->Closed());
}

}  // namespace
}  // namespace taskdex
