"""salvo: fast BERT-family inference over numpy, pandas and Arrow data, and in Spark, Ray and Dask.

    import salvo
    model = salvo.Model("examples/debian-sections")
    vectors = model.embed(["a text", "another text"])     # numpy float32, shape (2, dim)
    sections = salvo.Model("examples/debian-sections", task="classify").classify(texts, top_k=3)

A model runs in C++ threads with the GIL released; one Model may be called from many Python threads.
Texts may be a list of str, a numpy or pandas column, or an Arrow string column (read in place,
without copying). Bad rows (null, not a string, not UTF-8) never fail a call: they give NaN (embed)
or None (classify, tokenize) and a per-row error. A model that cannot load raises salvo.Error.

Engines: salvo.spark, salvo.ray, salvo.dask. In a worker, use salvo.get_model(path, ...): it loads
each model once per process.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from typing import Any, Optional

import numpy as np

from . import _salvo
from ._salvo import Batch, Error

__all__ = ["Model", "Batch", "Error", "Classification", "get_model", "cache_info", "clear_cache",
           "default_threads", "__version__"]
__version__ = _salvo.__version__

logging.getLogger("salvo").addHandler(logging.NullHandler())

_TASKS = ("embed", "classify", "tokenize")


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
    module = type(texts).__module__ or ""
    if module.startswith("pandas"):
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
    """A model folder (Hugging Face layout: config.json, weights, tokenizer.json) ready to run.

    path: the model folder.
    task: what run() computes by default, and what the model must serve: "embed", "classify" or
        "tokenize" (which loads the tokenizer alone).
    dtype: "f32" (default), "bf16", "int8" or "auto" (see the salvo CLI's --dtype).
    threads: compute threads; None: see salvo.default_threads() (the Spark task's CPUs inside a
        Spark task, all cores elsewhere).
    max_length: tokens per text, special tokens included (None: the tokenizer's truncation).
    batch_tokens: tokens per batch the model runs (None: 8192).
    replicas: model replicas running batches in parallel (threads are split between them).

    Raises salvo.Error (with .code "model", "invalid_argument", ...) when the model cannot load or
    cannot serve the task.
    """

    def __init__(self, path: "str | os.PathLike[str]", task: str = "embed", dtype: str = "f32",
                 threads: Optional[int] = None, max_length: Optional[int] = None,
                 batch_tokens: Optional[int] = None, replicas: int = 1):
        if task not in _TASKS:
            raise ValueError(f"task must be one of {', '.join(_TASKS)}, not {task!r}")
        if threads is None:
            threads = default_threads()
        self._path = os.fspath(path)
        self._model = _salvo._Model(self._path, task=task, dtype=dtype, threads=int(threads),
                                    max_length=int(max_length or 0), batch_tokens=int(batch_tokens or 0),
                                    replicas=int(replicas))

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

    def run(self, texts: Any, task: Optional[str] = None, top_k: int = 0, all_scores: bool = False) -> Batch:
        """Runs `task` (default: the model's) and returns the result as a salvo.Batch: the task's columns
        (embed: embedding; classify: label, score[, top_labels, top_scores][, scores]; tokenize:
        input_ids, token_type_ids) and "error". Convert with batch.to_arrow(), pa.record_batch(batch)
        or batch.column(name); none of these copies the numbers."""
        return self._model.run(_texts(texts), task, int(top_k), bool(all_scores))

    def run_arrow(self, texts: Any, task: Optional[str] = None, top_k: int = 0, all_scores: bool = False):
        """run(), as a pyarrow.RecordBatch (imported through the Arrow C data interface: no copy)."""
        return _to_arrow(self.run(texts, task, top_k, all_scores))

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
            k = min(int(top_k), len(self.labels))
            scores = np.full((len(batch), k), np.nan, dtype=np.float32)
            for i, row in enumerate(batch.column("top_scores")):
                if row is not None:
                    scores[i] = row
            result.top_scores = scores
        return result

    def tokenize(self, texts: Any, return_errors: bool = False):
        """The token ids the model sees for each text (list of int; None for a row that failed);
        with return_errors=True, (ids, errors)."""
        batch = self.run(texts, "tokenize")
        ids = batch.column("input_ids")
        return (ids, batch.errors) if return_errors else ids

    def __repr__(self) -> str:
        return f"salvo.Model({self._path!r}, task={self.task!r}, threads={self.threads})"


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


def get_model(path: "str | os.PathLike[str]", **options) -> Model:
    """The Model for (path, options), loaded once per process and shared by every caller.

    Spark Python workers, Ray actors and Dask workers call this in each task; only the first call
    in a process loads the model. Thread-safe: concurrent first calls load it once. threads=None is
    resolved first (see default_threads), so the key holds the real thread count."""
    if options.get("threads") is None:
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
