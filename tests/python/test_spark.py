"""salvo inside PySpark: the three routes (predict_batch_udf, pandas UDFs, mapInArrow) in a local
session and in a standalone cluster (a master and two workers on localhost), reading Parquet and
writing Parquet, with the numbers checked against the salvo CLI; and a worker killed with kill -9 in
the middle of a job, after which the output is still complete."""

import json
import os
import pathlib
import sys
import threading
import time
import warnings

import pyarrow.parquet as pq
import pytest

import salvo
import salvo.spark
from conftest import MODEL
from engines import (BAD_UTF8_ID, NULL_IDS, check_embeddings, check_labels, input_table, write_input)
from spark_cluster import StandaloneCluster

pyspark = pytest.importorskip("pyspark")
from pyspark.ml.functions import predict_batch_udf  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

PATH = str(MODEL)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("spark_in") / "texts"
    write_input(folder, input_table(), files=4)
    return folder


def session(master: str, tmp: pathlib.Path, **conf) -> SparkSession:
    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this venv's Python
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    builder = (SparkSession.builder.master(master).appName("salvo-tests")
               .config("spark.driver.memory", "768m")
               .config("spark.executor.memory", "512m")
               .config("spark.ui.enabled", "false")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.local.dir", str(tmp))
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.pyspark.python", sys.executable)
               # Small Arrow batches: every route sees several batches per partition.
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "64"))
    for k, v in conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@pytest.fixture(scope="module", params=["local", "cluster"])
def spark(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"spark_{request.param}")
    cluster = None
    if request.param == "local":
        spark = session("local[2]", tmp)
    else:
        cluster = StandaloneCluster(tmp, workers=2, cores=1)
        spark = session(cluster.url, tmp, **{"spark.executor.cores": "1", "spark.cores.max": "2"})
    spark.cluster = cluster
    yield spark
    spark.stop()
    if cluster:
        cluster.stop()


def good_ids(table) -> set:
    return set(table.column("id").to_pylist())


def write_and_read(df, path: pathlib.Path):
    df.write.mode("overwrite").parquet(str(path))
    return pq.read_table(str(path))


ALL_IDS = sorted(input_table().column("id").to_pylist())
UTF8_IDS = [i for i in ALL_IDS if i != BAD_UTF8_ID]


def test_predict_batch_udf(spark, data, tmp_path, reference, reference_labels):
    # predict_batch_udf goes through pandas, whose conversion of Spark strings would fail on the
    # bytes that are not UTF-8 before salvo sees them: that row is left out of the pandas routes.
    df = spark.read.parquet(str(data)).where(F.col("id") != BAD_UTF8_ID)
    embed = predict_batch_udf(salvo.spark.make_predict_fn(PATH), return_type=salvo.spark.embed_type(),
                              batch_size=50)
    out = write_and_read(df.withColumn("embedding", embed("text")), tmp_path / "embed")
    check_embeddings(out, "embedding", reference, UTF8_IDS, null_rows="nan")

    classify = predict_batch_udf(salvo.spark.make_predict_fn(PATH, task="classify", top_k=2),
                                 return_type=salvo.spark.classify_type(top_k=2), batch_size=50)
    out = write_and_read(df.withColumn("c", classify("text")), tmp_path / "classify")
    check_labels(out, reference_labels, UTF8_IDS, struct="c")
    tops = {r["id"]: r["c"]["top_labels"] for r in out.select(["id", "c"]).to_pylist()}
    assert all(tops[i] == reference_labels[i]["top_labels"][:2] for i in tops if i < 1000)


def test_pandas_udfs(spark, data, tmp_path, reference, reference_labels):
    df = spark.read.parquet(str(data)).where(F.col("id") != BAD_UTF8_ID)
    out = write_and_read(df.withColumn("embedding", salvo.spark.embed_udf(PATH)("text")), tmp_path / "embed")
    check_embeddings(out, "embedding", reference, UTF8_IDS, null_rows="null")

    udf = salvo.spark.embed_udf(PATH, with_errors=True)
    out = write_and_read(df.withColumn("e", udf("text")).select("id", "section", "e.embedding", "e.error"),
                         tmp_path / "embed_errors")
    check_embeddings(out, "embedding", reference, UTF8_IDS, null_rows="null", error_col="error")
    assert {r["error"] for r in out.to_pylist() if r["id"] in NULL_IDS} == {"the input is null"}

    udf = salvo.spark.classify_udf(PATH, top_k=3, with_errors=True)
    out = write_and_read(df.withColumn("c", udf("text")), tmp_path / "classify")
    check_labels(out, reference_labels, UTF8_IDS, struct="c")
    for r in out.to_pylist():
        if r["id"] in NULL_IDS:
            assert r["c"]["error"] == "the input is null" and r["c"]["top_labels"] is None
        else:
            assert r["c"]["top_labels"] == reference_labels[r["id"]]["top_labels"] and r["c"]["error"] is None


def test_transform(spark, data, tmp_path, reference, reference_labels):
    df = spark.read.parquet(str(data))
    out = write_and_read(salvo.spark.transform(df, "text", "embedding", PATH), tmp_path / "embed")
    assert out.column_names == ["id", "text", "section", "embedding", "error"]  # "error" by default
    bad = NULL_IDS | {BAD_UTF8_ID}
    check_embeddings(out, "embedding", reference, ALL_IDS, null_rows="null", error_col="error", bad_ids=bad)
    errors = {r["id"]: r["error"] for r in out.select(["id", "error"]).to_pylist()}
    assert errors[BAD_UTF8_ID].startswith("text is not valid UTF-8")
    assert {errors[i] for i in NULL_IDS} == {"the input is null"}

    out = write_and_read(salvo.spark.transform(df, "text", "c", PATH, task="classify", top_k=2, error_col=None),
                         tmp_path / "classify")
    assert out.column_names == ["id", "text", "section", "c"]
    check_labels(out, reference_labels, ALL_IDS, struct="c", bad_ids=bad)


def test_transform_columns(spark, data, tmp_path, reference):
    """An output or error column named like a column of df replaces it in place (of any type), as
    withColumn does; the same name for both, or an input column that is not a string, is refused on
    the driver."""
    df = spark.read.parquet(str(data))
    with pytest.raises(ValueError, match="both 'x'"):
        salvo.spark.transform(df, "text", "x", PATH, error_col="x")
    with pytest.raises(ValueError, match="'id' must be a string column, not bigint"):
        salvo.spark.transform(df, "id", "embedding", PATH)
    with pytest.raises(ValueError, match="no column 'missing'"):
        salvo.spark.transform(df, "missing", "embedding", PATH)

    # The output replaces the texts, the errors the (bigint) ids; "key" keeps the ids.
    out = salvo.spark.transform(df.withColumn("key", F.col("id")), "text", "text", PATH, error_col="id")
    assert out.columns == ["id", "text", "section", "key"]
    assert [f.dataType.simpleString() for f in out.schema.fields] == ["string", "array<float>", "string", "bigint"]
    table = write_and_read(out, tmp_path / "replaced")
    table = table.rename_columns(["error", "embedding", "section", "id"])
    check_embeddings(table, "embedding", reference, ALL_IDS, null_rows="null", error_col="error",
                     bad_ids=NULL_IDS | {BAD_UTF8_ID})


def test_bad_rows_warn_where_no_reason_fits():
    """The routes whose output has no room for a reason (predict_batch_udf's predict, the pandas UDFs
    without with_errors) warn with salvo.BadRowsWarning for each batch with bad rows, and not for a
    clean one. Called here on the driver, as Spark calls them in a worker."""
    import numpy as np
    import pandas as pd

    reason = r"gives each row's reason"
    predict = salvo.spark.make_predict_fn(PATH)()
    with pytest.warns(salvo.BadRowsWarning, match=r"^1 of 3 rows of a batch could not be run \(the first, row 1: "
                                                  r"the input is null\); .*error_col.*" + reason):
        out = predict(np.array(["a chess engine", None, "a font"], dtype=object))
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()
    classify = salvo.spark.make_predict_fn(PATH, task="classify", top_k=2)()
    with pytest.warns(salvo.BadRowsWarning, match=r"^2 of 2 rows .*row 0: the input is null"):
        out = classify(np.array([None, float("nan")], dtype=object))
    assert out["top_scores"].shape == (2, 2) and np.isnan(out["top_scores"]).all()
    udf = salvo.spark.classify_udf(PATH).func
    with pytest.warns(salvo.BadRowsWarning, match=r"^1 of 2 rows .*with_errors=True"):
        list(udf(iter([pd.Series(["a font", None])])))
    with warnings.catch_warnings():
        warnings.simplefilter("error", salvo.BadRowsWarning)
        predict(np.array(["a chess engine", "a font"], dtype=object))
        classify(np.array(["a chess engine"], dtype=object))
        list(salvo.spark.embed_udf(PATH).func(iter([pd.Series(["a font"])])))
        list(salvo.spark.embed_udf(PATH, with_errors=True).func(iter([pd.Series(["a font", None])])))


DIGITS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "digits"


def test_predict_batch_udf_torchscript(spark, tmp_path):
    """A TorchScript model through predict_batch_udf on the digits Parquet file: one array column
    reshaped to [1, 8, 8], one output; then a model of two inputs (the pixels and a scalar column)
    with two outputs, as a struct. Against PyTorch (this process's; the plugin's libtorch runs in the
    Python workers). Local mode only: it is the same code in the cluster."""
    if spark.cluster is not None:
        pytest.skip("local mode only")
    if os.environ.get("SALVO_TORCHSCRIPT") != "1":
        pytest.skip("this build has no TorchScript plugin")
    import numpy as np
    import torch
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    cnn = str(DIGITS / "digits_cnn.pt")

    class Two(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixels: torch.Tensor, scale: torch.Tensor):
            return {"logits": self.inner(pixels) * scale.unsqueeze(1), "total": pixels.sum((1, 2, 3))}

    two = str(tmp_path / "two.pt")
    torch.jit.script(Two(torch.jit.load(cnn))).save(two)
    df = spark.read.parquet(str(DIGITS / "digits.parquet")).withColumn("scale", (F.col("label") + 1).cast("float"))

    shapes = [[1, 8, 8]]
    logits = predict_batch_udf(salvo.spark.make_predict_fn(cnn, task="predict", input_tensor_shapes=shapes),
                               return_type=ArrayType(FloatType()), batch_size=50, input_tensor_shapes=shapes)
    shapes = [[1, 8, 8], None]
    struct = StructType([StructField("logits", ArrayType(FloatType())), StructField("total", FloatType())])
    both = predict_batch_udf(salvo.spark.make_predict_fn(two, task="predict", input_tensor_shapes=shapes),
                             return_type=struct, batch_size=50, input_tensor_shapes=shapes)
    out = write_and_read(df.select("id", "pixels", "scale", logits("pixels").alias("logits"),
                                   both("pixels", "scale").alias("two")), tmp_path / "digits").to_pydict()
    assert len(out["id"]) == 360
    pixels = torch.tensor(out["pixels"], dtype=torch.float32).reshape(-1, 1, 8, 8)
    scale = torch.tensor(out["scale"], dtype=torch.float32)
    with torch.no_grad():
        want = torch.jit.load(cnn)(pixels).numpy()
        want_two = {k: v.numpy() for k, v in torch.jit.load(two)(pixels, scale).items()}
    np.testing.assert_allclose(np.array(out["logits"], dtype=np.float32), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.array([r["logits"] for r in out["two"]], dtype=np.float32), want_two["logits"],
                               atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(np.array([r["total"] for r in out["two"]], dtype=np.float32), want_two["total"],
                               atol=1e-4, rtol=1e-6)


def test_models_load_once_per_worker_with_task_cpus(spark, data):
    """After a route ran, each Python worker of the same kind (an Arrow one: Spark keeps those apart
    from the RDD API's) holds each model once, with the task's CPUs (spark.task.cpus = 1) as threads."""
    df = spark.read.parquet(str(data))
    salvo.spark.transform(df, "text", "embedding", PATH).write.format("noop").mode("overwrite").save()

    def report(batches):
        import json

        import pyarrow as pa

        import salvo

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"info": [json.dumps(salvo.cache_info())]})

    infos = [json.loads(row.info) for row in df.mapInArrow(report, "info string").collect()]
    entries = [e for info in infos for e in info]
    assert any(e["path"] == os.path.realpath(PATH) and e["options"]["task"] == "embed" for e in entries), infos
    assert all(e["loads"] == 1 for e in entries), entries
    assert all(e["options"]["threads"] == 1 for e in entries), entries


def test_worker_loss(spark, tmp_path, reference):
    """kill -9 of a worker (and its executor) while its tasks run: Spark reruns them on the other
    worker, and the output holds every row exactly once."""
    if spark.cluster is None:
        pytest.skip("a standalone cluster only")
    cluster = spark.cluster
    source = tmp_path / "many"
    table = input_table(copies=4, bad_utf8=False)
    write_input(source, table, files=12)
    gate = tmp_path / "gate"
    gate.mkdir()

    def hold(batches):
        # A barrier the test controls: each task says it started, then waits for the "go" file.
        import os
        import time

        from pyspark import TaskContext

        ctx = TaskContext.get()
        (gate / f"{ctx.partitionId()}.{ctx.attemptNumber()}.{os.getpid()}").touch()
        while not (gate / "go").exists():
            time.sleep(0.05)
        yield from batches

    spark.conf.set("spark.sql.files.openCostInBytes", str(1 << 30))  # one partition per file
    try:
        df = spark.read.parquet(str(source))
        assert df.rdd.getNumPartitions() == 12
        out = salvo.spark.transform(df.mapInArrow(hold, df.schema), "text", "embedding", PATH, error_col="error")
        failure = []

        def job():
            try:
                out.write.mode("overwrite").parquet(str(tmp_path / "out"))
            except Exception as e:  # reported below
                failure.append(e)

        runner = threading.Thread(target=job)
        runner.start()

        def running_on():
            workers = set()
            for marker in gate.iterdir():
                if marker.name != "go":
                    workers.add(cluster.worker_of(int(marker.name.rsplit(".", 1)[1])))
            return workers

        cluster.wait_for(lambda: {0, 1} <= running_on(), "tasks running on both workers")
        cluster.kill_worker(1)
        (gate / "go").touch()
        runner.join(timeout=300)
        assert not runner.is_alive(), "the job did not finish"
        assert not failure, failure
    finally:
        spark.conf.unset("spark.sql.files.openCostInBytes")
    result = pq.read_table(str(tmp_path / "out"))
    attempts = [m.name for m in gate.iterdir() if m.name != "go"]
    assert any(name.split(".")[1] != "0" for name in attempts) or len(attempts) > 12, attempts  # reruns
    check_embeddings(result, "embedding", reference, table.column("id").to_pylist(), null_rows="null",
                     error_col="error")
