// Decodes row groups ahead of their reader on a fixed set of threads: several row groups at once,
// each split into tasks (its column chunks, then their pages), within a budget of decoded bytes,
// handed out strictly in order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace salvo::parquet {

class TaskSpawner;

// One unit of work (a row group): started on a worker thread, it may split itself into more
// tasks with TaskSpawner; it is complete when every one of its tasks has returned and finish()
// has run. Tasks of one unit run concurrently and must not share writable state without care
// (e.g. each page task writes its own slot).
class ScheduledUnit {
 public:
  virtual ~ScheduledUnit() = default;
  // Decoded bytes the unit is expected to hold once complete. The scheduler charges them against
  // its budget from the moment it starts the unit until next() hands the unit out.
  virtual uint64_t estimated_bytes() const = 0;
  // The unit's first task.
  virtual void start(TaskSpawner& spawner) = 0;
  // Runs once after every task returned without an error, on the worker that ran the last one.
  virtual void finish() {}
};

// Adds tasks to the unit whose task is running.
class TaskSpawner {
 public:
  using Task = std::function<void(TaskSpawner&)>;
  virtual void spawn(Task task) = 0;

 protected:
  ~TaskSpawner() = default;
};

// Runs ScheduledUnits on `threads` worker threads and hands them out in the order the producer
// made them. Units are started while the bytes of the units started and not yet handed out stay
// within `budget_bytes` (one unit is always allowed, however large, so progress never stops);
// tasks of earlier units run first. The producer and next() run on one thread, the consumer's.
// A unit that throws (in any task, or in finish()) is handed out as that exception, in its
// place: next() rethrows it after the units before it. So does an exception from the producer.
class RowGroupScheduler {
 public:
  // Makes the next unit in order, or returns null at the end. Called from next() only.
  using Producer = std::function<std::shared_ptr<ScheduledUnit>()>;

  RowGroupScheduler(int threads, uint64_t budget_bytes, Producer producer);
  // Stops the workers: tasks not yet started are dropped, running ones finish first.
  ~RowGroupScheduler();
  RowGroupScheduler(const RowGroupScheduler&) = delete;
  RowGroupScheduler& operator=(const RowGroupScheduler&) = delete;

  // The next unit in order, once complete; null at the end. Rethrows a unit's error in its place.
  std::shared_ptr<ScheduledUnit> next();

  // The most bytes that were charged at once (started, not yet handed out): for tests.
  uint64_t peak_bytes_ahead() const;
  // The most units that were started and not yet handed out at once: for tests.
  size_t peak_units_ahead() const;

 private:
  struct UnitState {
    std::shared_ptr<ScheduledUnit> unit;
    uint64_t seq = 0;
    uint64_t bytes = 0;
    size_t pending = 0;  // tasks queued or running
    bool done = false;
    std::exception_ptr error;
  };
  struct QueuedTask {
    uint64_t seq;    // the unit's: earlier units first
    uint64_t order;  // then first in, first out
    std::shared_ptr<UnitState> state;
    TaskSpawner::Task task;
  };
  struct Later {
    bool operator()(const QueuedTask& a, const QueuedTask& b) const {
      return a.seq != b.seq ? a.seq > b.seq : a.order > b.order;
    }
  };
  class Spawner;

  void work();
  // Starts units while the budget allows. Called by the consumer with `lock` held; unlocks it
  // around the producer.
  void admit(std::unique_lock<std::mutex>& lock);
  void push(const std::shared_ptr<UnitState>& state, TaskSpawner::Task task);  // mutex_ held
  void task_returned(const std::shared_ptr<UnitState>& state);

  const uint64_t budget_bytes_;
  Producer producer_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable unit_done_;
  std::priority_queue<QueuedTask, std::vector<QueuedTask>, Later> queue_;
  std::deque<std::shared_ptr<UnitState>> ahead_;  // started, in order, not yet handed out
  std::shared_ptr<ScheduledUnit> waiting_;        // made by the producer, not yet started
  uint64_t next_seq_ = 0;
  uint64_t next_order_ = 0;
  uint64_t bytes_ahead_ = 0;
  uint64_t peak_bytes_ = 0;
  size_t peak_units_ = 0;
  bool produced_all_ = false;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace salvo::parquet
