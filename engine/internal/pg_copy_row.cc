// engine/internal/pg_copy_row.cc (engine/internal/pg_copy_row.h).

#include "engine/internal/pg_copy_row.h"

#include <cstring>

namespace taskdex::engine_internal {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Unescapes the field that starts at `p` into `buf`, up to the first TAB
// that no backslash escapes (or `end`); returns where it stopped.
const char* UnescapeField(const char* p, const char* end, std::string* buf) {
  while (p < end && *p != '\t') {
    const char* stop = p;
    while (stop < end && *stop != '\t' && *stop != '\\') ++stop;
    buf->append(p, static_cast<size_t>(stop - p));
    p = stop;
    if (p == end || *p == '\t') break;
    if (p + 1 == end) {  // a backslash that ends the row stands for itself
      buf->push_back('\\');
      return end;
    }
    char e = p[1];
    p += 2;
    switch (e) {
      case 't':
        buf->push_back('\t');
        break;
      case 'n':
        buf->push_back('\n');
        break;
      case 'r':
        buf->push_back('\r');
        break;
      case 'b':
        buf->push_back('\b');
        break;
      case 'f':
        buf->push_back('\f');
        break;
      case 'v':
        buf->push_back('\v');
        break;
      case 'x': {
        int v = 0, n = 0;
        while (n < 2 && p < end && HexDigit(*p) >= 0) {
          v = v * 16 + HexDigit(*p++);
          ++n;
        }
        // "\x" without digits is an x, as COPY FROM reads it.
        buf->push_back(n == 0 ? 'x' : static_cast<char>(v));
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', n = 1;
          while (n < 3 && p < end && *p >= '0' && *p <= '7') {
            v = v * 8 + (*p++ - '0');
            ++n;
          }
          buf->push_back(static_cast<char>(v));
        } else {
          buf->push_back(e);  // \\ and any other escaped character, TAB included
        }
    }
  }
  return p;
}

}  // namespace

void SplitCopyRow(std::string_view row, std::string* buf,
                  std::vector<std::optional<std::string_view>>* fields) {
  buf->clear();
  // Unescaped text is never longer than the row: no reallocation below, so
  // the views into `buf` stay valid.
  buf->reserve(row.size());
  fields->clear();
  const char* p = row.data();
  const char* const end = p + row.size();
  while (true) {
    const char* tab = static_cast<const char*>(std::memchr(p, '\t', static_cast<size_t>(end - p)));
    if (tab == nullptr) tab = end;
    const size_t n = static_cast<size_t>(tab - p);
    if (std::memchr(p, '\\', n) == nullptr) {
      fields->emplace_back(std::string_view(p, n));
    } else if (n == 2 && p[0] == '\\' && p[1] == 'N') {
      fields->emplace_back(std::nullopt);
    } else {
      const size_t at = buf->size();
      tab = UnescapeField(p, end, buf);
      fields->emplace_back(std::string_view(buf->data() + at, buf->size() - at));
    }
    if (tab == end) return;
    p = tab + 1;
  }
}

}  // namespace taskdex::engine_internal
