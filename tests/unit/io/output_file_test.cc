#include "io/output_file.h"
#include "io/part_folder_sink.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "io/row_sink.h"
#include "io/test_batches.h"
#include "io/test_files.h"
#include "salvo/error.h"

namespace salvo {
namespace {

using testing::embed_batch;
using testing::embed_schema;
using testing::read_file;
using testing::ScratchDir;

// Two jobs writing one output at once: each writes its own temporary file in the output's folder
// (so the rename is atomic), and the output is whole: the one that finished last.
TEST(OutputFileTest, ConcurrentWritersOfOneOutputNeverShareATemporaryFile) {
  ScratchDir dir;
  const auto path = dir / "out.jsonl";
  OutputFile a(path);
  OutputFile b(path);
  EXPECT_NE(a.temporary_path(), b.temporary_path());
  for (const OutputFile* f : {&a, &b}) {
    const std::string name = f->temporary_path().filename().string();
    EXPECT_EQ(f->temporary_path().parent_path(), dir.path());
    EXPECT_TRUE(name.starts_with("out.jsonl." + std::to_string(getpid()) + "@")) << name;
    EXPECT_TRUE(name.ends_with(".partial")) << name;
  }
  EXPECT_EQ(dir.names().size(), 2u);
  a.write("from a\n");
  b.write("from b, which is longer\n");
  a.write("a again\n");
  a.finish();
  EXPECT_EQ(read_file(path), "from a\na again\n");
  b.finish();
  EXPECT_EQ(read_file(path), "from b, which is longer\n");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"out.jsonl"});
}

TEST(OutputFileTest, AnUnfinishedFileLeavesNothingAndTheOldOutputStays) {
  ScratchDir dir;
  const auto path = dir.write("out.jsonl", "old\n");
  {
    OutputFile f(path);
    f.write("new, never finished\n");
  }
  EXPECT_EQ(dir.names(), std::vector<std::string>{"out.jsonl"});
  EXPECT_EQ(read_file(path), "old\n");
}

// A folder of parts has one writer per shard: a second job into the same shard stops at once,
// with a clear message, and leaves the first job's output alone; other shards are not held up.
// A job of another split of the input (unsharded, or another shard count) is not let in either:
// it would remove the running job's parts as stale.
TEST(OutputFileTest, OneJobAtATimeWritesAShardOfAFolder) {
  ScratchDir dir;
  const std::filesystem::path folder = dir / "out";
  PartFolderOptions options;
  options.part_rows = 4;
  options.job = "{}";  // what the manifest records of the job
  options.shard_count = 2;
  auto rows = [](int n, float v) {
    std::vector<testing::EmbedRow> r;
    for (int i = 0; i < n; ++i) r.push_back({i, {v, v}, ""});
    return embed_batch(2, r);
  };
  {
    PartFolderSink a(folder, embed_schema(2), options);
    a.write(rows(10, 1.f));
    try {
      PartFolderSink b(folder, embed_schema(2), options);
      FAIL() << "a second writer of the same shard was let in";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("another salvo job is writing"), std::string::npos) << e.what();
    }
    PartFolderOptions other = options;
    other.shard_index = 1;
    PartFolderSink c(folder, embed_schema(2), other);  // another shard's manifest: its own lock
    for (const uint32_t count : {1u, 3u}) {
      PartFolderOptions split = options;
      split.shard_count = count;
      try {
        PartFolderSink e(folder, embed_schema(2), split);
        FAIL() << "a job of another split was let in while shards wrote";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("with another split of the input (--shard .../2)"), std::string::npos)
            << e.what();
      }
    }
    a.finish();
  }
  PartFolderSink d(folder, embed_schema(2), options);  // the lock went with its holder
}

// A single-file output's job killed with SIGKILL leaves "<name>.<pid>@<host>.<random>.partial":
// the next job writing that output on this machine removes it, but never the temporary file of a
// writer still running, or of another machine's writer (a shared file system).
TEST(OutputFileTest, StalePartialsOfADeadWriterAreRemoved) {
  ScratchDir dir;
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);  // a pid no process has now
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::string here = std::string("@") + host;
  const std::string dead = std::to_string(child) + here, alive = std::to_string(getpid()) + here;
  const auto stale = dir / ("out.jsonl." + dead + ".00000000deadbeef.partial");
  const std::string made = unique_temporary_name(dir / "out.jsonl", ".partial").filename().string();
  EXPECT_TRUE(made.starts_with("out.jsonl." + alive + ".")) << made;
  const std::vector<std::filesystem::path> kept = {
      dir / ("out.jsonl." + alive + ".00000000deadbeef.partial"),   // a live writer's
      dir / ("other.jsonl." + dead + ".00000000deadbeef.partial"),  // another output's
      dir / ("out.jsonl." + std::to_string(child) + "@another-host.node.00000000deadbeef.partial"),
      dir / ("out.jsonl." + std::to_string(child) + ".00000000deadbeef.partial"),  // no host: not ours to judge
      dir / "out.jsonl.notes.partial",                              // not a temporary name
      dir / ("out.jsonl." + dead + ".00000000deadbeef"),            // not a temporary name
  };
  std::ofstream(stale) << "{\"half\": ";
  for (const auto& path : kept) std::ofstream(path) << "x";
  remove_stale_partials(dir / "out.jsonl");
  EXPECT_FALSE(std::filesystem::exists(stale));
  for (const auto& path : kept) EXPECT_TRUE(std::filesystem::exists(path)) << path;
  remove_stale_partials(dir / "missing" / "out.jsonl");  // no folder: nothing to do, no error
}

TEST(OutputFileTest, ResumeRemovesWhatAKilledWriterLeftHalfWritten) {
  ScratchDir dir;
  std::vector<testing::EmbedRow> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({i, {1.f, 2.f}, ""});
  PartFolderOptions options;
  options.part_rows = 4;
  options.job = "{}";
  options.resume = true;
  auto run_until_killed = [&](const std::filesystem::path& folder, const PartFolderOptions& o) {
    PartFolderSink writer(folder, embed_schema(2), o);
    writer.write(embed_batch(2, rows));  // one part of 4 rows committed, 2 rows in the next
  };

  // One job: a kill -9 while it wrote its second part leaves that part's temporary behind.
  const std::filesystem::path folder = dir / "out";
  run_until_killed(folder, options);
  const std::filesystem::path orphan = folder / "part-00001.jsonl.4242.00000000deadbeef.partial";
  std::ofstream(orphan) << "{\"half\": ";
  {
    PartFolderSink resumed(folder, embed_schema(2), options);
    EXPECT_FALSE(std::filesystem::exists(orphan)) << "the half-written part of a killed writer was kept";
  }

  // Shards: shard 0 resuming removes only its own, never the temporary of shard 1, which may be
  // writing at that moment.
  const std::filesystem::path sharded = dir / "sharded";
  PartFolderOptions shard0 = options;
  shard0.shard_count = 2;
  shard0.shard_index = 0;
  run_until_killed(sharded, shard0);
  const std::filesystem::path own = sharded / "part-00000-of-00002-00001.jsonl.7.0000000000000001.partial";
  const std::filesystem::path other = sharded / "part-00001-of-00002-00000.jsonl.9.0000000000000002.partial";
  std::ofstream(own) << "{";
  std::ofstream(other) << "{";
  {
    PartFolderSink resumed(sharded, embed_schema(2), shard0);
    EXPECT_FALSE(std::filesystem::exists(own));
    EXPECT_TRUE(std::filesystem::exists(other)) << "shard 0 removed shard 1's file";
  }
}

}  // namespace
}  // namespace salvo
