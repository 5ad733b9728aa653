// engine/internal/task_group.h
//
// Runs a list of independent closures on up to `threads` threads, the
// calling thread included, and returns when all are done. For the phases of
// StoreBuilder::Build whose parts write disjoint members of one Store (a
// sorted order, a posting index, a dictionary and its code columns): each
// closure is one such part.
//
// Layout and costs: threads - 1 std::threads started per Run and joined
// before it returns (a few tens of microseconds each, once per build phase);
// closures are taken in list order from one atomic counter, so put the
// longest first. With threads <= 1 the closures run in order on the caller,
// exactly as the sequential code did.
//
// Why not a pool kept for the Store's life: Build runs once per load (and
// per live-store merge, where the caller passes threads = 1), so starting
// threads per phase costs nothing measurable, and nothing outlives Build.
// Why not std::async: its launch policy may run everything deferred on the
// caller, and its futures allocate per closure.
//
// Thread safety: Run is called from one thread; the closures must not touch
// the same memory (each writes its own members; all may read what earlier
// phases wrote).

#ifndef TASKDEX_ENGINE_INTERNAL_TASK_GROUP_H_
#define TASKDEX_ENGINE_INTERNAL_TASK_GROUP_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace taskdex::engine_internal {

class TaskGroup {
 public:
  void Add(std::function<void()> task) { tasks_.push_back(std::move(task)); }

  // Runs every added closure, then forgets them.
  void Run(int threads) {
    std::atomic<size_t> next{0};
    auto work = [this, &next] {
      for (size_t i = next.fetch_add(1); i < tasks_.size(); i = next.fetch_add(1)) tasks_[i]();
    };
    const size_t helpers =
        threads <= 1 || tasks_.size() <= 1
            ? 0
            : std::min<size_t>(static_cast<size_t>(threads) - 1, tasks_.size() - 1);
    std::vector<std::thread> pool;
    pool.reserve(helpers);
    for (size_t i = 0; i < helpers; ++i) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    tasks_.clear();
  }

 private:
  std::vector<std::function<void()>> tasks_;
};

}  // namespace taskdex::engine_internal

#endif  // TASKDEX_ENGINE_INTERNAL_TASK_GROUP_H_
