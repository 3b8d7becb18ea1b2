#include "io/output_file.h"
#include "io/part_folder_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

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
    EXPECT_TRUE(name.starts_with("out.jsonl." + std::to_string(getpid()) + ".")) << name;
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
TEST(OutputFileTest, OneJobAtATimeWritesAShardOfAFolder) {
  ScratchDir dir;
  const std::filesystem::path folder = dir / "out";
  PartFolderOptions options;
  options.part_rows = 4;
  options.job = "{}";  // what the manifest records of the job
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
    other.shard_count = 2;
    other.shard_index = 1;
    PartFolderSink c(folder, embed_schema(2), other);  // another shard's manifest: its own lock
    a.finish();
  }
  PartFolderSink d(folder, embed_schema(2), options);  // the lock went with its holder
}

}  // namespace
}  // namespace salvo
