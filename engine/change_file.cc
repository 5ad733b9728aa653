// engine/change_file.cc
//
// A change line is parsed in two steps. simdjson's on-demand parser walks
// the top-level object once, checking each key and keeping the row as its
// raw JSON text (object::raw_json(), a view into the line); only when the
// whole line has been seen, so that `op` and `entity` are known whatever
// the key order, is the row handed to the entity's snapshot line parser,
// whose errors get the "row." prefix. The row is thus parsed by exactly the
// code that loads snapshots: one set of rules for both.
//
// Lines are copied into a reused buffer followed by simdjson's padding (the
// loader pads its blocks the same way); the row parsers make their own
// padded copy of the row.

#include "engine/change_file.h"

#include <simdjson.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/internal/json_util.h"
#include "engine/record_writer.h"
#include "engine/snapshot_loader.h"
#include "engine/uuid.h"
#include "index/status_macros.h"

namespace taskdex {
namespace {

namespace ondemand = simdjson::ondemand;
using engine_internal::DescribeJsonValue;
using engine_internal::JsonValue;
using engine_internal::ReadUuidValue;

absl::Status Invalid(std::string_view key, std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", key, reason));
}

absl::Status JsonError(std::string_view key, simdjson::error_code e) {
  return Invalid(key, absl::StrFormat("not valid JSON (%s)", simdjson::error_message(e)));
}

absl::Status TypeError(std::string_view key, std::string_view want, JsonValue& v) {
  return Invalid(key, absl::StrFormat("expected %s, got %s", want, DescribeJsonValue(v)));
}

// A row parser's "<key>: <reason>" as "row.<key>: <reason>" ("(line)", the
// row as a whole, becomes "row").
absl::Status RowError(const absl::Status& s) {
  std::string_view m(s.message().data(), s.message().size());
  if (m.starts_with("(line)")) {
    m.remove_prefix(std::string_view("(line)").size());
    return absl::Status(s.code(), absl::StrFormat("row%s", m));
  }
  return absl::Status(s.code(), absl::StrFormat("row.%s", m));
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

std::string_view StripLineEnd(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::optional<EntityKind> ParseEntityKind(std::string_view s) {
  for (EntityKind k :
       {EntityKind::kFlow, EntityKind::kDeployment, EntityKind::kFlowRun, EntityKind::kTaskRun}) {
    if (s == EntityKindName(k)) return k;
  }
  return std::nullopt;
}

// Reads a string value of the top-level object.
absl::Status ReadString(JsonValue& v, std::string_view key, std::string_view* out) {
  ondemand::json_type t;
  if (auto e = v.type().get(t); e) return JsonError(key, e);
  if (t != ondemand::json_type::string) return TypeError(key, "a string", v);
  if (auto e = v.get_string().get(*out); e) return JsonError(key, e);
  return absl::OkStatus();
}

template <typename Record>
absl::Status SetRow(absl::StatusOr<Record> parsed, Change* out) {
  if (!parsed.ok()) return RowError(parsed.status());
  out->id = parsed->id;
  out->row = *std::move(parsed);
  return absl::OkStatus();
}

absl::Status ParseRow(EntityKind entity, std::string_view row, Change* out) {
  switch (entity) {
    case EntityKind::kFlow:
      return SetRow(ParseFlowLine(row), out);
    case EntityKind::kDeployment:
      return SetRow(ParseDeploymentLine(row), out);
    case EntityKind::kFlowRun:
      return SetRow(ParseFlowRunLine(row), out);
    case EntityKind::kTaskRun:
      return SetRow(ParseTaskRunLine(row), out);
  }
  return absl::InternalError("unknown EntityKind");
}

// One simdjson parser and its padded line buffer, reused line after line.
class LineParser {
 public:
  absl::Status Parse(std::string_view line, Change* out) {
    line = StripLineEnd(line);
    buf_.assign(line);
    buf_.append(simdjson::SIMDJSON_PADDING, '\0');
    return ParsePadded(simdjson::padded_string_view(buf_.data(), line.size(), buf_.size()), out);
  }

 private:
  absl::Status ParsePadded(simdjson::padded_string_view line, Change* out) {
    *out = Change();
    ondemand::document doc;
    if (auto e = parser_.iterate(line).get(doc); e) return JsonError("(line)", e);
    ondemand::json_type t;
    if (auto e = doc.type().get(t); e) return JsonError("(line)", e);
    if (t != ondemand::json_type::object) return Invalid("(line)", "expected a JSON object");
    ondemand::object obj;
    if (auto e = doc.get_object().get(obj); e) return JsonError("(line)", e);

    std::optional<ChangeOp> op;
    std::optional<EntityKind> entity;
    std::optional<std::string_view> row;  // raw JSON, a view into `line`
    std::optional<Uuid> id;
    for (auto field_result : obj) {
      ondemand::field field;
      if (auto e = std::move(field_result).get(field); e) return JsonError("(line)", e);
      std::string_view key;
      if (auto e = field.unescaped_key().get(key); e) return JsonError("(line)", e);
      JsonValue& v = field.value();
      const bool seen = (key == "op" && op) || (key == "entity" && entity) ||
                        (key == "row" && row) || (key == "id" && id);
      if (seen) return Invalid(key, "repeated key");
      if (key == "op") {
        std::string_view s;
        TASKDEX_RETURN_IF_ERROR(ReadString(v, "op", &s));
        if (s == "upsert") {
          op = ChangeOp::kUpsert;
        } else if (s == "delete") {
          op = ChangeOp::kDelete;
        } else {
          return Invalid("op", absl::StrFormat("must be \"upsert\" or \"delete\", got \"%s\"", s));
        }
      } else if (key == "entity") {
        std::string_view s;
        TASKDEX_RETURN_IF_ERROR(ReadString(v, "entity", &s));
        entity = ParseEntityKind(s);
        if (!entity) {
          return Invalid("entity", absl::StrFormat("must be \"flow\", \"deployment\", "
                                                   "\"flow_run\" or \"task_run\", got \"%s\"",
                                                   s));
        }
      } else if (key == "row") {
        ondemand::json_type rt;
        if (auto e = v.type().get(rt); e) return JsonError("row", e);
        if (rt != ondemand::json_type::object) return TypeError("row", "an object", v);
        ondemand::object row_obj;
        if (auto e = v.get_object().get(row_obj); e) return JsonError("row", e);
        std::string_view raw;
        if (auto e = row_obj.raw_json().get(raw); e) return JsonError("row", e);
        row = raw;
      } else if (key == "id") {
        std::optional<Uuid> u;
        TASKDEX_RETURN_IF_ERROR(ReadUuidValue(v, "id", /*nullable=*/false, &u));
        id = u;
      } else {
        return Invalid(key, "unknown key (a change has op, entity, and row or id)");
      }
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
      return Invalid("(line)", "not valid JSON (content after the object)");
    }

    if (!op) return Invalid("op", "missing required key");
    if (!entity) return Invalid("entity", "missing required key");
    out->op = *op;
    out->entity = *entity;
    if (*op == ChangeOp::kDelete) {
      if (row) return Invalid("row", "not allowed with op \"delete\"");
      if (!id) return Invalid("id", "missing required key");
      out->id = *id;
      return absl::OkStatus();
    }
    if (id) return Invalid("id", "not allowed with op \"upsert\" (the row carries its id)");
    if (!row) return Invalid("row", "missing required key");
    return ParseRow(*entity, *row, out);
  }

  ondemand::parser parser_;
  std::string buf_;
};

// Reads lines from `next_line` (a callable taking std::string_view* and
// returning absl::StatusOr<bool>, false at the end) until `batch_lines`
// non-blank lines have been read (0: all). True if any were. `line_no`
// counts every line. After a bad line the rest of the batch is read but not
// parsed, and the error is returned with `batch` empty.
template <typename NextLine>
absl::StatusOr<bool> ReadBatch(LineParser& parser, NextLine&& next_line, size_t batch_lines,
                               uint64_t* line_no, Batch* batch) {
  batch->changes.clear();
  absl::Status error;
  size_t taken = 0;
  std::string_view line;
  while (batch_lines == 0 || taken < batch_lines) {
    absl::StatusOr<bool> got = next_line(&line);
    if (!got.ok()) return got.status();
    if (!*got) break;
    ++*line_no;
    if (IsBlank(line)) continue;
    ++taken;
    if (!error.ok()) continue;
    Change& change = batch->changes.emplace_back();
    absl::Status s = parser.Parse(line, &change);
    if (!s.ok()) {
      error = absl::Status(s.code(), absl::StrFormat("%d: %s", *line_no, s.message()));
      batch->changes.clear();
    }
  }
  if (!error.ok()) return error;
  return taken > 0;
}

}  // namespace

absl::StatusOr<Change> ParseChangeLine(std::string_view line) {
  LineParser parser;
  Change change;
  TASKDEX_RETURN_IF_ERROR(parser.Parse(line, &change));
  return change;
}

absl::StatusOr<std::vector<Batch>> ParseChangeFile(std::string_view text, size_t batch_lines) {
  LineParser parser;
  size_t pos = 0;
  auto next_line = [&](std::string_view* line) -> absl::StatusOr<bool> {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    *line = text.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    return true;
  };
  std::vector<Batch> batches;
  uint64_t line_no = 0;
  while (true) {
    Batch batch;
    TASKDEX_ASSIGN_OR_RETURN(bool more,
                             ReadBatch(parser, next_line, batch_lines, &line_no, &batch));
    if (!more) break;
    batches.push_back(std::move(batch));
  }
  return batches;
}

class ChangeFileReader::Impl {
 public:
  std::string path;
  std::ifstream in;
  std::string line;  // the current line, reused
  LineParser parser;
};

ChangeFileReader::ChangeFileReader(std::unique_ptr<Impl> impl, size_t batch_lines)
    : impl_(std::move(impl)), batch_lines_(batch_lines) {}

ChangeFileReader::~ChangeFileReader() = default;

absl::StatusOr<std::unique_ptr<ChangeFileReader>> ChangeFileReader::Open(const std::string& path,
                                                                         size_t batch_lines) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->in.open(path, std::ios::binary);
  if (!impl->in.is_open()) {
    return absl::NotFoundError(
        absl::StrFormat("%s: cannot read (%s)", path, std::strerror(errno)));
  }
  return std::unique_ptr<ChangeFileReader>(new ChangeFileReader(std::move(impl), batch_lines));
}

absl::StatusOr<bool> ChangeFileReader::Next(Batch* batch) {
  Impl& impl = *impl_;
  auto next_line = [&impl, this](std::string_view* line) -> absl::StatusOr<bool> {
    if (!std::getline(impl.in, impl.line)) {
      if (impl.in.bad()) {
        return absl::DataLossError(
            absl::StrFormat("%s:%d: read failed", impl.path, lines_read_ + 1));
      }
      return false;
    }
    *line = impl.line;
    return true;
  };
  absl::StatusOr<bool> more =
      ReadBatch(impl.parser, next_line, batch_lines_, &lines_read_, batch);
  if (!more.ok() || *more) ++batches_read_;
  return more;
}

std::string ChangeLine(const Change& change) {
  std::string out = "{\"op\":\"";
  out.append(change.op == ChangeOp::kUpsert ? "upsert" : "delete");
  out.append("\",\"entity\":\"");
  out.append(EntityKindName(change.entity));
  out.append("\",");
  if (change.op == ChangeOp::kDelete) {
    out.append("\"id\":\"");
    out.append(UuidToString(change.id));
    out.append("\"}");
    return out;
  }
  out.append("\"row\":");
  std::visit(
      [&out](const auto& row) {
        using T = std::decay_t<decltype(row)>;
        if constexpr (std::is_same_v<T, FlowRecord>) {
          AppendFlowLine(row, &out);
        } else if constexpr (std::is_same_v<T, DeploymentRecord>) {
          AppendDeploymentLine(row, &out);
        } else if constexpr (std::is_same_v<T, FlowRunRecord>) {
          AppendFlowRunLine(row, &out);
        } else if constexpr (std::is_same_v<T, TaskRunRecord>) {
          AppendTaskRunLine(row, &out);
        } else {
          out.append("null");  // REQUIRES violated: an upsert without a row
        }
      },
      change.row);
  out.push_back('}');
  return out;
}

}  // namespace taskdex
