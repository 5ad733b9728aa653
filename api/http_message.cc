#include "api/http_message.h"

#include <algorithm>

namespace taskdex {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

const std::string* Find(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (HeaderNameEquals(k, name)) return &v;
  }
  return nullptr;
}

}  // namespace

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool HttpRequest::has_header(std::string_view name) const { return Find(headers, name) != nullptr; }

std::string HttpRequest::get_header_value(std::string_view name) const {
  const std::string* v = Find(headers, name);
  return v != nullptr ? *v : std::string();
}

bool HttpResponse::has_header(std::string_view name) const {
  return Find(headers, name) != nullptr;
}

std::string HttpResponse::get_header_value(std::string_view name) const {
  const std::string* v = Find(headers, name);
  return v != nullptr ? *v : std::string();
}

void HttpResponse::erase_header(std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) { return HeaderNameEquals(h.first, name); }),
                headers.end());
}

void HttpResponse::set_header(std::string_view name, std::string value) {
  erase_header(name);
  headers.emplace_back(std::string(name), std::move(value));
}

void HttpResponse::set_content(std::string content, std::string_view content_type) {
  body = std::move(content);
  set_header("Content-Type", std::string(content_type));
}

}  // namespace taskdex
