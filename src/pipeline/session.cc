// A call's path through a session:
//
//   submit() ── rows in chunks ──> featurizer pool: validate, featurize each row (the model's
//     tokenizer, or the session's featurizer: audio, images; Task::kFeaturize stops here)
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
#include "salvo/featurizer.h"
#include "text/text_featurizer.h"
#include "text/tokenizer.h"

namespace salvo {
namespace {

constexpr size_t kRowsPerChunk = 256;  // most rows one featurizer task takes

struct NoState {};

struct ReplicaState {
  std::unique_ptr<ModelReplica> replica;
  std::vector<float> out;
};

// One call in flight, shared by the tasks that work on it.
struct Call {
  Call(Request r, const ModelInfo& info, size_t width, FeatureKind kind)
      : request(std::move(r)),
        rows(request.inputs.size()),
        output(request.task, info, request.options, rows, width, kind),
        features(rows) {}

  Request request;
  size_t rows;
  TaskOutput output;
  std::vector<Features> features;
  std::atomic<size_t> pending{0};  // featurizer chunks still running, then batches
  std::atomic<uint64_t> tokens{0}, padded_tokens{0}, batches{0};
  std::atomic<bool> failed{false};
  std::promise<Result> promise;

  void fail(std::exception_ptr error) {
    if (!failed.exchange(true)) promise.set_exception(error);
  }
};

}  // namespace

size_t Inputs::size() const {
  if (!texts.empty()) return texts.size();
  if (!tensors.empty()) return static_cast<size_t>(tensors[0].rows());
  return encodings.size();
}

class Session::Impl {
 public:
  Impl(std::shared_ptr<const Model> model, const SessionOptions& options)
      : model_(std::move(model)),
        impl_(model_ ? &model_impl(*model_) : nullptr),
        options_(options),
        threads_(options.threads > 0 ? options.threads : available_cores()),
        planner_(options.batching) {
    if (options.replicas < 1) throw Error(ErrorCode::kInvalidArgument, "replicas must be at least 1");
    if (options.featurizer) {
      featurizer_ = options.featurizer;
    } else if (impl_ && impl_->info().serves(Task::kPredict)) {
      // A tensor model: rows arrive as tensors, nothing to featurize.
    } else if (impl_) {
      featurizer_ = std::make_shared<TextFeaturizer>(impl_->tokenizer());
    } else {
      throw Error(ErrorCode::kInvalidArgument, "a session needs a model or a featurizer");
    }
    if (!impl_) {
      featurizer_info_.architecture = "featurizer";
      featurizer_info_.summary = featurizer_->describe();
      featurizer_info_.tasks = {Task::kFeaturize};
    }
    featurizers_ = std::make_unique<WorkerPool<NoState>>(threads_, 4 * static_cast<size_t>(threads_),
                                                         [] { return NoState{}; });
    if (!impl_) return;
    const int replicas = std::min(options.replicas, threads_);
    const int per_replica = std::max(1, threads_ / replicas);
    replicas_ = std::make_unique<WorkerPool<ReplicaState>>(
        replicas, 4 * static_cast<size_t>(replicas), [this, per_replica] {
          // This thread's own OpenMP limit: the host's other threads keep theirs.
          omp_set_num_threads(per_replica);
          return ReplicaState{impl_->create_replica(), {}};
        });
  }

  ~Impl() {
    featurizers_->close();  // featurizer tasks post batches to the replicas: stop them first
    if (replicas_) replicas_->close();
  }

  const Featurizer* featurizer() const { return featurizer_.get(); }

  // What the session serves: its model's, or featurize alone.
  const ModelInfo& info() const { return impl_ ? impl_->info() : featurizer_info_; }

  Schema output_schema(Task task, const TaskOptions& options) const {
    Schema schema = task_schema(task, info(), options, featurizer_ ? featurizer_->kind() : FeatureKind::kTokens);
    if (task == Task::kScore && info().max_length > 0) {
      // Below the special tokens' count, a pair cannot be truncated (Hugging Face's tokenizers then
      // leave it whole), and a long pair would not fit the model.
      const size_t special = impl_->tokenizer().num_special_tokens(true);
      if (info().max_length < special) {
        throw Error(ErrorCode::kInvalidArgument,
                    "max length " + std::to_string(info().max_length) + " leaves no room for a pair: the tokenizer adds " +
                        std::to_string(special) + " special tokens to each (give at least " + std::to_string(special) +
                        ")");
      }
    }
    return schema;
  }

  std::future<Result> submit(Request request) {
    output_schema(request.task, request.options);  // throws for a task the session cannot serve
    if (request.task == Task::kPredict) return submit_tensors(std::move(request));
    const bool wants_tokens = request.task != Task::kFeaturize;
    if (wants_tokens != (featurizer_->kind() == FeatureKind::kTokens)) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string(task_name(request.task)) + " needs " + (wants_tokens ? "token ids" : "a tensor") +
                      ", and this session's featurizer (" + featurizer_->describe() + ") makes " +
                      (wants_tokens ? "tensors" : "token ids"));
    }
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
    const size_t width = wants_tokens && impl_ ? impl_->output_width(request.task) : 0;
    auto call = std::make_shared<Call>(std::move(request), info(), width, featurizer_->kind());
    std::future<Result> future = call->promise.get_future();
    if (rows == 0) {
      finish(call);
      return future;
    }
    if (tokenized) {
      std::vector<Encoding>& encodings = call->request.inputs.encodings;
      for (size_t r = 0; r < rows; ++r) call->features[r].encoding = std::move(encodings[r]);
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
    featurize_in_chunks(call, rows, &Impl::plan);
    return future;
  }

  // Runs the featurizer over rows [0, rows) on the featurizer threads, then `next` once every row
  // is done. Chunks are small enough that every thread gets several: a window of a few dozen files
  // must spread over all cores as a window of thousands of texts does.
  void featurize_in_chunks(const std::shared_ptr<Call>& call, size_t rows,
                           void (Impl::*next)(const std::shared_ptr<Call>&)) {
    const size_t per_chunk = std::clamp<size_t>(rows / (4 * static_cast<size_t>(threads_)), 1, kRowsPerChunk);
    const size_t chunks = (rows + per_chunk - 1) / per_chunk;
    call->pending = chunks;
    for (size_t c = 0; c < chunks; ++c) {
      const size_t begin = c * per_chunk;
      const size_t end = std::min(rows, begin + per_chunk);
      featurizers_->post([this, call, begin, end, next](NoState&) {
        try {
          if (!call->failed) featurize(*call, begin, end);
        } catch (...) {
          call->fail(std::current_exception());
        }
        if (--call->pending == 0) (this->*next)(call);
      });
    }
  }

  std::shared_ptr<const Model> model_;
  const ModelImpl* impl_;  // null: a featurizer-only session
  SessionOptions options_;
  int threads_;

 private:
  // Task::kPredict: tensors in, no featurizer; good rows in input order, in batches of at most
  // max_batch_rows.
  std::future<Result> submit_tensors(Request request) {
    const Inputs& in = request.inputs;
    if (in.tensors.empty() && !in.texts.empty() && featurizer_ && featurizer_->kind() == FeatureKind::kFloat32) {
      return submit_featurized_tensors(std::move(request));
    }
    if (in.tensors.empty()) throw Error(ErrorCode::kInvalidArgument, "predict needs input tensors");
    if (!in.texts.empty() || !in.encodings.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "predict takes tensors, not texts");
    }
    const int64_t rows = in.tensors[0].rows();
    for (const TensorColumn& t : in.tensors) {
      const int64_t size = t.row_size();
      const size_t values = t.int64 ? t.ints.size() : t.floats.size();
      if (size <= 0 || t.rows() != rows || values != static_cast<size_t>(rows * size)) {
        throw Error(ErrorCode::kInvalidArgument, "input tensor \"" + t.name + "\" holds " + std::to_string(values) +
                                                     " values: not " + std::to_string(rows) + " rows of " +
                                                     std::to_string(size));
      }
    }
    if (!in.errors.empty() && in.errors.size() != static_cast<size_t>(rows)) {
      throw Error(ErrorCode::kInvalidArgument, "errors must be empty or one per row");
    }
    auto call = std::make_shared<Call>(std::move(request), info(), 0, FeatureKind::kTokens);
    std::future<Result> future = call->promise.get_future();
    const std::vector<std::string>& errors = call->request.inputs.errors;
    for (size_t r = 0; r < call->rows && !errors.empty(); ++r) {
      if (!errors[r].empty()) call->output.set_error(r, errors[r]);
    }
    run_tensor_call(call);
    return future;
  }

  // Queues a predict call's good rows, in input order, in batches of at most max_batch_rows.
  void run_tensor_call(const std::shared_ptr<Call>& call) {
    std::vector<size_t> good;
    for (size_t r = 0; r < call->rows; ++r) {
      if (!call->output.has_error(r)) good.push_back(r);
    }
    const size_t per_batch = options_.batching.max_batch_rows;
    const size_t batches = (good.size() + per_batch - 1) / per_batch;
    if (batches == 0) {
      finish(call);
      return;
    }
    call->pending = batches;
    for (size_t b = 0; b < batches; ++b) {
      auto batch_rows = std::make_shared<std::vector<size_t>>(
          good.begin() + b * per_batch, good.begin() + std::min(good.size(), (b + 1) * per_batch));
      replicas_->post([this, call, batch_rows](ReplicaState& state) {
        try {
          if (!call->failed) run_tensor_batch(*call, *batch_rows, state);
        } catch (...) {
          call->fail(std::current_exception());
        }
        if (--call->pending == 0) finish(call);
      });
    }
  }

  // predict on files: the featurizer pool turns each row into a tensor, the last chunk stacks them
  // into the model's input, then the tensor path runs.
  std::future<Result> submit_featurized_tensors(Request request) {
    const size_t rows = request.inputs.size();
    if (!request.inputs.errors.empty() && request.inputs.errors.size() != rows) {
      throw Error(ErrorCode::kInvalidArgument, "errors must be empty or one per row");
    }
    auto call = std::make_shared<Call>(std::move(request), info(), 0, FeatureKind::kFloat32);
    std::future<Result> future = call->promise.get_future();
    featurize_in_chunks(call, rows, &Impl::stack_features);
    return future;
  }

  // Builds the one input column from the rows' features; a row whose size does not fit the shape
  // is an error row.
  void stack_features(const std::shared_ptr<Call>& call) {
    if (call->failed) return;
    try {
      TensorColumn input;
      input.name = "features";
      input.shape = call->request.options.input_shape;
      for (size_t r = 0; r < call->rows && input.shape.empty(); ++r) {
        if (!call->output.has_error(r)) input.shape = call->features[r].shape;
      }
      const size_t n = input.shape.empty() ? 1 : static_cast<size_t>(input.row_size());
      input.floats.resize(call->rows * n);
      for (size_t r = 0; r < call->rows; ++r) {
        if (call->output.has_error(r)) continue;
        const std::vector<float>& v = call->features[r].values;
        if (v.size() != n) {
          call->output.set_error(r, "features of " + std::to_string(v.size()) + " values do not fit the model's input of " +
                                        std::to_string(n) + " (--input-tensor-shapes, or --frames for audio)");
          continue;
        }
        std::copy(v.begin(), v.end(), input.floats.begin() + r * n);
        call->features[r] = Features{};  // the copy is what runs
      }
      call->request.inputs.tensors = {std::move(input)};
      run_tensor_call(call);
    } catch (...) {
      call->fail(std::current_exception());
    }
  }

  void run_tensor_batch(Call& call, const std::vector<size_t>& rows, ReplicaState& state) {
    std::vector<TensorColumn> batch;
    for (const TensorColumn& in : call.request.inputs.tensors) {
      TensorColumn t;
      t.name = in.name;
      t.shape = in.shape;
      t.int64 = in.int64;
      const int64_t n = in.row_size();
      for (size_t r : rows) {
        if (in.int64) {
          t.ints.insert(t.ints.end(), in.ints.begin() + r * n, in.ints.begin() + (r + 1) * n);
        } else {
          t.floats.insert(t.floats.end(), in.floats.begin() + r * n, in.floats.begin() + (r + 1) * n);
        }
      }
      batch.push_back(std::move(t));
    }
    std::vector<OutputTensor> outputs;
    try {
      state.replica->run_tensors(batch, static_cast<int64_t>(rows.size()), &outputs);
      call.output.set_outputs(rows, outputs);
    } catch (const std::exception& e) {
      // The model failed on the batch (its forward() threw, or its outputs do not fit: a row of ids
      // out of range, a shape it cannot take, memory). Run the halves apart, down to single rows, so
      // that only the rows it fails on become error rows.
      ++call.batches;
      if (rows.size() == 1) {
        call.output.set_error(rows[0], e.what());
        return;
      }
      const auto middle = rows.begin() + static_cast<std::ptrdiff_t>(rows.size() / 2);
      run_tensor_batch(call, std::vector<size_t>(rows.begin(), middle), state);
      run_tensor_batch(call, std::vector<size_t>(middle, rows.end()), state);
      return;
    }
    ++call.batches;
  }

  void featurize(Call& call, size_t begin, size_t end) {
    const Inputs& in = call.request.inputs;
    for (size_t r = begin; r < end; ++r) {
      if (!in.errors.empty() && !in.errors[r].empty()) {
        call.output.set_error(r, in.errors[r]);
        continue;
      }
      if (call.request.task == Task::kScore) {
        size_t bad = 0;
        if (!is_valid_utf8(in.texts[r], &bad)) {
          call.output.set_error(r, "text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
          continue;
        }
        if (!is_valid_utf8(in.text_pairs[r], &bad)) {
          call.output.set_error(r, "text pair is not valid UTF-8 (byte " + std::to_string(bad) + ")");
          continue;
        }
        try {
          impl_->tokenizer().encode_pair(in.texts[r], in.text_pairs[r], &call.features[r].encoding);
        } catch (const Error& e) {  // a pair the tokenizer's truncation strategy cannot fit
          call.output.set_error(r, e.what());
          continue;
        }
        check_row(call, r);
        continue;
      }
      std::string error = featurizer_->featurize(in.texts[r], &call.features[r]);
      if (!error.empty()) call.output.set_error(r, std::move(error));
    }
  }

  // A row the tokenizer turned into nothing cannot run (a model needs at least one token).
  void check_row(Call& call, size_t r) {
    if (!call.output.has_error(r) && call.features[r].encoding.ids.empty()) {
      call.output.set_error(r, "the text gives no tokens");
    }
  }

  // Cuts the call's good rows into batches and queues them for the replicas.
  void plan(const std::shared_ptr<Call>& call) {
    if (call->failed) return;
    try {
      if (call->request.task == Task::kTokenize || call->request.task == Task::kFeaturize) {
        for (const auto& f : call->features) call->tokens += f.encoding.ids.size();
        finish(call);
        return;
      }
      std::vector<size_t> good;
      std::vector<size_t> lengths;
      const size_t max_tokens = impl_->max_tokens();
      for (size_t r = 0; r < call->rows; ++r) {
        if (call->output.has_error(r)) continue;
        // A sequence longer than the model takes (given as encodings, or one that truncation could
        // not cut) fails alone, not its batch.
        if (const size_t n = call->features[r].encoding.ids.size(); max_tokens > 0 && n > max_tokens) {
          call->output.set_error(r, std::to_string(n) + " tokens, more than the model's " + std::to_string(max_tokens) +
                                        " positions");
          continue;
        }
        good.push_back(r);
        lengths.push_back(call->features[r].encoding.ids.size());
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
          const Encoding& e = call->features[r].encoding;
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
    const size_t width = impl_->output_width(call.request.task);
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
      result.columns = call->output.finish(call->features);
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
  std::shared_ptr<const Featurizer> featurizer_;
  ModelInfo featurizer_info_;  // what a session without a model serves
  std::unique_ptr<WorkerPool<NoState>> featurizers_;
  std::unique_ptr<WorkerPool<ReplicaState>> replicas_;  // none without a model
};

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options) {
  impl_ = std::make_unique<Impl>(std::move(model), options);
}

std::unique_ptr<Session> Session::open(const std::filesystem::path& path, const ModelOptions& model_options,
                                       const SessionOptions& options) {
  return std::make_unique<Session>(load_model(path, model_options), options);
}

Session::~Session() = default;

const Model& Session::model() const {
  if (!impl_->model_) throw Error(ErrorCode::kInvalidArgument, "this session has a featurizer and no model");
  return *impl_->model_;
}
std::shared_ptr<const Model> Session::shared_model() const { return impl_->model_; }
const Featurizer* Session::featurizer() const { return impl_->featurizer(); }
int Session::threads() const { return impl_->threads_; }

Schema Session::output_schema(Task task, const TaskOptions& options) const {
  return impl_->output_schema(task, options);
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
