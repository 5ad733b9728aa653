// engine/store.h
//
// The in-memory store: one columnar table per entity (DESIGN.md "Store"),
// string dictionaries, resolved joins and their reverse postings. Built once
// by StoreBuilder from records (engine/records.h), then immutable: a const
// Store is safe to read from many threads. Live updates never change a
// Store: the live store (engine/live_store.h) uses Stores as segments and
// publishes new versions of them.
//
// Invariants after Build():
//  - Row ids are dense [0, size()) per table; ids are unique per table.
//  - Every Dictionary is frozen: code order is bytewise string order, so
//    comparing codes compares strings (NAME_ASC is an integer sort).
//  - Nullable timestamps use kNullMicros; nullable dictionary strings use
//    kNullCode; a null state type is kNullStateType; a missing join is kNoRow.

#ifndef TASKDEX_ENGINE_STORE_H_
#define TASKDEX_ENGINE_STORE_H_

#include <cstdint>
#include <cassert>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/like_cache.h"
#include "engine/like_pattern.h"
#include "engine/records.h"
#include "engine/template_column.h"
#include "engine/types.h"
#include "index/array_column.h"
#include "index/bitmap.h"
#include "index/code_rows.h"
#include "index/posting_index.h"
#include "index/serial.h"
#include "index/sorted_order.h"
#include "index/trigram_index.h"

namespace taskdex {

inline constexpr uint32_t kNullCode = UINT32_MAX;

// Distinct strings of one column <-> dense codes. Bytes live in blocks that
// never move, so the string_views handed out stay valid for the Store's life.
// Writer-only until Freeze(); const and shareable afterwards.
//
// Find: a hash lookup while the dictionary is written; once frozen, a
// binary search of the strings (code order is string order), and the hash
// map is gone. Why: at 10M task runs with ~10M distinct names the map took
// ~400 MB and 0.6 s of every binary load (session 14), for lookups that
// happen once per filter value (24 probes at 10M, ~2 us).
class Dictionary {
 public:
  Dictionary();
  Dictionary(Dictionary&&) noexcept;
  Dictionary& operator=(Dictionary&&) noexcept;
  ~Dictionary();

  // Returns the code of `s`, adding it if new. REQUIRES: not frozen.
  uint32_t Intern(std::string_view s);
  // Renumbers codes so code order is bytewise string order. Returns the
  // remap: new_code = remap[old_code].
  std::vector<uint32_t> Freeze();

  std::optional<uint32_t> Find(std::string_view s) const;
  std::string_view Get(uint32_t code) const;
  // The strings by code: views()[code] == Get(code). For readers that
  // prefetch (a hint needs the entry's address before it is read). Valid
  // until the next Intern or Freeze.
  const std::string_view* views() const;
  uint32_t size() const;
  size_t MemoryBytes() const;

  // The binary snapshot's form (index/serial.h) of a frozen dictionary: the
  // strings' end offsets, then their bytes. Load makes a frozen dictionary
  // (one arena block, the lookup map rebuilt).
  void Save(SerialWriter& w) const;
  void Load(SerialReader& r);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Nullable strings that are not worth a dictionary (dynamic keys, cache keys)
// and opaque JSON sub-documents, packed into one byte buffer.
//
// The bytes are the column's own (a built column) or a view into a mapped
// binary snapshot kept alive by `backing_` (Load from a SerialReader with a
// backing, engine/internal/segment_file.cc): the largest sections of a 10M
// snapshot (task_inputs_json, dynamic_key, ...) are then served where they
// lie, with no copy and no first touch of fresh memory (session 14). A
// mapped column is read-only: Append is for built columns.
class BlobColumn {
 public:
  void Append(std::string_view s) {
    std::string& bytes = bytes_.owned();
    bytes.append(s);
    ends_.owned().push_back(bytes.size());
  }
  void AppendNull() { ends_.owned().push_back(bytes_.view().size() | kNullBit); }
  void Append(const std::optional<std::string>& s) { s ? Append(std::string_view(*s)) : AppendNull(); }
  bool IsNull(RowId r) const { return ends_[r] & kNullBit; }
  std::string_view Get(RowId r) const {
    uint64_t begin = r == 0 ? 0 : (ends_[r - 1] & ~kNullBit);
    uint64_t end = ends_[r] & ~kNullBit;
    return bytes_.view().substr(begin, end - begin);
  }
  size_t size() const { return ends_.size(); }
  // Heap bytes, and the mapped bytes served in place.
  size_t MemoryBytes() const { return bytes_.MemoryBytes() + ends_.MemoryBytes(); }
  // Cache hints for a reader about to Get(r): the offsets of row r, then
  // (once those are in cache) the first `max_bytes` of its bytes.
  void PrefetchOffsets(RowId r) const {
    __builtin_prefetch(ends_.data() + r);
    __builtin_prefetch(ends_.data() + r - (r != 0));
  }
  void PrefetchBytes(RowId r, size_t max_bytes) const {
    const std::string_view v = Get(r);
    const size_t n = v.size() < max_bytes ? v.size() : max_bytes;
    for (size_t i = 0; i < n; i += 64) __builtin_prefetch(v.data() + i);
    if (n != 0) __builtin_prefetch(v.data() + n - 1);
  }
  void ShrinkToFit() {
    bytes_.ShrinkToFit();
    ends_.ShrinkToFit();
  }
  // The binary snapshot's form (index/serial.h). Load checks that the
  // offsets ascend within the bytes, and keeps a view of the bytes when the
  // reader has a backing (a copy otherwise).
  void Save(SerialWriter& w) const {
    w.PutString(bytes_.view());
    ends_.Save(w);
  }
  void Load(SerialReader& r);

 private:
  static constexpr uint64_t kNullBit = uint64_t{1} << 63;
  SharedBytes bytes_;  // built, or loaded: a view of the mapping or a copy
  ArrayColumn<uint64_t> ends_;  // a view of a mapped snapshot, or owned
};

// Multi-valued column as CSR: row r's codes are codes[offsets[r] .. offsets[r+1]).
// Codes within one row are kept in line order (duplicates kept), as written.
struct CodeLists {
  // Views of a mapped snapshot, or owned (index/array_column.h).
  ArrayColumn<uint32_t> offsets{std::vector<uint32_t>{0}};
  ArrayColumn<uint32_t> codes;
  std::span<const uint32_t> Of(RowId r) const {
    return codes.span().subspan(offsets[r], offsets[r + 1] - offsets[r]);
  }
  // The binary snapshot's form; Load checks the offsets (ascending, within
  // `codes`).
  void Save(SerialWriter& w) const {
    offsets.Save(w);
    codes.Save(w);
  }
  void Load(SerialReader& r);
};

// Holes of the task-run template columns (TaskRunTable::state, labels;
// engine/template_column.h): each is one of the row's own values, written as
// a response writes it (AppendTaskRunHole).
enum class TaskRunHole : uint8_t {
  kId = 1,                  // "<id>"
  kFlowRunId,               // "<flow_run_id>" (never null in a template)
  kStateId,                 // "<state_id>"
  kStateTimestamp,          // "<state timestamp>"
  kStateType,               // "COMPLETED"
  kStateName,               // JSON string of state_name
  kScheduledNow,            // a SCHEDULED state's null scheduled_time: "<now>"
  kExpectedStartTime,       // the time columns, quoted
  kNextScheduledStartTime,
  kStartTime,
  kEndTime,
  kCreated,
  kUpdated,
  kCacheExpiration,
  kCacheKey,                // JSON string of cache_key
};
inline constexpr int kNumTaskRunHoles = 15;

// The scalars the page writer reads for one task run, row-major: a copy of
// the columns below, built once by StoreBuilder::Build (the Store is not
// changed afterwards). A page's rows are scattered over the table, and
// reading ~20 columns costs a cache and a TLB miss each (on a virtual
// machine the TLB miss is the larger part); one 128-byte block per row
// costs two lines of one page. 128 bytes per task run.
struct alignas(128) TaskRunHot {
  static constexpr uint8_t kHasStateId = 1;
  Uuid id;
  Uuid state_id;  // valid when flags & kHasStateId
  Micros created;
  Micros updated;
  Micros expected_start_time;
  Micros start_time;
  Micros end_time;
  Micros state_timestamp;
  int64_t total_run_time_us;
  // flow_runs.id[flow_run_row] is the flow_run_id; kNoRow: null or orphan
  // (read TaskRunTable::flow_run_id).
  RowId flow_run_row;
  uint32_t name;
  uint32_t task_key;
  uint32_t state_name;
  // TemplateColumn codes of state, task_version, empirical_policy.
  uint32_t state_code;
  uint32_t task_version_code;
  uint32_t empirical_policy_code;
  uint8_t state_type;
  uint8_t flags;
};
static_assert(sizeof(TaskRunHot) == 128);

struct TaskRunTable {
  uint32_t size() const { return static_cast<uint32_t>(id.size()); }

  ArrayColumn<Uuid> id;
  ArrayColumn<Micros> created;  // kNullMicros = null
  ArrayColumn<Micros> updated;
  ArrayColumn<uint32_t> name;  // code in Store::task_run_names
  ArrayColumn<std::optional<Uuid>> flow_run_id;  // as stored, orphan or not
  ArrayColumn<RowId> flow_run_row;               // kNoRow: null or orphan
  ArrayColumn<uint32_t> task_key;                // code in Store::task_keys
  BlobColumn dynamic_key;
  BlobColumn cache_key;  // nullable
  ArrayColumn<Micros> cache_expiration;
  // JSON text columns as templates (TaskRunHole holes): the `task_version`
  // value (`null` or a string literal), `empirical_policy`, `labels` and the
  // normalized `state` object (or `null`).
  TemplateColumn task_version;
  TemplateColumn empirical_policy;
  CodeLists tags;  // codes in Store::tags
  TemplateColumn labels;
  ArrayColumn<std::optional<Uuid>> state_id;
  BlobColumn task_inputs_json;
  ArrayColumn<uint8_t> state_type;  // StateType value or kNullStateType
  ArrayColumn<uint32_t> state_name;  // code in Store::state_names or kNullCode
  ArrayColumn<int64_t> run_count;
  ArrayColumn<int64_t> flow_run_run_count;
  ArrayColumn<Micros> expected_start_time;
  ArrayColumn<Micros> next_scheduled_start_time;
  ArrayColumn<Micros> start_time;
  ArrayColumn<Micros> end_time;
  ArrayColumn<int64_t> total_run_time_us;
  TemplateColumn state;
  ArrayColumn<Micros> state_timestamp;
  BlobColumn parameters_json;
  BlobColumn context_json;
  BlobColumn extras_json;
  // Row-major copy of the writer's scalars, by row (StoreBuilder::Build).
  ArrayColumn<TaskRunHot> hot;
};

struct FlowRunTable {
  uint32_t size() const { return static_cast<uint32_t>(id.size()); }

  std::vector<Uuid> id;
  std::vector<Uuid> flow_id;
  std::vector<RowId> flow_row;  // kNoRow: flow absent
  std::vector<uint32_t> name;   // code in Store::flow_run_names
  std::vector<std::optional<Uuid>> deployment_id;
  std::vector<RowId> deployment_row;  // kNoRow: null or dangling
  std::vector<uint32_t> work_queue_name;  // Store::work_queue_names or kNullCode
  BlobColumn flow_version;                // nullable
  BlobColumn idempotency_key;             // nullable
  CodeLists tags;                         // Store::tags
  std::vector<uint8_t> has_created_by;
  BlobColumn created_by_id;    // nullable
  BlobColumn created_by_type;  // nullable
  std::vector<uint8_t> state_type;   // or kNullStateType
  std::vector<uint32_t> state_name;  // Store::state_names or kNullCode
  std::vector<Micros> expected_start_time;
  std::vector<Micros> next_scheduled_start_time;
  std::vector<Micros> start_time;
  std::vector<Micros> end_time;
  std::vector<std::optional<Uuid>> parent_task_run_id;
  std::vector<RowId> parent_task_run_row;  // kNoRow: null or absent
};

struct FlowTable {
  uint32_t size() const { return static_cast<uint32_t>(id.size()); }
  std::vector<Uuid> id;
  std::vector<uint32_t> name;  // Store::flow_names
  CodeLists tags;              // Store::tags
};

struct DeploymentTable {
  uint32_t size() const { return static_cast<uint32_t>(id.size()); }
  std::vector<Uuid> id;
  std::vector<uint32_t> name;  // Store::deployment_names
  std::vector<Uuid> flow_id;
  std::vector<RowId> flow_row;  // kNoRow: flow absent
  std::vector<uint8_t> paused;
  CodeLists tags;                         // Store::tags
  std::vector<uint32_t> work_queue_name;  // Store::work_queue_names or kNullCode
};

// Sort keys of task runs for SortedOrder (index/sorted_order.h): the tie
// break is id DESCENDING (paginate.md 6.2).
struct TaskRunTimeKeys {
  std::span<const Micros> col;
  std::span<const Uuid> ids;
  int64_t Key(RowId r) const { return col[r]; }
  bool IsNull(RowId r) const { return col[r] == kNullMicros; }
  bool TieBefore(RowId a, RowId b) const { return ids[b] < ids[a]; }
};
struct TaskRunCodeKeys {
  std::span<const uint32_t> col;
  std::span<const Uuid> ids;
  int64_t Key(RowId r) const { return col[r]; }
  bool IsNull(RowId r) const { return col[r] == kNullCode; }
  bool TieBefore(RowId a, RowId b) const { return ids[b] < ids[a]; }
};
struct TaskRunIdKeys {
  std::span<const Uuid> ids;
  int64_t Key(RowId) const { return 0; }
  bool IsNull(RowId) const { return false; }
  bool TieBefore(RowId a, RowId b) const { return ids[b] < ids[a]; }
};

// Secondary indexes over the task-run table, built by StoreBuilder::Build
// (DESIGN.md "Indexes"). `built` is false for a hand-made Store: the
// executor then scans columns.
struct TaskRunIndexes {
  bool built = false;
  PostingIndex tags;        // tag code -> rows (a row once per distinct tag)
  PostingIndex state_type;  // StateType value -> rows
  PostingIndex state_name;  // Store::state_names code -> rows
  CodeRows name;            // Store::task_run_names code -> rows (tiny postings)
  Bitmap has_tags;          // rows with a non-empty tag list
  Bitmap has_start_time;    // non-NULL start_time
  Bitmap has_end_time;
  Bitmap has_expected_start_time;
  // Page orders, one per TaskRunSort that needs its own walk direction:
  // primary key with PostgreSQL NULL placement, then id DESC.
  SortedOrder id_desc;
  SortedOrder expected_start_time_asc;
  SortedOrder expected_start_time_desc;
  SortedOrder name_asc;
  SortedOrder name_desc;
  SortedOrder next_scheduled_start_time_asc;
  SortedOrder end_time_desc;
  // Task runs by an attribute of their (resolved) flow run, so flow,
  // deployment and flow-run state filters reach task runs without a pass
  // over the flow runs. Built by BuildJoinIndexes (engine/index_build.cc);
  // `joins_built` is false until then.
  bool joins_built = false;
  PostingIndex by_flow;                 // flow row -> task-run rows
  PostingIndex by_deployment;           // deployment row -> task-run rows
  PostingIndex by_flow_run_state_type;  // flow run's StateType -> task-run rows

  // The order whose forward walk is the page order of `sort`.
  const SortedOrder& OrderFor(TaskRunSort sort) const;
  size_t MemoryBytes() const;
};

// Flow-run side postings and the name trigram indexes.
struct FlowRunIndexes {
  PostingIndex state_type;
  PostingIndex tags;
};
struct NameTrigrams {
  // False when not built (a hand-made Store, or a small segment of the live
  // store: StoreBuilder::BuildOptions): `like_` then scans the folded
  // dictionary, which for a small one costs less than the index.
  bool built = false;
  TrigramIndex task_run_names;
  TrigramIndex flow_run_names;
  TrigramIndex flow_names;
  TrigramIndex deployment_names;
};
// Case-folded contiguous copies of the name dictionaries, for `like_` scans
// (engine/like_pattern.h). Empty (size 0) for a hand-made Store.
struct FoldedNameSet {
  FoldedNames task_run_names;
  FoldedNames flow_run_names;
  FoldedNames flow_names;
  FoldedNames deployment_names;
};

// What Build() found while resolving references (entities.md 1.1, 4.1).
struct BuildReport {
  uint64_t orphan_task_runs = 0;            // flow_run_id names no flow run
  uint64_t flow_runs_missing_flow = 0;
  uint64_t flow_runs_dangling_deployment = 0;  // legal in Prefect
  uint64_t flow_runs_missing_parent_task_run = 0;
  uint64_t deployments_missing_flow = 0;
  // Replaced earlier lines with a repeated id, per entity.
  uint64_t replaced_task_runs = 0;
  uint64_t replaced_flow_runs = 0;
  uint64_t replaced_flows = 0;
  uint64_t replaced_deployments = 0;
};

class Store {
 public:
  TaskRunTable task_runs;
  FlowRunTable flow_runs;
  FlowTable flows;
  DeploymentTable deployments;

  Dictionary task_run_names;
  Dictionary task_keys;
  Dictionary flow_run_names;
  Dictionary flow_names;
  Dictionary deployment_names;
  Dictionary state_names;  // task-run and flow-run state names
  Dictionary work_queue_names;
  Dictionary tags;  // tag values of every entity

  // Id -> row, per table.
  absl::flat_hash_map<Uuid, RowId> task_run_by_id;
  absl::flat_hash_map<Uuid, RowId> flow_run_by_id;
  absl::flat_hash_map<Uuid, RowId> flow_by_id;
  absl::flat_hash_map<Uuid, RowId> deployment_by_id;

  // Reverse joins.
  std::vector<Bitmap> task_runs_of_flow_run;  // by flow-run row
  // task_runs_of_flow_run[f].cardinality(), flat: a count over many flow
  // runs reads 4 bytes each instead of a bitmap header (a cache miss).
  std::vector<uint32_t> task_run_counts_of_flow_run;
  Bitmap task_runs_with_flow_run;              // flow_run_row != kNoRow
  Bitmap task_runs_with_subflow;  // some flow run names it as parent_task_run_id
  std::vector<uint8_t> flow_has_deployment;  // by flow row (any deployment row)

  TaskRunIndexes task_run_index;
  FlowRunIndexes flow_run_index;
  NameTrigrams trigrams;
  FoldedNameSet folded;
  // `like_` results per (dictionary, pattern); filled by queries.
  std::unique_ptr<LikeCache> like_cache = std::make_unique<LikeCache>();

  BuildReport report;

  // Bytes held, in total and per part ("task_runs.state", "indexes.tags",
  // ...; capacities, hash-map slots and dictionary arenas included).
  size_t MemoryBytes() const;
  std::vector<std::pair<std::string, size_t>> MemoryBreakdown() const;
};

// Writes hole `hole` (a TaskRunHole value) of task-run row `row`, the text
// the template columns replaced (`now` for kScheduledNow).
void AppendTaskRunHole(const Store& store, RowId row, uint8_t hole, Micros now, std::string* out);
// The full text of a template column of the task-run table at `row`.
std::string RenderTaskRunText(const Store& store, const TemplateColumn& col, RowId row, Micros now);

// A task run with the templates of its JSON text columns already made
// (PrepareTaskRun): templating is most of what adding a task run costs, and
// it needs only the record, so a parser thread can do it while the one
// builder thread only interns the results (engine/snapshot_loader.cc).
struct PreparedTaskRun {
  // Its empirical_policy_json, labels_json and state_json are released by
  // PrepareTaskRun (the templates hold them).
  TaskRunRecord record;
  // TemplateColumn templates (engine/template_column.h) of the task_version
  // value, empirical_policy, labels and state, with the TaskRunHole holes
  // of `record`'s own values, exactly as AddTaskRun(TaskRunRecord) makes.
  std::string task_version_template;
  std::string empirical_policy_template;
  std::string labels_template;
  std::string state_template;
};
// Fills the templates of `p` from p->record. Thread-safe (pure).
void PrepareTaskRun(PreparedTaskRun* p);

struct TaskRunBatch;  // engine/task_run_batch.h

// Builds a Store from records, streaming: each Add writes the record into
// the columns at once (dictionaries unfrozen, joins unresolved), so no record
// is kept. A record whose id repeats one already added replaces it in place
// (entities.md 4.1: the row keeps its position), and is counted. Build()
// resolves joins, freezes dictionaries (dropping strings only replaced rows
// used) and builds the indexes. Not thread-safe: one writer at a time.
class StoreBuilder {
 public:
  StoreBuilder();
  ~StoreBuilder();
  void AddFlow(FlowRecord r);
  void AddDeployment(DeploymentRecord r);
  void AddFlowRun(FlowRunRecord r);
  void AddTaskRun(TaskRunRecord r);
  // The same, with the templating done (PrepareTaskRun).
  void AddTaskRun(PreparedTaskRun p);
  // The batch's task runs in order, as AddTaskRun(PreparedTaskRun) would add
  // them, interning each distinct string of the batch once. Takes the
  // batch's contents; the caller destroys what is left (on the thread that
  // allocated it, say: engine/snapshot_loader.cc).
  void AddTaskRuns(TaskRunBatch* batch);
  void AddAll(SnapshotRecords records);
  struct BuildOptions {
    // Give the builder's freed buffers back to the OS (malloc_trim): right
    // after a load; not for the live store's small segments, where the walk
    // of the heap and the page faults that follow cost more than the build.
    bool trim_heap = true;
    // Trigram indexes of the name dictionaries (NameTrigrams::built).
    bool name_trigrams = true;
    // Threads for the independent parts of the build (the index builds, the
    // dictionary freezes, the joins; engine/internal/task_group.h), the
    // calling thread included. 1: all on the calling thread, in order. The
    // Store built is the same whatever the count.
    int threads = 1;
    // If set, gets (phase name, seconds) per phase of the build.
    std::vector<std::pair<std::string, double>>* phase_seconds = nullptr;
    // If set, called on the calling thread as the second phase starts:
    // "indexes" (the sorted orders, postings and trigrams; the first phase,
    // joins and dictionary freezes, starts with Build).
    std::function<void(std::string_view phase)> on_phase;
  };
  // Resolves joins, freezes dictionaries, builds postings. The builder is
  // empty afterwards.
  std::unique_ptr<Store> Build() { return Build(BuildOptions{}); }
  std::unique_ptr<Store> Build(const BuildOptions& options);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_STORE_H_
