#include "kernels/large_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace salvo {

void* allocate_large(size_t bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  constexpr size_t kLine = 64;
  const bool huge = bytes >= kHugePage;
  const size_t alignment = huge ? kHugePage : kLine;
  // aligned_alloc wants a multiple of the alignment; a huge block's rounding costs under half of it.
  const size_t size = (std::max<size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, size);
  if (p == nullptr) throw std::bad_alloc();
  if (huge) madvise(p, size, MADV_HUGEPAGE);  // advice only: where THP is off it changes nothing
  return p;
}

}  // namespace salvo
