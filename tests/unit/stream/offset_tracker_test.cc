#include "stream/offset_tracker.h"

#include <gtest/gtest.h>

#include <thread>

namespace salvo {
namespace {

TEST(OffsetTrackerTest, CommitsOnlyBelowTheFirstUnansweredOffset) {
  OffsetTracker t;
  const uint64_t g = t.assign(0);
  for (int64_t o = 10; o < 15; ++o) ASSERT_TRUE(t.add(0, g, o));
  EXPECT_EQ(t.in_flight(), 5u);
  t.done(0, g, 11);
  t.done(0, g, 12);
  auto c = t.take_commits();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 10);  // 10 is still in flight
  t.done(0, g, 10);
  c = t.take_commits();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 13);
  EXPECT_TRUE(t.take_commits().empty()) << "nothing advanced";
  t.done(0, g, 13);
  t.done(0, g, 14);
  c = t.take_commits();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 15);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTrackerTest, GapsInOffsetsDoNotBlockCommits) {
  OffsetTracker t;
  const uint64_t g = t.assign(3);
  t.add(3, g, 5);
  t.add(3, g, 9);  // 6..8 are transaction markers or compacted away
  t.done(3, g, 5);
  t.done(3, g, 9);
  auto c = t.take_commits();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].partition, 3);
  EXPECT_EQ(c[0].offset, 10);
}

TEST(OffsetTrackerTest, RevokedWorkIsNeverCommitted) {
  OffsetTracker t;
  const uint64_t old_generation = t.assign(1);
  t.add(1, old_generation, 0);
  t.add(1, old_generation, 1);
  t.revoke(1);
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_FALSE(t.live(1, old_generation));
  const uint64_t g = t.assign(1);
  EXPECT_NE(g, old_generation);
  EXPECT_FALSE(t.add(1, old_generation, 2));
  t.add(1, g, 0);
  t.done(1, old_generation, 0);  // a late delivery from before the revocation
  t.done(1, old_generation, 1);
  auto c = t.take_commits();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 0) << "the new generation's offset 0 is still in flight";
  EXPECT_EQ(t.in_flight(), 1u);
}

TEST(OffsetTrackerTest, PerPartitionCommitsAndRetryAfterFailure) {
  OffsetTracker t;
  const uint64_t a = t.assign(0);
  const uint64_t b = t.assign(1);
  t.add(0, a, 0);
  t.add(1, b, 7);
  t.done(0, a, 0);
  t.done(1, b, 7);
  auto only_b = t.take_commits({1});
  ASSERT_EQ(only_b.size(), 1u);
  EXPECT_EQ(only_b[0].offset, 8);
  t.commit_failed(only_b);
  auto all = t.take_commits();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].offset, 1);
  EXPECT_EQ(all[1].offset, 8);
  EXPECT_EQ(t.committable(1), 8);
  EXPECT_EQ(t.committable(5), -1);
}

TEST(OffsetTrackerTest, WaitDrainedReturnsWhenDeliveriesArriveOrTimesOut) {
  OffsetTracker t;
  const uint64_t g = t.assign(0);
  t.add(0, g, 0);
  EXPECT_FALSE(t.wait_drained({0}, std::chrono::milliseconds(20)));
  std::thread deliverer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    t.done(0, g, 0);
  });
  EXPECT_TRUE(t.wait_drained({0}, std::chrono::milliseconds(5000)));
  deliverer.join();
  EXPECT_TRUE(t.wait_drained({4}, std::chrono::milliseconds(0))) << "an unknown partition has nothing in flight";
}

}  // namespace
}  // namespace salvo
