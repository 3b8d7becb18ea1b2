// Buffered reading of a file, framed into records: lines, or CSV records whose quoted fields
// may span lines.
//
// CSV framing follows Python's csv module and DuckDB: a double quote opens a quoted field only at
// the start of a field; anywhere else it is data (`r10,a 27" monitor stand` is two fields). A
// quoted field may span lines, but a quote that never closes properly must not swallow the file:
// when a field that opened on one line has no closing quote within kMaxCsvRecordLines lines, or
// closes with something other than a delimiter after it, or the input ends inside it, the record
// is cut back to its first line (which then reads as an unterminated quoted field, an error row)
// and framing resumes on the next line. Only that one line is lost.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "io/record.h"

namespace salvo {

// Lines a quoted CSV field may span before its opening quote is taken for a stray one.
constexpr uint64_t kMaxCsvRecordLines = 1000;

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

  uint64_t bytes_read() const { return buffer_offset_ + pos_; }
  uint64_t total_bytes() const { return total_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  bool fill();
  bool next_line_record(RawRecord* out);
  bool next_csv_record(RawRecord* out);
  // Moves the read position back to `offset` (a CSV record cut back to its first line).
  void seek(uint64_t offset);

  std::filesystem::path path_;
  Framing framing_;
  size_t max_record_bytes_;
  FILE* file_ = nullptr;
  std::vector<char> buffer_;
  uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t total_ = 0;
  uint64_t next_index_ = 0;
  uint64_t next_line_ = 1;
};

}  // namespace salvo
