// salvo._salvo: the extension module behind the salvo package.
#include <nanobind/nanobind.h>

#include "log.h"
#include "model.h"
#include "result_batch.h"
#include "salvo/error.h"
#include "salvo/types.h"

namespace nb = nanobind;

namespace {

PyObject* g_error_type = nullptr;  // salvo.Error, a RuntimeError with a .code

const char* code_name(salvo::ErrorCode code) {
  switch (code) {
    case salvo::ErrorCode::kInvalidArgument: return "invalid_argument";
    case salvo::ErrorCode::kIo: return "io";
    case salvo::ErrorCode::kModel: return "model";
    case salvo::ErrorCode::kBackend: return "backend";
    case salvo::ErrorCode::kTimeout: return "timeout";
    case salvo::ErrorCode::kCancelled: return "cancelled";
    case salvo::ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

// salvo::Error -> salvo.Error(message) with .code = "model", "invalid_argument", ...
void translate_error(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const salvo::Error& e) {
    const char* code = code_name(e.code());
    nb::object error = nb::steal(PyObject_CallFunction(g_error_type, "s", e.what()));
    if (!error.is_valid()) return;  // a Python error is already set
    nb::setattr(error, "code", nb::str(code));
    PyErr_SetObject(g_error_type, error.ptr());
  }
}

}  // namespace

NB_MODULE(_salvo, m) {
  m.doc() = "salvo's engine: sessions over BERT-family encoders, results as numpy and Arrow without copies.";
  g_error_type = PyErr_NewExceptionWithDoc(
      "salvo.Error", "A failure of a whole call (a model that cannot load, a task it cannot serve); .code names its kind.",
      PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::handle(g_error_type);
  nb::register_exception_translator(translate_error);
  m.attr("__version__") = salvo::library_version();
  m.def("_flush_log", &salvo::python::flush_log, "Emits queued library messages through logging.getLogger('salvo').");
  salvo::python::bind_result_batch(m);
  salvo::python::bind_model(m);
}
