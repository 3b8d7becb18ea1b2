// TFRecord framing: each record is a little-endian uint64 length, the masked CRC-32C of those
// eight bytes, the data, and the masked CRC-32C of the data. A file may be one GZIP or ZLIB
// stream over all of it, as TensorFlow's TFRecordOptions write it.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/output_file.h"

namespace salvo {

// How a TFRecord file is compressed as a whole.
enum class TfRecordCompression {
  kNone,
  kGzip,  // gzip stream (deflate with a gzip header), TensorFlow's "GZIP"
  kZlib,  // zlib stream, TensorFlow's "ZLIB"
};

// The compression that a file name implies: .gz is GZIP, .zz is ZLIB, anything else none.
TfRecordCompression tfrecord_compression_for(const std::filesystem::path& path);

// Parses "" / "none" / "gzip" / "zlib" (a sink's --compression). Throws
// salvo::Error(kInvalidArgument).
TfRecordCompression parse_tfrecord_compression(const std::string& name,
                                               const std::filesystem::path& path);

// Reads framed records one at a time, verifying both CRCs of each.
class TfRecordReader {
 public:
  // Throws salvo::Error(kIo) when the file cannot be opened.
  TfRecordReader(const std::filesystem::path& path, TfRecordCompression compression,
                 size_t max_record_bytes);
  ~TfRecordReader();
  TfRecordReader(const TfRecordReader&) = delete;
  TfRecordReader& operator=(const TfRecordReader&) = delete;

  // Reads the next record's data into `data` and its byte offset (in the uncompressed stream)
  // into `offset`. A record longer than the limit is skipped (its CRC still checked) and
  // reported through `too_long` (set to its length) with `data` left empty. Returns false at a
  // clean end of file. Throws salvo::Error(kIo) "FILE: corrupt record at byte N: ..." for a bad
  // CRC, a truncated record or a corrupt compressed stream.
  bool next(std::string* data, uint64_t* offset, uint64_t* too_long);

  // File bytes consumed so far by the records read (compressed bytes taken in by the decompressor,
  // for a compressed file), not by the read-ahead: a record's start, for slicing (--shard) and
  // progress. And the file's size.
  uint64_t bytes_read() const {
    return compression_ == TfRecordCompression::kNone ? offset_ : file_bytes_read_ - zs_.avail_in;
  }
  uint64_t total_bytes() const { return total_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  // Copies up to `size` bytes of the (decompressed) stream; fewer only at its end.
  size_t read_stream(char* out, size_t size);
  // Refills the file buffer; false at end of file.
  bool fill_input();
  [[noreturn]] void corrupt(uint64_t offset, const std::string& what) const;

  std::filesystem::path path_;
  TfRecordCompression compression_;
  size_t max_record_bytes_;
  FILE* file_ = nullptr;
  uint64_t total_ = 0;
  uint64_t file_bytes_read_ = 0;
  uint64_t offset_ = 0;  // position in the uncompressed stream
  std::vector<char> input_;
  size_t input_pos_ = 0;
  size_t input_end_ = 0;
  bool input_eof_ = false;
  z_stream zs_{};
  bool inflating_ = false;
  bool stream_ended_ = false;  // a compressed member ended; another may follow
  bool in_member_ = false;     // inside a compressed member: its end must come before the file's
  std::vector<char> skip_;
};

// Writes framed records to an OutputFile, compressing the whole stream when asked.
class TfRecordWriter {
 public:
  // Throws salvo::Error(kIo) when the file cannot be created.
  TfRecordWriter(const std::filesystem::path& path, TfRecordCompression compression);
  ~TfRecordWriter();
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  // Frames one record.
  void write(std::string_view data);
  // Ends the compressed stream, flushes and renames to the final name.
  void finish();

 private:
  void emit(std::string_view bytes);
  void deflate_pending(int flush);

  OutputFile file_;
  TfRecordCompression compression_;
  z_stream zs_{};
  bool deflating_ = false;
  std::vector<char> output_;
};

}  // namespace salvo
