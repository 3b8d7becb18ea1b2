#include "io/tfrecord/tfrecord_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "io/tfrecord/crc32c.h"

namespace salvo {
namespace {

constexpr size_t kInputBufferBytes = 1u << 20;
constexpr size_t kHeaderBytes = 12;  // uint64 length + masked CRC of it
constexpr size_t kFooterBytes = 4;   // masked CRC of the data

int window_bits(TfRecordCompression compression) {
  return compression == TfRecordCompression::kGzip ? 15 + 16 : 15;
}

uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t load_le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void store_le(uint64_t v, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

TfRecordCompression tfrecord_compression_for(const std::filesystem::path& path) {
  const std::string ext = lower(path.extension().string());
  if (ext == ".gz") return TfRecordCompression::kGzip;
  if (ext == ".zz") return TfRecordCompression::kZlib;
  return TfRecordCompression::kNone;
}

TfRecordCompression parse_tfrecord_compression(const std::string& name,
                                               const std::filesystem::path& path) {
  const std::string n = lower(name);
  if (n.empty() || n == "none" || n == "uncompressed") return TfRecordCompression::kNone;
  if (n == "gzip") return TfRecordCompression::kGzip;
  if (n == "zlib") return TfRecordCompression::kZlib;
  throw Error(ErrorCode::kInvalidArgument, path.string() + ": TFRecord compression \"" + name +
                                               "\" is not supported (expected none, gzip or zlib)");
}

TfRecordReader::TfRecordReader(const std::filesystem::path& path, TfRecordCompression compression,
                               size_t max_record_bytes)
    : path_(path), compression_(compression), max_record_bytes_(max_record_bytes) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_)
    throw Error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  total_ = ec ? 0 : size;
  // A small file needs no megabyte of buffer (and the fuzzer opens many small files).
  input_.resize(total_ > 0
                    ? static_cast<size_t>(std::clamp<uint64_t>(total_ + 1, 4096, kInputBufferBytes))
                    : kInputBufferBytes);
  if (compression_ != TfRecordCompression::kNone) {
    if (inflateInit2(&zs_, window_bits(compression_)) != Z_OK) {
      std::fclose(file_);
      throw Error(ErrorCode::kIo, path.string() + ": cannot start zlib");
    }
    inflating_ = true;
  }
}

TfRecordReader::~TfRecordReader() {
  if (inflating_) inflateEnd(&zs_);
  if (file_) std::fclose(file_);
}

void TfRecordReader::corrupt(uint64_t offset, const std::string& what) const {
  std::string where = std::to_string(offset);
  if (compression_ != TfRecordCompression::kNone) where += " of the decompressed stream";
  throw Error(ErrorCode::kIo, path_.string() + ": corrupt record at byte " + where + ": " + what);
}

bool TfRecordReader::fill_input() {
  if (input_eof_) return false;
  const size_t n = std::fread(input_.data(), 1, input_.size(), file_);
  if (n < input_.size()) {
    if (std::ferror(file_))
      throw Error(ErrorCode::kIo, "cannot read " + path_.string() + ": " + std::strerror(errno));
    input_eof_ = true;
  }
  file_bytes_read_ += n;
  input_pos_ = 0;
  input_end_ = n;
  zs_.next_in = reinterpret_cast<Bytef*>(input_.data());
  zs_.avail_in = static_cast<uInt>(n);
  return n > 0;
}

size_t TfRecordReader::read_stream(char* out, size_t size) {
  size_t got = 0;
  if (compression_ == TfRecordCompression::kNone) {
    while (got < size) {
      if (input_pos_ == input_end_ && !fill_input()) break;
      const size_t n = std::min(size - got, input_end_ - input_pos_);
      std::memcpy(out + got, input_.data() + input_pos_, n);
      input_pos_ += n;
      got += n;
    }
    offset_ += got;
    return got;
  }
  while (got < size) {
    if (zs_.avail_in == 0 && !fill_input()) {
      // The end of the file is clean only between compressed members.
      if (stream_ended_ || !in_member_) break;
      corrupt(offset_ + got, "compressed stream is truncated");
    }
    if (stream_ended_) {
      inflateReset(&zs_);  // concatenated gzip members form one stream, as gzip -d reads them
      stream_ended_ = false;
    }
    in_member_ = true;
    zs_.next_out = reinterpret_cast<Bytef*>(out + got);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(size - got, 1u << 30));
    const uInt before = zs_.avail_out;
    const int ret = inflate(&zs_, Z_NO_FLUSH);
    got += before - zs_.avail_out;
    if (ret == Z_STREAM_END) {
      stream_ended_ = true;
      in_member_ = false;
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      corrupt(offset_ + got, std::string("corrupt compressed stream (") +
                                 (zs_.msg ? zs_.msg : "zlib error") + ")");
    }
  }
  offset_ += got;
  return got;
}

bool TfRecordReader::next(std::string* data, uint64_t* offset, uint64_t* too_long) {
  *offset = offset_;
  *too_long = 0;
  data->clear();
  unsigned char header[kHeaderBytes];
  const size_t got = read_stream(reinterpret_cast<char*>(header), kHeaderBytes);
  if (got == 0) return false;
  if (got < kHeaderBytes) {
    corrupt(*offset, "truncated header (" + std::to_string(got) + " of " +
                         std::to_string(kHeaderBytes) + " bytes)");
  }
  if (mask_crc32c(crc32c(header, 8)) != load_le32(header + 8))
    corrupt(*offset, "length CRC mismatch");
  const uint64_t length = load_le64(header);
  if (compression_ == TfRecordCompression::kNone && total_ > 0 &&
      length > total_ - std::min<uint64_t>(total_, offset_)) {
    corrupt(*offset, "truncated: the record claims " + std::to_string(length) +
                         " bytes, the file has " +
                         std::to_string(total_ - std::min<uint64_t>(total_, offset_)) + " left");
  }
  uint32_t crc = 0;
  if (length > max_record_bytes_) {
    // Too long to hold: checksum it in pieces, so that corruption is still caught.
    skip_.resize(64u << 10);
    uint64_t left = length;
    while (left > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, skip_.size()));
      const size_t n = read_stream(skip_.data(), want);
      crc = crc32c_extend(crc, skip_.data(), n);
      if (n < want)
        corrupt(*offset, "truncated data (" + std::to_string(length - left + n) + " of " +
                             std::to_string(length) + " bytes)");
      left -= n;
    }
    *too_long = length;
  } else {
    data->resize(static_cast<size_t>(length));
    const size_t n = read_stream(data->data(), data->size());
    if (n < data->size()) {
      corrupt(*offset,
              "truncated data (" + std::to_string(n) + " of " + std::to_string(length) + " bytes)");
    }
    crc = crc32c(data->data(), data->size());
  }
  unsigned char footer[kFooterBytes];
  const size_t f = read_stream(reinterpret_cast<char*>(footer), kFooterBytes);
  if (f < kFooterBytes) corrupt(*offset, "truncated data CRC");
  if (mask_crc32c(crc) != load_le32(footer)) corrupt(*offset, "data CRC mismatch");
  if (*too_long) data->clear();
  return true;
}

TfRecordWriter::TfRecordWriter(const std::filesystem::path& path, TfRecordCompression compression)
    : file_(path), compression_(compression) {
  if (compression_ != TfRecordCompression::kNone) {
    if (deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits(compression_), 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error(ErrorCode::kIo, path.string() + ": cannot start zlib");
    }
    deflating_ = true;
    output_.resize(kInputBufferBytes);
  }
}

TfRecordWriter::~TfRecordWriter() {
  if (deflating_) deflateEnd(&zs_);
}

void TfRecordWriter::deflate_pending(int flush) {
  for (;;) {
    zs_.next_out = reinterpret_cast<Bytef*>(output_.data());
    zs_.avail_out = static_cast<uInt>(output_.size());
    const int ret = deflate(&zs_, flush);
    if (ret == Z_STREAM_ERROR)
      throw Error(ErrorCode::kIo, file_.path().string() + ": zlib compression failed");
    const size_t produced = output_.size() - zs_.avail_out;
    if (produced) file_.write({output_.data(), produced});
    if (flush == Z_FINISH ? ret == Z_STREAM_END : (zs_.avail_in == 0 && zs_.avail_out != 0)) return;
  }
}

void TfRecordWriter::emit(std::string_view bytes) {
  if (compression_ == TfRecordCompression::kNone) {
    file_.write(bytes);
    return;
  }
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    zs_.avail_in = static_cast<uInt>(n);
    deflate_pending(Z_NO_FLUSH);
    bytes.remove_prefix(n);
  }
}

void TfRecordWriter::write(std::string_view data) {
  char header[kHeaderBytes];
  store_le(data.size(), 8, header);
  store_le(mask_crc32c(crc32c(header, 8)), 4, header + 8);
  char footer[kFooterBytes];
  store_le(mask_crc32c(crc32c(data.data(), data.size())), 4, footer);
  if (compression_ == TfRecordCompression::kNone) {
    // Three writes into the file's buffer; a large record passes straight through it, uncopied.
    file_.write({header, kHeaderBytes});
    file_.write(data);
    file_.write({footer, kFooterBytes});
    return;
  }
  emit({header, kHeaderBytes});
  emit(data);
  emit({footer, kFooterBytes});
}

void TfRecordWriter::finish() {
  if (deflating_) {
    zs_.next_in = nullptr;
    zs_.avail_in = 0;
    deflate_pending(Z_FINISH);
    deflateEnd(&zs_);
    deflating_ = false;
  }
  file_.finish();
}

}  // namespace salvo
