// Sorts more records than fit in memory: sorted runs are spilled to a temporary file under a
// memory budget, then k-way merged (in several passes when there are too many runs for the budget).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace salvo::windows {

struct ExternalSorterOptions {
  // Bytes the sorter may hold: records and their index while collecting a run, read buffers while
  // merging.
  size_t memory_bytes = size_t{256} << 20;
  // Where the spill file goes; empty: the system's temporary folder ($TMPDIR, /tmp).
  std::filesystem::path temp_dir;
  // The smallest read buffer a run gets while merging; more runs than the budget allows at this size
  // are merged in several passes.
  size_t min_read_buffer = size_t{64} << 10;
};

// What a sort did, for summaries and tests.
struct ExternalSorterStats {
  uint64_t records = 0;
  uint64_t runs = 0;           // runs spilled to disk (0: everything was sorted in memory)
  uint64_t spilled_bytes = 0;  // bytes written to spill files, all passes together
  uint64_t merge_passes = 0;   // merges before the final one (runs merged into fewer, longer runs)
};

// Records are a key and a payload. Keys compare as bytes (memcmp, a prefix first); records with
// equal keys come out in the order they were added, so the sort is stable. The spill file is
// unlinked as soon as it is created: it never outlives the sorter, even when the process dies.
class ExternalSorter {
 public:
  explicit ExternalSorter(ExternalSorterOptions options = {});
  ~ExternalSorter();
  ExternalSorter(const ExternalSorter&) = delete;
  ExternalSorter& operator=(const ExternalSorter&) = delete;

  // Adds one record (copied). Throws salvo::Error(kIo) when a run cannot be spilled.
  void add(std::string_view key, std::string_view payload);
  // Ends the input; next() then yields every record in order.
  void finish();
  // The next record in order, or false at the end. The views stay valid until the next call.
  bool next(std::string_view* key, std::string_view* payload);

  const ExternalSorterStats& stats() const { return stats_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  ExternalSorterStats stats_;
};

}  // namespace salvo::windows
