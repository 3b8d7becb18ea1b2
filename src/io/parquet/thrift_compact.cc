#include "io/parquet/thrift_compact.h"

#include <cstring>

#include "core/error.h"

namespace salvo {
namespace {

uint64_t zigzag_encode(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t zigzag_decode(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

}  // namespace

ThriftCompactReader::ThriftCompactReader(const uint8_t* data, size_t size, std::string source,
                                         uint64_t base_offset)
    : data_(data), size_(size), source_(std::move(source)), base_offset_(base_offset) {}

void ThriftCompactReader::fail(const std::string& what) const {
  throw Error(ErrorCode::kIo, (source_.empty() ? std::string("parquet") : source_) + ": bad Thrift metadata at byte " +
                                  std::to_string(base_offset_ + pos_) + ": " + what);
}

uint8_t ThriftCompactReader::read_u8() {
  if (pos_ >= size_) fail("unexpected end of data");
  return data_[pos_++];
}

uint64_t ThriftCompactReader::read_varint(int max_bytes) {
  uint64_t value = 0;
  for (int i = 0; i < max_bytes; ++i) {
    const uint8_t b = read_u8();
    value |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return value;
  }
  fail("varint longer than " + std::to_string(max_bytes) + " bytes");
}

ThriftType ThriftCompactReader::to_type(uint8_t code) {
  if (code > static_cast<uint8_t>(ThriftType::kStruct)) fail("unknown type code " + std::to_string(code));
  return static_cast<ThriftType>(code);
}

void ThriftCompactReader::begin_struct() {
  if (last_field_ids_.size() >= kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
  last_field_ids_.push_back(0);
}

void ThriftCompactReader::end_struct() {
  if (!last_field_ids_.empty()) last_field_ids_.pop_back();
}

bool ThriftCompactReader::next_field(int16_t* id, ThriftType* type) {
  if (last_field_ids_.empty()) fail("field read outside a struct");
  const uint8_t header = read_u8();
  if (header == 0) return false;
  *type = to_type(header & 0x0f);
  if (*type == ThriftType::kStop) fail("field with type stop");
  const int delta = header >> 4;
  if (delta != 0) {
    *id = static_cast<int16_t>(last_field_ids_.back() + delta);
  } else {
    *id = read_i16();
  }
  last_field_ids_.back() = *id;
  if (*type == ThriftType::kBoolTrue || *type == ThriftType::kBoolFalse) {
    bool_pending_ = *type == ThriftType::kBoolTrue ? 1 : 0;
  }
  return true;
}

bool ThriftCompactReader::read_bool() {
  if (bool_pending_ >= 0) {
    const bool value = bool_pending_ == 1;
    bool_pending_ = -1;
    return value;
  }
  const uint8_t b = read_u8();
  if (b != 1 && b != 2 && b != 0) fail("bad bool byte " + std::to_string(b));
  return b == 1;
}

int8_t ThriftCompactReader::read_byte() { return static_cast<int8_t>(read_u8()); }

int16_t ThriftCompactReader::read_i16() {
  const int64_t v = zigzag_decode(read_varint(3));
  if (v < INT16_MIN || v > INT16_MAX) fail("i16 out of range");
  return static_cast<int16_t>(v);
}

int32_t ThriftCompactReader::read_i32() {
  const int64_t v = zigzag_decode(read_varint(5));
  if (v < INT32_MIN || v > INT32_MAX) fail("i32 out of range");
  return static_cast<int32_t>(v);
}

int64_t ThriftCompactReader::read_i64() { return zigzag_decode(read_varint(10)); }

double ThriftCompactReader::read_double() {
  if (size_ - pos_ < 8) fail("unexpected end of data in double");
  double v;
  std::memcpy(&v, data_ + pos_, 8);
  pos_ += 8;
  return v;
}

std::string_view ThriftCompactReader::read_binary_view() {
  const uint64_t length = read_varint(10);
  if (length > size_ - pos_) {
    fail("binary length " + std::to_string(length) + " exceeds the " + std::to_string(size_ - pos_) +
         " bytes left");
  }
  std::string_view view(reinterpret_cast<const char*>(data_ + pos_), length);
  pos_ += length;
  return view;
}

std::string ThriftCompactReader::read_binary() { return std::string(read_binary_view()); }

ThriftListHeader ThriftCompactReader::read_list_header() {
  const uint8_t header = read_u8();
  ThriftListHeader list;
  list.element = to_type(header & 0x0f);
  list.size = header >> 4;
  if (list.size == 15) list.size = read_varint(10);
  // Every element takes at least one byte, so a count beyond the bytes left is a lie; checking
  // here keeps callers from reserving memory for it.
  if (list.size > size_ - pos_) {
    fail("list of " + std::to_string(list.size) + " elements exceeds the " + std::to_string(size_ - pos_) +
         " bytes left");
  }
  return list;
}

void ThriftCompactReader::skip(ThriftType type) {
  switch (type) {
    case ThriftType::kBoolTrue:
    case ThriftType::kBoolFalse:
      read_bool();
      return;
    case ThriftType::kByte:
      read_u8();
      return;
    case ThriftType::kI16:
    case ThriftType::kI32:
    case ThriftType::kI64:
      read_varint(10);
      return;
    case ThriftType::kDouble:
      read_double();
      return;
    case ThriftType::kBinary:
      read_binary_view();
      return;
    case ThriftType::kList:
    case ThriftType::kSet: {
      const ThriftListHeader list = read_list_header();
      begin_struct();  // counts towards the depth limit
      for (size_t i = 0; i < list.size; ++i) {
        // Inside a list a bool is one byte, not carried by a header.
        if (list.element == ThriftType::kBoolTrue || list.element == ThriftType::kBoolFalse) {
          read_u8();
        } else {
          skip(list.element);
        }
      }
      end_struct();
      return;
    }
    case ThriftType::kMap: {
      const uint64_t size = read_varint(10);
      if (size == 0) return;
      if (size > size_ - pos_) fail("map of " + std::to_string(size) + " entries exceeds the data");
      const uint8_t types = read_u8();
      const ThriftType key = to_type(types >> 4);
      const ThriftType value = to_type(types & 0x0f);
      begin_struct();
      for (uint64_t i = 0; i < size; ++i) {
        for (ThriftType t : {key, value}) {
          if (t == ThriftType::kBoolTrue || t == ThriftType::kBoolFalse) {
            read_u8();
          } else {
            skip(t);
          }
        }
      }
      end_struct();
      return;
    }
    case ThriftType::kStruct: {
      begin_struct();
      int16_t id;
      ThriftType field_type;
      while (next_field(&id, &field_type)) skip(field_type);
      end_struct();
      return;
    }
    case ThriftType::kStop:
      fail("cannot skip a stop");
  }
  fail("unknown type");
}

void ThriftCompactWriter::begin_struct() { last_field_ids_.push_back(0); }

void ThriftCompactWriter::end_struct() {
  out_.push_back(0);
  if (last_field_ids_.size() > 1) last_field_ids_.pop_back();
}

void ThriftCompactWriter::field_header(int16_t id, ThriftType type) {
  const int delta = id - last_field_ids_.back();
  if (delta > 0 && delta <= 15) {
    out_.push_back(static_cast<char>((delta << 4) | static_cast<uint8_t>(type)));
  } else {
    out_.push_back(static_cast<char>(type));
    write_i16(id);
  }
  last_field_ids_.back() = id;
}

void ThriftCompactWriter::field_bool(int16_t id, bool value) {
  field_header(id, value ? ThriftType::kBoolTrue : ThriftType::kBoolFalse);
}

void ThriftCompactWriter::field_i32(int16_t id, int32_t value) {
  field_header(id, ThriftType::kI32);
  write_i32(value);
}

void ThriftCompactWriter::field_i64(int16_t id, int64_t value) {
  field_header(id, ThriftType::kI64);
  write_i64(value);
}

void ThriftCompactWriter::field_double(int16_t id, double value) {
  field_header(id, ThriftType::kDouble);
  write_double(value);
}

void ThriftCompactWriter::field_binary(int16_t id, std::string_view value) {
  field_header(id, ThriftType::kBinary);
  write_binary(value);
}

void ThriftCompactWriter::field_struct_begin(int16_t id) {
  field_header(id, ThriftType::kStruct);
  begin_struct();
}

void ThriftCompactWriter::field_list_begin(int16_t id, ThriftType element, size_t size) {
  field_header(id, ThriftType::kList);
  list_header(element, size);
}

void ThriftCompactWriter::list_header(ThriftType element, size_t size) {
  if (size < 15) {
    out_.push_back(static_cast<char>((size << 4) | static_cast<uint8_t>(element)));
  } else {
    out_.push_back(static_cast<char>(0xf0 | static_cast<uint8_t>(element)));
    write_varint(size);
  }
}

void ThriftCompactWriter::write_bool(bool value) { out_.push_back(value ? 1 : 2); }
void ThriftCompactWriter::write_byte(int8_t value) { out_.push_back(static_cast<char>(value)); }
void ThriftCompactWriter::write_i16(int16_t value) { write_varint(zigzag_encode(value)); }
void ThriftCompactWriter::write_i32(int32_t value) { write_varint(zigzag_encode(value)); }
void ThriftCompactWriter::write_i64(int64_t value) { write_varint(zigzag_encode(value)); }

void ThriftCompactWriter::write_double(double value) {
  char bytes[8];
  std::memcpy(bytes, &value, 8);
  out_.append(bytes, 8);
}

void ThriftCompactWriter::write_binary(std::string_view value) {
  write_varint(value.size());
  out_.append(value);
}

void ThriftCompactWriter::write_varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

}  // namespace salvo
