#include "engine/tombstones.h"

#include <algorithm>

namespace taskdex {

std::shared_ptr<const OrderInverse> OrderInverse::Of(const Store& store) {
  auto out = std::make_shared<OrderInverse>();
  const uint32_t n = store.task_runs.size();
  for (int s = 0; s < kNumTaskRunSorts; ++s) {
    const SortedOrder& order = store.task_run_index.OrderFor(static_cast<TaskRunSort>(s));
    std::vector<uint32_t>& pos = out->position[s];
    pos.assign(n, UINT32_MAX);  // a row an unbuilt order lacks has no position
    uint32_t p = 0;
    order.ForEach(0, order.size(), [&](RowId r) {
      if (r < n) pos[r] = p;
      ++p;
      return true;
    });
  }
  return out;
}

size_t OrderInverse::MemoryBytes() const {
  size_t n = sizeof(*this);
  for (const std::vector<uint32_t>& p : position) n += p.capacity() * sizeof(uint32_t);
  return n;
}

std::shared_ptr<const DeadPositions> DeadPositions::With(const DeadPositions* old,
                                                         const OrderInverse& inverse,
                                                         const Bitmap& rows) {
  auto out = std::make_shared<DeadPositions>();
  if (old != nullptr) out->by_sort = old->by_sort;
  std::vector<uint32_t> add;
  add.reserve(rows.cardinality());
  for (int s = 0; s < kNumTaskRunSorts; ++s) {
    const std::vector<uint32_t>& pos = inverse.position[s];
    add.clear();
    ForEachRow(rows, [&](RowId r) {
      if (r < pos.size() && pos[r] != UINT32_MAX) add.push_back(pos[r]);
    });
    std::sort(add.begin(), add.end());
    out->by_sort[s].addMany(add.size(), add.data());
    out->by_sort[s].runOptimize();
  }
  return out;
}

size_t DeadPositions::MemoryBytes() const {
  size_t n = sizeof(*this);
  for (const Bitmap& b : by_sort) n += b.getSizeInBytes();
  return n;
}

}  // namespace taskdex
