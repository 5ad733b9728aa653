// The HTTP transport's threads against each other (run under
// ThreadSanitizer by scripts/test.sh): several event loops, clients that
// keep connections alive, open new ones and drop them mid-request, and a
// Stop() while all of that runs. Every request a handler saw must reach
// its client whole (or its connection be closed before any byte of the
// answer was sent, which the client counts separately).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http_transport.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_connection.h"

namespace taskdex {
namespace {

TEST(HttpTransportConcurrencyTest, ClientsChurnWhileTheServerStops) {
  std::atomic<int> handled{0};
  TransportOptions options;
  options.port = 0;
  options.workers = 3;
  options.shutdown_timeout_ms = 2000;
  options.pool_threads = 2;   // half the requests answered on the pool
  options.max_queued = 1000;  // never full here: every answer is a handled request
  HttpTransport transport(
      options,
      [&](HttpRequest& req, HttpResponse* res) {
        ++handled;
        res->set_content(std::string(static_cast<size_t>(100 + req.body.size() * 50), 'x'),
                         "text/plain");
      },
      [](int status, HttpResponse* res) {
        res->status = status;
        res->set_content("error", "text/plain");
      },
      [](const HttpRequest& req) { return req.body.size() % 2 == 1; });
  ASSERT_TRUE(transport.Start().ok());
  const int port = transport.port();
  std::atomic<bool> stop_clients{false};  // set after Stop(): clients load it throughout
  std::atomic<int> whole{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int round = 0; !stop_clients.load(); ++round) {
        RawConnection conn(port, 5, /*must_connect=*/false);
        if (!conn.connected()) break;  // stopped
        for (int i = 0; i < 20 && !stop_clients.load(); ++i) {
          const std::string body(static_cast<size_t>((t * 7 + i) % 40), 'b');
          if (!conn.TrySend("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body)) {
            break;
          }
          if ((t + round + i) % 17 == 0) break;  // drop the connection mid-request
          std::string head, answer;
          if (!conn.ReadResponse(&head, &answer)) break;
          ++whole;
          if (head.find("Connection: close") != std::string::npos) break;
        }
      }
    });
  }
  // Churn for a while, then stop under load.
  while (whole.load() < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  transport.Stop();
  stop_clients = true;
  for (auto& c : clients) c.join();
  EXPECT_GT(whole.load(), 0);
  // Dropped connections (every 17th request) were handled without being
  // read back: handled >= whole, and the gap is at most the drops.
  EXPECT_GE(handled.load(), whole.load());
  const TransportStats stats = transport.Stats();
  EXPECT_EQ(stats.open_connections, 0u);
  EXPECT_GT(stats.pooled, 0u);
}

}  // namespace
}  // namespace taskdex
