// Buffers for column chunks and decompressed pages, recycled through a pool: a large buffer that
// is freed and allocated again costs the kernel a page fault and a zeroed page for every 4 KiB
// (glibc maps allocations this large afresh each time), which was a fifth of reading a file.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

namespace salvo::parquet {

class PageBufferPool;

// Frees a buffer, or gives it back to the pool it came from.
struct PageBufferDeleter {
  std::shared_ptr<PageBufferPool> pool;
  size_t capacity = 0;
  void operator()(char* data) const;
};

// An uninitialised byte buffer owned by one holder (a page's values, a column chunk).
using PageBuffer = std::unique_ptr<char[], PageBufferDeleter>;

// A buffer of at least `size` bytes: from `pool` when there is one (it may be reused memory),
// otherwise newly allocated.
PageBuffer allocate_page_buffer(size_t size, const std::shared_ptr<PageBufferPool>& pool = nullptr);

// Keeps freed buffers of 1 MiB and more, up to `max_idle_bytes` in all, and hands them out again
// (the smallest one that fits and is less than twice the size asked for). Thread-safe; a buffer
// keeps its pool alive, so buffers may outlive whoever made the pool. Make it with std::make_shared.
class PageBufferPool : public std::enable_shared_from_this<PageBufferPool> {
 public:
  static constexpr size_t kMinPooledBytes = size_t{1} << 20;

  explicit PageBufferPool(size_t max_idle_bytes) : max_idle_bytes_(max_idle_bytes) {}
  ~PageBufferPool();
  PageBufferPool(const PageBufferPool&) = delete;
  PageBufferPool& operator=(const PageBufferPool&) = delete;

  PageBuffer acquire(size_t size);
  // Bytes of the buffers waiting to be reused.
  size_t idle_bytes() const;

 private:
  friend struct PageBufferDeleter;
  void give_back(char* data, size_t capacity);

  const size_t max_idle_bytes_;
  mutable std::mutex mutex_;
  std::multimap<size_t, char*> idle_;  // capacity -> buffer
  size_t idle_bytes_ = 0;
};

}  // namespace salvo::parquet
