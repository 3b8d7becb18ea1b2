#include "arrow_export.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "salvo/error.h"

namespace salvo::python {
namespace {

// --- schemas

struct SchemaData {
  std::string format, name, metadata;
  std::vector<ArrowSchema*> children;
};

void release_schema(ArrowSchema* schema) {
  auto* data = static_cast<SchemaData*>(schema->private_data);
  for (ArrowSchema* child : data->children) {
    if (child->release) child->release(child);
    delete child;
  }
  delete data;
  schema->release = nullptr;
}

std::string format_of(const DataType& type) {
  switch (type.id()) {
    case TypeId::kBool: return "b";
    case TypeId::kInt32: return "i";
    case TypeId::kInt64: return "l";
    case TypeId::kFloat32: return "f";
    case TypeId::kFloat64: return "g";
    case TypeId::kString: return "u";
    case TypeId::kBinary: return "z";
    case TypeId::kTimestamp: return "tsu:UTC";
    case TypeId::kJson: return "u";
    case TypeId::kList: return "+l";
  }
  throw Error(ErrorCode::kInternal, "no Arrow format for " + type.to_string());
}

// Arrow's metadata encoding: int32 count, then int32 length + bytes for each key and value.
std::string encode_metadata(const std::map<std::string, std::string>& metadata) {
  std::string out;
  auto put_int = [&out](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  put_int(static_cast<int32_t>(metadata.size()));
  for (const auto& [key, value] : metadata) {
    put_int(static_cast<int32_t>(key.size()));
    out += key;
    put_int(static_cast<int32_t>(value.size()));
    out += value;
  }
  return out;
}

void fill_schema(ArrowSchema* out, std::string format, std::string name, std::string metadata,
                 std::vector<ArrowSchema*> children, int64_t flags) {
  auto* data = new SchemaData{std::move(format), std::move(name), std::move(metadata), std::move(children)};
  out->format = data->format.c_str();
  out->name = data->name.c_str();
  out->metadata = data->metadata.empty() ? nullptr : data->metadata.data();
  out->flags = flags;
  out->n_children = static_cast<int64_t>(data->children.size());
  out->children = data->children.empty() ? nullptr : data->children.data();
  out->dictionary = nullptr;
  out->release = release_schema;
  out->private_data = data;
}

void field_schema(const std::string& name, const DataType& type, ArrowSchema* out) {
  std::vector<ArrowSchema*> children;
  if (type.is_list()) {
    children.push_back(new ArrowSchema{});
    field_schema("element", type.element(), children.back());
  }
  std::string metadata;
  if (type.id() == TypeId::kJson) metadata = encode_metadata({{"salvo.type", "json"}});
  fill_schema(out, format_of(type), name, std::move(metadata), std::move(children), ARROW_FLAG_NULLABLE);
}

// --- arrays

struct ArrayData {
  std::shared_ptr<const void> owner;
  std::vector<const void*> buffers;
  std::vector<std::vector<uint8_t>> owned;  // converted buffers (bitmaps, JSON text)
  std::vector<int32_t> owned_offsets;
  std::vector<ArrowArray*> children;
};

void release_array(ArrowArray* array) {
  auto* data = static_cast<ArrayData*>(array->private_data);
  for (ArrowArray* child : data->children) {
    if (child->release) child->release(child);
    delete child;
  }
  delete data;
  array->release = nullptr;
}

std::vector<uint8_t> to_bitmap(const uint8_t* bytes, int64_t n) {
  std::vector<uint8_t> bits(static_cast<size_t>((n + 7) / 8), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (bytes[i]) bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
  }
  return bits;
}

// A buffer of `bytes` bytes may be given as null only when it is empty.
const void* buffer_or_null(const std::vector<uint8_t>& v) { return v.empty() ? nullptr : v.data(); }

void fill_array(ArrowArray* out, ArrayData* data, int64_t length, int64_t null_count) {
  out->length = length;
  out->null_count = null_count;
  out->offset = 0;
  out->n_buffers = static_cast<int64_t>(data->buffers.size());
  out->n_children = static_cast<int64_t>(data->children.size());
  out->buffers = data->buffers.data();
  out->children = data->children.empty() ? nullptr : data->children.data();
  out->dictionary = nullptr;
  out->release = release_array;
  out->private_data = data;
}

void column_array(const std::shared_ptr<const void>& owner, const Column& column, ArrowArray* out) {
  auto* data = new ArrayData{owner, {}, {}, {}, {}};
  try {
    const int64_t n = column.size();
    const void* validity = nullptr;
    if (column.null_count() > 0) {
      data->owned.push_back(to_bitmap(column.validity().data(), n));
      validity = data->owned.back().data();
    }
    data->buffers.push_back(validity);
    switch (column.type().id()) {
      case TypeId::kBool:
        data->owned.push_back(to_bitmap(column.data().data(), n));
        data->buffers.push_back(buffer_or_null(data->owned.back()));
        break;
      case TypeId::kInt32:
      case TypeId::kInt64:
      case TypeId::kFloat32:
      case TypeId::kFloat64:
      case TypeId::kTimestamp:
        data->buffers.push_back(buffer_or_null(column.data()));
        break;
      case TypeId::kString:
      case TypeId::kBinary:
        data->buffers.push_back(column.offsets().data());
        data->buffers.push_back(buffer_or_null(column.data()));
        break;
      case TypeId::kJson: {
        std::vector<uint8_t> text;
        data->owned_offsets.reserve(static_cast<size_t>(n) + 1);
        data->owned_offsets.push_back(0);
        for (int64_t r = 0; r < n; ++r) {
          if (!column.is_null(r)) {
            const std::string s = column.json_at(r).dump();
            text.insert(text.end(), s.begin(), s.end());
          }
          data->owned_offsets.push_back(static_cast<int32_t>(text.size()));
        }
        data->owned.push_back(std::move(text));
        data->buffers.push_back(data->owned_offsets.data());
        data->buffers.push_back(buffer_or_null(data->owned.back()));
        break;
      }
      case TypeId::kList:
        data->buffers.push_back(column.offsets().data());
        data->children.push_back(new ArrowArray{});
        column_array(owner, column.child(), data->children.back());
        break;
    }
    fill_array(out, data, n, column.null_count());
  } catch (...) {
    out->private_data = data;
    release_array(out);
    throw;
  }
}

}  // namespace

void export_schema(const RecordBatch& batch, ArrowSchema* out) {
  std::vector<ArrowSchema*> children;
  try {
    for (const Field& field : batch.schema().fields) {
      children.push_back(new ArrowSchema{});
      field_schema(field.name, field.type, children.back());
    }
  } catch (...) {
    for (ArrowSchema* c : children) {
      if (c->release) c->release(c);
      delete c;
    }
    throw;
  }
  const auto& metadata = batch.schema().metadata;
  fill_schema(out, "+s", "", metadata.empty() ? std::string() : encode_metadata(metadata), std::move(children), 0);
}

void export_array(std::shared_ptr<const void> owner, const RecordBatch& batch, ArrowArray* out) {
  auto* data = new ArrayData{owner, {nullptr}, {}, {}, {}};
  try {
    for (size_t i = 0; i < batch.num_columns(); ++i) {
      data->children.push_back(new ArrowArray{});
      column_array(owner, batch.column(i), data->children.back());
    }
  } catch (...) {
    out->private_data = data;
    release_array(out);
    throw;
  }
  fill_array(out, data, batch.num_rows(), 0);
}

}  // namespace salvo::python
