// engine/like_cache.cc

#include "engine/like_cache.h"

namespace taskdex {

std::shared_ptr<const CodeSet> LikeCache::FindCodes(const void* column,
                                                      std::string_view pattern) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(Key(column, std::string(pattern)));
  return it == map_.end() ? nullptr : it->second.codes;
}

std::shared_ptr<const Bitmap> LikeCache::FindRows(const void* column,
                                                  std::string_view pattern) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(Key(column, std::string(pattern)));
  return it == map_.end() ? nullptr : it->second.rows;
}

void LikeCache::PutCodes(const void* column, std::string_view pattern,
                         std::shared_ptr<const CodeSet> codes) {
  const size_t add = codes->MemoryBytes() + pattern.size() + 64;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = map_.try_emplace(Key(column, std::string(pattern)));
  if (inserted) order_.push_back(it->first);
  if (it->second.codes) return;  // another thread was first
  it->second.codes = std::move(codes);
  it->second.bytes += add;
  bytes_ += add;
  EvictLocked();
}

void LikeCache::PutRows(const void* column, std::string_view pattern,
                        std::shared_ptr<const Bitmap> rows) {
  const size_t add = rows->getSizeInBytes() + pattern.size() + 64;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = map_.try_emplace(Key(column, std::string(pattern)));
  if (inserted) order_.push_back(it->first);
  if (it->second.rows) return;
  it->second.rows = std::move(rows);
  it->second.bytes += add;
  bytes_ += add;
  EvictLocked();
}

void LikeCache::EvictLocked() {
  while ((map_.size() > kMaxEntries || bytes_ > kMaxBytes) && order_.size() > 1) {
    auto it = map_.find(order_.front());
    order_.pop_front();
    if (it == map_.end()) continue;
    bytes_ -= it->second.bytes;
    map_.erase(it);
  }
}

size_t LikeCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

size_t LikeCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace taskdex
