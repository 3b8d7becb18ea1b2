// A loaded model: immutable, shared by every thread and session that uses it. Its weights are
// loaded once; per-thread working memory lives in replicas that sessions create.
#pragma once

#include "salvo/export.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "salvo/types.h"

namespace salvo {

// What a loaded model is and what it can do.
struct SALVO_API ModelInfo {
  std::filesystem::path path;
  std::string architecture;  // config.json's model_type ("bert", "roberta", ...) or "torchscript"
  std::string summary;       // for a start line: "4 layers, hidden 128, f32, onednn"
  std::vector<Task> tasks;   // the tasks it serves
  int64_t hidden_size = 0;   // embedding width
  int64_t num_layers = 0;
  std::vector<std::string> labels;  // classification labels in id order (empty without a head)
  size_t max_length = 0;     // tokens per sequence the session truncates to
  std::string pooling;       // how embed pools: "mean pooling + L2 normalisation (from modules.json)"
  std::string head;          // what classify / score give, and from which tensors: "classifier.dense +
                             // tanh + classifier.out_proj on the first token: classify = softmax over 3
                             // labels"; empty without a classification head
  std::string tokenizer;     // which tokenizer: "WordPiece (BertPreTokenizer), BertProcessing"
  DType dtype = DType::kF32;  // the number format that runs (never kAuto)

  bool serves(Task task) const;
};

// A model ready to run. Obtain one with load_model(); share it freely (it is const and
// thread-safe); run it through a Session.
class SALVO_API Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
};

// Loads a model folder: a Hugging Face checkpoint (config.json, weights, tokenizer.json) of a
// supported architecture. Throws salvo::Error(kModel) naming the file and the problem for anything
// missing, corrupt or unsupported, kInvalidArgument for bad options.
SALVO_API std::shared_ptr<const Model> load_model(const std::filesystem::path& path, const ModelOptions& options = {});

}  // namespace salvo
