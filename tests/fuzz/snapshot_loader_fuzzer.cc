// tests/fuzz/snapshot_loader_fuzzer.cc
//
// libFuzzer target for the snapshot loader (entities.md 4): any bytes must
// load or fail with a Status, never crash, leak or hang.
//
//  1. The whole input goes to the four one-line parsers (ParseTaskRunLine
//     and its siblings).
//  2. The input is cut at its first three 0x1E bytes (ASCII record
//     separator, which no snapshot line needs) into up to four parts,
//     written as task_runs, flow_runs, deployments and flows .ndjson of a
//     fresh temp directory; parts not present leave their (optional) file
//     absent, so an input without 0x1E is a snapshot of task runs alone.
//     Engine::Open loads it strictly (one thread, one block per file) and
//     with skip_bad_lines (two threads, blocks of 32-543 bytes, so lines
//     straddle blocks), and the directory is removed.
//
// Checked besides "no crash": a strict failure is InvalidArgument naming
// "<file>:<line>:"; a strict success loads with skip_bad_lines too, with the
// same task runs and nothing skipped; a skip-bad-lines load always succeeds,
// skipping something when the strict load failed; and every loaded engine
// answers an empty /paginate body, /filter's full shape of every row and
// GET by id of the first row with well-formed JSON (TASKDEX_FUZZ_VERBOSE=1
// prints what each input loaded).
//
// Normal builds link replay_main.cc instead of libFuzzer so the corpus runs
// under ctest (tests/fuzz/CMakeLists.txt).

#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/version_writer.h"
#include "api/taskdex.h"
#include "engine/snapshot_loader.h"

namespace {

namespace fs = std::filesystem;

// Larger inputs teach the fuzzer nothing new and only slow it down.
constexpr size_t kMaxInputSize = 64 * 1024;
constexpr char kSeparator = '\x1e';
constexpr const char* kFiles[] = {"task_runs.ndjson", "flow_runs.ndjson", "deployments.ndjson",
                                  "flows.ndjson"};
// A fixed clock, so a replay is deterministic.
constexpr taskdex::Micros kNow = 1714564800LL * 1000000;  // 2024-05-01T12:00:00Z

// Aborts naming the failed condition, so a crash report says which.
#define Check(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                              \
    }                                                                            \
  } while (false)

// Output must be JSON (RFC 8259) in UTF-8. The loader keeps the number text
// of labels, state.data, parameters, context and extras verbatim
// (entities.md 2.1), so numbers beyond a double and lone surrogate escapes
// are legal there: the request parser (api/json_value.h), which rejects
// them as Prefect's would, cannot judge the output. This is the grammar
// alone, recursive descent with a depth bound.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}
  bool Document() {
    Ws();
    if (!Value(0)) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  bool Value(int depth) {
    if (depth > 4096 || i_ >= s_.size()) return false;  // simdjson stops at 1024
    switch (s_[i_]) {
      case '{': return Object(depth);
      case '[': return Array(depth);
      case '"': return String();
      case 't': return Word("true");
      case 'f': return Word("false");
      case 'n': return Word("null");
      default: return Number();
    }
  }
  bool Object(int depth) {
    ++i_;
    Ws();
    if (Eat('}')) return true;
    while (true) {
      Ws();
      if (i_ >= s_.size() || s_[i_] != '"' || !String()) return false;
      Ws();
      if (!Eat(':')) return false;
      Ws();
      if (!Value(depth + 1)) return false;
      Ws();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }
  bool Array(int depth) {
    ++i_;
    Ws();
    if (Eat(']')) return true;
    while (true) {
      Ws();
      if (!Value(depth + 1)) return false;
      Ws();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }
  bool String() {
    ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k, ++i_) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      if (!Utf8Sequence()) return false;
    }
    return false;
  }
  // One multi-byte UTF-8 sequence (no overlongs, surrogates or > U+10FFFF).
  bool Utf8Sequence() {
    const auto b0 = static_cast<unsigned char>(s_[i_]);
    int n = 0;
    uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 2, cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 3, cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i_ + n >= s_.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s_[i_ + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i_ += n + 1;
    return true;
  }
  bool Number() {
    Eat('-');
    if (!Eat('0') && !Digits()) return false;
    if (Eat('.') && !Digits()) return false;
    if (Eat('e') || Eat('E')) {
      if (!Eat('+')) Eat('-');
      if (!Digits()) return false;
    }
    return true;
  }
  bool Digits() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

void CheckJson(std::string_view text) { Check(JsonChecker(text).Document()); }

// A scratch directory under $TMPDIR (or /tmp), removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/taskdex_loader_fuzz_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    Check(mkdtemp(buf.data()) != nullptr);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  Check(out.good());
}

bool StartsWithFileName(const std::string& message) {
  for (const char* f : kFiles) {
    if (message.rfind(std::string(f) + ":", 0) == 0) return true;
  }
  return false;
}

// Every task run's id, in ID_DESC order.
std::vector<taskdex::Uuid> AllIds(const taskdex::Engine& engine) {
  return engine.Filter(taskdex::FilterSet{}, taskdex::TaskRunSort::kIdDesc, 0, INT64_MAX).Ids();
}

void ExerciseEngine(const taskdex::Engine& engine) {
  taskdex::Response r = engine.PaginateJson("{}", kNow);
  Check(r.status == 200);
  CheckJson(r.body);
  const taskdex::TaskRunPage all =
      engine.Filter(taskdex::FilterSet{}, taskdex::TaskRunSort::kIdDesc, 0, INT64_MAX);
  Check(all.rows.size() == all.count);
  Check(all.count == engine.load_report().task_runs);
  std::string full;
  taskdex::AppendTaskRunFullArray(*all.version, all.rows, kNow, &full);
  CheckJson(full);
  const std::vector<taskdex::Uuid> ids = all.Ids();
  if (!ids.empty()) {
    // Another sort over the same rows, and one row by id.
    Check(engine.Filter(taskdex::FilterSet{}, taskdex::TaskRunSort::kNameAsc, 0, INT64_MAX)
              .rows.size() == ids.size());
    std::string text;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
      text.push_back(kHex[ids.front().bytes[i] >> 4]);
      text.push_back(kHex[ids.front().bytes[i] & 0xF]);
    }
    absl::StatusOr<std::string> one = engine.TaskRunJson(text, kNow);
    Check(one.ok());
    CheckJson(*one);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputSize) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. One line, each entity.
  (void)taskdex::ParseTaskRunLine(input);
  (void)taskdex::ParseFlowRunLine(input);
  (void)taskdex::ParseDeploymentLine(input);
  (void)taskdex::ParseFlowLine(input);

  // 2. The input as a snapshot directory.
  std::vector<std::string_view> parts;
  std::string_view rest = input;
  while (parts.size() < 3) {
    const size_t cut = rest.find(kSeparator);
    if (cut == std::string_view::npos) break;
    parts.push_back(rest.substr(0, cut));
    rest.remove_prefix(cut + 1);
  }
  parts.push_back(rest);  // the last part keeps any further separators

  TempDir dir;
  for (size_t i = 0; i < parts.size(); ++i) WriteFile(dir.path() / kFiles[i], parts[i]);

  // One block per file for the strict load (the default 4 MiB block is
  // what a fuzzer input pays for most under ASan); for the lenient one,
  // blocks of 32-543 bytes, so lines straddle block boundaries, parsed by a
  // worker thread as well as this one.
  taskdex::LoadOptions strict;
  strict.threads = 1;
  strict.block_bytes = kMaxInputSize;
  absl::StatusOr<std::unique_ptr<taskdex::Engine>> a = taskdex::Engine::Open(dir.path(), strict);
  // TASKDEX_FUZZ_VERBOSE=1: one line per input, to see what a seed covers.
  static const bool verbose = std::getenv("TASKDEX_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%zu files; strict: %s\n", parts.size(),
                 a.ok() ? "ok" : std::string(a.status().message()).c_str());
  }
  if (!a.ok()) {
    Check(a.status().code() == absl::StatusCode::kInvalidArgument);
    Check(StartsWithFileName(std::string(a.status().message())));
  } else {
    Check((*a)->load_report().skipped_lines == 0);
    ExerciseEngine(**a);
  }

  taskdex::LoadOptions lenient;
  lenient.skip_bad_lines = true;
  lenient.threads = 2;
  lenient.block_bytes = 32 + size % 512;
  absl::StatusOr<std::unique_ptr<taskdex::Engine>> b = taskdex::Engine::Open(dir.path(), lenient);
  Check(b.ok());
  const taskdex::LoadReport& rb = (*b)->load_report();
  if (a.ok()) {
    const taskdex::LoadReport& ra = (*a)->load_report();
    Check(rb.skipped_lines == 0);
    Check(rb.task_runs == ra.task_runs && rb.flow_runs == ra.flow_runs &&
          rb.deployments == ra.deployments && rb.flows == ra.flows);
    Check(AllIds(**a) == AllIds(**b));
  } else {
    Check(rb.skipped_lines > 0);
  }
  if (verbose) {
    std::fprintf(stderr, "  skip_bad_lines: %llu task runs, %llu skipped\n",
                 static_cast<unsigned long long>(rb.task_runs),
                 static_cast<unsigned long long>(rb.skipped_lines));
  }
  ExerciseEngine(**b);
  return 0;
}
