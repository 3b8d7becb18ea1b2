// Picking the number format the encoder runs in (--dtype): float32, bf16 or int8, with `auto`
// choosing the fastest format whose embeddings stay close to float32's on a probe batch.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "model/bert_model.h"

namespace salvo {

// The smallest per-row cosine similarity to float32 embeddings each format must keep.
constexpr double kMinCosineBf16 = 0.999;
constexpr double kMinCosineInt8 = 0.99;

// A model loaded in the format that will run, and why that format.
struct ChosenModel {
  std::unique_ptr<BertModel> model;
  // One line for the user: the format, the instructions it uses, and for `auto` what was measured
  // ("int8 (AVX512_VNNI), chosen by --dtype auto: min cosine 0.9974 to f32 on the probe batch").
  std::string description;
  // Set when the requested format could not run here and float32 runs instead.
  std::string fallback_warning;
};

// Parses --dtype: "f32" (or "fp32"), "bf16", "int8" or "auto". Throws Error(kInvalidArgument).
// Returns false for auto, true (and sets *precision) otherwise.
bool parse_dtype(const std::string& dtype, Precision* precision);

// Loads `dir` in the format `dtype` names. A format this CPU cannot run falls back to float32 with
// a warning. For "auto", float32 is loaded first and its embeddings of `probe` compared with those
// of int8, then bf16 (each only where the CPU has the instructions); the first that keeps every
// row's cosine at or above its bound wins, else float32.
ChosenModel load_with_dtype(const std::filesystem::path& dir, BertModelOptions options, const std::string& dtype,
                            const PackedBatch& probe);

// The smallest cosine similarity between matching rows of two [rows, dim] matrices.
double min_row_cosine(const std::vector<float>& a, const std::vector<float>& b, int64_t dim);

// English sentences of varied length (a few tokens to a few hundred) for the probe batch.
const std::vector<std::string>& precision_probe_texts();

}  // namespace salvo
