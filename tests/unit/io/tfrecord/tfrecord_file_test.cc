#include "io/tfrecord/tfrecord_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/test_files.h"
#include "io/tfrecord/crc32c.h"

namespace salvo {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// Frames one record by the documented layout, independently of TfRecordWriter.
std::string frame(const std::string& data) {
  const std::string length = le(data.size(), 8);
  return length + le(mask_crc32c(crc32c(length.data(), 8)), 4) + data +
         le(mask_crc32c(crc32c(data.data(), data.size())), 4);
}

std::vector<std::string> sample_records() {
  std::mt19937 rng(3);
  std::string big(200000, '\0');
  for (auto& c : big) c = static_cast<char>(rng() % 7);  // compressible but not trivial
  return {"hello", "", std::string("\0\x01\xff", 3), big, "last"};
}

void write_records(const std::filesystem::path& path, TfRecordCompression compression,
                   const std::vector<std::string>& records) {
  TfRecordWriter writer(path, compression);
  for (const auto& r : records) writer.write(r);
  writer.finish();
}

std::vector<std::string> read_records(const std::filesystem::path& path,
                                      TfRecordCompression compression, size_t limit = 1u << 20) {
  TfRecordReader reader(path, compression, limit);
  std::vector<std::string> out;
  std::string data;
  uint64_t offset = 0;
  uint64_t too_long = 0;
  while (reader.next(&data, &offset, &too_long)) out.push_back(data);
  return out;
}

// The message of the salvo::Error(kIo) that reading all of `path` throws, or "" when none.
std::string read_error(const std::filesystem::path& path, TfRecordCompression compression) {
  try {
    read_records(path, compression);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    return e.what();
  }
  return "";
}

TEST(TfRecordFileTest, WriterProducesTheDocumentedFraming) {
  ScratchDir dir;
  const auto path = dir / "a.tfrecord";
  write_records(path, TfRecordCompression::kNone, {"hello", ""});
  EXPECT_EQ(testing::read_file(path), frame("hello") + frame(""));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a.tfrecord"}) << "no temporary file is left";
}

TEST(TfRecordFileTest, RoundTripsPlainGzipAndZlib) {
  ScratchDir dir;
  const auto records = sample_records();
  for (auto compression :
       {TfRecordCompression::kNone, TfRecordCompression::kGzip, TfRecordCompression::kZlib}) {
    const auto path = dir / "r.tfrecord";
    write_records(path, compression, records);
    EXPECT_EQ(read_records(path, compression), records);
    const std::string bytes = testing::read_file(path);
    if (compression == TfRecordCompression::kGzip) {
      EXPECT_EQ(bytes.substr(0, 2), "\x1f\x8b");
    }
    if (compression == TfRecordCompression::kZlib) {
      EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x78);
    }
    if (compression != TfRecordCompression::kNone) {
      EXPECT_LT(bytes.size(), 100000u);
    }
  }
}

TEST(TfRecordFileTest, ReportsOffsetsOfEachRecord) {
  ScratchDir dir;
  const auto path = dir / "o.tfrecord";
  write_records(path, TfRecordCompression::kNone, {"abc", "defgh"});
  TfRecordReader reader(path, TfRecordCompression::kNone, 100);
  std::string data;
  uint64_t offset = 0;
  uint64_t too_long = 0;
  ASSERT_TRUE(reader.next(&data, &offset, &too_long));
  EXPECT_EQ(offset, 0u);
  ASSERT_TRUE(reader.next(&data, &offset, &too_long));
  EXPECT_EQ(offset, 16u + 3);
  EXPECT_EQ(data, "defgh");
  EXPECT_FALSE(reader.next(&data, &offset, &too_long));
  EXPECT_EQ(reader.bytes_read(), reader.total_bytes());
}

TEST(TfRecordFileTest, EveryCorruptedByteIsACleanErrorNamingFileAndRecordOffset) {
  ScratchDir dir;
  const std::string good = frame("first record") + frame("") + frame("third");
  const uint64_t starts[] = {0, 16 + 12, 16 + 12 + 16};
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      const auto path = dir.write("c.tfrecord", bad);
      const std::string message = read_error(path, TfRecordCompression::kNone);
      uint64_t record_start = 0;
      for (uint64_t s : starts) {
        if (i >= s) record_start = s;
      }
      ASSERT_THAT(message, HasSubstr(path.string() + ": corrupt record at byte " +
                                     std::to_string(record_start)))
          << "byte " << i << " flip " << int(flip);
    }
  }
}

TEST(TfRecordFileTest, TruncationIsAnErrorExceptAtRecordBoundaries) {
  ScratchDir dir;
  const std::string good = frame("first record") + frame("second");
  const size_t boundary = 16 + 12;
  for (size_t size = 0; size < good.size(); ++size) {
    const auto path = dir.write("t.tfrecord", good.substr(0, size));
    const std::string message = read_error(path, TfRecordCompression::kNone);
    if (size == 0 || size == boundary) {
      EXPECT_EQ(message, "") << size;
    } else {
      EXPECT_THAT(message, HasSubstr("corrupt record at byte")) << size;
      EXPECT_THAT(message, HasSubstr("truncated")) << size;
    }
  }
}

TEST(TfRecordFileTest, HugeLengthWithValidCrcIsAnErrorNotAnAllocation) {
  ScratchDir dir;
  for (uint64_t length : {uint64_t{1} << 40, ~uint64_t{0}, uint64_t{1} << 62}) {
    const std::string header = le(length, 8);
    const std::string bytes = header + le(mask_crc32c(crc32c(header.data(), 8)), 4) + "tiny";
    const auto path = dir.write("h.tfrecord", bytes);
    // A limit above the claimed length exercises the file-size check; a small one the skip path.
    for (size_t limit : {size_t{1} << 20, ~size_t{0}}) {
      try {
        read_records(path, TfRecordCompression::kNone, limit);
        ADD_FAILURE() << "no error for length " << length;
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("corrupt record at byte 0: truncated"));
      }
    }
    const auto gz = dir / "h.tfrecord.gz";
    // The same hostile bytes inside a gzip stream: no file size to check, the skip must end at EOF.
    {
      OutputFile out(gz);
      z_stream zs{};
      deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
      std::vector<char> buf(1024);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
      zs.avail_in = bytes.size();
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = buf.size();
      ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
      out.write({buf.data(), buf.size() - zs.avail_out});
      deflateEnd(&zs);
      out.finish();
    }
    EXPECT_THAT(read_error(gz, TfRecordCompression::kGzip), HasSubstr("truncated"));
  }
}

TEST(TfRecordFileTest, RecordOverTheLimitIsSkippedWithItsCrcChecked) {
  ScratchDir dir;
  const auto path = dir.write("l.tfrecord", frame(std::string(5000, 'x')) + frame("ok"));
  TfRecordReader reader(path, TfRecordCompression::kNone, 100);
  std::string data;
  uint64_t offset = 0;
  uint64_t too_long = 0;
  ASSERT_TRUE(reader.next(&data, &offset, &too_long));
  EXPECT_EQ(too_long, 5000u);
  EXPECT_EQ(data, "");
  ASSERT_TRUE(reader.next(&data, &offset, &too_long));
  EXPECT_EQ(too_long, 0u);
  EXPECT_EQ(data, "ok");

  std::string bad = frame(std::string(5000, 'x'));
  bad[3000] = 'y';
  const auto bad_path = dir.write("lb.tfrecord", bad);
  TfRecordReader bad_reader(bad_path, TfRecordCompression::kNone, 100);
  EXPECT_THROW(bad_reader.next(&data, &offset, &too_long), Error);
}

TEST(TfRecordFileTest, CorruptOrTruncatedCompressedStreamsNeverCrash) {
  ScratchDir dir;
  for (auto compression : {TfRecordCompression::kGzip, TfRecordCompression::kZlib}) {
    const auto path = dir / "z.tfrecord";
    const std::vector<std::string> records = {"alpha", "beta", std::string(300, 'g')};
    write_records(path, compression, records);
    const std::string good = testing::read_file(path);
    size_t errors = 0;
    for (size_t i = 0; i < good.size(); ++i) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x5a);
      const auto bad_path = dir.write("zb.tfrecord", bad);
      try {
        // Bytes the format does not check (gzip's mtime and OS fields) may change nothing.
        EXPECT_EQ(read_records(bad_path, compression), records) << i;
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr(bad_path.string() + ": corrupt record at byte "));
        ++errors;
      }
    }
    EXPECT_GT(errors, good.size() * 3 / 4);
    for (size_t size = 1; size < good.size(); ++size) {
      const auto cut = dir.write("zt.tfrecord", good.substr(0, size));
      EXPECT_THAT(read_error(cut, compression), HasSubstr("corrupt record at byte")) << size;
    }
  }
}

TEST(TfRecordFileTest, ConcatenatedGzipMembersReadAsOneStream) {
  ScratchDir dir;
  write_records(dir / "a.gz", TfRecordCompression::kGzip, {"one", "two"});
  write_records(dir / "b.gz", TfRecordCompression::kGzip, {"three"});
  const auto path = dir.write("ab.tfrecord.gz",
                              testing::read_file(dir / "a.gz") + testing::read_file(dir / "b.gz"));
  EXPECT_EQ(read_records(path, TfRecordCompression::kGzip),
            (std::vector<std::string>{"one", "two", "three"}));
}

TEST(TfRecordFileTest, CompressionFromNameAndFlag) {
  EXPECT_EQ(tfrecord_compression_for("x.tfrecord"), TfRecordCompression::kNone);
  EXPECT_EQ(tfrecord_compression_for("x.tfrecord.gz"), TfRecordCompression::kGzip);
  EXPECT_EQ(tfrecord_compression_for("x.tfrecords.ZZ"), TfRecordCompression::kZlib);
  EXPECT_EQ(parse_tfrecord_compression("", "x"), TfRecordCompression::kNone);
  EXPECT_EQ(parse_tfrecord_compression("GZIP", "x"), TfRecordCompression::kGzip);
  EXPECT_EQ(parse_tfrecord_compression("zlib", "x"), TfRecordCompression::kZlib);
  EXPECT_THROW(parse_tfrecord_compression("snappy", "x"), Error);
}

}  // namespace
}  // namespace salvo
