// Memory for the encoder's large arrays: packed weights and per-thread activations.
//
// Blocks of 256 KiB or more are mappings of their own (mmap), so freeing one returns its memory
// to the system at once. Once glibc's adaptive mmap threshold has risen (it does when a block it
// mapped itself is freed, as a checkpoint's float32 tensors are), malloc serves blocks up to
// 32 MiB from its per-thread heaps: bf16 and int8 weights packed there sat between the float32
// tensors freed after their conversion, which then stayed resident (28-73 MiB of peak RSS for
// MiniLM; docs/benchmarks.md, "Peak memory against input size"). Blocks of 2 MiB or more are
// also aligned to 2 MiB and offered to the kernel as transparent huge pages (madvise; Debian's
// default THP mode is "madvise", so nothing is huge unless asked): one TLB entry then maps 2 MiB
// instead of 4 KiB, and a first batch faults its activations in 2 MiB at a time. Smaller blocks
// come from malloc, 64-byte aligned, and so do all under AddressSanitizer, which then still
// catches overruns. Contents start unset.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace salvo {

// At least `bytes` bytes; throws std::bad_alloc. Give it back with free_large(p, bytes).
void* allocate_large(size_t bytes);
void free_large(void* p, size_t bytes) noexcept;

// How many bytes from the start of a block of `bytes` allocate_large advises as huge pages: the
// whole 2 MiB pages it fills. A tail page would be faulted in whole, so a weight of 2.4 MB would
// take 4 MiB; its last 0.4 MB stays in small pages instead.
size_t huge_page_advice(size_t bytes);

struct FreeLarge {
  size_t bytes = 0;  // as given to allocate_large
  void operator()(void* p) const noexcept { free_large(p, bytes); }
};

// An owned block from allocate_large, typed.
template <typename T>
using LargeArray = std::unique_ptr<T[], FreeLarge>;

template <typename T>
LargeArray<T> allocate_large_array(size_t count) {
  const size_t bytes = count * sizeof(T);
  return LargeArray<T>(static_cast<T*>(allocate_large(bytes)), FreeLarge{bytes});
}

// A float buffer that grows without filling its new part, for steps that write what they later
// read. A 32 x 128 batch of MiniLM takes about 40 MB of scratch; std::vector's resize had one
// thread fault in and zero all of it while the others waited.
class ScratchBuffer {
 public:
  // At least n floats; the previous contents are not kept when it grows.
  float* grow(size_t n) {
    if (n > size_) {
      data_.reset();
      data_ = allocate_large_array<float>(n);
      size_ = n;
    }
    return data_.get();
  }

 private:
  LargeArray<float> data_;
  size_t size_ = 0;
};

}  // namespace salvo
