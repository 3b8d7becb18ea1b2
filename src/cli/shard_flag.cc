#include "shard_flag.h"

#include <charconv>

#include "salvo/error.h"

namespace salvo::cli {
namespace {

uint32_t number(const std::string& text, const std::string& what) {
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    throw Error(ErrorCode::kInvalidArgument, what + " is \"" + text + "\", not a non-negative integer");
  }
  return value;
}

ShardChoice checked(ShardChoice choice) {
  if (choice.count == 0 || choice.index >= choice.count) {
    throw Error(ErrorCode::kInvalidArgument,
                "--shard " + std::to_string(choice.index) + "/" + std::to_string(choice.count) +
                    (choice.source.empty() ? "" : " (from " + choice.source + ")") +
                    " does not exist: shards are numbered 0 to N-1");
  }
  return choice;
}

}  // namespace

ShardChoice parse_shard(const std::string& flag, uint32_t count_flag,
                        const std::function<const char*(const char*)>& getenv) {
  if (count_flag != 0 && flag != "auto") {
    throw Error(ErrorCode::kInvalidArgument,
                "--shard-count is for --shard auto in a Kubernetes indexed Job (JOB_COMPLETION_INDEX)" +
                    std::string(flag.empty() ? "" : "; --shard I/N gives the count itself"));
  }
  if (flag.empty()) return {};
  if (flag != "auto") {
    const auto slash = flag.find('/');
    if (slash == std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument, "--shard " + flag + ": expected I/N (e.g. 3/10) or auto");
    }
    return checked({number(flag.substr(0, slash), "--shard's index"), number(flag.substr(slash + 1), "--shard's count"),
                    ""});
  }
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? v : "";
  };
  if (const std::string id = env("SLURM_ARRAY_TASK_ID"); !id.empty()) {
    const std::string count = env("SLURM_ARRAY_TASK_COUNT");
    if (count.empty()) throw Error(ErrorCode::kInvalidArgument, "--shard auto: SLURM_ARRAY_TASK_COUNT is not set");
    const std::string min = env("SLURM_ARRAY_TASK_MIN");
    const uint32_t first = min.empty() ? 0 : number(min, "SLURM_ARRAY_TASK_MIN");
    const uint32_t index = number(id, "SLURM_ARRAY_TASK_ID");
    if (index < first) throw Error(ErrorCode::kInvalidArgument, "--shard auto: SLURM_ARRAY_TASK_ID < SLURM_ARRAY_TASK_MIN");
    return checked({index - first, number(count, "SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_ID"});
  }
  if (const std::string index = env("JOB_COMPLETION_INDEX"); !index.empty()) {
    if (count_flag == 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "--shard auto: JOB_COMPLETION_INDEX is set; give the Job's completions with --shard-count");
    }
    return checked({number(index, "JOB_COMPLETION_INDEX"), count_flag, "JOB_COMPLETION_INDEX"});
  }
  for (const auto& [rank, size] : {std::pair{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, std::pair{"PMI_RANK", "PMI_SIZE"}}) {
    if (const std::string r = env(rank); !r.empty()) {
      const std::string n = env(size);
      if (n.empty()) throw Error(ErrorCode::kInvalidArgument, std::string("--shard auto: ") + size + " is not set");
      return checked({number(r, rank), number(n, size), rank});
    }
  }
  throw Error(ErrorCode::kInvalidArgument,
              "--shard auto: none of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, OMPI_COMM_WORLD_RANK or PMI_RANK is set");
}

}  // namespace salvo::cli
