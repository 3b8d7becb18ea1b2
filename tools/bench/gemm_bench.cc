// Compares the GEMM libraries salvo can use on the shapes BERT inference runs, as GFLOP/s and as
// a share of the machine's fp32 peak (measured here with an FMA loop).
//
// Linear layers: y[4096, n] = x[4096, k] * W^T + b on all OpenMP threads, in float32 and in
// PackedLinear's bf16 and int8 modes (2 m n k FLOPs counted for every format, forward() timed end
// to end, so the conversion of x and the int8 epilogue are included; their cost alone is timed
// by the linear/*_passes rows). Attention products:
// each thread runs its own single-threaded L x L x d and L x d x L products, as the encoder's
// per-head loop does (salvo::gemm against OpenBLAS and BLIS pinned to one thread).
// BLIS is opened with dlopen so its BLAS symbols cannot clash with OpenBLAS's.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dnnl.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/quantize.h"
#include "peak_loops.h"

// BLIS's own header gives the types (trans_t, rntm_t) and inline rntm setters; its functions are
// looked up with dlsym, never linked.
#include <blis-openmp/blis.h>

namespace salvo {
namespace {

constexpr int64_t kTokens = 4096;

struct LinearShape {
  const char* name;
  int64_t n;
  int64_t k;
};

constexpr LinearShape kLinearShapes[] = {
    {"minilm_qkv_1152x384", 1152, 384},  {"minilm_out_384x384", 384, 384},
    {"minilm_ffn1_1536x384", 1536, 384}, {"minilm_ffn2_384x1536", 384, 1536},
    {"bert_qkv_2304x768", 2304, 768},    {"bert_out_768x768", 768, 768},
    {"bert_ffn1_3072x768", 3072, 768},   {"bert_ffn2_768x3072", 768, 3072},
};

std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// The machine's fp32 peak in FLOP/s on all OpenMP threads, measured once (best of five).
double peak_flops() {
  static const double peak = bench::measure_peak(bench::PeakKind::kFp32Fma);
  return peak;
}

// Times `run` once per benchmark iteration and reports its FLOP rate, also as % of peak.
void measure(benchmark::State& state, double flops_per_run, const std::function<void()>& run) {
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    run();
    benchmark::ClobberMemory();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double rate = flops_per_run * static_cast<double>(state.iterations()) / seconds;
  state.counters["GFLOP/s"] = rate * 1e-9;
  state.counters["%peak"] = 100.0 * rate / peak_flops();
}

void bm_peak(benchmark::State& state) {
  measure(state, bench::peak_ops_per_iteration(bench::PeakKind::kFp32Fma) * 1e6 * omp_get_max_threads(),
          [] { bench::run_peak_loop(bench::PeakKind::kFp32Fma, 1'000'000); });
  state.counters["threads"] = omp_get_max_threads();
}

// Functions of BLIS's native API, looked up in the OpenMP build of libblis.
struct Blis {
  using Gemm = void (*)(trans_t, trans_t, dim_t, dim_t, dim_t, float*, float*, inc_t, inc_t, float*,
                        inc_t, inc_t, float*, float*, inc_t, inc_t);
  using GemmEx = void (*)(trans_t, trans_t, dim_t, dim_t, dim_t, float*, float*, inc_t, inc_t,
                          float*, inc_t, inc_t, float*, float*, inc_t, inc_t, cntx_t*, rntm_t*);
  using SetThreads = void (*)(dim_t);
  using ArchId = arch_t (*)();
  using ArchString = char* (*)(arch_t);

  Gemm gemm = nullptr;
  GemmEx gemm_ex = nullptr;
  SetThreads set_num_threads = nullptr;
  std::string arch;

  bool loaded() const { return gemm != nullptr; }

  static const Blis& get() {
    static const Blis blis = [] {
      Blis b;
      // RTLD_DEEPBIND keeps BLIS's own calls inside BLIS even though OpenBLAS, loaded first,
      // exports the same BLAS names.
      void* handle = dlopen("/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                            RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (handle == nullptr) {
        std::fprintf(stderr, "BLIS not available: %s\n", dlerror());
        return b;
      }
      b.gemm = reinterpret_cast<Gemm>(dlsym(handle, "bli_sgemm"));
      b.gemm_ex = reinterpret_cast<GemmEx>(dlsym(handle, "bli_sgemm_ex"));
      b.set_num_threads = reinterpret_cast<SetThreads>(dlsym(handle, "bli_thread_set_num_threads"));
      auto arch_id = reinterpret_cast<ArchId>(dlsym(handle, "bli_arch_query_id"));
      auto arch_string = reinterpret_cast<ArchString>(dlsym(handle, "bli_arch_string"));
      if (arch_id != nullptr && arch_string != nullptr) b.arch = arch_string(arch_id());
      if (b.gemm_ex == nullptr || b.set_num_threads == nullptr) b.gemm = nullptr;
      return b;
    }();
    return blis;
  }
};

// Runs y = x * W^T + b with `run` and reports FLOP rates for an m = 4096 batch.
void run_linear(benchmark::State& state, const LinearShape& shape,
                const std::function<void(const float*, float*)>& run) {
  const std::vector<float> x = random_values(kTokens * shape.k, 1);
  std::vector<float> y(kTokens * shape.n);
  run(x.data(), y.data());  // builds primitives and touches pages outside the timing
  measure(state, 2.0 * kTokens * shape.n * shape.k, [&] { run(x.data(), y.data()); });
}

void bm_packed_linear(benchmark::State& state, LinearShape shape, GemmBackend backend,
                      Precision precision) {
  const std::string reason = precision_unavailable_reason(precision);
  if (!reason.empty()) {
    state.SkipWithError(reason.c_str());
    return;
  }
  const std::vector<float> w = random_values(shape.n * shape.k, 2);
  const std::vector<float> bias = random_values(shape.n, 3);
  PackedLinear layer(w.data(), bias.data(), shape.n, shape.k, backend, precision);
  run_linear(state, shape, [&](const float* x, float* y) { layer.forward(x, kTokens, y); });
}

// The passes around the low-precision matmuls alone, with the FLOP count of the whole layer so
// that the GFLOP/s of this row over that of the matching onednn_packed_* row is the share of
// forward() they take: int8 quantises x and dequantises y, bf16 converts x.
void bm_precision_passes(benchmark::State& state, LinearShape shape, Precision precision) {
  const std::vector<float> x = random_values(kTokens * shape.k, 1);
  std::vector<float> y(kTokens * shape.n, 0.0f);
  std::vector<uint8_t> quantised(kTokens * shape.k);
  std::vector<uint16_t> converted(kTokens * shape.k);
  std::vector<float> row_scales(kTokens), col_scales(shape.n, 1e-3f);
  std::vector<int32_t> row_zero_points(kTokens), col_sums(shape.n, 5);
  const std::vector<float> bias = random_values(shape.n, 3);
  measure(state, 2.0 * kTokens * shape.n * shape.k, [&] {
    if (precision == Precision::kBF16) {
      convert_to_bf16(x.data(), kTokens * shape.k, converted.data());
      return;
    }
    quantize_rows_u8(x.data(), kTokens, shape.k, quantised.data(), row_scales.data(),
                     row_zero_points.data());
    dequantize_int8_product(kTokens, shape.n, row_scales.data(), row_zero_points.data(),
                            col_scales.data(), col_sums.data(), bias.data(), y.data());
  });
}

// OpenBLAS with its own pthread pool and the bias added after, as a plain caller would use it.
void bm_openblas_threaded(benchmark::State& state, LinearShape shape) {
  const std::vector<float> w = random_values(shape.n * shape.k, 2);
  const std::vector<float> bias = random_values(shape.n, 3);
  openblas_set_num_threads(omp_get_max_threads());
  run_linear(state, shape, [&](const float* x, float* y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kTokens, shape.n, shape.k, 1.0f, x,
                shape.k, w.data(), shape.k, 0.0f, y, shape.n);
#pragma omp parallel for
    for (int64_t i = 0; i < kTokens; ++i) {
      for (int64_t j = 0; j < shape.n; ++j) y[i * shape.n + j] += bias[j];
    }
  });
  // salvo's PackedLinear and gemm() expect OpenBLAS on one thread.
  openblas_set_num_threads(1);
}

void bm_blis(benchmark::State& state, LinearShape shape) {
  const Blis& blis = Blis::get();
  if (!blis.loaded()) {
    state.SkipWithError("libblis (OpenMP build) could not be opened");
    return;
  }
  std::vector<float> w = random_values(shape.n * shape.k, 2);
  const std::vector<float> bias = random_values(shape.n, 3);
  rntm_t rntm;
  bli_rntm_init(&rntm);
  bli_rntm_set_num_threads(omp_get_max_threads(), &rntm);
  float one = 1.0f;
  run_linear(state, shape, [&](const float* x, float* y) {
  // Seeding y with the bias and using beta = 1 fuses the bias into the product.
#pragma omp parallel for
    for (int64_t i = 0; i < kTokens; ++i) {
      std::copy(bias.begin(), bias.end(), y + i * shape.n);
    }
    // W [n, k] row-major is W^T [k, n] with row stride 1 and column stride k.
    blis.gemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, kTokens, shape.n, shape.k, &one,
                 const_cast<float*>(x), shape.k, 1, w.data(), 1, shape.k, &one, y, shape.n, 1,
                 nullptr, &rntm);
  });
}

// oneDNN matmul with the row count left to run time: one primitive for all batch sizes, but
// oneDNN then runs its plain-layout GEMM on the unpacked weight.
void bm_onednn_runtime_m(benchmark::State& state, LinearShape shape) {
  using dnnl::memory;
  using Tag = memory::format_tag;
  const std::vector<float> w = random_values(shape.n * shape.k, 2);
  const std::vector<float> bias = random_values(shape.n, 3);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::dim any_m = DNNL_RUNTIME_DIM_VAL;
  memory::desc src_desc({any_m, shape.k}, memory::data_type::f32, Tag::ab);
  memory::desc w_desc({shape.k, shape.n}, memory::data_type::f32, Tag::ba);
  memory::desc b_desc({1, shape.n}, memory::data_type::f32, Tag::ab);
  memory::desc dst_desc({any_m, shape.n}, memory::data_type::f32, Tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_desc, w_desc, b_desc, dst_desc), engine);
  dnnl::matmul matmul(pd);
  state.SetLabel(pd.impl_info_str());
  dnnl::memory w_mem(w_desc, engine, const_cast<float*>(w.data()));
  dnnl::memory b_mem(b_desc, engine, const_cast<float*>(bias.data()));
  run_linear(state, shape, [&](const float* x, float* y) {
    dnnl::memory src({{kTokens, shape.k}, memory::data_type::f32, Tag::ab}, engine,
                     const_cast<float*>(x));
    dnnl::memory dst({{kTokens, shape.n}, memory::data_type::f32, Tag::ab}, engine, y);
    matmul.execute(stream, {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_WEIGHTS, w_mem},
                            {DNNL_ARG_BIAS, b_mem},
                            {DNNL_ARG_DST, dst}});
    stream.wait();
  });
}

// One head's attention products, c = a * op(b), on one thread.
using HeadGemm =
    std::function<void(bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
                       int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc)>;

// Every OpenMP thread runs scores = Q K^T (L x L x d) and out = P V (L x d x L) for its own
// heads at once, as the encoder's attention loop does.
void run_attention(benchmark::State& state, const HeadGemm& head_gemm) {
  const int64_t len = state.range(0);
  const int64_t head_dim = state.range(1);
  const int threads = omp_get_max_threads();
  const int heads_per_thread = 4;
  std::vector<std::vector<float>> q(threads), k(threads), v(threads), scores(threads), out(threads);
  for (int t = 0; t < threads; ++t) {
    q[t] = random_values(len * head_dim, 10 + t);
    k[t] = random_values(len * head_dim, 20 + t);
    v[t] = random_values(len * head_dim, 30 + t);
    scores[t].resize(len * len);
    out[t].resize(len * head_dim);
  }
  measure(state, 2.0 * 2.0 * len * len * head_dim * heads_per_thread * threads, [&] {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      for (int h = 0; h < heads_per_thread; ++h) {
        head_gemm(true, len, len, head_dim, q[t].data(), head_dim, k[t].data(), head_dim,
                  scores[t].data(), len);
        head_gemm(false, len, head_dim, len, scores[t].data(), len, v[t].data(), head_dim,
                  out[t].data(), head_dim);
      }
    }
  });
}

void bm_attention_salvo(benchmark::State& state) {
  run_attention(state, [](bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                          const float* b, int64_t ldb, float* c,
                          int64_t ldc) { gemm(tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc); });
}

void bm_attention_openblas(benchmark::State& state) {
  openblas_set_num_threads(1);
  run_attention(state, [](bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                          const float* b, int64_t ldb, float* c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                b, ldb, 0.0f, c, ldc);
  });
}

void bm_attention_blis(benchmark::State& state) {
  const Blis& blis = Blis::get();
  if (!blis.loaded()) {
    state.SkipWithError("libblis (OpenMP build) could not be opened");
    return;
  }
  run_attention(state, [&blis](bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                               int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(1, &rntm);
    float one = 1.0f;
    float zero = 0.0f;
    blis.gemm_ex(BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k, &one,
                 const_cast<float*>(a), lda, 1, const_cast<float*>(b), ldb, 1, &zero, c, ldc, 1,
                 nullptr, &rntm);
  });
}

// On a shared machine other processes only ever slow a run down, so the best repetition is the
// closest to what the library can do; `max` is reported next to mean and median.
double max_of(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("peak/fma_loop", bm_peak)
      ->UseRealTime()
      ->ComputeStatistics("max", max_of);
  for (const LinearShape& shape : kLinearShapes) {
    const std::string name = shape.name;
    benchmark::RegisterBenchmark(("linear/onednn_packed/" + name).c_str(), bm_packed_linear, shape,
                                 GemmBackend::kOneDnn, Precision::kF32)
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
    for (Precision precision : {Precision::kBF16, Precision::kInt8}) {
      const std::string format = precision_name(precision);
      benchmark::RegisterBenchmark(("linear/onednn_packed_" + format + "/" + name).c_str(),
                                   bm_packed_linear, shape, GemmBackend::kOneDnn, precision)
          ->UseRealTime()
          ->ComputeStatistics("max", max_of);
      benchmark::RegisterBenchmark(("linear/" + format + "_passes/" + name).c_str(),
                                   bm_precision_passes, shape, precision)
          ->UseRealTime()
          ->ComputeStatistics("max", max_of);
    }
    benchmark::RegisterBenchmark(("linear/onednn_runtime_m/" + name).c_str(), bm_onednn_runtime_m,
                                 shape)
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
    benchmark::RegisterBenchmark(("linear/openblas_rows_omp/" + name).c_str(), bm_packed_linear,
                                 shape, GemmBackend::kOpenBlas, Precision::kF32)
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
    benchmark::RegisterBenchmark(("linear/openblas_pthreads/" + name).c_str(), bm_openblas_threaded,
                                 shape)
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
    benchmark::RegisterBenchmark(("linear/blis/" + name).c_str(), bm_blis, shape)
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
  }
  using AttentionBench = void (*)(benchmark::State&);
  const std::pair<const char*, AttentionBench> attention[] = {
      {"attention/salvo_gemm", bm_attention_salvo},
      {"attention/openblas_1thread", bm_attention_openblas},
      {"attention/blis_1thread", bm_attention_blis}};
  for (auto [name, fn] : attention) {
    benchmark::RegisterBenchmark(name, fn)
        ->ArgNames({"len", "head_dim"})
        ->Args({64, 32})
        ->Args({128, 32})
        ->Args({128, 64})
        ->Args({512, 64})
        ->UseRealTime()
        ->ComputeStatistics("max", max_of);
  }
}

}  // namespace
}  // namespace salvo

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const salvo::Blis& blis = salvo::Blis::get();
  benchmark::AddCustomContext("fp32_peak_gflops", std::to_string(salvo::peak_flops() * 1e-9));
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("blis_arch", blis.loaded() ? blis.arch : "unavailable");
  salvo::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
