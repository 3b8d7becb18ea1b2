// A Hugging Face text encoder folder, loaded: tokenizer, encoder weights and head, in the number
// format chosen by ModelOptions::dtype.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/model_impl.h"

namespace salvo {

// The smallest per-row cosine similarity to float32 embeddings each format must keep for
// DType::kAuto to choose it.
constexpr double kMinCosineBf16 = 0.999;
constexpr double kMinCosineInt8 = 0.99;

// Loads a text encoder folder (config.json, weights, tokenizer.json or vocab.txt). A format this
// CPU cannot run falls back to float32 with a warning through options.log; kAuto embeds a built-in
// probe batch in float32, then int8, then bf16, and keeps the first that stays within its bound.
std::shared_ptr<const ModelImpl> load_text_model(const std::filesystem::path& dir, const ModelOptions& options);

// The smallest cosine similarity between matching rows of two [rows, dim] matrices.
double min_row_cosine(const std::vector<float>& a, const std::vector<float>& b, int64_t dim);

// Sentences in English, German, French, Spanish, Russian, Japanese and Chinese, from a few tokens to a
// few hundred, for the probe batch.
const std::vector<std::string>& precision_probe_texts();

}  // namespace salvo
