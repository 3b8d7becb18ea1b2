#include "pipeline/task_output.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "salvo/error.h"

namespace salvo {
namespace {

// Label indices by descending probability (ties keep label order).
std::vector<size_t> labels_by_score(const float* probs, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  return order;
}

}  // namespace

Schema task_schema(Task task, const ModelInfo& model, const TaskOptions& options) {
  if (!model.serves(task)) {
    std::string why;
    if (task == Task::kClassify) why = " (it has no classification head; use embed)";
    if (task == Task::kScore) why = " (it is not a cross-encoder with a one-output head)";
    throw Error(ErrorCode::kModel, "model " + model.path.string() + " cannot " + task_name(task) + why);
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
      throw Error(ErrorCode::kInvalidArgument, "predict runs TorchScript models");
  }
  return schema;
}

TaskOutput::TaskOutput(Task task, const ModelInfo& model, const TaskOptions& options, size_t rows, size_t width)
    : task_(task),
      options_(options),
      schema_(task_schema(task, model, options)),
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
  if (errors_[row].empty()) ++error_count_;
  errors_[row] = std::move(message);
}

RecordBatch TaskOutput::finish(const std::vector<Encoding>& encodings) {
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
          ids.append_list(std::span<const int32_t>(encodings[r].ids));
          types.append_list(std::span<const int32_t>(encodings[r].type_ids));
        }
      }
      break;
    }
    case Task::kPredict:
      throw Error(ErrorCode::kInternal, "predict has its own output");
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
