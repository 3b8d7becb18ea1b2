#include "model/sentence_transformers.h"

#include <fstream>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"

namespace salvo {

Pooling parse_pooling(const std::string& name) {
  if (name == "cls") return Pooling::kCls;
  if (name == "mean") return Pooling::kMean;
  if (name == "max") return Pooling::kMax;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown pooling '" + name + "' (expected 'cls', 'mean' or 'max')");
}

nlohmann::json read_model_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kModel, path.string() + ": cannot open");
  try {
    return parse_json_document(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModel, path.string() + ": not valid JSON: " + e.what());
  }
}

SentenceTransformersModules parse_modules_json(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_array()) throw Error(ErrorCode::kModel, where + ": expected a JSON array of modules");
  SentenceTransformersModules modules;
  for (const auto& m : doc) {
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      throw Error(ErrorCode::kModel, where + ": module " + json_text(m).substr(0, 200) + " has no string 'type'");
    }
    const std::string type = m["type"].get<std::string>();
    const std::filesystem::path sub =
        m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : std::string();
    // A module's folder is inside the model folder: a path out of it is refused, not followed.
    for (const auto& part : sub) {
      if (sub.is_absolute() || part == "..") {
        throw Error(ErrorCode::kModel, where + ": module path '" + sub.string() + "' leaves the model folder");
      }
    }
    if (type == "sentence_transformers.models.Transformer") {
      modules.transformer = sub;
    } else if (type == "sentence_transformers.models.Pooling") {
      modules.pooling = sub;
    } else if (type == "sentence_transformers.models.Normalize") {
      modules.normalize = true;
    } else {
      throw Error(ErrorCode::kModel, where + ": module type '" + type.substr(0, 200) +
                                         "' is not supported (Transformer, Pooling, Normalize)");
    }
  }
  return modules;
}

Pooling parse_pooling_config(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_object()) throw Error(ErrorCode::kModel, where + ": not a JSON object");
  auto flag = [&](const char* key) {
    return doc.contains(key) && doc[key].is_boolean() && doc[key].get<bool>();
  };
  for (const char* unsupported : {"pooling_mode_mean_sqrt_len_tokens",
                                  "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (flag(unsupported)) {
      throw Error(ErrorCode::kModel, where + ": " + unsupported + " is not supported (cls, mean or max)");
    }
  }
  std::vector<Pooling> modes;
  if (flag("pooling_mode_cls_token")) modes.push_back(Pooling::kCls);
  if (flag("pooling_mode_mean_tokens")) modes.push_back(Pooling::kMean);
  if (flag("pooling_mode_max_tokens")) modes.push_back(Pooling::kMax);
  if (modes.empty() && doc.contains("pooling_mode") && doc["pooling_mode"].is_string()) {
    try {
      modes.push_back(parse_pooling(doc["pooling_mode"].get<std::string>()));
    } catch (const Error& e) {
      throw Error(ErrorCode::kModel, where + ": " + e.what());
    }
  }
  if (modes.size() != 1) {
    throw Error(ErrorCode::kModel, where + ": expected exactly one pooling mode (cls, mean or max) to be enabled, found " +
                                       std::to_string(modes.size()));
  }
  return modes[0];
}

}  // namespace salvo
