#include "result_batch.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <span>
#include <string>
#include <nlohmann/json.hpp>
#include <limits>

#include "arrow_export.h"

namespace nb = nanobind;

namespace salvo::python {
namespace {

template <typename T>
void nan_rows(const Column& column, int64_t width) {
  // The column belongs to a Result we own alone at this point: writing through is sound.
  auto* values = const_cast<T*>(reinterpret_cast<const T*>(column.data().data()));
  for (int64_t r = 0; r < column.size(); ++r) {
    if (column.is_null(r)) std::fill_n(values + r * width, width, std::numeric_limits<T>::quiet_NaN());
  }
}

template <typename T>
void pad_column(Column& c, T fill) {
  const int64_t w = c.type().fixed_length();
  const std::vector<T> padding(static_cast<size_t>(w), fill);
  Column padded(c.type());
  padded.reserve(c.size());
  for (int64_t r = 0; r < c.size(); ++r) {
    if (c.is_null(r)) {
      padded.append_list(std::span<const T>(padding));
      padded.set_null(r);
    } else {
      padded.append_from(c, r);
    }
  }
  c = std::move(padded);
}

// A null row of a fixed-length list may hold no values (predict's outputs leave them out): such a
// column gets `fixed_length` values in each null row (NaN, or 0 for integers), so that row r sits at
// r * width and numpy sees a matrix.
void pad_fixed_lists(RecordBatch& batch) {
  for (size_t i = 0; i < batch.num_columns(); ++i) {
    Column& c = batch.mutable_column(i);
    const DataType& t = c.type();
    if (!t.is_list() || t.fixed_length() <= 0 || c.child().size() == c.size() * t.fixed_length()) continue;
    switch (t.element().id()) {
      case TypeId::kFloat32: pad_column<float>(c, std::numeric_limits<float>::quiet_NaN()); break;
      case TypeId::kFloat64: pad_column<double>(c, std::numeric_limits<double>::quiet_NaN()); break;
      case TypeId::kInt32: pad_column<int32_t>(c, 0); break;
      case TypeId::kInt64: pad_column<int64_t>(c, 0); break;
      default: break;  // left as it is: column_to_python gives a list of lists
    }
  }
}

bool is_matrix(const Column& c) {
  return c.type().is_list() && c.type().fixed_length() > 0 && c.child().size() == c.size() * c.type().fixed_length();
}

void nan_failed_rows(const RecordBatch& batch) {
  for (size_t i = 0; i < batch.num_columns(); ++i) {
    const Column& c = batch.column(i);
    if (c.null_count() == 0) continue;
    const DataType& t = c.type();
    if (t.id() == TypeId::kFloat32) nan_rows<float>(c, 1);
    if (t.id() == TypeId::kFloat64) nan_rows<double>(c, 1);
    if (is_matrix(c)) {
      // Rows of a fixed-length list sit at r * width in the child's buffer.
      const Column& child = c.child();
      auto* base = const_cast<uint8_t*>(child.data().data());
      const int64_t w = t.fixed_length();
      for (int64_t r = 0; r < c.size(); ++r) {
        if (!c.is_null(r)) continue;
        if (t.element().id() == TypeId::kFloat32) {
          std::fill_n(reinterpret_cast<float*>(base) + r * w, w, std::numeric_limits<float>::quiet_NaN());
        } else if (t.element().id() == TypeId::kFloat64) {
          std::fill_n(reinterpret_cast<double*>(base) + r * w, w, std::numeric_limits<double>::quiet_NaN());
        }
      }
    }
  }
}

template <typename T>
nb::object numpy_view(const void* data, std::initializer_list<size_t> shape, nb::object owner, bool writable) {
  static const T kEmpty{};
  if (!data) data = &kEmpty;  // an empty buffer: numpy wants a pointer all the same
  if (writable) {
    return nb::cast(nb::ndarray<nb::numpy, T>(const_cast<void*>(data), shape, owner));
  }
  return nb::cast(nb::ndarray<nb::numpy, const T>(data, shape, owner));
}

template <typename T>
nb::object numeric_column(const void* data, size_t rows, size_t width, bool two_d, nb::object owner, bool writable) {
  if (two_d) return numpy_view<T>(data, {rows, width}, owner, writable);
  return numpy_view<T>(data, {rows}, owner, writable);
}

nb::object numeric(TypeId id, const void* data, size_t rows, size_t width, bool two_d, nb::object owner, bool writable) {
  switch (id) {
    case TypeId::kFloat32: return numeric_column<float>(data, rows, width, two_d, owner, writable);
    case TypeId::kFloat64: return numeric_column<double>(data, rows, width, two_d, owner, writable);
    case TypeId::kInt32: return numeric_column<int32_t>(data, rows, width, two_d, owner, writable);
    case TypeId::kInt64:
    case TypeId::kTimestamp:
      return numeric_column<int64_t>(data, rows, width, two_d, owner, writable);
    case TypeId::kBool: return numeric_column<bool>(data, rows, width, two_d, owner, writable);
    default: return nb::none();
  }
}

bool is_number(TypeId id) {
  return id == TypeId::kFloat32 || id == TypeId::kFloat64 || id == TypeId::kInt32 || id == TypeId::kInt64 ||
         id == TypeId::kTimestamp || id == TypeId::kBool;
}

// One row of a column as a Python value (lists recursively).
nb::object cell(const Column& c, int64_t r) {
  if (c.is_null(r)) return nb::none();
  switch (c.type().id()) {
    case TypeId::kBool: return nb::bool_(c.bool_at(r));
    case TypeId::kInt32: return nb::int_(c.int32_at(r));
    case TypeId::kInt64:
    case TypeId::kTimestamp: return nb::int_(c.int64_at(r));
    case TypeId::kFloat32: return nb::float_(c.float32_at(r));
    case TypeId::kFloat64: return nb::float_(c.float64_at(r));
    case TypeId::kString: {
      const std::string_view s = c.string_at(r);
      return nb::steal(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
    }
    case TypeId::kBinary: {
      const std::string_view s = c.string_at(r);
      return nb::bytes(s.data(), s.size());
    }
    case TypeId::kJson: return nb::str(c.json_at(r).dump().c_str());
    case TypeId::kList: {
      nb::list out;
      for (int64_t i = c.list_begin(r); i < c.list_end(r); ++i) out.append(cell(c.child(), i));
      return out;
    }
  }
  return nb::none();
}

}  // namespace

ResultBatch::ResultBatch(Result result) {
  pad_fixed_lists(result.columns);
  nan_failed_rows(result.columns);
  result_ = std::make_shared<const Result>(std::move(result));
}

nb::object result_owner(std::shared_ptr<const Result> result) {
  auto* held = new std::shared_ptr<const Result>(std::move(result));
  return nb::capsule(held, "salvo.Result", [](void* p) noexcept { delete static_cast<std::shared_ptr<const Result>*>(p); });
}

nb::object column_to_python(const ResultBatch& batch, size_t index, bool writable) {
  const Column& c = batch.columns().column(index);
  const DataType& t = c.type();
  const size_t rows = static_cast<size_t>(c.size());
  if (is_number(t.id())) {
    return numeric(t.id(), c.data().data(), rows, 1, false, result_owner(batch.shared()), writable);
  }
  if (is_matrix(c) && is_number(t.element().id())) {
    return numeric(t.element().id(), c.child().data().data(), rows, static_cast<size_t>(t.fixed_length()), true,
                   result_owner(batch.shared()), writable);
  }
  nb::list out;
  for (int64_t r = 0; r < c.size(); ++r) out.append(cell(c, r));
  return out;
}

nb::object errors_to_python(const ResultBatch& batch) {
  const RecordBatch& columns = batch.columns();
  const int i = columns.schema().index_of("error");
  if (i < 0) return nb::none();
  return column_to_python(batch, static_cast<size_t>(i), false);
}

namespace {

// For tests of the Arrow export: a batch with a column of every type, nulls included.
ResultBatch every_type_batch() {
  RecordBatch batch;
  Column b(DataType::boolean()), i32(DataType::int32()), i64(DataType::int64()), f64(DataType::float64()),
      ts(DataType::timestamp()), bin(DataType::binary()), js(DataType::json()),
      nested(DataType::list(DataType::list(DataType::int64())));
  for (int r = 0; r < 11; ++r) {
    if (r % 4 == 3) {
      for (Column* c : {&b, &i32, &i64, &f64, &ts, &bin, &js, &nested}) c->append_null();
      continue;
    }
    b.append_bool(r % 3 == 0);
    i32.append_int32(-r);
    i64.append_int64(int64_t{1} << (30 + r));
    f64.append_float64(r / 4.0);
    ts.append_int64(1700000000000000 + r);
    bin.append_string(std::string(static_cast<size_t>(r), static_cast<char>(r)));
    js.append_json(r % 2 ? nlohmann::json{{"row", r}} : nlohmann::json("text"));
    nested.begin_list();
    for (int k = 0; k < r % 3; ++k) {
      std::vector<int64_t> values(static_cast<size_t>(k + 1), r);
      nested.mutable_child().append_list(std::span<const int64_t>(values));
    }
    nested.end_list();
  }
  batch.add_column({"bool", DataType::boolean()}, std::move(b));
  batch.add_column({"int32", DataType::int32()}, std::move(i32));
  batch.add_column({"int64", DataType::int64()}, std::move(i64));
  batch.add_column({"float64", DataType::float64()}, std::move(f64));
  batch.add_column({"timestamp", DataType::timestamp()}, std::move(ts));
  batch.add_column({"binary", DataType::binary()}, std::move(bin));
  batch.add_column({"json", DataType::json()}, std::move(js));
  batch.add_column({"nested", DataType::list(DataType::list(DataType::int64()))}, std::move(nested));
  batch.mutable_schema().metadata["salvo.test"] = "every type";
  Result result;
  result.columns = std::move(batch);
  return ResultBatch(std::move(result));
}

}  // namespace

void bind_result_batch(nb::module_& m) {
  m.def("_every_type_batch", &every_type_batch, "For tests: a Batch with a column of every type, nulls included.");
  nb::class_<ResultBatch>(m, "Batch",
                          "The result of Model.run: named columns, one row per input row, and an \"error\" column.\n"
                          "Convert it with to_arrow() (no copy), column(name) (numpy views for numbers) or any\n"
                          "library that reads the Arrow PyCapsule interface (pa.record_batch(batch)).")
      .def_prop_ro("num_rows", [](const ResultBatch& b) { return b.columns().num_rows(); })
      .def("__len__", [](const ResultBatch& b) { return b.columns().num_rows(); })
      .def_prop_ro("column_names",
                   [](const ResultBatch& b) {
                     std::vector<std::string> names;
                     for (const Field& f : b.columns().schema().fields) names.push_back(f.name);
                     return names;
                   })
      .def_prop_ro("metadata", [](const ResultBatch& b) {
        nb::dict d;
        for (const auto& [k, v] : b.columns().schema().metadata) d[nb::str(k.c_str())] = nb::str(v.c_str());
        return d;
      })
      .def(
          "column",
          [](const ResultBatch& b, const std::string& name) {
            const int i = b.columns().schema().index_of(name);
            if (i < 0) throw nb::key_error(("no column named \"" + name + "\"").c_str());
            return column_to_python(b, static_cast<size_t>(i), false);
          },
          nb::arg("name"),
          "A column: numbers as a read-only numpy array over the batch (2-D for embeddings; NaN in failed "
          "rows), strings and ragged lists as Python lists (None in failed rows).")
      .def_prop_ro("errors", [](const ResultBatch& b) { return errors_to_python(b); },
                   "One entry per row: None, or why the row has no result.")
      .def_prop_ro("error_count", [](const ResultBatch& b) { return b.stats().errors; })
      .def_prop_ro("stats",
                   [](const ResultBatch& b) {
                     nb::dict d;
                     d["rows"] = b.stats().rows;
                     d["errors"] = b.stats().errors;
                     d["tokens"] = b.stats().tokens;
                     d["padded_tokens"] = b.stats().padded_tokens;
                     d["batches"] = b.stats().batches;
                     return d;
                   })
      .def("__arrow_c_schema__",
           [](const ResultBatch& b) {
             auto* schema = new ArrowSchema{};
             try {
               export_schema(b.columns(), schema);
             } catch (...) {
               delete schema;
               throw;
             }
             return nb::capsule(schema, "arrow_schema", [](void* p) noexcept {
               auto* s = static_cast<ArrowSchema*>(p);
               if (s->release) s->release(s);
               delete s;
             });
           })
      .def(
          "__arrow_c_array__",
          [](const ResultBatch& b, nb::handle requested_schema) {
            // A requested schema is not honoured: the batch is handed over as it is, which the
            // PyCapsule protocol allows; the consumer casts if it must.
            (void)requested_schema;
            auto* schema = new ArrowSchema{};
            auto* array = new ArrowArray{};
            try {
              export_schema(b.columns(), schema);
              export_array(b.shared(), b.columns(), array);
            } catch (...) {
              if (schema->release) schema->release(schema);
              delete schema;
              delete array;
              throw;
            }
            nb::capsule s(schema, "arrow_schema", [](void* p) noexcept {
              auto* x = static_cast<ArrowSchema*>(p);
              if (x->release) x->release(x);
              delete x;
            });
            nb::capsule a(array, "arrow_array", [](void* p) noexcept {
              auto* x = static_cast<ArrowArray*>(p);
              if (x->release) x->release(x);
              delete x;
            });
            return nb::make_tuple(s, a);
          },
          nb::arg("requested_schema") = nb::none());
}

}  // namespace salvo::python
