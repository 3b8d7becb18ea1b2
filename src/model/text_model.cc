#include "model/text_model.h"


#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model/transformer_encoder.h"
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
    case Precision::kInt8: return "int8 (AVX512_VNNI; activations smoothed on the probe batch)";
  }
  return "?";
}

class TextReplica : public ModelReplica {
 public:
  explicit TextReplica(std::shared_ptr<const TransformerEncoder> encoder) : encoder_(std::move(encoder)) {}

  void run(Task task, const PackedBatch& batch, float* out) override {
    switch (task) {
      case Task::kEmbed: encoder_->embed(batch, &scratch_, out); return;
      case Task::kClassify: encoder_->classify(batch, &scratch_, out); return;
      case Task::kScore: encoder_->score(batch, &scratch_, out); return;
      default: throw Error(ErrorCode::kInternal, std::string("a text encoder cannot run ") + task_name(task));
    }
  }

 private:
  std::shared_ptr<const TransformerEncoder> encoder_;
  EncoderScratch scratch_;
};

class TextModel : public ModelImpl {
 public:
  TextModel(Tokenizer tokenizer, std::shared_ptr<const TransformerEncoder> encoder, ModelInfo info)
      : tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)) {
    info_ = std::move(info);
  }

  const Tokenizer& tokenizer() const override { return tokenizer_; }

  size_t max_tokens() const override { return encoder_ ? static_cast<size_t>(encoder_->config().max_tokens()) : 0; }

  size_t output_width(Task task) const override {
    if (!encoder_) return 0;
    switch (task) {
      case Task::kEmbed: return static_cast<size_t>(encoder_->config().hidden_size);
      case Task::kClassify: return encoder_->labels().size();
      case Task::kScore: return encoder_->has_score() ? 1 : 0;
      default: return 0;
    }
  }

  std::unique_ptr<ModelReplica> create_replica() const override { return std::make_unique<TextReplica>(encoder_); }

 private:
  Tokenizer tokenizer_;
  std::shared_ptr<const TransformerEncoder> encoder_;
};

// The probe batch kAuto compares number formats on and int8 calibrates on, tokenized as the job's
// rows will be.
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

// What kAuto compares between number formats on the probe batch: the pooled embeddings and, when
// the model has a classification head, the first token's final state the head reads.
struct ProbeOutputs {
  std::vector<float> embeddings;
  std::vector<float> first_tokens;
};

ProbeOutputs run_probe(const TransformerEncoder& model, const PackedBatch& probe) {
  const int64_t h = model.config().hidden_size;
  ProbeOutputs out;
  EncoderScratch scratch;
  out.embeddings.resize(probe.rows() * h);
  model.embed(probe, &scratch, out.embeddings.data());
  if (model.has_classifier()) {
    std::vector<float> hidden(probe.tokens() * h);
    model.hidden_states(probe, &scratch, hidden.data());
    for (size_t r = 0; r < probe.rows(); ++r) {
      const float* first = hidden.data() + int64_t{probe.offsets[r]} * h;
      out.first_tokens.insert(out.first_tokens.end(), first, first + h);
    }
  }
  return out;
}

// The smallest row cosine between a candidate's probe outputs and float32's.
double probe_cosine(const ProbeOutputs& reference, const ProbeOutputs& candidate, int64_t dim) {
  double cosine = min_row_cosine(reference.embeddings, candidate.embeddings, dim);
  if (!reference.first_tokens.empty()) {
    cosine = std::min(cosine, min_row_cosine(reference.first_tokens, candidate.first_tokens, dim));
  }
  return cosine;
}

// A model in the format `dtype` asks for; `description` says which runs and, for kAuto, why.
std::unique_ptr<TransformerEncoder> load_encoder(const fs::path& dir, EncoderOptions options, DType dtype,
                                        const PackedBatch& probe, const LogCallback& log,
                                        std::string* description) {
  // int8 smooths its products' inputs with the activations of the probe batch.
  if (probe.tokens() > 0) options.calibration = &probe;
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
    return TransformerEncoder::load(dir, options);
  }

  options.precision = Precision::kF32;
  std::unique_ptr<TransformerEncoder> chosen = TransformerEncoder::load(dir, options);
  const ProbeOutputs reference = run_probe(*chosen, probe);
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
    std::unique_ptr<TransformerEncoder> model = TransformerEncoder::load(dir, options);
    const double cosine = probe_cosine(reference, run_probe(*model, probe), dim);
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

// Sequence length limit: `requested` when non-zero, else sentence_bert_config.json's
// max_seq_length (what sentence-transformers truncates to), else the tokenizer's truncation, else
// the model's positions; never more than the positions.
size_t resolve_max_length(size_t requested, const Tokenizer& tokenizer, size_t max_seq_length, int64_t positions) {
  if (requested > 0) {
    if (requested < 2) throw Error(ErrorCode::kInvalidArgument, "max length must be at least 2");
    if (positions > 0 && requested > static_cast<size_t>(positions)) {
      throw Error(ErrorCode::kInvalidArgument, "max length " + std::to_string(requested) +
                                                   " is over the model's max_position_embeddings (" +
                                                   std::to_string(positions) + ")");
    }
    return requested;
  }
  size_t limit = max_seq_length > 0 ? max_seq_length : tokenizer.max_length();
  if (limit == 0 || (positions > 0 && limit > static_cast<size_t>(positions))) {
    limit = positions > 0 ? static_cast<size_t>(positions) : 512;
  }
  return limit;
}

// What classify and score give, for ModelInfo::head.
std::string describe_head(const TransformerEncoder& encoder) {
  if (!encoder.has_classifier()) return "";
  const size_t labels = encoder.labels().size();
  std::string head = encoder.classifier_description() + " on the first token: ";
  if (encoder.has_score()) {
    head += std::string("score = ") + score_activation_name(encoder.score_activation()) + "(logit)";
    head += encoder.sentence_transformers().score_activation ? " (" + encoder.sentence_transformers().score_activation_source + ")"
                                                            : " (sentence-transformers' default for one label)";
    if (encoder.classifier_output() == ClassifierOutput::kSigmoid) head += "; classify = sigmoid (multi-label)";
    return head;
  }
  if (encoder.classifier_output() == ClassifierOutput::kSigmoid) {
    return head + "classify = a sigmoid per label over " + std::to_string(labels) +
           " labels (problem_type multi_label_classification)";
  }
  return head + "classify = softmax over " + std::to_string(labels) + " labels";
}

}  // namespace

std::shared_ptr<const ModelImpl> load_text_model(const fs::path& dir, const ModelOptions& options) {
  Tokenizer tokenizer = Tokenizer::from_model_dir(dir);
  if (options.tokenizer_only) {
    int64_t positions = 0;
    size_t max_seq_length = 0;
    const SentenceTransformersConfig sentence = read_sentence_transformers_config(dir);
    if (fs::exists(sentence.transformer_dir / "config.json")) {
      positions = read_encoder_config(dir).max_tokens();
      max_seq_length = sentence.max_seq_length;
    }
    tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, max_seq_length, positions));
    ModelInfo info;
    info.path = dir;
    info.architecture = "tokenizer";
    info.summary = "tokenizer only";
    info.tasks = {Task::kTokenize};
    info.max_length = tokenizer.max_length();
    info.tokenizer = tokenizer.describe();
    return std::make_shared<TextModel>(std::move(tokenizer), nullptr, std::move(info));
  }
  EncoderOptions encoder_options;
  if (!options.gemm.empty()) encoder_options.gemm = parse_gemm_backend(options.gemm);
  if (options.dtype != DType::kF32 && encoder_options.gemm != GemmBackend::kOneDnn) {
    throw Error(ErrorCode::kInvalidArgument, std::string("dtype ") + dtype_name(options.dtype) +
                                                 " needs the onednn matrix library (OpenBLAS runs f32 only)");
  }
  const size_t max_seq_length = read_sentence_transformers_config(dir).max_seq_length;
  PackedBatch probe;
  if (options.dtype == DType::kAuto || options.dtype == DType::kInt8) {
    // The probe is tokenized with the job's length limit, which never exceeds the model's positions.
    Tokenizer probe_tokenizer = tokenizer;
    const EncoderConfig config = read_encoder_config(dir);
    probe_tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, max_seq_length, config.max_tokens()));
    probe = probe_batch(probe_tokenizer);
  }
  std::string compute;
  std::shared_ptr<const TransformerEncoder> encoder =
      load_encoder(dir, encoder_options, options.dtype, probe, options.log, &compute);
  const EncoderConfig& c = encoder->config();
  if (static_cast<int64_t>(tokenizer.vocab_size()) > c.vocab_size) {
    throw Error(ErrorCode::kModel, (dir / "config.json").string() + ": the tokenizer has " +
                                       std::to_string(tokenizer.vocab_size()) + " tokens but vocab_size is " +
                                       std::to_string(c.vocab_size));
  }
  tokenizer.set_max_length(resolve_max_length(options.max_length, tokenizer, max_seq_length, c.max_tokens()));

  const SentenceTransformersConfig& sentence = encoder->sentence_transformers();
  ModelInfo info;
  info.path = dir;
  info.architecture = c.model_type;
  info.summary = std::to_string(c.num_layers) + " layers, hidden " + std::to_string(c.hidden_size) + ", " + compute +
                 ", " + gemm_backend_name(encoder_options.gemm);
  info.tasks = {Task::kEmbed, Task::kTokenize};
  // A one-output head is a cross-encoder (score); softmax over one label would always give 1.
  if (encoder->has_classifier() &&
      (!encoder->has_score() || encoder->classifier_output() == ClassifierOutput::kSigmoid)) {
    info.tasks.push_back(Task::kClassify);
  }
  if (encoder->has_score()) info.tasks.push_back(Task::kScore);
  info.hidden_size = c.hidden_size;
  info.num_layers = c.num_layers;
  info.labels = encoder->labels();
  info.max_length = tokenizer.max_length();
  info.pooling = std::string(pooling_name(sentence.pooling)) + " pooling" +
                 (sentence.normalize ? " + L2 normalisation" : "") +
                 (sentence.has_pooling ? " (from modules.json)" : " (default)");
  info.head = describe_head(*encoder);
  info.tokenizer = tokenizer.describe();
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
  // Package-description style and everyday sentences in the languages of the test corpus, short,
  // medium and long, with digits, punctuation and identifiers: real models' outlier activations
  // depend on script and length, so the probe must see all of them.
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> t = {
        "hello world",
        "OK",
        "The quick brown fox jumps over the lazy dog.",
        "command-line tool to convert between image formats",
        "Python 3 bindings for the GTK+ graphical user interface library",
        "This package contains the shared library needed by programs linked against it.",
        "Where is the nearest train station? I would like to buy two tickets to Berlin for tomorrow morning.",
        "The server failed to start because port 8080 was already in use; stop the other process and retry.",
        "Werkzeug zum Umwandeln von Bildern zwischen verschiedenen Dateiformaten",
        "Dieses Paket enthält die gemeinsam genutzte Bibliothek, die von Programmen benötigt wird, die dagegen "
        "gelinkt sind. Die Entwicklungsdateien befinden sich in einem eigenen Paket.",
        "Bibliothèque de traitement du texte : découpage en mots, normalisation Unicode et détection de la langue.",
        "Herramienta de línea de órdenes para sincronizar archivos entre dos equipos a través de la red, "
        "con compresión y reanudación de transferencias interrumpidas.",
        "Утилита командной строки для резервного копирования каталогов с проверкой целостности данных.",
        "画像ファイルの形式を変換するためのコマンドラインツールです。",
        "このパッケージには、プログラムの実行に必要な共有ライブラリが含まれています。開発用のファイルは別のパッケージにあります。",
        "用于在不同图像格式之间转换的命令行工具",
        "该软件包包含运行时所需的共享库。头文件和静态库位于单独的开发软件包中，文档位于文档软件包中。",
        "Monitoring daemon that collects system metrics (CPU, memory, disk and network usage) every ten seconds "
        "and writes them to a round-robin database, with a web interface that draws graphs over hours, days, "
        "weeks and years.",
        "libfoo-dev (>= 2.4.1-3~bpo12+1), zlib1g:amd64, /usr/lib/x86_64-linux-gnu/libfoo.so.2 -- "
        "CFLAGS=-O2 -fstack-protector-strong; see https://example.org/docs#install (v2.4.1, 2024-05-17).",
    };
    std::string english;
    std::string german;
    std::string russian;
    std::string japanese;
    std::string chinese;
    for (int i = 0; i < 5; ++i) {
      english +=
          "GNU Emacs is the extensible self-documenting text editor. This package contains the documentation, "
          "the Lisp sources and the support files for major modes, spell checking and version control. ";
      german +=
          "Der Dienst überwacht Netzwerkgeräte, sammelt Messwerte und benachrichtigt die Verwaltung per E-Mail, "
          "sobald ein Grenzwert überschritten wird oder ein Gerät nicht mehr antwortet. ";
      russian +=
          "Этот пакет содержит документацию, исходные тексты и вспомогательные файлы для работы с "
          "системой контроля версий, проверкой орфографии и различными режимами редактирования. ";
      japanese += "このプログラムはネットワーク機器を監視し、しきい値を超えた場合や応答がない場合に管理者へ電子メールで通知します。";
      chinese += "该服务监控网络设备，收集测量数据，并在超过阈值或设备不再响应时通过电子邮件通知管理员。";
    }
    for (std::string* text : {&english, &german, &russian, &japanese, &chinese}) t.push_back(*text);
    return t;
  }();
  return texts;
}

}  // namespace salvo
