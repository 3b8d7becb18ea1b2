#include "model/text_model.h"


#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model/bert_model.h"
#include "salvo/error.h"
#include "text/tokenizer.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

std::string format_cosine(double cosine) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.5f", cosine);
  return buffer;
}

Precision precision_of(DType dtype) {
  switch (dtype) {
    case DType::kBF16: return Precision::kBF16;
    case DType::kInt8: return Precision::kInt8;
    default: return Precision::kF32;
  }
}

DType dtype_of(Precision precision) {
  switch (precision) {
    case Precision::kBF16: return DType::kBF16;
    case Precision::kInt8: return DType::kInt8;
    case Precision::kF32: return DType::kF32;
  }
  return DType::kF32;
}

// The instructions behind each format, for the line that says which path runs.
std::string with_instructions(Precision precision) {
  switch (precision) {
    case Precision::kF32: return "f32";
    case Precision::kBF16: return "bf16 (AVX512_BF16)";
    case Precision::kInt8: return "int8 (AVX512_VNNI)";
  }
  return "?";
}

class TextReplica : public ModelReplica {
 public:
  explicit TextReplica(std::shared_ptr<const BertModel> encoder) : encoder_(std::move(encoder)) {}

  void run(Task task, const PackedBatch& batch, float* out) override {
    switch (task) {
      case Task::kEmbed: encoder_->embed(batch, &scratch_, out); return;
      case Task::kClassify: encoder_->classify(batch, &scratch_, out); return;
      default: throw Error(ErrorCode::kInternal, std::string("a text encoder cannot run ") + task_name(task));
    }
  }

 private:
  std::shared_ptr<const BertModel> encoder_;
  BertScratch scratch_;
};

class TextModel : public ModelImpl {
 public:
  TextModel(Tokenizer tokenizer, std::shared_ptr<const BertModel> encoder, ModelInfo info)
      : tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)) {
    info_ = std::move(info);
  }

  const Tokenizer& tokenizer() const override { return tokenizer_; }

  size_t output_width(Task task) const override {
    if (!encoder_) return 0;
    switch (task) {
      case Task::kEmbed: return static_cast<size_t>(encoder_->config().hidden_size);
      case Task::kClassify: return encoder_->labels().size();
      default: return 0;
    }
  }

  std::unique_ptr<ModelReplica> create_replica() const override { return std::make_unique<TextReplica>(encoder_); }

 private:
  Tokenizer tokenizer_;
  std::shared_ptr<const BertModel> encoder_;
};

// The probe batch kAuto compares number formats on, tokenized as the job's rows will be.
PackedBatch probe_batch(const Tokenizer& tokenizer) {
  PackedBatch batch;
  batch.offsets.push_back(0);
  Encoding encoding;
  for (const std::string& text : precision_probe_texts()) {
    tokenizer.encode(text, &encoding);
    batch.ids.insert(batch.ids.end(), encoding.ids.begin(), encoding.ids.end());
    batch.type_ids.insert(batch.type_ids.end(), encoding.type_ids.begin(), encoding.type_ids.end());
    batch.offsets.push_back(static_cast<int32_t>(batch.ids.size()));
  }
  return batch;
}

std::vector<float> embed_probe(const BertModel& model, const PackedBatch& probe) {
  std::vector<float> out(probe.rows() * model.config().hidden_size);
  BertScratch scratch;
  model.embed(probe, &scratch, out.data());
  return out;
}

// A model in the format `dtype` asks for; `description` says which runs and, for kAuto, why.
std::unique_ptr<BertModel> load_encoder(const fs::path& dir, BertModelOptions options, DType dtype,
                                        const PackedBatch& probe, const LogCallback& log,
                                        std::string* description) {
  if (dtype != DType::kAuto) {
    Precision requested = precision_of(dtype);
    if (requested != Precision::kF32) {
      const std::string why = precision_unavailable_reason(requested);
      if (!why.empty()) {
        if (log) {
          log(LogLevel::kWarning, std::string("dtype ") + dtype_name(dtype) + " cannot run here (" + why +
                                      "); running f32");
        }
        requested = Precision::kF32;
      }
    }
    options.precision = requested;
    *description = with_instructions(requested);
    return BertModel::load(dir, options);
  }

  options.precision = Precision::kF32;
  std::unique_ptr<BertModel> chosen = BertModel::load(dir, options);
  const std::vector<float> reference = embed_probe(*chosen, probe);
  const int64_t dim = chosen->config().hidden_size;
  std::string tried;
  for (const auto& [candidate, bound] :
       {std::pair{Precision::kInt8, kMinCosineInt8}, std::pair{Precision::kBF16, kMinCosineBf16}}) {
    const std::string why = precision_unavailable_reason(candidate);
    if (!why.empty()) {
      tried += std::string(tried.empty() ? "" : "; ") + precision_name(candidate) + " unavailable: " + why;
      continue;
    }
    options.precision = candidate;
    std::unique_ptr<BertModel> model = BertModel::load(dir, options);
    const double cosine = min_row_cosine(reference, embed_probe(*model, probe), dim);
    if (cosine >= bound) {
      *description = with_instructions(candidate) + ", chosen by dtype auto: min cosine " + format_cosine(cosine) +
                     " to f32 on the probe batch (bound " + format_cosine(bound) + ")";
      return model;
    }
    tried += std::string(tried.empty() ? "" : "; ") + precision_name(candidate) + " min cosine " +
             format_cosine(cosine) + " < " + format_cosine(bound);
  }
  *description = "f32, chosen by dtype auto (" + tried + ")";
  return chosen;
}

// Sequence length limit: `requested` when non-zero, else the tokenizer's truncation, else the
// model's positions.
size_t resolve_max_length(size_t requested, const Tokenizer& tokenizer, int64_t positions) {
  if (requested > 0) {
    if (requested < 2) throw Error(ErrorCode::kInvalidArgument, "max length must be at least 2");
    if (positions > 0 && requested > static_cast<size_t>(positions)) {
      throw Error(ErrorCode::kInvalidArgument, "max length " + std::to_string(requested) +
                                                   " is over the model's max_position_embeddings (" +
                                                   std::to_string(positions) + ")");
    }
    return requested;
  }
  size_t limit = tokenizer.max_length();
  if (limit == 0 || (positions > 0 && limit > static_cast<size_t>(positions))) {
    limit = positions > 0 ? static_cast<size_t>(positions) : 512;
  }
  return limit;
}

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls: return "CLS";
    case Pooling::kMean: return "mean";
    case Pooling::kMax: return "max";
  }
  return "?";
}

}  // namespace

std::shared_ptr<const ModelImpl> load_text_model(const fs::path& dir, const ModelOptions& options) {
  Tokenizer tokenizer = Tokenizer::from_model_dir(dir);
  if (options.tokenizer_only) {
    int64_t positions = 0;
    if (fs::exists(dir / "config.json")) positions = BertConfig::from_json_file(dir / "config.json").max_position_embeddings;
    tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, positions));
    ModelInfo info;
    info.path = dir;
    info.architecture = "tokenizer";
    info.summary = "tokenizer only";
    info.tasks = {Task::kTokenize};
    info.max_length = tokenizer.max_length();
    info.tokenizer = "WordPiece";
    return std::make_shared<TextModel>(std::move(tokenizer), nullptr, std::move(info));
  }
  BertModelOptions encoder_options;
  if (!options.gemm.empty()) encoder_options.gemm = parse_gemm_backend(options.gemm);
  if (options.dtype != DType::kF32 && encoder_options.gemm != GemmBackend::kOneDnn) {
    throw Error(ErrorCode::kInvalidArgument, std::string("dtype ") + dtype_name(options.dtype) +
                                                 " needs the onednn matrix library (OpenBLAS runs f32 only)");
  }
  PackedBatch probe;
  if (options.dtype == DType::kAuto) {
    // The probe is tokenized with the job's length limit, which never exceeds the model's positions.
    Tokenizer probe_tokenizer = tokenizer;
    const BertConfig config = BertConfig::from_json_file(dir / "config.json");
    probe_tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, config.max_position_embeddings));
    probe = probe_batch(probe_tokenizer);
  }
  std::string compute;
  std::shared_ptr<const BertModel> encoder =
      load_encoder(dir, encoder_options, options.dtype, probe, options.log, &compute);
  const BertConfig& c = encoder->config();
  if (static_cast<int64_t>(tokenizer.vocab_size()) > c.vocab_size) {
    throw Error(ErrorCode::kModel, (dir / "config.json").string() + ": the tokenizer has " +
                                       std::to_string(tokenizer.vocab_size()) + " tokens but vocab_size is " +
                                       std::to_string(c.vocab_size));
  }
  tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, c.max_position_embeddings));

  ModelInfo info;
  info.path = dir;
  info.architecture = c.model_type;
  info.summary = std::to_string(c.num_hidden_layers) + " layers, hidden " + std::to_string(c.hidden_size) + ", " +
                 compute + ", " + gemm_backend_name(encoder_options.gemm);
  info.tasks = {Task::kEmbed, Task::kTokenize};
  if (encoder->has_classifier()) info.tasks.push_back(Task::kClassify);
  info.hidden_size = c.hidden_size;
  info.num_layers = c.num_hidden_layers;
  info.labels = encoder->labels();
  info.max_length = tokenizer.max_length();
  info.pooling = std::string(pooling_name(encoder->pooling())) + " pooling" +
                 (encoder->normalize() ? " + L2 normalisation" : "") +
                 (encoder->from_sentence_transformers() ? " (from modules.json)" : " (default)");
  info.tokenizer = "WordPiece";
  info.dtype = dtype_of(encoder->precision());
  return std::make_shared<TextModel>(std::move(tokenizer), std::move(encoder), std::move(info));
}

double min_row_cosine(const std::vector<float>& a, const std::vector<float>& b, int64_t dim) {
  double worst = 1.0;
  const size_t rows = dim > 0 ? std::min(a.size(), b.size()) / dim : 0;
  for (size_t r = 0; r < rows; ++r) {
    double dot = 0.0, aa = 0.0, bb = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const double x = a[r * dim + i];
      const double y = b[r * dim + i];
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    const double cosine = aa > 0.0 && bb > 0.0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    worst = std::min(worst, std::isnan(cosine) ? -1.0 : cosine);
  }
  return worst;
}


const std::vector<std::string>& precision_probe_texts() {
  // Debian-style package descriptions and everyday sentences: short, medium and long rows, so
  // the probe sees the activation ranges of real text at several sequence lengths.
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> t = {
        "hello world",
        "The quick brown fox jumps over the lazy dog.",
        "command-line tool to convert between image formats",
        "Python 3 bindings for the GTK+ graphical user interface library",
        "This package contains the shared library needed by programs linked against it.",
        "A fast, reliable and secure dependency manager with offline caching and deterministic installs.",
        "Where is the nearest train station? I would like to buy two tickets to Berlin for tomorrow morning.",
        "The server failed to start because port 8080 was already in use; stop the other process and retry.",
        "Monitoring daemon that collects system metrics (CPU, memory, disk and network usage) every ten seconds "
        "and writes them to a round-robin database, with a web interface that draws graphs over hours, days, "
        "weeks and years.",
    };
    std::string long_text;
    for (int i = 0; i < 6; ++i) {
      long_text +=
          "GNU Emacs is the extensible self-documenting text editor. This package contains the documentation, "
          "the Lisp sources and the support files for major modes, spell checking and version control. ";
    }
    t.push_back(long_text);
    return t;
  }();
  return texts;
}

}  // namespace salvo
