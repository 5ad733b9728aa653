// engine/db_follower.cc: load, poll and reconcile (engine/db_follower.h).

#include "engine/db_follower.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/datetime.h"
#include "engine/internal/row_parse_pool.h"
#include "engine/internal/task_run_row.h"
#include "engine/uuid.h"

namespace taskdex {

const char* DbPollPhaseName(DbPollPhase phase) {
  switch (phase) {
    case DbPollPhase::kChanges: return "changes";
    case DbPollPhase::kRows: return "rows";
    case DbPollPhase::kApply: return "apply";
    case DbPollPhase::kConfirm: return "confirm";
  }
  return "?";
}

namespace {

// Charges the time since the last Enter to that phase of `stats`.
class PhaseClock {
 public:
  explicit PhaseClock(DbPollStats* stats) : stats_(stats) {}
  ~PhaseClock() { Charge(); }
  void Enter(DbPollPhase phase) {
    Charge();
    phase_ = static_cast<int>(phase);
  }

 private:
  void Charge() {
    auto now = std::chrono::steady_clock::now();
    if (phase_ >= 0) stats_->phase_seconds[phase_] += std::chrono::duration<double>(now - since_).count();
    since_ = now;
  }
  DbPollStats* stats_;
  int phase_ = -1;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

constexpr EntityKind kParentsFirst[] = {EntityKind::kFlow, EntityKind::kDeployment,
                                        EntityKind::kFlowRun, EntityKind::kTaskRun};
// Ids per `WHERE id IN (...)` when rows are read by id.
constexpr size_t kIdsPerRead = 500;
// Row changes taken from the change stream per batch (whole transactions:
// the last one may take it over).
constexpr size_t kStreamChangesPerBatch = 50'000;

// The id and `updated` of a row (columns 0 and 1 of every entity).
absl::Status RowKey(EntityKind entity, DbRow row, Uuid* id, Micros* updated) {
  std::optional<Uuid> u = row[0] ? ParseUuid(*row[0]) : std::nullopt;
  if (!u) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(DbTable(entity)), ": unreadable id \"", std::string(row[0].value_or("NULL")), "\""));
  }
  DatetimeResult t = row[1] ? ParseDatetimeString(*row[1]) : DatetimeResult{};
  if (!row[1] || !t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(DbTable(entity)), " ", std::string(*row[0]),
                                                   ": unreadable updated \"",
                                                   std::string(row[1].value_or("NULL")), "\""));
  }
  *id = *u;
  *updated = t.value;
  return absl::OkStatus();
}

void AddToRecords(Change&& change, SnapshotRecords* records) {
  std::visit(
      [&](auto&& row) {
        using T = std::decay_t<decltype(row)>;
        if constexpr (std::is_same_v<T, FlowRecord>) records->flows.push_back(std::move(row));
        if constexpr (std::is_same_v<T, DeploymentRecord>) {
          records->deployments.push_back(std::move(row));
        }
        if constexpr (std::is_same_v<T, FlowRunRecord>) {
          records->flow_runs.push_back(std::move(row));
        }
        if constexpr (std::is_same_v<T, TaskRunRecord>) {
          records->task_runs.push_back(std::move(row));
        }
      },
      change.row);
}

Change DeleteOf(EntityKind entity, const Uuid& id) {
  Change del;
  del.op = ChangeOp::kDelete;
  del.entity = entity;
  del.id = id;
  return del;
}

// The rows of `ids`, read kIdsPerRead at a time.
absl::Status ReadByIds(DbSource& source, EntityKind entity, const std::vector<Uuid>& ids,
                       const std::function<absl::Status(DbRow)>& on_row) {
  for (size_t i = 0; i < ids.size(); i += kIdsPerRead) {
    std::span<const Uuid> chunk(ids.data() + i, std::min(kIdsPerRead, ids.size() - i));
    if (absl::Status s = source.Read(entity, std::nullopt, chunk, on_row); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The rows a poll reads whole: their upserts, and their keys per entity
// (what moves the follower's state once the batch is applied).
struct Collected {
  std::vector<Change> upserts;
  std::vector<std::pair<Uuid, Micros>> read[4];
  std::unique_ptr<engine_internal::TaskRunRowReader> reader =
      std::make_unique<engine_internal::TaskRunRowReader>();
  std::function<absl::Status(DbRow)> For(EntityKind entity) {
    return [this, entity](DbRow row) -> absl::Status {
      Uuid id;
      Micros updated;
      if (absl::Status k = RowKey(entity, row, &id, &updated); !k.ok()) return k;
      absl::StatusOr<Change> change = engine_internal::DbRowToUpsertFast(*reader, entity, row);
      if (!change.ok()) return change.status();
      upserts.push_back(*std::move(change));
      read[static_cast<int>(entity)].emplace_back(id, updated);
      return absl::OkStatus();
    };
  }
};

// Applies deletes, then upserts, as one batch (nothing when both are
// empty), and counts them in `stats`.
absl::Status ApplyBatch(std::vector<Change> deletes, std::vector<Change> upserts,
                        const std::function<absl::Status(const Batch&)>& apply,
                        DbPollStats* stats) {
  stats->upserts = upserts.size();
  stats->deletes = deletes.size();
  if (upserts.empty() && deletes.empty()) return absl::OkStatus();
  Batch batch;
  batch.changes = std::move(deletes);
  batch.changes.reserve(batch.changes.size() + upserts.size());
  std::move(upserts.begin(), upserts.end(), std::back_inserter(batch.changes));
  return apply(batch);
}

// Ends a read transaction on every path; a failed one is rolled back by
// its COMMIT (PostgreSQL) or dropped with the connection.
class ReadTransaction {
 public:
  explicit ReadTransaction(DbSource& source) : source_(source) {}
  ~ReadTransaction() {
    if (open_ && !source_.EndRead().ok()) source_.Disconnect();
  }
  absl::Status Begin() {
    absl::Status s = source_.BeginRead();
    open_ = s.ok();
    return s;
  }
  absl::Status End() {
    open_ = false;
    absl::Status s = source_.EndRead();
    if (!s.ok()) source_.Disconnect();
    return s;
  }

 private:
  DbSource& source_;
  bool open_ = false;
};

}  // namespace

DbFollower::DbFollower(std::unique_ptr<DbSource> source, DbFollowerOptions options)
    : source_(std::move(source)), options_(options) {}

DbFollower::~DbFollower() = default;

void DbFollower::Remember(Table& table, const Uuid& id, Micros updated) {
  table.held.insert(id);
  if (!table.watermark || updated > *table.watermark) table.watermark = updated;
  table.recent[id] = updated;
}

void DbFollower::Prune(Table& table) {
  if (!table.watermark) return;
  Micros floor = *table.watermark - options_.overlap_us;
  absl::erase_if(table.recent, [&](const auto& entry) { return entry.second < floor; });
}

absl::StatusOr<SnapshotRecords> DbFollower::Load(
    const std::function<void(const DbLoadProgress&)>& progress) {
  if (absl::Status s = source_->Connect(); !s.ok()) return s;
  ReadTransaction txn(*source_);
  if (absl::Status s = txn.Begin(); !s.ok()) return s;
  SnapshotRecords records;
  Table tables[4];
  std::vector<std::pair<Uuid, Micros>> keys[4];
  DbLoadProgress p;
  const int threads = options_.load_threads > 0
                          ? options_.load_threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = std::max(1, threads - 1);
  for (EntityKind entity : kParentsFirst) {
    int e = static_cast<int>(entity);
    p.entity = entity;
    engine_internal::RowParsePool pool(entity, workers);
    absl::Status s = source_->Read(entity, std::nullopt, {}, [&](DbRow row) -> absl::Status {
      Uuid id;
      Micros updated;
      if (absl::Status k = RowKey(entity, row, &id, &updated); !k.ok()) return k;
      pool.Add(row);
      keys[e].emplace_back(id, updated);
      if (++p.rows_done % 16384 == 0 && progress) progress(p);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    // Reserved for every row read: no regrowth moving ~0.5 KB records.
    std::vector<Change> changes;
    changes.reserve(keys[e].size());
    if (absl::Status f = pool.Finish(&changes); !f.ok()) return f;
    if (entity == EntityKind::kTaskRun) records.task_runs.reserve(changes.size());
    if (entity == EntityKind::kFlowRun) records.flow_runs.reserve(changes.size());
    for (Change& c : changes) AddToRecords(std::move(c), &records);
  }
  if (absl::Status s = txn.End(); !s.ok()) return s;
  for (int e = 0; e < 4; ++e) {
    Table& t = tables[e];
    t.held.reserve(keys[e].size());
    for (const auto& [id, updated] : keys[e]) {
      t.held.insert(id);
      if (!t.watermark || updated > *t.watermark) t.watermark = updated;
    }
    for (const auto& [id, updated] : keys[e]) {
      if (updated >= *t.watermark - options_.overlap_us) t.recent[id] = updated;
    }
    tables_[e] = std::move(t);
  }
  if (progress) progress(p);
  return records;
}

void DbFollower::Seed(const SnapshotRecords& records) {
  std::optional<Micros> newest;
  for (const TaskRunRecord& r : records.task_runs) {
    tables_[static_cast<int>(EntityKind::kTaskRun)].held.insert(r.id);
    if (r.updated && (!newest || *r.updated > *newest)) newest = *r.updated;
  }
  for (const FlowRunRecord& r : records.flow_runs) {
    tables_[static_cast<int>(EntityKind::kFlowRun)].held.insert(r.id);
  }
  for (const FlowRecord& r : records.flows) {
    tables_[static_cast<int>(EntityKind::kFlow)].held.insert(r.id);
  }
  for (const DeploymentRecord& r : records.deployments) {
    tables_[static_cast<int>(EntityKind::kDeployment)].held.insert(r.id);
  }
  // No `updated` for the parents: read them all once, then follow.
  for (Table& t : tables_) {
    t.watermark.reset();
    t.recent.clear();
  }
  if (newest) tables_[static_cast<int>(EntityKind::kTaskRun)].watermark = *newest;
}

void DbFollower::Resume(const std::array<std::vector<Uuid>, 4>& held,
                        const DbPosition& position) {
  for (int e = 0; e < 4; ++e) {
    Table& t = tables_[e];
    t.held.clear();
    t.held.reserve(held[e].size());
    for (const Uuid& id : held[e]) t.held.insert(id);
    t.recent.clear();
    t.watermark = position.watermark[e];
  }
}

DbPosition DbFollower::position() const {
  DbPosition p;
  for (int e = 0; e < 4; ++e) p.watermark[e] = tables_[e].watermark;
  return p;
}

absl::Status DbFollower::Poll(bool reconcile,
                              const std::function<absl::Status(const Batch&)>& apply,
                              DbPollStats* stats) {
  *stats = DbPollStats{};
  PhaseClock clock(stats);
  clock.Enter(DbPollPhase::kChanges);
  if (absl::Status s = source_->Connect(); !s.ok()) return s;
  ReadTransaction txn(*source_);
  if (absl::Status s = txn.Begin(); !s.ok()) return s;

  std::vector<Change> deletes;
  Collected rows;
  absl::flat_hash_set<Uuid> present[4];  // reconciliation's ids
  for (EntityKind entity : kParentsFirst) {
    // Keys first: most rows of the overlap window were read before and
    // are unchanged; only the others are read whole, by id.
    const Table& t = tables_[static_cast<int>(entity)];
    clock.Enter(DbPollPhase::kChanges);
    std::optional<Micros> since;
    if (t.watermark) since = *t.watermark - options_.overlap_us;
    std::vector<Uuid> changed;
    absl::Status s = source_->ReadKeys(entity, since, [&](const Uuid& id, Micros updated) {
      ++stats->rows_read;
      if (auto it = t.recent.find(id); it != t.recent.end() && it->second == updated) {
        ++stats->unchanged;
      } else {
        changed.push_back(id);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    clock.Enter(DbPollPhase::kRows);
    if (absl::Status r = ReadByIds(*source_, entity, changed, rows.For(entity)); !r.ok()) return r;
  }
  if (reconcile) {
    stats->reconciled = true;
    for (EntityKind entity : kParentsFirst) {
      int e = static_cast<int>(entity);
      const Table& t = tables_[e];
      clock.Enter(DbPollPhase::kChanges);
      absl::Status s = source_->ReadIds(entity, [&](const Uuid& id) { present[e].insert(id); });
      if (!s.ok()) return s;
      for (const Uuid& id : t.held) {
        if (!present[e].contains(id)) deletes.push_back(DeleteOf(entity, id));
      }
      absl::flat_hash_set<Uuid> just_read;
      for (const auto& [id, updated] : rows.read[e]) just_read.insert(id);
      std::vector<Uuid> missing;
      for (const Uuid& id : present[e]) {
        if (!t.held.contains(id) && !just_read.contains(id)) missing.push_back(id);
      }
      size_t before = rows.upserts.size();
      clock.Enter(DbPollPhase::kRows);
      if (absl::Status r = ReadByIds(*source_, entity, missing, rows.For(entity)); !r.ok()) {
        return r;
      }
      stats->recovered += rows.upserts.size() - before;
    }
  }
  if (absl::Status s = txn.End(); !s.ok()) return s;

  clock.Enter(DbPollPhase::kApply);
  if (absl::Status s = ApplyBatch(std::move(deletes), std::move(rows.upserts), apply, stats);
      !s.ok()) {
    return s;
  }
  // Applied: now the state moves.
  for (int e = 0; e < 4; ++e) {
    Table& t = tables_[e];
    if (reconcile) {
      t.held = std::move(present[e]);
      absl::erase_if(t.recent, [&](const auto& entry) { return !t.held.contains(entry.first); });
    }
    for (const auto& [id, updated] : rows.read[e]) Remember(t, id, updated);
    Prune(t);
  }
  return absl::OkStatus();
}

absl::Status DbFollower::UseChangeStream(const std::string& slot) {
  if (absl::Status s = source_->Connect(); !s.ok()) return s;
  absl::Status s = source_->OpenChangeStream(slot);
  streaming_ = s.ok();
  return s;
}

absl::Status DbFollower::StreamOnce(const std::function<absl::Status(const Batch&)>& apply,
                                    DbPollStats* stats, int wait_ms) {
  *stats = DbPollStats{};
  PhaseClock clock(stats);
  clock.Enter(DbPollPhase::kChanges);
  // The stream first, the connection for rows only once there are changes:
  // a replication stream is its own connection, and a server shutting
  // down waits for its answer while refusing new connections.
  // The last operation on each row decides: deleted, or read again.
  absl::flat_hash_map<Uuid, ChangeOp> last[4];
  std::vector<Uuid> order[4];
  absl::StatusOr<std::string> position = source_->ReadChangeStream(
      kStreamChangesPerBatch, wait_ms, [&](EntityKind entity, ChangeOp op, const Uuid& id) {
        ++stats->stream_changes;
        int e = static_cast<int>(entity);
        auto [it, inserted] = last[e].try_emplace(id, op);
        if (inserted) order[e].push_back(id);
        it->second = op;
      });
  if (!position.ok()) return position.status();
  if (position->empty()) return absl::OkStatus();

  std::vector<Change> deletes;
  Collected rows;
  clock.Enter(DbPollPhase::kRows);
  if (absl::Status s = source_->Connect(); !s.ok()) return s;
  {
    ReadTransaction txn(*source_);
    if (absl::Status s = txn.Begin(); !s.ok()) return s;
    for (EntityKind entity : kParentsFirst) {
      int e = static_cast<int>(entity);
      std::vector<Uuid> ids;
      for (const Uuid& id : order[e]) {
        if (last[e][id] == ChangeOp::kUpsert) {
          ids.push_back(id);
          continue;
        }
        deletes.push_back(DeleteOf(entity, id));
      }
      if (absl::Status s = ReadByIds(*source_, entity, ids, rows.For(entity)); !s.ok()) return s;
    }
    if (absl::Status s = txn.End(); !s.ok()) return s;
  }
  stats->rows_read = rows.upserts.size();
  clock.Enter(DbPollPhase::kApply);
  if (absl::Status s = ApplyBatch(std::move(deletes), std::move(rows.upserts), apply, stats);
      !s.ok()) {
    return s;
  }
  for (int e = 0; e < 4; ++e) {
    Table& t = tables_[e];
    for (const auto& [id, op] : last[e]) {
      if (op == ChangeOp::kDelete) t.held.erase(id);
    }
    for (const auto& [id, updated] : rows.read[e]) Remember(t, id, updated);
    Prune(t);
  }
  clock.Enter(DbPollPhase::kConfirm);
  return source_->ConfirmChangeStream(*position);
}

}  // namespace taskdex
