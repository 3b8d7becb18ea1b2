// Matrix products: the one place that knows which GEMM library runs them.
//
// Everything is row-major float32. Linear layers go through PackedLinear, whose weights are
// prepared once at model load in the layout the backend runs fastest; small per-head attention
// products go through gemm(), which is single-threaded so callers can run many at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kernels/activations.h"

namespace salvo {

// The library behind PackedLinear. Which is fastest on which machine is measured by
// tools/bench/gemm_bench (see docs/benchmarks.md).
enum class GemmBackend {
  kOneDnn,    // oneDNN matmul primitives with pre-packed weights (Debian's libdnnl, OpenMP)
  kOpenBlas,  // cblas_sgemm from OpenBLAS
};

// The backend used when the user does not pick one.
GemmBackend default_gemm_backend();
// Parses "onednn" / "openblas"; throws salvo::Error(kInvalidArgument) otherwise.
GemmBackend parse_gemm_backend(const std::string& name);
const char* gemm_backend_name(GemmBackend backend);

// Number format of a linear layer's weights and of its activations inside the matrix product.
// Inputs and outputs of forward() stay float32 in every mode.
enum class Precision {
  kF32,   // float32 throughout: the reference the parity tests hold against PyTorch
  kBF16,  // bfloat16 weights and activations (rounded to nearest even), float32 accumulation
  kInt8,  // int8 weights (symmetric, per output channel) and uint8 activations (asymmetric, per
          // row, quantised at every call), int32 accumulation, float32 output
};

// Parses "f32" / "fp32", "bf16", "int8"; throws salvo::Error(kInvalidArgument) otherwise.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);
// Empty when this CPU and the oneDNN build run `precision` with native instructions (decided at
// run time from oneDNN's effective ISA, which ONEDNN_MAX_CPU_ISA can lower, and from the
// implementation oneDNN picks); otherwise why not, e.g. "bf16 needs AVX512_BF16 ...".
std::string precision_unavailable_reason(Precision precision);

// Work PackedLinear::forward folds into the matrix product's output stage, so that it costs no
// separate pass over y: y = activation(x W^T + b [+ y as found on entry]).
struct LinearEpilogue {
  // Applied last, element-wise. f32 / bf16 on oneDNN run oneDNN's own GELU (a different erf /
  // tanh approximation from apply_activation's, equally within ~1e-6); OpenBLAS and int8 run
  // salvo's (kernels/activations.h) on each row while it is in cache.
  std::optional<Activation> activation;
  // When true, forward() adds what y holds on entry (a residual) instead of overwriting it.
  bool accumulate = false;
};

// A linear layer y = x * W^T + b with W in PyTorch's [out_features, in_features] layout,
// prepared once and then applied to activations of any row count. Uses all OpenMP threads.
class PackedLinear {
 public:
  // `weight` is [n, k] row-major, `bias` has n entries or is null. Both are copied (and for
  // bf16 / int8 converted once). Precisions other than kF32 need the oneDNN backend
  // (Error kInvalidArgument otherwise) and a CPU that runs them natively (Error kBackend with
  // precision_unavailable_reason() otherwise, so callers can fall back). `epilogue` is fixed for
  // the layer's lifetime.
  //
  // `input_smoothing` (int8 only, k positive finite factors s, or null) moves the activations'
  // outlier channels into the weights (SmoothQuant, Xiao et al. 2023): column p of W is
  // multiplied by s[p] before it is quantised, and x[:, p] divided by it as each row is
  // quantised, so x W^T is unchanged while one row scale no longer has to span a few channels
  // far larger than the rest. Error kInvalidArgument for another precision or a bad factor.
  PackedLinear(const float* weight, const float* bias, int64_t n, int64_t k, GemmBackend backend,
               Precision precision = Precision::kF32, LinearEpilogue epilogue = {},
               const float* input_smoothing = nullptr);
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  PackedLinear& operator=(PackedLinear&&) noexcept;

  // y[m, n] = x[m, k] * W^T + b, then the epilogue: with accumulate, y must hold the residual
  // on entry; with an activation it is applied last. x and y are dense row-major and must not
  // overlap; m may be any value >= 0. In bf16 and int8 modes x is converted / quantised into a
  // per-thread buffer first.
  void forward(const float* x, int64_t m, float* y) const;

  int64_t out_features() const;
  int64_t in_features() const;
  Precision precision() const;
  const LinearEpilogue& epilogue() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// c[m, n] = alpha * a[m, k] * op(b) + beta * c, op(b) = b [k, n] or, when transpose_b, b^T with
// b stored [n, k]. Leading dimensions are in elements. Single-threaded: safe to call from many
// threads at once (inside an OpenMP parallel loop).
void gemm(bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace salvo
