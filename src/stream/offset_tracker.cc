#include "stream/offset_tracker.h"

#include <algorithm>

namespace salvo {

uint64_t OffsetTracker::assign(int32_t partition) {
  std::lock_guard lock(mutex_);
  Partition& p = partitions_[partition];
  total_in_flight_ -= p.pending.size();
  p = Partition{};
  p.generation = next_generation_++;
  return p.generation;
}

void OffsetTracker::revoke(int32_t partition) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  total_in_flight_ -= it->second.pending.size();
  partitions_.erase(it);
  changed_.notify_all();
}

bool OffsetTracker::live(int32_t partition, uint64_t generation) const {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  return it != partitions_.end() && it->second.generation == generation;
}

bool OffsetTracker::add(int32_t partition, uint64_t generation, int64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.generation != generation) return false;
  Partition& p = it->second;
  if (p.pending.insert(offset).second) ++total_in_flight_;
  p.highest = std::max(p.highest, offset);
  return true;
}

void OffsetTracker::done(int32_t partition, uint64_t generation, int64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.generation != generation) return;
  if (it->second.pending.erase(offset)) --total_in_flight_;
  changed_.notify_all();
}

int64_t OffsetTracker::next_commit(const Partition& p) {
  if (p.highest < 0) return -1;
  return p.pending.empty() ? p.highest + 1 : *p.pending.begin();
}

std::vector<PartitionCommit> OffsetTracker::take_commits(const std::vector<int32_t>& partitions) {
  std::lock_guard lock(mutex_);
  std::vector<PartitionCommit> commits;
  for (auto& [id, p] : partitions_) {
    if (!partitions.empty() && std::find(partitions.begin(), partitions.end(), id) == partitions.end()) continue;
    const int64_t next = next_commit(p);
    if (next > p.committed) {
      p.committed = next;
      commits.push_back({id, next});
    }
  }
  return commits;
}

void OffsetTracker::commit_failed(const std::vector<PartitionCommit>& commits) {
  std::lock_guard lock(mutex_);
  for (const auto& c : commits) {
    auto it = partitions_.find(c.partition);
    if (it != partitions_.end() && it->second.committed == c.offset) it->second.committed = -1;
  }
}

size_t OffsetTracker::in_flight() const {
  std::lock_guard lock(mutex_);
  return total_in_flight_;
}

size_t OffsetTracker::in_flight_locked(const std::vector<int32_t>& partitions) const {
  size_t n = 0;
  for (int32_t id : partitions) {
    if (auto it = partitions_.find(id); it != partitions_.end()) n += it->second.pending.size();
  }
  return n;
}

size_t OffsetTracker::in_flight(const std::vector<int32_t>& partitions) const {
  std::lock_guard lock(mutex_);
  return in_flight_locked(partitions);
}

bool OffsetTracker::wait_drained(const std::vector<int32_t>& partitions, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return in_flight_locked(partitions) == 0; });
}

int64_t OffsetTracker::committable(int32_t partition) const {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? -1 : next_commit(it->second);
}

}  // namespace salvo
