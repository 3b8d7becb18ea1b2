// Turns each group's events, in time order, into one row per window: the sliding part of
// `salvo windows`. Memory is bounded by the events of one window and its label horizon, never by
// the group.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "salvo/table.h"
#include "windows/event_buffer.h"
#include "windows/sliding_aggregates.h"

namespace salvo::windows {

// Where windows fall. Window k covers [origin + k*step, origin + k*step + window); its label
// covers the `horizon` after it. All in microseconds.
struct WindowGeometry {
  int64_t window = 0;
  int64_t step = 0;
  int64_t origin = 0;
  int64_t horizon = 0;      // 0: no label
  bool skip_empty = false;  // leave out windows without events (their label may have some)
};

class WindowEngine {
 public:
  // `features` (and `label`, when there is one) read `events`' columns. Rows go to batches of
  // `schema` (group, window_start, window_end, the features, then the label) handed to `emit`
  // every `batch_rows` rows and at finish().
  WindowEngine(WindowGeometry geometry, std::vector<ValueKind> value_kinds,
               std::vector<std::unique_ptr<SlidingAggregate>> features, std::unique_ptr<SlidingAggregate> label,
               Schema schema, std::function<void(RecordBatch&&)> emit, size_t batch_rows = 4096);

  // Starts a group; `encoded_group` is its key as group_of_key() returns it.
  void begin_group(std::string_view encoded_group);
  // Adds the group's next event; times never go down within a group.
  void add(int64_t time, std::string_view payload);
  // Writes the group's remaining windows.
  void end_group();
  // Hands the last rows to `emit`.
  void finish();

  // How many windows an event at `time` of the current group would be preceded by, from the
  // current one (0 before the group's first event).
  int64_t windows_before(int64_t time) const { return in_group_ ? std::max<int64_t>(0, first_window_after(time) - k_) : 0; }
  uint64_t windows() const { return windows_; }
  uint64_t groups() const { return groups_; }
  // The most events held at once (the widest window plus its horizon).
  uint64_t peak_events() const { return peak_events_; }

 private:
  int64_t start_of(int64_t k) const { return geometry_.origin + k * geometry_.step; }
  // The first window whose end is after `time`.
  int64_t first_window_after(int64_t time) const;
  // Moves every cursor to window k's bounds, feeding the aggregates what enters and leaves.
  void move_to(int64_t k);
  // Appends window k's row (unless it is empty and empty windows are skipped).
  void emit_window();
  // The window after the current one worth visiting: the next one, or with skip_empty the next
  // one that has events (`pending` is the time of an event not yet added, if any).
  int64_t next_window(const int64_t* pending) const;

  WindowGeometry geometry_;
  EventBuffer events_;
  std::vector<std::unique_ptr<SlidingAggregate>> features_;
  std::unique_ptr<SlidingAggregate> label_;
  Schema schema_;
  std::function<void(RecordBatch&&)> emit_;
  size_t batch_rows_;
  RecordBatch rows_;
  Column group_value_;  // one row: the current group's key

  bool in_group_ = false;
  int64_t k_ = 0;          // the current window
  int64_t last_time_ = 0;  // the group's latest event
  // Event numbers: features hold [feature_begin_, feature_end_), the label [label_begin_, label_end_).
  uint64_t feature_begin_ = 0, feature_end_ = 0, label_begin_ = 0, label_end_ = 0;
  uint64_t windows_ = 0;
  uint64_t groups_ = 0;
  uint64_t peak_events_ = 0;
};

}  // namespace salvo::windows
