#include "api/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "api/history_request.h"
#include "api/json_value.h"
#include "api/paginate_request.h"
#include "api/response_writer.h"
#include "api/version_writer.h"
#include "engine/uuid.h"
#include "httplib.h"

#ifndef TASKDEX_VERSION
#define TASKDEX_VERSION "0.1.0"
#endif

namespace taskdex {
namespace {

using Clock = std::chrono::steady_clock;

// Per-request bookkeeping, on the worker thread that serves it.
struct RequestContext {
  Clock::time_point start{};
  bool started = false;
  bool accept_gzip = false;
  const char* endpoint = "other";
  int64_t rows = -1;
};
thread_local RequestContext tls_request;

constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
constexpr const char* kEndpoints[] = {"paginate", "filter",  "count",  "read",
                                      "history",  "health",  "ready",  "livez",
                                      "readyz",   "metrics", "apply",  "overloaded", "other"};
constexpr size_t kNumEndpoints = sizeof(kEndpoints) / sizeof(kEndpoints[0]);

size_t EndpointIndex(std::string_view name) {
  for (size_t i = 0; i < kNumEndpoints; ++i) {
    if (name == kEndpoints[i]) return i;
  }
  return kNumEndpoints - 1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' ||
                        s.front() == '\r' || s.front() == '\f' || s.front() == '\v')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                        s.back() == '\r' || s.back() == '\f' || s.back() == '\v')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Python int(str): surrounding whitespace, a sign, digits with single
// underscores between them. Sets *negative and the digits without leading
// zeros ("0" for zero).
bool PythonInt(std::string_view s, bool* negative, std::string* digits) {
  s = Trim(s);
  *negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    *negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  digits->clear();
  bool prev_digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digits->push_back(c);
      prev_digit = true;
    } else if (c == '_' && prev_digit) {
      prev_digit = false;
    } else {
      return false;
    }
  }
  if (!prev_digit) return false;
  size_t nz = digits->find_first_not_of('0');
  *digits = nz == std::string::npos ? "0" : digits->substr(nz);
  if (*digits == "0") *negative = false;
  return true;
}

// Compares a Python int with a small non-negative integer: -1, 0, 1.
int CompareSmall(bool negative, const std::string& digits, int small) {
  if (negative) return -1;
  if (digits.size() > 9) return 1;
  long long v = std::stoll(digits);
  return v < small ? -1 : (v > small ? 1 : 0);
}

bool IsUuidPath(std::string_view s) {
  // Starlette's UUID converter: 8-4-4-4-12 hex digits, each hyphen optional.
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  size_t i = 0;
  for (int g = 0; g < 5; ++g) {
    if (g > 0 && i < s.size() && s[i] == '-') ++i;
    for (int k = 0; k < kGroups[g]; ++k, ++i) {
      if (i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
  }
  return i == s.size();
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}


// True while the accepting thread answers a connection that found the
// worker queue full (BoundedPool::enqueue): the request gets 503.
thread_local bool tls_overloaded = false;

// cpp-httplib's TaskQueue with a fixed number of workers and a bounded queue
// of accepted connections. httplib::ThreadPool (0.11.4) queues without
// limit, so a flood of connections grows memory. Here, when the queue is
// full, enqueue() serves the connection on the calling (accepting) thread
// with tls_overloaded set: the pre-routing handler answers 503 with
// `Connection: close`, and accepting pauses meanwhile (back-pressure: the
// kernel's listen backlog fills, then clients see connect timeouts). The
// TaskQueue interface gives enqueue() no way to refuse a job or reach its
// socket, which is why the rejection goes through the job itself.
//
// Thread safety: enqueue() from the accepting thread; shutdown() once, after
// the accept loop has ended. Queued jobs still run before shutdown returns
// (graceful stop).
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max_queued, std::atomic<uint64_t>* rejected)
      : max_queued_(max_queued), rejected_(rejected) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (jobs_.size() < max_queued_) {
        jobs_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
    }
    rejected_->fetch_add(1, std::memory_order_relaxed);
    tls_overloaded = true;
    fn();
    tls_overloaded = false;
  }

  void shutdown() override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // shutdown_ and drained
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_queued_;
  std::atomic<uint64_t>* rejected_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> workers_;
};

// True when the request being served must close its connection after the
// answer (set by the pre-routing handler; honoured by TaskdexServer). The
// library decides keep-alive from the request alone, before routing, so a
// `Connection: close` response header by itself did not close anything.
thread_local bool tls_close_connection = false;

// A connection's socket as cpp-httplib's Stream, for TaskdexServer. Behaves
// like the library's detail::SocketStream: a 4 KiB read buffer kept across
// the requests of a keep-alive connection, each read and write waiting at
// most the read / write timeout. In addition it
//  - watches the header lines the library's parser consumes, to see an
//    empty `Content-Type:` line: cpp-httplib's detail::parse_header drops a
//    header whose value is empty, so nothing after the parser can see it;
//  - holds small writes (the status line and headers) and sends them with
//    the body in one writev, one segment instead of two;
//  - looks up the peer and local addresses once per connection, not once
//    per request.
// Thread safety: one connection, used by the one thread serving it.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int sock, time_t read_sec, time_t read_usec, time_t write_sec,
                   time_t write_usec, size_t max_header_count, size_t max_header_bytes)
      : sock_(sock),
        max_header_count_(max_header_count),
        max_header_bytes_(max_header_bytes),
        read_timeout_ms_(static_cast<int>(read_sec * 1000 + read_usec / 1000)),
        write_timeout_ms_(static_cast<int>(write_sec * 1000 + write_usec / 1000)) {
    // set_tcp_nodelay(true) sets it on the listening socket, which Linux
    // copies to accepted ones; set here too so it does not depend on that.
    int one = 1;
    setsockopt(sock_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Address(true, &remote_ip_, &remote_port_);
    Address(false, &local_ip_, &local_port_);
  }

  bool is_readable() const override { return Wait(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (head_too_large_) return -1;  // the parser fails: 400, made 431 (head_too_large)
    if (!pending_.empty() && !Flush()) return -1;
    if (off_ == len_) {
      if (!is_readable()) return -1;
      ssize_t n;
      do {
        n = recv(sock_, buffer_, sizeof(buffer_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      off_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const size_t k = std::min(size, len_ - off_);
    std::memcpy(ptr, buffer_ + off_, k);
    off_ += k;
    if (in_headers_) Watch(ptr, k);
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (pending_.size() + size <= kHoldBytes) {
      pending_.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    if (!is_writable()) return -1;
    const size_t held = pending_.size();
    iovec iov[2] = {{pending_.data(), held}, {const_cast<char*>(ptr), size}};
    msghdr msg{};
    msg.msg_iov = held > 0 ? iov : iov + 1;
    msg.msg_iovlen = held > 0 ? 2 : 1;
    ssize_t n;
    do {
      n = sendmsg(sock_, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    const size_t sent = static_cast<size_t>(n);
    if (sent < held) {
      pending_.erase(0, sent);
      return 0;  // nothing of `ptr` went out; the caller writes it again
    }
    pending_.clear();
    return static_cast<ssize_t>(sent - held);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

  // Sends the held bytes. False on a write error or timeout.
  bool Flush() {
    size_t done = 0;
    while (done < pending_.size()) {
      if (!is_writable()) return false;
      ssize_t n = send(sock_, pending_.data() + done, pending_.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    pending_.clear();
    return true;
  }

  // Before each request: the next bytes read are its request line and
  // headers.
  void BeginRequest() {
    in_headers_ = true;
    line_.clear();
    line_too_long_ = false;
    content_type_seen_ = false;
    first_content_type_empty_ = false;
    head_lines_ = 0;
    head_bytes_ = 0;
    head_too_large_ = false;
  }

  // Whether the request's head passed max_header_count lines or
  // max_header_bytes bytes (then reads fail, and the answer is 431).
  bool head_too_large() const { return head_too_large_; }

  // Whether the request's first Content-Type header line has an empty value
  // (Starlette's headers.get returns the first one).
  bool first_content_type_empty() const { return first_content_type_empty_; }

  // Waits for the next request of a keep-alive connection, at most
  // `timeout_sec`; false when it did not come, the peer closed, or `stop`
  // turned false (the server stops: idle connections close at once).
  bool WaitForRequest(time_t timeout_sec, const std::function<bool()>& running) {
    if (off_ < len_) return true;  // pipelined: already here
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_sec);
    while (running()) {
      pollfd p{sock_, POLLIN, 0};
      int r = poll(&p, 1, 10);
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
      if (Clock::now() > deadline) return false;
    }
    return false;
  }

 private:
  static constexpr size_t kHoldBytes = 4096;

  bool Wait(short events, int timeout_ms) const {
    pollfd p{sock_, events, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
  }

  void Address(bool peer, std::string* ip, int* port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? getpeername(sock_, sa, &len) : getsockname(sock_, sa, &len)) != 0) return;
    char host[NI_MAXHOST];
    if (getnameinfo(sa, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) == 0) *ip = host;
    if (addr.ss_family == AF_INET) {
      *port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      *port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
  }

  // Header lines as the parser consumes them (it reads them up to the blank
  // line before it reads any body).
  void Watch(const char* p, size_t n) {
    static constexpr std::string_view kName = "content-type:";
    for (size_t i = 0; i < n && in_headers_; ++i) {
      const char c = p[i];
      if (++head_bytes_ > max_header_bytes_) head_too_large_ = true;
      if (c != '\n') {
        if (line_.size() < 64) {
          line_.push_back(c);
        } else {
          line_too_long_ = true;
        }
        continue;
      }
      std::string_view line = line_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      // The request line plus the header lines.
      if (!line.empty() && ++head_lines_ > max_header_count_ + 1) head_too_large_ = true;
      if (line.empty()) {
        in_headers_ = false;  // end of the headers
      } else if (!line_too_long_ && !content_type_seen_ && line.size() >= kName.size() &&
                 Lower(line.substr(0, kName.size())) == kName) {
        content_type_seen_ = true;
        first_content_type_empty_ =
            line.substr(kName.size()).find_first_not_of(" \t") == std::string_view::npos;
      }
      line_.clear();
      line_too_long_ = false;
    }
  }

  const int sock_;
  const size_t max_header_count_;
  const size_t max_header_bytes_;
  const int read_timeout_ms_;
  const int write_timeout_ms_;
  char buffer_[4096];
  size_t off_ = 0, len_ = 0;
  std::string pending_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
  bool in_headers_ = false;
  std::string line_;
  bool line_too_long_ = false;
  bool content_type_seen_ = false;
  bool first_content_type_empty_ = false;
  size_t head_lines_ = 0;
  size_t head_bytes_ = 0;
  bool head_too_large_ = false;
};

// The stream of the connection this thread serves (for the pre-routing
// handler), or nullptr.
thread_local ConnectionStream* tls_stream = nullptr;

// httplib::Server serving each connection through a ConnectionStream. The
// library's per-connection loop (detail::process_server_socket) is not
// reachable, but Server::process_and_close_socket is virtual and
// Server::process_request (one request: parse, route, write) is protected,
// so this loop replaces the library's with the same rules: at most
// keep_alive_max_count requests, an idle keep-alive connection closes after
// keep_alive_timeout, the library's own close decisions (Connection: close,
// HTTP/1.0, errors) hold, and a handler can also ask for the close
// (tls_close_connection).
class TaskdexServer : public httplib::Server {
 public:
  // Request head limits (ServerOptions); set before listening.
  size_t max_header_count = 100;
  size_t max_header_bytes = 64 * 1024;

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ret = false;
    {
      ConnectionStream strm(sock, read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                            write_timeout_usec_, max_header_count, max_header_bytes);
      tls_stream = &strm;
      auto running = [this] { return svr_sock_ != INVALID_SOCKET; };
      size_t count = keep_alive_max_count_;
      while (count > 0 && running() && strm.WaitForRequest(keep_alive_timeout_sec_, running)) {
        bool connection_closed = false;
        tls_close_connection = false;
        strm.BeginRequest();
        ret = process_request(strm, count == 1, connection_closed, nullptr);
        if (!strm.Flush()) ret = false;
        if (!ret || connection_closed || tls_close_connection) break;
        --count;
      }
      tls_stream = nullptr;
      tls_close_connection = false;
    }
    shutdown(sock, SHUT_RDWR);
    close(sock);
    return ret;
  }
};

// Python's str.split() with no argument on a header value decoded as
// Latin-1 (Starlette): runs of whitespace separate, ends are dropped.
bool IsPythonSpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
         c == 0xa0;
}

std::vector<std::string_view> PythonSplit(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsPythonSpace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !IsPythonSpace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Python's base64.b64decode(s) with validate=False (binascii.a2b_base64,
// strict_mode=False): characters outside the alphabet are skipped, a
// complete pad ends the input, a dangling quantum is an error. `s` must be
// ASCII (a str with other characters raises ValueError).
bool PythonB64Decode(std::string_view s, std::string* out) {
  out->clear();
  int quad_pos = 0, pads = 0;
  unsigned int left = 0;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) return false;
    if (c == '=') {
      if (quad_pos >= 2 && quad_pos + ++pads >= 4) return true;
      continue;
    }
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else continue;
    pads = 0;
    switch (quad_pos) {
      case 0: left = static_cast<unsigned>(v); quad_pos = 1; break;
      case 1:
        out->push_back(static_cast<char>((left << 2) | (static_cast<unsigned>(v) >> 4)));
        left = static_cast<unsigned>(v) & 0x0f; quad_pos = 2; break;
      case 2:
        out->push_back(static_cast<char>((left << 4) | (static_cast<unsigned>(v) >> 2)));
        left = static_cast<unsigned>(v) & 0x03; quad_pos = 3; break;
      default:
        out->push_back(static_cast<char>((left << 6) | static_cast<unsigned>(v)));
        quad_pos = 0; break;
    }
  }
  return quad_pos == 0;
}

// bytes.decode("utf-8") (strict): well-formed UTF-8, no surrogates.
bool IsStrictUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
    else return false;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The routes taskdex serves (paths only; methods are checked per route).
enum class RouteId : uint8_t {
  kNone, kPaginate, kFilter, kCount, kHistory, kRead, kHealth, kReady, kLivez, kReadyz, kMetrics,
  kApply
};

constexpr std::string_view kTaskRunsPrefix = "/api/task_runs/";

RouteId MatchPath(std::string_view path) {
  if (path == "/api/task_runs/paginate") return RouteId::kPaginate;
  if (path == "/api/task_runs/filter") return RouteId::kFilter;
  if (path == "/api/task_runs/count") return RouteId::kCount;
  if (path == "/api/task_runs/history") return RouteId::kHistory;
  if (path.size() > kTaskRunsPrefix.size() && path.substr(0, kTaskRunsPrefix.size()) == kTaskRunsPrefix &&
      IsUuidPath(path.substr(kTaskRunsPrefix.size()))) {
    return RouteId::kRead;
  }
  if (path == "/api/health") return RouteId::kHealth;
  if (path == "/api/ready") return RouteId::kReady;
  if (path == "/livez") return RouteId::kLivez;
  if (path == "/readyz") return RouteId::kReadyz;
  if (path == "/metrics") return RouteId::kMetrics;
  if (path == "/taskdex/v1/apply") return RouteId::kApply;
  return RouteId::kNone;
}

// The live store's gauges and counters (engine/live_store.h), Prometheus
// text.
std::string LiveMetrics(const LiveStats& s) {
  std::string out;
  out +=
      "# HELP taskdex_version The live store's current version number.\n"
      "# TYPE taskdex_version gauge\n";
  out += absl::StrFormat("taskdex_version %d\n", s.version);
  out += "# HELP taskdex_segments Segments in the current version.\n# TYPE taskdex_segments gauge\n";
  out += absl::StrFormat("taskdex_segments %d\n", s.segments);
  out +=
      "# HELP taskdex_task_runs Task runs that count in the current version.\n"
      "# TYPE taskdex_task_runs gauge\n";
  out += absl::StrFormat("taskdex_task_runs %d\n", s.task_runs);
  out +=
      "# HELP taskdex_tombstones Replaced or deleted task-run rows still held by segments.\n"
      "# TYPE taskdex_tombstones gauge\n";
  out += absl::StrFormat("taskdex_tombstones %d\n", s.tombstones);
  out += "# HELP taskdex_merges_total Segment merges published.\n# TYPE taskdex_merges_total counter\n";
  out += absl::StrFormat("taskdex_merges_total %d\n", s.merges);
  out +=
      "# HELP taskdex_merge_seconds_total Time spent in merges.\n"
      "# TYPE taskdex_merge_seconds_total counter\n";
  out += absl::StrFormat("taskdex_merge_seconds_total %.6f\n", s.merge_seconds_total);
  out +=
      "# HELP taskdex_apply_seconds Batches applied and the time they took.\n"
      "# TYPE taskdex_apply_seconds summary\n";
  out += absl::StrFormat("taskdex_apply_seconds_sum %.6f\ntaskdex_apply_seconds_count %d\n",
                         s.apply_micros_total / 1e6, s.applies);
  out +=
      "# HELP taskdex_apply_seconds_max The slowest batch applied.\n"
      "# TYPE taskdex_apply_seconds_max gauge\n";
  out += absl::StrFormat("taskdex_apply_seconds_max %.6f\n", s.apply_micros_max / 1e6);
  return out;
}

}  // namespace

std::string CheckApiVersion(std::string_view value) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = value.find('.', start);
    parts.push_back(value.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  bool neg[3];
  std::string digits[3];
  bool ok = parts.size() == 3;
  for (size_t i = 0; ok && i < 3; ++i) ok = PythonInt(parts[i], &neg[i], &digits[i]);
  if (!ok) {
    return absl::StrFormat(
        "Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but "
        "received %s",
        value);
  }
  static constexpr int kMin[3] = {0, 8, 0};
  for (int i = 0; i < 3; ++i) {
    int c = CompareSmall(neg[i], digits[i], kMin[i]);
    if (c > 0) return "";
    if (c < 0) {
      return absl::StrFormat(
          "The request specified API version %s but this server requires version 0.8.0 or "
          "higher.",
          value);
    }
  }
  return "";
}

bool GzipCompress(std::string_view in, std::string* out) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  out->resize(deflateBound(&zs, in.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out->data());
  zs.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return false;
  out->resize(zs.total_out);
  return true;
}

struct HttpServer::Rep {
  ServerOptions options;
  TaskdexServer server;
  std::unique_ptr<Engine> engine_owner;
  std::atomic<Engine*> engine{nullptr};
  std::atomic<bool> listener_exited{false};
  std::string expected_auth;  // "Basic <base64>" compared after decoding

  // Metrics.
  std::mutex metrics_mu;
  std::map<std::pair<size_t, int>, uint64_t> requests;  // (endpoint, status)
  std::array<std::array<uint64_t, kBuckets.size() + 1>, kNumEndpoints> latency_buckets{};
  std::array<double, kNumEndpoints> latency_sum{};
  std::array<uint64_t, kNumEndpoints> latency_count{};
  std::atomic<uint64_t> load_bytes_done{0}, load_bytes_total{0}, load_lines{0};
  std::atomic<uint64_t> rejected{0};  // connections answered 503: queue full
  std::mutex log_mu;

  explicit Rep(ServerOptions o) : options(std::move(o)) {}

  void Log(LogLevel level, const std::string& line) {
    if (options.log == nullptr || level < options.log_level) return;
    std::lock_guard<std::mutex> lock(log_mu);
    std::fputs(line.c_str(), options.log);
    std::fputc('\n', options.log);
    std::fflush(options.log);
  }

  static void SetJson(httplib::Response& res, int status, std::string body) {
    res.status = status;
    if (tls_request.accept_gzip && body.size() >= 500) {
      std::string gz;
      if (GzipCompress(body, &gz)) {
        res.set_header("Content-Encoding", "gzip");
        res.set_header("Vary", "Accept-Encoding");
        body = std::move(gz);
      }
    }
    SetBody(res, std::move(body), "application/json");
  }

  // Response::set_content in cpp-httplib 0.11.4 takes `const std::string&`
  // only, so `set_content(std::move(body), ...)` copied the whole answer
  // (~120 KB for a 200-row page); this moves it. Same effect otherwise:
  // the body, and one Content-Type header.
  static void SetBody(httplib::Response& res, std::string body, const char* content_type) {
    res.body = std::move(body);
    res.headers.erase("Content-Type");
    res.headers.emplace("Content-Type", content_type);
  }

  bool LogEnabled(LogLevel level) const {
    return options.log != nullptr && level >= options.log_level;
  }

  static void SetApi(httplib::Response& res, ApiResponse r) {
    SetJson(res, r.status, std::move(r.body));
  }

  static void SetDetail(httplib::Response& res, int status, std::string_view detail) {
    SetApi(res, DetailResponse(status, detail));
  }

  // Prefect's token_validation middleware on the API app
  // (src/prefect/server/api/server.py, create_api_app):
  //   scheme, creds = header.split(); assert scheme == "Basic"
  //   base64.b64decode(creds).decode("utf-8") == auth_string
  // and any exception (wrong number of parts, bad base64, bad UTF-8) is 401.
  bool AuthOk(const httplib::Request& req) const {
    if (!options.auth_string.has_value()) return true;
    if (!req.has_header("Authorization")) return false;
    const std::string header = req.get_header_value("Authorization");
    std::vector<std::string_view> parts = PythonSplit(header);
    if (parts.size() != 2 || parts[0] != "Basic") return false;
    std::string decoded;
    if (!PythonB64Decode(parts[1], &decoded) || !IsStrictUtf8(decoded)) return false;
    return decoded == *options.auth_string;
  }

  // paginate.md 1.1 steps 2-3: is the body to be read as JSON?
  static bool BodyIsJson(const httplib::Request& req) {
    if (!req.has_header("Content-Type")) {
      // default_content_type middleware: POST/PUT/PATCH with Content-Length > 0.
      if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH") return false;
      if (!req.has_header("Content-Length")) return false;
      const std::string length = req.get_header_value("Content-Length");
      std::string_view cl = Trim(length);
      return !cl.empty() && cl.find_first_not_of('0') != std::string_view::npos &&
             cl.find_first_not_of("0123456789") == std::string_view::npos;
    }
    std::string value = req.get_header_value("Content-Type");
    std::string_view v = value;
    size_t semi = v.find(';');
    std::string type = Lower(Trim(v.substr(0, semi)));
    if (std::count(type.begin(), type.end(), '/') != 1) return false;  // text/plain
    size_t slash = type.find('/');
    std::string_view main = std::string_view(type).substr(0, slash);
    std::string_view sub = std::string_view(type).substr(slash + 1);
    return main == "application" &&
           (sub == "json" || (sub.size() >= 5 && sub.substr(sub.size() - 5) == "+json"));
  }

  // Body parse + version check: returns false after writing the response.
  // On success *parsed holds the JSON value (nullptr: no body).
  bool ReadBody(const httplib::Request& req, httplib::Response& res, JsonParseResult* parsed,
                const JsonValue** value) {
    *value = nullptr;
    if (!req.body.empty() && BodyIsJson(req)) {
      *parsed = ParseJsonBody(req.body);
      if (parsed->status != JsonParseResult::Status::kOk) {
        SetApi(res, JsonErrorResponse(*parsed));
        return false;
      }
      if (!parsed->value.is_null()) *value = &parsed->value;
    }
    return CheckVersion(req, res);
  }

  bool CheckVersion(const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("X-PREFECT-API-VERSION")) return true;
    std::string version = req.get_header_value("X-PREFECT-API-VERSION");
    if (version.empty()) return true;
    std::string error = CheckApiVersion(version);
    if (error.empty()) return true;
    SetDetail(res, 400, error);
    return false;
  }

  const Engine* ReadyEngine(httplib::Response& res) {
    const Engine* e = engine.load(std::memory_order_acquire);
    if (e == nullptr) {
      SetJson(res, 503, R"({"exception_message":"Service Unavailable"})");
    }
    return e;
  }

  // POST /paginate, /filter, /count.
  void HandleQuery(const httplib::Request& req, httplib::Response& res, BodyKind kind) {
    const Engine* e = ReadyEngine(res);
    if (e == nullptr) return;
    JsonParseResult parsed;
    const JsonValue* value = nullptr;
    if (!ReadBody(req, res, &parsed, &value)) return;
    ErrorList errors;
    auto result = ValidateBody(value, kind, options.default_limit, &errors);
    if (auto* error = std::get_if<ApiResponse>(&result)) {
      SetApi(res, std::move(*error));
      return;
    }
    if (!errors.empty()) {
      SetApi(res, ValidationErrorResponse(errors, value != nullptr ? *value : parsed.value));
      return;
    }
    const RequestFields& f = std::get<RequestFields>(result);
    const Micros now = NowMicros();
    // One version for the page, its count and its rows' JSON.
    const std::shared_ptr<const Version> at = e->Pin();
    std::string body;
    switch (kind) {
      case BodyKind::kPaginate: {
        PaginateQuery q;
        q.filters = f.filters;
        q.sort = f.sort;
        q.limit = f.limit;
        q.offset = f.offset;
        const TaskRunPage page = e->Paginate(q, at);
        tls_request.rows = static_cast<int64_t>(page.rows.size());
        AppendPaginateResponse(*at, page.rows, page.count, f.limit, f.page_text, now, &body);
        break;
      }
      case BodyKind::kFilter: {
        const TaskRunPage page =
            e->Filter(f.filters, f.sort, f.offset, static_cast<uint64_t>(f.limit), at);
        tls_request.rows = static_cast<int64_t>(page.rows.size());
        AppendTaskRunFullArray(*at, page.rows, now, &body);
        break;
      }
      case BodyKind::kCount: {
        uint64_t n = e->Count(f.filters, *at);
        tls_request.rows = 0;
        body = absl::StrFormat("%d", n);
        break;
      }
    }
    SetJson(res, 200, std::move(body));
  }

  // POST /taskdex/v1/apply: the body is a change file, applied as one
  // batch (Engine::ApplyJson). Off unless ServerOptions::enable_writes.
  void HandleApply(const httplib::Request& req, httplib::Response& res) {
    if (!options.enable_writes) {
      return SetDetail(res, 403, "Writes are disabled: start taskdex serve with --enable-writes");
    }
    if (ReadyEngine(res) == nullptr) return;
    Response r = engine.load(std::memory_order_acquire)->ApplyJson(req.body);
    SetJson(res, r.status, std::move(r.body));
  }

  void HandleHistory(const httplib::Request& req, httplib::Response& res) {
    const Engine* e = ReadyEngine(res);
    if (e == nullptr) return;
    JsonParseResult parsed;
    const JsonValue* value = nullptr;
    if (!ReadBody(req, res, &parsed, &value)) return;
    ErrorList errors;
    auto result = ValidateHistoryBody(value, &errors);
    if (auto* error = std::get_if<ApiResponse>(&result)) {
      SetApi(res, std::move(*error));
      return;
    }
    if (!errors.empty()) {
      SetApi(res, ValidationErrorResponse(errors, value != nullptr ? *value : parsed.value));
      return;
    }
    const HistoryRequest& h = std::get<HistoryRequest>(result);
    SetJson(res, 200, HistoryResponseJson(*e->Pin(), h, NowMicros()));
  }

  void HandleRead(const httplib::Request& req, httplib::Response& res, std::string_view id) {
    const Engine* e = ReadyEngine(res);
    if (e == nullptr) return;
    if (!CheckVersion(req, res)) return;
    std::string hex;
    for (char c : id) {
      if (c != '-') hex.push_back(c);
    }
    std::string canonical = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) +
                            "-" + hex.substr(16, 4) + "-" + hex.substr(20);
    absl::StatusOr<std::string> json = e->TaskRunJson(canonical, NowMicros());
    if (!json.ok()) {
      tls_request.rows = 0;
      SetDetail(res, 404, "Task not found");
      return;
    }
    tls_request.rows = 1;
    SetJson(res, 200, *std::move(json));
  }

  std::string Metrics() {
    std::string out;
    out += "# HELP taskdex_build_info Build information.\n# TYPE taskdex_build_info gauge\n";
    out += absl::StrFormat("taskdex_build_info{version=\"%s\",httplib=\"%s\"} 1\n",
                           TASKDEX_VERSION, CPPHTTPLIB_VERSION);
    {
      std::lock_guard<std::mutex> lock(metrics_mu);
      out +=
          "# HELP taskdex_http_requests_total HTTP requests by endpoint and status.\n"
          "# TYPE taskdex_http_requests_total counter\n";
      for (const auto& [key, n] : requests) {
        out += absl::StrFormat("taskdex_http_requests_total{endpoint=\"%s\",status=\"%d\"} %d\n",
                               kEndpoints[key.first], key.second, n);
      }
      out +=
          "# HELP taskdex_http_request_duration_seconds Request latency.\n"
          "# TYPE taskdex_http_request_duration_seconds histogram\n";
      for (size_t e = 0; e < kNumEndpoints; ++e) {
        if (latency_count[e] == 0) continue;
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= kBuckets.size(); ++b) {
          cumulative += latency_buckets[e][b];
          std::string le = b < kBuckets.size() ? absl::StrFormat("%g", kBuckets[b]) : "+Inf";
          out += absl::StrFormat(
              "taskdex_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"} %d\n",
              kEndpoints[e], le, cumulative);
        }
        out += absl::StrFormat(
            "taskdex_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
            "taskdex_http_request_duration_seconds_count{endpoint=\"%s\"} %d\n",
            kEndpoints[e], latency_sum[e], kEndpoints[e], latency_count[e]);
      }
    }
    out +=
        "# HELP taskdex_http_rejected_total Connections answered 503 because the worker queue "
        "was full.\n# TYPE taskdex_http_rejected_total counter\n";
    out += absl::StrFormat("taskdex_http_rejected_total %d\n", rejected.load());
    const Engine* e = engine.load(std::memory_order_acquire);
    out += "# HELP taskdex_ready Whether the snapshot is loaded.\n# TYPE taskdex_ready gauge\n";
    out += absl::StrFormat("taskdex_ready %d\n", e != nullptr ? 1 : 0);
    out +=
        "# HELP taskdex_load_bytes Snapshot bytes read so far and in total.\n"
        "# TYPE taskdex_load_bytes gauge\n";
    out += absl::StrFormat("taskdex_load_bytes{kind=\"done\"} %d\ntaskdex_load_bytes{kind=\"total\"} %d\n",
                           load_bytes_done.load(), load_bytes_total.load());
    out += "# HELP taskdex_load_lines Snapshot lines read so far.\n# TYPE taskdex_load_lines gauge\n";
    out += absl::StrFormat("taskdex_load_lines %d\n", load_lines.load());
    if (e != nullptr) {
      const LoadReport& r = e->load_report();
      out += "# HELP taskdex_rows Rows loaded per entity.\n# TYPE taskdex_rows gauge\n";
      out += absl::StrFormat(
          "taskdex_rows{entity=\"task_runs\"} %d\ntaskdex_rows{entity=\"flow_runs\"} %d\n"
          "taskdex_rows{entity=\"flows\"} %d\ntaskdex_rows{entity=\"deployments\"} %d\n",
          r.task_runs, r.flow_runs, r.flows, r.deployments);
      out +=
          "# HELP taskdex_memory_bytes Memory held by the store.\n"
          "# TYPE taskdex_memory_bytes gauge\n";
      const LiveStats live = e->Stats();
      out += absl::StrFormat("taskdex_memory_bytes %d\n", live.memory_bytes);
      out += LiveMetrics(live);
      out += "# HELP taskdex_load_seconds Time the load took.\n# TYPE taskdex_load_seconds gauge\n";
      out += absl::StrFormat("taskdex_load_seconds %.3f\n", r.seconds);
    }
    return out;
  }

  // Starlette's Router with redirect_slashes (starlette/routing.py,
  // Router.app): a path that matches no route, is not "/", and matches one
  // (with any method) after toggling its trailing slash gets 307 with
  // `location: URL(scope=redirect_scope)`: scheme, the Host header (else the
  // server address), the toggled path (every trailing slash stripped, or one
  // added) and the raw query string. The body is empty, with no
  // Content-Type. Auth runs first (it is middleware); the version check
  // does not (it is a route dependency).
  static void Redirect(const httplib::Request& req, httplib::Response& res,
                       const std::string& path) {
    std::string location = "http://";
    if (req.has_header("Host")) {
      location += req.get_header_value("Host");
    } else if (req.local_port == 80) {
      location += req.local_addr;
    } else {
      location += absl::StrFormat("%s:%d", req.local_addr, req.local_port);
    }
    location += path;
    const size_t q = req.target.find('?');
    if (q != std::string::npos && q + 1 < req.target.size()) {
      location += req.target.substr(q);
    }
    res.status = 307;
    res.set_header("Location", location);
  }

  void Route(const httplib::Request& req, httplib::Response& res) {
    const std::string& path = req.path;
    const std::string& method = req.method;
    const bool get = method == "GET" || method == "HEAD";  // Starlette adds HEAD to GET routes
    auto not_allowed = [&](const char* allow) {
      res.set_header("Allow", allow);
      SetDetail(res, 405, "Method Not Allowed");
    };
    auto post_route = [&](const char* endpoint, auto&& handler) {
      tls_request.endpoint = endpoint;
      if (method == "POST") {
        handler();
      } else {
        not_allowed("POST");
      }
    };
    switch (MatchPath(path)) {
      case RouteId::kPaginate:
        return post_route("paginate", [&] { HandleQuery(req, res, BodyKind::kPaginate); });
      case RouteId::kFilter:
        return post_route("filter", [&] { HandleQuery(req, res, BodyKind::kFilter); });
      case RouteId::kCount:
        return post_route("count", [&] { HandleQuery(req, res, BodyKind::kCount); });
      case RouteId::kHistory:
        return post_route("history", [&] { HandleHistory(req, res); });
      case RouteId::kApply:
        return post_route("apply", [&] { HandleApply(req, res); });
      case RouteId::kRead:
        tls_request.endpoint = "read";
        if (get) return HandleRead(req, res, std::string_view(path).substr(kTaskRunsPrefix.size()));
        // Prefect's task_runs router declares PATCH /{id} first, so another
        // method's 405 names PATCH (Starlette answers with the first route
        // that matches the path). PATCH and DELETE are Prefect's write
        // endpoints; taskdex is read-only and answers them 405 naming GET.
        return not_allowed(method == "PATCH" || method == "DELETE" ? "GET" : "PATCH");
      case RouteId::kHealth:
        // Declared on the API app itself, not on a router: no
        // X-PREFECT-API-VERSION check (src/prefect/server/api/server.py,
        // create_api_app, health_check).
        tls_request.endpoint = "health";
        if (!get) return not_allowed("GET");
        return SetJson(res, 200, "true");
      case RouteId::kReady:
        // root.router, included with the version dependency
        // (src/prefect/server/api/root.py, perform_readiness_check):
        // 200 {"message":"OK"} or 503 {"message":"Database is not available"}.
        tls_request.endpoint = "ready";
        if (!get) return not_allowed("GET");
        if (!CheckVersion(req, res)) return;
        if (engine.load(std::memory_order_acquire) != nullptr) {
          return SetJson(res, 200, R"({"message":"OK"})");
        }
        return SetJson(res, 503, R"({"message":"Database is not available"})");
      case RouteId::kReadyz:
        tls_request.endpoint = "readyz";
        if (!get) return not_allowed("GET");
        if (engine.load(std::memory_order_acquire) != nullptr) {
          return SetJson(res, 200, R"({"message":"OK"})");
        }
        return SetJson(res, 503, ReadyzLoading());
      case RouteId::kLivez:
        tls_request.endpoint = "livez";
        if (!get) return not_allowed("GET");
        return SetJson(res, 200, R"({"message":"OK"})");
      case RouteId::kMetrics:
        tls_request.endpoint = "metrics";
        if (!get) return not_allowed("GET");
        res.status = 200;
        return SetBody(res, Metrics(), "text/plain; version=0.0.4");
      case RouteId::kNone:
        break;
    }
    tls_request.endpoint = "other";
    if (path != "/") {
      std::string toggled = path;
      if (toggled.back() == '/') {
        while (!toggled.empty() && toggled.back() == '/') toggled.pop_back();
      } else {
        toggled.push_back('/');
      }
      if (MatchPath(toggled) != RouteId::kNone) return Redirect(req, res, toggled);
    }
    SetDetail(res, 404, "Not Found");
  }

  // /readyz while loading: the progress /metrics shows.
  std::string ReadyzLoading() const {
    return absl::StrFormat(
        R"({"message":"Loading the snapshot","bytes_done":%d,"bytes_total":%d,"lines_done":%d})",
        load_bytes_done.load(), load_bytes_total.load(), load_lines.load());
  }

  // Message framing (RFC 9112 6.3), before cpp-httplib reads the body.
  // cpp-httplib 0.11.4 reads a body for every POST, PUT, PATCH and DELETE
  // (detail::expect_content) and, without Content-Length or chunked
  // Transfer-Encoding, reads until the client closes, so such a request
  // waited for the read timeout and got 400. HTTP/1.1 says it has no body,
  // which is what uvicorn (h11) serves Prefect with: an empty body at once.
  // Server::routing calls the pre-routing handler before it reads the body,
  // so adding `Content-Length: 0` here makes the library read nothing and
  // the request goes through the same handlers as one that sent
  // `Content-Length: 0` (the default_content_type rule treats both alike:
  // no Content-Length > 0). The Request is the library's mutable local
  // (Server::process_request), handed to us as const.
  // Returns false for a Transfer-Encoding other than exactly "chunked"
  // (h11: "Only Transfer-Encoding: chunked is supported"; uvicorn answers
  // 400 and closes, RFC 9112 6.3 item 4), where cpp-httplib would also read
  // until close.
  // Content-Length as h11 takes it (h11/_headers.py,
  // normalize_and_validate): each header's value is split on commas and
  // stripped; every piece of every header must be the same string of
  // digits, else "conflicting Content-Length headers" / "bad
  // Content-Length", which uvicorn answers 400 and closes. cpp-httplib
  // took the first header, read "abc" as 0 (leaving the body in the stream
  // as the next request) and "-5" as a huge length (413 after the read
  // timeout). A declared length over max_body_bytes is 413 at once, before
  // any of the body is read.
  enum class Framing { kOk, kBad, kTooLarge };
  static Framing FrameBody(const httplib::Request& req, size_t max_body_bytes) {
    auto& headers = const_cast<httplib::Request&>(req).headers;
    if (req.has_header("Transfer-Encoding")) {
      return Lower(Trim(req.get_header_value("Transfer-Encoding"))) == "chunked" ? Framing::kOk
                                                                                 : Framing::kBad;
    }
    if (!req.has_header("Content-Length")) {
      headers.emplace("Content-Length", "0");
      return Framing::kOk;
    }
    std::optional<std::string> length;
    auto [first, last] = headers.equal_range("Content-Length");
    for (auto it = first; it != last; ++it) {
      for (absl::string_view split : absl::StrSplit(it->second, ',')) {
        split = absl::StripAsciiWhitespace(split);
        const std::string_view piece(split.data(), split.size());
        if (piece.empty() || piece.find_first_not_of("0123456789") != std::string_view::npos) {
          return Framing::kBad;
        }
        if (length && *length != piece) return Framing::kBad;
        length = std::string(piece);
      }
    }
    const std::string_view digits = std::string_view(*length).substr(
        std::min(length->find_first_not_of('0'), length->size()));
    if (digits.size() > 18 || std::stoull(std::string(digits.empty() ? "0" : digits)) > max_body_bytes) {
      return Framing::kTooLarge;
    }
    headers.erase("Content-Length");
    headers.emplace("Content-Length", std::string(digits.empty() ? "0" : digits));
    return Framing::kOk;
  }

  // Which requests the basic-auth check applies to. Prefect adds the
  // middleware to the API app mounted at /api, so it sees every /api path,
  // routed or not (src/prefect/server/api/server.py, create_api_app,
  // token_validation), and lets through
  //   request.url.path.endswith(("health", "ready")) and method == "GET"
  // ("used for probes in k8s and such"; HEAD is not exempt). taskdex's own
  // /livez and /readyz are outside /api and need no credentials; /metrics
  // (Prefect serves its Prometheus metrics at /api/metrics, behind the same
  // middleware) needs them.
  static bool AuthRequired(const httplib::Request& req) {
    const std::string_view p = req.path;
    const bool api = p == "/api" || p.substr(0, 5) == "/api/";
    // The write API (/taskdex/...) is behind the same auth as the API.
    const bool taskdex = p.substr(0, 9) == "/taskdex/";
    // "/metrics/" too: auth runs before the trailing-slash redirect, so
    // the redirect does not answer for a route behind auth.
    const bool metrics = p.substr(0, 8) == "/metrics" &&
                         p.find_first_not_of('/', 8) == std::string_view::npos;
    if (!api && !taskdex && !metrics) return false;
    return !(req.method == "GET" && (EndsWith(p, "health") || EndsWith(p, "ready")));
  }

  void Record(const httplib::Request& req, const httplib::Response& res) {
    double seconds = 0;
    if (tls_request.started) {
      seconds = std::chrono::duration<double>(Clock::now() - tls_request.start).count();
    }
    size_t e = EndpointIndex(tls_request.endpoint);
    {
      std::lock_guard<std::mutex> lock(metrics_mu);
      ++requests[{e, res.status}];
      size_t b = 0;
      while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
      ++latency_buckets[e][b];
      latency_sum[e] += seconds;
      ++latency_count[e];
    }
    const double ms = seconds * 1000;
    // Formatted only when written (serving at --log-level warning skips it).
    if (LogEnabled(LogLevel::kInfo)) {
      Log(LogLevel::kInfo, absl::StrFormat(
          "{\"level\":\"%s\",\"msg\":\"request\",\"method\":%s,\"path\":%s,\"status\":%d,"
          "\"duration_ms\":%.3f,\"rows\":%s,\"bytes_in\":%d,\"bytes_out\":%d,\"remote\":%s}",
          "info", JsonString(req.method), JsonString(req.path), res.status, ms,
          tls_request.rows < 0 ? std::string("null") : std::to_string(tls_request.rows),
          req.body.size(), res.body.size(), JsonString(req.remote_addr)));
    }
    if (options.slow_ms >= 0 && ms > options.slow_ms && LogEnabled(LogLevel::kWarning)) {
      Log(LogLevel::kWarning,
          absl::StrFormat("{\"level\":\"warning\",\"msg\":\"slow request\",\"method\":%s,"
                          "\"path\":%s,\"status\":%d,\"duration_ms\":%.3f,\"slow_ms\":%d}",
                          JsonString(req.method), JsonString(req.path), res.status, ms,
                          options.slow_ms));
    }
    tls_request = RequestContext{};
  }
};

HttpServer::HttpServer(ServerOptions options) : rep_(std::make_unique<Rep>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  Rep* rep = rep_.get();
  TaskdexServer& s = rep->server;
  const int threads = std::max(1, rep->options.threads);
  const size_t max_queued = static_cast<size_t>(std::max(0, rep->options.max_queued));
  s.new_task_queue = [rep, threads, max_queued] {
    return new BoundedPool(static_cast<size_t>(threads), max_queued, &rep->rejected);
  };
  s.set_payload_max_length(rep->options.max_body_bytes);
  s.set_read_timeout(rep->options.read_timeout_seconds, 0);
  s.set_write_timeout(rep->options.write_timeout_seconds, 0);
  s.set_keep_alive_timeout(rep->options.keep_alive_seconds);
  s.set_keep_alive_max_count(100000);
  s.set_tcp_nodelay(true);
  s.set_pre_routing_handler([rep](const httplib::Request& req, httplib::Response& res) {
    tls_request = RequestContext{};
    tls_request.start = Clock::now();
    tls_request.started = true;
    const Rep::Framing framing = Rep::FrameBody(req, rep->options.max_body_bytes);
    if (tls_stream != nullptr && tls_stream->first_content_type_empty()) {
      // The parser dropped an empty `Content-Type:` (ConnectionStream saw
      // it). For Prefect it is present, so default_content_type adds
      // nothing, and it is not JSON: the body is ignored (paginate.md 1.1
      // steps 2-3). Starlette reads the first Content-Type header.
      auto& headers = const_cast<httplib::Request&>(req).headers;
      headers.erase("Content-Type");
      headers.emplace("Content-Type", "");
    }
    if (req.has_header("Accept-Encoding")) {
      // Starlette's GZipMiddleware: "gzip" in Accept-Encoding. We compress
      // ourselves (>= 500 bytes), so hide the header from cpp-httplib.
      tls_request.accept_gzip =
          req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
      const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    }
    if (tls_overloaded) {
      // The worker queue is full (BoundedPool): Prefect's retryable answer.
      // Prefect's client retries 503s.
      tls_request.endpoint = "overloaded";
      tls_close_connection = true;
      res.set_header("Connection", "close");
      res.set_header("Retry-After", "1");
      Rep::SetJson(res, 503, R"({"exception_message":"Service Unavailable"})");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (framing == Rep::Framing::kTooLarge) {
      // The body is not read: the connection cannot carry another request.
      res.set_header("Connection", "close");
      tls_close_connection = true;
      Rep::SetDetail(res, 413, "Request body too large");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (framing != Rep::Framing::kOk) {
      // uvicorn's answer to a request h11 cannot frame (h11_impl.py,
      // send_400_response); the unread body makes the connection unusable.
      res.status = 400;
      res.set_header("Connection", "close");
      tls_close_connection = true;
      res.set_content("Invalid HTTP request received.", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (Rep::AuthRequired(req) && !rep->AuthOk(req)) {
      Rep::SetJson(res, 401, R"({"exception_message":"Unauthorized"})");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto route = [rep](const httplib::Request& req, httplib::Response& res) { rep->Route(req, res); };
  // Bodies are read here, chunk by chunk, so --max-body-bytes holds for
  // every transfer coding: cpp-httplib's own limit checks Content-Length
  // only, and a 300 MB chunked body was read whole (and echoed back in a
  // 422). Content-Length over the limit is refused earlier (FrameBody).
  // A multipart body is counted and dropped: it is not JSON, so Prefect
  // ignores it (paginate.md 1.1), and cpp-httplib parses it only through
  // the two-callback reader.
  auto read_then_route = [rep](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) {
    const size_t limit = rep->options.max_body_bytes;
    std::string body;
    size_t seen = 0;
    auto take = [&](const char* data, size_t n) {
      seen += n;
      if (seen > limit) return false;
      if (!req.is_multipart_form_data()) body.append(data, n);
      return true;
    };
    const bool ok = req.is_multipart_form_data()
                        ? reader([](const httplib::MultipartFormData&) { return true; }, take)
                        : reader(take);
    if (!ok) {
      // The rest of the body is unread: this connection carries no more.
      res.set_header("Connection", "close");
      tls_close_connection = true;
      if (seen > limit) {
        Rep::SetDetail(res, 413, "Request body too large");
      } else {
        res.status = 400;
        res.set_content("Invalid HTTP request received.", "text/plain; charset=utf-8");
      }
      return;
    }
    const_cast<httplib::Request&>(req).body = std::move(body);
    rep->Route(req, res);
  };
  s.Get(".*", route);
  s.Post(".*", read_then_route);
  s.Put(".*", read_then_route);
  s.Patch(".*", read_then_route);
  s.Delete(".*", read_then_route);
  s.Options(".*", route);
  s.max_header_count = rep->options.max_header_count;
  s.max_header_bytes = rep->options.max_header_bytes;
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                              httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 400 || res.status == 414 || res.status == 431) {
      // The library's own answers to a request it could not parse (bad
      // request line, header, chunk size; a head over the limits): as
      // h11/uvicorn, the connection is closed, so no leftover bytes are
      // read as the next request.
      if (tls_stream != nullptr && tls_stream->head_too_large()) res.status = 431;
      res.set_header("Connection", "close");
      tls_close_connection = true;
    }
    std::string detail;
    switch (res.status) {
      case 404: detail = "Not Found"; break;
      case 405: detail = "Method Not Allowed"; break;
      case 413: detail = "Request body too large"; break;
      case 414: detail = "URI Too Long"; break;
      case 431: detail = "Request Header Fields Too Large"; break;
      case 500:
        res.set_content(R"({"exception_message":"Internal Server Error"})", "application/json");
        return httplib::Server::HandlerResponse::Handled;
      default: detail = "Bad Request"; break;
    }
    res.set_content(DetailResponse(res.status, detail).body, "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([rep](const httplib::Request& req, const httplib::Response& res) {
    rep->Record(req, res);
  });

  if (rep->options.port == 0) {
    port_ = s.bind_to_any_port(rep->options.host);
    if (port_ <= 0) {
      return absl::UnavailableError(absl::StrFormat("cannot bind %s", rep->options.host));
    }
  } else {
    if (!s.bind_to_port(rep->options.host, rep->options.port)) {
      return absl::UnavailableError(absl::StrFormat("cannot bind %s:%d: %s", rep->options.host,
                                                    rep->options.port, std::strerror(errno)));
    }
    port_ = rep->options.port;
  }
  thread_ = std::thread([rep] {
    rep->server.listen_after_bind();
    rep->listener_exited = true;
  });
  // stop() is a no-op until the accept loop runs: wait for it.
  while (!rep->server.is_running() && !rep->listener_exited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rep->Log(LogLevel::kInfo,
           absl::StrFormat("{\"level\":\"info\",\"msg\":\"listening\",\"host\":%s,\"port\":%d,"
                           "\"threads\":%d,\"auth\":%s}",
                           JsonString(rep->options.host), port_, threads,
                           rep->options.auth_string.has_value() ? "true" : "false"));
  if (rep->options.auth_string.has_value() && rep->options.auth_string->empty()) {
    rep->Log(LogLevel::kWarning,
             "{\"level\":\"warning\",\"msg\":\"the auth string is empty: basic auth is on, "
             "and only credentials that decode to an empty string pass (as in Prefect)\"}");
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  // listen_after_bind may not have entered its loop yet; stop() until it has
  // returned.
  rep_->server.stop();
  thread_.join();
}

void HttpServer::SetEngine(std::unique_ptr<Engine> engine) {
  rep_->engine_owner = std::move(engine);
  rep_->engine.store(rep_->engine_owner.get(), std::memory_order_release);
}

void HttpServer::SetLoadProgress(uint64_t bytes_done, uint64_t bytes_total,
                                 uint64_t lines_done) {
  rep_->load_bytes_done.store(bytes_done);
  rep_->load_bytes_total.store(bytes_total);
  rep_->load_lines.store(lines_done);
}

}  // namespace taskdex
