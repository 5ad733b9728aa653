// api/http_message.h
//
// One HTTP/1.1 request and its answer as plain values, between the
// transport (api/http_transport.h, which parses and frames them) and the
// handlers (api/http_server.cc, Prefect's rules). Nothing here knows about
// sockets or a library: a handler is a function of an HttpRequest that
// fills an HttpResponse.
//
// Conventions: header names are compared case-insensitively (RFC 9110
// 5.1); headers keep their order and repeats, as sent, and values are as
// sent minus surrounding whitespace (an empty value is a header, present,
// with value "": Starlette sees `Content-Type:` as present). Bodies are
// whole (the transport has read and de-chunked them).

#ifndef TASKDEX_API_HTTP_MESSAGE_H_
#define TASKDEX_API_HTTP_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskdex {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive ASCII comparison of header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string method;  // "GET", as sent
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  int version = 11;    // 10 for HTTP/1.0, 11 for HTTP/1.1
  HttpHeaders headers;
  std::string body;
  std::string remote_addr;
  std::string local_addr;
  int local_port = 0;

  bool has_header(std::string_view name) const;
  // The first header of that name; "" when absent.
  std::string get_header_value(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;  // Content-Length and Connection are the transport's
  std::string body;
  // Close the connection after this answer (the transport also closes for
  // `Connection: close` requests, HTTP/1.0 without keep-alive, and errors).
  bool close = false;
  // The answer to a HEAD: headers (Content-Length of the body) only.
  bool head_only = false;

  bool has_header(std::string_view name) const;
  std::string get_header_value(std::string_view name) const;
  // Replaces every header of that name with one.
  void set_header(std::string_view name, std::string value);
  void erase_header(std::string_view name);
  // The body and its one Content-Type header.
  void set_content(std::string content, std::string_view content_type);
};

}  // namespace taskdex

#endif  // TASKDEX_API_HTTP_MESSAGE_H_
