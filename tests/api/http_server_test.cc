// Real HTTP on an ephemeral loopback port, with cpp-httplib's client.

#include "api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <cstring>
#include <sstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "api/response_writer.h"
#include "api/taskdex.h"
#include "api/version_writer.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_connection.h"
#include "httplib.h"

// GCC 12 reports a copy of ServerOptions' std::optional<std::string> as
// "may be used uninitialized" at -O2/-O3 (a known false positive of its
// optional<string> inlining); CI builds with -Werror.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace taskdex {
namespace {

constexpr char kSnapshot[] = TASKDEX_EXAMPLES_DIR "/snapshot";
constexpr char kJson[] = "application/json";

std::unique_ptr<Engine> LoadExamples() {
  auto engine = Engine::Open(kSnapshot);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// Removes the clock-dependent fields so bodies compare across time.
std::string StripClock(const std::string& body) {
  // (No std::regex: g++ 12 warns inside it under -fsanitize.)
  std::string out;
  size_t i = 0;
  while (i < body.size()) {
    size_t a = body.find("\"estimated_", i);
    if (a == std::string::npos) break;
    size_t colon = body.find("\":", a + 1);
    if (colon == std::string::npos) break;
    size_t v = colon + 2;
    size_t e = v;
    while (e < body.size() && std::strchr("0123456789.e+-", body[e]) != nullptr) ++e;
    out.append(body, i, v - i);
    out += "X";
    i = e;
  }
  out.append(body, i, std::string::npos);
  return out;
}

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 31), Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}, bool with_engine = true, FILE* log = nullptr) {
    options.host = "127.0.0.1";
    options.port = 0;
    if (options.read_timeout_seconds == ServerOptions{}.read_timeout_seconds) {
      options.read_timeout_seconds = 1;
    }
    options.write_timeout_seconds = 2;
    if (options.keep_alive_seconds == ServerOptions{}.keep_alive_seconds) {
      options.keep_alive_seconds = 2;
    }
    options.log = log;
    server_ = std::make_unique<HttpServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    if (with_engine) server_->SetEngine(LoadExamples());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::unique_ptr<httplib::Client> NewClient() {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_connection_timeout(2, 0);
    c->set_read_timeout(5, 0);
    c->set_write_timeout(5, 0);
    c->set_decompress(false);
    return c;
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const char* content_type = kJson, httplib::Headers headers = {}) {
    return NewClient()->Post(path.c_str(), headers, body, content_type);
  }
  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    return NewClient()->Get(path.c_str(), headers);
  }
  // A raw request over a socket; returns what the server answered (until it
  // closes, or after the timeout).
  // (cpp-httplib drops a request whose client half-closed early, so the
  // socket stays open for writing until the answer arrives.)
  std::string Raw(const std::string& request, int timeout_ms = 3000) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    std::string out;
    char buf[4096];
    while (true) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
  }

  std::unique_ptr<HttpServer> server_;
};

void ExpectAnswer(const httplib::Result& r, int status, const std::string& body) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(HttpServerTest, PaginateMatchesTheEngineOnEveryExample) {
  StartServer();
  std::unique_ptr<Engine> engine = LoadExamples();
  std::ifstream in(TASKDEX_EXAMPLES_DIR "/examples.jsonl");
  std::string line;
  int n = 0;
  auto client = NewClient();
  while (std::getline(in, line)) {
    // The "body" member, re-serialized by nothing: cut it out textually.
    size_t b = line.find("\"body\": ");
    size_t e = line.rfind(", \"expect\": ");
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(e, std::string::npos);
    std::string body = line.substr(b + 8, e - b - 8);
    Response want = engine->PaginateJson(body, NowMicros());
    auto r = client->Post("/api/task_runs/paginate", body, kJson);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, want.status) << line;
    EXPECT_EQ(StripClock(r->body), StripClock(want.body)) << line;
    ++n;
  }
  EXPECT_GE(n, 60);
}

TEST_F(HttpServerTest, PaginateDefaultsAndErrors) {
  StartServer();
  auto r = Post("/api/task_runs/paginate", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"count\":7,\"limit\":200,\"pages\":1,\"page\":1"), std::string::npos)
      << r->body;
  ExpectAnswer(Post("/api/task_runs/paginate", R"({"limit": 201})"), 422,
               R"({"detail":"Invalid limit: must be less than or equal to 200."})");
  ExpectAnswer(
      Post("/api/task_runs/paginate", R"({"page": 0})"), 422,
      R"({"exception_message":"Invalid request received.","exception_detail":[{"type":"greater_than_equal","loc":["body","page"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}}],"request_body":{"page":0}})");
  auto bad = Post("/api/task_runs/paginate", R"({"limit": 1,})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  EXPECT_NE(bad->body.find("\"type\":\"json_invalid\""), std::string::npos) << bad->body;
  EXPECT_NE(bad->body.find(R"("request_body":"{\"limit\": 1,}")"), std::string::npos)
      << bad->body;
  ExpectAnswer(Post("/api/task_runs/paginate", "\xff\xfe\xfd"), 400,
               R"({"detail":"There was an error parsing the body"})");
}

TEST_F(HttpServerTest, MediaTypeRules) {
  StartServer();
  // text/plain: the body is ignored, all defaults.
  auto r = Post("/api/task_runs/count", R"({"task_runs":{"name":{"any_":["nope"]}}})",
                "text/plain");
  ExpectAnswer(r, 200, "7");
  // Case and parameters are ignored; +json counts.
  const std::string filtered = R"({"task_runs":{"name":{"any_":["extract_a"]}}})";
  ExpectAnswer(Post("/api/task_runs/count", filtered, "Application/JSON; charset=latin-1"), 200,
               "1");
  ExpectAnswer(Post("/api/task_runs/count", filtered, "application/vnd.x+json"), 200, "1");
  // No Content-Type with a body: treated as JSON (default_content_type).
  std::string raw = Raw("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(filtered.size()) + "\r\n\r\n" + filtered);
  EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.size() - 1), "1") << raw;
  // An empty Content-Type value: present, so default_content_type adds
  // nothing, and not JSON, so the body is ignored (paginate.md 1.1 steps
  // 2-3). cpp-httplib's parser drops the header; the server's connection
  // stream sees the line. Starlette reads the first Content-Type line.
  for (const char* content_type : {"Content-Type:\r\n", "content-type: \t \r\n",
                                   "Content-Type:\r\nContent-Type: application/json\r\n"}) {
    raw = Raw("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
              std::string(content_type) + "Content-Length: " + std::to_string(filtered.size()) +
              "\r\n\r\n" + filtered);
    EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
    EXPECT_EQ(raw.substr(raw.size() - 1), "7") << content_type << raw;
  }
  // A JSON Content-Type first, an empty one after it: JSON.
  raw = Raw("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Type:\r\nContent-Length: " +
            std::to_string(filtered.size()) + "\r\n\r\n" + filtered);
  EXPECT_EQ(raw.substr(raw.size() - 1), "1") << raw;
  // The same bytes in a body or another header do not count.
  raw = Raw("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "X-Content-Type:\r\nContent-Length: " +
            std::to_string(filtered.size()) + "\r\n\r\n" + filtered);
  EXPECT_EQ(raw.substr(raw.size() - 1), "1") << raw;
}

// Requests sent back to back on one connection (pipelined) are all
// answered, in order; an empty Content-Type in one does not leak into the
// next.
TEST_F(HttpServerTest, PipelinedRequests) {
  StartServer();
  RawConnection conn(server_->port(), 10);
  const std::string filtered = R"({"task_runs":{"name":{"any_":["extract_a"]}}})";
  const std::string length = std::to_string(filtered.size());
  conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type:\r\n"
            "Content-Length: " + length + "\r\n\r\n" + filtered +
            "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: " + length + "\r\n\r\n" + filtered +
            "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "7");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "1");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "true");
  // A large answer after small ones on the same connection.
  conn.Send("POST /api/task_runs/filter HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK") << head;
  auto want = Post("/api/task_runs/filter", "");
  ASSERT_TRUE(want);
  EXPECT_EQ(StripClock(body), StripClock(want->body));
}

TEST_F(HttpServerTest, PostWithoutLengthHasAnEmptyBody) {
  ServerOptions options;
  options.read_timeout_seconds = 30;
  StartServer(options);
  RawConnection conn(server_->port(), 10);
  std::string head, body;
  // The same answer as an empty body sent with Content-Length: 0.
  conn.Send("POST /api/task_runs/paginate HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body)) << "no answer before the receive timeout";
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK") << head;
  auto want = Post("/api/task_runs/paginate", "");
  ASSERT_TRUE(want);
  EXPECT_EQ(StripClock(body), StripClock(want->body));
  EXPECT_NE(body.find("\"count\":7,\"limit\":200,"), std::string::npos) << body;
  // The connection still works, with a body and without one.
  const std::string filtered = R"({"task_runs":{"name":{"any_":["extract_a"]}}})";
  conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            "\r\nContent-Length: " + std::to_string(filtered.size()) + "\r\n\r\n" + filtered);
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "1");
  // A Content-Type with no length: still no body (not read as JSON).
  conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK") << head;
  EXPECT_EQ(body, "7");
  // Other methods the library reads a body for: 405 at once.
  conn.Send("DELETE /api/task_runs/count HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 405") << head;
  EXPECT_EQ(body, R"({"detail":"Method Not Allowed"})");
  conn.Send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "true");
  // Counted like any request.
  auto metrics = Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "taskdex_http_requests_total{endpoint=\"count\",status=\"200\"} 2\n"),
            std::string::npos)
      << metrics->body;
}

// A Transfer-Encoding other than "chunked" cannot be framed: uvicorn (h11)
// answers 400 and closes; chunked bodies are read as usual.
TEST_F(HttpServerTest, TransferEncodingOtherThanChunkedIs400) {
  ServerOptions options;
  options.read_timeout_seconds = 30;
  options.keep_alive_seconds = 30;  // the close must come from the 400, not an idle timeout
  StartServer(options);
  {
    RawConnection conn(server_->port(), 10);
    std::string head, body;
    conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\n"
              "Transfer-Encoding: gzip\r\n\r\nxyz");
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 400") << head;
    EXPECT_EQ(body, "Invalid HTTP request received.");
    EXPECT_TRUE(conn.Closed());
  }
  RawConnection conn(server_->port(), 10);
  std::string head, body;
  const std::string filtered = R"({"task_runs":{"name":{"any_":["extract_a"]}}})";
  conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            "\r\nTransfer-Encoding: Chunked\r\n\r\n" +
            absl::StrFormat("%x", filtered.size()) + "\r\n" + filtered + "\r\n0\r\n\r\n");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "1") << head;
}

// Content-Length as h11 frames it: digits only, every header and every
// comma-separated piece the same, else 400 and close at once; a declared
// length over --max-body-bytes is 413 at once, before reading the body.
// The read timeout (30 s) is longer than the client's (10 s), so an answer
// that waits for the body fails ReadResponse. (An empty `Content-Length:`
// is dropped by cpp-httplib's parser before the handlers see it, and is read
// as no body; h11 answers 400.)
TEST_F(HttpServerTest, ContentLengthFramingAsH11) {
  ServerOptions options;
  options.read_timeout_seconds = 30;
  options.keep_alive_seconds = 30;  // a close must come from the answer, not an idle timeout
  options.max_body_bytes = 1000;
  StartServer(options);
  const std::string head_of = "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\n";
  struct Case {
    std::string headers;
    std::string status;
  };
  for (const Case& c : std::vector<Case>{{"Content-Length: abc\r\n", "400"},
                                         {"Content-Length: -5\r\n", "400"},
                                         {"Content-Length: 2\r\nContent-Length: 5\r\n", "400"},
                                         {"Content-Length: 2, 3\r\n", "400"},
                                         {"Content-Length: 1001\r\n", "413"},
                                         // h11 reads it; the transport's parser
                                         // finds it out of range: 400 at once.
                                         {"Content-Length: 99999999999999999999999\r\n", "400"}}) {
    SCOPED_TRACE(c.headers);
    RawConnection conn(server_->port(), 10);
    conn.Send(head_of + c.headers + "\r\n{}");
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 " + c.status) << head;
    if (c.status == "413") {
      EXPECT_EQ(body, R"({"detail":"Request body too large"})");
    }
    EXPECT_TRUE(conn.Closed());
  }
  // Repeats of one length are one length (h11 collapses them); the
  // connection stays usable.
  RawConnection conn(server_->port(), 10);
  std::string head, body;
  conn.Send(head_of + "Content-Type: application/json\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "7") << head;
  conn.Send(head_of + "Content-Type: application/json\r\nContent-Length: 02\r\n\r\n{}");
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "7") << head;
}

// --max-body-bytes holds for chunked bodies too: the server stops reading
// at the limit, answers 413 and closes, however much the client would send
// (a 300 MB chunked body used to be read whole and echoed in a 422).
TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  ServerOptions options;
  options.read_timeout_seconds = 30;
  options.keep_alive_seconds = 30;
  options.max_body_bytes = 1000;
  StartServer(options);
  {
    RawConnection conn(server_->port(), 10);
    conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
              "\r\nTransfer-Encoding: chunked\r\n\r\n");
    // 3 chunks of 400 bytes: past the limit by the third; no terminating
    // chunk, so an answer must not wait for the end of the body.
    const std::string chunk = "190\r\n" + std::string(400, ' ') + "\r\n";
    conn.Send(chunk + chunk + chunk);
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 413") << head;
    EXPECT_EQ(body, R"({"detail":"Request body too large"})");
    EXPECT_TRUE(conn.Closed());
  }
  // At the limit exactly: read and answered as usual.
  RawConnection conn(server_->port(), 10);
  const std::string filtered = R"({"task_runs":{"name":{"any_":["extract_a"]}}})";
  const std::string padded = filtered + std::string(1000 - filtered.size(), ' ');
  conn.Send("POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            "\r\nTransfer-Encoding: chunked\r\n\r\n" +
            absl::StrFormat("%x", padded.size()) + "\r\n" + padded + "\r\n0\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "1") << head;
}

// Issue 11 finding 2: the request head is bounded in header lines and bytes
// (431, closed at once; ~3M headers grew the server by 440 MB before).
TEST_F(HttpServerTest, HeadOverTheLimitsIs431AndCloses) {
  ServerOptions options;
  options.max_header_count = 10;
  options.max_header_bytes = 2000;
  StartServer(options);
  const std::string start = "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\n";
  auto headers = [](int n, size_t value_size) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += absl::StrFormat("X-H%d: %s\r\n", i, std::string(value_size, 'v'));
    }
    return out;
  };
  struct Case {
    const char* what;
    std::string head;
    std::string status;
  };
  for (const Case& c : {Case{"10 header lines: at the limit", start + headers(8, 1), "200"},
                        Case{"11 header lines", start + headers(9, 1), "431"},
                        Case{"100000 header lines", start + headers(100000, 1), "431"},
                        Case{"one 3000-byte header", start + headers(1, 3000), "431"}}) {
    SCOPED_TRACE(c.what);
    RawConnection conn(server_->port(), 10);
    conn.TrySend(c.head + "Content-Length: 2\r\n\r\n{}");
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 " + c.status) << head;
    if (c.status == "431") {
      EXPECT_TRUE(conn.Closed());
    } else {
      EXPECT_EQ(body, "7");
    }
  }
}

// Issue 11 finding 5: a request the parser cannot read is answered 400 once
// and the connection closed (h11), so no leftover bytes become a request.
TEST_F(HttpServerTest, UnparsableRequestsAre400AndClose) {
  ServerOptions options;
  options.read_timeout_seconds = 30;
  options.keep_alive_seconds = 30;
  StartServer(options);
  const std::string chunked =
      "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (const std::string& request :
       {std::string("GARBAGE\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"),
        chunked + "zz\r\n{}\r\n0\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    SCOPED_TRACE(request);
    RawConnection conn(server_->port(), 10);
    conn.Send(request);
    std::string head, body;
    ASSERT_TRUE(conn.ReadResponse(&head, &body));
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 400") << head;
    EXPECT_TRUE(conn.Closed());  // and no second answer
  }
  // RFC 9112 7.1.1: chunk extensions are allowed and ignored.
  RawConnection conn(server_->port(), 10);
  conn.Send(chunked + "2;foo=bar\r\n{}\r\n0\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(conn.ReadResponse(&head, &body));
  EXPECT_EQ(body, "7") << head;
}

TEST_F(HttpServerTest, VersionHeader) {
  StartServer();
  auto with = [](const char* v) { return httplib::Headers{{"X-PREFECT-API-VERSION", v}}; };
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, with("0.8.4")), 200, "7");
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, with("01.02.03")), 200, "7");
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, with("1_0.0.0")), 200, "7");
  ExpectAnswer(
      Post("/api/task_runs/count", "{}", kJson, with("1.2")), 400,
      R"({"detail":"Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received 1.2"})");
  ExpectAnswer(
      Post("/api/task_runs/paginate", R"({"limit":500})", kJson, with("0.7.9")), 400,
      R"({"detail":"The request specified API version 0.7.9 but this server requires version 0.8.0 or higher."})");
  // Malformed JSON is reported before the version check.
  auto r = Post("/api/task_runs/paginate", "{", kJson, with("bad"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  // The check is a dependency of every router (GET by id, /api/ready), but
  // /api/health is declared on the app itself and has none
  // (src/prefect/server/api/server.py, create_api_app).
  const std::string too_old =
      R"({"detail":"The request specified API version 0.0.1 but this server requires version 0.8.0 or higher."})";
  ExpectAnswer(Get("/api/task_runs/00000000-0000-4000-8000-000000000001", with("0.0.1")), 400,
               too_old);
  ExpectAnswer(Get("/api/ready", with("0.0.1")), 400, too_old);
  ExpectAnswer(Get("/api/health", with("0.0.1")), 200, "true");
  ExpectAnswer(Get("/api/health", with("bad")), 200, "true");
  // An empty value counts as absent.
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, with("")), 200, "7");
  EXPECT_EQ(CheckApiVersion(" +1.0.0"), "");
  EXPECT_NE(CheckApiVersion("1.0.0."), "");
  EXPECT_NE(CheckApiVersion("1._0.0"), "");
  EXPECT_NE(CheckApiVersion("-1.9.0"), "");
  EXPECT_EQ(CheckApiVersion("0.8.0"), "");
  EXPECT_EQ(CheckApiVersion("0.99999999999999999999.0"), "");
}

TEST_F(HttpServerTest, FilterCountAndRead) {
  StartServer();
  std::unique_ptr<Engine> engine = LoadExamples();
  auto r = Post("/api/task_runs/filter", R"({"limit":2,"offset":1,"sort":"NAME_ASC"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const TaskRunPage page = engine->Filter({}, TaskRunSort::kNameAsc, 1, 2);
  ASSERT_EQ(page.rows.size(), 2u);
  std::string want;
  AppendTaskRunFullArray(*page.version, page.rows, NowMicros(), &want);
  EXPECT_EQ(StripClock(r->body), StripClock(want));
  ExpectAnswer(
      Post("/api/task_runs/filter", R"({"offset":-1})"), 422,
      R"({"exception_message":"Invalid request received.","exception_detail":[{"type":"greater_than_equal","loc":["body","offset"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}}],"request_body":{"offset":-1}})");
  ExpectAnswer(Post("/api/task_runs/count", R"({"task_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})"),
               200, "2");
  ExpectAnswer(
      Post("/api/task_runs/count", "[1]"), 422,
      R"({"exception_message":"Invalid request received.","exception_detail":[{"type":"missing","loc":["body","flows"],"msg":"Field required","input":null},{"type":"missing","loc":["body","flow_runs"],"msg":"Field required","input":null},{"type":"missing","loc":["body","task_runs"],"msg":"Field required","input":null},{"type":"missing","loc":["body","deployments"],"msg":"Field required","input":null}],"request_body":[1]})");

  const std::string id = "00000000-0000-4000-8000-000000000001";
  auto one = Get("/api/task_runs/" + id);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  auto want_one = engine->TaskRunJson(id, NowMicros());
  ASSERT_TRUE(want_one.ok());
  EXPECT_EQ(StripClock(one->body), StripClock(*want_one));
  // Hyphens optional, any case.
  auto compact = Get("/api/task_runs/00000000000040008000000000000001");
  ASSERT_TRUE(compact);
  EXPECT_EQ(compact->status, 200);
  EXPECT_EQ(StripClock(compact->body), StripClock(*want_one));
  ExpectAnswer(Get("/api/task_runs/00000000-0000-4000-8000-0000000000ff"), 404,
               R"({"detail":"Task not found"})");
  ExpectAnswer(Get("/api/task_runs/not-a-uuid"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/api/task_runs/00000000-0000-4000-8000-00000000000"), 404,
               R"({"detail":"Not Found"})");
}

TEST_F(HttpServerTest, History) {
  StartServer();
  auto r = Post("/api/task_runs/history",
                R"({"history_start":"2024-05-01T10:00:00Z","history_end":"2024-05-01T10:05:00Z",)"
                R"("history_interval_seconds":120})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body.substr(0, 80),
            std::string(R"([{"interval_start":"2024-05-01T10:00:00Z","interval_end":"2024-05-01T10:02:00Z",)")
                .substr(0, 80));
  // Three intervals: 10:00, 10:02, 10:04 (the last one passes history_end).
  size_t intervals = 0;
  for (size_t p = 0; (p = r->body.find("interval_start", p)) != std::string::npos; ++p) {
    ++intervals;
  }
  EXPECT_EQ(intervals, 3u) << r->body;
  EXPECT_NE(r->body.find(R"({"state_type":"COMPLETED","state_name":"Completed","count_runs":1,"sum_estimated_run_time":55.0,"sum_estimated_lateness":5.0})"),
            std::string::npos)
      << r->body;
  ExpectAnswer(Post("/api/task_runs/history",
                    R"({"history_start":"2024-05-01T10:00:00Z","history_end":"2024-05-01T10:05:00Z","history_interval_seconds":0.5})"),
               422, R"({"detail":"History interval must not be less than 1 second."})");
  ExpectAnswer(
      Post("/api/task_runs/history", R"({"history_start":"2024-05-01T10:00:00Z"})"), 422,
      R"({"exception_message":"Invalid request received.","exception_detail":[{"type":"missing","loc":["body","history_end"],"msg":"Field required","input":null},{"type":"missing","loc":["body","history_interval_seconds"],"msg":"Field required","input":null}],"request_body":{"history_start":"2024-05-01T10:00:00Z"}})");
  // An explicit null for a required field is missing, not a type error
  // (FastAPI treats None as absent; paginate.md section 2).
  ExpectAnswer(
      Post("/api/task_runs/history",
           R"({"history_start":null,"history_end":null,"history_interval_seconds":null})"),
      422,
      R"({"exception_message":"Invalid request received.","exception_detail":[{"type":"missing","loc":["body","history_start"],"msg":"Field required","input":null},{"type":"missing","loc":["body","history_end"],"msg":"Field required","input":null},{"type":"missing","loc":["body","history_interval_seconds"],"msg":"Field required","input":null}],"request_body":{"history_start":null,"history_end":null,"history_interval_seconds":null}})");
  // start >= end: no intervals.
  ExpectAnswer(Post("/api/task_runs/history",
                    R"({"history_start":"2024-05-02T00:00:00Z","history_end":"2024-05-01T00:00:00Z","history_interval_seconds":60})"),
               200, "[]");
  // At most 500 intervals.
  auto many = Post("/api/task_runs/history",
                   R"({"history_start":"2024-05-01T00:00:00Z","history_end":"2024-06-01T00:00:00Z","history_interval_seconds":1})");
  ASSERT_TRUE(many);
  size_t count = 0;
  for (size_t p = 0; (p = many->body.find("interval_start", p)) != std::string::npos; ++p) ++count;
  EXPECT_EQ(count, 500u);
  // history_interval_seconds is a pydantic float turned into a timedelta
  // (src/prefect/server/api/task_runs.py): rounded to microseconds before
  // the 1-second check; numeric strings and booleans coerce; NaN and values
  // beyond timedelta's range are unhandled exceptions (500).
  auto history = [&](const std::string& interval) {
    return Post("/api/task_runs/history",
                R"({"history_start":"2024-05-02T00:00:00Z","history_end":"2024-05-01T00:00:00Z","history_interval_seconds":)" +
                    interval + "}");
  };
  ExpectAnswer(history("0.9999996"), 200, "[]");
  ExpectAnswer(history("0.9999994"), 422,
               R"({"detail":"History interval must not be less than 1 second."})");
  ExpectAnswer(history("\" 60 \""), 200, "[]");
  ExpectAnswer(history("true"), 200, "[]");
  ExpectAnswer(history("false"), 422,
               R"({"detail":"History interval must not be less than 1 second."})");
  const std::string internal = R"({"exception_message":"Internal Server Error"})";
  ExpectAnswer(history("\"nan\""), 500, internal);
  ExpectAnswer(history("\"inf\""), 500, internal);
  ExpectAnswer(history("1e14"), 500, internal);
  ExpectAnswer(history("-1e14"), 500, internal);
  ExpectAnswer(history("-5"), 422,
               R"({"detail":"History interval must not be less than 1 second."})");
}

TEST_F(HttpServerTest, TrailingSlashRedirects) {
  StartServer();
  // Starlette's redirect_slashes: 307 to the path with every trailing slash
  // stripped (or one added), whatever the method, with the query string; an
  // empty body and no Content-Type.
  auto r = Post("/api/task_runs/paginate/", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 307);
  const std::string host = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(r->get_header_value("Location"), "http://" + host + "/api/task_runs/paginate");
  EXPECT_EQ(r->body, "");
  EXPECT_FALSE(r->has_header("Content-Type"));
  r = Get("/api/task_runs/count//?a=1&b=2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 307);
  EXPECT_EQ(r->get_header_value("Location"), "http://" + host + "/api/task_runs/count?a=1&b=2");
  for (const char* path : {"/api/task_runs/filter/", "/api/task_runs/history/",
                           "/api/task_runs/00000000-0000-4000-8000-000000000001/",
                           "/api/health/", "/api/ready/", "/livez/", "/readyz/", "/metrics/"}) {
    r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 307) << path;
    std::string want = path;
    want.pop_back();
    EXPECT_EQ(r->get_header_value("Location"), "http://" + host + want) << path;
  }
  // The Host header as sent.
  std::string raw = Raw("GET /api/health/ HTTP/1.1\r\nHost: example.org:4200\r\n"
                        "Connection: close\r\n\r\n");
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 307") << raw;
  EXPECT_NE(raw.find("Location: http://example.org:4200/api/health\r\n"), std::string::npos)
      << raw;
  // Following the redirect gives the answer.
  auto client = NewClient();
  client->set_follow_location(true);
  r = client->Post("/api/task_runs/count/", "{}", kJson);
  ExpectAnswer(r, 200, "7");
  // No route either way: 404; the root is never redirected.
  ExpectAnswer(Get("/api/nope/"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/api/task_runs/not-a-uuid/"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/api/"), 404, R"({"detail":"Not Found"})");
  // Auth (middleware) runs before routing, so before the redirect.
}

TEST_F(HttpServerTest, RedirectComesAfterAuth) {
  ServerOptions options;
  options.auth_string.emplace("admin:secret");
  StartServer(options);
  ExpectAnswer(Post("/api/task_runs/paginate/", "{}"), 401,
               R"({"exception_message":"Unauthorized"})");
  auto r = Post("/api/task_runs/paginate/", "{}", kJson,
                {{"Authorization", "Basic YWRtaW46c2VjcmV0"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 307);
}

// An idle keep-alive connection holds no worker (issue 11: thread per
// connection capped keep-alive clients at --threads); past
// --max-connections a connection gets Prefect's retryable 503 and is closed.
// (A full worker queue: HttpTransportTest.FullWorkerQueueAnswers503.)
TEST_F(HttpServerTest, IdleConnectionsHoldNoWorkerAndTheCapAnswers503) {
  ServerOptions options;
  options.threads = 1;
  options.max_connections = 2;
  options.keep_alive_seconds = 600;
  StartServer(options);
  auto a = NewClient();
  a->set_keep_alive(true);
  ExpectAnswer(a->Post("/api/task_runs/count", "{}", kJson), 200, "7");
  // A stays open and idle; B is served by the one worker at once.
  auto b = NewClient();
  b->set_keep_alive(true);
  ExpectAnswer(b->Post("/api/task_runs/count", "{}", kJson), 200, "7");
  // A and B are open: C is over the cap.
  auto c = Post("/api/task_runs/count", "{}");
  ExpectAnswer(c, 503, R"({"exception_message":"Service Unavailable"})");
  EXPECT_EQ(c->get_header_value("Connection"), "close");
  EXPECT_EQ(c->get_header_value("Retry-After"), "1");
  a->stop();
  b->stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server sees the closes
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  auto m = Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("taskdex_http_connections_rejected_total 1\n"), std::string::npos)
      << m->body;
}

// Where requests run (ServerOptions::query_threads): /history on the pool;
// the query routes inline up to inline_max_task_runs task runs, on the
// pool beyond; the answers are the same either way.
TEST_F(HttpServerTest, LongRequestsGoToThePool) {
  auto pooled = [this]() -> std::string {
    auto m = Get("/metrics");
    if (!m) return "no answer";
    const size_t at = m->body.find("\ntaskdex_http_pooled_total ");
    if (at == std::string::npos) return "missing";
    return m->body.substr(at + 27, m->body.find('\n', at + 1) - (at + 27));
  };
  const std::string history =
      R"({"history_start":"2024-05-01T10:00:00Z","history_end":"2024-05-01T10:05:00Z",)"
      R"("history_interval_seconds":120})";
  // Durations of running task runs grow with the clock (history sums them
  // in whole seconds, which tick between two requests): compared without
  // their fractions, and history's sums not at all.
  auto same = [](const httplib::Result& r, const std::string& want) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const std::regex clocked(R"(\.\d{1,6}|"sum_estimated_run_time":\d+)");
    EXPECT_EQ(std::regex_replace(r->body, clocked, ""), std::regex_replace(want, clocked, ""));
  };
  StartServer();
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  EXPECT_EQ(pooled(), "0");
  auto inline_page = Post("/api/task_runs/paginate", R"({"limit":3})");
  ASSERT_TRUE(inline_page);
  auto h = Post("/api/task_runs/history", history);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(pooled(), "1");
  server_->Stop();

  ServerOptions on_pool;
  on_pool.inline_max_task_runs = 6;  // the examples hold 7
  StartServer(on_pool);
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  same(Post("/api/task_runs/paginate", R"({"limit":3})"), inline_page->body);
  same(Post("/api/task_runs/history", history), h->body);
  EXPECT_EQ(pooled(), "3");
  server_->Stop();

  ServerOptions all_inline;
  all_inline.query_threads = 0;
  all_inline.inline_max_task_runs = 0;
  StartServer(all_inline);
  same(Post("/api/task_runs/history", history), h->body);
  EXPECT_EQ(pooled(), "0");
}

TEST_F(HttpServerTest, HealthRoutingAndMetrics) {
  StartServer();
  ExpectAnswer(Get("/api/health"), 200, "true");
  ExpectAnswer(Get("/api/ready"), 200, R"({"message":"OK"})");
  ExpectAnswer(Get("/readyz"), 200, R"({"message":"OK"})");
  ExpectAnswer(Get("/livez"), 200, R"({"message":"OK"})");
  ExpectAnswer(Get("/api/nope"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/api/task_runs/paginate"), 405, R"({"detail":"Method Not Allowed"})");
  ExpectAnswer(Post("/api/health", ""), 405, R"({"detail":"Method Not Allowed"})");
  ExpectAnswer(NewClient()->Delete("/api/task_runs/count"), 405,
               R"({"detail":"Method Not Allowed"})");
  auto m = Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("taskdex_http_requests_total{endpoint=\"health\",status=\"200\"} 1"),
            std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("taskdex_rows{entity=\"task_runs\"} 7"), std::string::npos);
  EXPECT_NE(m->body.find("taskdex_http_request_duration_seconds_bucket{endpoint=\"other\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(m->body.find("taskdex_memory_bytes "), std::string::npos);
  EXPECT_NE(m->body.find("taskdex_build_info{"), std::string::npos);
}

TEST_F(HttpServerTest, NotReadyWhileLoading) {
  StartServer({}, /*with_engine=*/false);
  // Prefect's body for "not ready" (src/prefect/server/api/root.py).
  ExpectAnswer(Get("/api/ready"), 503, R"({"message":"Database is not available"})");
  server_->SetLoadProgress(10, 100, 3);
  ExpectAnswer(Get("/readyz"), 503,
               R"({"message":"Loading the snapshot","bytes_done":10,"bytes_total":100,"lines_done":3})");
  ExpectAnswer(Get("/api/health"), 200, "true");
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 503,
               R"({"exception_message":"Service Unavailable"})");
  auto m = Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("taskdex_ready 0"), std::string::npos);
  EXPECT_NE(m->body.find("taskdex_load_bytes{kind=\"done\"} 10"), std::string::npos);
  server_->SetEngine(LoadExamples());
  ExpectAnswer(Get("/api/ready"), 200, R"({"message":"OK"})");
}

TEST_F(HttpServerTest, BasicAuth) {
  ServerOptions options;
  options.auth_string.emplace("admin:secret");
  StartServer(options);
  const std::string unauthorized = R"({"exception_message":"Unauthorized"})";
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 401, unauthorized);
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson,
                    {{"Authorization", "Basic YWRtaW46d3Jvbmc="}}),  // admin:wrong
               401, unauthorized);
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, {{"Authorization", "Bearer x"}}), 401,
               unauthorized);
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson,
                    {{"Authorization", "Basic YWRtaW46c2VjcmV0"}}),  // admin:secret
               200, "7");
  auto client = NewClient();
  client->set_basic_auth("admin", "secret");
  auto r = client->Get("/api/task_runs/00000000-0000-4000-8000-000000000001");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ExpectAnswer(Get("/api/health"), 200, "true");
  ExpectAnswer(Get("/api/ready"), 200, R"({"message":"OK"})");
  auto live = Get("/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  ExpectAnswer(Get("/api/nope"), 401, unauthorized);
  // Prefect's exemption is `path.endswith(("health", "ready")) and method ==
  // "GET"`: HEAD and POST are not exempt.
  auto head = NewClient()->Head("/api/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 401);
  ExpectAnswer(Post("/api/health", ""), 401, unauthorized);
  // Outside /api: taskdex's probes need nothing, /metrics needs credentials.
  ExpectAnswer(Get("/readyz"), 200, R"({"message":"OK"})");
  ExpectAnswer(Get("/nope"), 404, R"({"detail":"Not Found"})");
  ExpectAnswer(Get("/metrics"), 401, unauthorized);
  // Auth before the trailing-slash redirect: no 307 that reveals the route.
  ExpectAnswer(Get("/metrics/"), 401, unauthorized);
  ExpectAnswer(Get("/metrics//"), 401, unauthorized);
  // Python's header.split() and base64.b64decode (non-validating: characters
  // outside the alphabet are skipped), then .decode("utf-8").
  auto with_auth = [&](const char* value) {
    return Post("/api/task_runs/count", "{}", kJson, {{"Authorization", value}});
  };
  ExpectAnswer(with_auth("Basic   YWRt*aW46c2Vj!cmV0  "), 200, "7");
  // A pad after a complete quantum does not end the input; "junk" decodes to
  // bytes that are not UTF-8.
  ExpectAnswer(with_auth("Basic YWRtaW46c2VjcmV0==junk"), 401, unauthorized);
  ExpectAnswer(with_auth("Basic YWRtaW46c2VjcmV0 extra"), 401, unauthorized);  // 3 parts
  ExpectAnswer(with_auth("basic YWRtaW46c2VjcmV0"), 401, unauthorized);  // scheme case
  ExpectAnswer(with_auth("Basic YWRtaW46c2VjcmV"), 401, unauthorized);   // bad padding
  ExpectAnswer(with_auth("Basic"), 401, unauthorized);
}

// Prefect enables its middleware when the auth string `is not None`, so an
// empty one (PREFECT_SERVER_API_AUTH_STRING= or --auth-string '') means auth
// ON, and only credentials that decode to "" pass.
TEST_F(HttpServerTest, EmptyAuthStringTurnsAuthOn) {
  ServerOptions options;
  options.auth_string.emplace("");
  StartServer(options);
  const std::string unauthorized = R"({"exception_message":"Unauthorized"})";
  auto with_auth = [&](const char* value) {
    return Post("/api/task_runs/count", "{}", kJson, {{"Authorization", value}});
  };
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 401, unauthorized);
  ExpectAnswer(with_auth("Basic YWRtaW46c2VjcmV0"), 401, unauthorized);  // admin:secret
  // base64("") is "", and "Basic " splits into one part: 401.
  ExpectAnswer(with_auth("Basic "), 401, unauthorized);
  // b64decode("=") and b64decode("!") are b"" (non-validating decode).
  ExpectAnswer(with_auth("Basic ="), 200, "7");
  ExpectAnswer(with_auth("Basic !"), 200, "7");
  ExpectAnswer(Get("/api/health"), 200, "true");
  ExpectAnswer(Get("/metrics"), 401, unauthorized);
}

TEST_F(HttpServerTest, NoAuthStringMeansNoAuth) {
  StartServer();
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  ExpectAnswer(Post("/api/task_runs/count", "{}", kJson, {{"Authorization", "Basic ="}}), 200,
               "7");
}

TEST_F(HttpServerTest, BodyLimitAndGzip) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  StartServer(options);
  std::string big = "{\"x\":\"" + std::string(2000, 'a') + "\"}";
  auto r = Post("/api/task_runs/paginate", big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"detail":"Request body too large"})");
  // The server still answers.
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");

  httplib::Headers gzip = {{"Accept-Encoding", "gzip, deflate"}};
  auto plain = Post("/api/task_runs/paginate", "{}");
  auto zipped = Post("/api/task_runs/paginate", "{}", kJson, gzip);
  ASSERT_TRUE(plain);
  ASSERT_TRUE(zipped);
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(zipped->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(StripClock(Gunzip(zipped->body)), StripClock(plain->body));
  // Small bodies are not compressed, and brotli is never used.
  auto small = Post("/api/task_runs/count", "{}", kJson, {{"Accept-Encoding", "gzip, br"}});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(small->body, "7");
  auto br = Post("/api/task_runs/paginate", "{}", kJson, {{"Accept-Encoding", "br"}});
  ASSERT_TRUE(br);
  EXPECT_EQ(br->get_header_value("Content-Encoding"), "");
}

TEST_F(HttpServerTest, ConcurrentClientsGetTheSameBodies) {
  StartServer();
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"/api/task_runs/count", "{}"},
      {"/api/task_runs/count", R"({"task_runs":{"tags":{"all_":["a"]}}})"},
      {"/api/task_runs/paginate",
       R"({"task_runs":{"state":{"type":{"any_":["COMPLETED","FAILED"]}}}})"},
      {"/api/task_runs/filter", R"({"limit":2,"task_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})"},
      {"/api/task_runs/paginate", R"({"page":0})"},
      {"/api/task_runs/paginate", R"({"limit":1,)"},
  };
  std::vector<std::string> want;
  auto client = NewClient();
  for (const auto& [path, body] : requests) {
    auto r = client->Post(path.c_str(), body, kJson);
    ASSERT_TRUE(r);
    want.push_back(std::to_string(r->status) + " " + r->body);
  }
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto c = NewClient();
      c->set_keep_alive(true);
      for (int i = 0; i < 50; ++i) {
        size_t k = static_cast<size_t>(t + i) % requests.size();
        auto r = c->Post(requests[k].first.c_str(), requests[k].second, kJson);
        if (!r) {
          ++failures;
          continue;
        }
        if (std::to_string(r->status) + " " + r->body != want[k]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(HttpServerTest, BadTrafficDoesNotStopTheServer) {
  ServerOptions options;
  options.threads = 4;
  StartServer(options);
  // A slow client: half a request, then silence, held open in the background.
  std::thread slow([&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const char half[] = "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Le";
      send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
    close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  // A truncated request: the body is shorter than Content-Length.
  std::string truncated = Raw(
      "POST /api/task_runs/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"task_",
      3000);
  EXPECT_EQ(truncated.find("HTTP/1.1 200"), std::string::npos) << truncated;
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  // An oversized header.
  std::string huge = Raw("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " +
                         std::string(64 * 1024, 'a') + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(huge.find("HTTP/1.1 200"), std::string::npos) << huge.substr(0, 200);
  // Garbage.
  Raw("NOT HTTP AT ALL\r\n\r\n");
  ExpectAnswer(Get("/api/health"), 200, "true");
  slow.join();
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
}

TEST_F(HttpServerTest, LogsOneJsonLinePerRequestAndSlowOnes) {
  FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  ServerOptions options;
  options.slow_ms = 0;  // every request is "slow"
  StartServer(options, true, log);
  ExpectAnswer(Post("/api/task_runs/count", "{}"), 200, "7");
  server_->Stop();
  std::rewind(log);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), log)) > 0) text.append(buf, n);
  std::fclose(log);
  EXPECT_NE(text.find(R"("level":"info","msg":"request","method":"POST","path":"/api/task_runs/count","status":200,)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("rows":0,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("level":"warning","msg":"slow request")"), std::string::npos) << text;
}

// Every request the server handled (its log line is written after the
// handler, before the answer) must reach its client whole: a Stop() that
// dropped or cut an answer in flight leaves fewer complete answers than log
// lines. Requests not yet read when the stop came may be refused.
TEST_F(HttpServerTest, StopLetsRequestsInFlightFinish) {
  FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  ServerOptions options;
  options.log_level = LogLevel::kInfo;
  StartServer(options, true, log);
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto c = NewClient();
      for (int i = 0; i < 200; ++i) {
        auto r = c->Post("/api/task_runs/paginate", "{}", kJson);
        if (!r) break;  // refused or closed after the stop
        if (r->status == 200 && r->body.find("\"count\":7") != std::string::npos) ++ok;
      }
      ++finished;
    });
  }
  // Stop once requests are flowing.
  while (ok.load() < 20 && finished.load() < 8) std::this_thread::yield();
  server_->Stop();
  for (auto& th : threads) th.join();
  EXPECT_GT(ok.load(), 0);
  std::fflush(log);
  std::rewind(log);
  int logged = 0;
  char line[4096];
  while (std::fgets(line, sizeof(line), log) != nullptr) {
    if (std::strstr(line, "\"msg\":\"request\"") != nullptr &&
        std::strstr(line, "\"status\":200") != nullptr) {
      ++logged;
    }
  }
  EXPECT_EQ(ok.load(), logged);  // every handled request was answered whole
  // Stopped: new connections are refused.
  httplib::Client c("127.0.0.1", server_->port());
  c.set_connection_timeout(1, 0);
  EXPECT_FALSE(c.Get("/api/health"));
  server_.reset();
  std::fclose(log);
}

TEST_F(HttpServerTest, ApplyIsOffUnlessWritesAreEnabled) {
  StartServer();
  auto r = Post("/taskdex/v1/apply",
                R"({"op":"delete","entity":"flow_run","id":"a1000000-0000-4000-8000-000000000000"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body,
            R"({"detail":"Writes are disabled: start taskdex serve with --enable-writes"})");
  auto count = Post("/api/task_runs/count", "{}");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, "7");
}

// POST /taskdex/v1/checkpoint: 403 without --checkpoint-dir; with it, the
// callback's answer, behind the API's auth, and POST only.
TEST_F(HttpServerTest, CheckpointIsOffUnlessADirectoryIsGiven) {
  StartServer();
  auto off = Post("/taskdex/v1/checkpoint", "");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 403);
  EXPECT_EQ(off->body,
            R"({"detail":"Checkpoints are off: start taskdex serve with --checkpoint-dir DIR"})");
  server_->Stop();
  ServerOptions options;
  options.auth_string.emplace("u:p");
  int calls = 0;
  options.checkpoint = [&calls] {
    ++calls;
    return Response{200, R"({"snapshot_id":"x"})"};
  };
  StartServer(options);
  const httplib::Headers auth = {{"Authorization", "Basic dTpw"}};  // u:p
  auto denied = Post("/taskdex/v1/checkpoint", "");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto ok = Post("/taskdex/v1/checkpoint", "", kJson, auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, R"({"snapshot_id":"x"})");
  auto get = Get("/taskdex/v1/checkpoint", auth);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpServerTest, ApplyChangesWhatTheApiAnswers) {
  ServerOptions options;
  options.enable_writes = true;
  options.auth_string.emplace("u:p");
  StartServer(options);
  const httplib::Headers auth = {{"Authorization", "Basic dTpw"}};  // u:p
  const std::string del =
      R"({"op":"delete","entity":"flow_run","id":"a1000000-0000-4000-8000-000000000000"})";
  auto denied = Post("/taskdex/v1/apply", del);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  // A bad second line rejects the whole body: nothing applied.
  auto bad = Post("/taskdex/v1/apply", del + "\n" + R"({"op":"upsert","entity":"task_run"})",
                  kJson, auth);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, R"({"detail":"line 2: row: missing required key"})");
  auto count = Post("/api/task_runs/count", "{}", kJson, auth);
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, "7");
  auto ok = Post("/taskdex/v1/apply", del + "\n", kJson, auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find(R"("deleted":{"flow":0,"deployment":0,"flow_run":1,"task_run":2})"),
            std::string::npos)
      << ok->body;
  count = Post("/api/task_runs/count", "{}", kJson, auth);
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, "5");
  auto page = Post("/api/task_runs/paginate", R"({"limit":2})", kJson, auth);
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find(R"("count":5,"limit":2,"pages":3)"), std::string::npos) << page->body;
  auto metrics = Get("/metrics", auth);
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("taskdex_version 2\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("taskdex_task_runs 5\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("taskdex_apply_seconds_count 1\n"), std::string::npos);
}

}  // namespace
}  // namespace taskdex
