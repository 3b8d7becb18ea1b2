#!/usr/bin/env python3
"""Embedding text inside Spark: what users write today (PyTorch) next to salvo's two Spark routes and
the salvo CLI, in one Spark session, on the same rows and the same cores.

Routes (local[N]: N concurrent tasks, spark.task.cpus=1, so every Python worker gets one core)
  a  torch_pandas_udf   a pandas UDF (Iterator[pd.Series] -> Iterator[pd.Series]) running a
                        sentence-transformers SentenceTransformer, loaded once per worker, encode()
                        in batches of --batch-size
  b  torch_predict_udf  pyspark.ml.functions.predict_batch_udf with a PyTorch predict function
                        (AutoModel + Hugging Face tokenizer, masked mean pooling, L2 normalisation)
  c  salvo_predict_udf  predict_batch_udf with salvo.spark.make_predict_fn
  d  salvo_transform    salvo.spark.transform (DataFrame.mapInArrow, Arrow in and out)
  cli                   build/salvo embed on the same rows read from the same Parquet files, --threads N
                        (its own job time: reading, tokenizing, inference, writing .npy)
  floor                 (optional) Spark's own cost of route d: the same mapInArrow job with an embedding
                        column of zeros and no model

PyTorch is the venv's (the one the Spark workers run), with torch.set_num_threads(1) per worker:
one core per task, like salvo. Every route reads the Parquet input and writes Parquet output; each runs
once on a small warm-up DataFrame first (Python workers started, models loaded and cached), then
--repeats times (PyTorch: --torch-repeats) on the full input, passes interleaved across routes; the
median is reported, as rows/s (wall clock) and rows per CPU-second (user + system time of the Spark
JVM, its Python daemon and workers; of the CLI process), the second being what a shared, loaded
machine does not distort. Outputs are checked against the CLI's.

Usage: /work/venv/bin/python tools/bench/bench_spark.py [--rows 5000] [--model DIR] [--cores 2]
           [--routes a,b,c,d,cli] [--repeats 3] [--torch-repeats 1] [--json FILE]
The model defaults to the real all-MiniLM-L6-v2 (tools/models/fetch_models.py all-minilm-l6-v2).
"""

import argparse
import gzip
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "texts" / "debian_descriptions.jsonl.gz"
HELPERS = pathlib.Path(__file__).resolve().parent / "spark_torch_embedders.py"

ROUTES = {
    "a": "PyTorch pandas UDF (sentence-transformers)",
    "b": "PyTorch predict_batch_udf (AutoModel + mean pooling)",
    "c": "salvo predict_batch_udf (make_predict_fn)",
    "d": "salvo transform (mapInArrow)",
    "cli": "salvo embed CLI",
    "floor": "Spark alone: mapInArrow adding zeros (no model)",
}


def english_texts(rows: int) -> list:
    texts = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] == "en":
                texts.append(r["text"])
                if len(texts) == rows:
                    break
    if len(texts) < rows:
        raise SystemExit(f"the corpus has only {len(texts)} English texts")
    return texts


def write_parquet(folder: pathlib.Path, texts: list, files: int) -> None:
    folder.mkdir(parents=True)
    table = pa.table({"id": pa.array(range(len(texts)), pa.int64()), "text": texts})
    step = -(-len(texts) // files)
    for f in range(files):
        pq.write_table(table.slice(f * step, step), folder / f"part-{f:03d}.parquet")


def read_embeddings(folder: pathlib.Path, column: str = "embedding") -> np.ndarray:
    table = pq.read_table(folder).sort_by("id")
    values = table.column(column).combine_chunks()
    return np.asarray(values.values, dtype=np.float32).reshape(len(table), -1)


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, with reaped children) of process `root` and its live descendants:
    the Spark JVM, its Python daemon and Python workers."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    ticks = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def route_frame(spark, name: str, df, args):
    """The DataFrame that computes route `name` on df (lazy)."""
    import salvo.spark
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    model, max_length, batch = args.model, args.max_length, args.batch_size
    if name == "a":
        def st_embed(texts: Iterator[pd.Series]) -> Iterator[pd.Series]:
            import spark_torch_embedders

            st = spark_torch_embedders.sentence_transformer(model, max_length, 1)
            for t in texts:
                yield pd.Series(list(st.encode(t.tolist(), batch_size=batch, convert_to_numpy=True)))

        return df.withColumn("embedding", pandas_udf(st_embed, ArrayType(FloatType()))("text"))
    if name == "b":
        def make():
            import spark_torch_embedders

            return spark_torch_embedders.mean_pooling_predict_fn(model, max_length, 1)

        udf = route_frame.torch_udf = getattr(route_frame, "torch_udf", None) or predict_batch_udf(
            make, return_type=ArrayType(FloatType()), batch_size=batch)
        return df.withColumn("embedding", udf("text"))
    if name == "c":
        udf = route_frame.salvo_udf = getattr(route_frame, "salvo_udf", None) or predict_batch_udf(
            salvo.spark.make_predict_fn(model, max_length=max_length), return_type=salvo.spark.embed_type(),
            batch_size=batch)
        return df.withColumn("embedding", udf("text"))
    if name == "d":
        return salvo.spark.transform(df, "text", "embedding", model, max_length=max_length)
    if name == "floor":
        from pyspark.sql.types import StructField, StructType

        dim = args.dim

        def zeros(batches):
            for batch in batches:
                n = batch.num_rows
                offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
                emb = pa.ListArray.from_arrays(offsets, pa.array(np.zeros(n * dim, dtype=np.float32)))
                yield pa.RecordBatch.from_arrays(batch.columns + [emb], names=batch.schema.names + ["embedding"])

        return df.mapInArrow(zeros, StructType(df.schema.fields + [StructField("embedding", ArrayType(FloatType()))]))
    raise ValueError(name)


def run_cli(args, source: pathlib.Path, out: pathlib.Path):
    """Runs the CLI; returns the job seconds it reports (model loading excluded) and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([args.salvo, "embed", "--model", args.model, "--input", str(source / "*.parquet"),
                           "--output", str(out), "--threads", str(args.cores), "--max-length",
                           str(args.max_length)], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    line = [l for l in proc.stderr.splitlines() if " rows, " in l][-1]
    return float(line.split(" s, ")[0].rsplit(", ", 1)[1]), cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--model", default=os.path.expanduser("~/.cache/salvo/models/all-minilm-l6-v2"))
    p.add_argument("--max-length", type=int, default=128, help="tokens per text, for every route")
    p.add_argument("--batch-size", type=int, default=64, help="rows per PyTorch / predict_batch_udf batch")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--files", type=int, default=8, help="Parquet files = Spark partitions")
    p.add_argument("--routes", default="a,b,c,d,cli")
    p.add_argument("--repeats", type=int, default=3, help="timed passes of the salvo routes and the CLI")
    p.add_argument("--torch-repeats", type=int, default=1, help="timed passes of the PyTorch routes")
    p.add_argument("--salvo", default=str(REPO / "build" / "salvo"))
    p.add_argument("--json")
    args = p.parse_args()
    routes = args.routes.split(",")
    with open(os.path.join(args.model, "config.json")) as f:
        args.dim = json.load(f)["hidden_size"]

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="salvo_bench_spark_"))
    texts = english_texts(args.rows)
    write_parquet(tmp / "input", texts, args.files)
    write_parquet(tmp / "warmup", texts[: 32 * args.cores], args.cores)

    spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("bench_spark")
             .config("spark.driver.memory", "2g").config("spark.ui.enabled", "false")
             .config("spark.local.dir", str(tmp)).config("spark.python.worker.reuse", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.addPyFile(str(HELPERS))
    df = spark.read.parquet(str(tmp / "input"))
    warm = spark.read.parquet(str(tmp / "warmup"))
    print(f"{args.rows} English Debian descriptions, {args.files} partitions, local[{args.cores}], model {args.model}, "
          f"max_length {args.max_length}", file=sys.stderr)

    # Warm-up (Python workers started, models loaded), then the timed passes, interleaved across
    # routes so that a change in the machine's load touches every route alike.
    for name in routes:
        if name != "cli":
            route_frame(spark, name, warm, args).write.mode("overwrite").parquet(str(tmp / f"warm_{name}"))
    seconds = {name: [] for name in routes}
    cpu = {name: [] for name in routes}
    jvm = spark.sparkContext._gateway.proc.pid
    outputs = {}
    for r in range(max(args.repeats, args.torch_repeats)):
        for name in routes:
            if r >= (args.torch_repeats if name in ("a", "b") else args.repeats):
                continue
            if name == "cli":
                wall, used = run_cli(args, tmp / "input", tmp / "cli.npy")
                seconds[name].append(wall)
                cpu[name].append(used)
                outputs[name] = np.load(tmp / "cli.npy")
                continue
            c0, t0 = tree_cpu_seconds(jvm), time.perf_counter()
            route_frame(spark, name, df, args).write.mode("overwrite").parquet(str(tmp / f"out_{name}"))
            seconds[name].append(time.perf_counter() - t0)
            cpu[name].append(tree_cpu_seconds(jvm) - c0)
            outputs[name] = read_embeddings(tmp / f"out_{name}")
            print(f"{name:>4}  pass {r + 1}: {args.rows / seconds[name][-1]:8.1f} rows/s", file=sys.stderr)
    results = {}
    for name in routes:
        median = statistics.median(seconds[name])
        results[name] = {"route": ROUTES[name], "seconds": median, "passes": seconds[name],
                         "rows_per_s": args.rows / median, "cpu_seconds": statistics.median(cpu[name]),
                         "rows_per_cpu_s": args.rows / statistics.median(cpu[name])}
    spark.stop()

    reference = outputs.get("cli", outputs.get("d"))
    for name, out in outputs.items():
        if name != "floor":
            results[name]["max_abs_diff_vs_cli"] = float(np.abs(out - reference).max())

    def ratio(x, y):
        return results[x]["rows_per_s"] / results[y]["rows_per_s"] if x in results and y in results else None

    def cpu_ratio(x, y):
        return results[x]["rows_per_cpu_s"] / results[y]["rows_per_cpu_s"] if x in results and y in results else None

    pairs = [("c", "a"), ("d", "c"), ("d", "cli"), ("d", "a"), ("c", "b"), ("b", "a")]
    ratios = {f"{x}/{y}": ratio(x, y) for x, y in pairs}
    cpu_ratios = {f"{x}/{y}": cpu_ratio(x, y) for x, y in pairs}
    print("\n| route | rows/s (median) | passes (s) | rows per CPU-second | max abs diff vs CLI |\n|---|---:|---|---:|---:|")
    for name, r in results.items():
        passes = " ".join(f"{x:.1f}" for x in r["passes"])
        diff = f"{r['max_abs_diff_vs_cli']:.1e}" if "max_abs_diff_vs_cli" in r else "-"
        print(f"| ({name}) {r['route']} | {r['rows_per_s']:.1f} | {passes} | {r['rows_per_cpu_s']:.1f} | {diff} |")
    print("\nwall-clock ratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items() if v is not None))
    print("CPU-time ratios:   " + ", ".join(f"{k} = {v:.2f}" for k, v in cpu_ratios.items() if v is not None))
    print(f"load average at the end: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": args.rows, "cores": args.cores, "model": args.model, "results": results,
                       "ratios": ratios, "cpu_ratios": cpu_ratios, "loadavg": os.getloadavg()}, f, indent=2)


if __name__ == "__main__":
    main()
