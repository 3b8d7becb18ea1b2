// What a model folder's sentence-transformers files say: where the transformer is, how `embed`
// pools and normalises, the sequence length it was trained for, and the activation a
// CrossEncoder applies to its scores.
#pragma once

#include <cstddef>
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
// "CLS", "mean", "max".
const char* pooling_name(Pooling pooling);

// The function a cross-encoder's one logit goes through to become its score.
enum class ScoreActivation {
  kSigmoid,   // torch.nn.Sigmoid: CrossEncoder's default for one-label models
  kIdentity,  // torch.nn.Identity: the raw logit (e.g. the ms-marco cross-encoders)
  kTanh,      // torch.nn.Tanh
};

// "sigmoid", "identity", "tanh".
const char* score_activation_name(ScoreActivation activation);

struct SentenceTransformersConfig {
  // The folder holding config.json and the weights: the model folder, or the Transformer
  // module's sub-folder when modules.json names one that has a config.json.
  std::filesystem::path transformer_dir;
  bool has_modules = false;  // modules.json was present
  Pooling pooling = Pooling::kMean;
  bool has_pooling = false;  // a Pooling module set `pooling`
  bool normalize = true;     // a Normalize module; true without modules.json (salvo's default)
  // sentence_bert_config.json's max_seq_length (the length sentence-transformers truncates to);
  // 0 when absent.
  size_t max_seq_length = 0;
  // The CrossEncoder activation the folder names, as sentence-transformers 6 resolves it:
  // config_sentence_transformers.json "activation_fn" (a folder saved as a CrossEncoder: with
  // modules.json and model_type "CrossEncoder"), else config.json
  // "sentence_transformers.activation_fn", else config.json "sbert_ce_default_activation_function";
  // empty when none is named (then: sigmoid for one label).
  std::optional<ScoreActivation> score_activation;
  std::string score_activation_source;  // the file and key it came from, for ModelInfo
};

// What modules.json says: the Transformer module's folder, the Pooling module's folder (when
// there is one) and whether a Normalize module follows. Folders are relative to the model folder.
struct SentenceTransformersModules {
  std::filesystem::path transformer;  // empty: the model folder itself
  std::optional<std::filesystem::path> pooling;
  bool normalize = false;
};

// Parses the document of modules.json (`where` names it in messages). Module types are recognised
// by their class name. A module path must stay inside the model folder (relative, no "..").
// Throws salvo::Error(kModel).
SentenceTransformersModules parse_modules_json(const nlohmann::json& doc, const std::string& where);

// Parses a Pooling module's config.json as sentence-transformers does: "pooling_mode" when
// present, else the legacy pooling_mode_*_tokens flags (none set means mean). One mode of
// cls/mean/max; throws salvo::Error(kModel) otherwise.
Pooling parse_pooling_config(const nlohmann::json& doc, const std::string& where);

// Reads modules.json, the Pooling module's config.json, sentence_bert_config.json,
// config_sentence_transformers.json and the activation keys of config.json in `dir`. Module types
// are recognised by their class name, so both the sentence_transformers.models.* names and
// sentence-transformers 6's sentence_transformers.*.modules.* names load. Throws
// salvo::Error(kModel) naming the file for a module, pooling mode or activation salvo cannot run.
SentenceTransformersConfig read_sentence_transformers_config(const std::filesystem::path& dir);

}  // namespace salvo
