#include "pipeline/task_output.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "salvo/error.h"

namespace salvo {
namespace {

// Appends one tensor: flat (a float list, or the bytes), or as a list of its rows along the first axis.
void append_tensor(const Features& f, Column* column) {
  const bool bytes = column->type().id() == TypeId::kBinary ||
                     (column->type().is_list() && column->type().element().id() == TypeId::kBinary);
  const size_t total = bytes ? f.bytes.size() : f.values.size();
  auto flat = [&](size_t begin, size_t count, Column* c) {
    if (bytes) {
      c->append_string({reinterpret_cast<const char*>(f.bytes.data()) + begin, count});
    } else {
      c->append_list(std::span<const float>(f.values.data() + begin, count));
    }
  };
  const bool nested = column->type().is_list() && (bytes || column->type().element().is_list());
  if (!nested) {
    flat(0, total, column);
    return;
  }
  const size_t outer = f.shape.empty() ? 1 : static_cast<size_t>(f.shape[0]);
  const size_t inner = outer ? total / outer : 0;
  column->begin_list();
  for (size_t i = 0; i < outer; ++i) flat(i * inner, inner, &column->mutable_child());
  column->end_list();
}

// Label indices by descending probability (ties keep label order).
std::vector<size_t> labels_by_score(const float* probs, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  return order;
}

}  // namespace

Schema task_schema(Task task, const ModelInfo& model, const TaskOptions& options, FeatureKind features) {
  if (task == Task::kFeaturize) {
    // Any session featurizes: its featurizer decides the columns, not its model.
    if (features == FeatureKind::kTokens) {
      throw Error(ErrorCode::kInvalidArgument, "featurize needs an audio or image featurizer (for text, use tokenize)");
    }
    Schema schema;
    DataType tensor = features == FeatureKind::kUInt8 ? DataType::binary() : DataType::float32();
    if (features == FeatureKind::kFloat32) tensor = DataType::list(tensor);
    if (options.nested_features) {
      // uint8 rows stay binary values; float rows are lists, inside a list of rows.
      tensor = DataType::list(features == FeatureKind::kUInt8 ? DataType::binary() : tensor);
    }
    schema.fields.push_back({"features", tensor});
    schema.fields.push_back({"shape", DataType::list(DataType::int64())});
    return schema;
  }
  if (!model.serves(task)) {
    std::string why;
    if (task == Task::kClassify) why = " (it has no classification head; use embed)";
    if (task == Task::kScore) why = " (it is not a cross-encoder with a one-output head)";
    if (task == Task::kPredict) why = " (predict runs TorchScript models)";
    if (model.architecture == "torchscript") why = " (a TorchScript model runs predict)";
    throw Error(ErrorCode::kModel, "model " + model.path.string() + " cannot " + task_name(task) + why);
  }
  if (task != Task::kClassify && (options.top_k > 0 || options.all_scores)) {
    // Silently ignored before: a caller asking for labels from embed gets told, not nothing.
    throw Error(ErrorCode::kInvalidArgument, std::string("top_k and all_scores (--top-k, --all-scores) apply to "
                                                         "classify, not ") + task_name(task));
  }
  Schema schema;
  switch (task) {
    case Task::kEmbed:
      schema.fields.push_back({"embedding", DataType::list(DataType::float32(), model.hidden_size)});
      break;
    case Task::kClassify: {
      schema.fields.push_back({"label", DataType::string()});
      schema.fields.push_back({"score", DataType::float32()});
      if (options.top_k > 0) {
        schema.fields.push_back({"top_labels", DataType::list(DataType::string())});
        schema.fields.push_back({"top_scores", DataType::list(DataType::float32())});
      }
      if (options.all_scores) {
        schema.fields.push_back(
            {"scores", DataType::list(DataType::float32(), static_cast<int64_t>(model.labels.size()))});
      }
      schema.metadata["salvo.labels"] = nlohmann::json(model.labels).dump();
      break;
    }
    case Task::kScore:
      schema.fields.push_back({"score", DataType::float32()});
      break;
    case Task::kTokenize:
      schema.fields.push_back({"input_ids", DataType::list(DataType::int32())});
      schema.fields.push_back({"token_type_ids", DataType::list(DataType::int32())});
      break;
    case Task::kPredict:
      break;  // the model's outputs decide
    case Task::kFeaturize: break;  // above
  }
  return schema;
}

TaskOutput::TaskOutput(Task task, const ModelInfo& model, const TaskOptions& options, size_t rows, size_t width,
                       FeatureKind features)
    : task_(task),
      options_(options),
      schema_(task_schema(task, model, options, features)),
      labels_(model.labels),
      rows_(rows),
      width_(width),
      direct_(task == Task::kEmbed ? schema_.fields[0].type : DataType::float32()),
      errors_(rows) {
  if (task == Task::kEmbed) {
    if (static_cast<int64_t>(width) != model.hidden_size) {
      throw Error(ErrorCode::kInternal, "embedding width " + std::to_string(width) + " != hidden size");
    }
    embedding_ = reinterpret_cast<float*>(direct_.fill_in_place(static_cast<int64_t>(rows)).data());
  } else if (task == Task::kClassify || task == Task::kScore) {
    matrix_.resize(rows * width);
  }
}

float* TaskOutput::values(size_t row) {
  if (task_ == Task::kEmbed) return embedding_ + row * width_;
  return matrix_.data() + row * width_;
}

void TaskOutput::set_error(size_t row, std::string message) {
  if (message.empty()) message = "failed";
  errors_[row] = std::move(message);
}

size_t TaskOutput::errors() const {
  return static_cast<size_t>(std::count_if(errors_.begin(), errors_.end(), [](const auto& e) { return !e.empty(); }));
}

void TaskOutput::set_outputs(const std::vector<size_t>& rows, const std::vector<OutputTensor>& outputs) {
  std::lock_guard lock(predict_mutex_);
  if (predict_.empty()) {
    for (const OutputTensor& o : outputs) {
      PredictColumn p;
      p.name = o.name;
      p.int64 = o.int64;
      p.row_shape.assign(o.shape.begin() + 1, o.shape.end());
      p.row_size = 1;
      for (int64_t d : p.row_shape) p.row_size *= d;
      (p.int64 ? p.ints.resize(rows_ * p.row_size) : p.floats.resize(rows_ * p.row_size));
      predict_.push_back(std::move(p));
    }
  }
  if (outputs.size() != predict_.size()) {
    throw Error(ErrorCode::kInvalidArgument, "the model returned " + std::to_string(outputs.size()) +
                                                 " outputs for one batch and " + std::to_string(predict_.size()) +
                                                 " for another");
  }
  for (size_t c = 0; c < outputs.size(); ++c) {
    const OutputTensor& o = outputs[c];
    PredictColumn& p = predict_[c];
    if (o.name != p.name || o.int64 != p.int64 ||
        !std::equal(o.shape.begin() + 1, o.shape.end(), p.row_shape.begin(), p.row_shape.end())) {
      throw Error(ErrorCode::kInvalidArgument, "the model's output \"" + o.name +
                                                   "\" changed its name, type or per-row shape between batches");
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (p.int64) {
        std::copy_n(o.ints.data() + i * p.row_size, p.row_size, p.ints.data() + rows[i] * p.row_size);
      } else {
        std::copy_n(o.floats.data() + i * p.row_size, p.row_size, p.floats.data() + rows[i] * p.row_size);
      }
    }
  }
}

RecordBatch TaskOutput::finish(const std::vector<Features>& features) {
  RecordBatch out(schema_);
  const int64_t n = static_cast<int64_t>(rows_);
  switch (task_) {
    case Task::kEmbed:
      for (int64_t r = 0; r < n; ++r) {
        if (has_error(r)) direct_.set_null(r);
      }
      out.mutable_column(0) = std::move(direct_);
      break;
    case Task::kClassify: {
      Column& label = out.mutable_column(0);
      Column& score = out.mutable_column(1);
      size_t next = 2;
      Column* top_labels = options_.top_k > 0 ? &out.mutable_column(next++) : nullptr;
      Column* top_scores = options_.top_k > 0 ? &out.mutable_column(next++) : nullptr;
      Column* scores = options_.all_scores ? &out.mutable_column(next++) : nullptr;
      std::vector<std::string> names;
      std::vector<float> values;
      for (int64_t r = 0; r < n; ++r) {
        if (has_error(r)) {
          for (Column* c : {&label, &score, top_labels, top_scores, scores}) {
            if (c) c->append_null();
          }
          continue;
        }
        const float* probs = matrix_.data() + r * width_;
        const std::vector<size_t> order = labels_by_score(probs, width_);
        label.append_string(labels_[order[0]]);
        score.append_float32(probs[order[0]]);
        if (top_labels) {
          const size_t k = std::min(options_.top_k, order.size());
          names.clear();
          values.clear();
          for (size_t i = 0; i < k; ++i) {
            names.push_back(labels_[order[i]]);
            values.push_back(probs[order[i]]);
          }
          top_labels->append_list(std::span<const std::string>(names));
          top_scores->append_list(std::span<const float>(values));
        }
        if (scores) scores->append_list(std::span<const float>(probs, width_));
      }
      break;
    }
    case Task::kScore: {
      Column& score = out.mutable_column(0);
      for (int64_t r = 0; r < n; ++r) {
        if (has_error(r)) {
          score.append_null();
        } else {
          score.append_float32(matrix_[r * width_]);
        }
      }
      break;
    }
    case Task::kTokenize: {
      Column& ids = out.mutable_column(0);
      Column& types = out.mutable_column(1);
      for (int64_t r = 0; r < n; ++r) {
        if (has_error(r)) {
          ids.append_null();
          types.append_null();
        } else {
          ids.append_list(std::span<const int32_t>(features[r].encoding.ids));
          types.append_list(std::span<const int32_t>(features[r].encoding.type_ids));
        }
      }
      break;
    }
    case Task::kPredict:
      for (PredictColumn& p : predict_) {
        const DataType element = p.int64 ? DataType::int64() : DataType::float32();
        const bool scalar = p.row_shape.empty();
        Column column(scalar ? element : DataType::list(element, p.row_size));
        for (int64_t r = 0; r < n; ++r) {
          if (has_error(r)) {
            column.append_null();
          } else if (scalar) {
            p.int64 ? column.append_int64(p.ints[r]) : column.append_float32(p.floats[r]);
          } else if (p.int64) {
            column.append_list(std::span<const int64_t>(p.ints.data() + r * p.row_size, p.row_size));
          } else {
            column.append_list(std::span<const float>(p.floats.data() + r * p.row_size, p.row_size));
          }
        }
        Field field{p.name, column.type()};  // before the move: argument order is unspecified
        out.add_column(std::move(field), std::move(column));
        // A row's shape (its list holds the values row-major), so that readers can restore it.
        out.mutable_schema().metadata["salvo.shape." + p.name] = nlohmann::json(p.row_shape).dump();
      }
      break;
    case Task::kFeaturize: {
      Column& tensor = out.mutable_column(0);
      Column& shape = out.mutable_column(1);
      // Tensors are large (an image is ~150k floats): one allocation for the window, not a
      // doubling vector that copies them over and over.
      size_t values = 0;
      for (int64_t r = 0; r < n; ++r) {
        if (!has_error(r)) values += features[r].values.size();
      }
      if (tensor.type().is_list() && !tensor.type().element().is_list() &&
          tensor.type().element().id() == TypeId::kFloat32) {
        tensor.mutable_child().reserve(static_cast<int64_t>(values));
      }
      tensor.reserve(n);
      for (int64_t r = 0; r < n; ++r) {
        if (has_error(r)) {
          tensor.append_null();
          shape.append_null();
          continue;
        }
        append_tensor(features[r], &tensor);
        shape.append_list(std::span<const int64_t>(features[r].shape));
      }
      break;
    }
  }
  Column error(DataType::string());
  error.reserve(n);
  for (int64_t r = 0; r < n; ++r) {
    if (has_error(r)) {
      error.append_string(errors_[r]);
    } else {
      error.append_null();
    }
  }
  out.add_column({"error", DataType::string()}, std::move(error));
  return out;
}

}  // namespace salvo
