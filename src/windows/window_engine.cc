#include "windows/window_engine.h"

#include <algorithm>
#include <limits>

#include "windows/event_codec.h"
#include "windows/time_spec.h"

namespace salvo::windows {

namespace {
constexpr int64_t kNoWindow = std::numeric_limits<int64_t>::max();
}

WindowEngine::WindowEngine(WindowGeometry geometry, std::vector<ValueKind> value_kinds,
                           std::vector<std::unique_ptr<SlidingAggregate>> features,
                           std::unique_ptr<SlidingAggregate> label, Schema schema,
                           std::function<void(RecordBatch&&)> emit, size_t batch_rows)
    : geometry_(geometry),
      events_(std::move(value_kinds)),
      features_(std::move(features)),
      label_(std::move(label)),
      schema_(std::move(schema)),
      emit_(std::move(emit)),
      batch_rows_(std::max<size_t>(1, batch_rows)),
      rows_(schema_),
      group_value_(schema_.fields[0].type) {
  if (!label_) geometry_.horizon = 0;
}

int64_t WindowEngine::first_window_after(int64_t time) const {
  return floor_div(time - geometry_.window - geometry_.origin, geometry_.step) + 1;
}

void WindowEngine::begin_group(std::string_view encoded_group) {
  group_value_ = Column(schema_.fields[0].type);
  append_group_value(encoded_group, &group_value_);
  in_group_ = false;
  events_.clear();
  feature_begin_ = feature_end_ = label_begin_ = label_end_ = events_.end();
  ++groups_;
}

void WindowEngine::add(int64_t time, std::string_view payload) {
  if (!in_group_) {
    in_group_ = true;
    k_ = first_window_after(time);
  }
  last_time_ = time;
  while (time >= start_of(k_) + geometry_.window + geometry_.horizon) {  // window k_ has all its events
    emit_window();
    move_to(next_window(&time));
  }
  const int64_t start = start_of(k_);
  if (time < start) return;  // between windows (step > window): no window from here on holds it
  const uint64_t seq = events_.end();
  events_.push_back(time, payload);
  peak_events_ = std::max(peak_events_, events_.end() - events_.begin());
  if (time < start + geometry_.window) {
    for (auto& f : features_) f->push(events_, seq);
    feature_end_ = label_begin_ = label_end_ = seq + 1;
  } else {
    label_->push(events_, seq);
    label_end_ = seq + 1;
  }
}

void WindowEngine::end_group() {
  if (in_group_) {
    const int64_t last = floor_div(last_time_ - geometry_.origin, geometry_.step);
    while (k_ <= last) {
      emit_window();
      const int64_t next = next_window(nullptr);
      if (next > last) break;
      move_to(next);
    }
  }
  for (auto& f : features_) f->clear();
  if (label_) label_->clear();
  events_.clear();
  in_group_ = false;
}

void WindowEngine::finish() {
  if (rows_.num_rows() > 0) {
    emit_(std::move(rows_));
    rows_ = RecordBatch(schema_);
  }
}

void WindowEngine::move_to(int64_t k) {
  k_ = k;
  const int64_t start = start_of(k);
  const int64_t end = start + geometry_.window;
  const uint64_t last = events_.end();
  // Features: [start, end). Events that leave were pushed unless the window jumped past them.
  while (feature_begin_ < feature_end_ && events_.time(feature_begin_) < start) {
    for (auto& f : features_) f->pop(events_, feature_begin_);
    ++feature_begin_;
  }
  if (feature_begin_ == feature_end_) {
    while (feature_begin_ < last && events_.time(feature_begin_) < start) ++feature_begin_;
    feature_end_ = feature_begin_;
  }
  while (feature_end_ < last && events_.time(feature_end_) < end) {
    for (auto& f : features_) f->push(events_, feature_end_);
    ++feature_end_;
  }
  if (label_) {
    // Label: [end, end + horizon).
    while (label_begin_ < label_end_ && events_.time(label_begin_) < end) label_->pop(events_, label_begin_++);
    if (label_begin_ == label_end_) {
      label_begin_ = std::max(label_begin_, feature_end_);
      label_end_ = label_begin_;
    }
    while (label_end_ < last && events_.time(label_end_) < end + geometry_.horizon) label_->push(events_, label_end_++);
  } else {
    label_begin_ = label_end_ = feature_end_;
  }
  events_.pop_front_until(feature_begin_);
}

void WindowEngine::emit_window() {
  if (geometry_.skip_empty && feature_begin_ == feature_end_) return;
  const int64_t start = start_of(k_);
  rows_.mutable_column(0).append_from(group_value_, 0);
  rows_.mutable_column(1).append_int64(start);
  rows_.mutable_column(2).append_int64(start + geometry_.window);
  size_t c = 3;
  for (const auto& f : features_) f->append_result(events_, &rows_.mutable_column(c++));
  if (label_) label_->append_result(events_, &rows_.mutable_column(c));
  ++windows_;
  if (static_cast<size_t>(rows_.num_rows()) >= batch_rows_) {
    emit_(std::move(rows_));
    rows_ = RecordBatch(schema_);
  }
}

int64_t WindowEngine::next_window(const int64_t* pending) const {
  const int64_t next = k_ + 1;
  if (!geometry_.skip_empty) return next;
  // The next window with an event in it: the one after the oldest event that is not before it.
  const int64_t start = start_of(next);
  for (uint64_t seq = feature_begin_; seq < events_.end(); ++seq) {
    if (events_.time(seq) >= start) return std::max(next, first_window_after(events_.time(seq)));
  }
  if (pending) return std::max(next, first_window_after(*pending));
  return kNoWindow;
}

}  // namespace salvo::windows
