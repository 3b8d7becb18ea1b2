// Prints, as one JSON object, the ceilings the performance benchmark compares salvo against, all
// measured now on all OpenMP threads:
//   fp32_fma_gflops      the fp32 instruction peak (an AVX-512 or AVX2 FMA loop)
//   bf16_dot_gflops      the bf16 dot-product peak (vdpbf16ps), 0 without AVX512_BF16
//   int8_dot_gops        the int8 dot-product peak (vpdpbusd), 0 without AVX512_VNNI
//   matmul_f32_gflops    salvo's GEMM library at its best shape (PackedLinear, oneDNN, pre-packed
//                        weights, 4096 rows), with the shape that achieved it
//   matmul_bf16_gflops, matmul_int8_gops   the same in salvo's bf16 and int8 PackedLinear (activation
//                        conversion included), 0 where the CPU lacks the instructions
// Usage: machine_peaks [--quick]     (--quick: fewer trials, for tests)
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "peak_loops.h"

namespace {

struct Shape {
  int64_t m, n, k;
};

// Best GFLOP/s of y[m, n] = x[m, k] W^T + b over `trials` timed runs after a warm-up.
double linear_gflops(const Shape& s, salvo::Precision precision, int trials) {
  if (!salvo::precision_unavailable_reason(precision).empty()) return 0.0;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> w(s.n * s.k), b(s.n), x(s.m * s.k), y(s.m * s.n);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  for (float& v : x) v = dist(rng);
  const salvo::PackedLinear linear(w.data(), b.data(), s.n, s.k, salvo::GemmBackend::kOneDnn,
                                   precision);
  linear.forward(x.data(), s.m, y.data());
  double best = 0.0;
  for (int t = 0; t < trials; ++t) {
    const auto start = std::chrono::steady_clock::now();
    linear.forward(x.data(), s.m, y.data());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * s.m * s.n * s.k / seconds / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int trials = quick ? 1 : 5;
  const int64_t iterations = quick ? 1'000'000 : 20'000'000;
  using salvo::bench::PeakKind;
  const double fma = salvo::bench::measure_peak(PeakKind::kFp32Fma, trials, iterations) / 1e9;
  const double bf16 = salvo::bench::measure_peak(PeakKind::kBf16Dot, trials, iterations) / 1e9;
  const double int8 = salvo::bench::measure_peak(PeakKind::kInt8Dot, trials, iterations) / 1e9;

  // BERT-base's four linear shapes and a square one: the library's best is the ceiling.
  const Shape shapes[] = {{4096, 2304, 768}, {4096, 768, 768}, {4096, 3072, 768}, {4096, 768, 3072},
                          {4096, 1024, 1024}};
  double best[3] = {0.0, 0.0, 0.0};
  Shape best_shape[3] = {};
  const salvo::Precision precisions[3] = {salvo::Precision::kF32, salvo::Precision::kBF16, salvo::Precision::kInt8};
  for (int p = 0; p < 3; ++p) {
    for (const Shape& s : shapes) {
      const double g = linear_gflops(s, precisions[p], quick ? 1 : 5);
      if (g > best[p]) {
        best[p] = g;
        best_shape[p] = s;
      }
    }
  }
  auto shape = [](const Shape& s) {
    return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
  };
  std::printf(
      "{\"threads\": %d, \"fp32_fma_gflops\": %.1f, \"bf16_dot_gflops\": %.1f, \"int8_dot_gops\": %.1f, "
      "\"matmul_f32_gflops\": %.1f, \"matmul_f32_shape\": \"%s\", \"matmul_bf16_gflops\": %.1f, "
      "\"matmul_bf16_shape\": \"%s\", \"matmul_int8_gops\": %.1f, \"matmul_int8_shape\": \"%s\"}\n",
      omp_get_max_threads(), fma, bf16, int8, best[0], shape(best_shape[0]).c_str(), best[1],
      shape(best_shape[1]).c_str(), best[2], shape(best_shape[2]).c_str());
  return 0;
}
