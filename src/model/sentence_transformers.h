// The sentence-transformers files of a model folder: modules.json (which modules run, and where
// their files are) and the Pooling module's config.json. Parsed from documents, so that hostile
// files can be fuzzed without a model.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace salvo {

// How token states become one sentence embedding.
enum class Pooling {
  kCls,   // the first token's state
  kMean,  // the mean over the sequence's tokens
  kMax,   // the element-wise maximum over the sequence's tokens
};

// Parses "cls" / "mean" / "max"; throws salvo::Error(kInvalidArgument) otherwise.
Pooling parse_pooling(const std::string& name);

// What modules.json says: the Transformer module's folder, the Pooling module's folder (when
// there is one) and whether a Normalize module follows. Folders are relative to the model folder.
struct SentenceTransformersModules {
  std::filesystem::path transformer;           // empty: the model folder itself
  std::optional<std::filesystem::path> pooling;
  bool normalize = false;
};

// Parses the document of modules.json (`where` names it in messages). A module path must stay
// inside the model folder (relative, no ".."). Throws salvo::Error(kModel).
SentenceTransformersModules parse_modules_json(const nlohmann::json& doc, const std::string& where);

// Parses the document of a Pooling module's config.json: exactly one of cls, mean and max.
// Throws salvo::Error(kModel).
Pooling parse_pooling_config(const nlohmann::json& doc, const std::string& where);

// Reads a JSON file of a model folder (nesting limited, see core/json_text.h). Throws
// salvo::Error(kModel) naming the file.
nlohmann::json read_model_json(const std::filesystem::path& path);

}  // namespace salvo
