// --shard I/N | auto: which slice of the input this process runs, from the flag or from the
// environment a scheduler sets (Slurm job arrays, Kubernetes indexed Jobs, MPI launchers).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace salvo::cli {

struct ShardChoice {
  uint32_t index = 0;
  uint32_t count = 1;
  std::string source;  // where it came from, for the start line ("SLURM_ARRAY_TASK_ID")
};

// Parses "I/N" (0 <= I < N), or with "auto" reads, in order: SLURM_ARRAY_TASK_ID with
// SLURM_ARRAY_TASK_COUNT (and SLURM_ARRAY_TASK_MIN, the array's first index); JOB_COMPLETION_INDEX
// with `count_flag` (Kubernetes does not export the completion count); OMPI_COMM_WORLD_RANK with
// OMPI_COMM_WORLD_SIZE; PMI_RANK with PMI_SIZE. `getenv` is injected for tests. Throws
// salvo::Error(kInvalidArgument) naming what is wrong.
ShardChoice parse_shard(const std::string& flag, uint32_t count_flag,
                        const std::function<const char*(const char*)>& getenv);

}  // namespace salvo::cli
