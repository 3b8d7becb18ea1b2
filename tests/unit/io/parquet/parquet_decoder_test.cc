#include "io/parquet/parquet_decoder.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"

namespace salvo::parquet {
namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> text_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<std::string> strings(const ColumnValues& v) {
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.emplace_back(v.bytes_at(i));
  return out;
}

const DecodeContext kContext{"test.parquet"};

TEST(RleBitPackedDecoderTest, DecodesTheSpecExamples) {
  // The spec's bit-packed example: 0..7 with bit width 3, one group of 8.
  auto packed = bytes({0x03, 0x88, 0xc6, 0xfa});
  uint32_t out[8];
  RleBitPackedDecoder(packed.data(), packed.size(), 3, &kContext).get(out, 8);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], i);
  // An RLE run of 300 fives (header 600 = 0xd8 0x04), then a run of 2 sevens, width 3.
  auto runs = bytes({0xd8, 0x04, 0x05, 0x04, 0x07});
  RleBitPackedDecoder decoder(runs.data(), runs.size(), 3, &kContext);
  std::vector<uint32_t> values(302);
  decoder.get(values.data(), 250);
  decoder.get(values.data() + 250, 52);
  for (size_t i = 0; i < 300; ++i) ASSERT_EQ(values[i], 5u);
  EXPECT_EQ(values[300], 7u);
  EXPECT_EQ(values[301], 7u);
  EXPECT_THROW(decoder.get(out, 1), Error);
  // A 16-bit RLE value takes two bytes, little-endian.
  auto wide = bytes({0x02, 0x34, 0x12});
  RleBitPackedDecoder(wide.data(), wide.size(), 16, &kContext).get(out, 1);
  EXPECT_EQ(out[0], 0x1234u);
}

TEST(RleBitPackedDecoderTest, MatchesAPlainBitReaderForEveryWidth) {
  for (int width = 1; width <= 32; ++width) {
    // 3 groups of 8 values packed by hand, bit by bit.
    std::vector<uint32_t> want(24);
    for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<uint32_t>((i * 2654435761u) & ((uint64_t{1} << width) - 1));
    std::vector<uint8_t> data(1 + 3 * width, 0);
    data[0] = (3 << 1) | 1;
    for (size_t i = 0; i < want.size(); ++i) {
      for (int b = 0; b < width; ++b) {
        const size_t bit = i * width + b;
        if ((want[i] >> b) & 1) data[1 + bit / 8] |= static_cast<uint8_t>(1 << (bit % 8));
      }
    }
    std::vector<uint32_t> got(24);
    RleBitPackedDecoder(data.data(), data.size(), width, &kContext).get(got.data(), 24);
    EXPECT_EQ(got, want) << "width " << width;
  }
}

TEST(PlainDecoderTest, DecodesEveryPhysicalType) {
  ColumnValues bools{Type::kBoolean};
  auto b = bytes({0x0d, 0x01});  // 1,0,1,1,0,0,0,0, 1
  EXPECT_EQ(decode_plain(b.data(), b.size(), Type::kBoolean, 0, 9, &bools, kContext), 2u);
  EXPECT_EQ(bools.ints, (std::vector<int64_t>{1, 0, 1, 1, 0, 0, 0, 0, 1}));

  ColumnValues ints{Type::kInt32};
  auto i32 = bytes({0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x80});
  decode_plain(i32.data(), i32.size(), Type::kInt32, 0, 2, &ints, kContext);
  EXPECT_EQ(ints.ints, (std::vector<int64_t>{-1, INT32_MIN + 1}));

  ColumnValues longs{Type::kInt64};
  int64_t l[2] = {INT64_MIN, 42};
  decode_plain(reinterpret_cast<uint8_t*>(l), 16, Type::kInt64, 0, 2, &longs, kContext);
  EXPECT_EQ(longs.ints, (std::vector<int64_t>{INT64_MIN, 42}));

  ColumnValues floats{Type::kFloat};
  float f[2] = {1.5f, -0.1f};
  decode_plain(reinterpret_cast<uint8_t*>(f), 8, Type::kFloat, 0, 2, &floats, kContext);
  EXPECT_EQ(floats.doubles, (std::vector<double>{1.5, static_cast<double>(-0.1f)}));

  ColumnValues doubles{Type::kDouble};
  double d[1] = {3.25};
  decode_plain(reinterpret_cast<uint8_t*>(d), 8, Type::kDouble, 0, 1, &doubles, kContext);
  EXPECT_EQ(doubles.doubles, std::vector<double>{3.25});

  ColumnValues arrays{Type::kByteArray};
  auto ba = concat(concat(bytes({2, 0, 0, 0}), text_bytes("hi")), bytes({0, 0, 0, 0}));
  EXPECT_EQ(decode_plain(ba.data(), ba.size(), Type::kByteArray, 0, 2, &arrays, kContext), ba.size());
  EXPECT_EQ(strings(arrays), (std::vector<std::string>{"hi", ""}));

  ColumnValues fixed{Type::kFixedLenByteArray};
  auto fl = text_bytes("abcdef");
  decode_plain(fl.data(), fl.size(), Type::kFixedLenByteArray, 3, 2, &fixed, kContext);
  EXPECT_EQ(strings(fixed), (std::vector<std::string>{"abc", "def"}));

  ColumnValues int96{Type::kInt96};
  auto i96 = std::vector<uint8_t>(24, 7);
  decode_plain(i96.data(), i96.size(), Type::kInt96, 0, 2, &int96, kContext);
  EXPECT_EQ(int96.bytes_at(1).size(), 12u);

  // Lengths and counts beyond the data.
  ColumnValues bad{Type::kByteArray};
  auto long_length = bytes({0xff, 0xff, 0xff, 0x7f, 'x'});
  EXPECT_THROW(decode_plain(long_length.data(), long_length.size(), Type::kByteArray, 0, 1, &bad, kContext), Error);
  EXPECT_THROW(decode_plain(i32.data(), i32.size(), Type::kInt32, 0, 3, &ints, kContext), Error);
  EXPECT_THROW(decode_plain(ba.data(), ba.size(), Type::kByteArray, 0, 1000000000, &bad, kContext), Error);
}

TEST(DeltaBinaryPackedTest, DecodesTheSpecExamples) {
  // 1, 2, 3, 4, 5: all deltas 1, bit width 0.
  auto ex1 = bytes({0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00});
  std::vector<int64_t> out;
  EXPECT_EQ(decode_delta_binary_packed(ex1.data(), ex1.size(), false, 5, &out, kContext), ex1.size());
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // 7, 5, 3, 1, 2, 3, 4, 5: min delta -2, relative deltas 0,0,0,3,3,3,3 in 2 bits.
  auto ex2 = concat(bytes({0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0x00, 0x00, 0x00, 0xc0, 0x3f}),
                    std::vector<uint8_t>(6, 0));
  out.clear();
  EXPECT_EQ(decode_delta_binary_packed(ex2.data(), ex2.size(), false, 8, &out, kContext), ex2.size());
  EXPECT_EQ(out, (std::vector<int64_t>{7, 5, 3, 1, 2, 3, 4, 5}));
  // The header must announce exactly the expected count; a bad block size is refused.
  out.clear();
  EXPECT_THROW(decode_delta_binary_packed(ex2.data(), ex2.size(), false, 9, &out, kContext), Error);
  auto bad_block = bytes({0x07, 0x01, 0x01, 0x00});
  EXPECT_THROW(decode_delta_binary_packed(bad_block.data(), bad_block.size(), false, 1, &out, kContext), Error);
  // Truncated miniblock data.
  EXPECT_THROW(decode_delta_binary_packed(ex2.data(), 11, false, 8, &out, kContext), Error);
}

TEST(DeltaBinaryPackedTest, Int32ArithmeticWraps) {
  // INT32_MAX then a delta of +1 wraps to INT32_MIN, as writers compute it.
  auto data = bytes({0x80, 0x01, 0x04, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x00});
  std::vector<int64_t> out;
  decode_delta_binary_packed(data.data(), data.size(), true, 2, &out, kContext);
  EXPECT_EQ(out, (std::vector<int64_t>{INT32_MAX, INT32_MIN}));
}

TEST(DeltaByteArrayTest, DecodesLengthAndPrefixEncodings) {
  // DELTA_LENGTH_BYTE_ARRAY of Hello, World, Foobar, ABCDEF: lengths 5,5,6,6.
  auto dlba = concat(bytes({0x80, 0x01, 0x04, 0x04, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}),
                     text_bytes("HelloWorldFoobarABCDEF"));
  ColumnValues out{Type::kByteArray};
  EXPECT_EQ(decode_delta_length_byte_array(dlba.data(), dlba.size(), 4, &out, kContext), dlba.size());
  EXPECT_EQ(strings(out), (std::vector<std::string>{"Hello", "World", "Foobar", "ABCDEF"}));
  EXPECT_THROW(decode_delta_length_byte_array(dlba.data(), dlba.size() - 1, 4, &out, kContext), Error);

  // DELTA_BYTE_ARRAY of axis, axle, babble, babyhood: prefixes 0,2,0,3; suffix lengths 4,2,6,5.
  auto prefixes = concat(bytes({0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x44, 0x01}),
                         std::vector<uint8_t>(10, 0));
  auto suffixes = concat(bytes({0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 0x03, 0x00, 0x00, 0x00, 0x70, 0x00}),
                         std::vector<uint8_t>(10, 0));
  auto dba = concat(concat(prefixes, suffixes), text_bytes("axislebabbleyhood"));
  ColumnValues words{Type::kByteArray};
  EXPECT_EQ(decode_delta_byte_array(dba.data(), dba.size(), 4, &words, kContext), dba.size());
  EXPECT_EQ(strings(words), (std::vector<std::string>{"axis", "axle", "babble", "babyhood"}));
  // A first prefix longer than the (empty) previous value is corrupt.
  auto bad = dba;
  bad[4] = 0x02;
  ColumnValues none{Type::kByteArray};
  EXPECT_THROW(decode_delta_byte_array(bad.data(), bad.size(), 4, &none, kContext), Error);
}

// A plain DELTA_BINARY_PACKED encoder (block 128, 4 miniblocks), written from the spec for tests.
std::vector<uint8_t> delta_encode(const std::vector<int64_t>& values) {
  std::vector<uint8_t> out;
  auto varint = [&](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
  };
  auto zigzag = [](int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); };
  varint(128);
  varint(4);
  varint(values.size());
  varint(zigzag(values.empty() ? 0 : values[0]));
  for (size_t start = 1; start < values.size(); start += 128) {
    const size_t end = std::min(values.size(), start + 128);
    int64_t min_delta = INT64_MAX;
    for (size_t i = start; i < end; ++i) min_delta = std::min(min_delta, values[i] - values[i - 1]);
    varint(zigzag(min_delta));
    std::vector<std::vector<uint64_t>> minis(4);
    for (size_t i = start; i < end; ++i) minis[(i - start) / 32].push_back(values[i] - values[i - 1] - min_delta);
    std::vector<int> widths;
    for (auto& m : minis) {
      uint64_t max = 0;
      for (uint64_t v : m) max = std::max(max, v);
      int w = 0;
      while (w < 64 && (max >> w) != 0) ++w;
      widths.push_back(w);
      out.push_back(static_cast<uint8_t>(w));
    }
    for (size_t k = 0; k < 4 && !minis[k].empty(); ++k) {
      std::vector<uint8_t> packed(32 * widths[k] / 8, 0);
      for (size_t i = 0; i < minis[k].size(); ++i) {
        for (int bit = 0; bit < widths[k]; ++bit) {
          if ((minis[k][i] >> bit) & 1) packed[(i * widths[k] + bit) / 8] |= static_cast<uint8_t>(1 << ((i * widths[k] + bit) % 8));
        }
      }
      out.insert(out.end(), packed.begin(), packed.end());
    }
  }
  return out;
}

TEST(DeltaBinaryPackedTest, RoundTripsAPlainEncoderOnRandomishData) {
  std::vector<int64_t> values;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(i % 3 == 0 ? static_cast<int64_t>(x >> 40) : static_cast<int64_t>(x % 1000) - 500);
  }
  const auto data = delta_encode(values);
  std::vector<int64_t> out;
  EXPECT_EQ(decode_delta_binary_packed(data.data(), data.size(), false, values.size(), &out, kContext), data.size());
  EXPECT_EQ(out, values);
}

TEST(DeltaByteArrayTest, RefusesPrefixBlowUpBeyondTheOutputLimit) {
  // One 100-byte value, then 999 values repeating it whole: 100 KB from about 300 bytes.
  std::vector<int64_t> prefixes(1000, 100);
  std::vector<int64_t> suffixes(1000, 0);
  prefixes[0] = 0;
  suffixes[0] = 100;
  const auto data = concat(concat(delta_encode(prefixes), delta_encode(suffixes)), std::vector<uint8_t>(100, 'x'));
  ColumnValues ok{Type::kByteArray};
  EXPECT_EQ(decode_delta_byte_array(data.data(), data.size(), 1000, &ok, kContext), data.size());
  ASSERT_EQ(ok.size(), 1000u);
  EXPECT_EQ(ok.bytes_at(999), std::string(100, 'x'));
  DecodeContext small{"test.parquet", 50'000};
  ColumnValues refused{Type::kByteArray};
  EXPECT_THROW(decode_delta_byte_array(data.data(), data.size(), 1000, &refused, small), Error);
}

TEST(DictionaryAndSplitTest, DecodesIndicesAndByteStreamSplit) {
  ColumnValues dictionary{Type::kByteArray};
  for (const char* w : {"zero", "one", "two"}) dictionary.views.emplace_back(w);
  // Bit width 2; RLE run of 3 ones, then a bit-packed group 2,0,1,2,0,0,0,0.
  auto indices = bytes({0x02, 0x06, 0x01, 0x03, 0x92, 0x00});
  ColumnValues out{Type::kByteArray};
  decode_dictionary_indices(indices.data(), indices.size(), 7, dictionary, &out, kContext);
  EXPECT_EQ(strings(out), (std::vector<std::string>{"one", "one", "one", "two", "zero", "one", "two"}));
  // The values are the dictionary's own bytes, not copies.
  EXPECT_EQ(out.views[0].data(), dictionary.views[1].data());
  auto beyond = bytes({0x02, 0x02, 0x03});  // index 3 of a 3-entry dictionary
  EXPECT_THROW(decode_dictionary_indices(beyond.data(), beyond.size(), 1, dictionary, &out, kContext), Error);
  // A run of 10^9 copies of a dictionary entry is refused by the output limit, not allocated.
  auto bomb = bytes({0x02, 0x80, 0xa8, 0xd6, 0xb9, 0x07, 0x01});
  DecodeContext small{"test.parquet", 1 << 20};
  ColumnValues huge{Type::kByteArray};
  EXPECT_THROW(decode_dictionary_indices(bomb.data(), bomb.size(), 1000000000, dictionary, &huge, small), Error);

  float f[3] = {1.0f, -2.5f, 1e-3f};
  std::vector<uint8_t> split(12);
  for (int i = 0; i < 3; ++i) {
    uint8_t b[4];
    std::memcpy(b, &f[i], 4);
    for (int k = 0; k < 4; ++k) split[k * 3 + i] = b[k];
  }
  ColumnValues floats{Type::kFloat};
  decode_byte_stream_split(split.data(), split.size(), Type::kFloat, 3, &floats, kContext);
  EXPECT_EQ(floats.doubles, (std::vector<double>{1.0, -2.5, static_cast<double>(1e-3f)}));
}

TEST(ColumnValuesTest, ByteArraysAreViewsIntoThePage) {
  auto page = concat(concat(bytes({5, 0, 0, 0}), text_bytes("hello")), concat(bytes({3, 0, 0, 0}), text_bytes("abc")));
  ColumnValues plain{Type::kByteArray};
  decode_plain(page.data(), page.size(), Type::kByteArray, 0, 2, &plain, kContext);
  EXPECT_EQ(plain.views[0].data(), reinterpret_cast<const char*>(page.data()) + 4);
  EXPECT_EQ(plain.views[1].data(), reinterpret_cast<const char*>(page.data()) + 13);
  EXPECT_EQ(plain.storage_bytes, 0u);  // nothing copied
}

TEST(ColumnValuesTest, AppendKeepsViewsAndMovesBuffers) {
  ColumnValues first{Type::kByteArray};
  char* a = first.allocate(3);
  std::memcpy(a, "abc", 3);
  first.views.emplace_back(a, 3);
  ColumnValues second{Type::kByteArray};
  char* b = second.allocate(2);
  std::memcpy(b, "\xff!", 2);
  second.views.emplace_back(b, 2);
  second.invalid_utf8.emplace_back(0, 0);
  first.append(std::move(second));
  ColumnValues moved = std::move(first);  // buffers do not move: the views stay valid
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved.bytes_at(0), "abc");
  EXPECT_EQ(moved.bytes_at(1), "\xff!");
  EXPECT_EQ(moved.storage.size(), 2u);
  EXPECT_EQ(moved.storage_bytes, 5u);
  // The second part's bad value is now value 1.
  EXPECT_EQ(moved.invalid_utf8, (std::vector<std::pair<size_t, size_t>>{{1, 0}}));
}

TEST(Utf8CheckTest, EveryByteArrayEncodingListsTheValuesThatAreNotUtf8) {
  DecodeContext check{"test.parquet"};
  check.check_utf8 = true;
  const std::vector<std::string> texts = {"ok", "caf\xc3\xa9", "bad \xc3(", "", "\xed\xa0\x80 surrogate", "fine"};
  const std::vector<std::pair<size_t, size_t>> want = {{2, 4}, {4, 0}};

  std::vector<uint8_t> page;
  for (const auto& t : texts) {
    const uint32_t n = static_cast<uint32_t>(t.size());
    page = concat(concat(page, bytes({static_cast<int>(n & 0xff), 0, 0, 0})), text_bytes(t));
  }
  ColumnValues plain{Type::kByteArray};
  decode_plain(page.data(), page.size(), Type::kByteArray, 0, texts.size(), &plain, check);
  EXPECT_EQ(strings(plain), texts);
  EXPECT_EQ(plain.invalid_utf8, want);
  // Without the check nothing is listed.
  ColumnValues unchecked{Type::kByteArray};
  decode_plain(page.data(), page.size(), Type::kByteArray, 0, texts.size(), &unchecked, kContext);
  EXPECT_TRUE(unchecked.invalid_utf8.empty());

  std::vector<int64_t> lengths;
  std::string joined;
  for (const auto& t : texts) {
    lengths.push_back(static_cast<int64_t>(t.size()));
    joined += t;
  }
  const auto dlba = concat(delta_encode(lengths), text_bytes(joined));
  ColumnValues delta{Type::kByteArray};
  decode_delta_length_byte_array(dlba.data(), dlba.size(), texts.size(), &delta, check);
  EXPECT_EQ(strings(delta), texts);
  EXPECT_EQ(delta.invalid_utf8, want);

  const auto dba = concat(concat(delta_encode(std::vector<int64_t>(texts.size(), 0)), delta_encode(lengths)),
                          text_bytes(joined));
  ColumnValues prefixed{Type::kByteArray};
  decode_delta_byte_array(dba.data(), dba.size(), texts.size(), &prefixed, check);
  EXPECT_EQ(strings(prefixed), texts);
  EXPECT_EQ(prefixed.invalid_utf8, want);

  // Dictionary pages list their bad entries; indices then list the rows naming one.
  ColumnValues dictionary{Type::kByteArray};
  decode_plain(page.data(), page.size(), Type::kByteArray, 0, texts.size(), &dictionary, check);
  const auto indices = bytes({0x03, 0x03, 0x42, 0x00, 0x00});  // width 3, one group: 2, 0, 1, 0, 0, 0, 0, 0
  ColumnValues rows{Type::kByteArray};
  decode_dictionary_indices(indices.data(), indices.size(), 3, dictionary, &rows, check);
  EXPECT_EQ(strings(rows), (std::vector<std::string>{texts[2], texts[0], texts[1]}));
  EXPECT_EQ(rows.invalid_utf8, (std::vector<std::pair<size_t, size_t>>{{0, 4}}));
}

}  // namespace
}  // namespace salvo::parquet
