// bench/pg_compare.cc: see pg_compare.h.

#include "bench/pg_compare.h"

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/prefect_db.h"
#include "bench/sqlite_compare.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// Microseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
constexpr Micros kMinTime = -62135596800LL * 1000000;
constexpr Micros kMaxTime = 253402300799LL * 1000000 + 999999;

// A timestamptz literal; instants outside years 1..9999 (which Prefect
// cannot bind, paginate.md 2.2) become -infinity / infinity.
std::string PgTime(Micros t) {
  if (t < kMinTime) return "-infinity";
  if (t > kMaxTime) return "infinity";
  return absl::StrCat(SqliteDatetime(t), "+00");
}

class PgBuilder {
 public:
  explicit PgBuilder(std::vector<std::string>* params) : params_(params) {}

  // Binds `value`; returns "$n::type".
  std::string Bind(std::string value, std::string_view type) {
    params_->push_back(std::move(value));
    return absl::StrCat("$", params_->size(), "::", std::string(type));
  }
  size_t mark() const { return params_->size(); }
  void Rewind(size_t mark) { params_->resize(mark); }

  template <typename T, typename F>
  std::string In(std::string_view col, const std::vector<T>& values, std::string_view type,
                 F to_text, bool negate = false) {
    if (values.empty()) {
      // SQLAlchemy's empty IN on PostgreSQL (never used negated here).
      return absl::StrCat(std::string(col), " IN (SELECT CAST(NULL AS ", std::string(type),
                          ") WHERE 1!=1)");
    }
    std::vector<std::string> ps;
    for (const T& v : values) ps.push_back(Bind(to_text(v), type));
    return absl::StrCat(std::string(col), negate ? " NOT IN (" : " IN (", absl::StrJoin(ps, ", "),
                        ")");
  }

  void Id(std::string_view col, const IdFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, "UUID", UuidToString));
    if (f.not_any && !f.not_any->empty()) {
      out->push_back(In(col, *f.not_any, "UUID", UuidToString, true));
    }
  }
  void Name(std::string_view col, const NameFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, "VARCHAR", Str));
    if (f.like && !f.like->empty()) out->push_back(Like(col, *f.like));
  }
  std::string Like(std::string_view col, const std::string& s) {
    return absl::StrCat(std::string(col), " ILIKE ", Bind(absl::StrCat("%", s, "%"), "VARCHAR"));
  }
  void Tags(std::string_view col, const TagsFilter& f, std::vector<std::string>* out) {
    if (f.all && !f.all->empty()) {
      out->push_back(absl::StrCat(std::string(col), " @> ", Bind(TagsJson(*f.all), "JSONB")));
    }
    if (f.any) {
      if (f.any->empty()) {
        out->push_back(absl::StrCat(std::string(col), " ?| CAST(ARRAY[] AS VARCHAR[])"));
      } else {
        std::vector<std::string> ps;
        for (const std::string& tag : *f.any) ps.push_back(Bind(tag, "VARCHAR"));
        out->push_back(
            absl::StrCat(std::string(col), " ?| ARRAY[", absl::StrJoin(ps, ", "), "]"));
      }
    }
    if (f.is_null) {
      out->push_back(
          absl::StrCat(std::string(col), *f.is_null ? " = " : " != ", Bind("[]", "JSONB")));
    }
  }
  void Time(std::string_view cmp_col, std::string_view null_col, const TimeFilter& f,
            std::vector<std::string>* out) {
    if (f.before) {
      out->push_back(absl::StrCat(std::string(cmp_col), " <= ",
                                  Bind(PgTime(*f.before), "TIMESTAMP WITH TIME ZONE")));
    }
    if (f.after) {
      out->push_back(absl::StrCat(std::string(cmp_col), " >= ",
                                  Bind(PgTime(*f.after), "TIMESTAMP WITH TIME ZONE")));
    }
    if (f.is_null) out->push_back(IsNull(null_col, *f.is_null));
  }
  static std::string IsNull(std::string_view col, bool is_null) {
    return absl::StrCat(std::string(col), is_null ? " IS NULL" : " IS NOT NULL");
  }
  void Strings(std::string_view col, const StringsFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, "VARCHAR", Str));
    if (f.not_any && !f.not_any->empty()) {
      out->push_back(In(col, *f.not_any, "VARCHAR", Str, true));
    }
    if (f.is_null) out->push_back(IsNull(col, *f.is_null));
  }
  void UuidRef(std::string_view col, const UuidRefFilter& f, std::vector<std::string>* out) {
    if (f.any) out->push_back(In(col, *f.any, "UUID", UuidToString));
    if (f.is_null) out->push_back(IsNull(col, *f.is_null));
  }
  // A state node keeps a child only when it yields exactly one criterion
  // (paginate.md 4.1); a dropped child's parameters are unbound again.
  std::string State(std::string_view type_col, std::string_view name_col, const StateFilter& f) {
    std::vector<std::string> criteria;
    if (f.type) {
      const size_t at = mark();
      std::vector<std::string> child;
      if (f.type->any) child.push_back(In(type_col, *f.type->any, "state_type", StateLabel));
      if (f.type->not_any && !f.type->not_any->empty()) {
        child.push_back(In(type_col, *f.type->not_any, "state_type", StateLabel, true));
      }
      KeepSingle(at, &child, &criteria);
    }
    if (f.name) {
      const size_t at = mark();
      std::vector<std::string> child;
      Strings(name_col, *f.name, &child);
      KeepSingle(at, &child, &criteria);
    }
    return Combine(f.op, criteria);
  }
  void KeepSingle(size_t at, std::vector<std::string>* child, std::vector<std::string>* criteria) {
    if (child->size() == 1) {
      criteria->push_back((*child)[0]);
    } else {
      Rewind(at);
    }
  }

  static std::string Combine(BoolOp op, const std::vector<std::string>& criteria) {
    if (criteria.empty()) return "true";
    if (criteria.size() == 1) return criteria[0];
    std::vector<std::string> wrapped;
    for (const std::string& c : criteria) wrapped.push_back(absl::StrCat("(", c, ")"));
    return absl::StrCat("(", absl::StrJoin(wrapped, op == BoolOp::kOr ? " OR " : " AND "), ")");
  }
  static std::string Str(const std::string& s) { return s; }
  static std::string StateLabel(StateType t) { return std::string(StateTypeName(t)); }

 private:
  std::vector<std::string>* params_;
};

std::string TaskRunPredicate(PgBuilder& b, const TaskRunFilter& f) {
  std::vector<std::string> c;
  auto group = [&](BoolOp op, auto fill) {
    std::vector<std::string> s;
    fill(&s);
    c.push_back(PgBuilder::Combine(op, s));
  };
  if (f.id) group(BoolOp::kAnd, [&](auto* s) { b.Id("t.id", *f.id, s); });
  if (f.name) group(BoolOp::kAnd, [&](auto* s) { b.Name("t.name", *f.name, s); });
  if (f.tags) group(f.tags->op, [&](auto* s) { b.Tags("t.tags", *f.tags, s); });
  if (f.state) c.push_back(b.State("t.state_type", "t.state_name", *f.state));
  const std::pair<const std::optional<TimeFilter>*, const char*> times[] = {
      {&f.start_time, "t.start_time"},
      {&f.end_time, "t.end_time"},
      {&f.expected_start_time, "t.expected_start_time"}};
  for (const auto& [tf, col] : times) {
    if (*tf) group(BoolOp::kAnd, [&](auto* s) { b.Time(col, col, **tf, s); });
  }
  if (f.subflow_runs) {
    if (f.subflow_runs->exists) {
      c.push_back(absl::StrCat(*f.subflow_runs->exists ? "" : "NOT ",
                               "(EXISTS (SELECT 1 FROM flow_run AS sub "
                               "WHERE t.id = sub.parent_task_run_id))"));
    } else {
      c.push_back("true");
    }
  }
  if (f.flow_run_id) {
    const UuidRefFilter& r = *f.flow_run_id;
    if (r.is_null && *r.is_null) {
      c.push_back("t.flow_run_id IS NULL");
    } else if (r.is_null && !*r.is_null && !r.any) {
      c.push_back("t.flow_run_id IS NOT NULL");
    } else if (r.any) {
      c.push_back(b.In("t.flow_run_id", *r.any, "UUID", UuidToString));
    } else {
      c.push_back("true");
    }
  }
  return PgBuilder::Combine(f.op, c);
}

std::string FlowRunPredicate(PgBuilder& b, const FlowRunFilter& f) {
  std::vector<std::string> c;
  auto group = [&](BoolOp op, auto fill) {
    std::vector<std::string> s;
    fill(&s);
    c.push_back(PgBuilder::Combine(op, s));
  };
  if (f.id) group(BoolOp::kAnd, [&](auto* s) { b.Id("fr.id", *f.id, s); });
  if (f.name) group(BoolOp::kAnd, [&](auto* s) { b.Name("fr.name", *f.name, s); });
  if (f.tags) group(f.tags->op, [&](auto* s) { b.Tags("fr.tags", *f.tags, s); });
  if (f.deployment_id) {
    group(f.deployment_id->op,
          [&](auto* s) { b.UuidRef("fr.deployment_id", *f.deployment_id, s); });
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
      b.Time("coalesce(fr.start_time, fr.expected_start_time)", "fr.start_time", *f.start_time,
             s);
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
      // paginate.md 4.5: not correlated.
      s->push_back(absl::StrCat(
          "fr.id IN (SELECT fr3.id FROM flow_run AS fr3 JOIN task_run AS t3 ON t3.id = "
          "fr3.parent_task_run_id WHERE ",
          b.In("t3.flow_run_id", *f.parent_flow_run_id->any, "UUID", UuidToString), ")"));
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
      if (cb.id) s->push_back(b.In("(fr.created_by ->> 'id')", *cb.id, "VARCHAR", UuidToString));
      if (cb.type) {
        s->push_back(b.In("(fr.created_by ->> 'type')", *cb.type, "VARCHAR", PgBuilder::Str));
      }
      if (cb.is_null) s->push_back(PgBuilder::IsNull("fr.created_by", *cb.is_null));
    });
  }
  return PgBuilder::Combine(f.op, c);
}

std::string FlowPredicate(PgBuilder& b, const FlowFilter& f) {
  std::vector<std::string> c;
  auto group = [&](BoolOp op, auto fill) {
    std::vector<std::string> s;
    fill(&s);
    c.push_back(PgBuilder::Combine(op, s));
  };
  if (f.id) group(BoolOp::kAnd, [&](auto* s) { b.Id("f.id", *f.id, s); });
  if (f.deployment) {
    group(f.deployment->op, [&](auto* s) {
      if (!f.deployment->is_null) return;
      s->push_back(absl::StrCat("f.id ", *f.deployment->is_null ? "NOT IN" : "IN",
                                " (SELECT DISTINCT deployment.flow_id FROM deployment)"));
    });
  }
  if (f.name) group(BoolOp::kAnd, [&](auto* s) { b.Name("f.name", *f.name, s); });
  if (f.tags) group(f.tags->op, [&](auto* s) { b.Tags("f.tags", *f.tags, s); });
  return PgBuilder::Combine(f.op, c);
}

std::string DeploymentPredicate(PgBuilder& b, const DeploymentFilter& f) {
  std::vector<std::string> c;
  auto group = [&](BoolOp op, auto fill) {
    std::vector<std::string> s;
    fill(&s);
    c.push_back(PgBuilder::Combine(op, s));
  };
  if (f.id) group(BoolOp::kAnd, [&](auto* s) { b.Id("d.id", *f.id, s); });
  if (f.name) group(BoolOp::kAnd, [&](auto* s) { b.Name("d.name", *f.name, s); });
  if (f.flow_or_deployment_name) {
    group(BoolOp::kAnd, [&](auto* s) {
      const auto& like = f.flow_or_deployment_name->like;
      if (!like || like->empty()) return;
      const std::string d_like = b.Like("d.name", *like);
      const std::string f_like = b.Like("f2.name", *like);
      s->push_back(absl::StrCat("(", d_like, " OR (EXISTS (SELECT 1 FROM flow AS f2 WHERE f2.id = ",
                                "d.flow_id AND ", f_like, ")))"));
    });
  }
  if (f.paused) {
    group(BoolOp::kAnd, [&](auto* s) {
      if (f.paused->eq) s->push_back(*f.paused->eq ? "d.paused IS true" : "d.paused IS false");
    });
  }
  if (f.tags) group(f.tags->op, [&](auto* s) { b.Tags("d.tags", *f.tags, s); });
  if (f.work_queue_name) {
    group(BoolOp::kAnd, [&](auto* s) { b.Strings("d.work_queue_name", *f.work_queue_name, s); });
  }
  return PgBuilder::Combine(f.op, c);
}

// TaskRunSort.as_sql_sort: one term, no tie-break (paginate.md 6.1).
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

// FlowRunFilter.only_filters_on_id() with a non-empty id.any_.
bool OnlyFlowRunIdAny(const FlowRunFilter& f) {
  return f.id && f.id->any && !f.id->any->empty() &&
         !(f.id->not_any && !f.id->not_any->empty()) && !f.name && !f.tags &&
         !f.deployment_id && !f.work_queue_name && !f.flow_version && !f.state &&
         !f.start_time && !f.end_time && !f.expected_start_time &&
         !f.next_scheduled_start_time && !f.parent_flow_run_id && !f.parent_task_run_id &&
         !f.idempotency_key && !f.created_by;
}

std::string Trim(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Owns a PGresult.
struct Result {
  explicit Result(PGresult* r) : res(r) {}
  ~Result() { PQclear(res); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* res;
};

}  // namespace

PgQuery TranslateQueryPostgres(const PaginateQuery& query) {
  PgQuery q;
  PgBuilder b(&q.params);
  const FilterSet& fs = query.filters;
  std::vector<std::string> where;
  if (fs.task_runs) where.push_back(TaskRunPredicate(b, *fs.task_runs));
  if (fs.flow_runs && !fs.flows && !fs.deployments && OnlyFlowRunIdAny(*fs.flow_runs)) {
    where.push_back(b.In("t.flow_run_id", *fs.flow_runs->id->any, "UUID", UuidToString));
  } else if (fs.flows || fs.flow_runs || fs.deployments) {
    std::string from = "flow_run AS fr";
    if (fs.flows) absl::StrAppend(&from, " JOIN flow AS f ON f.id = fr.flow_id");
    if (fs.deployments) absl::StrAppend(&from, " JOIN deployment AS d ON d.id = fr.deployment_id");
    std::vector<std::string> inner = {"fr.id = t.flow_run_id"};
    if (fs.flow_runs) inner.push_back(FlowRunPredicate(b, *fs.flow_runs));
    if (fs.flows) inner.push_back(FlowPredicate(b, *fs.flows));
    if (fs.deployments) inner.push_back(DeploymentPredicate(b, *fs.deployments));
    where.push_back(absl::StrCat("(EXISTS (SELECT 1 FROM ", from, " WHERE ",
                                 absl::StrJoin(inner, " AND "), "))"));
  }
  const std::string where_sql =
      where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND "));
  q.count_params = q.params.size();
  q.count_sql = absl::StrCat("SELECT count(*) AS count_1 FROM task_run AS t", where_sql);
  const int64_t offset = query.offset > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                             ? std::numeric_limits<int64_t>::max()
                             : static_cast<int64_t>(query.offset);
  q.params.push_back(std::to_string(query.limit));
  q.params.push_back(std::to_string(offset));
  q.page_sql = absl::StrCat("SELECT t.* FROM task_run AS t", where_sql, " ORDER BY ",
                            PrefectOrderBy(query.sort), " LIMIT $", q.params.size() - 1,
                            " OFFSET $", q.params.size());
  return q;
}

absl::StatusOr<std::unique_ptr<PgCompare>> PgCompare::Connect(const std::string& url) {
  std::string conninfo = url;
  // "postgresql+asyncpg://..." -> "postgresql://...".
  if (const size_t plus = conninfo.find('+'), colon = conninfo.find("://");
      plus != std::string::npos && colon != std::string::npos && plus < colon) {
    conninfo.erase(plus, colon - plus);
  }
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return absl::ResourceExhaustedError("PQconnectdb: out of memory");
  std::unique_ptr<PgCompare> pg(new PgCompare(conn));
  if (PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("postgres: connecting: ", Trim(PQerrorMessage(conn))));
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return pg;
}

PgCompare::~PgCompare() { PQfinish(conn_); }

absl::Status PgCompare::Exec(const std::string& sql) {
  Result r(PQexec(conn_, sql.c_str()));
  const ExecStatusType st = PQresultStatus(r.res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat("postgres: ", Trim(PQerrorMessage(conn_))));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PgCompare::Prepared(const std::string& sql, int nparams) {
  if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
  std::string name = absl::StrCat("taskdex_", statements_.size() + 1);
  Result r(PQprepare(conn_, name.c_str(), sql.c_str(), nparams, nullptr));
  if (PQresultStatus(r.res) != PGRES_COMMAND_OK) {
    return absl::InternalError(
        absl::StrCat("postgres: prepare: ", Trim(PQerrorMessage(conn_)), "\n  sql: ", sql));
  }
  statements_.emplace(sql, name);
  return name;
}

absl::StatusOr<PgAnswer> PgCompare::Run(const PaginateQuery& query) {
  return Run(TranslateQueryPostgres(query));
}

absl::StatusOr<PgAnswer> PgCompare::Run(const PgQuery& sql) {
  auto execute = [&](const std::string& text, const std::vector<std::string>& params,
                     size_t n) -> absl::StatusOr<std::unique_ptr<Result>> {
    absl::StatusOr<std::string> name = Prepared(text, static_cast<int>(n));
    if (!name.ok()) return name.status();
    std::vector<const char*> values(n);
    for (size_t i = 0; i < n; ++i) values[i] = params[i].c_str();
    auto r = std::make_unique<Result>(PQexecPrepared(conn_, name->c_str(), static_cast<int>(n),
                                                     values.data(), nullptr, nullptr, 0));
    if (PQresultStatus(r->res) != PGRES_TUPLES_OK) {
      return absl::InternalError(
          absl::StrCat("postgres: ", Trim(PQerrorMessage(conn_)), "\n  sql: ", text));
    }
    return r;
  };
  PgAnswer answer;
  // The page, then (as the ORM does on loading it) the selectin of its states.
  absl::StatusOr<std::unique_ptr<Result>> page = execute(sql.page_sql, sql.params, sql.params.size());
  if (!page.ok()) return page.status();
  PGresult* res = (*page)->res;
  const int id_col = PQfnumber(res, "id");
  const int state_col = PQfnumber(res, "state_id");
  if (id_col < 0 || state_col < 0) return absl::InternalError("page lacks id or state_id");
  std::vector<std::string> state_ids;
  for (int row = 0; row < PQntuples(res); ++row) {
    const std::optional<Uuid> id = ParseUuid(PQgetvalue(res, row, id_col));
    if (!id) return absl::InternalError(absl::StrCat("page: bad id ", PQgetvalue(res, row, id_col)));
    answer.ids.push_back(*id);
    if (!PQgetisnull(res, row, state_col)) {
      std::string state = PQgetvalue(res, row, state_col);
      bool seen = false;
      for (const std::string& s : state_ids) seen |= s == state;
      if (!seen) state_ids.push_back(std::move(state));
    }
  }
  if (!state_ids.empty()) {
    std::vector<std::string> ps;
    for (size_t i = 0; i < state_ids.size(); ++i) ps.push_back(absl::StrCat("$", i + 1, "::UUID"));
    const std::string load = absl::StrCat(
        "SELECT task_run_state.* FROM task_run_state WHERE task_run_state.id IN (",
        absl::StrJoin(ps, ", "), ")");
    absl::StatusOr<std::unique_ptr<Result>> states = execute(load, state_ids, state_ids.size());
    if (!states.ok()) return states.status();
    answer.states_loaded = static_cast<uint64_t>(PQntuples((*states)->res));
  }
  absl::StatusOr<std::unique_ptr<Result>> count = execute(sql.count_sql, sql.params, sql.count_params);
  if (!count.ok()) return count.status();
  if (PQntuples((*count)->res) != 1) return absl::InternalError("count: not one row");
  answer.count = std::strtoull(PQgetvalue((*count)->res, 0, 0), nullptr, 10);
  return answer;
}

}  // namespace taskdex
