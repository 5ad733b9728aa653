// tests/testing/raw_connection.h
//
// A raw loopback TCP connection for HTTP tests that must send what no
// client library would (bad framing, trickled bytes, huge heads) and see
// exactly what comes back, including whether the server closed.

#ifndef TASKDEX_TESTS_TESTING_RAW_CONNECTION_H_
#define TASKDEX_TESTS_TESTING_RAW_CONNECTION_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {

// One keep-alive connection over a raw socket: sends bytes, reads whole
// responses (headers, then Content-Length bytes of body). Every receive
// waits at most `timeout_s` seconds.
class RawConnection {
 public:
  // must_connect: a refused connection fails the test (else see connected()).
  RawConnection(int port, int timeout_s, bool must_connect = true) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (must_connect) {
      EXPECT_TRUE(connected_);
    }
    timeval tv{timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      sent += static_cast<size_t>(n);
    }
  }
  // Sends what the server takes; false when it closed the connection before
  // taking everything (an answer may still be waiting to be read).
  bool TrySend(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Status line and headers (up to the blank line), and the body; false
  // when the connection closed or a receive timed out first.
  bool ReadResponse(std::string* head, std::string* body) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    *head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    size_t length = 0;
    std::string lower = *head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t cl = lower.find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 17));
    while (buffer_.size() < length) {
      if (!Fill()) return false;
    }
    *body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return true;
  }
  // Appends the next bytes that arrive, as they are (e.g. a chunked body);
  // false when the connection closed or a receive timed out first.
  bool ReadSome(std::string* out) {
    if (buffer_.empty() && !Fill()) return false;
    out->append(buffer_);
    buffer_.clear();
    return true;
  }
  // True when the server closed the connection (read returns 0).
  bool Closed() {
    char c;
    if (!buffer_.empty()) return false;
    const ssize_t n = recv(fd_, &c, 1, 0);
    // A reset (the server closed with our bytes unread) is closed too.
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool Fill() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_RAW_CONNECTION_H_
