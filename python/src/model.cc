#include "model.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>

#include "log.h"
#include "result_batch.h"
#include "salvo/error.h"
#include "salvo/session.h"
#include "texts.h"

namespace nb = nanobind;

namespace salvo::python {
namespace {

class PyModel {
 public:
  PyModel(const std::string& path, const std::string& task, const std::string& dtype, int threads,
          size_t max_length, size_t batch_tokens, size_t batch_rows, int replicas)
      : task_(parse_task(task)) {
    ModelOptions model_options;
    model_options.dtype = parse_dtype(dtype);
    model_options.max_length = max_length;
    model_options.log = queue_log_callback();
    model_options.tokenizer_only = task_ == Task::kTokenize;
    SessionOptions session_options;
    session_options.threads = threads;
    session_options.replicas = replicas;
    if (batch_tokens > 0) session_options.batching.max_batch_tokens = batch_tokens;
    if (batch_rows > 0) session_options.batching.max_batch_rows = batch_rows;
    session_options.log = queue_log_callback();
    {
      nb::gil_scoped_release release;
      try {
        session_ = Session::open(path, model_options, session_options);
        session_->output_schema(task_);  // a task the model cannot serve fails here, not on first use
      } catch (...) {
        session_.reset();
        nb::gil_scoped_acquire acquire;
        flush_log();
        throw;
      }
    }
    flush_log();
  }

  // Runs `task` on `texts`; the GIL is released while the session computes.
  ResultBatch run(nb::handle texts, Task task, size_t top_k, bool all_scores) {
    TextInput in = read_texts(texts);  // holds what the views point into until we return
    Request request;
    request.task = task;
    request.options.top_k = top_k;
    request.options.all_scores = all_scores;
    request.inputs = in.take_inputs();
    Result result;
    {
      nb::gil_scoped_release release;
      try {
        result = session_->submit(std::move(request)).get();
      } catch (...) {
        nb::gil_scoped_acquire acquire;
        flush_log();
        throw;
      }
    }
    flush_log();
    return ResultBatch(std::move(result));
  }

  Task task() const { return task_; }
  const Session& session() const { return *session_; }

 private:
  Task task_;
  std::unique_ptr<Session> session_;
};

Task task_or_default(const PyModel& model, const std::optional<std::string>& task) {
  return task ? parse_task(*task) : model.task();
}

nb::dict model_info(const PyModel& model) {
  const ModelInfo& info = model.session().model().info();
  nb::dict d;
  d["path"] = info.path.string();
  d["architecture"] = info.architecture;
  d["summary"] = info.summary;
  nb::list tasks;
  for (Task t : info.tasks) tasks.append(task_name(t));
  d["tasks"] = tasks;
  d["dim"] = info.hidden_size;
  d["num_layers"] = info.num_layers;
  d["labels"] = info.labels;
  d["max_length"] = info.max_length;
  d["pooling"] = info.pooling;
  d["tokenizer"] = info.tokenizer;
  d["dtype"] = dtype_name(info.dtype);
  d["threads"] = model.session().threads();
  return d;
}

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<PyModel>(m, "_Model", "A model and the session that runs it (use salvo.Model).")
      .def(nb::init<const std::string&, const std::string&, const std::string&, int, size_t, size_t, size_t, int>(),
           nb::arg("path"), nb::arg("task") = "embed", nb::arg("dtype") = "f32", nb::arg("threads") = 0,
           nb::arg("max_length") = 0, nb::arg("batch_tokens") = 0, nb::arg("batch_rows") = 0, nb::arg("replicas") = 1)
      .def(
          "run",
          [](PyModel& self, nb::handle texts, std::optional<std::string> task, size_t top_k, bool all_scores) {
            return self.run(texts, task_or_default(self, task), top_k, all_scores);
          },
          nb::arg("texts"), nb::arg("task") = nb::none(), nb::arg("top_k") = 0, nb::arg("all_scores") = false)
      .def(
          "embed",
          [](PyModel& self, nb::handle texts) {
            ResultBatch batch = self.run(texts, Task::kEmbed, 0, false);
            // The caller owns the only reference: the array may be writable.
            return nb::make_tuple(column_to_python(batch, 0, /*writable=*/true), errors_to_python(batch));
          },
          nb::arg("texts"))
      .def_prop_ro("task", [](const PyModel& self) { return std::string(task_name(self.task())); })
      .def_prop_ro("threads", [](const PyModel& self) { return self.session().threads(); })
      .def_prop_ro("info", &model_info);

  // For tests: where each row's text view points (address, length), or None for a row with an
  // error. Shows that Arrow and str input is read in place.
  m.def("_text_views", [](nb::handle texts) {
    TextInput in = read_texts(texts);
    nb::list out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in.errors().empty() && !in.errors()[i].empty()) {
        out.append(nb::none());
      } else {
        out.append(nb::make_tuple(reinterpret_cast<uintptr_t>(in.texts()[i].data()), in.texts()[i].size()));
      }
    }
    return out;
  });
}

}  // namespace salvo::python
