// bench/sqlite_compare.cc: see sqlite_compare.h.

#include "bench/sqlite_compare.h"

#include "bench/bench_runner.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// ---------------------------------------------------------------------------
// like_: PostgreSQL ILIKE, C locale (paginate.md 4.2).

// Decodes one code point at s[*i] (an invalid byte is its own code point).
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto b = static_cast<unsigned char>(s[*i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (*i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? b : (b & (0x7F >> len));
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[*i + k]);
    if ((c & 0xC0) != 0x80) {
      len = 1;
      cp = b;
      break;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += len;
  return cp;
}

uint32_t FoldAscii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

struct LikeToken {
  enum Kind : uint8_t { kLiteral, kAny, kOne } kind;
  uint32_t cp = 0;
};

}  // namespace

bool PgContainsILike(std::string_view text, std::string_view s) {
  const std::string pattern = absl::StrCat("%", std::string(s), "%");
  std::vector<LikeToken> tokens;
  for (size_t i = 0; i < pattern.size();) {
    uint32_t c = NextCodePoint(pattern, &i);
    if (c == '\\' && i < pattern.size()) {
      tokens.push_back({LikeToken::kLiteral, FoldAscii(NextCodePoint(pattern, &i))});
    } else if (c == '%') {
      tokens.push_back({LikeToken::kAny, 0});
    } else if (c == '_') {
      tokens.push_back({LikeToken::kOne, 0});
    } else {
      tokens.push_back({LikeToken::kLiteral, FoldAscii(c)});
    }
  }
  std::vector<uint32_t> chars;
  for (size_t i = 0; i < text.size();) chars.push_back(FoldAscii(NextCodePoint(text, &i)));
  // Classic wildcard matching with one backtrack point (exact for `%`/`_`).
  size_t t = 0, p = 0, star_p = SIZE_MAX, star_t = 0;
  while (t < chars.size()) {
    if (p < tokens.size() && tokens[p].kind == LikeToken::kAny) {
      star_p = p++;
      star_t = t;
    } else if (p < tokens.size() &&
               (tokens[p].kind == LikeToken::kOne ||
                (tokens[p].kind == LikeToken::kLiteral && tokens[p].cp == chars[t]))) {
      ++p;
      ++t;
    } else if (star_p != SIZE_MAX) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < tokens.size() && tokens[p].kind == LikeToken::kAny) ++p;
  return p == tokens.size();
}

namespace {


// ---------------------------------------------------------------------------
// Translation.


class SqlBuilder {
 public:
  SqlBuilder(std::vector<SqliteQuery::Param>* params, SqlFlavor flavor)
      : params_(params), flavor_(flavor) {}

  std::string Text(std::string_view s) {
    SqliteQuery::Param p;
    p.s = std::string(s);
    params_->push_back(std::move(p));
    return "?";
  }
  std::string Int(int64_t v) {
    SqliteQuery::Param p;
    p.is_int = true;
    p.i = v;
    params_->push_back(std::move(p));
    return "?";
  }
  template <typename T, typename F>
  std::string In(std::string_view col, const std::vector<T>& values, F to_text) {
    if (values.empty()) return "0";  // SQLAlchemy's empty IN: always false.
    std::vector<std::string> qs;
    for (const T& v : values) qs.push_back(Text(to_text(v)));
    return absl::StrCat(std::string(col), " IN (", absl::StrJoin(qs, ", "), ")");
  }
  template <typename T, typename F>
  std::string NotIn(std::string_view col, const std::vector<T>& values, F to_text) {
    std::vector<std::string> qs;
    for (const T& v : values) qs.push_back(Text(to_text(v)));
    return absl::StrCat(std::string(col), " NOT IN (", absl::StrJoin(qs, ", "), ")");
  }

  // --- leaf groups, each appending criteria to `out` ---

  void Id(std::string_view col, const IdFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, UuidToString));
    if (f.not_any && !f.not_any->empty()) out->push_back(NotIn(col, *f.not_any, UuidToString));
  }
  void Name(std::string_view col, const NameFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, Str));
    if (f.like && !f.like->empty()) out->push_back(Like(col, *f.like));
  }
  // kPrefect: SQLAlchemy's ILIKE on SQLite, `lower(x) LIKE lower(y)`, with
  // Prefect's unescaped '%' + s + '%'.
  std::string Like(std::string_view col, const std::string& s) {
    if (flavor_ == SqlFlavor::kPrefect) {
      return absl::StrCat("lower(", std::string(col), ") LIKE lower(",
                          Text(absl::StrCat("%", s, "%")), ")");
    }
    return absl::StrCat("pg_ilike(", std::string(col), ", ", Text(s), ")");
  }
  void Tags(std::string_view col, const TagsFilter& f, std::vector<std::string>* out) {
    if (f.all && !f.all->empty() && flavor_ == SqlFlavor::kPrefect) {
      // Prefect's json_has_all_keys on SQLite (_json_contains_sqlite_fn).
      const std::string list = TagsJson(*f.all);
      const std::string left = Text(list);
      const std::string right = Text(list);
      out->push_back(absl::StrCat(
          "(SELECT count(DISTINCT \"left\".value) FROM json_each(", std::string(col),
          ") AS \"left\" JOIN json_each(", left,
          ") AS \"right\" ON \"left\".value = \"right\".value) >= "
          "(SELECT count(DISTINCT \"right\".value) FROM json_each(",
          right, ") AS \"right\")"));
    } else if (f.all && !f.all->empty()) {
      std::vector<std::string> each;
      for (const std::string& tag : *f.all) {
        each.push_back(absl::StrCat("EXISTS (SELECT 1 FROM json_each(", std::string(col),
                                    ") WHERE value = ", Text(tag), ")"));
      }
      out->push_back(absl::StrCat("(", absl::StrJoin(each, " AND "), ")"));
    }
    if (f.any) {
      if (f.any->empty()) {
        out->push_back("0");
      } else {
        out->push_back(absl::StrCat("EXISTS (SELECT 1 FROM json_each(", std::string(col),
                                    ") WHERE ", In("value", *f.any, Str), ")"));
      }
    }
    if (f.is_null) {
      out->push_back(absl::StrCat(std::string(col), *f.is_null ? " = '[]'" : " <> '[]'"));
    }
  }
  void Time(std::string_view cmp_col, std::string_view null_col, const TimeFilter& f,
            std::vector<std::string>* out) {
    if (f.before) out->push_back(absl::StrCat(std::string(cmp_col), " <= ", Int(*f.before)));
    if (f.after) out->push_back(absl::StrCat(std::string(cmp_col), " >= ", Int(*f.after)));
    if (f.is_null) out->push_back(IsNull(null_col, *f.is_null));
  }
  static std::string IsNull(std::string_view col, bool is_null) {
    return absl::StrCat(std::string(col), is_null ? " IS NULL" : " IS NOT NULL");
  }
  void Strings(std::string_view col, const StringsFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, Str));
    if (f.not_any && !f.not_any->empty()) out->push_back(NotIn(col, *f.not_any, Str));
    if (f.is_null) out->push_back(IsNull(col, *f.is_null));
  }
  void UuidRef(std::string_view col, const UuidRefFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, UuidToString));
    if (f.is_null) out->push_back(IsNull(col, *f.is_null));
  }
  // TaskRunFilterState / FlowRunFilterState: a child counts only when it
  // yields exactly one criterion (paginate.md 4.1).
  std::string State(std::string_view type_col, std::string_view name_col, const StateFilter& f) {
    std::vector<std::string> criteria;
    if (f.type) {
      std::vector<std::string> child;
      if (f.type->any) child.push_back(In(type_col, *f.type->any, StateLabel));
      if (f.type->not_any && !f.type->not_any->empty()) {
        child.push_back(NotIn(type_col, *f.type->not_any, StateLabel));
      }
      KeepSingle(&child, &criteria);
    }
    if (f.name) {
      std::vector<std::string> child;
      Strings(name_col, *f.name, &child);
      KeepSingle(&child, &criteria);
    }
    return Combine(f.op, criteria);
  }
  // Drops the parameters of a skipped child too.
  void KeepSingle(std::vector<std::string>* child, std::vector<std::string>* criteria) {
    if (child->size() == 1) {
      criteria->push_back((*child)[0]);
    } else if (child->size() > 1) {
      // The placeholders were appended in order; remove this child's.
      size_t n = 0;
      for (const std::string& c : *child) n += CountPlaceholders(c);
      params_->resize(params_->size() - n);
    }
  }

  static std::string Combine(BoolOp op, const std::vector<std::string>& criteria) {
    if (criteria.empty()) return "1";
    if (criteria.size() == 1) return criteria[0];
    std::vector<std::string> wrapped;
    for (const std::string& c : criteria) wrapped.push_back(absl::StrCat("(", c, ")"));
    return absl::StrCat("(", absl::StrJoin(wrapped, op == BoolOp::kOr ? " OR " : " AND "), ")");
  }

  static std::string Str(const std::string& s) { return s; }
  static std::string StateLabel(StateType t) { return std::string(StateTypeName(t)); }

 private:
  static size_t CountPlaceholders(std::string_view sql) {
    size_t n = 0;
    for (char c : sql) n += c == '?';  // no literal '?' is ever inlined
    return n;
  }
  std::vector<SqliteQuery::Param>* params_;
  SqlFlavor flavor_;
};

std::string TaskRunPredicate(SqlBuilder& b, const TaskRunFilter& f) {
  std::vector<std::string> c;
  if (f.id) {
    std::vector<std::string> s;
    b.Id("t.id", *f.id, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.name) {
    std::vector<std::string> s;
    b.Name("t.name", *f.name, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.tags) {
    std::vector<std::string> s;
    b.Tags("t.tags", *f.tags, &s);
    c.push_back(SqlBuilder::Combine(f.tags->op, s));
  }
  if (f.state) c.push_back(b.State("t.state_type", "t.state_name", *f.state));
  const std::pair<const std::optional<TimeFilter>*, const char*> times[] = {
      {&f.start_time, "t.start_time"},
      {&f.end_time, "t.end_time"},
      {&f.expected_start_time, "t.expected_start_time"}};
  for (const auto& [tf, col] : times) {
    if (!*tf) continue;
    std::vector<std::string> s;
    b.Time(col, col, **tf, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.subflow_runs) {
    if (f.subflow_runs->exists) {
      c.push_back(absl::StrCat(*f.subflow_runs->exists ? "" : "NOT ",
                               "EXISTS (SELECT 1 FROM flow_run fr2 "
                               "WHERE fr2.parent_task_run_id = t.id)"));
    } else {
      c.push_back("1");
    }
  }
  if (f.flow_run_id) {
    const UuidRefFilter& r = *f.flow_run_id;
    if (r.is_null && *r.is_null) {
      c.push_back("t.flow_run_id IS NULL");
    } else if (r.is_null && !*r.is_null && !r.any) {
      c.push_back("t.flow_run_id IS NOT NULL");
    } else if (r.any) {
      c.push_back(b.In("t.flow_run_id", *r.any, UuidToString));
    } else {
      c.push_back("1");
    }
  }
  return SqlBuilder::Combine(f.op, c);
}

std::string FlowRunPredicate(SqlBuilder& b, const FlowRunFilter& f) {
  std::vector<std::string> c;
  auto group = [&](BoolOp op, auto fill) {
    std::vector<std::string> s;
    fill(&s);
    c.push_back(SqlBuilder::Combine(op, s));
  };
  if (f.id) group(BoolOp::kAnd, [&](auto* s) { b.Id("fr.id", *f.id, s); });
  if (f.name) group(BoolOp::kAnd, [&](auto* s) { b.Name("fr.name", *f.name, s); });
  if (f.tags) group(f.tags->op, [&](auto* s) { b.Tags("fr.tags", *f.tags, s); });
  if (f.deployment_id) {
    group(f.deployment_id->op, [&](auto* s) { b.UuidRef("fr.deployment_id", *f.deployment_id, s); });
  }
  if (f.work_queue_name) {
    group(f.work_queue_name->op,
          [&](auto* s) { b.Strings("fr.work_queue_name", *f.work_queue_name, s); });
  }
  if (f.flow_version) {
    group(BoolOp::kAnd, [&](auto* s) { b.Strings("fr.flow_version", *f.flow_version, s); });
  }
  if (f.state) c.push_back(b.State("fr.state_type", "fr.state_name", *f.state));
  if (f.start_time) {
    group(BoolOp::kAnd, [&](auto* s) {
      b.Time("COALESCE(fr.start_time, fr.expected_start_time)", "fr.start_time", *f.start_time, s);
    });
  }
  const std::pair<const std::optional<TimeFilter>*, const char*> times[] = {
      {&f.end_time, "fr.end_time"},
      {&f.expected_start_time, "fr.expected_start_time"},
      {&f.next_scheduled_start_time, "fr.next_scheduled_start_time"}};
  for (const auto& [tf, col] : times) {
    if (*tf) group(BoolOp::kAnd, [&](auto* s) { b.Time(col, col, **tf, s); });
  }
  if (f.parent_flow_run_id) {
    group(f.parent_flow_run_id->op, [&](auto* s) {
      if (!f.parent_flow_run_id->any) return;
      if (f.parent_flow_run_id->any->empty()) {
        s->push_back("0");
        return;
      }
      s->push_back(absl::StrCat(
          "fr.id IN (SELECT fr3.id FROM flow_run fr3 JOIN task_run t3 ON t3.id = "
          "fr3.parent_task_run_id WHERE ",
          b.In("t3.flow_run_id", *f.parent_flow_run_id->any, UuidToString), ")"));
    });
  }
  if (f.parent_task_run_id) {
    group(f.parent_task_run_id->op,
          [&](auto* s) { b.UuidRef("fr.parent_task_run_id", *f.parent_task_run_id, s); });
  }
  if (f.idempotency_key) {
    group(BoolOp::kAnd, [&](auto* s) { b.Strings("fr.idempotency_key", *f.idempotency_key, s); });
  }
  if (f.created_by) {
    const CreatedByFilter& cb = *f.created_by;
    group(cb.op, [&](auto* s) {
      if (cb.id) s->push_back(b.In("json_extract(fr.created_by, '$.id')", *cb.id, UuidToString));
      if (cb.type) {
        s->push_back(b.In("json_extract(fr.created_by, '$.type')", *cb.type, SqlBuilder::Str));
      }
      if (cb.is_null) s->push_back(SqlBuilder::IsNull("fr.created_by", *cb.is_null));
    });
  }
  return SqlBuilder::Combine(f.op, c);
}

std::string FlowPredicate(SqlBuilder& b, const FlowFilter& f) {
  std::vector<std::string> c;
  if (f.id) {
    std::vector<std::string> s;
    b.Id("f.id", *f.id, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.deployment) {
    std::vector<std::string> s;
    if (f.deployment->is_null) {
      s.push_back(absl::StrCat(*f.deployment->is_null ? "NOT " : "",
                               "EXISTS (SELECT 1 FROM deployment d2 WHERE d2.flow_id = f.id)"));
    }
    c.push_back(SqlBuilder::Combine(f.deployment->op, s));
  }
  if (f.name) {
    std::vector<std::string> s;
    b.Name("f.name", *f.name, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.tags) {
    std::vector<std::string> s;
    b.Tags("f.tags", *f.tags, &s);
    c.push_back(SqlBuilder::Combine(f.tags->op, s));
  }
  return SqlBuilder::Combine(f.op, c);
}

std::string DeploymentPredicate(SqlBuilder& b, const DeploymentFilter& f) {
  std::vector<std::string> c;
  if (f.id) {
    std::vector<std::string> s;
    b.Id("d.id", *f.id, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.name) {
    std::vector<std::string> s;
    b.Name("d.name", *f.name, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.flow_or_deployment_name) {
    std::vector<std::string> s;
    const auto& like = f.flow_or_deployment_name->like;
    if (like && !like->empty()) {
      const std::string d_like = b.Like("d.name", *like);
      const std::string f_like = b.Like("f2.name", *like);
      s.push_back(absl::StrCat("(", d_like, " OR EXISTS (SELECT 1 FROM flow f2 WHERE f2.id = ",
                               "d.flow_id AND ", f_like, "))"));
    }
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.paused) {
    std::vector<std::string> s;
    if (f.paused->eq) s.push_back(absl::StrCat("d.paused = ", b.Int(*f.paused->eq ? 1 : 0)));
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  if (f.tags) {
    std::vector<std::string> s;
    b.Tags("d.tags", *f.tags, &s);
    c.push_back(SqlBuilder::Combine(f.tags->op, s));
  }
  if (f.work_queue_name) {
    std::vector<std::string> s;
    b.Strings("d.work_queue_name", *f.work_queue_name, &s);
    c.push_back(SqlBuilder::Combine(BoolOp::kAnd, s));
  }
  return SqlBuilder::Combine(f.op, c);
}

// Prefect's TaskRunSort.as_sql_sort: one term, no tie-break.
std::string PrefectOrderBy(TaskRunSort sort) {
  switch (sort) {
    case TaskRunSort::kIdDesc:
      return "t.id DESC";
    case TaskRunSort::kExpectedStartTimeAsc:
      return "t.expected_start_time ASC";
    case TaskRunSort::kExpectedStartTimeDesc:
      return "t.expected_start_time DESC";
    case TaskRunSort::kNameAsc:
      return "t.name ASC";
    case TaskRunSort::kNameDesc:
      return "t.name DESC";
    case TaskRunSort::kNextScheduledStartTimeAsc:
      return "t.next_scheduled_start_time ASC";
    case TaskRunSort::kEndTimeDesc:
      return "t.end_time DESC";
  }
  return "t.id DESC";
}

// FlowRunFilter.only_filters_on_id() with a non-empty id.any_: Prefect's
// fast path in _apply_task_run_filters.
bool OnlyFlowRunIdAny(const FlowRunFilter& f) {
  return f.id && f.id->any && !f.id->any->empty() &&
         !(f.id->not_any && !f.id->not_any->empty()) && !f.name && !f.tags &&
         !f.deployment_id && !f.work_queue_name && !f.flow_version && !f.state &&
         !f.start_time && !f.end_time && !f.expected_start_time &&
         !f.next_scheduled_start_time && !f.parent_flow_run_id && !f.parent_task_run_id &&
         !f.idempotency_key && !f.created_by;
}

// The exact order (paginate.md 6.2): PostgreSQL NULL placement, id DESC.
std::string OrderBy(TaskRunSort sort) {
  switch (sort) {
    case TaskRunSort::kIdDesc:
      return "t.id DESC";
    case TaskRunSort::kExpectedStartTimeAsc:
      return "t.expected_start_time IS NULL, t.expected_start_time, t.id DESC";
    case TaskRunSort::kExpectedStartTimeDesc:
      return "t.expected_start_time IS NOT NULL, t.expected_start_time DESC, t.id DESC";
    case TaskRunSort::kNameAsc:
      return "t.name, t.id DESC";
    case TaskRunSort::kNameDesc:
      return "t.name DESC, t.id DESC";
    case TaskRunSort::kNextScheduledStartTimeAsc:
      return "t.next_scheduled_start_time IS NULL, t.next_scheduled_start_time, t.id DESC";
    case TaskRunSort::kEndTimeDesc:
      return "t.end_time IS NOT NULL, t.end_time DESC, t.id DESC";
  }
  return "t.id DESC";
}

}  // namespace

SqliteQuery TranslateQuery(const PaginateQuery& query, SqlFlavor flavor) {
  SqliteQuery q;
  SqlBuilder b(&q.params, flavor);
  const FilterSet& fs = query.filters;
  const bool prefect = flavor == SqlFlavor::kPrefect;
  std::vector<std::string> where;
  if (fs.task_runs) where.push_back(TaskRunPredicate(b, *fs.task_runs));
  if (prefect && fs.flow_runs && !fs.flows && !fs.deployments &&
      OnlyFlowRunIdAny(*fs.flow_runs)) {
    where.push_back(b.In("t.flow_run_id", *fs.flow_runs->id->any, UuidToString));
  } else if (fs.flows || fs.flow_runs || fs.deployments) {
    std::string from = "flow_run fr";
    if (fs.flows) absl::StrAppend(&from, " JOIN flow f ON f.id = fr.flow_id");
    if (fs.deployments) absl::StrAppend(&from, " JOIN deployment d ON d.id = fr.deployment_id");
    std::vector<std::string> inner = {"fr.id = t.flow_run_id"};
    if (fs.flow_runs) inner.push_back(FlowRunPredicate(b, *fs.flow_runs));
    if (fs.flows) inner.push_back(FlowPredicate(b, *fs.flows));
    if (fs.deployments) inner.push_back(DeploymentPredicate(b, *fs.deployments));
    where.push_back(
        absl::StrCat("EXISTS (SELECT 1 FROM ", from, " WHERE ", absl::StrJoin(inner, " AND "), ")"));
  }
  const std::string where_sql =
      where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND "));
  q.count_sql = absl::StrCat("SELECT count(*) FROM task_run t", where_sql);
  q.page_sql = prefect ? absl::StrCat("SELECT t.* FROM task_run t", where_sql, " ORDER BY ",
                                       PrefectOrderBy(query.sort), " LIMIT ? OFFSET ?")
                       : absl::StrCat("SELECT t.id FROM task_run t", where_sql, " ORDER BY ",
                                      OrderBy(query.sort), " LIMIT ? OFFSET ?");
  q.limit = query.limit;
  q.offset = query.offset > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? std::numeric_limits<int64_t>::max()
                 : static_cast<int64_t>(query.offset);
  return q;
}

std::string TagsJson(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ", ";
    out += JsonQuote(tags[i]);  // bench/bench_runner.h
  }
  out += "]";
  return out;
}

}  // namespace taskdex
