#include "io/output_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>
#include <string>

#include "core/error.h"

namespace salvo {

namespace {

// This machine's name, as the temporary names carry it ("localhost" when it has none; a character
// that is not a letter, digit, '.' or '-' becomes '_').
std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  for (char& c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  }
  return host;
}

}  // namespace

std::filesystem::path unique_temporary_name(const std::filesystem::path& path, const char* suffix) {
  static thread_local std::mt19937_64 random{std::random_device{}() ^
                                             (static_cast<uint64_t>(getpid()) << 32)};
  char tail[64];
  std::snprintf(tail, sizeof(tail), ".%016llx%s", static_cast<unsigned long long>(random()), suffix);
  std::filesystem::path name = path;
  std::string writer = ".";  // built in steps: GCC 12 warns falsely (-Wrestrict) on "." + std::string
  writer.append(std::to_string(getpid())).append("@").append(host_name()).append(tail);
  name += writer;
  return name;
}

void remove_stale_partials(const std::filesystem::path& path) {
  const std::string text = path.string();
  if (text.empty() || text.ends_with('/')) return;
  const std::string prefix = path.filename().string() + ".";
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  std::string here = "@";
  here += host_name();
  constexpr std::string_view kSuffix = ".partial";
  constexpr size_t kRandom = 17;  // ".<16 hex digits>"
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) continue;
    // "<pid>@<host>.<16 hex digits>" between the output's name and ".partial", as
    // unique_temporary_name writes it. Only this machine's writers can be asked whether they live:
    // on a shared file system, a temporary file of another host's job is left alone.
    std::string_view middle = std::string_view(name).substr(prefix.size(), name.size() - prefix.size() - kSuffix.size());
    if (middle.size() <= kRandom) continue;
    const std::string_view random = middle.substr(middle.size() - kRandom);
    middle.remove_suffix(kRandom);
    int pid = 0;
    const auto [end, parsed] = std::from_chars(middle.data(), middle.data() + middle.size(), pid);
    if (parsed != std::errc() || pid <= 0 || std::string_view(end, middle.data() + middle.size() - end) != here ||
        random[0] != '.' || random.find_first_not_of("0123456789abcdef", 1) != std::string_view::npos) {
      continue;
    }
    if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
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
  const int saved = errno;
  throw Error(ErrorCode::kIo, std::string(what) + " " + path_.string() + " (through its temporary file " +
                                  partial_.filename().string() + "): " + std::strerror(saved));
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
