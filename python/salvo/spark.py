"""salvo in Apache Spark (PySpark 3.4+): three routes, fastest last.

1. make_predict_fn(path, task=...): for pyspark.ml.functions.predict_batch_udf, the way Spark's own
   docs run a model:

       from pyspark.ml.functions import predict_batch_udf
       embed = predict_batch_udf(salvo.spark.make_predict_fn("model/"), return_type=salvo.spark.embed_type(),
                                 batch_size=256)
       df.withColumn("embedding", embed("text"))

   A null or bad text gives an array of NaN (embed: predict_batch_udf cannot return a null array),
   or a null label and score (classify). Its reason has no room there: each batch holding bad rows
   warns with salvo.BadRowsWarning (on the worker's stderr) with their count and the first reason;
   transform's error_col gives each row's.

   A TorchScript model (task="predict") takes numeric columns, reshaped as Spark's
   input_tensor_shapes says, and gives its output tensors:

       classify = predict_batch_udf(
           salvo.spark.make_predict_fn("digits_cnn.pt", task="predict", input_tensor_shapes=[[1, 8, 8]]),
           return_type=ArrayType(FloatType()), batch_size=64, input_tensor_shapes=[[1, 8, 8]])
       df.withColumn("logits", classify("pixels"))

2. embed_udf(path) and classify_udf(path): pandas iterator UDFs that handle nulls: a null or bad
   text gives a null embedding (or null fields); with with_errors=True the result is a struct with
   an "error" field saying why (without it, each batch holding bad rows warns with
   salvo.BadRowsWarning). Both pandas routes depend on Spark's conversion of strings to
   pandas, which fails on a string whose bytes are not UTF-8 before salvo sees it.

3. transform(df, "text", "embedding", path): DataFrame.mapInArrow, Arrow batches in and out, no pandas:
   the texts are read in place from Spark's Arrow batches and the result columns are handed back
   without a copy. Every other column is kept (an output or error column named like one of them
   replaces it in place). A bad row (null, or bytes that are not UTF-8) gets a null output, and its
   reason in the "error" column (error_col; null for a good row; error_col=None leaves it out).

Every route loads the model once per Python worker process (salvo.get_model), with
spark.python.worker.reuse=true (Spark's default). Threads: a model uses the task's CPUs
(spark.task.cpus, through TaskContext.cpus()), so N concurrent tasks on an executor use N x
spark.task.cpus threads in all; set threads= (or SALVO_THREADS) to override it. To give each
model more cores, raise spark.task.cpus (fewer, wider tasks).
"""

import inspect
from typing import Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

import salvo

__all__ = ["make_predict_fn", "embed_udf", "classify_udf", "transform", "embed_type", "classify_type"]


def embed_type():
    """The Spark type of an embedding: ArrayType(FloatType())."""
    from pyspark.sql.types import ArrayType, FloatType

    return ArrayType(FloatType())


def classify_type(top_k: int = 0, with_errors: bool = False):
    """The Spark type of a classification: struct<label: string, score: float[, top_labels:
    array<string>, top_scores: array<float>][, error: string]>."""
    from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

    fields = [StructField("label", StringType()), StructField("score", FloatType())]
    if top_k:
        fields += [StructField("top_labels", ArrayType(StringType())), StructField("top_scores", ArrayType(FloatType()))]
    if with_errors:
        fields.append(StructField("error", StringType()))
    return StructType(fields)


def _check_task(task: str) -> None:
    if task not in ("embed", "classify"):
        raise ValueError(f"Spark routes run task='embed' or 'classify', not {task!r}")


# What a salvo.BadRowsWarning of a route without room for the reasons points to.
_REASONS = "salvo.spark.transform (its error_col) gives each row's reason"
_UDF_REASONS = "with_errors=True (or salvo.spark.transform's error_col) gives each row's reason"
_PREDICT_REASONS = "salvo.Model.predict(..., return_errors=True) gives each row's reason"


def make_predict_fn(path: str, task: str = "embed", top_k: int = 0,
                    input_tensor_shapes: Optional[Union[Sequence, Mapping]] = None,
                    input_dtypes: Optional[Sequence[str]] = None, outputs: Optional[Union[str, Sequence[str]]] = None,
                    **options):
    """A make_predict_fn for pyspark.ml.functions.predict_batch_udf.

    Spark calls it once per Python worker (its ModelCache); it returns predict(inputs), one
    positional parameter (Spark counts them), which maps a 1-D array of texts to:
      embed: a float32 array (N, dim), for return_type=embed_type() (ArrayType(FloatType()));
      classify: a dict {"label", "score"[, "top_labels", "top_scores"]}, for
        return_type=classify_type(top_k).
    task="predict" runs a TorchScript file (path: model.pt) on one numeric column per input of its
    forward(), with the input_tensor_shapes given to predict_batch_udf (a list with one shape, or
    None for a scalar column, per input; a dict {index: shape} needs an entry for the last input):
    predict then takes that many parameters. input_dtypes: "float32" or "int64" per input (default:
    int64 for integer columns). It returns the model's one output as an array (N, values per row),
    or (N,) for a scalar per row, for return_type=ArrayType(FloatType()) or FloatType(); for a model
    with several outputs ("output_0", ... for a tuple, a dict's keys), or when outputs is a list of
    names, a dict of them, for a StructType return_type with those field names. outputs="name"
    picks one output. Spark itself cannot reshape a null array: filter null rows out first.
    options go to salvo.get_model (dtype, threads, max_length, batch_tokens, batch_rows, replicas).
    A batch holding bad rows (a null or bad text; for predict, a row that cannot run) warns with
    salvo.BadRowsWarning: their count and the first one's reason (predict_batch_udf's output has no
    room for a reason; transform's error_col gives each row's).
    """
    if task == "predict":
        return _make_tensor_predict_fn(path, input_tensor_shapes, input_dtypes, outputs, options)
    _check_task(task)

    def make():
        model = salvo.get_model(path, task=task, **options)
        if task == "embed":

            def predict(inputs: np.ndarray) -> np.ndarray:
                embedding, errors = model.embed(inputs, return_errors=True)
                salvo._warn_bad_rows(errors, _REASONS)
                return embedding

            return predict

        def predict(inputs: np.ndarray) -> dict:
            result = model.classify(inputs, top_k=top_k)
            salvo._warn_bad_rows(result.errors, _REASONS)
            out = {"label": np.array(result.label, dtype=object), "score": result.score}
            if top_k:
                labels = np.full(result.top_scores.shape, None, dtype=object)
                for i, names in enumerate(result.top_labels):
                    if names is not None:
                        labels[i] = names
                out["top_labels"] = labels
                out["top_scores"] = result.top_scores  # (N, k), NaN rows for bad texts
            return out

        return predict

    return make


def _make_tensor_predict_fn(path, input_tensor_shapes, input_dtypes, outputs, options):
    if isinstance(input_tensor_shapes, Mapping):
        shapes = [None] * (max(input_tensor_shapes) + 1 if input_tensor_shapes else 1)
        for index, shape in input_tensor_shapes.items():
            shapes[index] = shape
    else:
        shapes = list(input_tensor_shapes) if input_tensor_shapes is not None else [None]
    dtypes = list(input_dtypes) if input_dtypes is not None else None
    if dtypes is not None and len(dtypes) != len(shapes):
        raise ValueError(f"{len(shapes)} inputs (input_tensor_shapes) and {len(dtypes)} input_dtypes")

    def make():
        model = salvo.get_model(path, task="predict", **options)

        def predict(*inputs: np.ndarray):
            result, errors = model.predict(list(inputs), input_shapes=shapes, input_dtypes=dtypes,
                                           return_errors=True)
            salvo._warn_bad_rows(errors, _PREDICT_REASONS)
            # Spark takes (N,) for a scalar per row and (N, k) for an array: rows are flattened.
            flat = {name: value.reshape(len(value), -1) if value.ndim > 1 else value for name, value in result.items()}
            if isinstance(outputs, str):
                return flat[outputs]
            if outputs is not None:
                return {name: flat[name] for name in outputs}
            return next(iter(flat.values())) if len(flat) == 1 else flat

        # predict_batch_udf passes one column per parameter of predict's signature.
        predict.__signature__ = inspect.Signature(
            [inspect.Parameter(f"input_{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(shapes))])
        return predict

    return make


def _rows(values, errors) -> pd.Series:
    """One object per row, None where the row failed (Spark turns None into null). Spark's pandas
    conversion walks every row of an array column anyway, so views of the result rows suffice."""
    out = np.empty(len(errors), dtype=object)
    for i, (value, error) in enumerate(zip(values, errors)):
        out[i] = None if error is not None else value
    return pd.Series(out)


def embed_udf(path: str, with_errors: bool = False, **options):
    """A pandas UDF (Iterator[pd.Series] -> Iterator[pd.Series]) giving each text's embedding as
    ArrayType(FloatType()); null for a null or bad text. with_errors=True returns
    struct<embedding: array<float>, error: string> instead; without it, a batch holding bad rows
    warns with salvo.BadRowsWarning."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StringType, StructField, StructType

    return_type = embed_type()
    if with_errors:
        return_type = StructType([StructField("embedding", embed_type()), StructField("error", StringType())])

    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        model = salvo.get_model(path, task="embed", **options)
        for texts in batches:
            result = model.run(texts, "embed")
            errors = result.errors
            embedding = _rows(result.column("embedding"), errors)
            if with_errors:
                yield pd.DataFrame({"embedding": embedding, "error": pd.Series(errors, dtype=object)})
            else:
                salvo._warn_bad_rows(errors, _UDF_REASONS)
                yield embedding

    return pandas_udf(embed, return_type)


def classify_udf(path: str, top_k: int = 0, with_errors: bool = False, **options):
    """A pandas UDF giving classify_type(top_k, with_errors) per text: struct<label, score[,
    top_labels, top_scores][, error]>. A null or bad text gives null fields (and its error; without
    with_errors, a batch holding bad rows warns with salvo.BadRowsWarning)."""
    from pyspark.sql.functions import pandas_udf

    return_type = classify_type(top_k, with_errors)
    names = return_type.names

    def classify(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        model = salvo.get_model(path, task="classify", **options)
        for texts in batches:
            result = model.run(texts, "classify", top_k=top_k)
            errors = result.errors
            columns = {"label": pd.Series(result.column("label"), dtype=object),
                       "score": pd.Series(result.column("score"))}  # NaN: null for Spark
            if top_k:
                columns["top_labels"] = _rows(result.column("top_labels"), errors)
                columns["top_scores"] = _rows(result.column("top_scores"), errors)
            if with_errors:
                columns["error"] = pd.Series(errors, dtype=object)
            else:
                salvo._warn_bad_rows(errors, _UDF_REASONS)
            yield pd.DataFrame({name: columns[name] for name in names})

    return pandas_udf(classify, return_type)


def _output_arrays(result, task: str, top_k: int, large_strings: bool):
    """The Arrow output column of a result batch, typed as Spark expects."""
    import pyarrow as pa

    string = pa.large_string() if large_strings else pa.string()
    if task == "embed":
        return result.column("embedding")
    names = ["label", "score"] + (["top_labels", "top_scores"] if top_k else [])
    arrays = [result.column(n) for n in names]
    if large_strings:
        arrays[0] = arrays[0].cast(string)
        if top_k:
            arrays[2] = arrays[2].cast(pa.list_(pa.field("element", string)))
    return pa.StructArray.from_arrays(arrays, names=names, mask=result.column("error").is_valid())


def transform(df, input_col: str, output_col: str, path: str, task: str = "embed", top_k: int = 0,
              error_col: Optional[str] = "error", **options):
    """Runs the model on df[input_col] (a string column) through DataFrame.mapInArrow and returns df
    with output_col added: ArrayType(FloatType()) for embed, classify_type(top_k) for classify, null
    for a null or bad text; and error_col (default "error"): each row's reason, null for a good row
    (error_col=None leaves it out). An output or error column named like a column of df replaces it
    in place, as DataFrame.withColumn does. Arrow batches in and out, no pandas, no copy of texts or
    results; every other column is kept as it is."""
    from pyspark.sql.types import StringType, StructField, StructType

    _check_task(task)
    case_sensitive = str(df.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"

    def same(a: str, b: str) -> bool:
        return a == b if case_sensitive else a.lower() == b.lower()

    def index(name: str) -> Optional[int]:
        return next((i for i, f in enumerate(df.schema.fields) if same(f.name, name)), None)

    source = index(input_col)
    if source is None:
        raise ValueError(f"no column {input_col!r} in {df.columns}")
    in_type = df.schema.fields[source].dataType
    # Spark's varchar(n) and char(n) are strings at runtime (and in Arrow batches).
    if not isinstance(in_type, StringType) and type(in_type).__name__ not in ("VarcharType", "CharType"):
        raise ValueError(f"input column {input_col!r} must be a string column, not {in_type.simpleString()}")
    if error_col and same(output_col, error_col):
        raise ValueError(f"output_col and error_col are both {output_col!r}")
    # [(name, position in df or None: appended)] of the output, then the error column.
    outputs = [(output_col, index(output_col))] + ([(error_col, index(error_col))] if error_col else [])
    fields = list(df.schema.fields)
    out_types = [embed_type() if task == "embed" else classify_type(top_k), StringType()]
    for (name, at), out_type in zip(outputs, out_types):
        if at is None:
            fields.append(StructField(name, out_type))
        else:
            fields[at] = StructField(name, out_type)
    schema = StructType(fields)

    def run(batches):
        import pyarrow as pa

        model = salvo.get_model(path, task=task, **options)
        for batch in batches:
            texts = batch.column(source)
            large = pa.types.is_large_string(texts.type)
            result = model.run(texts, task, top_k=top_k).to_arrow()
            arrays, names = list(batch.columns), list(batch.schema.names)
            values = [_output_arrays(result, task, top_k, large)]
            if error_col:
                error = result.column("error")
                values.append(error.cast(pa.large_string()) if large else error)
            for (name, at), array in zip(outputs, values):
                if at is None:
                    arrays.append(array)
                    names.append(name)
                else:
                    arrays[at], names[at] = array, name
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    return df.mapInArrow(run, schema)
