"""salvo: fast BERT-family inference over numpy, pandas and Arrow data, and in Spark, Ray and Dask.

    import salvo
    model = salvo.Model("examples/debian-sections")
    vectors = model.embed(["a text", "another text"])     # numpy float32, shape (2, dim)
    sections = salvo.Model("examples/debian-sections", task="classify").classify(texts, top_k=3)
    scores = salvo.Model("reranker/", task="score").score(queries, passages)   # a cross-encoder
    logits = salvo.Model("model.pt", task="predict").predict({"pixels": images})["output"]  # TorchScript

A model runs in C++ threads with the GIL released; one Model may be called from many Python threads.
Texts may be a list of str, a numpy or pandas column, or an Arrow string column (read in place,
without copying). Bad rows (null, not a string, not UTF-8; for predict, a null row or one of the
wrong size) never fail a call: they give NaN (embed, score, predict) or None (classify, tokenize)
and a per-row error. A model that cannot load raises salvo.Error.

Bad rows are never silent: the engine routes add an "error" column (each row's reason, null for a
good row) unless error_col=None, and a Spark route whose output has no room for a reason warns with
salvo.BadRowsWarning for each batch holding bad rows.

Engines: salvo.spark, salvo.ray, salvo.dask. In a worker, use salvo.get_model(path, ...): it loads
each model once per process. A Model pickles as its path and options, so a UDF or task that closes
over one loads it in each worker process once (through get_model; the path must exist there). A
process forked from one holding a model cannot run that model (its threads stay in the parent): it
gets a salvo.Error, and get_model loads the model anew there.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import sys
import threading
import warnings
from typing import Any, Optional

import numpy as np

from . import _salvo
from ._salvo import Batch, Error

__all__ = ["Model", "Batch", "Error", "BadRowsWarning", "Classification", "get_model", "cache_info",
           "clear_cache", "default_threads", "__version__"]
__version__ = _salvo.__version__

logging.getLogger("salvo").addHandler(logging.NullHandler())

_TASKS = ("embed", "classify", "score", "tokenize", "predict")


class BadRowsWarning(UserWarning):
    """Rows of a batch could not be run, on a route whose output has no room for their reasons
    (salvo.spark.make_predict_fn for predict_batch_udf, TorchScript models included; embed_udf and
    classify_udf without with_errors): one warning per such batch, with the count of bad rows
    ("3 of 64 rows of a batch could not be run ..."), the first one's reason, and what gives each
    row's reason (with_errors=True, or salvo.spark.transform's error_col).

    It is shown on the stderr of the worker that ran the batch (in Spark, the executor's stderr
    log), each distinct message once, as Python does by default. Set in the worker process (e.g. in
    the module that defines the UDF), warnings.simplefilter("always", salvo.BadRowsWarning) shows
    every one, and warnings.simplefilter("error", salvo.BadRowsWarning) fails the task instead.
    """


def _warn_bad_rows(errors: list, remedy: str) -> int:
    """Warns with BadRowsWarning when rows of this batch failed (errors: None or a reason per row);
    remedy says what gives each row's reason. Returns the number of bad rows."""
    bad = [i for i, e in enumerate(errors) if e is not None]
    if bad:
        warnings.warn(f"{len(bad)} of {len(errors)} rows of a batch could not be run (the first, row {bad[0]}: "
                      f"{errors[bad[0]]}); {remedy}", BadRowsWarning, stacklevel=2)
    return len(bad)


def _top_scores(rows: list, k: int) -> np.ndarray:
    """top_scores rows (a list of k probabilities per row, None for a failed row) as a float32 array
    (N, k), NaN rows for the failed ones."""
    scores = np.full((len(rows), k), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            scores[i] = row
    return scores


def _output_columns(task: str, output_col: Optional[str], top_k: int, error_col: Optional[str]) -> dict:
    """The columns that salvo.ray and salvo.dask add, {what: column name}: "embedding" (output_col,
    default "embedding"); or "label", "score" and with top_k "top_labels", "top_scores" (prefixed by
    output_col + "_" when given); and "error" (error_col, unless None)."""
    if task == "embed":
        outputs = {"embedding": output_col or "embedding"}
    else:
        prefix = f"{output_col}_" if output_col else ""
        outputs = {n: prefix + n for n in ["label", "score"] + (["top_labels", "top_scores"] if top_k else [])}
    if error_col:
        if error_col in outputs.values():
            raise ValueError(f"error_col {error_col!r} is also an output column")
        outputs["error"] = error_col
    return outputs


@dataclasses.dataclass
class Classification:
    """What Model.classify gives, one entry per input row.

    label: the most likely label (str), None for a row that failed.
    score: its probability (float32 array), NaN for a row that failed.
    top_labels / top_scores: when top_k > 0, the k most likely labels per row (a list of lists,
        None for a failed row) and their probabilities (float32 array (N, k), NaN for a failed row).
    errors: None for a row that was computed, else why it was not.
    """

    label: list
    score: np.ndarray
    errors: list
    top_labels: Optional[list] = None
    top_scores: Optional[list] = None

    def __len__(self) -> int:
        return len(self.label)


def default_threads() -> int:
    """Compute threads a model gets when threads=None.

    SALVO_THREADS when set; inside a Spark task, the task's CPUs (spark.task.cpus, through
    TaskContext.cpus()), so that concurrent tasks on an executor do not oversubscribe its cores;
    inside a Ray worker, the CPUs Ray assigned to it; inside a Dask worker, its thread count;
    otherwise 0, meaning every core this process may use.
    """
    env = os.environ.get("SALVO_THREADS")
    if env:
        return max(1, int(env))
    if "pyspark" in sys.modules:
        try:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            if ctx is not None:
                return max(1, int(ctx.cpus()))
        except Exception:  # an older PySpark without TaskContext.cpus()
            pass
    if "ray" in sys.modules:
        try:
            import ray

            if ray.is_initialized():
                ctx = ray.get_runtime_context()
                if ctx.worker.mode == ray.WORKER_MODE:
                    cpus = ctx.get_assigned_resources().get("CPU")
                    if cpus:
                        return max(1, int(round(cpus)))
        except Exception:
            pass
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return max(1, int(get_worker().state.nthreads))
        except Exception:  # not inside a Dask worker
            pass
    return 0


def _texts(texts: Any) -> Any:
    """What the extension reads: a sequence of str, or an object with an Arrow PyCapsule method."""
    if isinstance(texts, (list, tuple)):
        return texts
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of strings, not one string")
    if isinstance(texts, (dict, set, frozenset)):
        raise TypeError(f"texts must be an ordered sequence of strings, not a {type(texts).__name__}")
    module = type(texts).__module__ or ""
    if module.startswith("pandas"):
        if getattr(texts, "ndim", 1) != 1:
            raise ValueError(f"texts must be one column, got a {type(texts).__name__} of shape {texts.shape} "
                             "(select the column: df[\"text\"])")
        pd = sys.modules["pandas"]
        values = getattr(texts, "array", None)
        # An Arrow-backed column (pandas 3's default str dtype): hand over its Arrow chunks.
        if isinstance(values, pd.arrays.ArrowExtensionArray):
            return values.__arrow_array__()
        return texts.to_numpy(dtype=object)
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"texts must be one-dimensional, got shape {texts.shape}")
        if texts.dtype.kind in "US":
            return texts.tolist()
        return texts
    if hasattr(texts, "__arrow_c_array__") or hasattr(texts, "__arrow_c_stream__"):
        return texts
    return list(texts)


class Model:
    """A model folder (Hugging Face layout: config.json, weights, tokenizer.json), or a TorchScript
    file (model.pt), ready to run.

    path: the model folder, or the TorchScript file.
    task: what run() computes by default, and what the model must serve: "embed", "classify",
        "score" (a cross-encoder on text pairs), "tokenize" (which loads the tokenizer alone) or
        "predict" (a TorchScript model on tensors).
    dtype: "f32" (default), "bf16", "int8" or "auto" (see the salvo CLI's --dtype).
    threads: compute threads; None: see salvo.default_threads() (the Spark task's CPUs inside a
        Spark task, all cores elsewhere).
    max_length: tokens per text, special tokens included (None: the tokenizer's truncation).
    batch_tokens: tokens per batch the model runs (None: 8192).
    batch_rows: rows per batch at most (None: the session's default); what predict batches by.
    replicas: model replicas running batches in parallel (threads are split between them).

    Raises salvo.Error (with .code "model", "invalid_argument", ...) when the model cannot load or
    cannot serve the task.
    """

    def __init__(self, path: "str | os.PathLike[str]", task: str = "embed", dtype: str = "f32",
                 threads: Optional[int] = None, max_length: Optional[int] = None,
                 batch_tokens: Optional[int] = None, batch_rows: Optional[int] = None, replicas: int = 1):
        if task not in _TASKS:
            raise ValueError(f"task must be one of {', '.join(_TASKS)}, not {task!r}")
        # What pickling rebuilds the model from: the options as given, so threads=None resolves
        # again where the model is unpickled (a Spark task's CPUs, not the driver's).
        self._options = dict(task=task, dtype=dtype, threads=threads, max_length=max_length,
                             batch_tokens=batch_tokens, batch_rows=batch_rows, replicas=replicas)
        for name in ("threads", "max_length", "batch_tokens", "batch_rows"):
            _check_count(name, self._options[name], allow_none=True)
        _check_count("replicas", replicas, minimum=1)
        if threads is None:
            threads = default_threads()
        self._path = os.fspath(path)
        self._model = _salvo._Model(self._path, task=task, dtype=dtype, threads=int(threads),
                                    max_length=int(max_length or 0), batch_tokens=int(batch_tokens or 0),
                                    batch_rows=int(batch_rows or 0), replicas=int(replicas))

    def __reduce__(self):
        # Shipped to a worker (a Spark UDF's closure, a Ray or Dask task), a model is loaded there
        # once per process through get_model, from the same absolute path, which it must see.
        return (_load_cached, (os.path.abspath(self._path), self._options))

    @property
    def path(self) -> str:
        return self._path

    @property
    def task(self) -> str:
        return self._model.task

    @property
    def threads(self) -> int:
        """Compute threads the model runs on."""
        return self._model.threads

    @property
    def info(self) -> dict:
        """What the model is: architecture, dim, labels, max_length, pooling, dtype, threads, ..."""
        return self._model.info

    @property
    def dim(self) -> int:
        return self._model.info["dim"]

    @property
    def labels(self) -> list:
        return self._model.info["labels"]

    def run(self, texts: Any, task: Optional[str] = None, top_k: int = 0, all_scores: bool = False,
            pairs: Any = None) -> Batch:
        """Runs `task` (default: the model's) and returns the result as a salvo.Batch: the task's columns
        (embed: embedding; classify: label, score[, top_labels, top_scores][, scores]; score: score;
        tokenize: input_ids, token_type_ids) and "error". For score, `pairs` holds the second text of
        each pair (or texts is a sequence of (text, pair) tuples). Convert with batch.to_arrow(),
        pa.record_batch(batch) or batch.column(name); none of these copies the numbers."""
        task = task or self.task
        _check_count("top_k", top_k)
        if task == "predict":
            raise ValueError("predict takes tensors: use Model.predict")
        if task == "score" and pairs is None:
            texts, pairs = _split_pairs(texts)
        return self._model.run(_texts(texts), task, int(top_k), bool(all_scores),
                               None if pairs is None else _texts(pairs))

    def run_arrow(self, texts: Any, task: Optional[str] = None, top_k: int = 0, all_scores: bool = False,
                  pairs: Any = None):
        """run(), as a pyarrow.RecordBatch (imported through the Arrow C data interface: no copy)."""
        return _to_arrow(self.run(texts, task, top_k, all_scores, pairs))

    def embed(self, texts: Any, return_errors: bool = False):
        """Sentence embeddings: a float32 array of shape (len(texts), dim), NaN rows for inputs that
        failed; with return_errors=True, (array, errors) where errors has None or a reason per row.
        The array is a view of the result's buffer (no copy)."""
        array, errors = self._model.embed(_texts(texts))
        return (array, errors) if return_errors else array

    def classify(self, texts: Any, top_k: int = 0, all_scores: bool = False) -> Classification:
        """Labels and probabilities of a sequence-classification head (see Classification)."""
        batch = self.run(texts, "classify", top_k, all_scores)
        result = Classification(label=batch.column("label"), score=batch.column("score"), errors=batch.errors)
        if top_k:
            result.top_labels = batch.column("top_labels")
            result.top_scores = _top_scores(batch.column("top_scores"), min(int(top_k), len(self.labels)))
        return result

    def score(self, texts: Any, pairs: Any = None, return_errors: bool = False):
        """A cross-encoder's score of each pair (texts[i], pairs[i]), or of each (text, pair) tuple of
        `texts` when pairs is None: a float32 array (N,), the head's logit, or its sigmoid or softmax
        as the model's config asks (as sentence-transformers' CrossEncoder.predict gives it); NaN for
        a pair that failed. Pairs are truncated as the tokenizer's strategy says (longest_first,
        ...) to max_length tokens. With return_errors=True, (scores, errors)."""
        batch = self.run(texts, "score", pairs=pairs)
        scores = np.array(batch.column("score"), dtype=np.float32)
        return (scores, batch.errors) if return_errors else scores

    def predict(self, inputs: Any, input_shapes: Optional[list] = None, input_dtypes: Optional[list] = None,
                return_errors: bool = False) -> dict:
        """Runs a TorchScript model (task="predict") on tensors, as Spark's predict_batch_udf does.

        inputs: forward()'s inputs, in its order: a dict {name: column}, a list or tuple of columns,
            or one column. A column is a numeric numpy array (N, ...) whose rows are the tensors, or
            one value per row (a list, object array or pandas Series of arrays, lists or numbers;
            None for a missing row).
        input_shapes: one row's shape per input, without the batch dimension (None in the list, or
            no list: the array's shape past N, or the first good row's); a flat row is reshaped to it.
        input_dtypes: "float32" or "int64" per input (default: int64 for integer data, else float32).

        Returns {output name: array (N, ...)}: "output" for a model returning one tensor, "output_0",
        ... for a tuple, the keys of a dict; float32 or int64, NaN rows (float outputs) for rows
        that failed. A row that is None, not numeric, or holds the wrong number of values fails with
        its reason, and the others still run; with return_errors=True, (outputs, errors).
        """
        columns = _predict_columns(inputs)
        shapes = list(input_shapes) if input_shapes is not None else [None] * len(columns)
        dtypes = list(input_dtypes) if input_dtypes is not None else [None] * len(columns)
        if len(shapes) != len(columns) or len(dtypes) != len(columns):
            raise ValueError(f"{len(columns)} inputs, {len(shapes)} input_shapes and {len(dtypes)} input_dtypes")
        tensors, errors, rows = [], None, None
        for (name, values), shape, dtype in zip(columns, shapes, dtypes):
            tensor, row_errors = _tensor_input(name, values, shape, dtype)
            n = len(tensor[2]) // max(1, int(np.prod(tensor[1], dtype=np.int64)))
            if rows is not None and n != rows:
                raise ValueError(f"input {name!r} has {n} rows and {columns[0][0]!r} {rows}")
            rows = n
            tensors.append(tensor)
            if row_errors is not None:
                errors = errors or [None] * n
                errors = [e or r for e, r in zip(errors, row_errors)]
        if not rows:
            return ({}, []) if return_errors else {}
        raw, errors = self._model.predict(tensors, [e or "" for e in errors] if errors else [])
        outputs = {}
        for name, (values, shape) in raw.items():
            row_shape = json.loads(shape) if shape else list(values.shape[1:])
            outputs[name] = values.reshape((len(values), *row_shape))
        return (outputs, errors) if return_errors else outputs

    def tokenize(self, texts: Any, return_errors: bool = False):
        """The token ids the model sees for each text (list of int; None for a row that failed);
        with return_errors=True, (ids, errors)."""
        batch = self.run(texts, "tokenize")
        ids = batch.column("input_ids")
        return (ids, batch.errors) if return_errors else ids

    def __repr__(self) -> str:
        return f"salvo.Model({self._path!r}, task={self.task!r}, threads={self.threads})"


def _check_count(name: str, value: Any, minimum: int = 0, allow_none: bool = False) -> None:
    """Raises ValueError unless value is an integer >= minimum (or None, when allowed)."""
    if value is None and allow_none:
        return
    whole = isinstance(value, (int, np.integer)) or (
        isinstance(value, (float, np.floating)) and float(value).is_integer())
    if isinstance(value, bool) or not whole:
        raise TypeError(f"{name} must be an integer{' or None' if allow_none else ''}, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


_NOT_A_PAIR = type("not a (text, pair) tuple", (), {})()


def _split_pairs(texts: Any):
    """(firsts, seconds) of a sequence of (text, pair) tuples, for score without pairs=."""
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__") or hasattr(texts, "__arrow_c_array__"):
        raise ValueError("score needs pairs=, or texts as a sequence of (text, pair) tuples")
    firsts, seconds = [], []
    for row in texts:
        if isinstance(row, (tuple, list)) and len(row) == 2:
            firsts.append(row[0])
            seconds.append(row[1])
        else:  # a bad row, which the extension reports by this marker's type name
            firsts.append(_NOT_A_PAIR)
            seconds.append("")
    return firsts, seconds


def _predict_columns(inputs: Any) -> list:
    """[(name, column)] of predict's inputs, in forward()'s order."""
    if isinstance(inputs, dict):
        columns = [(str(k), v) for k, v in inputs.items()]
    elif isinstance(inputs, (list, tuple)):
        columns = [(f"input_{i}", v) for i, v in enumerate(inputs)]
    else:
        columns = [("input", inputs)]
    if not columns:
        raise ValueError("predict needs at least one input")
    return columns


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return value != value  # NaN: pandas' missing value, of any float type
    return type(value).__name__ in ("NAType", "NaTType")


def _tensor_input(name: str, values: Any, shape: Optional[list], dtype: Optional[str]):
    """((name, row shape, flat float32 or int64 array), per-row errors or None) of one predict input.
    Messages follow the salvo CLI's (`salvo predict --input-columns`)."""
    if dtype not in (None, "float32", "int64"):
        raise ValueError(f"input {name!r}: dtype must be float32 or int64, not {dtype!r}")
    if type(values).__module__.startswith("pandas"):
        values = values.to_numpy()
    elif hasattr(values, "to_numpy") and (hasattr(values, "__arrow_c_array__") or hasattr(values, "__arrow_c_stream__")):
        values = values.to_numpy(zero_copy_only=False)  # pyarrow: a list column gives an object array
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        if values.ndim == 0:
            raise ValueError(f"input {name!r} is one value, not a column")
        row_shape = list(values.shape[1:]) if shape is None else [int(d) for d in shape]
        size = int(np.prod(row_shape, dtype=np.int64))
        if int(np.prod(values.shape[1:], dtype=np.int64)) != size:
            raise ValueError(f"input {name!r}: rows of shape {list(values.shape[1:])} do not fit shape {row_shape}")
        kind = dtype or ("int64" if values.dtype.kind in "iub" else "float32")
        flat = np.ascontiguousarray(values, dtype=np.dtype(kind)).reshape(-1)
        return (name, row_shape, flat), None
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
        raise TypeError(f"input {name!r} must be an array or a sequence of rows, not {type(values).__name__}")
    rows = list(values)
    good = [r for r in rows if not _is_missing(r)]
    # No good row: a scalar shape will do, since no row runs.
    first = np.asarray(good[0]) if good else np.zeros((), dtype=np.float32)
    if dtype is None:
        dtype = "int64" if first.dtype.kind in "iub" else "float32"
    row_shape = list(first.shape) if shape is None else [int(d) for d in shape]
    size = int(np.prod(row_shape, dtype=np.int64))
    out = np.zeros((len(rows), size), dtype=np.dtype(dtype))
    errors = [None] * len(rows)
    for i, row in enumerate(rows):
        if _is_missing(row):
            errors[i] = f'input column "{name}" is null'
            continue
        if isinstance(row, (str, bytes)):
            errors[i] = f'input column "{name}" is not a number or an array of numbers'
            continue
        try:
            flat = np.asarray(row, dtype=out.dtype).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            errors[i] = f'input column "{name}" is not a number or an array of numbers'
            continue
        if flat.size != size:
            errors[i] = (f'input column "{name}" has {flat.size} values; its shape '
                         f'[{",".join(map(str, row_shape))}] takes {size}')
            continue
        out[i] = flat
    return (name, row_shape, out.reshape(-1)), (errors if any(errors) else None)


def _to_arrow(batch: Batch):
    import pyarrow as pa

    return pa.record_batch(batch)  # the Arrow PyCapsule protocol: no copy


Batch.to_arrow = _to_arrow
Batch.to_arrow.__doc__ = "The batch as a pyarrow.RecordBatch over the same buffers (no copy)."


# --- the per-process model cache -------------------------------------------------------------

class _Entry:
    __slots__ = ("lock", "model", "loads")

    def __init__(self):
        self.lock = threading.Lock()
        self.model = None
        self.loads = 0


_cache: dict = {}
_cache_lock = threading.Lock()


def _forget_inherited_models() -> None:
    # A forked child cannot run its parent's models (their threads stay in the parent), so its
    # get_model loads them anew. The lock may have been held by a parent thread at the fork.
    global _cache_lock
    _cache_lock = threading.Lock()
    _cache.clear()


os.register_at_fork(after_in_child=_forget_inherited_models)

_MODEL_DEFAULTS = {name: p.default for name, p in inspect.signature(Model.__init__).parameters.items()
                   if name not in ("self", "path")}


def _load_cached(path: str, options: dict) -> Model:
    return get_model(path, **options)


def get_model(path: "str | os.PathLike[str]", **options) -> Model:
    """The Model for (path, options), loaded once per process and shared by every caller.

    Spark Python workers, Ray actors and Dask workers call this in each task; only the first call
    in a process loads the model. Thread-safe: concurrent first calls load it once. threads=None is
    resolved first (see default_threads), so the key holds the real thread count."""
    unknown = sorted(set(options) - set(_MODEL_DEFAULTS))
    if unknown:
        raise TypeError(f"get_model() got unknown option(s) {', '.join(unknown)} "
                        f"(expected {', '.join(_MODEL_DEFAULTS)})")
    # Defaults filled in, so that get_model(p) and get_model(p, task="embed") share one model.
    options = {**_MODEL_DEFAULTS, **options}
    if options["threads"] is None:
        options["threads"] = default_threads()
    key = (os.path.realpath(os.fspath(path)), tuple(sorted(options.items())))
    with _cache_lock:
        entry = _cache.get(key)
        if entry is None:
            entry = _cache[key] = _Entry()
    with entry.lock:
        if entry.model is None:
            entry.model = Model(path, **options)
            entry.loads += 1
        return entry.model


def cache_info() -> list:
    """The models this process holds: [{"path", "options", "loads", "pid"}]."""
    with _cache_lock:
        return [{"path": k[0], "options": dict(k[1]), "loads": e.loads, "pid": os.getpid()}
                for k, e in _cache.items() if e.model is not None]


def clear_cache() -> None:
    """Forgets the cached models (each is freed when its last user lets go of it)."""
    with _cache_lock:
        _cache.clear()
