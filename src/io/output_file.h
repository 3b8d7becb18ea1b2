// A buffered output file written under "<name>.partial" and renamed to its name when complete.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string_view>

namespace salvo {

class OutputFile {
 public:
  // Throws salvo::Error(kIo) when the file cannot be created.
  explicit OutputFile(const std::filesystem::path& path);
  // Removes the partial file when finish() was never called (the job failed).
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::string_view bytes);
  // Overwrites bytes at `offset` (used to patch a header once the row count is known).
  void write_at(long offset, std::string_view bytes);
  // Flushes, closes and renames. Throws salvo::Error(kIo) on any failure.
  void finish();

  const std::filesystem::path& path() const { return path_; }

 private:
  [[noreturn]] void fail(const char* what);

  std::filesystem::path path_;
  std::filesystem::path partial_;
  FILE* file_ = nullptr;
};

}  // namespace salvo
