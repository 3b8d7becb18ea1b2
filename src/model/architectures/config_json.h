// Typed reads of a Hugging Face config.json, with errors that name the file and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/activations.h"
#include "model/encoder_config.h"

namespace salvo {

class ConfigJson {
 public:
  // `source` names the config in error messages (its path).
  ConfigJson(nlohmann::json json, std::string source);
  // Reads and parses a config.json; throws salvo::Error(kModel) if it cannot be read or parsed,
  // or is not an object.
  static ConfigJson from_file(const std::filesystem::path& path);

  const nlohmann::json& json() const { return json_; }
  const std::string& source() const { return source_; }
  bool has(const char* key) const;
  // The "model_type" string; throws if missing.
  std::string model_type() const;

  // `key` as an integer >= min; `fallback` when absent or null.
  int64_t integer(const char* key, int64_t fallback, int64_t min = 0) const;
  // `key` as a positive number; `fallback` when absent.
  float positive_number(const char* key, float fallback) const;
  // `key` as a string; `fallback` when absent or null.
  std::string string(const char* key, const std::string& fallback) const;
  // `key` as an activation name (gelu, gelu_new, gelu_pytorch_tanh, relu); the name goes to
  // *name. Throws for others.
  Activation activation(const char* key, const std::string& fallback, std::string* name) const;

  // Throws salvo::Error(kModel) "<source>: <why>".
  [[noreturn]] void fail(const std::string& why) const;

  // Reads what every architecture shares (id2label, problem_type) into `config` and checks the
  // sizes it holds (heads divide hidden_size, padding_idx inside the vocabulary, ...).
  void finish(EncoderConfig* config) const;

 private:
  nlohmann::json json_;
  std::string source_;
};

}  // namespace salvo
