#include "windows/event_codec.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace salvo::windows {
namespace {

void append_be64(uint64_t v, std::string* out) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  out->append(bytes, 8);
}

uint64_t read_be64(std::string_view s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

uint64_t ordered_int(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
int64_t unordered_int(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

uint64_t ordered_double(double d) {
  if (d == 0) d = 0;  // -0.0 and 0.0 are one group
  if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
  const uint64_t bits = std::bit_cast<uint64_t>(d);
  return (bits & (uint64_t{1} << 63)) ? ~bits : bits | (uint64_t{1} << 63);
}

double unordered_double(uint64_t v) {
  return std::bit_cast<double>((v & (uint64_t{1} << 63)) ? v & ~(uint64_t{1} << 63) : ~v);
}

void append_varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

void append_group_key(const Column& column, int64_t row, std::string* key) {
  const TypeId id = column.type().id();
  const bool nan = !column.is_null(row) && ((id == TypeId::kFloat32 && std::isnan(column.float32_at(row))) ||
                                            (id == TypeId::kFloat64 && std::isnan(column.float64_at(row))));
  if (column.is_null(row) || nan) {  // a float NaN is read as a null, as for values
    key->push_back('\0');
    return;
  }
  key->push_back('\1');
  switch (column.type().id()) {
    case TypeId::kBool: key->push_back(column.bool_at(row) ? '\1' : '\0'); return;
    case TypeId::kInt32: append_be64(ordered_int(column.int32_at(row)), key); return;
    case TypeId::kInt64:
    case TypeId::kTimestamp: append_be64(ordered_int(column.int64_at(row)), key); return;
    case TypeId::kFloat32: append_be64(ordered_double(column.float32_at(row)), key); return;
    case TypeId::kFloat64: append_be64(ordered_double(column.float64_at(row)), key); return;
    case TypeId::kString:
    case TypeId::kBinary: {
      for (char c : column.string_at(row)) {
        key->push_back(c);
        if (c == '\0') key->push_back('\xFF');
      }
      key->push_back('\0');
      key->push_back('\0');
      return;
    }
    default: throw Error(ErrorCode::kInternal, "group key of type " + column.type().to_string());
  }
}

void append_time_key(int64_t micros, std::string* key) { append_be64(ordered_int(micros), key); }

int64_t time_of_key(std::string_view key) { return unordered_int(read_be64(key, key.size() - 8)); }

void append_group_value(std::string_view group, Column* out) {
  if (group.empty() || group[0] == '\0') {
    out->append_null();
    return;
  }
  switch (out->type().id()) {
    case TypeId::kBool: out->append_bool(group[1] != '\0'); return;
    case TypeId::kInt32: out->append_int32(static_cast<int32_t>(unordered_int(read_be64(group, 1)))); return;
    case TypeId::kInt64:
    case TypeId::kTimestamp: out->append_int64(unordered_int(read_be64(group, 1))); return;
    case TypeId::kFloat32: out->append_float32(static_cast<float>(unordered_double(read_be64(group, 1)))); return;
    case TypeId::kFloat64: out->append_float64(unordered_double(read_be64(group, 1))); return;
    case TypeId::kString:
    case TypeId::kBinary: {
      std::string value;
      for (size_t i = 1; i + 1 < group.size(); ++i) {
        if (group[i] == '\0') {
          if (group[i + 1] == '\0') break;  // the terminator
          ++i;                              // an escaped 0x00
          value.push_back('\0');
          continue;
        }
        value.push_back(group[i]);
      }
      out->append_string(value);
      return;
    }
    default: throw Error(ErrorCode::kInternal, "group key of type " + out->type().to_string());
  }
}

void append_payload(const std::vector<const Column*>& columns, int64_t row, std::string* payload) {
  const size_t bitmap_at = payload->size();
  payload->append((columns.size() + 7) / 8, '\0');
  for (size_t c = 0; c < columns.size(); ++c) {
    const Column& column = *columns[c];
    if (column.is_null(row)) continue;
    char bytes[8];
    switch (column.type().id()) {
      case TypeId::kBool: payload->push_back(column.bool_at(row) ? '\1' : '\0'); break;
      case TypeId::kInt32: {
        const int64_t v = column.int32_at(row);
        std::memcpy(bytes, &v, 8);
        payload->append(bytes, 8);
        break;
      }
      case TypeId::kInt64:
      case TypeId::kTimestamp: {
        const int64_t v = column.int64_at(row);
        std::memcpy(bytes, &v, 8);
        payload->append(bytes, 8);
        break;
      }
      case TypeId::kFloat32:
      case TypeId::kFloat64: {
        const double v = column.type().id() == TypeId::kFloat32 ? column.float32_at(row) : column.float64_at(row);
        if (std::isnan(v)) continue;  // NaN is read as a null, as pandas reads it
        std::memcpy(bytes, &v, 8);
        payload->append(bytes, 8);
        break;
      }
      case TypeId::kString:
      case TypeId::kBinary: {
        const std::string_view s = column.string_at(row);
        append_varint(s.size(), payload);
        payload->append(s);
        break;
      }
      default: throw Error(ErrorCode::kInternal, "value column of type " + column.type().to_string());
    }
    (*payload)[bitmap_at + c / 8] = static_cast<char>((*payload)[bitmap_at + c / 8] | (1 << (c % 8)));
  }
}

uint64_t read_varint(std::string_view bytes, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; pos < bytes.size() && shift < 64; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(bytes[pos++]);
    v |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) return v;
  }
  throw Error(ErrorCode::kInternal, "event payload: a bad varint");
}

}  // namespace salvo::windows
