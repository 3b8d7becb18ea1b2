// Single-sequence latency of salvo through its public API, for tools/bench/bench_peers.py: opens a
// Session on a model, then times Session::run on one text (tokenisation, the encoder, pooling and
// normalisation: text in, embedding out) --iterations times, one call after another.
//
// Usage: latency_bench --model DIR --text-file FILE [--dtype f32|bf16|int8] [--threads 2]
//                      [--max-length N] [--iterations 100] [--warmup 5]
// Prints one JSON line: {"tokens": N, "dtype": "...", "samples": [seconds, ...]}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "salvo/error.h"
#include "salvo/model.h"
#include "salvo/session.h"

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "latency_bench: %s\nusage: latency_bench --model DIR --text-file FILE [--dtype f32|bf16|int8] "
               "[--threads 2] [--max-length N] [--iterations 100] [--warmup 5]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, text_file, dtype = "f32";
  int threads = 2, iterations = 100, warmup = 5;
  size_t max_length = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--model") model_dir = value;
    else if (flag == "--text-file") text_file = value;
    else if (flag == "--dtype") dtype = value;
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--max-length") max_length = std::stoul(value);
    else if (flag == "--iterations") iterations = std::stoi(value);
    else if (flag == "--warmup") warmup = std::stoi(value);
    else usage("unknown flag " + flag);
  }
  if (model_dir.empty() || text_file.empty()) usage("--model and --text-file are required");
  std::ifstream in(text_file, std::ios::binary);
  if (!in) usage("cannot read " + text_file);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  try {
    salvo::ModelOptions model_options;
    model_options.dtype = salvo::parse_dtype(dtype);
    model_options.max_length = max_length;
    model_options.log = [](salvo::LogLevel, const std::string& message) {
      std::fprintf(stderr, "latency_bench: %s\n", message.c_str());
    };
    salvo::SessionOptions session_options;
    session_options.threads = threads;
    session_options.replicas = 1;
    const auto session = salvo::Session::open(model_dir, model_options, session_options);

    auto once = [&] {
      salvo::Request request;
      request.task = salvo::Task::kEmbed;
      request.inputs.texts = {text};
      return session->run(std::move(request));
    };
    uint64_t tokens = 0;
    for (int i = 0; i < warmup; ++i) tokens = once().stats.tokens;
    std::vector<double> samples;
    samples.reserve(iterations);
    for (int i = 0; i < iterations; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const salvo::Result result = once();
      samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (result.stats.errors != 0) {
        std::fprintf(stderr, "latency_bench: the row came back with an error\n");
        return 1;
      }
      tokens = result.stats.tokens;
    }
    std::printf("{\"tokens\": %llu, \"dtype\": \"%s\", \"samples\": [", static_cast<unsigned long long>(tokens),
                dtype.c_str());
    for (size_t i = 0; i < samples.size(); ++i) std::printf("%s%.9f", i ? ", " : "", samples[i]);
    std::printf("]}\n");
  } catch (const salvo::Error& e) {
    std::fprintf(stderr, "latency_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
