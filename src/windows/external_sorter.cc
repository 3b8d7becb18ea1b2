#include "windows/external_sorter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace salvo::windows {
namespace {

constexpr size_t kHeaderBytes = 8;  // u32 key length, u32 payload length (native order: the file is private)
constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{2} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

uint64_t load_be64(const uint8_t* p, size_t n) {
  uint8_t bytes[8] = {};
  std::memcpy(bytes, p, std::min<size_t>(n, 8));
  uint64_t v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  return v;
}

// Keys compare as bytes, a prefix before the longer key.
int compare_keys(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

std::string errno_text() { return std::strerror(errno); }

// Anonymous memory straight from mmap, so that releasing it lowers the resident size at once:
// peak memory then follows the budget rather than the allocator's habits.
class MappedBuffer {
 public:
  MappedBuffer() = default;
  explicit MappedBuffer(size_t size) : size_(round_up(std::max<size_t>(size, 1), kPage)) {
    // Buffers of whole huge pages get them (where the system allows it): records are read back in
    // sorted order, all over the arena, and 4 KiB pages would make most of those reads TLB misses.
    const bool huge = size_ % kHugePage == 0;
    const size_t mapped = huge ? size_ + kHugePage : size_;
    void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      throw Error(ErrorCode::kIo, "cannot allocate " + std::to_string(size_) + " bytes: " + errno_text());
    data_ = static_cast<uint8_t*>(p);
    if (huge) {
      uint8_t* aligned = reinterpret_cast<uint8_t*>(round_up(reinterpret_cast<uintptr_t>(data_), kHugePage));
      if (aligned > data_) ::munmap(data_, static_cast<size_t>(aligned - data_));
      const size_t tail = static_cast<size_t>(data_ + mapped - (aligned + size_));
      if (tail > 0) ::munmap(aligned + size_, tail);
      data_ = aligned;
      ::madvise(data_, size_, MADV_HUGEPAGE);
    }
  }
  MappedBuffer(MappedBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  MappedBuffer& operator=(MappedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~MappedBuffer() {
    if (data_) ::munmap(data_, size_);
  }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// The spill file: created with a unique name and unlinked at once, so only its descriptor holds it.
class SpillFile {
 public:
  explicit SpillFile(const std::filesystem::path& dir) {
    std::string name = (dir / "salvo-sort-XXXXXX").string();
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) {
      throw Error(ErrorCode::kIo, "cannot create a spill file in " + dir.string() + ": " + errno_text() +
                                      " (set --temp-dir to a writable folder with room)");
    }
    ::unlink(name.c_str());
    path_ = dir.string();
  }
  ~SpillFile() { ::close(fd_); }
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  void append(const uint8_t* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(size_));
      if (w < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::kIo, "cannot write a spill file in " + path_ + ": " + errno_text() +
                                        " (set --temp-dir to a folder with more room)");
      }
      data += w;
      n -= static_cast<size_t>(w);
      size_ += static_cast<uint64_t>(w);
    }
  }

  void read_at(uint64_t offset, uint8_t* out, size_t n) const {
    while (n > 0) {
      const ssize_t r = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw Error(ErrorCode::kIo, "cannot read back a spill file in " + path_ + ": " + errno_text());
      out += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
  }

  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

struct Run {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// Buffered appends of records to the spill file.
class RunWriter {
 public:
  RunWriter(SpillFile* file, size_t buffer_bytes) : file_(file), buffer_(buffer_bytes) {}

  void write_record(std::string_view key, std::string_view payload) {
    const uint32_t lengths[2] = {static_cast<uint32_t>(key.size()), static_cast<uint32_t>(payload.size())};
    write(reinterpret_cast<const uint8_t*>(lengths), kHeaderBytes);
    write(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    write(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  }

  void flush() {
    file_->append(buffer_.data(), used_);
    used_ = 0;
  }

 private:
  void write(const uint8_t* data, size_t n) {
    if (used_ + n > buffer_.size()) {
      flush();
      if (n > buffer_.size()) {
        file_->append(data, n);
        return;
      }
    }
    std::memcpy(buffer_.data() + used_, data, n);
    used_ += n;
  }

  SpillFile* file_;
  MappedBuffer buffer_;
  size_t used_ = 0;
};

// Reads one run's records through a buffer.
class RunCursor {
 public:
  RunCursor(const SpillFile* file, Run run, size_t buffer_bytes)
      : file_(file), next_offset_(run.offset), end_(run.offset + run.bytes), buffer_(buffer_bytes) {}

  // Moves to the next record; false at the end of the run.
  bool advance() {
    pos_ += current_;
    current_ = 0;
    if (!ensure(kHeaderBytes)) return false;
    uint32_t lengths[2];
    std::memcpy(lengths, buffer_.data() + pos_, kHeaderBytes);
    const size_t size = kHeaderBytes + lengths[0] + size_t{lengths[1]};
    if (!ensure(size)) throw Error(ErrorCode::kInternal, "spill file: a record is cut short");
    const char* base = reinterpret_cast<const char*>(buffer_.data() + pos_ + kHeaderBytes);
    key = std::string_view(base, lengths[0]);
    payload = std::string_view(base + lengths[0], lengths[1]);
    prefix = load_be64(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    current_ = size;
    return true;
  }

  std::string_view key;
  std::string_view payload;
  uint64_t prefix = 0;

 private:
  // Makes `n` bytes from pos_ available; false when the run has no bytes left at all.
  bool ensure(size_t n) {
    const size_t available = length_ - pos_;
    if (available >= n) return true;
    if (available == 0 && next_offset_ == end_) return false;
    if (n > buffer_.size()) {
      MappedBuffer bigger(n);
      std::memcpy(bigger.data(), buffer_.data() + pos_, available);
      buffer_ = std::move(bigger);
    } else {
      std::memmove(buffer_.data(), buffer_.data() + pos_, available);
    }
    pos_ = 0;
    length_ = available;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size() - length_, end_ - next_offset_));
    file_->read_at(next_offset_, buffer_.data() + length_, want);
    next_offset_ += want;
    length_ += want;
    return length_ >= n;
  }

  const SpillFile* file_;
  uint64_t next_offset_;
  uint64_t end_;
  MappedBuffer buffer_;
  size_t pos_ = 0;
  size_t length_ = 0;
  size_t current_ = 0;  // bytes of the record the views show
};

// Merges runs: a binary heap of cursors ordered by (key, run order), so equal keys keep the order
// of the runs, which is the input's order.
class Merger {
 public:
  Merger(const SpillFile* file, const std::vector<Run>& runs, size_t buffer_bytes) {
    cursors_.reserve(runs.size());
    for (const Run& run : runs) cursors_.emplace_back(file, run, buffer_bytes);
    for (uint32_t i = 0; i < cursors_.size(); ++i) {
      if (cursors_[i].advance()) heap_.push_back(i);
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
  }

  bool next(std::string_view* key, std::string_view* payload) {
    if (returned_) {
      if (cursors_[heap_[0]].advance()) {
        sift_down(0);
      } else {
        heap_[0] = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) sift_down(0);
      }
    }
    returned_ = !heap_.empty();
    if (!returned_) return false;
    *key = cursors_[heap_[0]].key;
    *payload = cursors_[heap_[0]].payload;
    return true;
  }

 private:
  bool less(uint32_t a, uint32_t b) const {
    const RunCursor& x = cursors_[a];
    const RunCursor& y = cursors_[b];
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    const int c = compare_keys(x.key, y.key);
    return c != 0 ? c < 0 : a < b;
  }

  void sift_down(size_t i) {
    const size_t n = heap_.size();
    for (;;) {
      size_t smallest = i;
      const size_t l = 2 * i + 1;
      const size_t r = l + 1;
      if (l < n && less(heap_[l], heap_[smallest])) smallest = l;
      if (r < n && less(heap_[r], heap_[smallest])) smallest = r;
      if (smallest == i) return;
      std::swap(heap_[i], heap_[smallest]);
      i = smallest;
    }
  }

  std::vector<RunCursor> cursors_;
  std::vector<uint32_t> heap_;
  bool returned_ = false;
};

// One in-memory record: the first 16 key bytes for quick comparisons, the record, and its place
// in the run (ties keep input order).
struct Entry {
  uint64_t p0;
  uint64_t p1;
  const uint8_t* record;
  uint32_t ord;
};

std::string_view entry_key(const Entry& e) {
  uint32_t klen;
  std::memcpy(&klen, e.record, 4);
  return {reinterpret_cast<const char*>(e.record + kHeaderBytes), klen};
}

std::string_view entry_payload(const Entry& e) {
  uint32_t lengths[2];
  std::memcpy(lengths, e.record, kHeaderBytes);
  return {reinterpret_cast<const char*>(e.record + kHeaderBytes + lengths[0]), lengths[1]};
}

bool entry_less(const Entry& a, const Entry& b) {
  if (a.p0 != b.p0) return a.p0 < b.p0;
  if (a.p1 != b.p1) return a.p1 < b.p1;
  const int c = compare_keys(entry_key(a), entry_key(b));
  return c != 0 ? c < 0 : a.ord < b.ord;
}

}  // namespace

class ExternalSorter::Impl {
 public:
  Impl(ExternalSorterOptions options, ExternalSorterStats* stats) : options_(std::move(options)), stats_(stats) {
    if (options_.temp_dir.empty()) options_.temp_dir = std::filesystem::temp_directory_path();
    options_.memory_bytes = std::max<size_t>(options_.memory_bytes, 16 * kPage);
    options_.min_read_buffer = std::max<size_t>(options_.min_read_buffer, kPage);
    block_bytes_ = round_up(std::clamp<size_t>(options_.memory_bytes / 16, kPage, size_t{4} << 20), kPage);
    if (block_bytes_ >= kHugePage) block_bytes_ = block_bytes_ / kHugePage * kHugePage;
    write_buffer_bytes_ = round_up(std::clamp<size_t>(options_.memory_bytes / 16, kPage, size_t{1} << 20), kPage);
  }

  void add(std::string_view key, std::string_view payload) {
    if (finished_) throw Error(ErrorCode::kInternal, "ExternalSorter::add after finish");
    const size_t size = kHeaderBytes + key.size() + payload.size();
    uint8_t* at = reserve(size);
    const uint32_t lengths[2] = {static_cast<uint32_t>(key.size()), static_cast<uint32_t>(payload.size())};
    std::memcpy(at, lengths, kHeaderBytes);
    std::memcpy(at + kHeaderBytes, key.data(), key.size());
    std::memcpy(at + kHeaderBytes + key.size(), payload.data(), payload.size());
    const auto* k = reinterpret_cast<const uint8_t*>(key.data());
    index_.push_back(Entry{load_be64(k, key.size()), key.size() > 8 ? load_be64(k + 8, key.size() - 8) : 0, at,
                           static_cast<uint32_t>(index_.size())});
    ++stats_->records;
  }

  void finish() {
    finished_ = true;
    if (runs_.empty()) {
      std::sort(index_.begin(), index_.end(), [](const Entry& a, const Entry& b) { return entry_less(a, b); });
      return;
    }
    if (!index_.empty()) spill_run();
    release_run_memory();
    // Merge passes until one merge can take every run with buffers of at least min_read_buffer.
    const size_t fan_in = std::max<size_t>(2, options_.memory_bytes / options_.min_read_buffer - 1);
    while (runs_.size() > fan_in) {
      auto out = std::make_unique<SpillFile>(options_.temp_dir);
      std::vector<Run> merged;
      const size_t buffer = std::max(options_.min_read_buffer, (options_.memory_bytes - write_buffer_bytes_) / fan_in);
      for (size_t first = 0; first < runs_.size(); first += fan_in) {
        const std::vector<Run> group(
            runs_.begin() + static_cast<std::ptrdiff_t>(first),
            runs_.begin() + static_cast<std::ptrdiff_t>(std::min(runs_.size(), first + fan_in)));
        Merger merger(file_.get(), group, buffer);
        RunWriter writer(out.get(), write_buffer_bytes_);
        const uint64_t start = out->size();
        std::string_view k, p;
        while (merger.next(&k, &p)) writer.write_record(k, p);
        writer.flush();
        merged.push_back({start, out->size() - start});
      }
      stats_->spilled_bytes += out->size();
      ++stats_->merge_passes;
      file_ = std::move(out);  // the previous pass's file closes and its space is freed
      runs_ = std::move(merged);
    }
    merger_ = std::make_unique<Merger>(file_.get(), runs_,
                                       std::max(options_.min_read_buffer, options_.memory_bytes / runs_.size()));
  }

  bool next(std::string_view* key, std::string_view* payload) {
    if (!finished_) throw Error(ErrorCode::kInternal, "ExternalSorter::next before finish");
    if (merger_) return merger_->next(key, payload);
    if (next_entry_ >= index_.size()) return false;
    // Sorted entries point all over the arena: fetch records a little ahead of their turn.
    constexpr size_t kAhead = 12;
    if (next_entry_ + kAhead < index_.size()) {
      const uint8_t* ahead = index_[next_entry_ + kAhead].record;
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + 64);
    }
    const Entry& e = index_[next_entry_++];
    *key = entry_key(e);
    *payload = entry_payload(e);
    return true;
  }

 private:
  // Touched memory: arena blocks and the index entries in use (the index's capacity is reserved
  // once, for the most records a run can hold, and untouched pages cost nothing).
  size_t used_bytes() const { return blocks_.size() * block_bytes_ + oversize_bytes_ + index_.size() * sizeof(Entry); }

  // Room for one record in the arena, spilling the run first when the budget is reached.
  uint8_t* reserve(size_t size) {
    if (index_.capacity() == 0) index_.reserve(options_.memory_bytes / (sizeof(Entry) + kHeaderBytes) + 1);
    const bool fits = block_ > 0 && block_used_ + size <= block_bytes_;
    size_t growth = sizeof(Entry);
    if (size > block_bytes_) {
      growth += round_up(size, kPage);
    } else if (!fits && block_ == blocks_.size()) {
      growth += block_bytes_;
    }
    if (!index_.empty() && (used_bytes() + growth > options_.memory_bytes || index_.size() == index_.capacity())) {
      spill_run();
      return reserve(size);
    }
    if (size > block_bytes_) {
      oversize_.emplace_back(size);
      oversize_bytes_ += oversize_.back().size();
      return oversize_.back().data();
    }
    if (!fits) {
      if (block_ == blocks_.size()) blocks_.emplace_back(block_bytes_);
      ++block_;
      block_used_ = 0;
    }
    uint8_t* at = blocks_[block_ - 1].data() + block_used_;
    block_used_ += size;
    return at;
  }

  // Sorts the records in memory and appends them to the spill file as one run.
  void spill_run() {
    std::sort(index_.begin(), index_.end(), [](const Entry& a, const Entry& b) { return entry_less(a, b); });
    if (!file_) file_ = std::make_unique<SpillFile>(options_.temp_dir);
    const uint64_t start = file_->size();
    RunWriter writer(file_.get(), write_buffer_bytes_);
    for (const Entry& e : index_) writer.write_record(entry_key(e), entry_payload(e));
    writer.flush();
    runs_.push_back({start, file_->size() - start});
    stats_->spilled_bytes += file_->size() - start;
    ++stats_->runs;
    index_.clear();  // keeps its capacity for the next run
    block_ = 0;
    block_used_ = 0;
    oversize_.clear();
    oversize_bytes_ = 0;
  }

  void release_run_memory() {
    blocks_.clear();
    oversize_.clear();
    oversize_bytes_ = 0;
    std::vector<Entry>().swap(index_);
  }

  ExternalSorterOptions options_;
  ExternalSorterStats* stats_;
  size_t block_bytes_ = 0;
  size_t write_buffer_bytes_ = 0;
  bool finished_ = false;

  // The run being collected: records in arena blocks (reused from run to run), and their index.
  std::vector<MappedBuffer> blocks_;
  size_t block_ = 0;                    // blocks in use by this run; the last of them is being filled
  size_t block_used_ = 0;               // bytes used in the block being filled
  std::vector<MappedBuffer> oversize_;  // records larger than a block
  size_t oversize_bytes_ = 0;
  std::vector<Entry> index_;
  size_t next_entry_ = 0;  // in-memory sort: the next record next() returns

  std::unique_ptr<SpillFile> file_;
  std::vector<Run> runs_;
  std::unique_ptr<Merger> merger_;
};

ExternalSorter::ExternalSorter(ExternalSorterOptions options)
    : impl_(std::make_unique<Impl>(std::move(options), &stats_)) {}
ExternalSorter::~ExternalSorter() = default;

void ExternalSorter::add(std::string_view key, std::string_view payload) { impl_->add(key, payload); }
void ExternalSorter::finish() { impl_->finish(); }
bool ExternalSorter::next(std::string_view* key, std::string_view* payload) { return impl_->next(key, payload); }

}  // namespace salvo::windows
