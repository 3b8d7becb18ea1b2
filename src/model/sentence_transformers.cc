#include "model/sentence_transformers.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"

namespace salvo {
namespace fs = std::filesystem;
namespace {

// The class name of a module type: "Pooling" for both "sentence_transformers.models.Pooling" and
// "sentence_transformers.sentence_transformer.modules.pooling.Pooling".
std::string class_name(const std::string& type) {
  const size_t dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

// An activation_fn path as sentence-transformers stores it. Paths outside torch are not run by
// sentence-transformers without trust_remote_code (it falls back to its default), so they give
// nullopt here too; a torch module salvo does not run is refused.
std::optional<ScoreActivation> parse_activation_path(const std::string& path, const std::string& where) {
  if (path.rfind("torch.", 0) != 0) return std::nullopt;
  const std::string name = class_name(path);
  if (name == "Sigmoid") return ScoreActivation::kSigmoid;
  if (name == "Identity") return ScoreActivation::kIdentity;
  if (name == "Tanh") return ScoreActivation::kTanh;
  throw Error(ErrorCode::kModel, where + ": activation_fn '" + path +
                                     "' is not supported (torch.nn Sigmoid, Identity or Tanh)");
}

// Sets the score activation from `value` (a string or null) unless one is already set.
void take_activation(const nlohmann::json& value, const std::string& where, SentenceTransformersConfig* config) {
  if (config->score_activation || !value.is_string()) return;
  config->score_activation = parse_activation_path(value.get<std::string>(), where);
  if (config->score_activation) config->score_activation_source = where;
}

}  // namespace

Pooling parse_pooling(const std::string& name) {
  if (name == "cls") return Pooling::kCls;
  if (name == "mean") return Pooling::kMean;
  if (name == "max") return Pooling::kMax;
  throw Error(ErrorCode::kInvalidArgument, "unknown pooling '" + name + "' (expected 'cls', 'mean' or 'max')");
}

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls: return "CLS";
    case Pooling::kMean: return "mean";
    case Pooling::kMax: return "max";
  }
  return "?";
}

const char* score_activation_name(ScoreActivation activation) {
  switch (activation) {
    case ScoreActivation::kSigmoid: return "sigmoid";
    case ScoreActivation::kIdentity: return "identity";
    case ScoreActivation::kTanh: return "tanh";
  }
  return "?";
}

SentenceTransformersModules parse_modules_json(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_array()) throw Error(ErrorCode::kModel, where + ": expected a JSON array of modules");
  SentenceTransformersModules modules;
  for (const auto& m : doc) {
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      throw Error(ErrorCode::kModel, where + ": module " + json_text(m).substr(0, 200) + " has no string 'type'");
    }
    const std::string type = m["type"].get<std::string>();
    const fs::path sub = m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : std::string();
    // A module's folder is inside the model folder: a path out of it is refused, not followed.
    for (const auto& part : sub) {
      if (sub.is_absolute() || part == "..") {
        throw Error(ErrorCode::kModel, where + ": module path '" + sub.string() + "' leaves the model folder");
      }
    }
    const std::string name = class_name(type);
    if (name == "Transformer") {
      modules.transformer = sub;
    } else if (name == "Pooling") {
      modules.pooling = sub;
    } else if (name == "Normalize") {
      modules.normalize = true;
    } else {
      throw Error(ErrorCode::kModel, where + ": module type '" + type.substr(0, 200) +
                                         "' is not supported (Transformer, Pooling, Normalize)");
    }
  }
  return modules;
}

Pooling parse_pooling_config(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw Error(ErrorCode::kModel, where + ": not a JSON object");
  std::vector<std::string> modes;
  if (json.contains("pooling_mode") && !json["pooling_mode"].is_null()) {
    const auto& mode = json["pooling_mode"];
    if (mode.is_string()) {
      modes.push_back(mode.get<std::string>());
    } else if (mode.is_array()) {
      for (const auto& m : mode) modes.push_back(m.is_string() ? m.get<std::string>() : json_text(m).substr(0, 200));
    } else {
      throw Error(ErrorCode::kModel, where + ": pooling_mode must be a string, got " + json_text(mode).substr(0, 200));
    }
  } else {
    static const std::pair<const char*, const char*> kLegacy[] = {
        {"pooling_mode_cls_token", "cls"},
        {"pooling_mode_max_tokens", "max"},
        {"pooling_mode_mean_tokens", "mean"},
        {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"},
        {"pooling_mode_weightedmean_tokens", "weightedmean"},
        {"pooling_mode_lasttoken", "lasttoken"},
    };
    for (const auto& [key, mode] : kLegacy) {
      if (json.contains(key) && json[key].is_boolean() && json[key].get<bool>()) modes.push_back(mode);
    }
    if (modes.empty()) modes.push_back("mean");
  }
  if (modes.size() != 1) {
    std::string list;
    for (const std::string& m : modes) list += (list.empty() ? "" : ", ") + m;
    throw Error(ErrorCode::kModel, where + ": pooling modes " + list +
                                       " are combined; salvo runs one of cls, mean or max");
  }
  try {
    return parse_pooling(modes[0]);
  } catch (const Error&) {
    throw Error(ErrorCode::kModel,
                where + ": pooling mode '" + modes[0] + "' is not supported (cls, mean or max)");
  }
}

SentenceTransformersConfig read_sentence_transformers_config(const fs::path& dir) {
  SentenceTransformersConfig config;
  config.transformer_dir = dir;

  const fs::path modules_path = dir / "modules.json";
  if (fs::exists(modules_path)) {
    const SentenceTransformersModules modules = parse_modules_json(read_model_json_file(modules_path), modules_path.string());
    config.has_modules = true;
    config.normalize = modules.normalize;
    if (!modules.transformer.empty() && fs::exists(dir / modules.transformer / "config.json")) {
      config.transformer_dir = dir / modules.transformer;
    }
    if (modules.pooling) {
      const fs::path pooling = dir / *modules.pooling / "config.json";
      config.pooling = parse_pooling_config(read_model_json_file(pooling), pooling.string());
      config.has_pooling = true;
    }
  }

  for (const fs::path& path : {config.transformer_dir / "sentence_bert_config.json", dir / "sentence_bert_config.json"}) {
    if (!fs::exists(path)) continue;
    const nlohmann::json json = read_model_json_file(path);
    if (json.is_object() && json.contains("max_seq_length") && !json["max_seq_length"].is_null()) {
      const auto& v = json["max_seq_length"];
      if (!v.is_number_integer() || v.get<int64_t>() < 2) {
        throw Error(ErrorCode::kModel, path.string() + ": max_seq_length must be an integer >= 2, got " + json_text(v));
      }
      config.max_seq_length = static_cast<size_t>(v.get<int64_t>());
    }
    break;
  }

  // The order sentence-transformers' CrossEncoder resolves its activation in. It reads
  // config_sentence_transformers.json only for a folder it saved as a CrossEncoder (modules.json
  // present, model_type "CrossEncoder"); otherwise it builds default modules and ignores the file.
  const fs::path st_config = dir / "config_sentence_transformers.json";
  if (config.has_modules && fs::exists(st_config)) {
    const nlohmann::json json = read_model_json_file(st_config);
    if (json.is_object() && json.contains("activation_fn") && json.contains("model_type") &&
        json["model_type"] == "CrossEncoder") {
      take_activation(json["activation_fn"], st_config.string() + " activation_fn", &config);
    }
  }
  const fs::path hf_config = config.transformer_dir / "config.json";
  if (!config.score_activation && fs::exists(hf_config)) {
    const nlohmann::json json = read_model_json_file(hf_config);
    if (json.is_object()) {
      if (json.contains("sentence_transformers") && json["sentence_transformers"].is_object() &&
          json["sentence_transformers"].contains("activation_fn")) {
        take_activation(json["sentence_transformers"]["activation_fn"],
                        hf_config.string() + " sentence_transformers.activation_fn", &config);
      } else if (json.contains("sbert_ce_default_activation_function")) {
        take_activation(json["sbert_ce_default_activation_function"],
                        hf_config.string() + " sbert_ce_default_activation_function", &config);
      }
    }
  }
  return config;
}

}  // namespace salvo
