#include "io/output_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "io/row_sink.h"
#include "io/test_batches.h"
#include "io/test_files.h"

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

// A folder of Parquet parts: each job keeps its parts in its own _temporary/ folder until it
// commits, so a failed job leaves the earlier output whole, and two jobs into one folder end with
// one job's parts, never a mix.
TEST(OutputFileTest, ParquetFolderJobsCommitTheirOwnPartsOnly) {
  ScratchDir dir;
  const std::filesystem::path folder = dir / "out/";
  SinkOptions small;
  small.row_group_bytes = 64;
  small.part_file_bytes = 64;  // a part file every row group
  auto rows = [](int n, float v) {
    std::vector<testing::EmbedRow> r;
    for (int i = 0; i < n; ++i) r.push_back({i, {v, v}, ""});
    return embed_batch(2, r);
  };
  auto a = open_row_sink(folder, embed_schema(2), small);
  auto b = open_row_sink(folder, embed_schema(2), small);
  a->write(rows(40, 1.f));
  b->write(rows(10, 2.f));
  EXPECT_EQ(dir.names("out"), std::vector<std::string>{"_temporary"}) << "nothing visible before a commit";
  EXPECT_EQ(dir.names("out/_temporary").size(), 2u);
  a->finish();
  auto parts = [](const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) {
      if (n.starts_with("part-")) out.push_back(n);
    }
    return out;
  };
  auto others = [](const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) {
      if (!n.starts_with("part-")) out.push_back(n);
    }
    return out;
  };
  const std::vector<std::string> after_a = dir.names("out");
  EXPECT_EQ(others(after_a), (std::vector<std::string>{"_SUCCESS", "_temporary"})) << "b's parts still wait";
  EXPECT_GT(parts(after_a).size(), 3u);
  b->finish();
  const std::vector<std::string> after_b = dir.names("out");
  EXPECT_EQ(others(after_b), std::vector<std::string>{"_SUCCESS"}) << "_temporary is gone once no job uses it";
  EXPECT_LT(parts(after_b).size(), parts(after_a).size()) << "a's extra parts were replaced";
  EXPECT_GE(parts(after_b).size(), 1u);

  // A job that fails (its sink is destroyed unfinished) leaves the committed output as it was.
  {
    auto c = open_row_sink(folder, embed_schema(2), small);
    c->write(rows(40, 3.f));
  }
  EXPECT_EQ(dir.names("out"), after_b);
}

}  // namespace
}  // namespace salvo
