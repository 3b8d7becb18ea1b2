// Block compression for file formats (Parquet pages, TFRecord files): snappy, gzip, zlib, zstd, lz4.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace salvo {

// A compression format.
enum class Compression {
  kNone,
  kSnappy,
  kGzip,       // RFC 1952 (gzip header and CRC); decompression also accepts concatenated members
  kZlib,       // RFC 1950 (zlib header and Adler-32)
  kZstd,       // a zstd frame
  kLz4Raw,     // one raw LZ4 block (Parquet's LZ4_RAW)
  kLz4Hadoop,  // Parquet's deprecated LZ4: Hadoop framing (big-endian sizes) around raw blocks;
               // decompression falls back to one raw block, as Arrow does
};

// Name for messages and flags ("snappy", "gzip", "zlib", "zstd", "lz4_raw", "lz4", "none").
const char* compression_name(Compression compression);

// Compresses `input`. `level` < 0 picks the library's default. Throws salvo::Error(kInternal) if
// the library fails.
std::string compress(Compression compression, std::string_view input, int level = -1);

// Like compress(), into `out` (its capacity is reused: no allocation once it is large enough).
void compress_into(Compression compression, std::string_view input, std::string* out, int level = -1);

// Decompresses `input`, which must expand to exactly `expected_size` bytes: no more is ever
// allocated, so a hostile size claim inside the data cannot exhaust memory. Throws
// salvo::Error(kIo) with `what` (e.g. "data.parquet: page at byte 1234") for corrupt data or a
// size mismatch.
std::string decompress(Compression compression, std::string_view input, size_t expected_size,
                       const std::string& what = "compressed data");

// Like decompress(), into out[0, expected_size) (a page buffer the caller owns): no copy, no
// zero-fill. On a throw the contents of `out` are unspecified.
void decompress_into(Compression compression, std::string_view input, char* out, size_t expected_size,
                     const std::string& what = "compressed data");

// Decompresses a gzip, zlib or zstd stream whose size is not known in advance, refusing to
// produce more than `max_size` bytes (salvo::Error(kIo) naming `what`).
std::string decompress_bounded(Compression compression, std::string_view input, size_t max_size,
                               const std::string& what = "compressed data");

}  // namespace salvo
