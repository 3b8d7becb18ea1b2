#include "pipeline/job.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/bert_model.h"
#include "text/tokenizer.h"

namespace salvo {
namespace {

constexpr size_t kRecordsPerChunk = 256;

// A row on its way through the job: its output row (id, error) and, when good, its tokens.
struct PreparedRow {
  OutputRow out;
  Encoding encoding;
};

struct RawChunk {
  uint64_t seq = 0;
  std::vector<RawRecord> records;
};

struct PreparedChunk {
  uint64_t seq = 0;
  std::vector<PreparedRow> rows;
};

// Rows that run through the model together; error rows ride along without being computed.
struct WorkBatch {
  std::vector<PreparedRow> compute;
  std::vector<PreparedRow> errors;
  PackedBatch packed;
};

struct ResultChunk {
  std::vector<OutputRow> rows;
};

class JobRunner {
 public:
  JobRunner(const JobOptions& options, const Tokenizer& tokenizer, BertModel* model)
      : options_(options),
        tokenizer_(tokenizer),
        model_(model),
        batcher_(options.batching),
        prep_threads_(options.task == Task::kTokenize ? std::max(1, options.threads)
                                                      : std::max(1, options.threads / 4)),
        raw_(2 * prep_threads_ + 2),
        prepared_(2 * prep_threads_ + 2),
        batches_(4),
        results_(8),
        progress_(options.task == Task::kEmbed      ? "embed"
                  : options.task == Task::kClassify ? "classify"
                                                    : "tokenize",
                  options.progress) {}

  JobSummary run() {
    const auto start = std::chrono::steady_clock::now();
    source_ = open_row_source(options_.input, options_.fields, options_.limits);
    counters_.total_bytes = source_->total_bytes();
    OutputSchema schema;
    schema.task = options_.task;
    schema.top_k = options_.top_k;
    schema.all_scores = options_.all_scores;
    schema.carried = source_->carried_columns();
    schema.compression = options_.compression;
    if (model_) {
      schema.labels = model_->labels();
      schema.dims = options_.task == Task::kClassify ? model_->labels().size() : model_->config().hidden_size;
    }
    sink_ = open_row_sink(options_.output, schema);

    std::vector<std::thread> threads;
    threads.emplace_back(&JobRunner::guarded, this, &JobRunner::read_stage);
    for (int i = 0; i < prep_threads_; ++i) threads.emplace_back(&JobRunner::guarded, this, &JobRunner::prepare_stage);
    if (options_.task != Task::kTokenize) {
      threads.emplace_back(&JobRunner::guarded, this, &JobRunner::batch_stage);
      threads.emplace_back(&JobRunner::guarded, this, &JobRunner::infer_stage);
    }
    guarded(&JobRunner::write_stage);
    for (auto& t : threads) t.join();
    progress_.clear();
    if (error_) std::rethrow_exception(error_);

    summary_.rows = counters_.rows;
    summary_.errors = counters_.errors;
    summary_.tokens = tokens_.load();
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
  }

 private:
  // Runs a stage; the first failure anywhere is kept and every queue closed so all stages end.
  void guarded(void (JobRunner::*stage)()) {
    try {
      (this->*stage)();
    } catch (...) {
      {
        std::lock_guard lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      raw_.close();
      prepared_.close();
      batches_.close();
      results_.close();
    }
  }

  bool failed() {
    std::lock_guard lock(error_mutex_);
    return error_ != nullptr;
  }

  void read_stage() {
    for (uint64_t seq = 0;; ++seq) {
      RawChunk chunk{seq, {}};
      chunk.records.reserve(kRecordsPerChunk);
      const bool more = source_->read(kRecordsPerChunk, &chunk.records);
      bytes_read_.store(source_->bytes_read());
      if (!chunk.records.empty() && !raw_.push(std::move(chunk))) return;
      if (!more) break;
    }
    raw_.close();
  }

  // Parses and tokenizes chunks; several run at once. The last one to finish closes its output.
  void prepare_stage() {
    InputRow row;
    while (auto chunk = raw_.pop()) {
      PreparedChunk prepared{chunk->seq, {}};
      prepared.rows.resize(chunk->records.size());
      for (size_t i = 0; i < chunk->records.size(); ++i) {
        PreparedRow& p = prepared.rows[i];
        row = InputRow{};
        source_->parse(chunk->records[i], &row);
        p.out.index = row.index;
        p.out.line = row.line;
        p.out.id = std::move(row.id);
        p.out.passthrough = std::move(row.passthrough);
        p.out.error = std::move(row.error);
        if (p.out.error.empty()) {
          try {
            tokenizer_.encode(row.text, &p.encoding);
          } catch (const Error& e) {  // a text the tokenizer fails on (its truncation strategy)
            p.out.error = e.what();
            p.encoding = Encoding{};
          }
        }
      }
      if (options_.task == Task::kTokenize) {
        ResultChunk result;
        for (auto& p : prepared.rows) {
          tokens_ += p.encoding.ids.size();
          p.out.ids = std::move(p.encoding.ids);
          p.out.type_ids = std::move(p.encoding.type_ids);
          result.rows.push_back(std::move(p.out));
        }
        if (!results_.push(std::move(result))) return;
      } else if (!prepared_.push(std::move(prepared))) {
        return;
      }
    }
    if (++prep_done_ == prep_threads_) {
      if (options_.task == Task::kTokenize) {
        results_.close();
      } else {
        prepared_.close();
      }
    }
  }

  // Restores chunk order, fills a window, and cuts it into length-sorted batches.
  void batch_stage() {
    std::map<uint64_t, PreparedChunk> pending;
    uint64_t next_seq = 0;
    std::vector<PreparedRow> window;
    while (auto chunk = prepared_.pop()) {
      pending.emplace(chunk->seq, std::move(*chunk));
      for (auto it = pending.find(next_seq); it != pending.end(); it = pending.find(++next_seq)) {
        for (auto& row : it->second.rows) window.push_back(std::move(row));
        pending.erase(it);
        if (window.size() >= options_.batching.window_rows && !emit_window(&window)) return;
      }
    }
    if (failed()) return;
    if (!emit_window(&window)) return;
    batches_.close();
  }

  bool emit_window(std::vector<PreparedRow>* window) {
    std::vector<PreparedRow> good;
    std::vector<PreparedRow> bad;
    for (auto& row : *window) (row.out.error.empty() ? good : bad).push_back(std::move(row));
    window->clear();
    std::vector<size_t> lengths(good.size());
    for (size_t i = 0; i < good.size(); ++i) lengths[i] = good[i].encoding.ids.size();
    auto plan = batcher_.plan(lengths);
    if (plan.empty() && !bad.empty()) plan.emplace_back();
    for (size_t b = 0; b < plan.size(); ++b) {
      WorkBatch batch;
      batch.packed.offsets.push_back(0);
      for (size_t pos : plan[b]) {
        PreparedRow& row = good[pos];
        batch.packed.ids.insert(batch.packed.ids.end(), row.encoding.ids.begin(), row.encoding.ids.end());
        batch.packed.type_ids.insert(batch.packed.type_ids.end(), row.encoding.type_ids.begin(),
                                     row.encoding.type_ids.end());
        batch.packed.offsets.push_back(static_cast<int32_t>(batch.packed.ids.size()));
        batch.compute.push_back(std::move(row));
      }
      if (b == 0) batch.errors = std::move(bad);
      if (!batches_.push(std::move(batch))) return false;
    }
    return true;
  }

  void infer_stage() {
    omp_set_num_threads(options_.threads);
    std::vector<float> out;
    const size_t width = options_.task == Task::kClassify ? model_->labels().size() : model_->config().hidden_size;
    while (auto batch = batches_.pop()) {
      const size_t rows = batch->packed.rows();
      if (rows > 0) {
        out.resize(rows * width);
        if (options_.task == Task::kClassify) {
          model_->classify(batch->packed, out.data());
        } else {
          model_->embed(batch->packed, out.data());
        }
        size_t longest = 0;
        for (size_t r = 0; r < rows; ++r) {
          longest = std::max<size_t>(longest, batch->packed.offsets[r + 1] - batch->packed.offsets[r]);
        }
        tokens_ += batch->packed.tokens();
        summary_.padded_tokens += rows * longest;
        ++summary_.batches;
      }
      ResultChunk result;
      for (size_t r = 0; r < rows; ++r) {
        OutputRow& o = batch->compute[r].out;
        o.values.assign(out.begin() + r * width, out.begin() + (r + 1) * width);
        result.rows.push_back(std::move(o));
      }
      for (auto& e : batch->errors) result.rows.push_back(std::move(e.out));
      if (!results_.push(std::move(result))) return;
    }
    if (!failed()) results_.close();
  }

  // Writes rows in input order; rows that arrive early wait in a buffer bounded by the window.
  void write_stage() {
    std::map<uint64_t, OutputRow> pending;
    uint64_t next = 0;
    while (auto result = results_.pop()) {
      for (auto& row : result->rows) pending.emplace(row.index, std::move(row));
      for (auto it = pending.begin(); it != pending.end() && it->first == next; it = pending.erase(it), ++next) {
        sink_->write(it->second);
        ++counters_.rows;
        if (!it->second.error.empty()) ++counters_.errors;
      }
      counters_.tokens = tokens_.load();
      counters_.bytes_read = bytes_read_.load();
      progress_.update(counters_);
    }
    if (failed()) return;
    if (!pending.empty()) {
      throw Error(ErrorCode::kInternal, "row " + std::to_string(next) + " never reached the writer");
    }
    sink_->finish();
  }

  const JobOptions& options_;
  const Tokenizer& tokenizer_;
  BertModel* model_;
  TokenBudgetBatcher batcher_;
  const int prep_threads_;
  BoundedQueue<RawChunk> raw_;
  BoundedQueue<PreparedChunk> prepared_;
  BoundedQueue<WorkBatch> batches_;
  BoundedQueue<ResultChunk> results_;
  std::unique_ptr<RowSource> source_;
  std::unique_ptr<RowSink> sink_;
  ProgressLine progress_;
  JobCounters counters_;
  JobSummary summary_;
  std::atomic<uint64_t> tokens_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<int> prep_done_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace

JobSummary run_job(const JobOptions& options, const Tokenizer& tokenizer, BertModel* model) {
  if (!model && options.task != Task::kTokenize) {
    throw Error(ErrorCode::kInternal, "a model is needed for embed and classify");
  }
  JobRunner runner(options, tokenizer, model);
  return runner.run();
}

}  // namespace salvo
