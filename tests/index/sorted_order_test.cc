// tests/index/sorted_order_test.cc

#include "index/sorted_order.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

constexpr int64_t kNull = INT64_MIN;

struct TestKeys {
  std::vector<int64_t> key;
  std::vector<uint64_t> id;  // unique tie-break, descending
  int64_t Key(RowId r) const { return key[r]; }
  bool IsNull(RowId r) const { return key[r] == kNull; }
  bool TieBefore(RowId a, RowId b) const { return id[a] > id[b]; }
};

// The order by brute force: full sort with an explicit comparator.
std::vector<RowId> Expected(const TestKeys& k, const std::vector<RowId>& rows,
                            SortedOrder::Options o) {
  std::vector<RowId> out = rows;
  std::sort(out.begin(), out.end(), [&](RowId a, RowId b) {
    const bool na = k.IsNull(a), nb = k.IsNull(b);
    if (na != nb) return o.nulls_first ? na : nb;
    if (!na && k.key[a] != k.key[b]) return o.descending ? k.key[a] > k.key[b] : k.key[a] < k.key[b];
    return k.id[a] > k.id[b];
  });
  return out;
}

TestKeys RandomKeys(std::mt19937& rng, uint32_t n) {
  TestKeys k;
  for (uint32_t r = 0; r < n; ++r) {
    k.key.push_back(rng() % 5 == 0 ? kNull : static_cast<int64_t>(rng() % 50) - 25);
    k.id.push_back((uint64_t{rng()} << 32) | r);
  }
  return k;
}

class SortedOrderTest : public ::testing::TestWithParam<int> {
 protected:
  SortedOrder::Options Opts() const {
    return SortedOrder::Options{(GetParam() & 1) != 0, (GetParam() & 2) != 0};
  }
};

TEST_P(SortedOrderTest, BuildRangeAndPosition) {
  std::mt19937 rng(GetParam() + 1);
  const TestKeys k = RandomKeys(rng, 500);
  SortedOrder order(Opts());
  order.Build(500, k);
  std::vector<RowId> all(500);
  for (RowId r = 0; r < 500; ++r) all[r] = r;
  const std::vector<RowId> want = Expected(k, all, Opts());
  ASSERT_EQ(order.Rows(), want);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(order.Position(want[i], k), i);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t lo = static_cast<int64_t>(rng() % 60) - 30;
    const int64_t hi = static_cast<int64_t>(rng() % 60) - 30;
    auto [first, last] = order.Range(lo, hi, k);
    Bitmap got = order.RowsAt(first, last);
    Bitmap expect;
    for (RowId r = 0; r < 500; ++r) {
      if (!k.IsNull(r) && k.key[r] >= lo && k.key[r] <= hi) expect.add(r);
    }
    EXPECT_EQ(got, expect) << lo << ".." << hi;
  }
}

// NthNotIn and ForEachNotIn against ForEach filtered by contains.
TEST_P(SortedOrderTest, WalksSkippingPositionsMatchAFilteredWalk) {
  std::mt19937 rng(GetParam() + 11);
  const uint32_t n = 3000;
  const TestKeys k = RandomKeys(rng, n);
  SortedOrder order(Opts());
  order.Build(n, k);
  for (int density : {0, 1, 10, 60, 100}) {
    Bitmap skip;
    for (uint32_t p = 0; p < n; ++p) {
      // Clustered at the head, as a live cache's tombstones are.
      const int d = p < n / 4 ? std::min(100, density * 3) : density;
      if (static_cast<int>(rng() % 100) < d) skip.add(p);
    }
    std::vector<RowId> kept;
    for (uint32_t p = 0; p < n; ++p) {
      if (!skip.contains(p)) kept.push_back(order.At(p));
    }
    for (size_t rank : {size_t{0}, size_t{1}, size_t{7}, kept.size() / 2, kept.size() - 1,
                        kept.size(), kept.size() + 5}) {
      if (rank > kept.size() + 5) continue;
      const size_t p = order.NthNotIn(rank, skip);
      if (rank >= kept.size()) {
        EXPECT_EQ(p, order.size()) << "density " << density << " rank " << rank;
        continue;
      }
      ASSERT_LT(p, order.size());
      EXPECT_FALSE(skip.contains(static_cast<uint32_t>(p)));
      EXPECT_EQ(order.At(p), kept[rank]) << "density " << density << " rank " << rank;
      // The walk from there, cut after 25 rows, and to the end.
      std::vector<RowId> got;
      const size_t end = order.ForEachNotIn(p, n, skip, [&](RowId r) {
        got.push_back(r);
        return got.size() < 25;
      });
      const size_t want_n = std::min<size_t>(25, kept.size() - rank);
      ASSERT_EQ(got.size(), want_n);
      EXPECT_TRUE(std::equal(got.begin(), got.end(), kept.begin() + static_cast<ptrdiff_t>(rank)));
      if (want_n == 25) {
        EXPECT_EQ(order.At(end - 1), got.back());
      }
      got.clear();
      EXPECT_EQ(order.ForEachNotIn(p, n, skip, [&](RowId r) {
        got.push_back(r);
        return true;
      }), n);
      EXPECT_TRUE(std::equal(got.begin(), got.end(), kept.begin() + static_cast<ptrdiff_t>(rank),
                             kept.end()));
    }
  }
}

TEST_P(SortedOrderTest, InsertsAndErasesMatchRebuild) {
  std::mt19937 rng(GetParam() + 100);
  const uint32_t n = 400;
  TestKeys k = RandomKeys(rng, n);
  std::vector<bool> present(n, true);
  SortedOrder live(Opts());
  live.Build(n, k);
  for (int step = 0; step < 600; ++step) {
    const RowId r = rng() % n;
    if (present[r]) {
      ASSERT_TRUE(live.Erase(r, k));
      present[r] = false;
      if (rng() % 2 == 0) {  // update: new key, re-insert
        k.key[r] = rng() % 4 == 0 ? kNull : static_cast<int64_t>(rng() % 50) - 25;
        live.Insert(r, k);
        present[r] = true;
      }
    } else {
      EXPECT_FALSE(live.Erase(r, k));
      live.Insert(r, k);
      present[r] = true;
    }
  }
  std::vector<RowId> rows;
  for (RowId r = 0; r < n; ++r) {
    if (present[r]) rows.push_back(r);
  }
  EXPECT_EQ(live.Rows(), Expected(k, rows, Opts()));
}

// ForEachBackward visits the positions of ForEach in reverse, stops where f
// says, over a clean order and over one with pending changes.
TEST_P(SortedOrderTest, BackwardWalkIsTheForwardWalkReversed) {
  std::mt19937 rng(GetParam() + 300);
  const uint32_t n = 500;
  TestKeys k = RandomKeys(rng, n);
  SortedOrder order(Opts());
  order.Build(n, k);
  for (int pending : {0, 1}) {
    if (pending == 1) {
      for (RowId r = 0; r < n; r += 7) ASSERT_TRUE(order.Erase(r, k));
      for (RowId r = 0; r < n; r += 14) order.Insert(r, k);
      ASSERT_GT(order.pending(), 0u);
    }
    const std::vector<RowId> rows = order.Rows();
    for (size_t first : {size_t{0}, size_t{3}, rows.size() / 2}) {
      for (size_t last : {rows.size(), rows.size() - 1, rows.size() / 2 + 5}) {
        std::vector<RowId> got;
        EXPECT_EQ(order.ForEachBackward(first, last, [&](RowId r) {
          got.push_back(r);
          return true;
        }), first);
        std::vector<RowId> want(rows.begin() + static_cast<ptrdiff_t>(first),
                                rows.begin() + static_cast<ptrdiff_t>(std::max(first, last)));
        std::reverse(want.begin(), want.end());
        EXPECT_EQ(got, want) << "pending " << pending << " [" << first << ", " << last << ")";
        // Stopped after 10 rows: returns the position of the last one visited.
        got.clear();
        const size_t stop = order.ForEachBackward(first, last, [&](RowId r) {
          got.push_back(r);
          return got.size() < 10;
        });
        if (want.size() >= 10) {
          EXPECT_EQ(stop, last - 10);
          EXPECT_EQ(order.At(stop), got.back());
        }
      }
    }
  }
}

// Reads while changes are pending (delta + deleted positions) and across
// compactions: Rows, At, Position, Range, ForEach and RowsAt must match the
// order rebuilt from scratch after every batch of changes.
TEST_P(SortedOrderTest, ReadsMergePendingChangesAndCompactions) {
  std::mt19937 rng(GetParam() + 7);
  const uint32_t n = 3000;
  TestKeys k = RandomKeys(rng, n);
  std::vector<bool> present(n, true);
  SortedOrder live(Opts());
  live.Build(n, k);
  bool saw_pending = false;
  bool saw_compaction = false;
  size_t last_pending = 0;
  for (int batch = 0; batch < 40; ++batch) {
    for (int step = 0; step < 150; ++step) {
      const RowId r = rng() % n;
      if (present[r]) {
        ASSERT_TRUE(live.Erase(r, k));
        present[r] = false;
        if (rng() % 3 != 0) {  // update: new key, re-insert
          k.key[r] = rng() % 4 == 0 ? kNull : static_cast<int64_t>(rng() % 50) - 25;
          live.Insert(r, k);
          present[r] = true;
        }
      } else {
        ASSERT_FALSE(live.Erase(r, k));
        live.Insert(r, k);
        present[r] = true;
      }
      if (live.pending() + 500 < last_pending) saw_compaction = true;
      last_pending = live.pending();
    }
    saw_pending = saw_pending || live.pending() > 0;
    std::vector<RowId> rows;
    for (RowId r = 0; r < n; ++r) {
      if (present[r]) rows.push_back(r);
    }
    const std::vector<RowId> want = Expected(k, rows, Opts());
    ASSERT_EQ(live.size(), want.size());
    ASSERT_EQ(live.Rows(), want) << "batch " << batch;
    for (int probe = 0; probe < 100; ++probe) {
      const size_t i = rng() % want.size();
      ASSERT_EQ(live.At(i), want[i]) << i;
      ASSERT_EQ(live.Position(want[i], k), i);
      const size_t j = std::min(want.size(), i + rng() % 40);
      std::vector<RowId> walked;
      const size_t end = live.ForEach(i, j, [&](RowId row) {
        walked.push_back(row);
        return walked.size() < 25;
      });
      const size_t stop = std::min(j, i + 25);
      EXPECT_EQ(end, stop);
      EXPECT_EQ(walked, std::vector<RowId>(want.begin() + static_cast<ptrdiff_t>(i),
                                           want.begin() + static_cast<ptrdiff_t>(stop)));
    }
    for (int trial = 0; trial < 10; ++trial) {
      const int64_t lo = static_cast<int64_t>(rng() % 60) - 30;
      const int64_t hi = static_cast<int64_t>(rng() % 60) - 30;
      auto [first, last] = live.Range(lo, hi, k);
      Bitmap expect;
      for (RowId r : rows) {
        if (!k.IsNull(r) && k.key[r] >= lo && k.key[r] <= hi) expect.add(r);
      }
      EXPECT_EQ(live.RowsAt(first, last), expect) << lo << ".." << hi;
    }
  }
  EXPECT_TRUE(saw_pending);
  EXPECT_TRUE(saw_compaction);
  live.Compact();
  EXPECT_EQ(live.pending(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllPlacements, SortedOrderTest, ::testing::Values(0, 1, 2, 3));

}  // namespace
}  // namespace taskdex
