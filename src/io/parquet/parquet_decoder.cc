#include "io/parquet/parquet_decoder.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/utf8.h"

namespace salvo::parquet {
namespace {

uint64_t load_le(const uint8_t* p, size_t avail) {
  uint64_t v = 0;
  if (avail >= 8) {
    std::memcpy(&v, p, 8);  // x86-64 and the formats agree: little-endian
    return v;
  }
  for (size_t i = 0; i < avail; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Reads bit_width (<= 64) bits starting at bit `bit` of data[0, size).
uint64_t read_bits(const uint8_t* data, size_t size, uint64_t bit, int bit_width) {
  if (bit_width == 0) return 0;
  const size_t byte = bit / 8;
  const int shift = static_cast<int>(bit % 8);
  uint64_t v = load_le(data + byte, size - byte) >> shift;
  if (shift + bit_width > 64) v |= uint64_t{data[byte + 8]} << (64 - shift);
  return bit_width == 64 ? v : v & ((uint64_t{1} << bit_width) - 1);
}

uint64_t read_uvarint(const uint8_t* data, size_t size, size_t* pos, const DecodeContext& context) {
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (*pos >= size) context.fail("varint runs past the end of the data");
    const uint8_t b = data[(*pos)++];
    value |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) return value;
  }
  context.fail("varint longer than 10 bytes");
}

int64_t read_zigzag(const uint8_t* data, size_t size, size_t* pos, const DecodeContext& context) {
  const uint64_t v = read_uvarint(data, size, pos, context);
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Notes value `index` of `out` when `value` is not UTF-8 (DecodeContext::check_utf8).
inline void check_utf8(std::string_view value, size_t index, ColumnValues* out) {
  size_t bad = 0;
  if (!is_valid_utf8(value, &bad)) out->invalid_utf8.emplace_back(index, bad);
}

}  // namespace

size_t ColumnValues::size() const {
  if (is_bytes()) return views.size();
  if (type == Type::kFloat || type == Type::kDouble) return doubles.size();
  return ints.size();
}

char* ColumnValues::allocate(size_t n) {
  storage.push_back(allocate_page_buffer(n));
  storage_bytes += n;
  return storage.back().get();
}

void ColumnValues::adopt(PageBuffer buffer, size_t size) {
  storage.push_back(std::move(buffer));
  storage_bytes += size;
}

void ColumnValues::append(ColumnValues&& other) {
  const size_t base = size();
  for (const auto& [index, offset] : other.invalid_utf8) invalid_utf8.emplace_back(base + index, offset);
  other.invalid_utf8.clear();
  if (is_bytes()) {
    if (views.empty()) {
      views = std::move(other.views);
    } else {
      views.insert(views.end(), other.views.begin(), other.views.end());
    }
  } else if (type == Type::kFloat || type == Type::kDouble) {
    if (doubles.empty()) {
      doubles = std::move(other.doubles);
    } else {
      doubles.insert(doubles.end(), other.doubles.begin(), other.doubles.end());
    }
  } else if (ints.empty()) {
    ints = std::move(other.ints);
  } else {
    ints.insert(ints.end(), other.ints.begin(), other.ints.end());
  }
  for (auto& buffer : other.storage) storage.push_back(std::move(buffer));
  storage_bytes += other.storage_bytes;
  other.storage.clear();
  other.storage_bytes = 0;
}

void ColumnValues::reserve(size_t n) {
  if (is_bytes()) {
    views.reserve(views.size() + n);
  } else if (type == Type::kFloat || type == Type::kDouble) {
    doubles.reserve(doubles.size() + n);
  } else {
    ints.reserve(ints.size() + n);
  }
}

void DecodeContext::fail(const std::string& what) const { throw Error(ErrorCode::kIo, where + ": " + what); }

void DecodeContext::check_growth(const ColumnValues& out, uint64_t values, uint64_t bytes) const {
  const uint64_t per_value = out.is_bytes() ? sizeof(std::string_view) : 8;
  const uint64_t now = out.storage_bytes + per_value * static_cast<uint64_t>(out.size());
  if (values > max_output_bytes / per_value || bytes > max_output_bytes ||
      now + per_value * values + bytes > max_output_bytes) {
    fail("column chunk decodes to more than " + std::to_string(max_output_bytes) + " bytes");
  }
}

void DecodeContext::charge_built(uint64_t bytes) const {
  if (built_bytes == nullptr) return;
  const uint64_t total = built_bytes->fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (bytes > max_output_bytes || total > max_output_bytes) {
    fail("column chunk decodes to more than " + std::to_string(max_output_bytes) + " bytes");
  }
}

int bit_width_of(uint32_t max_value) {
  int width = 0;
  while (max_value > 0) {
    ++width;
    max_value >>= 1;
  }
  return width;
}

void unpack_bits(const uint8_t* data, size_t size, int bit_width, uint64_t first, size_t n, uint32_t* out) {
  if (bit_width == 0) {
    std::fill(out, out + n, 0u);
    return;
  }
  const uint64_t mask = (uint64_t{1} << bit_width) - 1;
  uint64_t bit = first * bit_width;
  for (size_t i = 0; i < n; ++i, bit += bit_width) {
    const size_t byte = bit / 8;
    out[i] = static_cast<uint32_t>((load_le(data + byte, size - byte) >> (bit % 8)) & mask);
  }
}

RleBitPackedDecoder::RleBitPackedDecoder(const uint8_t* data, size_t size, int bit_width, const DecodeContext* context)
    : data_(data), size_(size), bit_width_(bit_width), context_(context) {
  if (bit_width < 0 || bit_width > 32) context_->fail("bit width " + std::to_string(bit_width) + " exceeds 32");
}

void RleBitPackedDecoder::next_run() {
  while (left_ == 0) {
    if (pos_ >= size_) context_->fail("RLE/bit-packed data ends before all values were read");
    const uint64_t header = read_uvarint(data_, size_, &pos_, *context_);
    if (header & 1) {
      const uint64_t groups = header >> 1;
      const size_t available = size_ - pos_;
      // The last run may be cut short by the writer; only values actually present count.
      const uint64_t run_bytes = std::min<uint64_t>(groups * bit_width_, available);
      if (groups > size_ && bit_width_ > 0) context_->fail("bit-packed run of " + std::to_string(groups) + " groups exceeds the data");
      rle_ = false;
      packed_start_ = pos_;
      packed_index_ = 0;
      left_ = bit_width_ == 0 ? groups * 8 : std::min<uint64_t>(groups * 8, run_bytes * 8 / bit_width_);
      pos_ += run_bytes;
    } else {
      const int value_bytes = (bit_width_ + 7) / 8;
      if (size_ - pos_ < static_cast<size_t>(value_bytes)) context_->fail("RLE run value runs past the end of the data");
      uint32_t value = 0;
      for (int i = 0; i < value_bytes; ++i) value |= uint32_t{data_[pos_ + i]} << (8 * i);
      pos_ += value_bytes;
      rle_ = true;
      rle_value_ = value;
      left_ = header >> 1;
    }
  }
}

void RleBitPackedDecoder::get(uint32_t* out, size_t n) {
  while (n > 0) {
    if (left_ == 0) next_run();
    const size_t take = static_cast<size_t>(std::min<uint64_t>(left_, n));
    if (rle_) {
      std::fill(out, out + take, rle_value_);
    } else {
      unpack_bits(data_ + packed_start_, size_ - packed_start_, bit_width_, packed_index_, take, out);
      packed_index_ += take;
    }
    left_ -= take;
    out += take;
    n -= take;
  }
}

size_t decode_plain(const uint8_t* data, size_t size, Type type, int32_t type_length, size_t n, ColumnValues* out,
                    const DecodeContext& context) {
  auto need = [&](uint64_t bytes) {
    if (bytes > size) {
      context.fail("PLAIN data needs " + std::to_string(bytes) + " bytes for " + std::to_string(n) +
                   " values, the page has " + std::to_string(size));
    }
  };
  switch (type) {
    case Type::kBoolean: {
      need((n + 7) / 8);
      context.check_growth(*out, n, 0);
      for (size_t i = 0; i < n; ++i) out->ints.push_back((data[i / 8] >> (i % 8)) & 1);
      return (n + 7) / 8;
    }
    case Type::kInt32: {
      need(4 * uint64_t{n});
      context.check_growth(*out, n, 0);
      for (size_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        out->ints.push_back(v);
      }
      return 4 * n;
    }
    case Type::kInt64: {
      need(8 * uint64_t{n});
      context.check_growth(*out, n, 0);
      const size_t base = out->ints.size();
      out->ints.resize(base + n);
      if (n > 0) std::memcpy(out->ints.data() + base, data, 8 * n);
      return 8 * n;
    }
    case Type::kFloat: {
      need(4 * uint64_t{n});
      context.check_growth(*out, n, 0);
      for (size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, data + 4 * i, 4);
        out->doubles.push_back(v);
      }
      return 4 * n;
    }
    case Type::kDouble: {
      need(8 * uint64_t{n});
      context.check_growth(*out, n, 0);
      const size_t base = out->doubles.size();
      out->doubles.resize(base + n);
      if (n > 0) std::memcpy(out->doubles.data() + base, data, 8 * n);
      return 8 * n;
    }
    case Type::kInt96:
    case Type::kFixedLenByteArray: {
      const uint64_t width = type == Type::kInt96 ? 12 : static_cast<uint64_t>(type_length);
      if (type == Type::kFixedLenByteArray && type_length < 0) context.fail("negative FIXED_LEN_BYTE_ARRAY length");
      need(width * n);
      context.check_growth(*out, n, 0);
      const auto* p = reinterpret_cast<const char*>(data);
      out->views.reserve(out->views.size() + n);
      for (size_t i = 0; i < n; ++i) out->views.emplace_back(p + i * width, width);
      return width * n;
    }
    case Type::kByteArray: {
      // Each value takes at least its 4-byte length, which bounds n before anything is reserved.
      need(4 * uint64_t{n});
      context.check_growth(*out, n, 0);
      const size_t base = out->views.size();
      out->views.resize(base + n);
      std::string_view* views = out->views.data() + base;
      const auto* p = reinterpret_cast<const char*>(data);
      size_t pos = 0;
      for (size_t i = 0; i < n; ++i) {
        if (size - pos < 4) {
          out->views.resize(base);
          context.fail("BYTE_ARRAY value " + std::to_string(i) + " runs past the end of the page");
        }
        uint32_t length;
        std::memcpy(&length, data + pos, 4);
        pos += 4;
        if (length > size - pos) {
          out->views.resize(base);
          context.fail("BYTE_ARRAY value " + std::to_string(i) + " of " + std::to_string(length) +
                       " bytes runs past the end of the page");
        }
        views[i] = std::string_view(p + pos, length);
        // Checked here, in the same pass: the next length sits right after the bytes just read.
        if (context.check_utf8) check_utf8(views[i], base + i, out);
        pos += length;
      }
      return pos;
    }
  }
  context.fail("unknown physical type " + std::to_string(static_cast<int>(type)));
}

size_t decode_delta_binary_packed(const uint8_t* data, size_t size, bool int32, size_t n, std::vector<int64_t>* out,
                                  const DecodeContext& context) {
  size_t pos = 0;
  const uint64_t block_size = read_uvarint(data, size, &pos, context);
  const uint64_t miniblocks = read_uvarint(data, size, &pos, context);
  const uint64_t total = read_uvarint(data, size, &pos, context);
  int64_t last = read_zigzag(data, size, &pos, context);
  if (block_size == 0 || block_size % 128 != 0 || block_size > (1u << 20) || miniblocks == 0 ||
      block_size % miniblocks != 0 || (block_size / miniblocks) % 32 != 0) {
    context.fail("bad DELTA_BINARY_PACKED header (block size " + std::to_string(block_size) + ", " +
                 std::to_string(miniblocks) + " miniblocks)");
  }
  if (total != n) {
    context.fail("DELTA_BINARY_PACKED holds " + std::to_string(total) + " values, expected " + std::to_string(n));
  }
  if (total == 0) return pos;
  const uint64_t per_mini = block_size / miniblocks;
  out->reserve(out->size() + n);
  auto wrap = [int32](uint64_t v) { return int32 ? static_cast<int64_t>(static_cast<int32_t>(v)) : static_cast<int64_t>(v); };
  last = wrap(static_cast<uint64_t>(last));
  out->push_back(last);
  uint64_t produced = 1;
  while (produced < total) {
    const uint64_t min_delta = static_cast<uint64_t>(read_zigzag(data, size, &pos, context));
    if (size - pos < miniblocks) context.fail("DELTA_BINARY_PACKED bit widths run past the end of the data");
    const uint8_t* widths = data + pos;
    pos += miniblocks;
    for (uint64_t m = 0; m < miniblocks && produced < total; ++m) {
      const int width = widths[m];
      if (width > 64) context.fail("DELTA_BINARY_PACKED bit width " + std::to_string(width));
      const uint64_t take = std::min(per_mini, total - produced);
      const uint64_t mini_bytes = per_mini * width / 8;
      if ((take * width + 7) / 8 > size - pos) context.fail("DELTA_BINARY_PACKED miniblock runs past the end of the data");
      const uint8_t* mini = data + pos;
      const size_t mini_size = size - pos;
      for (uint64_t i = 0; i < take; ++i) {
        const uint64_t packed = read_bits(mini, mini_size, i * width, width);
        last = wrap(static_cast<uint64_t>(last) + min_delta + packed);
        out->push_back(last);
      }
      produced += take;
      pos += std::min<uint64_t>(mini_bytes, size - pos);
    }
  }
  return pos;
}

size_t decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t n, ColumnValues* out,
                                      const DecodeContext& context) {
  std::vector<int64_t> lengths;
  size_t pos = decode_delta_binary_packed(data, size, true, n, &lengths, context);
  uint64_t total = 0;
  for (int64_t length : lengths) {
    if (length < 0) context.fail("negative DELTA_LENGTH_BYTE_ARRAY length");
    total += static_cast<uint64_t>(length);
  }
  if (total > size - pos) context.fail("DELTA_LENGTH_BYTE_ARRAY values run past the end of the page");
  context.check_growth(*out, n, 0);
  out->views.reserve(out->views.size() + n);
  const auto* p = reinterpret_cast<const char*>(data + pos);
  for (int64_t length : lengths) {
    out->views.emplace_back(p, static_cast<size_t>(length));
    if (context.check_utf8) check_utf8(out->views.back(), out->views.size() - 1, out);
    p += length;
  }
  return pos + total;
}

size_t decode_delta_byte_array(const uint8_t* data, size_t size, size_t n, ColumnValues* out,
                               const DecodeContext& context) {
  std::vector<int64_t> prefixes;
  std::vector<int64_t> suffixes;
  size_t pos = decode_delta_binary_packed(data, size, true, n, &prefixes, context);
  pos += decode_delta_binary_packed(data + pos, size - pos, true, n, &suffixes, context);
  uint64_t total = 0;
  uint64_t suffix_total = 0;
  uint64_t previous = 0;
  for (size_t i = 0; i < n; ++i) {
    if (prefixes[i] < 0 || suffixes[i] < 0) context.fail("negative DELTA_BYTE_ARRAY length");
    if (static_cast<uint64_t>(prefixes[i]) > previous) {
      context.fail("DELTA_BYTE_ARRAY prefix of " + std::to_string(prefixes[i]) + " bytes is longer than the previous value");
    }
    previous = static_cast<uint64_t>(prefixes[i]) + static_cast<uint64_t>(suffixes[i]);
    total += previous;
    suffix_total += static_cast<uint64_t>(suffixes[i]);
    if (suffix_total > size - pos) context.fail("DELTA_BYTE_ARRAY suffixes run past the end of the page");
    // Prefixes may repeat a long value many times: refuse before the total overflows.
    if (total > context.max_output_bytes) context.check_growth(*out, n, total);
  }
  context.check_growth(*out, n, total);
  context.charge_built(total);
  char* built = out->allocate(static_cast<size_t>(total));
  out->views.reserve(out->views.size() + n);
  const char* prev = built;
  char* at = built;
  for (size_t i = 0; i < n; ++i) {
    const size_t prefix = static_cast<size_t>(prefixes[i]);
    const size_t suffix = static_cast<size_t>(suffixes[i]);
    if (prefix > 0) std::memmove(at, prev, prefix);
    if (suffix > 0) std::memcpy(at + prefix, data + pos, suffix);
    pos += suffix;
    out->views.emplace_back(at, prefix + suffix);
    if (context.check_utf8) check_utf8(out->views.back(), out->views.size() - 1, out);
    prev = at;
    at += prefix + suffix;
  }
  return pos;
}

void decode_byte_stream_split(const uint8_t* data, size_t size, Type type, size_t n, ColumnValues* out,
                              const DecodeContext& context) {
  const size_t width = (type == Type::kFloat || type == Type::kInt32) ? 4 : 8;
  if (type != Type::kFloat && type != Type::kDouble && type != Type::kInt32 && type != Type::kInt64) {
    context.fail("BYTE_STREAM_SPLIT is not supported for this type");
  }
  if (uint64_t{n} * width > size) context.fail("BYTE_STREAM_SPLIT data is shorter than its values");
  context.check_growth(*out, n, 0);
  for (size_t i = 0; i < n; ++i) {
    uint8_t bytes[8];
    for (size_t b = 0; b < width; ++b) bytes[b] = data[b * n + i];
    if (type == Type::kFloat) {
      float v;
      std::memcpy(&v, bytes, 4);
      out->doubles.push_back(v);
    } else if (type == Type::kDouble) {
      double v;
      std::memcpy(&v, bytes, 8);
      out->doubles.push_back(v);
    } else if (type == Type::kInt32) {
      int32_t v;
      std::memcpy(&v, bytes, 4);
      out->ints.push_back(v);
    } else {
      int64_t v;
      std::memcpy(&v, bytes, 8);
      out->ints.push_back(v);
    }
  }
}

void decode_dictionary_indices(const uint8_t* data, size_t size, size_t n, const ColumnValues& dictionary,
                               ColumnValues* out, const DecodeContext& context) {
  if (n == 0) return;
  if (size < 1) context.fail("dictionary-encoded page has no bit width");
  RleBitPackedDecoder decoder(data + 1, size - 1, data[0], &context);
  const size_t entries = dictionary.size();
  uint32_t indices[1024];
  context.check_growth(*out, n, 0);
  out->reserve(n);
  const bool bytes = dictionary.is_bytes();
  const bool floating = dictionary.type == Type::kFloat || dictionary.type == Type::kDouble;
  // Entries that are not UTF-8, by entry: offset of the bad byte + 1 (0: fine).
  std::vector<size_t> bad_entry;
  if (context.check_utf8 && !dictionary.invalid_utf8.empty()) {
    bad_entry.assign(entries, 0);
    for (const auto& [entry, offset] : dictionary.invalid_utf8) bad_entry[entry] = offset + 1;
  }
  for (size_t done = 0; done < n;) {
    const size_t take = std::min<size_t>(1024, n - done);
    decoder.get(indices, take);
    uint32_t largest = 0;
    for (size_t i = 0; i < take; ++i) largest = std::max(largest, indices[i]);
    if (largest >= entries) {
      context.fail("dictionary index " + std::to_string(largest) + " beyond the " + std::to_string(entries) +
                   "-entry dictionary");
    }
    if (bytes) {
      if (!bad_entry.empty()) {
        for (size_t i = 0; i < take; ++i) {
          if (bad_entry[indices[i]] != 0) out->invalid_utf8.emplace_back(out->views.size() + i, bad_entry[indices[i]] - 1);
        }
      }
      for (size_t i = 0; i < take; ++i) out->views.push_back(dictionary.views[indices[i]]);
    } else if (floating) {
      for (size_t i = 0; i < take; ++i) out->doubles.push_back(dictionary.doubles[indices[i]]);
    } else {
      for (size_t i = 0; i < take; ++i) out->ints.push_back(dictionary.ints[indices[i]]);
    }
    done += take;
  }
}

size_t decode_boolean_rle(const uint8_t* data, size_t size, size_t n, ColumnValues* out, const DecodeContext& context) {
  if (size < 4) context.fail("boolean RLE data lacks its length");
  uint32_t length;
  std::memcpy(&length, data, 4);
  if (length > size - 4) context.fail("boolean RLE length beyond the page");
  RleBitPackedDecoder decoder(data + 4, length, 1, &context);
  context.check_growth(*out, n, 0);
  uint32_t values[1024];
  for (size_t done = 0; done < n;) {
    const size_t take = std::min<size_t>(1024, n - done);
    decoder.get(values, take);
    for (size_t i = 0; i < take; ++i) out->ints.push_back(values[i]);
    done += take;
  }
  return 4 + length;
}

}  // namespace salvo::parquet
