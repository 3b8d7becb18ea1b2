// Thrift Compact Protocol, the encoding of Parquet's footer and page headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

// Compact-protocol type codes, as they appear in field and list headers.
enum class ThriftType : uint8_t {
  kStop = 0,
  kBoolTrue = 1,
  kBoolFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

// Header of a list or set: element type and count.
struct ThriftListHeader {
  ThriftType element = ThriftType::kStop;
  size_t size = 0;
};

// Reads compact-protocol values from a byte range. Every read is bounds-checked; nesting is
// limited and no length may exceed the bytes left, so hostile input throws salvo::Error(kIo)
// naming `source` and the byte offset (base_offset + position) instead of crashing or allocating.
class ThriftCompactReader {
 public:
  ThriftCompactReader(const uint8_t* data, size_t size, std::string source = {}, uint64_t base_offset = 0);

  // Enters a struct (checks the nesting limit); pair with end_struct().
  void begin_struct();
  void end_struct();

  // Reads the next field header of the current struct. Returns false at the struct's stop byte.
  bool next_field(int16_t* id, ThriftType* type);

  // A bool: the value carried by the last field header, or one byte inside a list.
  bool read_bool();
  int8_t read_byte();
  int16_t read_i16();
  int32_t read_i32();
  int64_t read_i64();
  double read_double();
  std::string read_binary();
  // A view into the input, valid as long as the input is.
  std::string_view read_binary_view();
  ThriftListHeader read_list_header();

  // Skips a value of `type` (a whole struct, list or map with everything inside).
  void skip(ThriftType type);

  // Bytes consumed from the start of the range.
  size_t position() const { return pos_; }

  // Throws salvo::Error(kIo) naming the source and the current offset.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  uint64_t read_varint(int max_bytes);
  uint8_t read_u8();
  ThriftType to_type(uint8_t code);

  static constexpr int kMaxDepth = 64;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string source_;
  uint64_t base_offset_;
  std::vector<int16_t> last_field_ids_;
  int bool_pending_ = -1;  // -1: none; 0/1: value from the last bool field header
};

// Writes compact-protocol values into a growing buffer.
class ThriftCompactWriter {
 public:
  // Starts a struct (at top level or as a list element); end_struct() writes its stop byte.
  void begin_struct();
  void end_struct();

  // A field header; the id is written as a delta from the previous field when it fits.
  void field_header(int16_t id, ThriftType type);
  void field_bool(int16_t id, bool value);
  void field_i32(int16_t id, int32_t value);
  void field_i64(int16_t id, int64_t value);
  void field_double(int16_t id, double value);
  void field_binary(int16_t id, std::string_view value);
  // A struct-valued field: header, then begin_struct(); the caller writes the fields and calls end_struct().
  void field_struct_begin(int16_t id);
  // A list-valued field: header, then the list header; the caller writes `size` elements.
  void field_list_begin(int16_t id, ThriftType element, size_t size);

  void list_header(ThriftType element, size_t size);
  // Bare values, for list elements.
  void write_bool(bool value);
  void write_byte(int8_t value);
  void write_i16(int16_t value);
  void write_i32(int32_t value);
  void write_i64(int64_t value);
  void write_double(double value);
  void write_binary(std::string_view value);
  void write_varint(uint64_t value);

  const std::string& data() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::vector<int16_t> last_field_ids_{0};
};

}  // namespace salvo
