#include "io/compression.h"

#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "core/error.h"

namespace salvo {
namespace {

[[noreturn]] void corrupt(const std::string& what, const std::string& why) {
  throw Error(ErrorCode::kIo, what + ": " + why);
}

// Inflates gzip (windowBits 15+16) or zlib (15) data into at most `max_size` bytes. With `exact`
// the result must be exactly max_size bytes.
std::string inflate_data(bool gzip, std::string_view input, size_t max_size, bool exact, const std::string& what) {
  z_stream z{};
  // 15 + 32 detects a gzip or zlib header: some writers put zlib streams in Parquet's GZIP pages.
  if (inflateInit2(&z, gzip ? 15 + 32 : 15) != Z_OK) corrupt(what, "cannot start zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::string out;
  out.resize(exact ? max_size : std::min<size_t>(max_size, std::max<size_t>(input.size() * 4, 4096)));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  size_t in_left = input.size();
  size_t produced = 0;
  for (;;) {
    const uInt in_chunk = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    z.avail_in = in_chunk;
    if (produced == out.size()) {
      if (out.size() >= max_size) {
        // Full: only fine if the stream ends here, which a probe byte tells.
        char probe;
        z.next_out = reinterpret_cast<Bytef*>(&probe);
        z.avail_out = 1;
        const int rc = inflate(&z, Z_NO_FLUSH);
        in_left -= in_chunk - z.avail_in;
        if (z.avail_out == 0) corrupt(what, "decompresses to more than " + std::to_string(max_size) + " bytes");
        if (rc == Z_STREAM_END && (!gzip || in_left == 0)) break;
        if (rc == Z_STREAM_END) {
          inflateReset(&z);
          continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) corrupt(what, std::string("corrupt deflate data: ") + (z.msg ? z.msg : "?"));
        if (in_left == 0) corrupt(what, "truncated deflate data");
        continue;
      }
      out.resize(std::min<size_t>(max_size, out.size() * 2));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 30));
    const uInt out_chunk = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    produced += out_chunk - z.avail_out;
    in_left -= in_chunk - z.avail_in;
    if (rc == Z_STREAM_END) {
      if (gzip && in_left > 0) {
        inflateReset(&z);
        continue;
      }
      break;
    }
    if (rc == Z_BUF_ERROR && in_left == 0 && z.avail_out > 0) corrupt(what, "truncated deflate data");
    if (rc != Z_OK && rc != Z_BUF_ERROR) corrupt(what, std::string("corrupt deflate data: ") + (z.msg ? z.msg : "?"));
  }
  if (exact && produced != max_size) {
    corrupt(what, "decompressed to " + std::to_string(produced) + " bytes, expected " + std::to_string(max_size));
  }
  out.resize(produced);
  return out;
}

std::string deflate_data(bool gzip, std::string_view input, int level) {
  z_stream z{};
  if (deflateInit2(&z, level < 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(ErrorCode::kInternal, "cannot start zlib compression");
  }
  std::string out(deflateBound(&z, input.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error(ErrorCode::kInternal, "zlib compression failed");
  out.resize(produced);
  return out;
}

uint32_t load_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

void store_be32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

// Hadoop's LZ4 framing: blocks of [decompressed size BE32][compressed size BE32][raw LZ4 block],
// decompressed into out[0, expected_size). False when the input is not in that framing.
bool try_lz4_hadoop(std::string_view input, char* out, size_t expected_size) {
  size_t in = 0;
  size_t produced = 0;
  while (in < input.size()) {
    if (input.size() - in < 8) return false;
    const uint32_t raw_size = load_be32(input.data() + in);
    const uint32_t block_size = load_be32(input.data() + in + 4);
    in += 8;
    if (block_size > input.size() - in || raw_size > expected_size - produced) return false;
    const int n = LZ4_decompress_safe(input.data() + in, out + produced, static_cast<int>(block_size),
                                      static_cast<int>(raw_size));
    if (n < 0 || static_cast<uint32_t>(n) != raw_size) return false;
    in += block_size;
    produced += raw_size;
  }
  return produced == expected_size;
}

}  // namespace

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::kNone: return "none";
    case Compression::kSnappy: return "snappy";
    case Compression::kGzip: return "gzip";
    case Compression::kZlib: return "zlib";
    case Compression::kZstd: return "zstd";
    case Compression::kLz4Raw: return "lz4_raw";
    case Compression::kLz4Hadoop: return "lz4";
  }
  return "unknown";
}

void compress_into(Compression compression, std::string_view input, std::string* out, int level) {
  switch (compression) {
    case Compression::kNone:
      out->assign(input);
      return;
    case Compression::kSnappy: {
      size_t length = snappy_max_compressed_length(input.size());
      out->resize(length);
      if (snappy_compress(input.data(), input.size(), out->data(), &length) != SNAPPY_OK) {
        throw Error(ErrorCode::kInternal, "snappy compression failed");
      }
      out->resize(length);
      return;
    }
    case Compression::kGzip:
      *out = deflate_data(true, input, level);
      return;
    case Compression::kZlib:
      *out = deflate_data(false, input, level);
      return;
    case Compression::kZstd: {
      out->resize(ZSTD_compressBound(input.size()));
      const size_t n = ZSTD_compress(out->data(), out->size(), input.data(), input.size(), level < 0 ? 3 : level);
      if (ZSTD_isError(n)) throw Error(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
      out->resize(n);
      return;
    }
    case Compression::kLz4Raw:
    case Compression::kLz4Hadoop: {
      if (input.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        throw Error(ErrorCode::kInternal, "lz4: block of " + std::to_string(input.size()) + " bytes is too large");
      }
      const size_t header = compression == Compression::kLz4Hadoop ? 8 : 0;
      out->resize(header + LZ4_compressBound(static_cast<int>(input.size())));
      const int n = LZ4_compress_default(input.data(), out->data() + header, static_cast<int>(input.size()),
                                         static_cast<int>(out->size() - header));
      if (n <= 0) throw Error(ErrorCode::kInternal, "lz4 compression failed");
      if (header) {
        store_be32(out->data(), static_cast<uint32_t>(input.size()));
        store_be32(out->data() + 4, static_cast<uint32_t>(n));
      }
      out->resize(header + static_cast<size_t>(n));
      return;
    }
  }
  throw Error(ErrorCode::kInternal, "unknown compression");
}

std::string compress(Compression compression, std::string_view input, int level) {
  std::string out;
  compress_into(compression, input, &out, level);
  return out;
}

void decompress_into(Compression compression, std::string_view input, char* out, size_t expected_size,
                     const std::string& what) {
  switch (compression) {
    case Compression::kNone:
      if (input.size() != expected_size) {
        corrupt(what, "holds " + std::to_string(input.size()) + " bytes, expected " + std::to_string(expected_size));
      }
      if (expected_size > 0) std::memcpy(out, input.data(), expected_size);
      return;
    case Compression::kSnappy: {
      size_t length = 0;
      if (snappy_uncompressed_length(input.data(), input.size(), &length) != SNAPPY_OK) {
        corrupt(what, "corrupt snappy data");
      }
      if (length != expected_size) {
        corrupt(what, "snappy data claims " + std::to_string(length) + " bytes, expected " +
                          std::to_string(expected_size));
      }
      if (snappy_uncompress(input.data(), input.size(), out, &length) != SNAPPY_OK || length != expected_size) {
        corrupt(what, "corrupt snappy data");
      }
      return;
    }
    case Compression::kGzip:
    case Compression::kZlib: {
      const std::string inflated = inflate_data(compression == Compression::kGzip, input, expected_size, true, what);
      if (expected_size > 0) std::memcpy(out, inflated.data(), expected_size);
      return;
    }
    case Compression::kZstd: {
      const size_t n = ZSTD_decompress(out, expected_size, input.data(), input.size());
      if (ZSTD_isError(n)) corrupt(what, std::string("corrupt zstd data: ") + ZSTD_getErrorName(n));
      if (n != expected_size) {
        corrupt(what, "zstd data holds " + std::to_string(n) + " bytes, expected " + std::to_string(expected_size));
      }
      return;
    }
    case Compression::kLz4Hadoop:
      if (try_lz4_hadoop(input, out, expected_size)) return;
      [[fallthrough]];
    case Compression::kLz4Raw: {
      if (input.size() > static_cast<size_t>(INT32_MAX) || expected_size > static_cast<size_t>(INT32_MAX)) {
        corrupt(what, "lz4 block too large");
      }
      const int n = LZ4_decompress_safe(input.data(), out, static_cast<int>(input.size()),
                                        static_cast<int>(expected_size));
      if (n < 0) corrupt(what, "corrupt lz4 data");
      if (static_cast<size_t>(n) != expected_size) {
        corrupt(what, "lz4 data holds " + std::to_string(n) + " bytes, expected " + std::to_string(expected_size));
      }
      return;
    }
  }
  throw Error(ErrorCode::kInternal, "unknown compression");
}

std::string decompress(Compression compression, std::string_view input, size_t expected_size,
                       const std::string& what) {
  if (compression == Compression::kGzip || compression == Compression::kZlib) {
    return inflate_data(compression == Compression::kGzip, input, expected_size, true, what);
  }
  std::string out(expected_size, '\0');
  decompress_into(compression, input, out.data(), expected_size, what);
  return out;
}

std::string decompress_bounded(Compression compression, std::string_view input, size_t max_size,
                               const std::string& what) {
  switch (compression) {
    case Compression::kGzip:
      return inflate_data(true, input, max_size, false, what);
    case Compression::kZlib:
      return inflate_data(false, input, max_size, false, what);
    case Compression::kZstd: {
      std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
      std::string out;
      ZSTD_inBuffer in{input.data(), input.size(), 0};
      std::string chunk(ZSTD_DStreamOutSize(), '\0');
      size_t rc = 1;
      while (in.pos < in.size || rc != 0) {
        ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
        rc = ZSTD_decompressStream(ctx.get(), &o, &in);
        if (ZSTD_isError(rc)) corrupt(what, std::string("corrupt zstd data: ") + ZSTD_getErrorName(rc));
        if (out.size() + o.pos > max_size) corrupt(what, "decompresses to more than " + std::to_string(max_size) + " bytes");
        out.append(chunk.data(), o.pos);
        if (o.pos == 0 && in.pos == in.size && rc != 0) corrupt(what, "truncated zstd data");
      }
      return out;
    }
    case Compression::kNone:
      if (input.size() > max_size) corrupt(what, "more than " + std::to_string(max_size) + " bytes");
      return std::string(input);
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  std::string(compression_name(compression)) + " data needs its size to be decompressed");
  }
}

}  // namespace salvo
