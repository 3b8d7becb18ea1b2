#include "io/output_file.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace salvo {

OutputFile::OutputFile(const std::filesystem::path& path) : path_(path), partial_(path) {
  partial_ += ".partial";
  file_ = std::fopen(partial_.c_str(), "wb");
  if (!file_) fail("cannot create");
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

OutputFile::~OutputFile() {
  if (file_) {
    std::fclose(file_);
    std::error_code ec;
    std::filesystem::remove(partial_, ec);
  }
}

void OutputFile::fail(const char* what) {
  throw Error(ErrorCode::kIo, std::string(what) + " " + partial_.string() + ": " + std::strerror(errno));
}

void OutputFile::write(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail("cannot write");
}

void OutputFile::write_at(long offset, std::string_view bytes) {
  long here = std::ftell(file_);
  if (here < 0 || std::fseek(file_, offset, SEEK_SET) != 0) fail("cannot seek in");
  write(bytes);
  if (std::fseek(file_, here, SEEK_SET) != 0) fail("cannot seek in");
}

void OutputFile::finish() {
  if (std::fflush(file_) != 0) fail("cannot write");
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("cannot close");
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) {
    throw Error(ErrorCode::kIo, "cannot rename " + partial_.string() + " to " + path_.string() + ": " + ec.message());
  }
}

}  // namespace salvo
