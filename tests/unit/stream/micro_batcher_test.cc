#include "stream/micro_batcher.h"

#include <gtest/gtest.h>

#include <thread>

namespace salvo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

StreamRequest request(int64_t offset, size_t tokens, Clock::time_point consumed = Clock::now()) {
  StreamRequest r;
  r.offset = offset;
  r.consumed = consumed;
  r.encoding.ids.assign(tokens, 1);
  r.encoding.type_ids.assign(tokens, 0);
  return r;
}

TEST(MicroBatcherTest, ClosesAtTheRowCap) {
  MicroBatcher b(3, 1000, milliseconds(10000));
  for (int i = 0; i < 7; ++i) b.push(request(i, 5));
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].offset, 0);
  EXPECT_EQ(batch[2].offset, 2);
  ASSERT_TRUE(b.next(&batch));
  EXPECT_EQ(batch.size(), 3u);
  EXPECT_EQ(b.size(), 1u);
}

TEST(MicroBatcherTest, ClosesAtTheTokenBudgetAndGivesALongRequestItsOwnBatch) {
  MicroBatcher b(100, 20, milliseconds(10000));
  b.push(request(0, 8));
  b.push(request(1, 8));
  b.push(request(2, 8));   // would make 24 > 20
  b.push(request(3, 50));  // over the budget on its own
  b.push(request(4, 1));
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  EXPECT_EQ(batch.size(), 2u);
  ASSERT_TRUE(b.next(&batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].offset, 2);
  ASSERT_TRUE(b.next(&batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].offset, 3);
}

// The waits below are long next to the delays they allow for (a thread scheduled late on a loaded
// machine), so that no outcome depends on timing: no upper bound on how long a call took.
TEST(MicroBatcherTest, ClosesAtTheMaximumWaitAfterTheFirstRequest) {
  MicroBatcher b(100, 1000, milliseconds(500));
  const auto start = Clock::now();
  b.push(request(0, 5, start));
  std::thread late([&] {
    std::this_thread::sleep_for(milliseconds(10));
    b.push(request(1, 5));
  });
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  const auto waited = Clock::now() - start;
  late.join();
  EXPECT_EQ(batch.size(), 2u) << "a request arriving within the wait joins the batch";
  EXPECT_GE(waited, milliseconds(500)) << "a batch that is not full waits for company";
}

TEST(MicroBatcherTest, AnOldRequestClosesItsBatchAtOnce) {
  MicroBatcher b(100, 1000, milliseconds(20000));
  b.push(request(0, 5, Clock::now() - milliseconds(30000)));
  const auto start = Clock::now();
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  EXPECT_LT(Clock::now() - start, milliseconds(10000)) << "it did not wait the 20 s again";
  EXPECT_EQ(batch.size(), 1u);
}

TEST(MicroBatcherTest, CloseDrainsThenEnds) {
  MicroBatcher b(100, 1000, milliseconds(10000));
  b.push(request(0, 5));
  b.push(request(1, 5));
  b.close();
  EXPECT_FALSE(b.push(request(2, 5)));
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_FALSE(b.next(&batch));
  EXPECT_TRUE(batch.empty());
}

TEST(MicroBatcherTest, DiscardRemovesStaleRequests) {
  MicroBatcher b(100, 1000, milliseconds(0));
  for (int i = 0; i < 6; ++i) b.push(request(i, 1));
  EXPECT_EQ(b.discard_if([](const StreamRequest& r) { return r.offset % 2 == 0; }), 3u);
  std::vector<StreamRequest> batch;
  ASSERT_TRUE(b.next(&batch));
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].offset, 1);
  EXPECT_EQ(batch[2].offset, 5);
}

}  // namespace
}  // namespace salvo
