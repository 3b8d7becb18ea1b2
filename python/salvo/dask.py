"""salvo in Dask: add model outputs to a dask DataFrame with map_partitions.

    import dask.dataframe as dd
    ddf = dd.read_parquet("texts.parquet")
    ddf = salvo.dask.embed(ddf, "text", "model/")             # adds "embedding"
    ddf = salvo.dask.classify(ddf, "text", "model/", top_k=3) # adds "label", "score", ...

The output's meta is given, so the client never runs (or loads) the model; each worker process
loads it once (salvo.get_model) and uses the worker's thread count as compute threads unless
threads= is given. Embeddings are an Arrow-backed list<float> column (pd.ArrowDtype), made from the
result without a copy, which to_parquet writes as it is; np.stack(df["embedding"].to_list()) makes a
matrix. An output column named like one of ddf's replaces it. A null or bad text gives a null
output, and its reason in the "error" column (error_col; null for a good row; error_col=None
leaves it out).
"""

from typing import Optional

import pandas as pd

import salvo

__all__ = ["embed", "classify"]


def _arrow_types(top_k: int):
    import pyarrow as pa

    return {
        "embedding": pa.list_(pa.field("element", pa.float32())),
        "label": pa.string(),
        "score": pa.float32(),
        "top_labels": pa.list_(pa.field("element", pa.string())),
        "top_scores": pa.list_(pa.field("element", pa.float32())),
        "error": pa.string(),
    }


def _partition(frame: pd.DataFrame, column: str, path: str, task: str, top_k: int, outputs: dict,
               options: dict) -> pd.DataFrame:
    import pyarrow as pa

    model = salvo.get_model(path, task=task, **options)
    result = model.run(frame[column], task, top_k=top_k).to_arrow()
    frame = frame.copy(deep=False)
    for name, out in outputs.items():
        array = pd.arrays.ArrowExtensionArray(pa.chunked_array([result.column(name)]))
        frame[out] = pd.Series(array, index=frame.index)
    return frame


def _apply(ddf, column: str, path: str, task: str, output_col: Optional[str], top_k: int,
           error_col: Optional[str], options: dict):
    if column not in ddf.columns:
        raise ValueError(f"no column {column!r} in {list(ddf.columns)}")
    outputs = salvo._output_columns(task, output_col, top_k, error_col)
    types = _arrow_types(top_k)
    meta = ddf._meta.copy(deep=False)
    for name, out in outputs.items():
        meta[out] = pd.Series([], dtype=pd.ArrowDtype(types[name]), index=meta.index)
    return ddf.map_partitions(_partition, column, path, task, top_k, outputs, options, meta=meta)


def embed(ddf, column: str, path: str, output_col: str = "embedding", error_col: Optional[str] = "error",
          **options):
    """ddf with output_col added: each text's embedding (list<float>; null for a bad text), and
    error_col (default "error"): each row's reason, null for a good row (None leaves it out).
    options: salvo.get_model options (dtype, threads, max_length, batch_tokens, replicas)."""
    return _apply(ddf, column, path, "embed", output_col, 0, error_col, options)


def classify(ddf, column: str, path: str, top_k: int = 0, output_col: Optional[str] = None,
             error_col: Optional[str] = "error", **options):
    """ddf with "label" and "score" added (and "top_labels", "top_scores" with top_k; prefixed by
    output_col + "_" when given); null for a bad text, whose reason is in error_col (default
    "error", null for a good row; None leaves it out)."""
    return _apply(ddf, column, path, "classify", output_col, top_k, error_col, options)
