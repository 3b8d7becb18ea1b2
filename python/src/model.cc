#include "model.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <unistd.h>

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
      : task_(parse_task(task)), owner_pid_(getpid()) {
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

  // In a forked child the session's worker threads do not exist, and joining them would hang: the
  // child leaves the session alone (its memory goes when the process does).
  ~PyModel() {
    if (getpid() != owner_pid_) static_cast<void>(session_.release());
  }
  PyModel(const PyModel&) = delete;
  PyModel& operator=(const PyModel&) = delete;

  // Runs `task` on `texts` (and, for score, the second texts `pairs`: None otherwise); the GIL is
  // released while the session computes.
  ResultBatch run(nb::handle texts, nb::handle pairs, Task task, size_t top_k, bool all_scores) {
    TextInput in = read_texts(texts);  // holds what the views point into until we return
    TextInput second;
    Request request;
    request.task = task;
    request.options.top_k = top_k;
    request.options.all_scores = all_scores;
    request.inputs = in.take_inputs();
    if (task == Task::kScore) {
      if (pairs.is_none()) throw nb::value_error("score needs the second text of each pair (pairs=)");
      second = read_texts(pairs);
      add_pairs(second, request.inputs);
    } else if (!pairs.is_none()) {
      throw nb::value_error(("pairs are scored by task \"score\", not \"" + std::string(task_name(task)) + "\"").c_str());
    }
    return call(std::move(request));
  }

  // Runs a TorchScript model on `tensors` (one per input of forward(), in order), with `errors` one
  // per row or empty.
  ResultBatch predict(std::vector<TensorColumn> tensors, std::vector<std::string> errors) {
    Request request;
    request.task = Task::kPredict;
    request.inputs.tensors = std::move(tensors);
    request.inputs.errors = std::move(errors);
    return call(std::move(request));
  }

  Task task() const { return task_; }
  const Session& session() const { return *session_; }

 private:
  ResultBatch call(Request request) {
    // A forked child inherits the session but not its worker threads: a call would wait forever.
    if (getpid() != owner_pid_) {
      throw Error(ErrorCode::kInvalidArgument,
                  "this model was loaded in process " + std::to_string(owner_pid_) +
                      " and cannot run in a process forked from it (" + std::to_string(getpid()) +
                      "): load it in this process (salvo.get_model does), or start workers with "
                      "the \"spawn\" or \"forkserver\" method");
    }
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

  // The second texts of score's pairs; a bad one marks its row bad.
  static void add_pairs(TextInput& second, Inputs& inputs) {
    if (second.size() != inputs.texts.size()) {
      throw nb::value_error(("pairs has " + std::to_string(second.size()) + " rows and texts " +
                             std::to_string(inputs.texts.size())).c_str());
    }
    const std::vector<std::string> pair_errors = second.errors();
    inputs.text_pairs = second.take_inputs().texts;
    if (pair_errors.empty()) return;
    inputs.errors.resize(inputs.texts.size());
    for (size_t i = 0; i < pair_errors.size(); ++i) {
      if (inputs.errors[i].empty() && !pair_errors[i].empty()) inputs.errors[i] = "text pair: " + pair_errors[i];
    }
  }

  Task task_;
  pid_t owner_pid_;
  std::unique_ptr<Session> session_;
};

Task task_or_default(const PyModel& model, const std::optional<std::string>& task) {
  return task ? parse_task(*task) : model.task();
}

// One predict input, from (name, row shape, values): the values are copied, so the caller's array
// may change once this returns.
TensorColumn tensor_column(nb::handle column) {
  using Floats = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  using Ints = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  if (!nb::isinstance<nb::tuple>(column) || nb::len(column) != 3) {
    throw nb::type_error("a predict input is (name, shape, values)");
  }
  TensorColumn t;
  t.name = nb::cast<std::string>(column[0]);
  t.shape = nb::cast<std::vector<int64_t>>(column[1]);
  Floats floats;
  Ints ints;
  if (nb::try_cast(column[2], floats, /*convert=*/false)) {
    t.floats.assign(floats.data(), floats.data() + floats.size());
  } else if (nb::try_cast(column[2], ints, /*convert=*/false)) {
    t.int64 = true;
    t.ints.assign(ints.data(), ints.data() + ints.size());
  } else {
    throw nb::type_error(("the values of input \"" + t.name + "\" must be a 1-D float32 or int64 array").c_str());
  }
  return t;
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
          [](PyModel& self, nb::handle texts, std::optional<std::string> task, size_t top_k, bool all_scores,
             nb::handle pairs) { return self.run(texts, pairs, task_or_default(self, task), top_k, all_scores); },
          nb::arg("texts"), nb::arg("task") = nb::none(), nb::arg("top_k") = 0, nb::arg("all_scores") = false,
          nb::arg("pairs") = nb::none())
      .def(
          "predict",
          [](PyModel& self, nb::list columns, std::vector<std::string> errors) {
            std::vector<TensorColumn> tensors;
            for (nb::handle column : columns) tensors.push_back(tensor_column(column));
            ResultBatch batch = self.predict(std::move(tensors), std::move(errors));
            // Each output as (values, row shape): the values are a writable array (N, values per row), or
            // (N,) for a scalar per row, that the caller alone holds.
            const Schema& schema = batch.columns().schema();
            nb::dict outputs;
            for (size_t i = 0; i + 1 < schema.fields.size(); ++i) {
              const std::string& name = schema.fields[i].name;
              auto shape = schema.metadata.find("salvo.shape." + name);
              nb::object row_shape = nb::none();
              if (shape != schema.metadata.end()) row_shape = nb::str(shape->second.c_str());
              outputs[nb::str(name.c_str())] = nb::make_tuple(column_to_python(batch, i, /*writable=*/true), row_shape);
            }
            return nb::make_tuple(outputs, errors_to_python(batch));
          },
          nb::arg("columns"), nb::arg("errors"),
          "Runs forward() on columns [(name, row shape, 1-D float32 or int64 array of rows x values)], errors one "
          "per row (empty strings for good rows) or empty. Returns ({output: (values, row shape as JSON)}, errors).")
      .def(
          "embed",
          [](PyModel& self, nb::handle texts) {
            ResultBatch batch = self.run(texts, nb::none(), Task::kEmbed, 0, false);
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
