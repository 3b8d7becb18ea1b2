#include "salvo/types.h"

#include <string>

#include "salvo/error.h"

namespace salvo {

const char* task_name(Task task) {
  switch (task) {
    case Task::kEmbed: return "embed";
    case Task::kClassify: return "classify";
    case Task::kScore: return "score";
    case Task::kTokenize: return "tokenize";
    case Task::kPredict: return "predict";
    case Task::kFeaturize: return "featurize";
  }
  return "?";
}

Task parse_task(std::string_view name) {
  for (Task t : {Task::kEmbed, Task::kClassify, Task::kScore, Task::kTokenize, Task::kPredict, Task::kFeaturize}) {
    if (name == task_name(t)) return t;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown task \"" + std::string(name) + "\" (expected embed, classify, score, tokenize, predict or featurize)");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kBF16: return "bf16";
    case DType::kInt8: return "int8";
    case DType::kAuto: return "auto";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return DType::kF32;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  if (name == "int8") return DType::kInt8;
  if (name == "auto") return DType::kAuto;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown dtype \"" + std::string(name) + "\" (expected f32, bf16, int8 or auto)");
}

}  // namespace salvo
