// salvo's reader stage on a Parquet file, as `salvo embed` runs it: the real source (open_row_source,
// the same limits a job gets), one thread calling read_batch() for chunks of 256 records into a
// bounded queue, and worker threads calling consume() (parse) on every record (UTF-8 validation; the text
// then goes to the tokenizer, here only its length is summed). Prints one JSON line with the time
// and the process's CPU time. Run by tools/bench/parquet_read_bench.py next to DuckDB.
//   parquet_read_bench FILE [--text COL] [--id COL] [--keep COL,COL...] [--threads N]
//                           [--parse-threads N] [--read-ahead-mb N] [--copy]
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"
#include "core/error.h"
#include "io/row_source.h"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const size_t end = comma == std::string::npos ? s.size() : comma;
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: parquet_read_bench FILE [--text COL] [--id COL] [--keep COL,...] [--threads N] "
                         "[--parse-threads N] [--read-ahead-mb N] [--copy]\n");
    return 2;
  }
  salvo::FieldNames fields;
  fields.id = "-";  // no id unless asked for
  salvo::SourceLimits limits;
  int parse_threads = 0;
  bool copy = false;  // read() (one copy per value) instead of read_batch() (views)
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--text") {
      fields.text = value();
    } else if (flag == "--id") {
      fields.id = value();
    } else if (flag == "--keep") {
      fields.passthrough = split(value());
    } else if (flag == "--threads") {
      limits.decode_threads = std::atoi(value().c_str());
    } else if (flag == "--parse-threads") {
      parse_threads = std::atoi(value().c_str());
    } else if (flag == "--read-ahead-mb") {
      limits.read_ahead_bytes = std::strtoull(value().c_str(), nullptr, 10) << 20;
    } else if (flag == "--copy") {
      copy = true;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (parse_threads <= 0) parse_threads = limits.decode_threads > 0 ? limits.decode_threads : 2;

  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  std::atomic<uint64_t> rows{0}, text_bytes{0}, errors{0}, carried{0};
  try {
    auto source = salvo::open_row_source(argv[1], fields, limits);
    salvo::BoundedQueue<salvo::RawBatch> queue(2 * static_cast<size_t>(parse_threads) + 2);
    std::vector<std::thread> workers;
    for (int t = 0; t < parse_threads; ++t) {
      workers.emplace_back([&] {
        salvo::InputRow row;
        uint64_t n = 0, bytes = 0, bad = 0, values = 0;
        while (auto batch = queue.pop()) {
          for (auto& record : batch->records) {
            row = salvo::InputRow{};
            source->consume(std::move(record), &row);
            ++n;
            if (!row.error.empty()) {
              ++bad;
              continue;
            }
            bytes += row.text_view().size();
            values += !row.id.is_null();
            for (const auto& v : row.passthrough) values += !v.is_null();
          }
        }
        rows += n;
        text_bytes += bytes;
        errors += bad;
        carried += values;
      });
    }
    std::exception_ptr failure;
    try {
      for (bool more = true; more;) {
        salvo::RawBatch batch;
        batch.records.reserve(256);
        more = copy ? source->read(256, &batch.records) : source->read_batch(256, &batch);
        if (!batch.records.empty()) queue.push(std::move(batch));
      }
    } catch (...) {
      failure = std::current_exception();
    }
    queue.close();
    for (auto& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
  } catch (const salvo::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"seconds\": %.4f, \"cpu_seconds\": %.4f, \"rows\": %llu, \"text_bytes\": %llu, \"errors\": %llu, "
              "\"carried_values\": %llu}\n",
              seconds, cpu_seconds() - cpu_start, static_cast<unsigned long long>(rows.load()),
              static_cast<unsigned long long>(text_bytes.load()), static_cast<unsigned long long>(errors.load()),
              static_cast<unsigned long long>(carried.load()));
  return 0;
}
