#include "texts.h"

#include <cmath>
#include <cstring>

#include "arrow_c.h"

namespace nb = nanobind;

namespace salvo::python {

// One imported Arrow array: we own it (moved out of its capsule) and release it when done.
struct ArrowChunk {
  ArrowArray array{};
  ~ArrowChunk() {
    if (array.release) array.release(&array);
  }
};

namespace {

constexpr const char* kNullRow = "the input is null";

struct SchemaHolder {
  ArrowSchema schema{};
  ~SchemaHolder() {
    if (schema.release) schema.release(&schema);
  }
};

struct StreamHolder {
  ArrowArrayStream stream{};
  ~StreamHolder() {
    if (stream.release) stream.release(&stream);
  }
};

// pandas and numpy spell a missing value NaN (of any float type: Ray's numpy batches give
// numpy.float32), pd.NA or pd.NaT as often as None.
bool is_missing(PyObject* item) {
  if (item == Py_None) return true;
  if (PyFloat_Check(item)) return std::isnan(PyFloat_AS_DOUBLE(item));
  const char* type = Py_TYPE(item)->tp_name;
  if (std::strcmp(type, "NAType") == 0 || std::strcmp(type, "NaTType") == 0) return true;
  if (std::strncmp(type, "numpy.float", 11) == 0 || std::strcmp(type, "numpy.longdouble") == 0) {
    const double value = PyFloat_AsDouble(item);
    if (value == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    return std::isnan(value);
  }
  return false;
}

void read_sequence(nb::handle texts, TextInput& in) {
  if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr())) {
    throw nb::type_error("texts must be a sequence of strings, not one string");
  }
  // A tuple of the items: the views below point into these objects, which the tuple keeps alive
  // even if the caller's list changes while the model runs.
  PyObject* tuple = PySequence_Tuple(texts.ptr());
  if (!tuple) {
    PyErr_Clear();
    throw nb::type_error(("texts must be a sequence of strings or an Arrow string array, not " +
                          std::string(Py_TYPE(texts.ptr())->tp_name)).c_str());
  }
  nb::object owner = nb::steal(tuple);
  const Py_ssize_t n = PyTuple_GET_SIZE(tuple);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyTuple_GET_ITEM(tuple, i);
    if (PyUnicode_Check(item)) {
      Py_ssize_t size = 0;
      const char* s = PyUnicode_AsUTF8AndSize(item, &size);  // cached in the str object
      if (!s) {
        PyErr_Clear();
        in.add_error("the text cannot be encoded as UTF-8 (it holds a lone surrogate)");
      } else {
        in.add_text(std::string_view(s, static_cast<size_t>(size)));
      }
    } else if (PyBytes_Check(item)) {
      in.add_text(std::string_view(PyBytes_AS_STRING(item), static_cast<size_t>(PyBytes_GET_SIZE(item))));
    } else if (is_missing(item)) {
      in.add_error(kNullRow);
    } else {
      in.add_error(std::string("the input is not a string (") + Py_TYPE(item)->tp_name + ")");
    }
  }
  in.hold(std::move(owner));
}

bool is_valid(const uint8_t* validity, int64_t j) { return !validity || ((validity[j >> 3] >> (j & 7)) & 1); }

[[noreturn]] void bad_array(const std::string& why) {
  throw nb::value_error(("invalid Arrow string array: " + why).c_str());
}

template <typename Offset>
void read_offsets_array(const ArrowArray& a, const uint8_t* validity, TextInput& in) {
  if (a.n_buffers != 3) bad_array("a string array has 3 buffers, this one " + std::to_string(a.n_buffers));
  if (a.length == 0) return;
  const auto* offsets = static_cast<const Offset*>(a.buffers[1]);
  const auto* data = static_cast<const char*>(a.buffers[2]);
  if (!offsets) bad_array("no offsets buffer");
  if (offsets[a.offset] < 0) bad_array("negative offset at row 0");
  for (int64_t i = 0; i < a.length; ++i) {
    const int64_t j = a.offset + i;
    const Offset begin = offsets[j], end = offsets[j + 1];
    if (end < begin) bad_array("offsets decrease at row " + std::to_string(i));
    if (!is_valid(validity, j)) {
      in.add_error(kNullRow);
      continue;
    }
    if (end > begin && !data) bad_array("no data buffer");
    in.add_text(std::string_view(end > begin ? data + begin : "", static_cast<size_t>(end - begin)));
  }
}

// Arrow's string views (format "vu"): 16 bytes per row, the text inline when it has at most 12
// bytes, else in one of the variadic data buffers, whose sizes the last buffer gives.
void read_view_array(const ArrowArray& a, const uint8_t* validity, TextInput& in) {
  if (a.n_buffers < 3) bad_array("a string view array has at least 3 buffers");
  const int64_t data_buffers = a.n_buffers - 3;
  const auto* views = static_cast<const uint8_t*>(a.buffers[1]);
  const auto* sizes = static_cast<const int64_t*>(a.buffers[a.n_buffers - 1]);
  if (a.length > 0 && !views) bad_array("no views buffer");
  for (int64_t i = 0; i < a.length; ++i) {
    const int64_t j = a.offset + i;
    if (!is_valid(validity, j)) {
      in.add_error(kNullRow);
      continue;
    }
    const uint8_t* view = views + 16 * j;
    int32_t length = 0;
    std::memcpy(&length, view, 4);
    if (length < 0) bad_array("negative length at row " + std::to_string(i));
    if (length <= 12) {
      in.add_text(std::string_view(reinterpret_cast<const char*>(view + 4), static_cast<size_t>(length)));
      continue;
    }
    int32_t buffer = 0, offset = 0;
    std::memcpy(&buffer, view + 8, 4);
    std::memcpy(&offset, view + 12, 4);
    if (buffer < 0 || buffer >= data_buffers || !sizes || offset < 0 ||
        static_cast<int64_t>(offset) + length > sizes[buffer] || !a.buffers[2 + buffer]) {
      bad_array("the view of row " + std::to_string(i) + " points outside its data buffer");
    }
    in.add_text(std::string_view(static_cast<const char*>(a.buffers[2 + buffer]) + offset, static_cast<size_t>(length)));
  }
}

void read_chunk(const ArrowSchema& schema, const ArrowArray& a, TextInput& in) {
  const std::string format = schema.format ? schema.format : "";
  if (schema.dictionary || a.dictionary) {
    throw nb::type_error("texts must be a string column, not a dictionary-encoded one: cast it to pa.string() first");
  }
  if (a.length < 0 || a.offset < 0) bad_array("negative length or offset");
  if (format == "n") {  // the null type: every row null
    for (int64_t i = 0; i < a.length; ++i) in.add_error(kNullRow);
    return;
  }
  const bool known = format == "u" || format == "z" || format == "U" || format == "Z" || format == "vu" || format == "vz";
  if (!known) {
    throw nb::type_error(("texts must be a string column; this Arrow column has format \"" + format + "\"").c_str());
  }
  const auto* validity = a.n_buffers > 0 ? static_cast<const uint8_t*>(a.buffers[0]) : nullptr;
  if (!validity && a.null_count > 0) bad_array("null_count is " + std::to_string(a.null_count) + " but there is no validity bitmap");
  if (format == "u" || format == "z") {
    read_offsets_array<int32_t>(a, validity, in);
  } else if (format == "U" || format == "Z") {
    read_offsets_array<int64_t>(a, validity, in);
  } else {
    read_view_array(a, validity, in);
  }
}

template <typename T>
T* capsule_pointer(nb::handle capsule, const char* name) {
  void* p = PyCapsule_GetPointer(capsule.ptr(), name);
  if (!p) throw nb::python_error();
  return static_cast<T*>(p);
}

void read_arrow_array(nb::handle texts, TextInput& in) {
  nb::object pair = texts.attr("__arrow_c_array__")();
  if (!nb::isinstance<nb::tuple>(pair) || nb::len(pair) != 2) {
    throw nb::type_error("__arrow_c_array__ must return (schema capsule, array capsule)");
  }
  nb::object schema_capsule = pair[0], array_capsule = pair[1];
  const auto* schema = capsule_pointer<ArrowSchema>(schema_capsule, "arrow_schema");
  auto* source = capsule_pointer<ArrowArray>(array_capsule, "arrow_array");
  auto chunk = std::make_unique<ArrowChunk>();
  chunk->array = *source;  // moved out of the capsule: we release it
  source->release = nullptr;
  ArrowChunk& held = *chunk;
  in.hold(std::move(chunk));
  read_chunk(*schema, held.array, in);
  in.hold(nb::borrow(texts));
}

void read_arrow_stream(nb::handle texts, TextInput& in) {
  nb::object capsule = texts.attr("__arrow_c_stream__")();
  auto* source = capsule_pointer<ArrowArrayStream>(capsule, "arrow_array_stream");
  StreamHolder stream;
  stream.stream = *source;
  source->release = nullptr;
  ArrowArrayStream* s = &stream.stream;
  auto stream_error = [s](const char* what) {
    const char* why = s->get_last_error ? s->get_last_error(s) : nullptr;
    throw nb::value_error((std::string("Arrow stream: ") + what + (why ? std::string(": ") + why : "")).c_str());
  };
  SchemaHolder schema;
  if (s->get_schema(s, &schema.schema) != 0) stream_error("cannot read the schema");
  for (;;) {
    auto chunk = std::make_unique<ArrowChunk>();
    if (s->get_next(s, &chunk->array) != 0) stream_error("cannot read the next array");
    if (!chunk->array.release) break;  // end of stream
    ArrowChunk& held = *chunk;
    in.hold(std::move(chunk));  // chunks stay valid after the stream is released
    read_chunk(schema.schema, held.array, in);
  }
  in.hold(nb::borrow(texts));
}

}  // namespace

TextInput::TextInput() = default;
TextInput::~TextInput() = default;
TextInput::TextInput(TextInput&&) noexcept = default;
TextInput& TextInput::operator=(TextInput&&) noexcept = default;

void TextInput::add_error(std::string message) {
  if (errors_.empty()) errors_.resize(texts_.size());
  texts_.emplace_back();
  errors_.push_back(std::move(message));
}

void TextInput::hold(std::unique_ptr<ArrowChunk> chunk) { chunks_.push_back(std::move(chunk)); }

Inputs TextInput::take_inputs() {
  Inputs inputs;
  inputs.texts = std::move(texts_);
  texts_.clear();
  inputs.errors = std::move(errors_);
  errors_.clear();
  return inputs;
}

TextInput read_texts(nb::handle texts) {
  TextInput in;
  if (nb::hasattr(texts, "__arrow_c_array__")) {
    read_arrow_array(texts, in);
  } else if (nb::hasattr(texts, "__arrow_c_stream__")) {
    read_arrow_stream(texts, in);
  } else {
    read_sequence(texts, in);
  }
  return in;
}

}  // namespace salvo::python
