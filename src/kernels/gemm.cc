#include "kernels/gemm.h"

#include <cblas.h>  // types and constants only: OpenBLAS itself is loaded on first use
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "kernels/large_buffer.h"
#include "kernels/quantize.h"

namespace salvo {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

// OpenBLAS, the comparison backend (--gemm openblas), is loaded when a model first asks for it
// rather than linked: Debian's pthread build starts a thread pool as it loads, and those threads
// spin for about 0.1 s of CPU each before they sleep, a cost every salvo process (and every
// Python worker importing salvo) paid at start-up. With OpenMP callers the two pools would also
// spin on the same cores, so salvo pins OpenBLAS to one thread and splits rows across OpenMP
// threads itself, which gemm_bench measured faster than OpenBLAS's own threading anyway.
using SgemmFn = decltype(&cblas_sgemm);

SgemmFn openblas_sgemm() {
  static const SgemmFn sgemm = [] {
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      throw Error(ErrorCode::kBackend, std::string("the OpenBLAS backend cannot load libopenblas.so.0 "
                                                   "(Debian's libopenblas0): ") + dlerror());
    }
    auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
    auto fn = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    if (set_threads == nullptr || fn == nullptr) {
      throw Error(ErrorCode::kBackend, "libopenblas.so.0 lacks cblas_sgemm or openblas_set_num_threads");
    }
    set_threads(1);
    return fn;
  }();
  return sgemm;
}

// What a thread_scratchpad holds; each slot is a separate buffer.
enum class Scratch {
  kOneDnn,       // oneDNN's scratchpad for one primitive execution
  kActivations,  // x converted to bf16, or quantised to u8 with its row scales and zero points
  kAccumulators,  // int8 products' int32 sums when y holds a residual and cannot take them
};

// A per-thread buffer (allocate_large) of at least `bytes` bytes, kept for the next call.
template <Scratch slot>
void* thread_scratchpad(size_t bytes) {
  thread_local LargeArray<char> buffer;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    buffer.reset();
    capacity = 0;
    buffer = allocate_large_array<char>(bytes);
    capacity = bytes;
  }
  return buffer.get();
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

size_t round_up_64(size_t bytes) { return (bytes + 63) / 64 * 64; }

DataType source_type(Precision precision) {
  switch (precision) {
    case Precision::kBF16:
      return DataType::bf16;
    case Precision::kInt8:
      return DataType::u8;
    case Precision::kF32:
      break;
  }
  return DataType::f32;
}

DataType weight_type(Precision precision) {
  switch (precision) {
    case Precision::kBF16:
      return DataType::bf16;
    case Precision::kInt8:
      return DataType::s8;
    case Precision::kF32:
      break;
  }
  return DataType::f32;
}

// int8 products come out as raw int32 sums; salvo's own epilogue scales them (see forward).
DataType destination_type(Precision precision) {
  return precision == Precision::kInt8 ? DataType::s32 : DataType::f32;
}

// The x86 features that matter to the precisions, as this CPU reports them.
std::string cpu_feature_list() {
  __builtin_cpu_init();
  std::string list;
  auto add = [&list](bool present, const char* name) {
    if (!present) return;
    if (!list.empty()) list += ' ';
    list += name;
  };
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vnni"), "avx512_vnni");
  add(__builtin_cpu_supports("avx512bf16"), "avx512_bf16");
  add(__builtin_cpu_supports("avxvnni"), "avx_vnni");
  add(__builtin_cpu_supports("amx-int8"), "amx_int8");
  add(__builtin_cpu_supports("amx-bf16"), "amx_bf16");
  return list.empty() ? "none of avx2, avx512" : list;
}

const char* cpu_isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "baseline";
  }
}

// Why `precision` would not run natively here, or "" when it would.
std::string find_unavailable_reason(Precision precision) {
  if (precision == Precision::kF32) return "";
  // oneDNN's ISA values are bit sets: an ISA includes another when it has all its bits.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto includes = [isa](dnnl::cpu_isa other) {
    const auto bits = static_cast<unsigned>(other);
    return (isa & bits) == bits;
  };
  // The int8 path's quantisation kernels are AVX-512; AVX-VNNI-only CPUs (Alder Lake) would
  // run it correctly but with slow scalar quantisation, so they are not offered int8.
  const bool native = precision == Precision::kBF16
                          ? includes(dnnl::cpu_isa::avx512_core_bf16)
                          : includes(dnnl::cpu_isa::avx512_core_vnni);
  if (!native) {
    return std::string(precision_name(precision)) + " needs " +
           (precision == Precision::kBF16 ? "AVX512_BF16" : "AVX512_VNNI") +
           " (this CPU has: " + cpu_feature_list() + "; oneDNN runs at ISA " +
           cpu_isa_name(dnnl::get_effective_cpu_isa()) + ", which ONEDNN_MAX_CPU_ISA can lower)";
  }
  // The ISA is there; check that this oneDNN build has a fast kernel for it and not only its
  // reference loops.
  try {
    const int64_t size = 64;
    memory::desc src({size, size}, source_type(precision), Tag::ab);
    memory::desc weights({size, size}, weight_type(precision), Tag::any);
    memory::desc dst({size, size}, destination_type(precision), Tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), cpu_engine());
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) == 0) {
      return std::string(precision_name(precision)) +
             ": this oneDNN build has only its reference matmul (" + impl + ")";
    }
  } catch (const dnnl::error& e) {
    return std::string(precision_name(precision)) + ": this oneDNN build has no matmul for it (" +
           e.what() + ")";
  }
  return "";
}

// Adds bias[j] to every row of y[m, n].
void add_bias(const float* bias, int64_t m, int64_t n, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = y + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
}


dnnl::algorithm eltwise_algorithm(Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::kGeluTanh:
      return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::kRelu:
      break;
  }
  return dnnl::algorithm::eltwise_relu;
}

}  // namespace

GemmBackend default_gemm_backend() {
  // gemm_bench on a 2-core Zen 4: oneDNN with packed weights ran every BERT linear shape at
  // 83-94% of fp32 peak, OpenBLAS at 73-87%.
  return GemmBackend::kOneDnn;
}

GemmBackend parse_gemm_backend(const std::string& name) {
  if (name == "onednn") return GemmBackend::kOneDnn;
  if (name == "openblas") return GemmBackend::kOpenBlas;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown GEMM backend '" + name + "' (expected 'onednn' or 'openblas')");
}

Precision parse_precision(const std::string& name) {
  if (name == "f32" || name == "fp32") return Precision::kF32;
  if (name == "bf16") return Precision::kBF16;
  if (name == "int8") return Precision::kInt8;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown precision '" + name + "' (expected 'f32', 'bf16' or 'int8')");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kF32:
      return "f32";
    case Precision::kBF16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
  }
  return "unknown";
}

std::string precision_unavailable_reason(Precision precision) {
  // The answer cannot change while the process runs; the oneDNN probe is paid once.
  static const std::string reasons[] = {find_unavailable_reason(Precision::kF32),
                                        find_unavailable_reason(Precision::kBF16),
                                        find_unavailable_reason(Precision::kInt8)};
  return reasons[static_cast<int>(precision)];
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
  Precision precision = Precision::kF32;
  LinearEpilogue epilogue;
  std::vector<float> bias;  // empty when the layer has none

  // int8: sw[j], the scale of output channel j's int8 weights, and colsum[j] = sum_p qW[j, p].
  std::vector<float> weight_scales;
  std::vector<int32_t> weight_sums;
  // int8 with input smoothing: 1 / s[p], applied to x as it is quantised; empty otherwise.
  std::vector<float> input_multipliers;

  // OpenBLAS: the weight as given, [n, k] row-major.
  std::vector<float> weight;

  // oneDNN: the weight reordered once into the layout the matmul primitive prefers, and one
  // primitive per row count (oneDNN picks its fastest kernels only when m is fixed).
  memory::desc packed_weight_desc;
  LargeArray<char> packed_weight_data;
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
    return any_layout ? memory::desc({k, n}, weight_type(precision), Tag::any)
                      : packed_weight_desc;
  }

  // The int8 epilogue adds the bias, residual and activation itself, after scaling; the f32 and
  // bf16 primitives run them as oneDNN post-ops (sum, then eltwise) on their float32 output.
  bool bias_in_primitive() const { return !bias.empty() && precision != Precision::kInt8; }
  bool epilogue_in_primitive() const { return precision != Precision::kInt8; }

  dnnl::matmul::primitive_desc make_primitive_desc(int64_t m, bool any_layout) const {
    memory::desc src({m, k}, source_type(precision), Tag::ab);
    memory::desc dst({m, n}, destination_type(precision), Tag::ab);
    // A primitive run inside a parallel region executes on one thread as thread 0; with the
    // library's shared scratchpad two such runs would overwrite each other's buffers.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (epilogue_in_primitive() && (epilogue.accumulate || epilogue.activation)) {
      dnnl::post_ops ops;
      if (epilogue.accumulate) ops.append_sum(1.0f);
      if (epilogue.activation) {
        ops.append_eltwise(1.0f, eltwise_algorithm(*epilogue.activation), 0.0f, 0.0f);
      }
      attr.set_post_ops(ops);
    }
    if (!bias_in_primitive()) {
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weight_desc(any_layout), dst),
                                          attr, cpu_engine());
    }
    memory::desc bias_desc({1, n}, DataType::f32, Tag::ab);
    return dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(src, weight_desc(any_layout), bias_desc, dst), attr, cpu_engine());
  }

  // The weight with column p multiplied by s[p].
  static std::vector<float> smoothed_weight(const float* w, int64_t n, int64_t k, const float* s) {
    std::vector<float> out(w, w + n * k);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < k; ++p) out[j * k + p] *= s[p];
    }
    return out;
  }

  void pack_onednn(const float* w) {
    // The layout chosen for a large batch is the one the hot path uses; other row counts get
    // primitives built for the same layout so the weights are stored once.
    packed_weight_desc = make_primitive_desc(4096, true).weights_desc();
    dnnl::stream stream(cpu_engine());
    // int8 weights are quantised here, per output channel; f32 -> bf16 is left to the reorder,
    // which rounds to nearest even.
    std::vector<int8_t> quantised;
    const void* user_data = w;
    DataType user_type = DataType::f32;
    if (precision == Precision::kInt8) {
      quantised.resize(n * k);
      weight_scales.resize(n);
      weight_sums.resize(n);
      quantize_weights_s8(w, n, k, quantised.data(), weight_scales.data(), weight_sums.data());
      user_data = quantised.data();
      user_type = DataType::s8;
    }
    // The PyTorch [n, k] row-major weight is the matmul's [k, n] weight in column-major ("ba").
    memory::desc user_desc({k, n}, user_type, Tag::ba);
    dnnl::memory user(user_desc, cpu_engine(), const_cast<void*>(user_data));
    packed_weight_data = allocate_large_array<char>(packed_weight_desc.get_size());
    packed_weight = dnnl::memory(packed_weight_desc, cpu_engine(), packed_weight_data.get());
    dnnl::reorder(user, packed_weight).execute(stream, user, packed_weight);
    if (bias_in_primitive()) {
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
    // The matmul's input: x itself, or x converted into this thread's activation buffer.
    void* source = const_cast<float*>(x);
    float* row_scales = nullptr;
    int32_t* row_zero_points = nullptr;
    if (precision == Precision::kBF16) {
      auto* converted = static_cast<uint16_t*>(
          thread_scratchpad<Scratch::kActivations>(m * k * sizeof(uint16_t)));
      convert_to_bf16(x, m * k, converted);
      source = converted;
    } else if (precision == Precision::kInt8) {
      const size_t values_bytes = round_up_64(m * k);
      auto* buffer = static_cast<char*>(thread_scratchpad<Scratch::kActivations>(
          values_bytes + m * (sizeof(float) + sizeof(int32_t))));
      auto* quantised = reinterpret_cast<uint8_t*>(buffer);
      row_scales = reinterpret_cast<float*>(buffer + values_bytes);
      row_zero_points = reinterpret_cast<int32_t*>(row_scales + m);
      quantize_rows_u8(x, m, k, quantised, row_scales, row_zero_points,
                       input_multipliers.empty() ? nullptr : input_multipliers.data());
      source = quantised;
    }
    dnnl::memory src(memory::desc({m, k}, source_type(precision), Tag::ab), cpu_engine(), source);
    // int8: the int32 sums land in y itself and the epilogue turns them into floats in place,
    // unless y holds a residual to add: then they go to a per-thread buffer.
    void* destination = y;
    if (precision == Precision::kInt8 && epilogue.accumulate) {
      destination = thread_scratchpad<Scratch::kAccumulators>(m * n * sizeof(int32_t));
    }
    dnnl::memory dst(memory::desc({m, n}, destination_type(precision), Tag::ab), cpu_engine(),
                     destination);
    dnnl::stream stream(cpu_engine());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_weight}, {DNNL_ARG_DST, dst}};
    if (bias_in_primitive()) args.emplace(DNNL_ARG_BIAS, bias_memory);
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(scratchpad_desc, cpu_engine(),
                              thread_scratchpad<Scratch::kOneDnn>(scratchpad_desc.get_size())));
    matmul.execute(stream, args);
    stream.wait();
    if (precision == Precision::kInt8) {
      dequantize_int8_product(m, n, static_cast<const int32_t*>(destination), row_scales,
                              row_zero_points, weight_scales.data(), weight_sums.data(),
                              bias.empty() ? nullptr : bias.data(), epilogue.accumulate,
                              epilogue.activation, y);
    }
  }

  // bf16 / int8 on more than a few rows: each OpenMP thread takes blocks of rows and converts,
  // multiplies (oneDNN runs single-threaded inside a parallel region) and scales them itself. A
  // forward() is then one parallel region instead of three (convert, matmul, epilogue), which
  // matters on a loaded machine where each region start waits for a descheduled thread, and on
  // one short sequence, where the team otherwise sleeps and wakes around every pass (int8's
  // single-sequence latency went from about 6 to 3 ms on MiniLM); each block's activations and
  // outputs are still in cache when the next pass reads them. Blocks are m / threads rows, within
  // [kMinRowBlock, kRowBlock].
  static constexpr int64_t kRowBlock = 256;
  static constexpr int64_t kMinRowBlock = 32;

  bool use_row_blocks(int64_t m) const {
    return precision != Precision::kF32 && m >= 2 * kMinRowBlock && !omp_in_parallel() &&
           omp_get_max_threads() > 1;
  }

  void forward_row_blocks(const float* x, int64_t m, float* y) const {
    const int64_t threads = omp_get_max_threads();
    const int64_t row_block =
        std::clamp<int64_t>((m + threads - 1) / threads, kMinRowBlock, kRowBlock);
    const int64_t blocks = (m + row_block - 1) / row_block;
    std::exception_ptr error;
    // Dynamic, so a thread the OS preempts leaves its remaining blocks to the others.
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t begin = block * row_block;
      try {
        forward_onednn(x + begin * k, std::min(row_block, m - begin), y + begin * n);
      } catch (...) {
#pragma omp critical(salvo_packed_linear_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

  void forward_openblas(const float* x, int64_t m, float* y) const {
    // Rows are split across the OpenMP threads; each slice is one single-threaded sgemm.
    const SgemmFn sgemm = openblas_sgemm();
    const int threads = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
    const int64_t chunk = std::max<int64_t>(1, (m + threads - 1) / threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t begin = 0; begin < m; begin += chunk) {
      const int64_t rows = std::min(chunk, m - begin);
      float* y_rows = y + begin * n;
      // beta = 1 adds the residual y holds; the activation runs while the slice is in cache.
      sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(n),
            static_cast<int>(k), 1.0f, x + begin * k, static_cast<int>(k), weight.data(),
            static_cast<int>(k), epilogue.accumulate ? 1.0f : 0.0f, y_rows, static_cast<int>(n));
      if (!bias.empty()) add_bias(bias.data(), rows, n, y_rows);
      if (epilogue.activation) apply_activation_serial(*epilogue.activation, y_rows, rows * n);
    }
  }
};

PackedLinear::PackedLinear(const float* weight, const float* bias, int64_t n, int64_t k,
                           GemmBackend backend, Precision precision, LinearEpilogue epilogue,
                           const float* input_smoothing)
    : impl_(std::make_unique<Impl>()) {
  if (n <= 0 || k <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "PackedLinear: bad shape [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  }
  if (precision != Precision::kF32) {
    if (backend != GemmBackend::kOneDnn) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("PackedLinear: precision ") + precision_name(precision) +
                      " needs the onednn GEMM backend (got " + gemm_backend_name(backend) + ")");
    }
    const std::string reason = precision_unavailable_reason(precision);
    if (!reason.empty()) throw Error(ErrorCode::kBackend, "PackedLinear: " + reason);
  }
  impl_->n = n;
  impl_->k = k;
  impl_->backend = backend;
  impl_->precision = precision;
  impl_->epilogue = epilogue;
  if (bias != nullptr) impl_->bias.assign(bias, bias + n);
  std::vector<float> smoothed;
  if (input_smoothing != nullptr) {
    if (precision != Precision::kInt8) {
      throw Error(ErrorCode::kInvalidArgument, std::string("PackedLinear: input smoothing is for int8, not ") +
                                                   precision_name(precision));
    }
    impl_->input_multipliers.resize(k);
    for (int64_t p = 0; p < k; ++p) {
      const float s = input_smoothing[p];
      if (!(s > 0.0f) || !std::isfinite(s) || !std::isfinite(1.0f / s)) {
        throw Error(ErrorCode::kInvalidArgument, "PackedLinear: input smoothing factor " + std::to_string(p) +
                                                     " is " + std::to_string(s) + ", not a positive finite number");
      }
      impl_->input_multipliers[p] = 1.0f / s;
    }
    smoothed = Impl::smoothed_weight(weight, n, k, input_smoothing);
    weight = smoothed.data();
  }
  try {
    if (backend == GemmBackend::kOneDnn) {
      impl_->pack_onednn(weight);
    } else {
      openblas_sgemm();  // a missing library is an error here, not at the first batch
      impl_->weight.assign(weight, weight + n * k);
    }
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kBackend, std::string("oneDNN could not prepare a ") +
                                         precision_name(precision) + " linear layer [" +
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
    if (impl_->use_row_blocks(m)) {
      impl_->forward_row_blocks(x, m, y);
    } else {
      impl_->forward_onednn(x, m, y);
    }
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kBackend,
                std::string("oneDNN matmul failed for m=") + std::to_string(m) + ": " + e.what());
  }
}

int64_t PackedLinear::out_features() const { return impl_->n; }
int64_t PackedLinear::in_features() const { return impl_->k; }
Precision PackedLinear::precision() const { return impl_->precision; }
const LinearEpilogue& PackedLinear::epilogue() const { return impl_->epilogue; }

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
