// engine/db_position.cc
//
// DbPosition as JSON (engine/db_follower.h), the form a checkpoint's
// manifest keeps it in.

#include <simdjson.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/db_follower.h"
#include "engine/mutation.h"

namespace taskdex {

std::string DbPositionJson(const DbPosition& p) {
  std::string out = "{\"kind\":\"database\",\"watermark_us\":{";
  for (int e = 0; e < 4; ++e) {
    absl::StrAppend(&out, e == 0 ? "" : ",", "\"",
                    std::string(EntityKindName(static_cast<EntityKind>(e))), "\":",
                    p.watermark[e] ? absl::StrCat(*p.watermark[e]) : std::string("null"));
  }
  out += "}}";
  return out;
}

absl::StatusOr<DbPosition> ParseDbPosition(std::string_view json) {
  simdjson::padded_string text(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  if (parser.iterate(text).get(doc) || doc.get_object().get(root)) {
    return absl::InvalidArgumentError("source: not a JSON object");
  }
  std::string_view kind;
  if (root["kind"].get_string().get(kind) || kind != "database") {
    return absl::InvalidArgumentError("source.kind: not \"database\"");
  }
  simdjson::ondemand::object marks;
  if (root["watermark_us"].get_object().get(marks)) {
    return absl::InvalidArgumentError("source.watermark_us: not an object");
  }
  DbPosition p;
  for (int e = 0; e < 4; ++e) {
    const std::string name(EntityKindName(static_cast<EntityKind>(e)));
    auto field = marks.find_field_unordered(name);
    bool is_null = false;
    if (field.error() == simdjson::NO_SUCH_FIELD || (!field.is_null().get(is_null) && is_null)) {
      continue;
    }
    int64_t v = 0;
    if (field.get_int64().get(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("source.watermark_us.", name, ": not an integer or null"));
    }
    p.watermark[e] = v;
  }
  return p;
}

}  // namespace taskdex
