// tests/testing/temp_snapshot.h
//
// A scratch snapshot directory under the test's temporary directory,
// removed when the object goes. Header-only.

#ifndef TASKDEX_TESTS_TESTING_TEMP_SNAPSHOT_H_
#define TASKDEX_TESTS_TESTING_TEMP_SNAPSHOT_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace taskdex {

class TempSnapshot {
 public:
  TempSnapshot() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::path(testing::TempDir()) /
           absl::StrFormat("taskdex_snapshot_%d_%d", ::getpid(), counter++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempSnapshot() { std::filesystem::remove_all(dir_); }
  TempSnapshot(const TempSnapshot&) = delete;
  TempSnapshot& operator=(const TempSnapshot&) = delete;
  // Writes `text` as file `name` of the snapshot.
  void Write(const std::string& name, const std::string& text) {
    std::ofstream f(dir_ / name, std::ios::binary);
    f << text;
  }
  std::string dir() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace taskdex

#endif  // TASKDEX_TESTS_TESTING_TEMP_SNAPSHOT_H_
