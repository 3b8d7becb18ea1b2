#include "progress_line.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace salvo::cli {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string human_count(double value) {
  char buf[32];
  if (value >= 1e9) std::snprintf(buf, sizeof(buf), "%.1fG", value / 1e9);
  else if (value >= 1e6) std::snprintf(buf, sizeof(buf), "%.1fM", value / 1e6);
  else if (value >= 1e4) std::snprintf(buf, sizeof(buf), "%.1fk", value / 1e3);
  else std::snprintf(buf, sizeof(buf), "%.0f", value);
  return buf;
}

ProgressLine::ProgressLine(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressLine::update(const JobProgress& c) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  const double seconds = std::max(1e-3, std::chrono::duration<double>(now - start_).count());
  std::string line = label_ + ": " + human_count(c.rows) + " rows";
  if (c.errors) line += " (" + human_count(c.errors) + " errors)";
  line += ", " + human_count(c.rows / seconds) + " rows/s, " + human_count(c.tokens / seconds) + " tokens/s";
  if (c.total_bytes && *c.total_bytes > 0 && c.bytes_read > 0) {
    const double fraction = static_cast<double>(c.bytes_read) / *c.total_bytes;
    const double eta = seconds * (1 - fraction) / fraction;
    char buf[64];
    std::snprintf(buf, sizeof(buf), ", %.0f%%, ETA %.0fs", 100 * fraction, eta);
    line += buf;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::update_text(const std::string& text, double fraction) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  const double seconds = std::max(1e-3, std::chrono::duration<double>(now - start_).count());
  std::string line = label_ + ": " + text;
  if (fraction > 0 && fraction <= 1) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), ", %.0f%%, ETA %.0fs", 100 * fraction, seconds * (1 - fraction) / fraction);
    line += buf;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::clear() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace salvo::cli
