#include "core/utf8.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cstdint>
#include <cstring>

namespace salvo {

bool is_valid_utf8_scalar(std::string_view text, size_t* bad_offset) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time: it is most of real text.
    while (i + 8 <= n) {
      uint64_t word;
      __builtin_memcpy(&word, s + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const uint8_t c = s[i];
    size_t len;
    uint32_t min_cp;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min_cp = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min_cp = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min_cp = 0x10000, cp = c & 0x07;
    } else {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    if (i + len > n) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        if (bad_offset) *bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

#if defined(__x86_64__)

namespace {

// Error bits of the lookup tables: which rule a pair of bytes (the one before, the one at hand)
// may break. A pair is bad when all three lookups share a bit.
constexpr uint8_t kTooShort = 1 << 0;      // lead byte, or ASCII, where a continuation is due
constexpr uint8_t kTooLong = 1 << 1;       // continuation after ASCII
constexpr uint8_t kOverlong3 = 1 << 2;     // E0 80..9F
constexpr uint8_t kTooLarge = 1 << 3;      // F4 90.., F5..FF
constexpr uint8_t kSurrogate = 1 << 4;     // ED A0..BF
constexpr uint8_t kOverlong2 = 1 << 5;     // C0, C1
constexpr uint8_t kTooLarge1000 = 1 << 6;  // F5..FF 80..8F
constexpr uint8_t kOverlong4 = 1 << 6;     // F0 80..8F
constexpr uint8_t kTwoConts = 1 << 7;      // continuation after continuation (fine inside 3, 4 bytes)
constexpr uint8_t kCarry = kTooShort | kTooLong | kTwoConts;

#define SALVO_TABLE16(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)

// The bytes of `input` moved N places later, the first N taken from the end of `previous`.
template <int N>
__attribute__((target("avx2"))) inline __m256i earlier(__m256i input, __m256i previous) {
  return _mm256_alignr_epi8(input, _mm256_permute2x128_si256(previous, input, 0x21), 16 - N);
}

// Error bits for one 32-byte block, given the block before it.
__attribute__((target("avx2"))) inline __m256i block_errors(__m256i input, __m256i previous) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i prev1 = earlier<1>(input, previous);
  const __m256i byte1_high = _mm256_shuffle_epi8(
      SALVO_TABLE16(kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,  // 0_______
                    kTwoConts, kTwoConts, kTwoConts, kTwoConts,                                         // 10______
                    char(kTooShort | kOverlong2),                                                         // 1100____
                    kTooShort,                                                                            // 1101____
                    char(kTooShort | kOverlong3 | kSurrogate),                                            // 1110____
                    char(kTooShort | kTooLarge | kTooLarge1000 | kOverlong4)),                            // 1111____
      _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
  const __m256i byte1_low = _mm256_shuffle_epi8(
      SALVO_TABLE16(char(kCarry | kOverlong3 | kOverlong2 | kOverlong4),  // ____0000
                    char(kCarry | kOverlong2),                             // ____0001
                    char(kCarry), char(kCarry),                            // ____001_
                    char(kCarry | kTooLarge),                              // ____0100
                    char(kCarry | kTooLarge | kTooLarge1000),              // ____0101
                    char(kCarry | kTooLarge | kTooLarge1000),              // ____011_
                    char(kCarry | kTooLarge | kTooLarge1000),
                    char(kCarry | kTooLarge | kTooLarge1000),  // ____1___
                    char(kCarry | kTooLarge | kTooLarge1000), char(kCarry | kTooLarge | kTooLarge1000),
                    char(kCarry | kTooLarge | kTooLarge1000), char(kCarry | kTooLarge | kTooLarge1000),
                    char(kCarry | kTooLarge | kTooLarge1000 | kSurrogate),  // ____1101
                    char(kCarry | kTooLarge | kTooLarge1000), char(kCarry | kTooLarge | kTooLarge1000)),
      _mm256_and_si256(prev1, nibble));
  const __m256i byte2_high = _mm256_shuffle_epi8(
      SALVO_TABLE16(kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,  // 0_______
                    char(kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4),     // 1000____
                    char(kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge),                     // 1001____
                    char(kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge),                     // 101_____
                    char(kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge),
                    kTooShort, kTooShort, kTooShort, kTooShort),  // 11______
      _mm256_and_si256(_mm256_srli_epi16(input, 4), nibble));
  const __m256i special = _mm256_and_si256(_mm256_and_si256(byte1_high, byte1_low), byte2_high);
  // A continuation after a continuation is right exactly where it is the third or fourth byte
  // of a sequence: two places after a 3- or 4-byte lead (E0..FF) or three after a 4-byte lead.
  const __m256i third = _mm256_subs_epu8(earlier<2>(input, previous), _mm256_set1_epi8(char(0xE0 - 0x80)));
  const __m256i fourth = _mm256_subs_epu8(earlier<3>(input, previous), _mm256_set1_epi8(char(0xF0 - 0x80)));
  const __m256i must_continue = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(char(0x80)));
  return _mm256_xor_si256(must_continue, special);
}

// Non-zero when the block ends inside a sequence (a lead byte too close to its end).
__attribute__((target("avx2"))) inline __m256i incomplete_at_end(__m256i input) {
  const __m256i limit = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, char(0xF0 - 1), char(0xE0 - 1),
                                         char(0xC0 - 1));
  return _mm256_subs_epu8(input, limit);
}

#undef SALVO_TABLE16

// The running state of a check: error bits so far, the last block, whether it ended inside a sequence.
struct Avx2State {
  __m256i error;
  __m256i previous;
  __m256i incomplete;
};

__attribute__((target("avx2"))) inline void check_block(__m256i input, Avx2State* state) {
  if (_mm256_movemask_epi8(input) == 0) {
    // All ASCII: only a sequence left open by the previous block can be wrong.
    state->error = _mm256_or_si256(state->error, state->incomplete);
    state->incomplete = _mm256_setzero_si256();
  } else {
    state->error = _mm256_or_si256(state->error, block_errors(input, state->previous));
    state->incomplete = incomplete_at_end(input);
  }
  state->previous = input;
}

}  // namespace

__attribute__((target("avx2"))) bool is_valid_utf8_avx2(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  Avx2State state{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) check_block(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)), &state);
  if (i < n) {
    // The tail, padded with zeros (ASCII): a sequence cut by the end meets them and fails.
    alignas(32) uint8_t tail[32] = {};
    std::memcpy(tail, s + i, n - i);
    check_block(_mm256_load_si256(reinterpret_cast<const __m256i*>(tail)), &state);
  }
  const __m256i error = _mm256_or_si256(state.error, state.incomplete);
  return _mm256_testz_si256(error, error) != 0;
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

#else

bool is_valid_utf8_avx2(std::string_view text) { return is_valid_utf8_scalar(text, nullptr); }
bool cpu_has_avx2() { return false; }

#endif

bool is_valid_utf8(std::string_view text, size_t* bad_offset) {
  // Valid text (nearly all of it) is confirmed 32 bytes at a time; the scalar loop finds where
  // invalid text goes wrong.
  if (text.size() >= 32 && cpu_has_avx2() && is_valid_utf8_avx2(text)) return true;
  return is_valid_utf8_scalar(text, bad_offset);
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the sequence that crosses the cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace salvo
