#include "windows/time_spec.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace salvo::windows {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t micros;
};

// Longest suffixes first, so that "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {{"us", 1},
                           {"ms", 1000},
                           {"s", kMicrosPerSecond},
                           {"m", 60 * kMicrosPerSecond},
                           {"h", 3600 * kMicrosPerSecond},
                           {"d", kMicrosPerDay},
                           {"w", 7 * kMicrosPerDay}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`; false if they are not there.
bool digits(std::string_view s, size_t& pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!is_digit(s[pos + i])) return false;
    v = v * 10 + (s[pos + i] - '0');
  }
  pos += n;
  *out = v;
  return true;
}

}  // namespace

int64_t parse_duration(std::string_view text, std::string_view what) {
  auto fail = [&](const std::string& why) -> int64_t {
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + " \"" + std::string(text) + "\": " + why +
                                                 " (write a whole number and a unit: 30s, 15m, 6h, 14d, 2w; "
                                                 "also ms, us)");
  };
  size_t end = 0;
  while (end < text.size() && is_digit(text[end])) ++end;
  if (end == 0) return fail("not a duration");
  int64_t count = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, count);
  if (ec != std::errc() || ptr != text.data() + end) return fail("number out of range");
  const std::string_view suffix = text.substr(end);
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    if (count <= 0) return fail("must be positive");
    if (count > std::numeric_limits<int64_t>::max() / 4 / unit.micros) return fail("too long");
    return count * unit.micros;
  }
  if (suffix.empty()) return fail("no unit");
  if (suffix == "mo" || suffix == "M" || suffix == "y") return fail("months and years vary in length");
  return fail("unknown unit \"" + std::string(suffix) + "\"");
}

int64_t parse_offset(std::string_view text, std::string_view what) {
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view magnitude = negative ? text.substr(1) : text;
  size_t digits = 0;
  while (digits < magnitude.size() && is_digit(magnitude[digits])) ++digits;
  if (digits > 0 && magnitude.find_first_not_of('0') == digits) {  // zero: valid with any known unit
    parse_duration("1" + std::string(magnitude.substr(digits)), what);
    return 0;
  }
  const int64_t micros = parse_duration(magnitude, what);
  return negative ? -micros : micros;
}

std::string format_duration(int64_t micros) {
  for (int i = static_cast<int>(std::size(kUnits)) - 1; i >= 0; --i) {
    if (micros % kUnits[i].micros == 0)
      return std::to_string(micros / kUnits[i].micros) + std::string(kUnits[i].suffix);
  }
  return std::to_string(micros) + "us";
}

int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year(static_cast<int>(year)), std::chrono::month(month), std::chrono::day(day)};
  return sys_days(ymd).time_since_epoch().count();
}

bool parse_timestamp(std::string_view s, int64_t* micros) {
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0;
  if (!digits(s, pos, 4, &year) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, &month) ||
      pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, &day)) {
    return false;
  }
  const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(year)),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return false;
  int64_t hour = 0, minute = 0, second = 0, fraction = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!digits(s, pos, 2, &hour) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, &minute)) return false;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!digits(s, pos, 2, &second)) return false;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        size_t n = 0;
        int64_t scale = 100000;  // microseconds per first fraction digit
        while (pos < s.size() && is_digit(s[pos])) {
          if (n < 6) fraction += (s[pos] - '0') * scale;  // digits beyond microseconds are dropped
          scale /= 10;
          ++n;
          ++pos;
        }
        if (n == 0 || n > 9) return false;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return false;  // 60: a leap second, read as :59 + 1s
  }
  int64_t offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int sign = s[pos++] == '-' ? -1 : 1;
      int64_t oh = 0, om = 0;
      if (!digits(s, pos, 2, &oh)) return false;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (pos < s.size() && !digits(s, pos, 2, &om)) return false;
      if (oh > 23 || om > 59) return false;
      offset_minutes = sign * (oh * 60 + om);
    }
  }
  if (pos != s.size()) return false;
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  *micros = days * kMicrosPerDay + ((hour * 60 + minute - offset_minutes) * 60 + second) * kMicrosPerSecond + fraction;
  return true;
}

std::string format_timestamp(int64_t micros) {
  using namespace std::chrono;
  const int64_t days = floor_div(micros, kMicrosPerDay);
  int64_t rest = micros - days * kMicrosPerDay;
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const int64_t us = rest % kMicrosPerSecond;
  rest /= kMicrosPerSecond;
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02lld:%02lld:%02lld", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<long long>(rest / 3600), static_cast<long long>(rest / 60 % 60),
                        static_cast<long long>(rest % 60));
  if (us) n += std::snprintf(buf + n, sizeof(buf) - n, ".%06lld", static_cast<long long>(us));
  std::snprintf(buf + n, sizeof(buf) - n, "Z");
  return buf;
}

}  // namespace salvo::windows
