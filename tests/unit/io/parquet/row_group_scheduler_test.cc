#include "io/parquet/row_group_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace salvo::parquet {
namespace {

// A unit that splits itself into `parts` tasks of varied duration, each writing its own slot;
// finish() checks that every slot was written.
class FakeUnit final : public ScheduledUnit {
 public:
  FakeUnit(size_t id, uint64_t bytes, size_t parts, std::atomic<int>* live) : id(id), bytes_(bytes), slots(parts, 0), live_(live) {}

  uint64_t estimated_bytes() const override { return bytes_; }

  void start(TaskSpawner& spawner) override {
    ++*live_;
    for (size_t p = 0; p < slots.size(); ++p) {
      spawner.spawn([this, p](TaskSpawner& more) {
        std::this_thread::sleep_for(std::chrono::microseconds((id * 7 + p * 13) % 200));
        if (fail_part == p) throw std::runtime_error("part " + std::to_string(p) + " of unit " + std::to_string(id));
        // Half the parts split once more, as a column chunk splits into pages.
        if (p % 2 == 0) {
          more.spawn([this, p](TaskSpawner&) { slots[p] = 1; });
        } else {
          slots[p] = 1;
        }
      });
    }
  }

  void finish() override {
    for (int s : slots) {
      if (s != 1) throw std::logic_error("finish() before every task ran");
    }
    finished = true;
    --*live_;
  }

  size_t id;
  uint64_t bytes_;
  std::vector<int> slots;
  bool finished = false;
  size_t fail_part = SIZE_MAX;
  std::atomic<int>* live_;
};

TEST(RowGroupSchedulerTest, HandsOutEveryUnitInOrderWithItsTasksDone) {
  for (int threads : {1, 2, 4}) {
    std::atomic<int> live{0};
    size_t made = 0;
    RowGroupScheduler scheduler(threads, 10 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
      if (made == 40) return nullptr;
      const size_t id = made++;
      return std::make_shared<FakeUnit>(id, (1 + id % 3) << 20, 1 + id % 5, &live);
    });
    for (size_t expected = 0; expected < 40; ++expected) {
      auto unit = std::static_pointer_cast<FakeUnit>(scheduler.next());
      ASSERT_NE(unit, nullptr);
      EXPECT_EQ(unit->id, expected);
      EXPECT_TRUE(unit->finished);
    }
    EXPECT_EQ(scheduler.next(), nullptr);
    EXPECT_EQ(scheduler.next(), nullptr);
    // Several units were decoded ahead at once, never more bytes than the budget.
    EXPECT_GT(scheduler.peak_units_ahead(), 1u) << threads << " threads";
    EXPECT_LE(scheduler.peak_bytes_ahead(), uint64_t{10} << 20);
  }
}

TEST(RowGroupSchedulerTest, KeepsTheBytesAheadWithinTheBudget) {
  std::atomic<int> live{0};
  size_t made = 0;
  std::atomic<uint64_t> max_seen{0};
  RowGroupScheduler scheduler(4, 8 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
    if (made == 30) return nullptr;
    const size_t id = made++;
    return std::make_shared<FakeUnit>(id, 3 << 20, 3, &live);
  });
  for (size_t i = 0; i < 30; ++i) {
    auto unit = scheduler.next();
    ASSERT_NE(unit, nullptr);
    // Units started and not yet handed out: at most two of 3 MiB fit in 8 MiB.
    EXPECT_LE(scheduler.peak_bytes_ahead(), uint64_t{6} << 20);
    std::this_thread::sleep_for(std::chrono::microseconds(300));  // a slow consumer
  }
  EXPECT_EQ(scheduler.peak_units_ahead(), 2u);
  EXPECT_EQ(scheduler.next(), nullptr);
}

TEST(RowGroupSchedulerTest, AUnitLargerThanTheBudgetStillRunsAlone) {
  std::atomic<int> live{0};
  size_t made = 0;
  RowGroupScheduler scheduler(2, 1 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
    if (made == 5) return nullptr;
    const size_t id = made++;
    return std::make_shared<FakeUnit>(id, 64 << 20, 2, &live);
  });
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(std::static_pointer_cast<FakeUnit>(scheduler.next())->id, i);
  EXPECT_EQ(scheduler.next(), nullptr);
  EXPECT_EQ(scheduler.peak_units_ahead(), 1u);
  EXPECT_EQ(scheduler.peak_bytes_ahead(), uint64_t{64} << 20);
}

TEST(RowGroupSchedulerTest, ErrorsArriveInTheFailingUnitsPlace) {
  std::atomic<int> live{0};
  size_t made = 0;
  RowGroupScheduler scheduler(3, 100 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
    if (made == 10) return nullptr;
    const size_t id = made++;
    auto unit = std::make_shared<FakeUnit>(id, 1 << 20, 4, &live);
    if (id == 6) unit->fail_part = 2;
    return unit;
  });
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(std::static_pointer_cast<FakeUnit>(scheduler.next())->id, i);
  try {
    scheduler.next();
    ADD_FAILURE() << "unit 6 failed, next() must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "part 2 of unit 6");
  }
  // The units after it are still handed out.
  EXPECT_EQ(std::static_pointer_cast<FakeUnit>(scheduler.next())->id, 7u);
}

TEST(RowGroupSchedulerTest, ProducerErrorsComeAfterTheUnitsMadeBeforeThem) {
  std::atomic<int> live{0};
  size_t made = 0;
  RowGroupScheduler scheduler(2, 100 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
    if (made == 3) throw std::runtime_error("cannot open the next file");
    const size_t id = made++;
    return std::make_shared<FakeUnit>(id, 1 << 20, 2, &live);
  });
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(std::static_pointer_cast<FakeUnit>(scheduler.next())->id, i);
  EXPECT_THROW(scheduler.next(), std::runtime_error);
  EXPECT_EQ(scheduler.next(), nullptr);
}

TEST(RowGroupSchedulerTest, StopsCleanlyWithWorkInFlight) {
  std::atomic<int> live{0};
  size_t made = 0;
  {
    RowGroupScheduler scheduler(2, 1000 << 20, [&]() -> std::shared_ptr<ScheduledUnit> {
      const size_t id = made++;
      return std::make_shared<FakeUnit>(id, 1 << 20, 8, &live);
    });
    ASSERT_NE(scheduler.next(), nullptr);
    // Destroyed with many units started and their tasks queued: nothing hangs, nothing leaks
    // into a running task after the scheduler is gone.
  }
  EXPECT_GT(made, 1u);
}

}  // namespace
}  // namespace salvo::parquet
