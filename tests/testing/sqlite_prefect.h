// tests/testing/sqlite_prefect.h
//
// A throwaway SQLite file with Prefect's schema (bench/prefect_db.h) and a
// few seeded random rows, removed at the end. Header-only: the test
// binaries that use it link taskdex_bench, the testing library does not.

#ifndef TASKDEX_TESTS_TESTING_SQLITE_PREFECT_H_
#define TASKDEX_TESTS_TESTING_SQLITE_PREFECT_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "bench/prefect_db.h"
#include "engine/records.h"
#include "tests/testing/random_data.h"

namespace taskdex {

struct SqlitePrefect {
  std::string dir, url;
  SnapshotRecords data;
  std::unique_ptr<PrefectDb> writer;
  // At least `min_task_runs` task runs (random data sets, representable).
  bool Create(size_t min_task_runs = 5) {
    char tmpl[] = "/tmp/taskdex-source-XXXXXX";
    dir = mkdtemp(tmpl);
    url = "sqlite://" + dir + "/prefect.db";
    for (uint64_t seed = 1; data.task_runs.size() < min_task_runs; ++seed) {
      TestRng rng(seed);
      data = MakeRepresentable(RandomRecords(rng));
    }
    absl::StatusOr<std::unique_ptr<PrefectDb>> opened = PrefectDb::Open(url);
    if (!opened.ok()) return false;
    writer = *std::move(opened);
    return writer->CreateSchema().ok() && writer->InsertAll(data).ok();
  }
  ~SqlitePrefect() {
    writer.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_SQLITE_PREFECT_H_
