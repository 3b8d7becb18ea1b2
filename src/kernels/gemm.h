// Matrix products: the one place that knows which GEMM library runs them.
//
// Everything is row-major float32. Linear layers go through PackedLinear, whose weights are
// prepared once at model load in the layout the backend runs fastest; small per-head attention
// products go through gemm(), which is single-threaded so callers can run many at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

// A linear layer y = x * W^T + b with W in PyTorch's [out_features, in_features] layout,
// prepared once and then applied to activations of any row count. Uses all OpenMP threads.
class PackedLinear {
 public:
  // `weight` is [n, k] row-major, `bias` has n entries or is null. Both are copied.
  PackedLinear(const float* weight, const float* bias, int64_t n, int64_t k, GemmBackend backend);
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  PackedLinear& operator=(PackedLinear&&) noexcept;

  // y[m, n] = x[m, k] * W^T + b. x and y are dense row-major; m may be any value >= 0.
  void forward(const float* x, int64_t m, float* y) const;

  int64_t out_features() const;
  int64_t in_features() const;

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
