// A call's path through a session:
//
//   submit() ── rows in chunks ──> tokenizer pool: validate, tokenize each row
//     ── the last chunk plans the call: good rows sorted by length and cut into batches under the
//        token budget ──> replica pool: pack, run the model, copy each row's floats to its input
//        position ── the last batch assembles the columns (TaskOutput) and fulfils the promise.
//
// Both pools have bounded queues, so a caller that submits faster than the model runs waits in
// submit(). A call's failure (not a bad row: a model or internal error) is stored in its promise;
// its remaining batches are skipped.
#include "salvo/session.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "core/cpu.h"
#include "core/utf8.h"
#include "core/worker_pool.h"
#include "model/model_impl.h"
#include "pipeline/task_output.h"
#include "pipeline/token_budget_batcher.h"
#include "salvo/error.h"
#include "text/tokenizer.h"

namespace salvo {
namespace {

constexpr size_t kRowsPerChunk = 256;  // rows one tokenizer task takes

struct NoState {};

struct ReplicaState {
  std::unique_ptr<ModelReplica> replica;
  std::vector<float> out;
};

// One call in flight, shared by the tasks that work on it.
struct Call {
  Call(Request r, const ModelInfo& info, size_t width)
      : request(std::move(r)),
        rows(request.inputs.size()),
        output(request.task, info, request.options, rows, width),
        encodings(rows) {}

  Request request;
  size_t rows;
  TaskOutput output;
  std::vector<Encoding> encodings;
  std::atomic<size_t> pending{0};  // tokenizer chunks still running, then batches
  std::atomic<uint64_t> tokens{0}, padded_tokens{0}, batches{0};
  std::atomic<bool> failed{false};
  std::promise<Result> promise;

  void fail(std::exception_ptr error) {
    if (!failed.exchange(true)) promise.set_exception(error);
  }
};

}  // namespace

size_t Inputs::size() const { return texts.empty() ? encodings.size() : texts.size(); }

class Session::Impl {
 public:
  Impl(std::shared_ptr<const Model> model, const SessionOptions& options)
      : model_(std::move(model)),
        impl_(model_impl(*model_)),
        options_(options),
        threads_(options.threads > 0 ? options.threads : available_cores()),
        planner_(options.batching) {
    if (options.replicas < 1) throw Error(ErrorCode::kInvalidArgument, "replicas must be at least 1");
    const int replicas = std::min(options.replicas, threads_);
    const int per_replica = std::max(1, threads_ / replicas);
    tokenizers_ = std::make_unique<WorkerPool<NoState>>(threads_, 4 * static_cast<size_t>(threads_),
                                                        [] { return NoState{}; });
    replicas_ = std::make_unique<WorkerPool<ReplicaState>>(
        replicas, 4 * static_cast<size_t>(replicas), [this, per_replica] {
          // This thread's own OpenMP limit: the host's other threads keep theirs.
          omp_set_num_threads(per_replica);
          return ReplicaState{impl_.create_replica(), {}};
        });
  }

  ~Impl() {
    tokenizers_->close();  // tokenizer tasks post batches to the replicas: stop them first
    replicas_->close();
  }

  std::future<Result> submit(Request request) {
    task_schema(request.task, impl_.info(), request.options);  // throws for a task the model lacks
    const Inputs& in = request.inputs;
    const size_t rows = in.size();
    if (!in.texts.empty() && !in.encodings.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "give texts or encodings, not both");
    }
    if (request.task == Task::kScore && in.text_pairs.size() != rows) {
      throw Error(ErrorCode::kInvalidArgument, "score needs one text pair per text: " + std::to_string(rows) +
                                                   " texts, " + std::to_string(in.text_pairs.size()) + " pairs");
    }
    if (request.task != Task::kScore && !in.text_pairs.empty()) {
      throw Error(ErrorCode::kInvalidArgument, std::string(task_name(request.task)) + " takes no text pairs");
    }
    if (!in.errors.empty() && in.errors.size() != rows) {
      throw Error(ErrorCode::kInvalidArgument, "errors must be empty or one per row");
    }
    const bool tokenized = !in.encodings.empty();
    auto call = std::make_shared<Call>(std::move(request), impl_.info(), impl_.output_width(request.task));
    std::future<Result> future = call->promise.get_future();
    if (rows == 0) {
      finish(call);
      return future;
    }
    if (tokenized) {
      call->encodings = std::move(call->request.inputs.encodings);
      const std::vector<std::string>& errors = call->request.inputs.errors;
      for (size_t r = 0; r < rows; ++r) {
        if (!errors.empty() && !errors[r].empty()) {
          call->output.set_error(r, errors[r]);
        } else {
          check_row(*call, r);
        }
      }
      plan(call);
      return future;
    }
    const size_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
    call->pending = chunks;
    for (size_t c = 0; c < chunks; ++c) {
      const size_t begin = c * kRowsPerChunk;
      const size_t end = std::min(rows, begin + kRowsPerChunk);
      tokenizers_->post([this, call, begin, end](NoState&) {
        try {
          if (!call->failed) tokenize(*call, begin, end);
        } catch (...) {
          call->fail(std::current_exception());
        }
        if (--call->pending == 0) plan(call);
      });
    }
    return future;
  }

  std::shared_ptr<const Model> model_;
  const ModelImpl& impl_;
  SessionOptions options_;
  int threads_;

 private:
  void tokenize(Call& call, size_t begin, size_t end) {
    const Tokenizer& tokenizer = impl_.tokenizer();
    const Inputs& in = call.request.inputs;
    for (size_t r = begin; r < end; ++r) {
      if (!in.errors.empty() && !in.errors[r].empty()) {
        call.output.set_error(r, in.errors[r]);
        continue;
      }
      size_t bad = 0;
      if (!is_valid_utf8(in.texts[r], &bad)) {
        call.output.set_error(r, "text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
        continue;
      }
      if (call.request.task == Task::kScore) {
        if (!is_valid_utf8(in.text_pairs[r], &bad)) {
          call.output.set_error(r, "text pair is not valid UTF-8 (byte " + std::to_string(bad) + ")");
          continue;
        }
        throw Error(ErrorCode::kInvalidArgument, "score needs a tokenizer with pair encoding");
      }
      tokenizer.encode(in.texts[r], &call.encodings[r]);
      check_row(call, r);
    }
  }

  // A row the tokenizer turned into nothing cannot run (a model needs at least one token).
  void check_row(Call& call, size_t r) {
    if (!call.output.has_error(r) && call.encodings[r].ids.empty()) {
      call.output.set_error(r, "the text gives no tokens");
    }
  }

  // Cuts the call's good rows into batches and queues them for the replicas.
  void plan(const std::shared_ptr<Call>& call) {
    if (call->failed) return;
    try {
      if (call->request.task == Task::kTokenize) {
        for (const auto& e : call->encodings) call->tokens += e.ids.size();
        finish(call);
        return;
      }
      std::vector<size_t> good;
      std::vector<size_t> lengths;
      for (size_t r = 0; r < call->rows; ++r) {
        if (call->output.has_error(r)) continue;
        good.push_back(r);
        lengths.push_back(call->encodings[r].ids.size());
      }
      std::vector<std::vector<size_t>> batches = planner_.plan(lengths);
      if (batches.empty()) {
        finish(call);
        return;
      }
      call->pending = batches.size();
      for (auto& positions : batches) {
        auto batch = std::make_shared<PackedBatch>();
        auto rows = std::make_shared<std::vector<size_t>>();
        batch->offsets.push_back(0);
        for (size_t pos : positions) {
          const size_t r = good[pos];
          const Encoding& e = call->encodings[r];
          batch->ids.insert(batch->ids.end(), e.ids.begin(), e.ids.end());
          batch->type_ids.insert(batch->type_ids.end(), e.type_ids.begin(), e.type_ids.end());
          batch->offsets.push_back(static_cast<int32_t>(batch->ids.size()));
          rows->push_back(r);
        }
        replicas_->post([this, call, batch, rows](ReplicaState& state) {
          try {
            if (!call->failed) run_batch(*call, *batch, *rows, state);
          } catch (...) {
            call->fail(std::current_exception());
          }
          if (--call->pending == 0) finish(call);
        });
      }
    } catch (...) {
      call->fail(std::current_exception());
    }
  }

  void run_batch(Call& call, const PackedBatch& batch, const std::vector<size_t>& rows, ReplicaState& state) {
    const size_t width = impl_.output_width(call.request.task);
    state.out.resize(batch.rows() * width);
    state.replica->run(call.request.task, batch, state.out.data());
    size_t longest = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* row = state.out.data() + i * width;
      // A non-finite result (weights that overflow on this row) is an error row, so that an
      // all-NaN row of an .npy output always means an error row.
      bool finite = true;
      for (size_t k = 0; k < width; ++k) finite &= std::isfinite(row[k]);
      if (finite) {
        std::copy_n(row, width, call.output.values(rows[i]));
      } else {
        call.output.set_error(rows[i], "the model's output is not finite (NaN or infinity)");
      }
      longest = std::max<size_t>(longest, batch.offsets[i + 1] - batch.offsets[i]);
    }
    call.tokens += batch.tokens();
    call.padded_tokens += rows.size() * longest;
    ++call.batches;
  }

  void finish(const std::shared_ptr<Call>& call) {
    if (call->failed) return;
    try {
      Result result;
      result.columns = call->output.finish(call->encodings);
      result.stats.rows = call->rows;
      result.stats.errors = call->output.errors();
      result.stats.tokens = call->tokens;
      result.stats.padded_tokens = call->padded_tokens;
      result.stats.batches = call->batches;
      if (!call->failed.exchange(true)) call->promise.set_value(std::move(result));
    } catch (...) {
      call->fail(std::current_exception());
    }
  }

  TokenBudgetBatcher planner_;
  std::unique_ptr<WorkerPool<NoState>> tokenizers_;
  std::unique_ptr<WorkerPool<ReplicaState>> replicas_;
};

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options) {
  if (!model) throw Error(ErrorCode::kInvalidArgument, "a session needs a model");
  impl_ = std::make_unique<Impl>(std::move(model), options);
}

std::unique_ptr<Session> Session::open(const std::filesystem::path& path, const ModelOptions& model_options,
                                       const SessionOptions& options) {
  return std::make_unique<Session>(load_model(path, model_options), options);
}

Session::~Session() = default;

const Model& Session::model() const { return *impl_->model_; }
std::shared_ptr<const Model> Session::shared_model() const { return impl_->model_; }
int Session::threads() const { return impl_->threads_; }

Schema Session::output_schema(Task task, const TaskOptions& options) const {
  return task_schema(task, impl_->impl_.info(), options);
}

std::future<Result> Session::submit(Request request) { return impl_->submit(std::move(request)); }

Result Session::run(Request request) { return submit(std::move(request)).get(); }

namespace {
Request text_request(Task task, const std::vector<std::string>& texts, const TaskOptions& options) {
  Request request;
  request.task = task;
  request.options = options;
  request.inputs.texts.assign(texts.begin(), texts.end());
  return request;
}
}  // namespace

Result Session::embed(const std::vector<std::string>& texts) { return run(text_request(Task::kEmbed, texts, {})); }

Result Session::classify(const std::vector<std::string>& texts, const TaskOptions& options) {
  return run(text_request(Task::kClassify, texts, options));
}

Result Session::tokenize(const std::vector<std::string>& texts) {
  return run(text_request(Task::kTokenize, texts, {}));
}

Result Session::score(const std::vector<std::string>& texts, const std::vector<std::string>& text_pairs) {
  Request request = text_request(Task::kScore, texts, {});
  request.inputs.text_pairs.assign(text_pairs.begin(), text_pairs.end());
  return run(std::move(request));
}

}  // namespace salvo
