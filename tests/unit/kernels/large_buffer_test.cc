#include "kernels/large_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace salvo {
namespace {

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
