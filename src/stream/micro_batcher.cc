#include "stream/micro_batcher.h"

#include <algorithm>

namespace salvo {

MicroBatcher::MicroBatcher(size_t max_rows, size_t max_tokens, std::chrono::milliseconds max_wait)
    : max_rows_(std::max<size_t>(1, max_rows)), max_tokens_(std::max<size_t>(1, max_tokens)), max_wait_(max_wait) {}

bool MicroBatcher::push(StreamRequest request) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  queue_.push_back(std::move(request));
  arrived_.notify_one();
  return true;
}

bool MicroBatcher::next(std::vector<StreamRequest>* batch) {
  batch->clear();
  std::unique_lock lock(mutex_);
  arrived_.wait(lock, [&] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  const auto deadline = queue_.front().consumed + max_wait_;
  size_t tokens = 0;
  for (;;) {
    while (!queue_.empty()) {
      const size_t next_tokens = queue_.front().tokens();
      if (!batch->empty() && tokens + next_tokens > max_tokens_) return true;
      tokens += next_tokens;
      batch->push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (batch->size() >= max_rows_ || tokens >= max_tokens_) return true;
    }
    if (closed_) return true;
    if (arrived_.wait_until(lock, deadline, [&] { return closed_ || !queue_.empty(); })) continue;
    return true;
  }
}

void MicroBatcher::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  arrived_.notify_all();
}

size_t MicroBatcher::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace salvo
