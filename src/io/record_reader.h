// Buffered reading of a file, framed into records: lines, or CSV records whose quoted fields
// may span lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "io/record.h"

namespace salvo {

class RecordReader {
 public:
  enum class Framing {
    kLines,      // one record per line; blank lines are not records
    kCsvRecords  // newlines inside double quotes belong to the record (RFC 4180)
  };

  // Throws salvo::Error(kIo) when the file cannot be opened.
  RecordReader(const std::filesystem::path& path, Framing framing, size_t max_record_bytes);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Frames the next record into `out` (index, line, bytes without the line terminator). A record
  // longer than the limit is skipped to its end and returned with `error` set. Returns false at EOF.
  bool next(RawRecord* out);

  uint64_t bytes_read() const { return consumed_; }
  uint64_t total_bytes() const { return total_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  bool fill();

  std::filesystem::path path_;
  Framing framing_;
  size_t max_record_bytes_;
  FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t consumed_ = 0;
  uint64_t total_ = 0;
  uint64_t next_index_ = 0;
  uint64_t next_line_ = 1;
};

}  // namespace salvo
