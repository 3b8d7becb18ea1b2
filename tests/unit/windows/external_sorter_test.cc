#include "windows/external_sorter.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "../io/test_files.h"
#include "salvo/error.h"

namespace salvo::windows {
namespace {

struct Record {
  std::string key;
  std::string payload;
};

// Keys from a small alphabet (many ties, prefixes of each other, zero bytes) and payloads that
// number the records, so order and stability can be checked.
std::vector<Record> random_records(size_t n, uint32_t seed, size_t max_key = 24, size_t payload_bytes = 16) {
  std::mt19937 rng(seed);
  std::vector<Record> records(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t len = rng() % (max_key + 1);
    for (size_t j = 0; j < len; ++j) records[i].key.push_back(static_cast<char>("\0\1ab\xff"[rng() % 5]));
    records[i].payload = std::to_string(i);
    records[i].payload.resize(std::max(records[i].payload.size(), payload_bytes), '.');
  }
  return records;
}

std::vector<Record> expected_order(std::vector<Record> records) {
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return std::lexicographical_compare(a.key.begin(), a.key.end(), b.key.begin(), b.key.end(), [](char x, char y) {
      return static_cast<uint8_t>(x) < static_cast<uint8_t>(y);
    });
  });
  return records;
}

std::vector<Record> sort_all(const std::vector<Record>& records, ExternalSorterOptions options,
                             ExternalSorterStats* stats) {
  ExternalSorter sorter(options);
  for (const Record& r : records) sorter.add(r.key, r.payload);
  sorter.finish();
  std::vector<Record> out;
  std::string_view k, p;
  while (sorter.next(&k, &p)) out.push_back({std::string(k), std::string(p)});
  EXPECT_FALSE(sorter.next(&k, &p));
  *stats = sorter.stats();
  return out;
}

size_t entries(const std::filesystem::path& dir) {
  return static_cast<size_t>(
      std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

size_t open_descriptors() { return entries("/proc/self/fd"); }

void expect_equal(const std::vector<Record>& got, const std::vector<Record>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].key, want[i].key) << "record " << i;
    ASSERT_EQ(got[i].payload, want[i].payload) << "record " << i << ": ties must keep input order";
  }
}

TEST(ExternalSorter, SortsInMemoryWhenItFits) {
  salvo::testing::ScratchDir dir;
  const auto records = random_records(5000, 1);
  ExternalSorterStats stats;
  const auto got = sort_all(records, {64 << 20, dir.path(), 64 << 10}, &stats);
  expect_equal(got, expected_order(records));
  EXPECT_EQ(stats.runs, 0u);
  EXPECT_EQ(stats.spilled_bytes, 0u);
  EXPECT_EQ(stats.records, 5000u);
}

TEST(ExternalSorter, SpillsRunsAndMergesThemStably) {
  salvo::testing::ScratchDir dir;
  const auto records = random_records(60000, 2);
  ExternalSorterStats stats;
  const auto got = sort_all(records, {256 << 10, dir.path(), 4 << 10}, &stats);
  expect_equal(got, expected_order(records));
  EXPECT_GT(stats.runs, 5u);
  EXPECT_EQ(stats.merge_passes, 0u);
  EXPECT_GT(stats.spilled_bytes, 60000u * 16);
}

TEST(ExternalSorter, MergesInSeveralPassesWhenRunsAreMany) {
  salvo::testing::ScratchDir dir;
  const auto records = random_records(40000, 3);
  ExternalSorterStats stats;
  // 64 KiB with 16 KiB read buffers: at most 3 runs per merge.
  const auto got = sort_all(records, {64 << 10, dir.path(), 16 << 10}, &stats);
  expect_equal(got, expected_order(records));
  EXPECT_GT(stats.runs, 9u);
  EXPECT_GE(stats.merge_passes, 2u);
}

TEST(ExternalSorter, RecordsLargerThanABlockAndEmptyOnes) {
  salvo::testing::ScratchDir dir;
  auto records = random_records(3000, 4, 8, 0);
  records[10].payload.assign(200000, 'x');  // larger than the arena blocks and the read buffers
  records[2000].key.assign(100000, 'a');
  records[5].key.clear();
  records[5].payload.clear();
  ExternalSorterStats stats;
  const auto got = sort_all(records, {128 << 10, dir.path(), 8 << 10}, &stats);
  expect_equal(got, expected_order(records));
  EXPECT_GT(stats.runs, 1u);
}

TEST(ExternalSorter, EmptyInput) {
  ExternalSorterStats stats;
  EXPECT_TRUE(sort_all({}, {}, &stats).empty());
}

TEST(ExternalSorter, SpillFilesNeverOutliveTheSorter) {
  salvo::testing::ScratchDir dir;
  const size_t fds = open_descriptors();
  const auto records = random_records(30000, 5);
  {
    ExternalSorter sorter({64 << 10, dir.path(), 16 << 10});
    for (const Record& r : records) sorter.add(r.key, r.payload);
    EXPECT_GT(sorter.stats().runs, 0u);
    EXPECT_EQ(entries(dir.path()), 0u) << "spill files are unlinked as soon as they are made";
    sorter.finish();
    std::string_view k, p;
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(sorter.next(&k, &p));
    EXPECT_EQ(entries(dir.path()), 0u);
    EXPECT_GT(open_descriptors(), fds);  // the spill file is open
  }
  EXPECT_EQ(entries(dir.path()), 0u);
  EXPECT_EQ(open_descriptors(), fds) << "the spill file is closed, so its space is freed";
}

TEST(ExternalSorter, UnwritableTempDirIsAnIoError) {
  ExternalSorter sorter({64 << 10, "/nonexistent/salvo", 16 << 10});
  const auto records = random_records(20000, 6);
  try {
    for (const Record& r : records) sorter.add(r.key, r.payload);
    ADD_FAILURE() << "no spill happened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/salvo"), std::string::npos);
  }
}

}  // namespace
}  // namespace salvo::windows
