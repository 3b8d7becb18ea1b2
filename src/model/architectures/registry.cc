// The architectures salvo loads: one line each.
#include "core/error.h"
#include "model/architectures/architecture.h"

namespace salvo {
namespace {

const std::vector<const Architecture*>& registry() {
  static const std::vector<const Architecture*> architectures = {
      &bert_architecture(),    &roberta_architecture(), &distilbert_architecture(),
      &electra_architecture(), &mpnet_architecture(),
  };
  return architectures;
}

}  // namespace

std::string supported_model_types() {
  std::string list;
  for (const Architecture* a : registry()) {
    for (const std::string& type : a->model_types) list += (list.empty() ? "" : ", ") + type;
  }
  return list;
}

const Architecture& find_architecture(const std::string& model_type, const std::string& source) {
  for (const Architecture* a : registry()) {
    for (const std::string& type : a->model_types) {
      if (type == model_type) return *a;
    }
  }
  throw Error(ErrorCode::kModel, source + ": model_type '" + model_type + "' is not supported (salvo runs " +
                                     supported_model_types() + ")");
}

EncoderConfig parse_encoder_config(const ConfigJson& json) {
  EncoderConfig config = find_architecture(json.model_type(), json.source()).read_config(json);
  json.finish(&config);
  return config;
}

}  // namespace salvo
