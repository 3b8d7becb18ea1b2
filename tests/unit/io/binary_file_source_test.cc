// Binary files as rows: listing (folders, globs with **, pathGlobFilter, hidden files), Spark's
// partition columns and their types, labels, and bad files as error rows.
#include "io/binary_file_source.h"

#include <gtest/gtest.h>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>

#include "salvo/error.h"
#include "test_files.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

struct Layout {
  testing::ScratchDir dir;
  Layout() {
    for (const char* d : {"year=2024/kind=cat", "year=2025/kind=dog", "year=2025/kind=cat", ".hidden", "_tmp"}) {
      fs::create_directories(dir / d);
    }
    dir.write("year=2024/kind=cat/a.wav", "AAAA");
    dir.write("year=2025/kind=dog/b.wav", "BB");
    dir.write("year=2025/kind=cat/c.txt", "C");
    dir.write("year=2025/kind=cat/.d.wav", "hidden");
    dir.write(".hidden/e.wav", "hidden");
    dir.write("_tmp/f.wav", "hidden");
  }
};

std::vector<InputRow> read_all(RowSource& source) {
  std::vector<RawRecord> records;
  while (source.read(1, &records)) {
  }
  std::vector<InputRow> rows(records.size());
  for (size_t i = 0; i < records.size(); ++i) source.parse(records[i], &rows[i]);
  return rows;
}

FieldNames fields(std::vector<std::string> keep, std::string text = "content") {
  FieldNames f;
  f.text = std::move(text);
  f.passthrough = std::move(keep);
  return f;
}

TEST(BinaryFileSourceTest, AFolderGivesSparksColumnsWithTypedPartitions) {
  Layout l;
  auto source = open_binary_file_source(l.dir.path().string(), fields({"path", "length", "year", "kind", "modificationTime"}),
                                        {}, {});
  const CarriedColumns carried = source->carried_columns();
  ASSERT_EQ(carried.passthrough.size(), 5u);
  EXPECT_EQ(carried.passthrough[1].type, ValueType::kInt64);
  EXPECT_EQ(carried.passthrough[2].type, ValueType::kInt32) << "Spark infers integer partition values";
  EXPECT_EQ(carried.passthrough[3].type, ValueType::kString);
  EXPECT_EQ(carried.passthrough[4].type, ValueType::kTimestamp);
  const auto rows = read_all(*source);
  ASSERT_EQ(rows.size(), 3u) << "hidden files and folders are skipped";
  EXPECT_EQ(rows[0].text, "AAAA");
  EXPECT_EQ(rows[0].passthrough[0], (l.dir / "year=2024/kind=cat/a.wav").string());
  EXPECT_EQ(rows[0].passthrough[1], 4);
  EXPECT_EQ(rows[0].passthrough[2], 2024);
  EXPECT_EQ(rows[0].passthrough[3], "cat");
  EXPECT_GT(rows[0].passthrough[4].get<int64_t>(), 1600000000LL * 1000000);
  EXPECT_EQ(rows[2].passthrough[3], "dog") << "sorted by path";
  EXPECT_EQ(source->total_bytes(), 7u);
}

TEST(BinaryFileSourceTest, GlobsFiltersAndRecursiveLookup) {
  Layout l;
  const std::string root = l.dir.path().string();
  auto globbed = open_binary_file_source(root + "/**/*.wav", fields({"path"}), {}, {});
  EXPECT_EQ(read_all(*globbed).size(), 2u);
  auto one_level = open_binary_file_source(root + "/year=2025/*/*", fields({"path"}), {}, {});
  EXPECT_EQ(read_all(*one_level).size(), 2u);
  BinaryFileOptions filter;
  filter.glob = "*.txt";
  auto filtered = open_binary_file_source(root, fields({"path"}), {}, filter);
  const auto rows = read_all(*filtered);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text, "C");
  BinaryFileOptions recursive;
  recursive.recursive = true;
  EXPECT_THROW(open_binary_file_source(root, fields({"year"}), {}, recursive), Error)
      << "recursiveFileLookup turns partition columns off";
  EXPECT_THROW(open_binary_file_source(root + "/*.flac", fields({}), {}, {}), Error) << "nothing matches";
}

TEST(BinaryFileSourceTest, LinksToFoldersAreFollowedOnceAndLoopsEnd) {
  // Regression: a glob followed a link to a parent folder about 40 levels deep, listing each file
  // ~40 times; a folder input skipped linked folders silently.
  testing::ScratchDir dir;
  fs::create_directories(dir / "in/sub");
  fs::create_directories(dir / "elsewhere");
  dir.write("in/sub/a.wav", "A");
  dir.write("elsewhere/b.wav", "B");
  fs::create_directory_symlink("..", dir / "in/sub/up");
  fs::create_directory_symlink("../elsewhere", dir / "in/linked");
  const std::string root = (dir / "in").string();
  for (const std::string& input : {root, root + "/**/*.wav"}) {
    auto source = open_binary_file_source(input, fields({"path"}), {}, {});
    const auto rows = read_all(*source);
    ASSERT_EQ(rows.size(), 2u) << input;
    EXPECT_EQ(rows[0].passthrough[0], root + "/linked/b.wav") << input;
    EXPECT_EQ(rows[1].passthrough[0], root + "/sub/a.wav") << input;
  }
}

TEST(BinaryFileSourceTest, AFolderThatCannotBeListedIsAnErrorNamingIt) {
  // Regression: listing stopped at the folder without a word ("no files in ...", or files missing).
  // Root lists any folder, so the listing runs in a child process as user nobody.
  testing::ScratchDir dir;
  fs::create_directories(dir / "in/a");
  fs::create_directories(dir / "in/locked");
  dir.write("in/a/x.wav", "X");
  for (const fs::path& p : {dir.path(), dir / "in", dir / "in/a", dir / "in/a/x.wav"}) {
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir / "in/locked", fs::perms::none);
  const std::string locked = (dir / "in/locked").string();
  for (const std::string& input : {(dir / "in").string(), (dir / "in").string() + "/**/*.wav"}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(10);
      try {
        open_binary_file_source(input, fields({"path"}), {}, {});
        std::_Exit(11);  // listed
      } catch (const Error& e) {
        const bool named =
            std::string(e.what()).find("cannot list " + locked + ": Permission denied") != std::string::npos;
        if (!named) std::fprintf(stderr, "%s\n", e.what());
        std::_Exit(e.code() == ErrorCode::kIo && named ? 0 : 12);
      }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status)) << input << ": signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << input << " (10: cannot become nobody, 11: listed, 12: another error)";
  }
  fs::permissions(dir / "in/locked", fs::perms::owner_all);
}

TEST(BinaryFileSourceTest, PartitionsComeFromThePathsAsListed) {
  // A partition folder that is a symbolic link keeps its own name (Spark reads the path as listed),
  // and a pattern written with "/./" or "//" gives the same partitions.
  testing::ScratchDir dir;
  fs::create_directories(dir / ".raw");
  fs::create_directories(dir / "year=2027");
  dir.write(".raw/g.wav", "G");
  dir.write("year=2027/h.wav", "HH");
  fs::create_directory_symlink(".raw", dir / "year=2026");
  const std::string root = dir.path().string();
  for (const std::string& pattern : {root + "/*/*.wav", root + "/./*/*.wav", root + "//year=*/*.wav"}) {
    auto source = open_binary_file_source(pattern, fields({"year", "length"}), {}, {});
    const auto rows = read_all(*source);
    ASSERT_EQ(rows.size(), 2u) << pattern;
    EXPECT_EQ(rows[0].passthrough[0], 2026) << pattern;
    EXPECT_EQ(rows[0].passthrough[1], 1) << pattern;
    EXPECT_EQ(rows[1].passthrough[0], 2027) << pattern;
  }
  EXPECT_THROW(open_binary_file_source(root + "/year=2027/", fields({"year"}), {}, {}), Error)
      << "the root's own folder is not a partition";
}

TEST(BinaryFileSourceTest, LabelsFromTheParentFolderOrARegex) {
  Layout l;
  BinaryFileOptions parent;
  parent.label_from = "parent";
  auto a = open_binary_file_source(l.dir.path().string(), fields({"label"}), {}, parent);
  const auto rows = read_all(*a);
  EXPECT_EQ(rows[0].passthrough[0], "kind=cat");
  BinaryFileOptions regex;
  regex.label_from = "regex:kind=(\\w+)/b";
  auto b = open_binary_file_source(l.dir.path().string(), fields({"label"}), {}, regex);
  const auto labelled = read_all(*b);
  EXPECT_TRUE(labelled[0].passthrough[0].is_null()) << "no match: no label";
  EXPECT_EQ(labelled[2].passthrough[0], "dog");
  regex.label_from = "regex:([";
  EXPECT_THROW(open_binary_file_source(l.dir.path().string(), fields({}), {}, regex), Error);
  regex.label_from = "grandparent";
  EXPECT_THROW(open_binary_file_source(l.dir.path().string(), fields({}), {}, regex), Error);
}

TEST(BinaryFileSourceTest, BadFilesAreErrorRowsNamingTheFile) {
  testing::ScratchDir dir;
  dir.write("big.bin", std::string(100, 'x'));
  dir.write("ok.bin", "fine");
  fs::create_symlink(dir / "missing", dir / "gone.bin");
  auto source = open_binary_file_source(dir.path().string(), fields({"path", "length"}), SourceLimits{50}, {});
  const auto rows = read_all(*source);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NE(rows[0].error.find("over the limit of 50"), std::string::npos) << rows[0].error;
  EXPECT_EQ(rows[0].passthrough[1], 100) << "the row keeps its columns";
  EXPECT_NE(rows[1].error.find("cannot open"), std::string::npos) << rows[1].error;
  EXPECT_EQ(source->record_label(rows[1]), (dir / "gone.bin").string());
  EXPECT_EQ(rows[2].error, "");
  EXPECT_EQ(rows[2].text, "fine");
}

TEST(BinaryFileSourceTest, UnknownColumnsAreNamedWithTheColumnsThereAre) {
  testing::ScratchDir dir;
  dir.write("a.bin", "x");
  try {
    open_binary_file_source(dir.path().string(), fields({}, "text"), {}, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("path, modificationTime, length, content"), std::string::npos) << e.what();
  }
  auto by_path = open_binary_file_source(dir.path().string(), fields({}, "path"), {}, {});
  EXPECT_EQ(read_all(*by_path)[0].text, (dir / "a.bin").string());
}

TEST(BinaryFileSourceTest, OnlyNonParquetFoldersAndGlobsLookLikeBinaryFiles) {
  testing::ScratchDir dir;
  fs::create_directories(dir / "p");
  fs::create_directories(dir / "w");
  dir.write("p/part-0.parquet", "x");
  dir.write("w/a.wav", "x");
  EXPECT_FALSE(looks_like_binary_files((dir / "p").string()));
  EXPECT_TRUE(looks_like_binary_files((dir / "w").string()));
  EXPECT_TRUE(looks_like_binary_files((dir / "w/*.wav").string()));
  EXPECT_FALSE(looks_like_binary_files((dir / "p/*.parquet").string()));
  EXPECT_FALSE(looks_like_binary_files((dir / "w/a.wav").string()));
}

}  // namespace
}  // namespace salvo
