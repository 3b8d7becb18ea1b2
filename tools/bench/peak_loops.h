// Instruction-throughput loops that measure what the cores can do at most: fp32 FMA, bf16 dot
// products (AVX512_BF16) and int8 dot products (AVX512_VNNI). The benchmarks report achieved
// rates as a share of these, measured on the same machine in the same run.
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace salvo::bench {

// 24 independent accumulators (zmm8-zmm31) cover the latency times the number of pipes on
// current cores; the loop bodies have no loads, so they run at the execution units' throughput.
// Written in assembly because compilers shuffle intrinsic accumulators through the stack when
// the destination is also a source (vpdpbusd, vdpbf16ps), which would measure the shuffling.
#define SALVO_PEAK_24(op)                                                                        \
  op " %%zmm1, %%zmm0, %%zmm8\n\t" op " %%zmm1, %%zmm0, %%zmm9\n\t" op " %%zmm1, %%zmm0, %%zmm10\n\t"  \
  op " %%zmm1, %%zmm0, %%zmm11\n\t" op " %%zmm1, %%zmm0, %%zmm12\n\t" op " %%zmm1, %%zmm0, %%zmm13\n\t" \
  op " %%zmm1, %%zmm0, %%zmm14\n\t" op " %%zmm1, %%zmm0, %%zmm15\n\t" op " %%zmm1, %%zmm0, %%zmm16\n\t" \
  op " %%zmm1, %%zmm0, %%zmm17\n\t" op " %%zmm1, %%zmm0, %%zmm18\n\t" op " %%zmm1, %%zmm0, %%zmm19\n\t" \
  op " %%zmm1, %%zmm0, %%zmm20\n\t" op " %%zmm1, %%zmm0, %%zmm21\n\t" op " %%zmm1, %%zmm0, %%zmm22\n\t" \
  op " %%zmm1, %%zmm0, %%zmm23\n\t" op " %%zmm1, %%zmm0, %%zmm24\n\t" op " %%zmm1, %%zmm0, %%zmm25\n\t" \
  op " %%zmm1, %%zmm0, %%zmm26\n\t" op " %%zmm1, %%zmm0, %%zmm27\n\t" op " %%zmm1, %%zmm0, %%zmm28\n\t" \
  op " %%zmm1, %%zmm0, %%zmm29\n\t" op " %%zmm1, %%zmm0, %%zmm30\n\t" op " %%zmm1, %%zmm0, %%zmm31\n\t"

#define SALVO_PEAK_LOOP(op)                                                                     \
  asm volatile(                                                                                \
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\t"                      \
      "1:\n\t" SALVO_PEAK_24(op) "dec %0\n\tjnz 1b\n\t"                                        \
      : "+r"(n)                                                                                \
      :                                                                                        \
      : "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",  \
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",      \
        "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "cc")

// 24 x vfmadd231ps zmm: 24 * 16 FMAs = 768 FLOPs per iteration.
__attribute__((target("avx512f"))) inline void fma_loop_avx512(int64_t iterations) {
  int64_t n = iterations;
  SALVO_PEAK_LOOP("vfmadd231ps");
}

// 24 x vdpbf16ps zmm: each 32 bf16 products summed pairwise into 16 fp32 lanes = 64 FLOPs.
__attribute__((target("avx512f,avx512bf16"))) inline void bf16_dot_loop(int64_t iterations) {
  int64_t n = iterations;
  SALVO_PEAK_LOOP("vdpbf16ps");
}

// 24 x vpdpbusd zmm: each 64 u8 x s8 products summed in fours into 16 int32 lanes = 128 ops.
__attribute__((target("avx512f,avx512vnni"))) inline void int8_dot_loop(int64_t iterations) {
  int64_t n = iterations;
  SALVO_PEAK_LOOP("vpdpbusd");
}

// The fp32 loop for CPUs without AVX-512: 12 independent ymm accumulators.
__attribute__((target("avx2,fma"))) inline float fma_loop_avx2(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

enum class PeakKind { kFp32Fma, kBf16Dot, kInt8Dot };

// Whether this CPU has the instructions for `kind`.
inline bool peak_supported(PeakKind kind) {
  switch (kind) {
    case PeakKind::kFp32Fma:
      return __builtin_cpu_supports("avx512f") || __builtin_cpu_supports("fma");
    case PeakKind::kBf16Dot:
      return __builtin_cpu_supports("avx512bf16");
    case PeakKind::kInt8Dot:
      return __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

// Operations per iteration of the loop for `kind` (one FMA = 2 FLOPs).
inline double peak_ops_per_iteration(PeakKind kind) {
  switch (kind) {
    case PeakKind::kFp32Fma:
      return __builtin_cpu_supports("avx512f") ? 24.0 * 16 * 2 : 12.0 * 8 * 2;
    case PeakKind::kBf16Dot:
      return 24.0 * 64;
    case PeakKind::kInt8Dot:
      return 24.0 * 128;
  }
  return 0.0;
}

// Runs the loop for `kind` on every OpenMP thread at once; returns the operations done.
inline double run_peak_loop(PeakKind kind, int64_t iterations) {
  volatile float sink = 0.0f;
#pragma omp parallel
  {
    switch (kind) {
      case PeakKind::kFp32Fma:
        if (__builtin_cpu_supports("avx512f")) {
          fma_loop_avx512(iterations);
        } else {
          sink = fma_loop_avx2(iterations);
        }
        break;
      case PeakKind::kBf16Dot:
        bf16_dot_loop(iterations);
        break;
      case PeakKind::kInt8Dot:
        int8_dot_loop(iterations);
        break;
    }
  }
  (void)sink;
  return peak_ops_per_iteration(kind) * static_cast<double>(iterations) * omp_get_max_threads();
}

// Operations per second on all OpenMP threads: best of `trials` after one warm-up run (which lets
// the clock ramp up). 0 when the CPU lacks the instructions.
inline double measure_peak(PeakKind kind, int trials = 5, int64_t iterations = 20'000'000) {
  if (!peak_supported(kind)) return 0.0;
  run_peak_loop(kind, iterations);
  double best = 0.0;
  for (int trial = 0; trial < trials; ++trial) {
    const auto start = std::chrono::steady_clock::now();
    const double ops = run_peak_loop(kind, iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, ops / seconds);
  }
  return best;
}

}  // namespace salvo::bench
