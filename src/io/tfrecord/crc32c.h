// CRC-32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's masking of it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace salvo {

// Extends `crc` (0 for a fresh checksum) over `size` bytes. Uses the SSE4.2 crc32 instruction when
// the CPU has it, else a slicing-by-8 table.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

// The table implementation alone, the reference that the hardware path is tested against.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size);

// CRC-32C of `size` bytes.
inline uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }

// TensorFlow's masked CRC: rotated and offset so that a CRC stored in data checksums differently.
inline uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace salvo
