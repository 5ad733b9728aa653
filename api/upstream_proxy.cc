// UpstreamProxy (api/upstream_proxy.h): creation, the URL, statistics.
// The pool is api/internal/upstream_pool.h, the exchanges
// api/upstream_exchange.cc.

#include "api/upstream_proxy.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "api/internal/upstream_pool.h"

namespace taskdex {

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
