#include "io/parquet/page_buffer.h"

namespace salvo::parquet {

void PageBufferDeleter::operator()(char* data) const {
  if (data == nullptr) return;
  if (pool) {
    pool->give_back(data, capacity);
  } else {
    delete[] data;
  }
}

PageBuffer allocate_page_buffer(size_t size, const std::shared_ptr<PageBufferPool>& pool) {
  if (pool && size >= PageBufferPool::kMinPooledBytes) return pool->acquire(size);
  const size_t capacity = size == 0 ? 1 : size;
  return PageBuffer(new char[capacity], PageBufferDeleter{nullptr, capacity});
}

PageBufferPool::~PageBufferPool() {
  for (auto& [capacity, data] : idle_) delete[] data;
}

PageBuffer PageBufferPool::acquire(size_t size) {
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.lower_bound(size);
    if (it != idle_.end() && it->first / 2 < size) {
      const size_t capacity = it->first;
      char* data = it->second;
      idle_.erase(it);
      idle_bytes_ -= capacity;
      return PageBuffer(data, PageBufferDeleter{shared_from_this(), capacity});
    }
  }
  // Rounded up to whole MiB, so that the next row group's slightly larger page still fits.
  const size_t capacity = (size + kMinPooledBytes - 1) / kMinPooledBytes * kMinPooledBytes;
  return PageBuffer(new char[capacity], PageBufferDeleter{shared_from_this(), capacity});
}

void PageBufferPool::give_back(char* data, size_t capacity) {
  {
    std::lock_guard lock(mutex_);
    if (idle_bytes_ + capacity <= max_idle_bytes_) {
      idle_.emplace(capacity, data);
      idle_bytes_ += capacity;
      return;
    }
  }
  delete[] data;
}

size_t PageBufferPool::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return idle_bytes_;
}

}  // namespace salvo::parquet
