#include "kernels/large_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace salvo {

constexpr size_t kHugePage = size_t{2} << 20;

size_t huge_page_advice(size_t bytes) { return bytes / kHugePage * kHugePage; }

void* allocate_large(size_t bytes) {
  constexpr size_t kLine = 64;
  const bool huge = bytes >= kHugePage;
  const size_t alignment = huge ? kHugePage : kLine;
  // aligned_alloc wants a multiple of the alignment; the rounding is address space, not memory.
  const size_t size = (std::max<size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, size);
  if (p == nullptr) throw std::bad_alloc();
  // Advice only: where THP is off it changes nothing.
  if (huge) madvise(p, huge_page_advice(bytes), MADV_HUGEPAGE);
  return p;
}

}  // namespace salvo
