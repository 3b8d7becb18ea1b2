#include "kernels/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace salvo {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

// OpenBLAS (Debian's pthread build) keeps its own thread pool; with OpenMP callers both pools
// would spin on the same cores. salvo pins OpenBLAS to one thread and splits rows across OpenMP
// threads itself, which gemm_bench measured faster than OpenBLAS's own threading anyway.
void pin_openblas_to_one_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// A per-thread, 64-byte aligned buffer of at least `bytes` bytes, kept for the next call.
void* thread_scratchpad(size_t bytes) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, Free> buffer;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    capacity = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    buffer.reset(std::aligned_alloc(64, capacity));
    if (buffer == nullptr) {
      capacity = 0;
      throw std::bad_alloc();
    }
  }
  return buffer.get();
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Adds bias[j] to every row of y[m, n].
void add_bias(const float* bias, int64_t m, int64_t n, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = y + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
}

}  // namespace

GemmBackend default_gemm_backend() {
  static const GemmBackend backend = [] {
    const char* env = std::getenv("SALVO_GEMM");
    if (env != nullptr && *env != '\0') return parse_gemm_backend(env);
    // gemm_bench on a 2-core Zen 4: oneDNN with packed weights ran every BERT linear shape at
    // 83-94% of fp32 peak, OpenBLAS at 73-87%.
    return GemmBackend::kOneDnn;
  }();
  return backend;
}

GemmBackend parse_gemm_backend(const std::string& name) {
  if (name == "onednn") return GemmBackend::kOneDnn;
  if (name == "openblas") return GemmBackend::kOpenBlas;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown GEMM backend '" + name + "' (expected 'onednn' or 'openblas')");
}

const char* gemm_backend_name(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::kOneDnn:
      return "onednn";
    case GemmBackend::kOpenBlas:
      return "openblas";
  }
  return "unknown";
}

struct PackedLinear::Impl {
  int64_t n = 0;
  int64_t k = 0;
  GemmBackend backend = GemmBackend::kOneDnn;
  std::vector<float> bias;  // empty when the layer has none

  // OpenBLAS: the weight as given, [n, k] row-major.
  std::vector<float> weight;

  // oneDNN: the weight reordered once into the layout the matmul primitive prefers, and one
  // primitive per row count (oneDNN picks its fastest kernels only when m is fixed).
  memory::desc packed_weight_desc;
  dnnl::memory packed_weight;
  dnnl::memory bias_memory;
  mutable std::mutex mutex;
  struct Primitive {
    dnnl::matmul matmul;
    memory::desc scratchpad_desc;
  };
  static constexpr size_t kMaxCachedPrimitives = 512;
  mutable std::map<int64_t, Primitive> primitives;

  memory::desc weight_desc(bool any_layout) const {
    return any_layout ? memory::desc({k, n}, DataType::f32, Tag::any) : packed_weight_desc;
  }

  dnnl::matmul::primitive_desc make_primitive_desc(int64_t m, bool any_layout) const {
    memory::desc src({m, k}, DataType::f32, Tag::ab);
    memory::desc dst({m, n}, DataType::f32, Tag::ab);
    // A primitive run inside a parallel region executes on one thread as thread 0; with the
    // library's shared scratchpad two such runs would overwrite each other's buffers.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (bias.empty()) {
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weight_desc(any_layout), dst),
                                          attr, cpu_engine());
    }
    memory::desc bias_desc({1, n}, DataType::f32, Tag::ab);
    return dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(src, weight_desc(any_layout), bias_desc, dst), attr, cpu_engine());
  }

  void pack_onednn(const float* w) {
    // The layout chosen for a large batch is the one the hot path uses; other row counts get
    // primitives built for the same layout so the weights are stored once.
    packed_weight_desc = make_primitive_desc(4096, true).weights_desc();
    dnnl::stream stream(cpu_engine());
    // The PyTorch [n, k] row-major weight is the matmul's [k, n] weight in column-major ("ba").
    memory::desc user_desc({k, n}, DataType::f32, Tag::ba);
    dnnl::memory user(user_desc, cpu_engine(), const_cast<float*>(w));
    packed_weight = dnnl::memory(packed_weight_desc, cpu_engine());
    dnnl::reorder(user, packed_weight).execute(stream, user, packed_weight);
    if (!bias.empty()) {
      bias_memory =
          dnnl::memory(memory::desc({1, n}, DataType::f32, Tag::ab), cpu_engine(), bias.data());
    }
    stream.wait();
  }

  // Returns a copy (primitives are shared handles) so a concurrent eviction cannot free it.
  Primitive primitive_for(int64_t m) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = primitives.find(m);
    if (it != primitives.end()) return it->second;
    // A new row count costs well under a millisecond (oneDNN caches the generated kernels), so
    // a batcher producing many distinct sizes is served by simply starting over when full.
    if (primitives.size() >= kMaxCachedPrimitives) primitives.clear();
    auto pd = make_primitive_desc(m, true);
    if (pd.weights_desc() != packed_weight_desc) pd = make_primitive_desc(m, false);
    return primitives.emplace(m, Primitive{dnnl::matmul(pd), pd.scratchpad_desc()}).first->second;
  }

  void forward_onednn(const float* x, int64_t m, float* y) const {
    const Primitive primitive = primitive_for(m);
    const dnnl::matmul& matmul = primitive.matmul;
    const memory::desc& scratchpad_desc = primitive.scratchpad_desc;
    dnnl::memory src(memory::desc({m, k}, DataType::f32, Tag::ab), cpu_engine(),
                     const_cast<float*>(x));
    dnnl::memory dst(memory::desc({m, n}, DataType::f32, Tag::ab), cpu_engine(), y);
    dnnl::stream stream(cpu_engine());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_weight}, {DNNL_ARG_DST, dst}};
    if (!bias.empty()) args.emplace(DNNL_ARG_BIAS, bias_memory);
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(scratchpad_desc, cpu_engine(),
                                                   thread_scratchpad(scratchpad_desc.get_size())));
    matmul.execute(stream, args);
    stream.wait();
  }

  void forward_openblas(const float* x, int64_t m, float* y) const {
    // Rows are split across the OpenMP threads; each slice is one single-threaded sgemm.
    const int threads = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
    const int64_t chunk = std::max<int64_t>(1, (m + threads - 1) / threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t begin = 0; begin < m; begin += chunk) {
      const int64_t rows = std::min(chunk, m - begin);
      float* y_rows = y + begin * n;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                  static_cast<int>(n), static_cast<int>(k), 1.0f, x + begin * k,
                  static_cast<int>(k), weight.data(), static_cast<int>(k), 0.0f, y_rows,
                  static_cast<int>(n));
      if (!bias.empty()) add_bias(bias.data(), rows, n, y_rows);
    }
  }
};

PackedLinear::PackedLinear(const float* weight, const float* bias, int64_t n, int64_t k,
                           GemmBackend backend)
    : impl_(std::make_unique<Impl>()) {
  if (n <= 0 || k <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "PackedLinear: bad shape [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  }
  impl_->n = n;
  impl_->k = k;
  impl_->backend = backend;
  if (bias != nullptr) impl_->bias.assign(bias, bias + n);
  try {
    if (backend == GemmBackend::kOneDnn) {
      impl_->pack_onednn(weight);
    } else {
      pin_openblas_to_one_thread();
      impl_->weight.assign(weight, weight + n * k);
    }
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kBackend, std::string("oneDNN could not prepare a linear layer [") +
                                         std::to_string(n) + ", " + std::to_string(k) +
                                         "]: " + e.what());
  }
}

PackedLinear::~PackedLinear() = default;
PackedLinear::PackedLinear(PackedLinear&&) noexcept = default;
PackedLinear& PackedLinear::operator=(PackedLinear&&) noexcept = default;

void PackedLinear::forward(const float* x, int64_t m, float* y) const {
  if (m < 0) throw Error(ErrorCode::kInvalidArgument, "PackedLinear: negative row count");
  if (m == 0) return;
  if (impl_->backend == GemmBackend::kOpenBlas) {
    impl_->forward_openblas(x, m, y);
    return;
  }
  try {
    impl_->forward_onednn(x, m, y);
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kBackend,
                std::string("oneDNN matmul failed for m=") + std::to_string(m) + ": " + e.what());
  }
}

int64_t PackedLinear::out_features() const { return impl_->n; }
int64_t PackedLinear::in_features() const { return impl_->k; }

void gemm(bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // BLAS libraries disagree on whether beta still applies when there is nothing to sum.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
    return;
  }
  // oneDNN's sgemm runs on omp_get_max_threads() threads unless it is inside an active parallel
  // region; lowering this thread's own limit keeps it on the caller's thread from anywhere.
  // On per-head attention products gemm_bench measured it 3-10% faster than single-threaded
  // OpenBLAS for L >= 128 (level to 10% slower at L = 64, d = 32) and 30-100% faster than BLIS.
  const int saved_threads = omp_get_max_threads();
  if (saved_threads != 1) omp_set_num_threads(1);
  const dnnl_status_t status =
      dnnl_sgemm('N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (saved_threads != 1) omp_set_num_threads(saved_threads);
  if (status != dnnl_success) {
    throw Error(ErrorCode::kBackend, "oneDNN sgemm failed (status " + std::to_string(status) +
                                         ") for m=" + std::to_string(m) +
                                         " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
}

}  // namespace salvo
