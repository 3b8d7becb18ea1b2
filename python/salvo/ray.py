"""salvo in Ray Data: a callable class for Dataset.map_batches, run as an actor pool.

    ds = ray.data.read_parquet("texts.parquet")
    ds = ds.map_batches(salvo.ray.Predictor, fn_constructor_kwargs={"path": "model/"},
                        concurrency=2, batch_format="pyarrow", batch_size=1024)

Each actor loads the model once (in __init__, through salvo.get_model) and uses the CPUs Ray
assigned it (num_cpus=..., default 1) as compute threads unless threads= is given.

Batches may be "pyarrow" (fastest: texts read in place, results appended without a copy), "numpy"
(a dict of arrays; the embedding is a 2-D float32 array, NaN rows for bad texts) or "pandas". The
batch's other columns are kept. A null or bad text gives a null output (NaN row for numpy), and
its reason in error_col when given.
"""

from typing import Any, Optional

import numpy as np

import salvo

__all__ = ["Predictor"]


class Predictor:
    """Runs a salvo model on one column of each batch and adds the result columns.

    path: the model folder. task: "embed" (adds output_col, default "embedding") or "classify"
    (adds "label" and "score", and "top_labels"/"top_scores" with top_k; output_col prefixes them
    when given). input_col: the text column (default "text"). error_col: also add each row's error.
    options: salvo.get_model options (dtype, threads, max_length, batch_tokens, replicas).
    """

    def __init__(self, path: str, task: str = "embed", input_col: str = "text", output_col: Optional[str] = None,
                 top_k: int = 0, error_col: Optional[str] = None, **options):
        if task not in ("embed", "classify"):
            raise ValueError(f"salvo.ray.Predictor runs task='embed' or 'classify', not {task!r}")
        self.task = task
        self.input_col = input_col
        self.top_k = top_k
        self.error_col = error_col
        self.model = salvo.get_model(path, task=task, **options)
        if task == "embed":
            self.outputs = {"embedding": output_col or "embedding"}
        else:
            names = ["label", "score"] + (["top_labels", "top_scores"] if top_k else [])
            prefix = f"{output_col}_" if output_col else ""
            self.outputs = {n: prefix + n for n in names}
        if error_col:
            self.outputs["error"] = error_col

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
            if not isinstance(values, np.ndarray):
                values = np.array(values, dtype=object) if name != "top_labels" else _object_rows(values)
            batch[out] = values
        return batch


def _object_rows(rows: list) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out
