// Which consumed offsets are still waiting for their response, per partition, and so which offset
// may be committed: only one below which every request has been answered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

namespace salvo {

// A partition's next offset to commit (Kafka's convention: the first offset not yet done).
struct PartitionCommit {
  int32_t partition = 0;
  int64_t offset = 0;
};

// Thread-safe. Each assignment of a partition gets a new generation: work started under an older
// one (before a revocation) is ignored when it finishes, so it can never be committed.
class OffsetTracker {
 public:
  // Starts tracking `partition` and returns its generation.
  uint64_t assign(int32_t partition);
  // Stops tracking `partition`; its pending work is abandoned uncommitted.
  void revoke(int32_t partition);
  // Whether work of `generation` on `partition` still counts.
  bool live(int32_t partition, uint64_t generation) const;

  // Records a consumed offset as in flight. False (nothing recorded) when the generation is stale.
  bool add(int32_t partition, uint64_t generation, int64_t offset);
  // Marks an offset answered (response acknowledged). Stale generations are ignored.
  void done(int32_t partition, uint64_t generation, int64_t offset);

  // Offsets that advanced since the last call (for the given partitions, or all when empty):
  // per partition, the lowest in-flight offset, or one past the highest consumed when none is.
  std::vector<PartitionCommit> take_commits(const std::vector<int32_t>& partitions = {});
  // Puts commits back after a failed commit so that the next take_commits() returns them again.
  void commit_failed(const std::vector<PartitionCommit>& commits);

  // Requests in flight over all partitions, or on the given ones.
  size_t in_flight() const;
  size_t in_flight(const std::vector<int32_t>& partitions) const;
  // Waits until nothing is in flight on `partitions` or the timeout passes; true when drained.
  bool wait_drained(const std::vector<int32_t>& partitions, std::chrono::milliseconds timeout);

  // The next offset to commit for `partition` as of now (-1 when nothing was consumed yet).
  int64_t committable(int32_t partition) const;

 private:
  struct Partition {
    uint64_t generation = 0;
    std::set<int64_t> pending;
    int64_t highest = -1;    // highest offset consumed under this generation
    int64_t committed = -1;  // last offset handed out by take_commits
  };
  static int64_t next_commit(const Partition& p);
  size_t in_flight_locked(const std::vector<int32_t>& partitions) const;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int32_t, Partition> partitions_;
  uint64_t next_generation_ = 1;
  size_t total_in_flight_ = 0;
};

}  // namespace salvo
