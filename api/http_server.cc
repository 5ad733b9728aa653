#include "api/http_server.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/version.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "api/history_request.h"
#include "api/http_transport.h"
#include "api/json_value.h"
#include "api/paginate_request.h"
#include "api/response_writer.h"
#include "api/upstream_proxy.h"
#include "api/version_writer.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

#ifndef TASKDEX_VERSION
#define TASKDEX_VERSION "0.1.0"
#endif

namespace taskdex {
namespace {

using Clock = std::chrono::steady_clock;

// Per-request bookkeeping, on the loop thread that serves it.
struct RequestContext {
  Clock::time_point start{};
  bool accept_gzip = false;
  const char* endpoint = "other";
  int64_t rows = -1;
};

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
  kApply, kCheckpoint
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
  if (path == "/taskdex/v1/checkpoint") return RouteId::kCheckpoint;
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
  std::unique_ptr<HttpTransport> transport;
  // After transport: destroyed first, while the loops' sockets still can be.
  std::unique_ptr<UpstreamProxy> proxy;
  std::unique_ptr<Engine> engine_owner;
  std::atomic<Engine*> engine{nullptr};
  std::string expected_auth;  // "Basic <base64>" compared after decoding

  // Metrics.
  std::mutex metrics_mu;
  std::map<std::pair<size_t, int>, uint64_t> requests;  // (endpoint, status)
  std::array<std::array<uint64_t, kBuckets.size() + 1>, kNumEndpoints> latency_buckets{};
  std::array<double, kNumEndpoints> latency_sum{};
  std::array<uint64_t, kNumEndpoints> latency_count{};
  std::atomic<uint64_t> load_bytes_done{0}, load_bytes_total{0}, load_lines{0};
  std::mutex log_mu;

  explicit Rep(ServerOptions o) : options(std::move(o)) {}
  // --fresh-reads: client address -> time of its last forwarded write.
  mutable std::mutex fresh_mu;
  absl::flat_hash_map<std::string, Micros> fresh_writes;
  std::atomic<uint64_t> fresh_timeouts{0};

  void Log(LogLevel level, const std::string& line) {
    if (options.log == nullptr || level < options.log_level) return;
    std::lock_guard<std::mutex> lock(log_mu);
    std::fputs(line.c_str(), options.log);
    std::fputc('\n', options.log);
    std::fflush(options.log);
  }

  static void SetJson(HttpResponse& res, int status, std::string body) {
    res.status = status;
    res.set_content(std::move(body), "application/json");
  }

  bool LogEnabled(LogLevel level) const {
    return options.log != nullptr && level >= options.log_level;
  }

  static void SetApi(HttpResponse& res, ApiResponse r) {
    SetJson(res, r.status, std::move(r.body));
  }

  static void SetDetail(HttpResponse& res, int status, std::string_view detail) {
    SetApi(res, DetailResponse(status, detail));
  }

  // Prefect's token_validation middleware on the API app
  // (src/prefect/server/api/server.py, create_api_app):
  //   scheme, creds = header.split(); assert scheme == "Basic"
  //   base64.b64decode(creds).decode("utf-8") == auth_string
  // and any exception (wrong number of parts, bad base64, bad UTF-8) is 401.
  bool AuthOk(const HttpRequest& req) const {
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
  static bool BodyIsJson(const HttpRequest& req) {
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
  bool ReadBody(const HttpRequest& req, HttpResponse& res, JsonParseResult* parsed,
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

  bool CheckVersion(const HttpRequest& req, HttpResponse& res) {
    if (!req.has_header("X-PREFECT-API-VERSION")) return true;
    std::string version = req.get_header_value("X-PREFECT-API-VERSION");
    if (version.empty()) return true;
    std::string error = CheckApiVersion(version);
    if (error.empty()) return true;
    SetDetail(res, 400, error);
    return false;
  }

  const Engine* ReadyEngine(HttpResponse& res) {
    const Engine* e = engine.load(std::memory_order_acquire);
    if (e == nullptr) {
      SetJson(res, 503, R"({"exception_message":"Service Unavailable"})");
    }
    return e;
  }

  // POST /paginate, /filter, /count.
  void HandleQuery(const HttpRequest& req, HttpResponse& res, BodyKind kind,
                   RequestContext& ctx) {
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
        ctx.rows = static_cast<int64_t>(page.rows.size());
        AppendPaginateResponse(*at, page.rows, page.count, f.limit, f.page_text, now, &body);
        break;
      }
      case BodyKind::kFilter: {
        const TaskRunPage page =
            e->Filter(f.filters, f.sort, f.offset, static_cast<uint64_t>(f.limit), at);
        ctx.rows = static_cast<int64_t>(page.rows.size());
        AppendTaskRunFullArray(*at, page.rows, now, &body);
        break;
      }
      case BodyKind::kCount: {
        uint64_t n = e->Count(f.filters, *at);
        ctx.rows = 0;
        body = absl::StrFormat("%d", n);
        break;
      }
    }
    SetJson(res, 200, std::move(body));
  }

  // POST /taskdex/v1/apply: the body is a change file, applied as one
  // batch (Engine::ApplyJson). Off unless ServerOptions::enable_writes.
  void HandleApply(const HttpRequest& req, HttpResponse& res) {
    if (!options.enable_writes) {
      return SetDetail(res, 403, "Writes are disabled: start taskdex serve with --enable-writes");
    }
    if (ReadyEngine(res) == nullptr) return;
    Response r = engine.load(std::memory_order_acquire)->ApplyJson(req.body);
    SetJson(res, r.status, std::move(r.body));
  }

  // POST /taskdex/v1/checkpoint: a binary snapshot of the current version
  // (ServerOptions::checkpoint). Off unless serve has --checkpoint-dir.
  void HandleCheckpoint(HttpResponse& res) {
    if (!options.checkpoint) {
      return SetDetail(res, 403,
                       "Checkpoints are off: start taskdex serve with --checkpoint-dir DIR");
    }
    if (ReadyEngine(res) == nullptr) return;
    Response r = options.checkpoint();
    SetJson(res, r.status, std::move(r.body));
  }

  void HandleHistory(const HttpRequest& req, HttpResponse& res) {
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

  void HandleRead(const HttpRequest& req, HttpResponse& res, std::string_view id,
                  RequestContext& ctx) {
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
      ctx.rows = 0;
      SetDetail(res, 404, "Task not found");
      return;
    }
    ctx.rows = 1;
    SetJson(res, 200, *std::move(json));
  }

  std::string Metrics() {
    std::string out;
    out += "# HELP taskdex_build_info Build information.\n# TYPE taskdex_build_info gauge\n";
    out += absl::StrFormat("taskdex_build_info{version=\"%s\",boost=\"%s\"} 1\n",
                           TASKDEX_VERSION, BOOST_LIB_VERSION);
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
    if (proxy != nullptr) out += proxy->MetricsText();
    const TransportStats net = transport != nullptr ? transport->Stats() : TransportStats{};
    out += absl::StrFormat(
        "# HELP taskdex_http_connections Open connections.\n"
        "# TYPE taskdex_http_connections gauge\ntaskdex_http_connections %d\n"
        "# HELP taskdex_http_connections_rejected_total Connections answered 503 at the "
        "--max-connections cap.\n# TYPE taskdex_http_connections_rejected_total counter\n"
        "taskdex_http_connections_rejected_total %d\n"
        "# HELP taskdex_http_timeouts_total Connections closed at a read deadline.\n"
        "# TYPE taskdex_http_timeouts_total counter\ntaskdex_http_timeouts_total %d\n"
        "# HELP taskdex_http_pooled_total Requests answered on the query pool, off the event "
        "loops.\n# TYPE taskdex_http_pooled_total counter\ntaskdex_http_pooled_total %d\n"
        "# HELP taskdex_http_busy_total Requests answered 503 with --max-queued requests "
        "on the query pool.\n# TYPE taskdex_http_busy_total counter\ntaskdex_http_busy_total %d\n",
        net.open_connections, net.rejected_connections, net.timed_out, net.pooled,
        net.rejected_busy);
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
    if (options.source != nullptr) out += options.source->MetricsText(NowMicros());
    if (options.fresh_reads) {
      out += absl::StrFormat(
          "# HELP taskdex_fresh_read_timeouts_total Task-run reads answered before the "
          "database poll that follows the client's write (--fresh-reads-timeout-ms passed).\n"
          "# TYPE taskdex_fresh_read_timeouts_total counter\n"
          "taskdex_fresh_read_timeouts_total %d\n",
          fresh_timeouts.load());
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
  static void Redirect(const HttpRequest& req, HttpResponse& res,
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

  void Route(const HttpRequest& req, HttpResponse& res, RequestContext& ctx) {
    const std::string& path = req.path;
    const std::string& method = req.method;
    const bool get = method == "GET" || method == "HEAD";  // Starlette adds HEAD to GET routes
    auto not_allowed = [&](const char* allow) {
      res.set_header("Allow", allow);
      SetDetail(res, 405, "Method Not Allowed");
    };
    auto post_route = [&](const char* endpoint, auto&& handler) {
      ctx.endpoint = endpoint;
      if (method == "POST") {
        handler();
      } else {
        not_allowed("POST");
      }
    };
    switch (MatchPath(path)) {
      case RouteId::kPaginate:
        return post_route("paginate", [&] { HandleQuery(req, res, BodyKind::kPaginate, ctx); });
      case RouteId::kFilter:
        return post_route("filter", [&] { HandleQuery(req, res, BodyKind::kFilter, ctx); });
      case RouteId::kCount:
        return post_route("count", [&] { HandleQuery(req, res, BodyKind::kCount, ctx); });
      case RouteId::kHistory:
        return post_route("history", [&] { HandleHistory(req, res); });
      case RouteId::kApply:
        return post_route("apply", [&] { HandleApply(req, res); });
      case RouteId::kCheckpoint:
        return post_route("checkpoint", [&] { HandleCheckpoint(res); });
      case RouteId::kRead:
        ctx.endpoint = "read";
        if (get) return HandleRead(req, res, std::string_view(path).substr(kTaskRunsPrefix.size()), ctx);
        // Prefect's task_runs router declares PATCH /{id} first, so another
        // method's 405 names PATCH (Starlette answers with the first route
        // that matches the path). PATCH and DELETE are Prefect's write
        // endpoints; taskdex is read-only and answers them 405 naming GET.
        return not_allowed(method == "PATCH" || method == "DELETE" ? "GET" : "PATCH");
      case RouteId::kHealth:
        // Declared on the API app itself, not on a router: no
        // X-PREFECT-API-VERSION check (src/prefect/server/api/server.py,
        // create_api_app, health_check).
        ctx.endpoint = "health";
        if (!get) return not_allowed("GET");
        return SetJson(res, 200, "true");
      case RouteId::kReady:
        // root.router, included with the version dependency
        // (src/prefect/server/api/root.py, perform_readiness_check):
        // 200 {"message":"OK"} or 503 {"message":"Database is not available"}.
        ctx.endpoint = "ready";
        if (!get) return not_allowed("GET");
        if (!CheckVersion(req, res)) return;
        if (engine.load(std::memory_order_acquire) != nullptr) {
          return SetJson(res, 200, R"({"message":"OK"})");
        }
        return SetJson(res, 503, R"({"message":"Database is not available"})");
      case RouteId::kReadyz: {
        ctx.endpoint = "readyz";
        if (!get) return not_allowed("GET");
        if (options.source != nullptr) {
          if (std::optional<std::string> why = options.source->NotReady(NowMicros())) {
            std::string body = R"({"message":)";
            AppendJsonString(&body, *why);
            body += "}";
            return SetJson(res, 503, body);
          }
        }
        if (engine.load(std::memory_order_acquire) != nullptr) {
          return SetJson(res, 200, R"({"message":"OK"})");
        }
        return SetJson(res, 503, ReadyzLoading());
      }
      case RouteId::kLivez:
        ctx.endpoint = "livez";
        if (!get) return not_allowed("GET");
        return SetJson(res, 200, R"({"message":"OK"})");
      case RouteId::kMetrics:
        ctx.endpoint = "metrics";
        if (!get) return not_allowed("GET");
        res.status = 200;
        return res.set_content(Metrics(), "text/plain; version=0.0.4");
      case RouteId::kNone:
        break;
    }
    ctx.endpoint = "other";
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

  // The transport (api/http_transport.h) framed the request as h11 does:
  // a Content-Length it accepted is digits, or a comma list of one number
  // ("2, 2"). The default_content_type rule (BodyIsJson) reads the header,
  // so it is rewritten as the one number, the length of the body.
  static void NormalizeContentLength(HttpRequest& req) {
    if (!req.has_header("Content-Length")) return;
    req.headers.erase(std::remove_if(req.headers.begin(), req.headers.end(),
                                     [](const auto& h) {
                                       return HeaderNameEquals(h.first, "Content-Length");
                                     }),
                      req.headers.end());
    req.headers.emplace_back("Content-Length", std::to_string(req.body.size()));
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
  static bool AuthRequired(const HttpRequest& req) {
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

  void Record(const HttpRequest& req, const HttpResponse& res, const RequestContext& ctx) {
    const double seconds = std::chrono::duration<double>(Clock::now() - ctx.start).count();
    size_t e = EndpointIndex(ctx.endpoint);
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
          ctx.rows < 0 ? std::string("null") : std::to_string(ctx.rows),
          req.body.size(), res.body.size(), JsonString(req.remote_addr)));
    }
    if (options.slow_ms >= 0 && ms > options.slow_ms && LogEnabled(LogLevel::kWarning)) {
      Log(LogLevel::kWarning,
          absl::StrFormat("{\"level\":\"warning\",\"msg\":\"slow request\",\"method\":%s,"
                          "\"path\":%s,\"status\":%d,\"duration_ms\":%.3f,\"slow_ms\":%d}",
                          JsonString(req.method), JsonString(req.path), res.status, ms,
                          options.slow_ms));
    }
  }

  // One request, on a loop thread: Prefect's middleware (gzip, auth),
  // the routes, then metrics and the log line.
  // The transport's Placement (ServerOptions::query_threads): true for the
  // requests answered on the pool.
  bool MayRunLong(const HttpRequest& req) const {
    if (PendingWrite(req)) return true;  // it may wait for a poll
    if (req.method != "POST") return false;
    switch (MatchPath(req.path)) {
      case RouteId::kHistory:
      case RouteId::kApply:
      case RouteId::kCheckpoint:
        return true;
      case RouteId::kPaginate:
      case RouteId::kFilter:
      case RouteId::kCount: {
        const Engine* e = engine.load(std::memory_order_acquire);
        return e != nullptr && e->Pin()->LiveTaskRuns() > options.inline_max_task_runs;
      }
      default:
        return false;
    }
  }

  void Serve(HttpRequest& req, HttpResponse& res) {
    RequestContext ctx;
    ctx.start = Clock::now();
    // Starlette's GZipMiddleware: "gzip" in Accept-Encoding.
    ctx.accept_gzip = req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
    NormalizeContentLength(req);
    if (AuthRequired(req) && !AuthOk(req)) {
      SetJson(res, 401, R"({"exception_message":"Unauthorized"})");
    } else {
      WaitForFreshRead(req);
      Route(req, res, ctx);
    }
    // GZipMiddleware compresses answers of 500 bytes or more.
    if (ctx.accept_gzip && res.body.size() >= 500 && !res.has_header("Content-Encoding") &&
        res.get_header_value("Content-Type") == "application/json") {
      std::string gz;
      if (GzipCompress(res.body, &gz)) {
        res.set_header("Content-Encoding", "gzip");
        res.set_header("Vary", "Accept-Encoding");
        res.body = std::move(gz);
      }
    }
    if (req.method == "HEAD") res.head_only = true;
    Record(req, res, ctx);
  }

  // With --upstream: the requests taskdex answers itself (the routes above
  // with their methods, and /taskdex/...); the rest is forwarded.
  static bool AnsweredHere(std::string_view method, std::string_view path) {
    if (path.substr(0, 9) == "/taskdex/") return true;
    switch (MatchPath(path)) {
      case RouteId::kNone: return false;
      case RouteId::kPaginate: case RouteId::kFilter: case RouteId::kCount:
      case RouteId::kHistory: case RouteId::kApply: case RouteId::kCheckpoint:
        return method == "POST";
      default: return method == "GET" || method == "HEAD";
    }
  }

  // A forwarded request is over: its log line (and a warning when taskdex
  // answered 502/504 or cut the answer), then the on_forwarded hook.
  void Forwarded(const HttpRequest& req, const ForwardResult& r) {
    if (LogEnabled(LogLevel::kInfo)) {
      Log(LogLevel::kInfo, absl::StrFormat(
          "{\"level\":\"info\",\"msg\":\"forwarded\",\"method\":%s,\"path\":%s,\"status\":%d,"
          "\"duration_ms\":%.3f,\"bytes_in\":%d,\"bytes_out\":%d,\"remote\":%s}",
          JsonString(req.method), JsonString(req.path), r.status, r.seconds * 1000,
          req.body.size(), r.bytes_out, JsonString(req.remote_addr)));
    }
    if (!r.error.empty() && LogEnabled(LogLevel::kWarning)) {
      Log(LogLevel::kWarning, absl::StrFormat(
          "{\"level\":\"warning\",\"msg\":\"upstream failed\",\"method\":%s,\"path\":%s,"
          "\"status\":%d,\"error\":%s,\"upstream\":%s}",
          JsonString(req.method), JsonString(req.path), r.status, JsonString(r.error),
          JsonString(options.upstream)));
    }
    if (options.on_forwarded) options.on_forwarded(req, r.status);
  }

  // The upstream answered a forwarded request (its head, not yet relayed:
  // the client cannot have sent its next request). --fresh-reads notes a
  // write to runs; the database holds it by now (Prefect answers after its
  // commit).
  void UpstreamAnswered(const HttpRequest& req, int status) {
    if (!options.fresh_reads || options.source == nullptr || !IsRunWrite(req, status)) return;
    const Micros now = DbFollowLoop::Now();
    std::lock_guard lock(fresh_mu);
    if (fresh_writes.size() > 10'000) fresh_writes.clear();  // bounded; waits are bounded anyway
    fresh_writes[req.remote_addr] = now;
  }

  // --fresh-reads (ServerOptions::fresh_reads): which forwarded requests
  // are writes that may change what a task-run read answers.
  static bool IsRunWrite(const HttpRequest& req, int status) {
    if (status >= 400 || req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
      return false;
    }
    const std::string_view p = req.path;
    bool runs = false;
    for (std::string_view prefix : {"/api/task_runs", "/api/flow_runs", "/api/flows",
                                    "/api/deployments"}) {
      runs |= p.substr(0, prefix.size()) == prefix;
    }
    if (!runs) return false;
    for (std::string_view read : {"/filter", "/count", "/paginate", "/history"}) {
      if (p.size() >= read.size() && p.substr(p.size() - read.size()) == read) return false;
    }
    return true;
  }

  // The time of this client's last forwarded write not yet seen by a poll.
  std::optional<Micros> PendingWrite(const HttpRequest& req) const {
    if (!options.fresh_reads || options.source == nullptr) return std::nullopt;
    if (req.path.substr(0, 14) != "/api/task_runs") return std::nullopt;
    std::lock_guard lock(fresh_mu);
    auto it = fresh_writes.find(req.remote_addr);
    if (it == fresh_writes.end()) return std::nullopt;
    return it->second;
  }

  // Before a task-run read: waits for the client's write (bounded).
  void WaitForFreshRead(const HttpRequest& req) {
    std::optional<Micros> write = PendingWrite(req);
    if (!write) return;
    if (!options.source->WaitForPollAfter(*write, options.fresh_reads_timeout_ms)) {
      ++fresh_timeouts;
      return;
    }
    std::lock_guard lock(fresh_mu);
    auto it = fresh_writes.find(req.remote_addr);
    if (it != fresh_writes.end() && it->second == *write) fresh_writes.erase(it);
  }

  // The answers the transport makes itself (api/http_transport.h), with
  // the bodies Prefect's server gives: uvicorn's own 400 for a request it
  // cannot frame (h11_impl.py, send_400_response), Starlette-style details
  // for the limits, and Prefect's retryable 503 (its client retries 503s).
  static void ErrorAnswer(int status, HttpResponse* res) {
    switch (status) {
      case 400:
        res->status = 400;
        res->set_content("Invalid HTTP request received.", "text/plain; charset=utf-8");
        return;
      case 413: return SetDetail(*res, 413, "Request body too large");
      case 431: return SetDetail(*res, 431, "Request Header Fields Too Large");
      default:
        res->set_header("Retry-After", "1");
        return SetJson(*res, 503, R"({"exception_message":"Service Unavailable"})");
    }
  }
};

HttpServer::HttpServer(ServerOptions options) : rep_(std::make_unique<Rep>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  Rep* rep = rep_.get();
  const ServerOptions& o = rep->options;
  TransportOptions t;
  t.host = o.host;
  t.port = o.port;
  t.workers = std::max(1, o.threads);
  t.pool_threads = std::max(0, o.query_threads);
  t.max_queued = o.max_queued;
  t.max_connections = o.max_connections;
  t.max_header_count = o.max_header_count;
  t.max_header_bytes = o.max_header_bytes;
  t.max_body_bytes = o.max_body_bytes;
  t.head_timeout_ms = o.read_timeout_seconds * 1000;
  t.body_timeout_ms = o.read_timeout_seconds * 1000;
  t.keep_alive_ms = o.keep_alive_seconds * 1000;
  t.write_timeout_ms = o.write_timeout_seconds * 1000;
  t.shutdown_timeout_ms = o.shutdown_timeout_seconds * 1000;
  rep->transport = std::make_unique<HttpTransport>(
      t, [rep](HttpRequest& req, HttpResponse* res) { rep->Serve(req, *res); }, &Rep::ErrorAnswer,
      [rep](const HttpRequest& req) { return rep->MayRunLong(req); });
  if (!o.upstream.empty()) {
    UpstreamOptions u;
    u.url = o.upstream;
    u.max_connections = o.upstream_max_connections;
    u.timeout_seconds = o.upstream_timeout_seconds;
    u.write_timeout_ms = t.write_timeout_ms;
    u.on_head = [rep](const HttpRequest& req, int status) { rep->UpstreamAnswered(req, status); };
    auto proxy = UpstreamProxy::Create(
        u, [rep](const HttpRequest& req, const ForwardResult& r) { rep->Forwarded(req, r); });
    if (!proxy.ok()) return proxy.status();
    rep->proxy = *std::move(proxy);
    Forwarding f;
    f.proxy = rep->proxy.get();
    f.wants = [](std::string_view method, std::string_view path) {
      return !Rep::AnsweredHere(method, path);
    };
    f.max_body_bytes = o.upstream_max_body_bytes;
    f.body_timeout_ms = o.upstream_timeout_seconds * 1000;
    rep->transport->SetForwarding(std::move(f));
  }
  if (absl::Status status = rep->transport->Start(); !status.ok()) return status;
  port_ = rep->transport->port();
  rep->Log(LogLevel::kInfo,
           absl::StrFormat("{\"level\":\"info\",\"msg\":\"listening\",\"host\":%s,\"port\":%d,"
                           "\"threads\":%d,\"auth\":%s}",
                           JsonString(o.host), port_, t.workers,
                           o.auth_string.has_value() ? "true" : "false"));
  if (o.auth_string.has_value() && o.auth_string->empty()) {
    rep->Log(LogLevel::kWarning,
             "{\"level\":\"warning\",\"msg\":\"the auth string is empty: basic auth is on, "
             "and only credentials that decode to an empty string pass (as in Prefect)\"}");
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (rep_->transport != nullptr) rep_->transport->Stop();
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
