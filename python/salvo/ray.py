"""salvo in Ray Data: a callable class for Dataset.map_batches, run as an actor pool.

    ds = ray.data.read_parquet("texts.parquet")
    ds = ds.map_batches(salvo.ray.Predictor, fn_constructor_kwargs={"path": "model/"},
                        concurrency=2, batch_format="pyarrow", batch_size=1024)

Each actor loads the model once (in __init__, through salvo.get_model) and uses the CPUs Ray
assigned it (num_cpus=..., default 1) as compute threads unless threads= is given.

Batches may be "pyarrow" (fastest: texts read in place, results appended without a copy), "numpy"
(a dict of arrays; the embedding and top_scores are 2-D float32 arrays, NaN rows for bad texts;
labels and errors 1-D object arrays) or "pandas". The batch's other columns are kept; an output
column named like one of them replaces it. A null or bad text gives a null output (NaN row for
numpy), and its reason in the "error" column (error_col; null for a good row, error_col=None
leaves it out).
"""

from typing import Any, Optional

import numpy as np

import salvo

__all__ = ["Predictor"]


class Predictor:
    """Runs a salvo model on one column of each batch and adds the result columns.

    path: the model folder. task: "embed" (adds output_col, default "embedding") or "classify"
    (adds "label" and "score", and "top_labels"/"top_scores" with top_k; output_col prefixes them
    when given). input_col: the text column (default "text"). error_col: the column of each row's
    reason (null for a good row; default "error"); None leaves it out.
    options: salvo.get_model options (dtype, threads, max_length, batch_tokens, replicas).
    """

    def __init__(self, path: str, task: str = "embed", input_col: str = "text", output_col: Optional[str] = None,
                 top_k: int = 0, error_col: Optional[str] = "error", **options):
        if task not in ("embed", "classify"):
            raise ValueError(f"salvo.ray.Predictor runs task='embed' or 'classify', not {task!r}")
        self.task = task
        self.input_col = input_col
        self.top_k = top_k
        self.error_col = error_col
        self.outputs = salvo._output_columns(task, output_col, top_k, error_col)
        self.model = salvo.get_model(path, task=task, **options)

    def __call__(self, batch: Any) -> Any:
        module = type(batch).__module__ or ""
        if module.startswith("pyarrow"):
            return self._arrow(batch)
        if module.startswith("pandas"):
            return self._pandas(batch)
        if isinstance(batch, dict):
            return self._numpy(batch)
        raise TypeError(f"salvo.ray.Predictor takes pyarrow, pandas or numpy batches, not {type(batch).__name__}")

    def _run(self, texts):
        return self.model.run(texts, self.task, top_k=self.top_k)

    def _arrow(self, table):
        result = self._run(table.column(self.input_col)).to_arrow()
        for name, out in self.outputs.items():
            column = result.column(name)
            if out in table.column_names:
                table = table.set_column(table.column_names.index(out), out, column)
            else:
                table = table.append_column(out, column)
        return table

    def _pandas(self, frame):
        import pandas as pd
        import pyarrow as pa

        result = self._run(frame[self.input_col]).to_arrow()
        frame = frame.copy(deep=False)
        for name, out in self.outputs.items():
            array = pd.arrays.ArrowExtensionArray(pa.chunked_array([result.column(name)]))
            frame[out] = pd.Series(array, index=frame.index)
        return frame

    def _numpy(self, batch: dict) -> dict:
        result = self._run(batch[self.input_col])
        batch = dict(batch)
        for name, out in self.outputs.items():
            values = result.column(name)
            if name == "top_scores":  # (N, k) as the embedding is: Ray stores one tensor column
                values = salvo._top_scores(values, min(self.top_k, len(self.model.labels)))
            elif not isinstance(values, np.ndarray):  # label, top_labels, error: one object per row
                values = _object_rows(values)
            batch[out] = values
        return batch


def _object_rows(rows: list) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out
