#include "io/parquet/parquet_metadata.h"

#include <functional>

namespace salvo::parquet {
namespace {

// Reads the fields of one struct, handing each to `on_field`, which returns false for a field
// it does not know (skipped). `required` lists field ids that must appear.
void read_struct(ThriftCompactReader& in, const char* name, std::initializer_list<int16_t> required,
                 const std::function<bool(int16_t, ThriftType)>& on_field) {
  in.begin_struct();
  uint64_t seen = 0;
  int16_t id;
  ThriftType type;
  while (in.next_field(&id, &type)) {
    if (!on_field(id, type)) in.skip(type);
    if (id > 0 && id < 64) seen |= uint64_t{1} << id;
  }
  in.end_struct();
  for (int16_t r : required) {
    if ((seen & (uint64_t{1} << r)) == 0) {
      in.fail(std::string(name) + " lacks required field " + std::to_string(r));
    }
  }
}

void expect(ThriftCompactReader& in, ThriftType actual, ThriftType wanted, int16_t id) {
  const bool is_bool = [](ThriftType t) { return t == ThriftType::kBoolTrue || t == ThriftType::kBoolFalse; }(actual);
  const bool wants_bool = wanted == ThriftType::kBoolTrue || wanted == ThriftType::kBoolFalse;
  if (is_bool && wants_bool) return;
  if (actual != wanted) {
    in.fail("field " + std::to_string(id) + " has type " + std::to_string(static_cast<int>(actual)) +
            ", expected " + std::to_string(static_cast<int>(wanted)));
  }
}

int32_t i32(ThriftCompactReader& in, ThriftType type, int16_t id) {
  expect(in, type, ThriftType::kI32, id);
  return in.read_i32();
}

int64_t i64(ThriftCompactReader& in, ThriftType type, int16_t id) {
  expect(in, type, ThriftType::kI64, id);
  return in.read_i64();
}

std::string binary(ThriftCompactReader& in, ThriftType type, int16_t id) {
  expect(in, type, ThriftType::kBinary, id);
  return in.read_binary();
}

bool boolean(ThriftCompactReader& in, ThriftType type, int16_t id) {
  expect(in, type, ThriftType::kBoolTrue, id);
  return in.read_bool();
}

// Reads a list field of `element` values, each read by `read_one`.
template <typename T, typename F>
std::vector<T> list(ThriftCompactReader& in, ThriftType type, int16_t id, ThriftType element, F read_one) {
  expect(in, type, ThriftType::kList, id);
  const ThriftListHeader header = in.read_list_header();
  if (header.element != element && header.size > 0) {
    in.fail("list field " + std::to_string(id) + " has elements of type " +
            std::to_string(static_cast<int>(header.element)));
  }
  std::vector<T> values;
  values.reserve(header.size);
  for (size_t i = 0; i < header.size; ++i) values.push_back(read_one());
  return values;
}

Statistics decode_statistics(ThriftCompactReader& in) {
  Statistics s;
  read_struct(in, "Statistics", {}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 3: s.null_count = i64(in, type, id); return true;
      case 4: s.distinct_count = i64(in, type, id); return true;
      case 5: s.max_value = binary(in, type, id); return true;
      case 6: s.min_value = binary(in, type, id); return true;
      default: return false;
    }
  });
  return s;
}

KeyValue decode_key_value(ThriftCompactReader& in) {
  KeyValue kv;
  read_struct(in, "KeyValue", {1}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: kv.key = binary(in, type, id); return true;
      case 2: kv.value = binary(in, type, id); return true;
      default: return false;
    }
  });
  return kv;
}

LogicalType decode_logical_type(ThriftCompactReader& in) {
  LogicalType logical;
  read_struct(in, "LogicalType", {}, [&](int16_t id, ThriftType type) {
    expect(in, type, ThriftType::kStruct, id);
    switch (id) {
      case 1:
        logical.kind = LogicalType::Kind::kString;
        return false;  // an empty struct: skipping reads it
      case 3:
        logical.kind = LogicalType::Kind::kList;
        return false;
      case 10:
        logical.kind = LogicalType::Kind::kInteger;
        read_struct(in, "IntType", {1, 2}, [&](int16_t int_id, ThriftType int_type) {
          if (int_id == 1) {
            expect(in, int_type, ThriftType::kByte, int_id);
            logical.bit_width = in.read_byte();
            return true;
          }
          if (int_id == 2) {
            logical.is_signed = boolean(in, int_type, int_id);
            return true;
          }
          return false;
        });
        return true;
      case 5:
        logical.kind = LogicalType::Kind::kDecimal;
        read_struct(in, "DecimalType", {1, 2}, [&](int16_t dec_id, ThriftType dec_type) {
          if (dec_id != 1 && dec_id != 2) return false;
          expect(in, dec_type, ThriftType::kI32, dec_id);
          (dec_id == 1 ? logical.scale : logical.precision) = in.read_i32();
          return true;
        });
        return true;
      case 6:
        logical.kind = LogicalType::Kind::kDate;
        return false;
      case 8:
        logical.kind = LogicalType::Kind::kTimestamp;
        read_struct(in, "TimestampType", {1, 2}, [&](int16_t ts_id, ThriftType ts_type) {
          if (ts_id == 1) {
            logical.adjusted_to_utc = boolean(in, ts_type, ts_id);
            return true;
          }
          if (ts_id == 2) {  // TimeUnit: a union of empty structs
            expect(in, ts_type, ThriftType::kStruct, ts_id);
            read_struct(in, "TimeUnit", {}, [&](int16_t unit_id, ThriftType unit_type) {
              expect(in, unit_type, ThriftType::kStruct, unit_id);
              if (unit_id == 1) logical.unit = LogicalType::TimeUnit::kMillis;
              if (unit_id == 2) logical.unit = LogicalType::TimeUnit::kMicros;
              if (unit_id == 3) logical.unit = LogicalType::TimeUnit::kNanos;
              return false;
            });
            return true;
          }
          return false;
        });
        return true;
      default:
        logical.kind = LogicalType::Kind::kOther;
        return false;
    }
  });
  return logical;
}

SchemaElement decode_schema_element(ThriftCompactReader& in) {
  SchemaElement e;
  read_struct(in, "SchemaElement", {4}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: e.type = static_cast<Type>(i32(in, type, id)); return true;
      case 2: e.type_length = i32(in, type, id); return true;
      case 3: e.repetition_type = static_cast<FieldRepetitionType>(i32(in, type, id)); return true;
      case 4: e.name = binary(in, type, id); return true;
      case 5: e.num_children = i32(in, type, id); return true;
      case 6: e.converted_type = static_cast<ConvertedType>(i32(in, type, id)); return true;
      case 7: e.scale = i32(in, type, id); return true;
      case 8: e.precision = i32(in, type, id); return true;
      case 9: e.field_id = i32(in, type, id); return true;
      case 10:
        expect(in, type, ThriftType::kStruct, id);
        e.logical_type = decode_logical_type(in);
        return true;
      default: return false;
    }
  });
  return e;
}

ColumnMetaData decode_column_metadata(ThriftCompactReader& in) {
  ColumnMetaData m;
  read_struct(in, "ColumnMetaData", {1, 2, 3, 4, 5, 6, 7, 9}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: m.type = static_cast<Type>(i32(in, type, id)); return true;
      case 2:
        m.encodings = list<Encoding>(in, type, id, ThriftType::kI32, [&] { return static_cast<Encoding>(in.read_i32()); });
        return true;
      case 3:
        m.path_in_schema = list<std::string>(in, type, id, ThriftType::kBinary, [&] { return in.read_binary(); });
        return true;
      case 4: m.codec = static_cast<CompressionCodec>(i32(in, type, id)); return true;
      case 5: m.num_values = i64(in, type, id); return true;
      case 6: m.total_uncompressed_size = i64(in, type, id); return true;
      case 7: m.total_compressed_size = i64(in, type, id); return true;
      case 8:
        m.key_value_metadata =
            list<KeyValue>(in, type, id, ThriftType::kStruct, [&] { return decode_key_value(in); });
        return true;
      case 9: m.data_page_offset = i64(in, type, id); return true;
      case 10: m.index_page_offset = i64(in, type, id); return true;
      case 11: m.dictionary_page_offset = i64(in, type, id); return true;
      case 12:
        expect(in, type, ThriftType::kStruct, id);
        m.statistics = decode_statistics(in);
        return true;
      default: return false;
    }
  });
  return m;
}

ColumnChunk decode_column_chunk(ThriftCompactReader& in) {
  ColumnChunk c;
  read_struct(in, "ColumnChunk", {2}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: c.file_path = binary(in, type, id); return true;
      case 2: c.file_offset = i64(in, type, id); return true;
      case 3:
        expect(in, type, ThriftType::kStruct, id);
        c.meta_data = decode_column_metadata(in);
        return true;
      default: return false;
    }
  });
  return c;
}

RowGroup decode_row_group(ThriftCompactReader& in) {
  RowGroup g;
  read_struct(in, "RowGroup", {1, 2, 3}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1:
        g.columns = list<ColumnChunk>(in, type, id, ThriftType::kStruct, [&] { return decode_column_chunk(in); });
        return true;
      case 2: g.total_byte_size = i64(in, type, id); return true;
      case 3: g.num_rows = i64(in, type, id); return true;
      case 5: g.file_offset = i64(in, type, id); return true;
      case 6: g.total_compressed_size = i64(in, type, id); return true;
      case 7:
        expect(in, type, ThriftType::kI16, id);
        g.ordinal = in.read_i16();
        return true;
      default: return false;
    }
  });
  return g;
}

void encode_statistics(ThriftCompactWriter& out, const Statistics& s) {
  if (s.null_count) out.field_i64(3, *s.null_count);
  if (s.distinct_count) out.field_i64(4, *s.distinct_count);
  if (s.max_value) out.field_binary(5, *s.max_value);
  if (s.min_value) out.field_binary(6, *s.min_value);
  out.end_struct();
}

void encode_key_values(ThriftCompactWriter& out, int16_t id, const std::vector<KeyValue>& values) {
  if (values.empty()) return;
  out.field_list_begin(id, ThriftType::kStruct, values.size());
  for (const auto& kv : values) {
    out.begin_struct();
    out.field_binary(1, kv.key);
    if (kv.value) out.field_binary(2, *kv.value);
    out.end_struct();
  }
}

void encode_logical_type(ThriftCompactWriter& out, const LogicalType& t) {
  switch (t.kind) {
    case LogicalType::Kind::kString:
      out.field_struct_begin(1);
      out.end_struct();
      break;
    case LogicalType::Kind::kList:
      out.field_struct_begin(3);
      out.end_struct();
      break;
    case LogicalType::Kind::kInteger:
      out.field_struct_begin(10);
      out.field_header(1, ThriftType::kByte);
      out.write_byte(t.bit_width);
      out.field_bool(2, t.is_signed);
      out.end_struct();
      break;
    case LogicalType::Kind::kDecimal:
      out.field_struct_begin(5);
      out.field_i32(1, t.scale);
      out.field_i32(2, t.precision);
      out.end_struct();
      break;
    case LogicalType::Kind::kDate:
      out.field_struct_begin(6);
      out.end_struct();
      break;
    case LogicalType::Kind::kTimestamp:
      out.field_struct_begin(8);
      out.field_bool(1, t.adjusted_to_utc);
      out.field_struct_begin(2);
      out.field_struct_begin(t.unit == LogicalType::TimeUnit::kMillis  ? 1
                             : t.unit == LogicalType::TimeUnit::kMicros ? 2
                                                                        : 3);
      out.end_struct();
      out.end_struct();
      out.end_struct();
      break;
    case LogicalType::Kind::kNone:
    case LogicalType::Kind::kOther:
      break;
  }
  out.end_struct();
}

void encode_schema_element(ThriftCompactWriter& out, const SchemaElement& e) {
  out.begin_struct();
  if (e.type) out.field_i32(1, static_cast<int32_t>(*e.type));
  if (e.type_length) out.field_i32(2, *e.type_length);
  if (e.repetition_type) out.field_i32(3, static_cast<int32_t>(*e.repetition_type));
  out.field_binary(4, e.name);
  if (e.num_children) out.field_i32(5, *e.num_children);
  if (e.converted_type) out.field_i32(6, static_cast<int32_t>(*e.converted_type));
  if (e.scale) out.field_i32(7, *e.scale);
  if (e.precision) out.field_i32(8, *e.precision);
  if (e.field_id) out.field_i32(9, *e.field_id);
  if (e.logical_type && e.logical_type->kind != LogicalType::Kind::kNone &&
      e.logical_type->kind != LogicalType::Kind::kOther) {
    out.field_struct_begin(10);
    encode_logical_type(out, *e.logical_type);
  }
  out.end_struct();
}

void encode_column_metadata(ThriftCompactWriter& out, const ColumnMetaData& m) {
  out.field_i32(1, static_cast<int32_t>(m.type));
  out.field_list_begin(2, ThriftType::kI32, m.encodings.size());
  for (Encoding e : m.encodings) out.write_i32(static_cast<int32_t>(e));
  out.field_list_begin(3, ThriftType::kBinary, m.path_in_schema.size());
  for (const auto& p : m.path_in_schema) out.write_binary(p);
  out.field_i32(4, static_cast<int32_t>(m.codec));
  out.field_i64(5, m.num_values);
  out.field_i64(6, m.total_uncompressed_size);
  out.field_i64(7, m.total_compressed_size);
  encode_key_values(out, 8, m.key_value_metadata);
  out.field_i64(9, m.data_page_offset);
  if (m.index_page_offset) out.field_i64(10, *m.index_page_offset);
  if (m.dictionary_page_offset) out.field_i64(11, *m.dictionary_page_offset);
  if (m.statistics) {
    out.field_struct_begin(12);
    encode_statistics(out, *m.statistics);
  }
  out.end_struct();
}

}  // namespace

FileMetaData decode_file_metadata(ThriftCompactReader& in) {
  FileMetaData f;
  read_struct(in, "FileMetaData", {1, 2, 3, 4}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: f.version = i32(in, type, id); return true;
      case 2:
        f.schema = list<SchemaElement>(in, type, id, ThriftType::kStruct, [&] { return decode_schema_element(in); });
        return true;
      case 3: f.num_rows = i64(in, type, id); return true;
      case 4:
        f.row_groups = list<RowGroup>(in, type, id, ThriftType::kStruct, [&] { return decode_row_group(in); });
        return true;
      case 5:
        f.key_value_metadata =
            list<KeyValue>(in, type, id, ThriftType::kStruct, [&] { return decode_key_value(in); });
        return true;
      case 6: f.created_by = binary(in, type, id); return true;
      default: return false;
    }
  });
  return f;
}

PageHeader decode_page_header(ThriftCompactReader& in) {
  PageHeader h;
  read_struct(in, "PageHeader", {1, 2, 3}, [&](int16_t id, ThriftType type) {
    switch (id) {
      case 1: h.type = static_cast<PageType>(i32(in, type, id)); return true;
      case 2: h.uncompressed_page_size = i32(in, type, id); return true;
      case 3: h.compressed_page_size = i32(in, type, id); return true;
      case 4: h.crc = i32(in, type, id); return true;
      case 5: {
        expect(in, type, ThriftType::kStruct, id);
        DataPageHeader d;
        read_struct(in, "DataPageHeader", {1, 2, 3, 4}, [&](int16_t f, ThriftType t) {
          switch (f) {
            case 1: d.num_values = i32(in, t, f); return true;
            case 2: d.encoding = static_cast<Encoding>(i32(in, t, f)); return true;
            case 3: d.definition_level_encoding = static_cast<Encoding>(i32(in, t, f)); return true;
            case 4: d.repetition_level_encoding = static_cast<Encoding>(i32(in, t, f)); return true;
            case 5:
              expect(in, t, ThriftType::kStruct, f);
              d.statistics = decode_statistics(in);
              return true;
            default: return false;
          }
        });
        h.data_page_header = d;
        return true;
      }
      case 7: {
        expect(in, type, ThriftType::kStruct, id);
        DictionaryPageHeader d;
        read_struct(in, "DictionaryPageHeader", {1, 2}, [&](int16_t f, ThriftType t) {
          switch (f) {
            case 1: d.num_values = i32(in, t, f); return true;
            case 2: d.encoding = static_cast<Encoding>(i32(in, t, f)); return true;
            case 3: d.is_sorted = boolean(in, t, f); return true;
            default: return false;
          }
        });
        h.dictionary_page_header = d;
        return true;
      }
      case 8: {
        expect(in, type, ThriftType::kStruct, id);
        DataPageHeaderV2 d;
        read_struct(in, "DataPageHeaderV2", {1, 2, 3, 4, 5, 6}, [&](int16_t f, ThriftType t) {
          switch (f) {
            case 1: d.num_values = i32(in, t, f); return true;
            case 2: d.num_nulls = i32(in, t, f); return true;
            case 3: d.num_rows = i32(in, t, f); return true;
            case 4: d.encoding = static_cast<Encoding>(i32(in, t, f)); return true;
            case 5: d.definition_levels_byte_length = i32(in, t, f); return true;
            case 6: d.repetition_levels_byte_length = i32(in, t, f); return true;
            case 7: d.is_compressed = boolean(in, t, f); return true;
            case 8:
              expect(in, t, ThriftType::kStruct, f);
              d.statistics = decode_statistics(in);
              return true;
            default: return false;
          }
        });
        h.data_page_header_v2 = d;
        return true;
      }
      default: return false;
    }
  });
  return h;
}

void encode(ThriftCompactWriter& out, const FileMetaData& f) {
  out.begin_struct();
  out.field_i32(1, f.version);
  out.field_list_begin(2, ThriftType::kStruct, f.schema.size());
  for (const auto& e : f.schema) encode_schema_element(out, e);
  out.field_i64(3, f.num_rows);
  out.field_list_begin(4, ThriftType::kStruct, f.row_groups.size());
  for (const auto& g : f.row_groups) {
    out.begin_struct();
    out.field_list_begin(1, ThriftType::kStruct, g.columns.size());
    for (const auto& c : g.columns) {
      out.begin_struct();
      if (c.file_path) out.field_binary(1, *c.file_path);
      out.field_i64(2, c.file_offset);
      if (c.meta_data) {
        out.field_struct_begin(3);
        encode_column_metadata(out, *c.meta_data);
      }
      out.end_struct();
    }
    out.field_i64(2, g.total_byte_size);
    out.field_i64(3, g.num_rows);
    if (g.file_offset) out.field_i64(5, *g.file_offset);
    if (g.total_compressed_size) out.field_i64(6, *g.total_compressed_size);
    if (g.ordinal) {
      out.field_header(7, ThriftType::kI16);
      out.write_i16(*g.ordinal);
    }
    out.end_struct();
  }
  encode_key_values(out, 5, f.key_value_metadata);
  if (f.created_by) out.field_binary(6, *f.created_by);
  out.end_struct();
}

void encode(ThriftCompactWriter& out, const PageHeader& h) {
  out.begin_struct();
  out.field_i32(1, static_cast<int32_t>(h.type));
  out.field_i32(2, h.uncompressed_page_size);
  out.field_i32(3, h.compressed_page_size);
  if (h.crc) out.field_i32(4, *h.crc);
  if (h.data_page_header) {
    const auto& d = *h.data_page_header;
    out.field_struct_begin(5);
    out.field_i32(1, d.num_values);
    out.field_i32(2, static_cast<int32_t>(d.encoding));
    out.field_i32(3, static_cast<int32_t>(d.definition_level_encoding));
    out.field_i32(4, static_cast<int32_t>(d.repetition_level_encoding));
    if (d.statistics) {
      out.field_struct_begin(5);
      encode_statistics(out, *d.statistics);
    }
    out.end_struct();
  }
  if (h.dictionary_page_header) {
    const auto& d = *h.dictionary_page_header;
    out.field_struct_begin(7);
    out.field_i32(1, d.num_values);
    out.field_i32(2, static_cast<int32_t>(d.encoding));
    if (d.is_sorted) out.field_bool(3, *d.is_sorted);
    out.end_struct();
  }
  if (h.data_page_header_v2) {
    const auto& d = *h.data_page_header_v2;
    out.field_struct_begin(8);
    out.field_i32(1, d.num_values);
    out.field_i32(2, d.num_nulls);
    out.field_i32(3, d.num_rows);
    out.field_i32(4, static_cast<int32_t>(d.encoding));
    out.field_i32(5, d.definition_levels_byte_length);
    out.field_i32(6, d.repetition_levels_byte_length);
    out.field_bool(7, d.is_compressed);
    if (d.statistics) {
      out.field_struct_begin(8);
      encode_statistics(out, *d.statistics);
    }
    out.end_struct();
  }
  out.end_struct();
}

const char* codec_name(CompressionCodec codec) {
  switch (codec) {
    case CompressionCodec::kUncompressed: return "UNCOMPRESSED";
    case CompressionCodec::kSnappy: return "SNAPPY";
    case CompressionCodec::kGzip: return "GZIP";
    case CompressionCodec::kLzo: return "LZO";
    case CompressionCodec::kBrotli: return "BROTLI";
    case CompressionCodec::kLz4: return "LZ4";
    case CompressionCodec::kZstd: return "ZSTD";
    case CompressionCodec::kLz4Raw: return "LZ4_RAW";
  }
  return "unknown codec";
}

const char* encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::kPlain: return "PLAIN";
    case Encoding::kPlainDictionary: return "PLAIN_DICTIONARY";
    case Encoding::kRle: return "RLE";
    case Encoding::kBitPacked: return "BIT_PACKED";
    case Encoding::kDeltaBinaryPacked: return "DELTA_BINARY_PACKED";
    case Encoding::kDeltaLengthByteArray: return "DELTA_LENGTH_BYTE_ARRAY";
    case Encoding::kDeltaByteArray: return "DELTA_BYTE_ARRAY";
    case Encoding::kRleDictionary: return "RLE_DICTIONARY";
    case Encoding::kByteStreamSplit: return "BYTE_STREAM_SPLIT";
  }
  return "unknown encoding";
}

}  // namespace salvo::parquet
