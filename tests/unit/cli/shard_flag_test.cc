#include "shard_flag.h"

#include <gtest/gtest.h>

#include <map>

#include "salvo/error.h"

namespace salvo::cli {
namespace {

std::function<const char*(const char*)> env(std::map<std::string, std::string> values) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(values));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(ShardFlagTest, ExplicitSlices) {
  EXPECT_EQ(parse_shard("", 0, env({})).count, 1u);
  EXPECT_THROW(parse_shard("", 3, env({})), Error) << "--shard-count alone is not ignored";
  EXPECT_THROW(parse_shard("1/3", 3, env({})), Error) << "--shard-count with I/N is not ignored";
  const ShardChoice s = parse_shard("3/10", 0, env({}));
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 10u);
  for (const char* bad : {"10/10", "3", "a/2", "-1/2", "1/0", "1/2/3"}) {
    EXPECT_THROW(parse_shard(bad, 0, env({})), Error) << bad;
  }
}

TEST(ShardFlagTest, SchedulersEnvironment) {
  ShardChoice s = parse_shard("auto", 0, env({{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_COUNT", "10"},
                                              {"SLURM_ARRAY_TASK_MIN", "1"}}));
  EXPECT_EQ(s.index, 6u) << "Slurm arrays may start at 1";
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  s = parse_shard("auto", 4, env({{"JOB_COMPLETION_INDEX", "3"}}));
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_THROW(parse_shard("auto", 0, env({{"JOB_COMPLETION_INDEX", "3"}})), Error) << "needs --shard-count";
  EXPECT_THROW(parse_shard("auto", 3, env({{"JOB_COMPLETION_INDEX", "3"}})), Error) << "index past the count";
  s = parse_shard("auto", 0, env({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}));
  EXPECT_EQ(s.index, 1u);
  EXPECT_THROW(parse_shard("auto", 0, env({})), Error);
  EXPECT_THROW(parse_shard("auto", 0, env({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "2"}})), Error);
}

}  // namespace
}  // namespace salvo::cli
