// engine/store_codec.h
//
// A Store (engine/store.h) as the sections of a binary snapshot's segment
// file (engine/binary_snapshot.h): what each section holds, how it is
// written, read back, and checked.
//
// Sections, each encoded with index/serial.h:
//   meta          table sizes, BuildReport, which indexes were built
//   dictionaries  the eight frozen dictionaries
//   task_runs.<column>  one section per task-run column, the row-major
//                 `hot` copy included: the task runs are ~85% of a file
//                 (5.5 of 6.5 GB at 10M), and as one section one thread
//                 decoded them while the others idled
//   flow_runs     every flow-run column
//   dimensions    flows and deployments
//   joins         reverse joins (task runs of a flow run, ...)
//   task_run_indexes   postings, presence bitmaps, the seven page orders,
//                      the join postings
//   name_indexes  flow-run postings, name trigrams, folded names
// What is not written, and is rebuilt at load (DecodeSection): the id -> row hash
// maps (absl's table has no stable byte form) and the `like_` cache
// (filled by queries). Why not write the hash maps as sorted arrays and
// search those instead: every id lookup of the live store's writer and
// of GET /api/task_runs/{id} would pay a binary search; rebuilding costs
// one pass (bench/RESULTS.md "Session 13").
//
// Decoding: sections may be decoded in any order and on different threads
// (each writes only its own members of the Store, its table's id map
// included); FinishStore then checks
// what crosses sections — every column as long as its table, every
// dictionary code below its dictionary's size, every row reference inside
// its table, every index's rows inside the task-run table — so a file
// that passed its checksums but holds inconsistent data is refused with
// the part named, and a query never reads out of bounds.
//
// Thread safety: EncodeSection reads a const Store (many threads may
// encode); DecodeSection of distinct sections may run concurrently on one
// Store; FinishStore runs alone, after them.

#ifndef TASKDEX_ENGINE_STORE_CODEC_H_
#define TASKDEX_ENGINE_STORE_CODEC_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/store.h"
#include "index/serial.h"

namespace taskdex {

enum class StoreSection : uint32_t {
  kMeta = 1,
  kDictionaries,
  kFlowRuns = 4,
  kDimensions,
  kJoins,
  kTaskRunIndexes,
  kNameIndexes,
  // Task-run column i (store_codec.cc VisitTaskRuns order) is section
  // kTaskRunColumn0 + i.
  kTaskRunColumn0 = 100,
};
inline constexpr uint32_t kTaskRunColumns = 31;

// Every section of a Store, in file order.
const std::vector<StoreSection>& AllStoreSections();
bool IsStoreSection(uint32_t section);

// "meta", "dictionaries", "task_runs.id", ... ("unknown section" for an
// unknown value).
std::string StoreSectionName(uint32_t section);

// Writes section `section` of `store`.
void EncodeSection(const Store& store, StoreSection section, SerialWriter& w);

// Reads section `section` from `bytes` into `store`. With a `backing` that
// owns `bytes` (the mapped file), blob columns keep views into them
// instead of copies (BlobColumn, engine/store.h), and *kept_views (if
// given) says whether this section's did. Errors:
// DataLoss("<section>: <what>").
absl::Status DecodeSection(StoreSection section, std::span<const char> bytes, Store* store,
                           std::shared_ptr<const void> backing = nullptr,
                           bool* kept_views = nullptr);

// After every section was decoded: checks the Store across sections (see
// above). The id maps were rebuilt by DecodeSection, each on the thread
// that decoded its table. Errors: DataLoss("<part>: <what>").
absl::Status FinishStore(Store* store);

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_STORE_CODEC_H_
