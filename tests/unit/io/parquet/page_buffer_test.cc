#include "io/parquet/page_buffer.h"

#include <gtest/gtest.h>

#include <cstring>

namespace salvo::parquet {
namespace {

TEST(PageBufferPoolTest, ReusesFreedBuffersThatFit) {
  auto pool = std::make_shared<PageBufferPool>(64 << 20);
  char* first = nullptr;
  {
    PageBuffer a = pool->acquire(3 << 20);
    first = a.get();
    std::memset(a.get(), 1, 3 << 20);
  }
  EXPECT_EQ(pool->idle_bytes(), size_t{3} << 20);
  {
    // A slightly smaller (or, rounded, slightly larger) page gets the same memory back.
    PageBuffer b = pool->acquire((3 << 20) - 100);
    EXPECT_EQ(b.get(), first);
    EXPECT_EQ(pool->idle_bytes(), 0u);
    // One far smaller does not take a buffer more than twice its size.
    PageBuffer small = allocate_page_buffer(1 << 20, pool);
    EXPECT_NE(small.get(), first);
  }
  EXPECT_EQ(pool->idle_bytes(), (size_t{3} << 20) + (size_t{1} << 20));
}

TEST(PageBufferPoolTest, KeepsAtMostItsIdleLimit) {
  auto pool = std::make_shared<PageBufferPool>(5 << 20);
  {
    PageBuffer a = pool->acquire(4 << 20);
    PageBuffer b = pool->acquire(4 << 20);
  }
  EXPECT_EQ(pool->idle_bytes(), size_t{4} << 20);  // the second one was freed
}

TEST(PageBufferPoolTest, SmallBuffersAndNoPoolAreFreedDirectly) {
  auto pool = std::make_shared<PageBufferPool>(64 << 20);
  { PageBuffer tiny = allocate_page_buffer(1000, pool); }
  EXPECT_EQ(pool->idle_bytes(), 0u);
  PageBuffer plain = allocate_page_buffer(5 << 20);
  EXPECT_NE(plain.get(), nullptr);
}

TEST(PageBufferPoolTest, BuffersOutliveWhoeverMadeThePool) {
  PageBuffer kept;
  {
    auto pool = std::make_shared<PageBufferPool>(64 << 20);
    kept = pool->acquire(2 << 20);
  }
  std::memset(kept.get(), 7, 2 << 20);
  kept.reset();  // goes back to the pool it keeps alive, which then goes
}

}  // namespace
}  // namespace salvo::parquet
