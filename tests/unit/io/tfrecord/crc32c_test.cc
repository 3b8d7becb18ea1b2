#include "io/tfrecord/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace salvo {
namespace {

// Bit-at-a-time CRC-32C, straight from the definition.
uint32_t crc32c_bitwise(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32cTest, KnownVectors) {
  // The check value of the Castagnoli CRC and the iSCSI test vectors of RFC 3720, B.4.
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62a8ab43u);
  std::string up(32, '\0');
  std::string down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(up.data(), up.size()), 0x46dd794eu);
  EXPECT_EQ(crc32c(down.data(), down.size()), 0x113fdb5cu);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32cTest, FastPathsMatchBitwiseReferenceAtEverySizeAndAlignment) {
  std::mt19937 rng(7);
  std::string buffer(1100, '\0');
  for (auto& c : buffer) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t size = 0; size < 1000; size += (size < 40 ? 1 : 37)) {
      const std::string piece = buffer.substr(start, size);
      const uint32_t expected = crc32c_bitwise(piece);
      ASSERT_EQ(crc32c(buffer.data() + start, size), expected) << start << " " << size;
      ASSERT_EQ(crc32c_extend_portable(0, buffer.data() + start, size), expected)
          << start << " " << size;
    }
  }
}

// Buffers of 12 KB and more are checksummed as three interleaved streams, then joined.
TEST(Crc32cTest, LongBuffersMatchTheTablePathAcrossStreamBoundaries) {
  std::mt19937 rng(11);
  std::string buffer(3 * 12288 + 200, '\0');
  for (auto& c : buffer) c = static_cast<char>(rng());
  for (size_t size : {12287, 12288, 12289, 12288 + 7, 2 * 12288, 2 * 12288 + 4095, 3 * 12288 + 99}) {
    for (size_t start : {0, 1, 5}) {
      ASSERT_EQ(crc32c(buffer.data() + start, size), crc32c_extend_portable(0, buffer.data() + start, size))
          << start << " " << size;
      ASSERT_EQ(crc32c_extend(0x12345678u, buffer.data() + start, size),
                crc32c_extend_portable(0x12345678u, buffer.data() + start, size))
          << start << " " << size;
    }
  }
  const std::string whole = buffer.substr(0, 2 * 12288 + 3);
  EXPECT_EQ(crc32c(whole.data(), whole.size()), crc32c_bitwise(whole));
}

TEST(Crc32cTest, ExtendEqualsOneShot) {
  const std::string data =
      "The quick brown fox jumps over the lazy dog, twice over for good measure.";
  for (size_t split = 0; split <= data.size(); ++split) {
    const uint32_t first = crc32c(data.data(), split);
    EXPECT_EQ(crc32c_extend(first, data.data() + split, data.size() - split),
              crc32c(data.data(), data.size()));
    EXPECT_EQ(crc32c_extend_portable(first, data.data() + split, data.size() - split),
              crc32c(data.data(), data.size()));
  }
}

TEST(Crc32cTest, MaskIsTensorFlows) {
  // mask(crc) = rotate right by 15, plus 0xa282ead8 (tensorflow/tsl/lib/hash/crc32c.h).
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0xe3069283u), ((0xe3069283u >> 15) | (0xe3069283u << 17)) + 0xa282ead8u);
  EXPECT_NE(mask_crc32c(0x12345678u), 0x12345678u);
}

}  // namespace
}  // namespace salvo
