#include "kernels/large_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "resident_memory.h"

namespace salvo {
namespace {

using testing::resident_kib;

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(AllocateLargeTest, SmallBlocksAreCacheLineAligned) {
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{64}, size_t{1000}, (size_t{2} << 20) - 1}) {
    LargeArray<char> block = allocate_large_array<char>(bytes);
    ASSERT_NE(block.get(), nullptr) << bytes;
    EXPECT_EQ(address(block.get()) % 64, 0u) << bytes;
    std::memset(block.get(), 1, bytes);  // all of it is there to write
  }
}

TEST(AllocateLargeTest, BlocksOfAHugePageOrMoreAreHugePageAligned) {
  for (size_t bytes : {size_t{2} << 20, (size_t{2} << 20) + 1, size_t{5} << 20}) {
    LargeArray<char> block = allocate_large_array<char>(bytes);
    ASSERT_NE(block.get(), nullptr) << bytes;
    EXPECT_EQ(address(block.get()) % (size_t{2} << 20), 0u) << bytes;
    std::memset(block.get(), 1, bytes);
  }
}

// The VmFlags line of the mapping in /proc/self/smaps that holds `p`, or "" if none does.
std::string vm_flags_at(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= address(p) && address(p) < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(AllocateLargeTest, AdvisesOnlyTheHugePagesTheBlockFills) {
  const size_t huge = size_t{2} << 20;
  EXPECT_EQ(huge_page_advice(huge - 1), 0u);
  EXPECT_EQ(huge_page_advice(huge), huge);
  EXPECT_EQ(huge_page_advice(huge + huge / 5), huge);  // a 2.4 MB weight: one huge page, not two
  EXPECT_EQ(huge_page_advice(5 * huge + 1), 5 * huge);
  // The advice reaches the kernel: the block's first 2 MiB are a mapping flagged "hg", its tail
  // (a mapping of its own, except under AddressSanitizer) is not.
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) GTEST_SKIP() << "no THP in this kernel";
  LargeArray<char> block = allocate_large_array<char>(huge + huge / 2);
  const std::string head = vm_flags_at(block.get());
  if (head.empty()) GTEST_SKIP() << "no VmFlags in /proc/self/smaps here";
  EXPECT_NE((head + " ").find(" hg "), std::string::npos) << head;
#if !defined(__SANITIZE_ADDRESS__)
  const std::string tail = vm_flags_at(block.get() + huge);
  EXPECT_EQ((tail + " ").find(" hg "), std::string::npos) << tail;
#endif
}

TEST(AllocateLargeTest, AFreedLargeBlockLeavesTheProcessAtOnce) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under AddressSanitizer blocks come from its malloc, which quarantines freed memory";
#endif
  // Whatever malloc's thresholds have become. First a block that malloc maps on its own, freed:
  // that raises glibc's adaptive mmap threshold past the blocks below, which malloc would then
  // take from its heap and keep resident after they are freed, small allocations made after them
  // holding the heap's top. (Through a volatile pointer, so the compiler keeps the pair.)
  void* volatile first = std::malloc(size_t{24} << 20);
  std::free(first);
  std::vector<std::unique_ptr<char[]>> later;
  // A packed bf16 weight of MiniLM's (under a huge page) and a batch's scratch (over).
  for (size_t kib : {size_t{1152}, size_t{16} << 10}) {
    for (int round = 0; round < 3; ++round) {
      const long before = resident_kib();
      if (before < 0) GTEST_SKIP() << "no VmRSS in /proc/self/status here";
      {
        LargeArray<char> block = allocate_large_array<char>((kib << 10) + 4096 * round);
        std::memset(block.get(), 1, kib << 10);
        EXPECT_GE(resident_kib() - before, static_cast<long>(kib * 15 / 16)) << kib << " KiB, round " << round;
        later.push_back(std::make_unique<char[]>(1000));
      }
      EXPECT_LT(resident_kib() - before, 128) << kib << " KiB, round " << round;
    }
  }
}

TEST(AllocateLargeTest, ZeroBytesIsAValidBlock) {
  LargeArray<float> block = allocate_large_array<float>(0);
  EXPECT_NE(block.get(), nullptr);
}

TEST(ScratchBufferTest, GrowsOnlyWhenAskedForMore) {
  ScratchBuffer buffer;
  float* first = buffer.grow(1000);
  ASSERT_NE(first, nullptr);
  first[999] = 1.0f;  // all 1,000 are there to write
  EXPECT_EQ(buffer.grow(10), first);
  EXPECT_EQ(buffer.grow(1000), first);
  float* larger = buffer.grow(1 << 20);
  larger[(1 << 20) - 1] = 2.0f;
  EXPECT_EQ(buffer.grow(1000), larger);
}

}  // namespace
}  // namespace salvo
