// A buffered output file written under a temporary name beside it and renamed to its name when
// complete, so that a file under the final name is always whole. The temporary name is unique to
// the writer ("<name>.<pid>.<random>.partial", created exclusively), so two jobs writing the same
// output never share a file: the last to finish wins, whole.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string_view>

namespace salvo {

class OutputFile {
 public:
  // Throws salvo::Error(kIo) when the file cannot be created.
  explicit OutputFile(const std::filesystem::path& path);
  // Removes the temporary file when finish() was never called (the job failed or was cancelled).
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::string_view bytes);
  // Overwrites bytes at `offset` (used to patch a header once the row count is known).
  void write_at(long offset, std::string_view bytes);
  // Flushes, syncs to disk, closes and renames (then syncs the folder). Throws salvo::Error(kIo)
  // on any failure.
  void finish();

  const std::filesystem::path& path() const { return path_; }
  // The temporary name the file is written under until finish().
  const std::filesystem::path& temporary_path() const { return partial_; }

 private:
  [[noreturn]] void fail(const char* what);

  std::filesystem::path path_;
  std::filesystem::path partial_;
  FILE* file_ = nullptr;
};

// A temporary name beside `path`, unique to this process and call:
// "<path>.<pid>@<host>.<random><suffix>".
std::filesystem::path unique_temporary_name(const std::filesystem::path& path, const char* suffix);

// Removes the temporary files of `path` ("<path>.<pid>@<host>.<random>.partial") whose writer ran
// on this machine and is no longer running (a job killed with SIGKILL leaves its temporary file
// behind); those of other machines (a shared file system) are left alone. For a single-file
// output; a folder output cleans up after its own shards. Failures are ignored.
void remove_stale_partials(const std::filesystem::path& path);

// Makes a completed rename in `folder` durable (fsync of the folder); failures are ignored, as
// some file systems cannot sync a folder.
void sync_folder(const std::filesystem::path& folder);

// Throws kInvalidArgument when `output` is `input` itself, the same file or folder by any path:
// the job would replace its own input.
void refuse_output_that_is_input(const std::filesystem::path& input, const std::filesystem::path& output);

}  // namespace salvo
