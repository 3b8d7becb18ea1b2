#include "io/record_reader.h"

#include <cerrno>
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
  pos_ = 0;
  end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (end_ < buffer_.size()) {
    if (std::ferror(file_)) {
      throw Error(ErrorCode::kIo, "error reading " + path_.string() + " at byte " +
                                      std::to_string(consumed_ + end_) + ": " + std::strerror(errno));
    }
    eof_ = true;
  }
  if (consumed_ == 0 && end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) {
    pos_ = 3;  // a UTF-8 byte order mark is not part of the first record
    consumed_ = 3;
  }
  return end_ > pos_;
}

bool RecordReader::next(RawRecord* out) {
  for (;;) {
    out->bytes.clear();
    out->error.clear();
    out->line = next_line_;
    bool in_quotes = false;
    bool oversize = false;
    bool any = false;
    uint64_t record_bytes = 0;
    for (;;) {
      if (pos_ == end_ && !fill()) break;
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* stop = buffer_.data() + end_;
      const char* p = begin;
      bool ended = false;
      if (framing_ == Framing::kLines) {
        p = static_cast<const char*>(std::memchr(begin, '\n', stop - begin));
        if (p) ended = true; else p = stop;
      } else {
        for (; p < stop; ++p) {
          if (*p == '"') {
            in_quotes = !in_quotes;
          } else if (*p == '\n') {
            if (!in_quotes) { ended = true; break; }
            ++next_line_;
          }
        }
      }
      const size_t chunk = p - begin;
      record_bytes += chunk;
      if (record_bytes > max_record_bytes_) {
        oversize = true;
        out->bytes.clear();
      } else {
        out->bytes.append(begin, chunk);
      }
      pos_ += chunk + (ended ? 1 : 0);
      consumed_ += chunk + (ended ? 1 : 0);
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

}  // namespace salvo
