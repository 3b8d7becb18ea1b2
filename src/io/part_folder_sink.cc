#include "io/part_folder_sink.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "salvo/error.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Manifests are small; a bigger one is not ours.
constexpr uintmax_t kMaxManifestBytes = 64u << 20;

[[noreturn]] void io_error(const std::string& what, const fs::path& path) {
  throw Error(ErrorCode::kIo, what + " " + path.string() + ": " + std::strerror(errno));
}

void fsync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) io_error("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) io_error("cannot sync", path);
}

// Writes `text` to `path` so that a reader (or a crash) sees the old file or the new one, whole.
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) io_error("cannot write", temporary);
  }
  fsync_path(temporary, false);
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot rename " + temporary.string() + " to " + path.string() + ": " + ec.message());
  fsync_path(path.parent_path(), true);
}

std::optional<json> read_manifest(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  if (fs::file_size(path, ec) > kMaxManifestBytes) {
    throw Error(ErrorCode::kInvalidArgument, path.string() + ": not a salvo manifest (too large)");
  }
  std::ifstream in(path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, path.string() + ": corrupt manifest: " + e.what());
  }
}

std::string padded(uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%05llu", static_cast<unsigned long long>(n));
  return buf;
}

// The shard count in a sharded part's or manifest's name ("part-00001-of-00003-00000.parquet",
// "_salvo_manifest-shard-00001-of-00003.json": 3); 0 for any other name.
uint32_t shard_count_in_name(const std::string& name) {
  const size_t of = name.find("-of-");
  if (of == std::string::npos) return 0;
  uint32_t count = 0;
  const char* begin = name.data() + of + 4;
  const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), count);
  return ec == std::errc() && end != begin ? count : 0;
}

}  // namespace

std::string part_manifest_name(uint32_t shard, uint32_t count) {
  if (count <= 1) return "_salvo_manifest.json";
  return "_salvo_manifest-shard-" + padded(shard) + "-of-" + padded(count) + ".json";
}

PartFolderSink::PartFolderSink(const fs::path& folder, const Schema& schema, PartFolderOptions options)
    : folder_(folder), schema_(schema), options_(std::move(options)) {
  if (options_.part_rows == 0) throw Error(ErrorCode::kInvalidArgument, "rows per part must be positive");
  if (options_.shard_count == 0 || options_.shard_index >= options_.shard_count) {
    throw Error(ErrorCode::kInvalidArgument, "shard " + std::to_string(options_.shard_index) + " of " +
                                                 std::to_string(options_.shard_count) + " does not exist");
  }
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create output folder " + folder_.string() + ": " + ec.message());

  const fs::path manifest = manifest_path(options_.shard_index);
  // Two jobs writing one shard of a folder at once would mix their parts: the second one stops.
  // (Named apart from the manifests, which a job that starts afresh removes.)
  std::string lock_name = part_manifest_name(options_.shard_index, options_.shard_count);
  lock_name.replace(0, std::string("_salvo_manifest").size(), "_salvo_lock");
  lock_name.resize(lock_name.size() - std::string(".json").size());
  const fs::path lock = folder_ / lock_name;
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw Error(ErrorCode::kIo, "cannot create " + lock.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (error == EWOULDBLOCK) {
      throw Error(ErrorCode::kIo, "another salvo job is writing " + folder_.string() +
                                      (options_.shard_count > 1 ? " (the same shard)" : "") +
                                      ": wait for it, or write elsewhere");
    }
    throw Error(ErrorCode::kIo, "cannot lock " + lock.string() + ": " + std::strerror(error));
  }
  // From here on a failure must release the lock: the constructor throws, so no destructor runs.
  try {
    std::optional<json> existing = options_.resume ? read_manifest(manifest) : std::nullopt;
    if (existing) {
      if (!existing->is_object() || existing->value("job", json()) != json::parse(options_.job)) {
        throw Error(ErrorCode::kInvalidArgument,
                    folder_.string() + " holds the parts of another job (its input, model or options differ): "
                                       "remove the folder, or run without --resume to start afresh");
      }
      for (const auto& p : existing->at("parts")) parts_.push_back(p.get<std::string>());
      rows_done_ = existing->at("rows").get<uint64_t>();
      if (existing->contains("json_column_types")) {
        options_.sink.json_column_types = existing->at("json_column_types").get<std::map<std::string, std::string>>();
      }
      complete_ = existing->at("complete").get<bool>();
      // A part renamed after the manifest was last written is not trusted: it is written again.
      for (size_t i = parts_.size();; ++i) {
        const fs::path stale = folder_ / part_name(i);
        if (!fs::exists(stale, ec)) break;
        fs::remove(stale, ec);
      }
      // Nor is what a killed writer of this shard left half written (each writer names its temporary
      // apart, so a new one never reuses it). The lock says no writer of this shard is alive.
      for (const auto& entry : fs::directory_iterator(folder_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with(shard_part_prefix()) && name.ends_with(".partial")) fs::remove(entry.path(), ec);
      }
      for (const auto& p : parts_) {
        if (!fs::exists(folder_ / p, ec)) {
          throw Error(ErrorCode::kIo, "part " + (folder_ / p).string() + " is in the manifest but missing; "
                                      "run without --resume to start afresh");
        }
      }
    } else {
      remove_shard_files();
    }
    // _SUCCESS says the whole folder is complete, which it is not while any shard runs.
    if (!complete_) fs::remove(folder_ / "_SUCCESS", ec);
  } catch (...) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

PartFolderSink::~PartFolderSink() {
  part_.reset();  // removes an unfinished part's temporary file while the lock is still held
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the lock
}

std::string PartFolderSink::part_name(size_t part) const {
  return shard_part_prefix() + padded(part) + "." + options_.format;
}

fs::path PartFolderSink::manifest_path(uint32_t shard) const {
  return folder_ / part_manifest_name(shard, options_.shard_count);
}

std::string PartFolderSink::shard_part_prefix() const {
  // A single job owns the whole folder; a shard owns only its own parts.
  if (options_.shard_count <= 1) return "part-";
  return "part-" + padded(options_.shard_index) + "-of-" + padded(options_.shard_count) + "-";
}

void PartFolderSink::remove_shard_files() {
  // A single job owns the whole folder. A shard owns its own parts and manifest, and removes what
  // another split of the input left (an unsharded run's parts, those of another shard count):
  // kept, they would add their rows to this split's.
  const bool sharded = options_.shard_count > 1;
  const std::string prefix = shard_part_prefix();
  const std::string manifest = part_manifest_name(options_.shard_index, options_.shard_count);
  std::error_code ec;
  // Unless a job of another split is writing now (its lock is held): its files are not stale.
  const uint32_t own_count = sharded ? options_.shard_count : 0;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("_salvo_lock") || shard_count_in_name(name) == own_count) continue;
    const int fd = ::open(entry.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    if (held) {
      const uint32_t count = shard_count_in_name(name);
      throw Error(ErrorCode::kIo, "another salvo job is writing " + folder_.string() +
                                      " with another split of the input (" +
                                      (count ? "--shard .../" + std::to_string(count) : std::string("not sharded")) +
                                      "): wait for it, or write elsewhere");
    }
  }
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    const std::string name = entry.path().filename().string();
    const bool part = name.starts_with(prefix);
    const bool any_manifest = !sharded && name.starts_with("_salvo_manifest");
    const bool other_split = sharded && (name.starts_with("part-") || name.starts_with("_salvo_manifest")) &&
                             shard_count_in_name(name) != options_.shard_count;
    if (part || any_manifest || other_split || name == manifest || name == "_temporary") {
      fs::remove_all(entry.path(), ec);
    }
  }
}

void PartFolderSink::open_part() {
  part_ = open_row_sink(folder_ / part_name(parts_.size()), schema_, options_.sink);
  part_rows_written_ = 0;
}

void PartFolderSink::commit_part() {
  part_->finish();
  rows_given_errors_ += part_->rows_given_errors();
  // The first part fixes the types of JSON columns for the parts after it (and a resumed job).
  if (parts_.empty()) options_.sink.json_column_types = part_->json_column_types();
  part_.reset();
  fsync_path(folder_ / part_name(parts_.size()), false);
  parts_.push_back(part_name(parts_.size()));
  rows_done_ += part_rows_written_;
  write_manifest();
}

void PartFolderSink::write_manifest() {
  json manifest = {{"job", json::parse(options_.job)},
                   {"shard", options_.shard_index},
                   {"shards", options_.shard_count},
                   {"part_rows", options_.part_rows},
                   {"rows", rows_done_},
                   {"parts", parts_},
                   {"json_column_types", options_.sink.json_column_types},
                   {"complete", complete_}};
  write_atomically(manifest_path(options_.shard_index), manifest.dump(1) + "\n");
}

void PartFolderSink::write(const RecordBatch& batch) {
  int64_t done = 0;
  const int64_t n = batch.num_rows();
  while (done < n) {
    if (!part_) open_part();
    const int64_t room = static_cast<int64_t>(options_.part_rows - part_rows_written_);
    const int64_t take = std::min(room, n - done);
    if (done == 0 && take == n) {
      part_->write(batch);
    } else {
      part_->write(batch.slice(done, done + take));
    }
    part_rows_written_ += static_cast<uint64_t>(take);
    done += take;
    if (part_rows_written_ == options_.part_rows) commit_part();
  }
}

void PartFolderSink::finish() {
  // An empty shard still writes one (empty) part, so that the folder carries the schema.
  if (part_ || parts_.empty()) {
    if (!part_) open_part();
    commit_part();
  }
  complete_ = true;
  write_manifest();
  for (uint32_t s = 0; s < options_.shard_count; ++s) {
    const std::optional<json> m = read_manifest(manifest_path(s));
    if (!m || !m->value("complete", false) || m->value("job", json()) != json::parse(options_.job)) return;
  }
  write_atomically(folder_ / "_SUCCESS", "");
}

}  // namespace salvo
