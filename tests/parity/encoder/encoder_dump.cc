// Runs the native encoder on token id sequences from a JSON file and writes its outputs as .npy,
// for the parity tests against transformers; with --bench it times hidden_states instead.
//
//   encoder_dump MODEL_DIR INPUT.json OUT_DIR [--gemm onednn|openblas] [--dtype f32|bf16|int8]
//                [--plan DEFAULT,PART@LAYERS=FORMAT,...] [--bench REPEATS]
//
// INPUT.json: {"ids": [[101, 7, 102], ...], "type_ids": [[0, 0, 0], ...]} (type_ids optional).
// OUT_DIR receives hidden.npy [tokens, hidden], embed.npy [rows, hidden]; with a classification
// head logits.npy and probs.npy [rows, labels], and score.npy [rows, 1] for a one-output head; and
// info.json (architecture, pooling, normalize, labels, head, score activation, max tokens).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/transformer_encoder.h"

namespace {

void write_npy(const std::filesystem::path& path, const std::vector<float>& data, size_t rows,
               size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(float)));
  if (!out) throw salvo::Error(salvo::ErrorCode::kIo, path.string() + ": write failed");
}

// "--plan DEFAULT[,PART[@FIRST[-LAST]]=FORMAT...]": every product in DEFAULT, except the named
// products (qkv, attention_output, intermediate, output or all; attention, whose products take f32
// or bf16) of the named layers. DEFAULT int8 runs attention in f32. E.g. "int8,output=bf16",
// "f32,all@3=int8" or "bf16,attention=f32".
std::function<salvo::LayerPrecision(int64_t, int64_t)> parse_plan(const std::string& spec) {
  struct Override {
    std::string part;
    int64_t first, last;
    salvo::Precision precision;
  };
  std::vector<std::string> items;
  for (size_t begin = 0; begin <= spec.size();) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    items.push_back(spec.substr(begin, end - begin));
    begin = end + 1;
  }
  const salvo::Precision base = salvo::parse_precision(items.at(0));
  std::vector<Override> overrides;
  for (size_t i = 1; i < items.size(); ++i) {
    const size_t eq = items[i].find('=');
    if (eq == std::string::npos) throw salvo::Error(salvo::ErrorCode::kInvalidArgument, "bad plan item " + items[i]);
    std::string part = items[i].substr(0, eq);
    int64_t first = 0, last = 1 << 30;
    if (const size_t at = part.find('@'); at != std::string::npos) {
      const std::string range = part.substr(at + 1);
      part = part.substr(0, at);
      const size_t dash = range.find('-');
      first = std::stoll(range.substr(0, dash));
      last = dash == std::string::npos ? first : std::stoll(range.substr(dash + 1));
    }
    overrides.push_back({part, first, last, salvo::parse_precision(items[i].substr(eq + 1))});
  }
  return [base, overrides](int64_t layer, int64_t) {
    const salvo::Precision attention = base == salvo::Precision::kInt8 ? salvo::Precision::kF32 : base;
    salvo::LayerPrecision p{base, base, base, base, {attention, attention}};
    for (const Override& o : overrides) {
      if (layer < o.first || layer > o.last) continue;
      if (o.part == "qkv" || o.part == "all") p.qkv = o.precision;
      if (o.part == "attention_output" || o.part == "all") p.attention_output = o.precision;
      if (o.part == "intermediate" || o.part == "all") p.intermediate = o.precision;
      if (o.part == "output" || o.part == "all") p.output = o.precision;
      if (o.part == "attention") p.attention = {o.precision, o.precision};
    }
    return p;
  };
}

salvo::PackedBatch read_batch(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw salvo::Error(salvo::ErrorCode::kIo, path.string() + ": cannot open");
  const nlohmann::json json = nlohmann::json::parse(in);
  salvo::PackedBatch batch;
  batch.offsets.push_back(0);
  const auto& ids = json.at("ids");
  for (size_t r = 0; r < ids.size(); ++r) {
    for (const auto& id : ids[r]) batch.ids.push_back(id.get<int32_t>());
    if (json.contains("type_ids")) {
      for (const auto& t : json["type_ids"][r]) batch.type_ids.push_back(t.get<int32_t>());
    }
    batch.offsets.push_back(static_cast<int32_t>(batch.ids.size()));
  }
  return batch;
}

int run(int argc, char** argv) {
  std::vector<std::string> positional;
  salvo::EncoderOptions options;
  int bench = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--gemm" && i + 1 < argc) {
      options.gemm = salvo::parse_gemm_backend(argv[++i]);
    } else if (arg == "--dtype" && i + 1 < argc) {
      options.precision = salvo::parse_precision(argv[++i]);
    } else if (arg == "--plan" && i + 1 < argc) {
      options.layer_precisions = parse_plan(argv[++i]);
    } else if (arg == "--bench" && i + 1 < argc) {
      bench = std::stoi(argv[++i]);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 3) {
    std::cerr << "usage: encoder_dump MODEL_DIR INPUT.json OUT_DIR [--gemm onednn|openblas] "
                 "[--dtype f32|bf16|int8] [--bench REPEATS]\n";
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto model = salvo::TransformerEncoder::load(positional[0], options);
  salvo::EncoderScratch scratch;
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const salvo::PackedBatch batch = read_batch(positional[1]);
  const size_t h = static_cast<size_t>(model->config().hidden_size);
  std::vector<float> hidden(batch.tokens() * h);

  if (bench > 0) {
    model->hidden_states(batch, &scratch, hidden.data());  // warm-up: scratch buffers, packed weights
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < bench; ++i) model->hidden_states(batch, &scratch, hidden.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "load %.2f s; %zu rows, %zu tokens, %d threads, gemm %s: %.1f ms/batch, "
        "%.0f tokens/s\n",
        load_s, batch.rows(), batch.tokens(), omp_get_max_threads(),
        salvo::gemm_backend_name(options.gemm), 1e3 * s / bench,
        static_cast<double>(batch.tokens()) * bench / s);
    return 0;
  }

  const std::filesystem::path out_dir = positional[2];
  std::filesystem::create_directories(out_dir);
  model->hidden_states(batch, &scratch, hidden.data());
  write_npy(out_dir / "hidden.npy", hidden, batch.tokens(), h);
  std::vector<float> embed(batch.rows() * h);
  model->embed(batch, &scratch, embed.data());
  write_npy(out_dir / "embed.npy", embed, batch.rows(), h);
  const size_t labels = model->labels().size();
  if (model->has_classifier()) {
    std::vector<float> values(batch.rows() * labels);
    model->logits(batch, &scratch, values.data());
    write_npy(out_dir / "logits.npy", values, batch.rows(), labels);
    model->classify(batch, &scratch, values.data());
    write_npy(out_dir / "probs.npy", values, batch.rows(), labels);
  }
  if (model->has_score()) {
    std::vector<float> scores(batch.rows());
    model->score(batch, &scratch, scores.data());
    write_npy(out_dir / "score.npy", scores, batch.rows(), 1);
  }
  const char* pooling = model->pooling() == salvo::Pooling::kCls    ? "cls"
                        : model->pooling() == salvo::Pooling::kMean ? "mean"
                                                                    : "max";
  nlohmann::json info = {
      {"model_type", model->config().model_type},
      {"pooling", pooling},
      {"normalize", model->normalize()},
      {"from_sentence_transformers", model->sentence_transformers().has_pooling},
      {"has_classifier", model->has_classifier()},
      {"labels", model->labels()},
      {"head", model->classifier_description()},
      {"sigmoid", model->classifier_output() == salvo::ClassifierOutput::kSigmoid},
      {"has_score", model->has_score()},
      {"score_activation", salvo::score_activation_name(model->score_activation())},
      {"max_tokens", model->config().max_tokens()}};
  std::ofstream(out_dir / "info.json") << info.dump(2);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "encoder_dump: " << e.what() << "\n";
    return 1;
  }
}
