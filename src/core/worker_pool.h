// A fixed set of threads serving one bounded queue of tasks. Each thread owns a State made on that
// thread when it starts (a model replica with its scratch, a tokenizer buffer, nothing), and every
// task it runs gets that State.
//
// post() blocks while the queue is full: that is the backpressure callers feel. Tasks must not
// throw (they carry their errors to whoever waits on them); a task that throws anyway ends the
// process, as a bug would.
#pragma once

#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "core/bounded_queue.h"

namespace salvo {

template <typename State>
class WorkerPool {
 public:
  using Task = std::function<void(State&)>;

  // Starts `threads` workers; each calls make_state() on its own thread before taking tasks.
  WorkerPool(int threads, size_t queue_capacity, std::function<State()> make_state)
      : queue_(queue_capacity) {
    workers_.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, make_state] {
        State state = make_state();
        while (auto task = queue_.pop()) (*task)(state);
      });
    }
  }

  // Runs what is queued, then joins the workers.
  ~WorkerPool() { close(); }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a task; blocks while the queue is full. False once the pool is closed.
  bool post(Task task) { return queue_.push(std::move(task)); }

  // No more tasks are accepted; the workers finish what is queued and exit. Idempotent.
  void close() {
    queue_.close();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
  }

  int size() const { return static_cast<int>(workers_.size()); }

 private:
  BoundedQueue<Task> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace salvo
