#include "io/parquet/row_group_scheduler.h"

#include <algorithm>

namespace salvo::parquet {
namespace {

// Every unit is charged at least this much, so that units estimated at nothing (empty row
// groups, tiny files each holding an open file) cannot pile up without bound.
constexpr uint64_t kMinUnitBytes = 1u << 20;

}  // namespace

class RowGroupScheduler::Spawner final : public TaskSpawner {
 public:
  Spawner(RowGroupScheduler* scheduler, std::shared_ptr<UnitState> state)
      : scheduler_(scheduler), state_(std::move(state)) {}

  void spawn(Task task) override {
    std::lock_guard lock(scheduler_->mutex_);
    scheduler_->push(state_, std::move(task));
  }

 private:
  RowGroupScheduler* scheduler_;
  std::shared_ptr<UnitState> state_;
};

RowGroupScheduler::RowGroupScheduler(int threads, uint64_t budget_bytes, Producer producer)
    : budget_bytes_(budget_bytes), producer_(std::move(producer)) {
  const int n = std::max(1, threads);
  workers_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) workers_.emplace_back(&RowGroupScheduler::work, this);
}

RowGroupScheduler::~RowGroupScheduler() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    while (!queue_.empty()) queue_.pop();
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void RowGroupScheduler::push(const std::shared_ptr<UnitState>& state, TaskSpawner::Task task) {
  ++state->pending;
  queue_.push({state->seq, next_order_++, state, std::move(task)});
  work_ready_.notify_one();
}

void RowGroupScheduler::work() {
  for (;;) {
    QueuedTask item;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      // top() is const; moving out leaves the ordering keys (plain integers) as they were, and
      // the element is popped right away.
      item = std::move(const_cast<QueuedTask&>(queue_.top()));
      queue_.pop();
      if (item.state->error) {
        // The unit already failed: its remaining tasks are skipped.
        lock.unlock();
        task_returned(item.state);
        continue;
      }
    }
    try {
      Spawner spawner(this, item.state);
      item.task(spawner);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!item.state->error) item.state->error = std::current_exception();
    }
    item.task = nullptr;  // what the task captured goes now, not with the next task
    task_returned(item.state);
  }
}

void RowGroupScheduler::task_returned(const std::shared_ptr<UnitState>& state) {
  std::unique_lock lock(mutex_);
  if (--state->pending > 0) return;
  if (!state->error) {
    lock.unlock();
    try {
      state->unit->finish();
    } catch (...) {
      lock.lock();
      state->error = std::current_exception();
      lock.unlock();
    }
    lock.lock();
  }
  state->done = true;
  unit_done_.notify_all();
}

void RowGroupScheduler::admit(std::unique_lock<std::mutex>& lock) {
  while (!produced_all_) {
    if (!waiting_) {
      lock.unlock();
      std::shared_ptr<ScheduledUnit> unit;
      std::exception_ptr error;
      try {
        unit = producer_();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error || !unit) {
        produced_all_ = true;
        if (error) {
          // Handed out in its place, after the units made before it.
          auto state = std::make_shared<UnitState>();
          state->seq = next_seq_++;
          state->done = true;
          state->error = error;
          ahead_.push_back(std::move(state));
        }
        return;
      }
      waiting_ = std::move(unit);
    }
    const uint64_t bytes = std::max(waiting_->estimated_bytes(), kMinUnitBytes);
    if (bytes_ahead_ > 0 && bytes_ahead_ + bytes > budget_bytes_) return;
    auto state = std::make_shared<UnitState>();
    state->unit = std::move(waiting_);
    state->seq = next_seq_++;
    state->bytes = bytes;
    bytes_ahead_ += bytes;
    peak_bytes_ = std::max(peak_bytes_, bytes_ahead_);
    ahead_.push_back(state);
    peak_units_ = std::max(peak_units_, ahead_.size());
    ScheduledUnit* unit = state->unit.get();
    push(state, [unit](TaskSpawner& spawner) { unit->start(spawner); });
  }
}

std::shared_ptr<ScheduledUnit> RowGroupScheduler::next() {
  std::unique_lock lock(mutex_);
  admit(lock);
  if (ahead_.empty()) return nullptr;
  std::shared_ptr<UnitState> front = ahead_.front();
  unit_done_.wait(lock, [&] { return front->done; });
  ahead_.pop_front();
  bytes_ahead_ -= front->bytes;
  // Start what the freed budget allows before the caller works on this unit.
  admit(lock);
  if (front->error) std::rethrow_exception(front->error);
  return std::move(front->unit);
}

uint64_t RowGroupScheduler::peak_bytes_ahead() const {
  std::lock_guard lock(mutex_);
  return peak_bytes_;
}

size_t RowGroupScheduler::peak_units_ahead() const {
  std::lock_guard lock(mutex_);
  return peak_units_;
}

}  // namespace salvo::parquet
