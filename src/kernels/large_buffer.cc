#include "kernels/large_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace salvo {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// From this size on a block is a mapping of its own.
constexpr size_t kOwnMapping = size_t{256} << 10;

// Under AddressSanitizer every block comes from malloc, so that reads and writes past its end are
// still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kOwnMappings = false;
#else
constexpr bool kOwnMappings = true;
#endif

size_t round_up(size_t bytes, size_t multiple) { return (bytes + multiple - 1) / multiple * multiple; }

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

bool own_mapping(size_t bytes) { return kOwnMappings && bytes >= kOwnMapping; }

size_t alignment_for(size_t bytes) { return bytes >= kHugePage ? kHugePage : 64; }

// A mapping of its own: one `alignment - page` larger than needed, the slack on both sides of the
// aligned block unmapped again.
void* map_aligned(size_t length, size_t alignment) {
  const size_t slack = alignment > page_size() ? alignment - page_size() : 0;
  void* mapped = mmap(nullptr, length + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = round_up(start, alignment);
  if (aligned > start) munmap(mapped, aligned - start);
  const uintptr_t end = aligned + length;
  if (start + length + slack > end) munmap(reinterpret_cast<void*>(end), start + length + slack - end);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

size_t huge_page_advice(size_t bytes) { return bytes / kHugePage * kHugePage; }

void* allocate_large(size_t bytes) {
  const size_t alignment = alignment_for(bytes);
  void* p = nullptr;
  if (own_mapping(bytes)) {
    p = map_aligned(round_up(bytes, page_size()), alignment);
  } else {
    // aligned_alloc wants a multiple of the alignment; the rounding is address space, not memory.
    p = std::aligned_alloc(alignment, round_up(std::max<size_t>(bytes, 1), alignment));
    if (p == nullptr) throw std::bad_alloc();
  }
  // Advice only: where THP is off it changes nothing.
  if (bytes >= kHugePage) madvise(p, huge_page_advice(bytes), MADV_HUGEPAGE);
  return p;
}

void free_large(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (own_mapping(bytes)) {
    munmap(p, round_up(bytes, page_size()));
  } else {
    std::free(p);
  }
}

}  // namespace salvo
