// The progress line a long job shows on a terminal: rows, rates and ETA, redrawn in place.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "salvo/job.h"

namespace salvo::cli {

class ProgressLine {
 public:
  // `enabled` is false when stderr is not a terminal: then nothing is drawn at all.
  ProgressLine(std::string label, bool enabled);

  // Redraws at most a few times a second; cheap to call per row.
  void update(const JobProgress& progress);
  // Redraws "<label>: <text>", with the share done and an ETA when `fraction` is in (0, 1].
  void update_text(const std::string& text, double fraction);
  // Erases the line so that the summary starts on a clean line.
  void clear();

  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Whether stderr is an interactive terminal.
bool stderr_is_terminal();

// "1.2k", "34.5M": short counts for progress lines.
std::string human_count(double value);

}  // namespace salvo::cli
