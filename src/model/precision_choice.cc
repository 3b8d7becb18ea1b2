#include "model/precision_choice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace salvo {
namespace {

std::string format_cosine(double cosine) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.5f", cosine);
  return buffer;
}

// The instructions behind each format, for the line that says which path runs.
std::string with_instructions(Precision precision) {
  switch (precision) {
    case Precision::kF32:
      return "f32";
    case Precision::kBF16:
      return "bf16 (AVX512_BF16)";
    case Precision::kInt8:
      return "int8 (AVX512_VNNI)";
  }
  return "?";
}

std::vector<float> embed_probe(BertModel& model, const PackedBatch& probe) {
  std::vector<float> out(probe.rows() * model.config().hidden_size);
  model.embed(probe, out.data());
  return out;
}

}  // namespace

bool parse_dtype(const std::string& dtype, Precision* precision) {
  if (dtype == "auto") return false;
  try {
    *precision = parse_precision(dtype);
  } catch (const Error&) {
    throw Error(ErrorCode::kInvalidArgument,
                "--dtype " + dtype + ": expected f32, bf16, int8 or auto");
  }
  return true;
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

ChosenModel load_with_dtype(const std::filesystem::path& dir, BertModelOptions options, const std::string& dtype,
                            const PackedBatch& probe) {
  Precision requested = Precision::kF32;
  if (parse_dtype(dtype, &requested)) {
    ChosenModel chosen;
    if (requested != Precision::kF32) {
      const std::string why = precision_unavailable_reason(requested);
      if (!why.empty()) {
        chosen.fallback_warning = "--dtype " + dtype + " cannot run here (" + why + "); running f32";
        requested = Precision::kF32;
      }
    }
    options.precision = requested;
    chosen.model = BertModel::load(dir, options);
    chosen.description = with_instructions(requested);
    return chosen;
  }

  options.precision = Precision::kF32;
  ChosenModel chosen{BertModel::load(dir, options), "f32", ""};
  if (probe.rows() == 0) {
    chosen.description = "f32, chosen by --dtype auto (no probe batch)";
    return chosen;
  }
  const std::vector<float> reference = embed_probe(*chosen.model, probe);
  const int64_t dim = chosen.model->config().hidden_size;
  std::string tried;
  for (const auto& [candidate, bound] : {std::pair{Precision::kInt8, kMinCosineInt8},
                                         std::pair{Precision::kBF16, kMinCosineBf16}}) {
    const std::string why = precision_unavailable_reason(candidate);
    if (!why.empty()) {
      tried += std::string(tried.empty() ? "" : "; ") + precision_name(candidate) + " unavailable: " + why;
      continue;
    }
    options.precision = candidate;
    std::unique_ptr<BertModel> model = BertModel::load(dir, options);
    const double cosine = min_row_cosine(reference, embed_probe(*model, probe), dim);
    if (cosine >= bound) {
      chosen.model = std::move(model);
      chosen.description = with_instructions(candidate) + ", chosen by --dtype auto: min cosine " +
                           format_cosine(cosine) + " to f32 on the probe batch (bound " + format_cosine(bound) + ")";
      return chosen;
    }
    tried += std::string(tried.empty() ? "" : "; ") + precision_name(candidate) + " min cosine " +
             format_cosine(cosine) + " < " + format_cosine(bound);
  }
  chosen.description = "f32, chosen by --dtype auto (" + tried + ")";
  return chosen;
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
