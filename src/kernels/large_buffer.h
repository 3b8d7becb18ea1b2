// Memory for the encoder's large arrays: packed weights and per-thread activations.
//
// Blocks of 2 MiB or more are aligned to 2 MiB and offered to the kernel as transparent huge
// pages (madvise; Debian's default THP mode is "madvise", so nothing is huge unless asked). One
// TLB entry then maps 2 MiB instead of 4 KiB, and a first batch faults its activations in 2 MiB
// at a time. Smaller blocks are 64-byte aligned. Contents start unset.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace salvo {

// At least `bytes` bytes; throws std::bad_alloc.
void* allocate_large(size_t bytes);

// How many bytes from the start of a block of `bytes` allocate_large advises as huge pages: the
// whole 2 MiB pages it fills. A tail page would be faulted in whole, so a weight of 2.4 MB would
// take 4 MiB; its last 0.4 MB stays in small pages instead.
size_t huge_page_advice(size_t bytes);

struct FreeLarge {
  void operator()(void* p) const noexcept { std::free(p); }
};

// An owned block from allocate_large, typed.
template <typename T>
using LargeArray = std::unique_ptr<T[], FreeLarge>;

template <typename T>
LargeArray<T> allocate_large_array(size_t count) {
  return LargeArray<T>(static_cast<T*>(allocate_large(count * sizeof(T))));
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
