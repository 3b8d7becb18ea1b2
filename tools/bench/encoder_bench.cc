// The whole encoder on a fixed batch, in each number format, with the time of each step.
//
//   encoder_bench --model DIR [--rows 32] [--length 128] [Google Benchmark flags]
//
// DIR is a model folder (tools/python/make_random_bert.py --shape minilm|base makes one). Each
// benchmark runs TransformerEncoder::hidden_states on `rows` sequences of `length` random tokens:
//   encoder/<format>           one call on all OpenMP threads (the session's one-replica mode)
//   encoder_replicas/<format>  one thread per OpenMP thread, each with its own scratch and one
//                              OpenMP thread, each running its own copy of the batch at once (the
//                              session's replica mode); the rates count every replica's tokens
// Counters: tokens/s; GFLOP/s of useful work (dense layers per token plus the two attention
// products, as tools/bench/bench_embed.py counts them) and its share of the number format's
// instruction peak (FMA, vdpbf16ps or vpdpbusd loop, measured at start); and, for encoder/*, the
// share of time of each step (EncoderTimings). On a shared machine run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N and read the medians.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/gemm.h"
#include "model/transformer_encoder.h"
#include "peak_loops.h"

namespace salvo {
namespace {

struct Setup {
  std::string model_dir;
  int64_t rows = 32;
  int64_t length = 128;
};

Setup& setup() {
  static Setup s;
  return s;
}

PackedBatch make_batch(const EncoderConfig& config) {
  std::mt19937 rng(5);
  // Ids clear of the special tokens at the start of every vocabulary.
  std::uniform_int_distribution<int32_t> id(std::min<int32_t>(1000, config.vocab_size - 1),
                                            static_cast<int32_t>(config.vocab_size - 1));
  PackedBatch batch;
  batch.offsets.push_back(0);
  for (int64_t r = 0; r < setup().rows; ++r) {
    for (int64_t t = 0; t < setup().length; ++t) {
      batch.ids.push_back(id(rng));
      batch.type_ids.push_back(0);
    }
    batch.offsets.push_back(static_cast<int32_t>(batch.ids.size()));
  }
  return batch;
}

double useful_flops(const EncoderConfig& c, const PackedBatch& batch) {
  const double h = static_cast<double>(c.hidden_size);
  const double inter = static_cast<double>(c.intermediate_size);
  double attention = 0.0;
  for (size_t r = 0; r < batch.rows(); ++r) {
    const double n = batch.offsets[r + 1] - batch.offsets[r];
    attention += 4.0 * n * n * h;
  }
  const double dense = 2.0 * static_cast<double>(batch.tokens()) * (4.0 * h * h + 2.0 * h * inter);
  return static_cast<double>(c.num_layers) * (dense + attention);
}

// The instruction peak of a number format on all OpenMP threads, measured once.
double format_peak(Precision precision) {
  static const double peaks[] = {bench::measure_peak(bench::PeakKind::kFp32Fma),
                                 bench::measure_peak(bench::PeakKind::kBf16Dot),
                                 bench::measure_peak(bench::PeakKind::kInt8Dot)};
  return peaks[static_cast<int>(precision)];
}

const TransformerEncoder& model_in(Precision precision) {
  static std::unique_ptr<TransformerEncoder> models[3];
  auto& model = models[static_cast<int>(precision)];
  if (!model) {
    EncoderOptions options;
    options.precision = precision;
    // int8 smooths its products' inputs, calibrated on the benchmark's own batch: which text sets
    // the factors does not change the speed.
    const PackedBatch calibration = make_batch(read_encoder_config(setup().model_dir));
    options.calibration = &calibration;
    model = TransformerEncoder::load(setup().model_dir, options);
  }
  return *model;
}

void report_rates(benchmark::State& state, const TransformerEncoder& model, const PackedBatch& batch,
                  double seconds, double batches, Precision precision) {
  state.counters["tokens/s"] = static_cast<double>(batch.tokens()) * batches / seconds;
  const double rate = useful_flops(model.config(), batch) * batches / seconds;
  state.counters["GFLOP/s"] = rate * 1e-9;
  state.counters["%peak"] = 100.0 * rate / format_peak(precision);
}

void bm_encoder(benchmark::State& state, Precision precision) {
  if (const std::string reason = precision_unavailable_reason(precision); !reason.empty()) {
    state.SkipWithError(reason.c_str());
    return;
  }
  const TransformerEncoder& model = model_in(precision);
  const PackedBatch batch = make_batch(model.config());
  EncoderScratch scratch;
  std::vector<float> hidden(batch.tokens() * model.config().hidden_size);
  model.hidden_states(batch, &scratch, hidden.data());  // warm-up: scratch, primitives
  EncoderTimings timings;
  scratch.timings = &timings;
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    model.hidden_states(batch, &scratch, hidden.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  report_rates(state, model, batch, seconds, static_cast<double>(state.iterations()), precision);
  for (size_t s = 0; s < timings.seconds.size(); ++s) {
    state.counters[std::string("%") + encoder_step_name(static_cast<EncoderStep>(s))] =
        100.0 * timings.seconds[s] / seconds;
  }
}

void bm_encoder_replicas(benchmark::State& state, Precision precision) {
  if (const std::string reason = precision_unavailable_reason(precision); !reason.empty()) {
    state.SkipWithError(reason.c_str());
    return;
  }
  const TransformerEncoder& model = model_in(precision);
  const PackedBatch batch = make_batch(model.config());
  const int replicas = omp_get_max_threads();
  std::vector<EncoderScratch> scratch(replicas);
  std::vector<std::vector<float>> hidden(replicas,
                                         std::vector<float>(batch.tokens() * model.config().hidden_size));
  auto run_all = [&] {
    std::vector<std::thread> threads;
    for (int r = 0; r < replicas; ++r) {
      threads.emplace_back([&, r] {
        omp_set_num_threads(1);
        model.hidden_states(batch, &scratch[r], hidden[r].data());
      });
    }
    for (std::thread& t : threads) t.join();
  };
  run_all();  // warm-up
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    run_all();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  report_rates(state, model, batch, seconds, static_cast<double>(state.iterations()) * replicas, precision);
}

double median_of(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s.empty() ? 0.0 : s[s.size() / 2];
}

void register_benchmarks() {
  for (Precision precision : {Precision::kF32, Precision::kBF16, Precision::kInt8}) {
    const std::string format = precision_name(precision);
    benchmark::RegisterBenchmark(("encoder/" + format).c_str(), bm_encoder, precision)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->ComputeStatistics("median", median_of);
    benchmark::RegisterBenchmark(("encoder_replicas/" + format).c_str(), bm_encoder_replicas, precision)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->ComputeStatistics("median", median_of);
  }
}

}  // namespace
}  // namespace salvo

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc) {
      salvo::setup().model_dir = argv[++i];
    } else if (arg == "--rows" && i + 1 < argc) {
      salvo::setup().rows = std::atoll(argv[++i]);
    } else if (arg == "--length" && i + 1 < argc) {
      salvo::setup().length = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "encoder_bench: unknown argument '%s'\n", arg.c_str());
      return 2;
    }
  }
  if (salvo::setup().model_dir.empty()) {
    std::fprintf(stderr, "usage: encoder_bench --model DIR [--rows 32] [--length 128] [benchmark flags]\n");
    return 2;
  }
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  salvo::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
