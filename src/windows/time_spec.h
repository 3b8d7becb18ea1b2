// Durations and timestamps as users write them on the command line and in text input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::windows {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// Parses a duration: a positive whole number and a unit, "500ms", "30s", "15m", "6h", "14d", "2w"
// (also "us"). Months and years are refused: their length varies. Returns microseconds; throws
// salvo::Error(kInvalidArgument) naming `what` (e.g. "--window") for anything else.
int64_t parse_duration(std::string_view text, std::string_view what);

// An offset: a duration that may also be zero or negative ("0s", "-6h"), for --origin.
int64_t parse_offset(std::string_view text, std::string_view what);

// "14d", "36h", "90s": the shortest exact spelling of a duration in microseconds.
std::string format_duration(int64_t micros);

// Parses an ISO 8601 timestamp: "2024-03-01", "2024-03-01T12:30", "2024-03-01 12:30:05.25",
// optionally ending in "Z" or an offset ("+02:00", "-0500", "+02"); without one it is UTC.
// Returns false (and leaves `micros` alone) for anything else, including impossible dates.
bool parse_timestamp(std::string_view text, int64_t* micros);

// "2024-03-01T12:30:05Z", with ".250000" when there are fractions of a second.
std::string format_timestamp(int64_t micros);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31, not validated).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

// Floor division and modulo for a positive divisor (C++'s / and % round towards zero).
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

}  // namespace salvo::windows
