#include "io/tfrecord/crc32c.h"

#include <array>
#include <bit>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace salvo {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // reflected Castagnoli polynomial

// tables[k][b]: the CRC of byte b followed by k zero bytes, for slicing-by-8.
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (kPolynomial & (0u - (crc & 1u)));
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k)
      tables[k][b] = (tables[k - 1][b] >> 8) ^ tables[0][tables[k - 1][b] & 0xff];
  }
  return tables;
}

constexpr auto kTables = make_tables();
static_assert(std::endian::native == std::endian::little, "slicing-by-8 reads words little-endian");

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles and can start one per cycle, so one chain of them runs at a
// third of the unit's rate. Long buffers are taken kStream * 3 bytes at a time as three streams
// checksummed at once, then joined. The register is linear over GF(2):
//   crc(c, A B C) = shift(crc(c, A), 2L) ^ shift(crc(0, B), L) ^ crc(0, C),
// where shift(v, L) = crc(v, L zero bytes), itself linear in v: a table per byte of v.
constexpr size_t kStream = 4096;  // L, bytes per stream

__attribute__((target("sse4.2"))) uint64_t crc32c_words(uint64_t c, const unsigned char* p, size_t words) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, p + 8 * i, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

// shift(v, bytes) for v = each byte value at each of the four byte positions.
struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> byte{};

  explicit ShiftTables(size_t bytes) {
    const std::vector<unsigned char> zeros(bytes, 0);
    uint32_t bit_shift[32];
    for (int b = 0; b < 32; ++b) {
      bit_shift[b] = static_cast<uint32_t>(crc32c_words(uint32_t{1} << b, zeros.data(), bytes / 8));
    }
    for (int k = 0; k < 4; ++k) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t shifted = 0;
        for (int b = 0; b < 8; ++b) {
          if (v & (1u << b)) shifted ^= bit_shift[8 * k + b];
        }
        byte[k][v] = shifted;
      }
    }
  }

  uint32_t operator()(uint32_t v) const {
    return byte[0][v & 0xff] ^ byte[1][(v >> 8) & 0xff] ^ byte[2][(v >> 16) & 0xff] ^ byte[3][v >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const unsigned char* p, size_t n) {
  uint64_t c = crc;
  if (n >= 3 * kStream) {
    static const ShiftTables by_one(kStream), by_two(2 * kStream);
    do {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kStream; i += 8) {
        uint64_t wa, wb, wd;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, p + kStream + i, 8);
        std::memcpy(&wd, p + 2 * kStream + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        d = _mm_crc32_u64(d, wd);
      }
      c = by_two(static_cast<uint32_t>(a)) ^ by_one(static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
      p += 3 * kStream;
      n -= 3 * kStream;
    } while (n >= 3 * kStream);
  }
  c = crc32c_words(c, p, n / 8);
  p += n / 8 * 8;
  n %= 8;
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return c32;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (size >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;  // little-endian: the CRC folds into the first four bytes
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
        kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size > 0) {
    c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
    --size;
  }
  return ~c;
}

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
#if defined(__x86_64__)
  if (kHaveSse42) return ~crc32c_sse42(~crc, static_cast<const unsigned char*>(data), size);
#endif
  return crc32c_extend_portable(crc, data, size);
}

}  // namespace salvo
