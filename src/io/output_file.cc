#include "io/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "core/error.h"

namespace salvo {

std::filesystem::path unique_temporary_name(const std::filesystem::path& path, const char* suffix) {
  static thread_local std::mt19937_64 random{std::random_device{}() ^
                                             (static_cast<uint64_t>(getpid()) << 32)};
  char tail[64];
  std::snprintf(tail, sizeof(tail), ".%d.%016llx%s", static_cast<int>(getpid()),
                static_cast<unsigned long long>(random()), suffix);
  std::filesystem::path name = path;
  name += tail;
  return name;
}

void refuse_output_that_is_input(const std::filesystem::path& input, const std::filesystem::path& output) {
  std::error_code ec;
  if (std::filesystem::exists(output, ec) && std::filesystem::exists(input, ec) &&
      std::filesystem::equivalent(input, output, ec)) {
    throw Error(ErrorCode::kInvalidArgument,
                "output " + output.string() + " is the input " + input.string() + ": write the results somewhere else");
  }
}

void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

OutputFile::OutputFile(const std::filesystem::path& path) : path_(path) {
  // O_EXCL: a name that exists (a collision, or a link planted there) is never written through.
  for (int attempt = 0; attempt < 8 && !file_; ++attempt) {
    partial_ = unique_temporary_name(path, ".partial");
    const int fd = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      fail("cannot create");
    }
    file_ = ::fdopen(fd, "wb");
    if (!file_) {
      const int saved = errno;
      ::close(fd);
      std::error_code ec;
      std::filesystem::remove(partial_, ec);
      errno = saved;
      fail("cannot create");
    }
  }
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
  // Synced before the rename: after a crash the final name holds the whole file or the old one.
  if (::fsync(::fileno(file_)) != 0 && errno != EINVAL && errno != EROFS) fail("cannot sync");
  const int rc = std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  if (rc != 0) {
    const int saved = errno;
    std::filesystem::remove(partial_, ec);
    errno = saved;
    fail("cannot close");
  }
  std::filesystem::rename(partial_, path_, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(partial_, ignored);
    throw Error(ErrorCode::kIo, "cannot rename " + partial_.string() + " to " + path_.string() + ": " + ec.message());
  }
  sync_folder(path_.parent_path());
}

}  // namespace salvo
