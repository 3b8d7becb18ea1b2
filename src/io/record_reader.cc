#include "io/record_reader.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace salvo {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

bool is_blank(const std::string& s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

RecordReader::RecordReader(const std::filesystem::path& path, Framing framing, size_t max_record_bytes)
    : path_(path), framing_(framing), max_record_bytes_(max_record_bytes), buffer_(kBufferBytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kIo, "cannot read " + path.string() + ": is a directory");
  }
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) {
    throw Error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  }
  auto size = std::filesystem::file_size(path, ec);
  total_ = ec ? 0 : size;
}

RecordReader::~RecordReader() {
  if (file_) std::fclose(file_);
}

bool RecordReader::fill() {
  if (eof_) return false;
  buffer_offset_ += end_;
  pos_ = 0;
  end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (end_ < buffer_.size()) {
    if (std::ferror(file_)) {
      throw Error(ErrorCode::kIo, "error reading " + path_.string() + " at byte " +
                                      std::to_string(buffer_offset_ + end_) + ": " + std::strerror(errno));
    }
    eof_ = true;
  }
  if (buffer_offset_ == 0 && end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) {
    pos_ = 3;  // a UTF-8 byte order mark is not part of the first record
  }
  return end_ > pos_;
}

void RecordReader::seek(uint64_t offset) {
  if (offset >= buffer_offset_ && offset <= buffer_offset_ + end_) {
    pos_ = static_cast<size_t>(offset - buffer_offset_);
    return;
  }
  if (std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0) {
    throw Error(ErrorCode::kIo, "cannot re-read " + path_.string() + " from byte " + std::to_string(offset) +
                                    " (after an unterminated quoted field): " + std::strerror(errno));
  }
  buffer_offset_ = offset;
  pos_ = end_ = 0;
  eof_ = false;
}

bool RecordReader::next(RawRecord* out) {
  return framing_ == Framing::kLines ? next_line_record(out) : next_csv_record(out);
}

bool RecordReader::next_line_record(RawRecord* out) {
  for (;;) {
    out->bytes.clear();
    out->error.clear();
    out->line = next_line_;
    bool oversize = false;
    bool any = false;
    uint64_t record_bytes = 0;
    for (;;) {
      if (pos_ == end_ && !fill()) break;
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* stop = buffer_.data() + end_;
      const char* p = static_cast<const char*>(std::memchr(begin, '\n', stop - begin));
      const bool ended = p != nullptr;
      if (!ended) p = stop;
      const size_t chunk = p - begin;
      record_bytes += chunk;
      if (record_bytes > max_record_bytes_) {
        oversize = true;
        out->bytes.clear();
        out->bytes.shrink_to_fit();
      } else {
        out->bytes.append(begin, chunk);
      }
      pos_ += chunk + (ended ? 1 : 0);
      if (ended) {
        ++next_line_;
        break;
      }
    }
    if (!any && out->bytes.empty()) return false;
    if (!out->bytes.empty() && out->bytes.back() == '\r') out->bytes.pop_back();
    if (oversize) {
      out->error = "record is " + std::to_string(record_bytes) + " bytes, over the limit of " +
                   std::to_string(max_record_bytes_);
    } else if (is_blank(out->bytes)) {
      continue;
    }
    out->index = next_index_++;
    return true;
  }
}

bool RecordReader::next_csv_record(RawRecord* out) {
  for (;;) {
    out->bytes.clear();
    out->error.clear();
    out->line = next_line_;
    const uint64_t first_line = next_line_;
    bool any = false;
    bool oversize = false;
    uint64_t record_bytes = 0;
    // The field-level state of the CSV grammar, carried across buffer refills.
    bool field_start = true;   // the next byte begins a field
    bool in_quotes = false;    // inside a quoted field
    bool quote_seen = false;   // inside a quoted field, a quote that closes it or escapes the next
    uint64_t lines_spanned = 0;       // newlines inside the quoted fields of this record
    uint64_t first_break_offset = 0;  // file offset just after the first of those newlines
    size_t first_line_bytes = 0;      // the record's bytes before that newline
    bool cut_back = false;
    bool ended = false;
    while (!ended && !cut_back) {
      if (pos_ == end_ && !fill()) break;
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* stop = buffer_.data() + end_;
      const char* p = begin;
      for (; p < stop; ++p) {
        const char c = *p;
        if (in_quotes) {
          if (quote_seen) {
            quote_seen = false;
            if (c != '"') {
              in_quotes = false;
              if (lines_spanned > 0 && c != ',' && c != '\n' && c != '\r') {
                cut_back = true;
                break;
              }
              if (c == ',') {
                field_start = true;
              } else if (c == '\n') {
                ended = true;
                break;
              }
            }
          } else if (c == '"') {
            quote_seen = true;
          } else if (c == '\n') {
            if (oversize && lines_spanned == 0) {  // an oversize line ends its record, quotes or not
              ended = true;
              break;
            }
            if (++lines_spanned == 1) {
              first_break_offset = buffer_offset_ + (p - buffer_.data()) + 1;
              first_line_bytes = static_cast<size_t>(record_bytes + (p - begin));
            }
            ++next_line_;
            if (lines_spanned > kMaxCsvRecordLines) {
              cut_back = true;
              break;
            }
          }
        } else if (c == '\n') {
          ended = true;
          break;
        } else if (c == ',') {
          field_start = true;
        } else {
          if (c == '"' && field_start) in_quotes = true;
          field_start = false;
        }
      }
      const size_t chunk = p - begin;
      record_bytes += chunk;
      if (record_bytes > max_record_bytes_) {
        oversize = true;
        out->bytes.clear();
        out->bytes.shrink_to_fit();
      } else {
        out->bytes.append(begin, chunk);
      }
      pos_ += chunk + (ended ? 1 : 0);
    }
    if (!any && out->bytes.empty()) return false;
    // The input ended inside a quoted field that opened on an earlier line: a stray quote too.
    if (!ended && !cut_back && in_quotes && !quote_seen && lines_spanned > 0) cut_back = true;
    if (cut_back) {
      // The opening quote was stray: the record is its first line, and the lines after it are
      // framed again from the start of a field.
      seek(first_break_offset);
      next_line_ = first_line + 1;
      if (first_line_bytes > max_record_bytes_) {
        oversize = true;
        record_bytes = first_line_bytes;
        out->bytes.clear();
      } else {
        oversize = false;
        if (out->bytes.size() >= first_line_bytes) {
          out->bytes.resize(first_line_bytes);
        } else {
          // The first line was dropped with the rest of an oversize record: read it again.
          out->bytes.clear();
          seek(first_break_offset - first_line_bytes - 1);
          while (out->bytes.size() < first_line_bytes && (pos_ < end_ || fill())) {
            const size_t n = std::min(first_line_bytes - out->bytes.size(), end_ - pos_);
            out->bytes.append(buffer_.data() + pos_, n);
            pos_ += n;
          }
          seek(first_break_offset);
        }
      }
    } else if (ended) {
      ++next_line_;
    }
    if (!out->bytes.empty() && out->bytes.back() == '\r') out->bytes.pop_back();
    if (oversize) {
      out->error = "record is " + std::to_string(record_bytes) + " bytes, over the limit of " +
                   std::to_string(max_record_bytes_);
    } else if (is_blank(out->bytes)) {
      continue;
    }
    out->index = next_index_++;
    return true;
  }
}

}  // namespace salvo
