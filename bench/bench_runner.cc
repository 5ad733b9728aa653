// bench/bench_runner.cc: see bench_runner.h.

#include "bench/bench_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace taskdex {

std::optional<BenchBody> ParseBodyLine(std::string_view line, size_t line_number) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ' ||
                           line.back() == '\t')) {
    line.remove_suffix(1);
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  BenchBody out;
  out.name = absl::StrCat("line", line_number);
  out.body = std::string(line);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject() || doc.MemberCount() != 2) return out;
  auto name = doc.FindMember("name");
  auto body = doc.FindMember("body");
  if (name == doc.MemberEnd() || body == doc.MemberEnd()) return out;
  if (name->value.IsString()) {
    out.name.assign(name->value.GetString(), name->value.GetStringLength());
  } else {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    name->value.Accept(writer);
    out.name = buffer.GetString();
  }
  if (body->value.IsString()) {
    out.body.assign(body->value.GetString(), body->value.GetStringLength());
  } else {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    body->value.Accept(writer);
    out.body.assign(buffer.GetString(), buffer.GetSize());
  }
  return out;
}

std::vector<BenchBody> ParseBodiesFile(std::string_view text) {
  std::vector<BenchBody> out;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (auto body = ParseBodyLine(line, line_number)) out.push_back(std::move(*body));
  }
  return out;
}

double Percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(q * static_cast<double>(samples.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  if (index >= samples.size()) index = samples.size() - 1;
  return samples[index];
}

std::vector<double> TimeRepeated(const std::function<void()>& fn, int repeat,
                                 double max_seconds) {
  using Clock = std::chrono::steady_clock;
  fn();  // warm-up
  std::vector<double> out;
  double total_us = 0;
  for (int i = 0; i < std::max(repeat, 1); ++i) {
    const auto start = Clock::now();
    fn();
    const double us =
        std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    out.push_back(us);
    total_us += us;
    if (total_us >= max_seconds * 1e6) break;
  }
  return out;
}

std::vector<std::vector<double>> TimeInterleaved(const std::vector<std::function<void()>>& fns,
                                                 int rounds, double max_seconds) {
  using Clock = std::chrono::steady_clock;
  for (const auto& fn : fns) fn();  // warm-up round
  std::vector<std::vector<double>> out(fns.size());
  for (auto& samples : out) samples.reserve(static_cast<size_t>(std::max(rounds, 1)));
  double total_us = 0;
  for (int round = 0; round < std::max(rounds, 1); ++round) {
    for (size_t i = 0; i < fns.size(); ++i) {
      const auto start = Clock::now();
      fns[i]();
      const double us =
          std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      out[i].push_back(us);
      total_us += us;
    }
    if (total_us >= max_seconds * 1e6) break;
  }
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::optional<uint64_t> ResponseCount(std::string_view body) {
  // `count` follows `results` in the envelope, so the last `"count":` key
  // is the envelope's (a string containing it would be escaped).
  constexpr std::string_view kKey = "\"count\":";
  const size_t at = body.rfind(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + kKey.size();
  if (i >= body.size() || body[i] < '0' || body[i] > '9') return std::nullopt;
  uint64_t v = 0;
  for (; i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) v = v * 10 + (body[i] - '0');
  return v;
}

uint64_t ResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      unsigned long long kb = 0;
      if (std::sscanf(line.c_str() + 6, "%llu", &kb) == 1) return kb * 1024;
    }
  }
  return 0;
}

}  // namespace taskdex
