#!/usr/bin/env python3
"""salvo's Parquet reader and writer next to DuckDB: same machine, same run, same files, same threads.

Reading. Makes two deterministic snappy files from the test corpus of Debian package descriptions
(tests/data/texts, repeated, each copy's texts suffixed with its copy number so that dictionaries
cannot collapse them), with DuckDB:
  text   id BIGINT, text VARCHAR                                   (~1.2 GB, ~1.9 GB of text at --gb 1.5)
  multi  id BIGINT, text VARCHAR, score DOUBLE, package VARCHAR    (package: dictionary-encoded)
and reads them with
  salvo   build/tools/bench/parquet_read_bench: the reader stage of `salvo embed`, i.e. the real
          ParquetSource (open_row_source with a job's limits) driven as
          the job drives it: read_batch() of 256 records on one thread, consume() (parse: text as a
          view, UTF-8 checked, id and passthrough values as JSON) on --threads worker threads,
          --threads decoding threads with the default read-ahead (256 MiB for 2 threads)
  duckdb  the duckdb Python package, SET threads=N, SELECT <columns> FROM file, materialised with
          to_arrow_table() (every value copied into Arrow arrays)
for two projections: the text column alone ("text" file), and text + id + score + package ("multi").

Writing. Makes --write-rows rows of an id, a text (the corpus again) and a 384-float embedding
(seeded random, unit length), then writes them as snappy Parquet with
  salvo   build/tools/bench/parquet_write_bench --path sink: OutputRows through the Parquet sink, as
          `salvo embed --output x.parquet` does (id, text, embedding LIST<FLOAT>, error); rows built
          before the clock starts
  duckdb  COPY (SELECT * FROM arrow_table) TO 'x.parquet' (FORMAT parquet, COMPRESSION snappy) with the
          same columns (embedding FLOAT[]), SET threads=N
Both outputs are read back to check the row count.

Each measurement runs --repeats times, salvo and DuckDB interleaved, in separate processes, timed
inside the process (process start and imports excluded); the median is reported with the CPU time
the process used, and the ratio DuckDB time / salvo time (above 1: salvo is faster).

Usage: tools/bench/parquet_read_bench.py [--build build] [--gb 1.5] [--compression snappy]
          [--threads 2] [--repeats 3] [--write-rows 300000] [--only read|write] [--dir DIR] [--json FILE]
Needs the duckdb, pyarrow and numpy packages (the shared venv has them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
DIMS = 384

# Runs in a child process so that DuckDB's threads and memory do not outlive one measurement.
DUCKDB_READ = r"""
import json, resource, sys, time
import duckdb, pyarrow.compute as pc
path, columns, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
table = con.sql(f"SELECT {columns} FROM read_parquet('{path}')").to_arrow_table()
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
text = table.column("text")
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": table.num_rows,
                  "text_bytes": pc.sum(pc.binary_length(text)).as_py()}))
"""

DUCKDB_WRITE = r"""
import json, os, resource, sys, time
import duckdb, numpy as np, pyarrow as pa
texts_path, embeddings_path, dims, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
raw = open(texts_path, "rb").read()
texts, pos = [], 0
while pos < len(raw):
    n = int.from_bytes(raw[pos:pos + 4], "little")
    texts.append(raw[pos + 4:pos + 4 + n].decode())
    pos += 4 + n
flat = np.fromfile(embeddings_path, dtype=np.float32)
rows = len(texts)
offsets = np.arange(0, rows * dims + 1, dims, dtype=np.int32)
arrow_table = pa.table({
    "id": pa.array(np.arange(rows, dtype=np.int64)),
    "text": pa.array(texts, type=pa.string()),
    "embedding": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
})
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.register("arrow_table", arrow_table)
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
con.execute(f"COPY (SELECT * FROM arrow_table) TO '{out}' (FORMAT parquet, COMPRESSION snappy)")
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "bytes": os.path.getsize(out)}))
"""


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def make_read_inputs(directory, gb, compression):
    import duckdb

    paths = {kind: os.path.join(directory, f"salvo_bench_{kind}_{gb}gb_{compression}.parquet")
             for kind in ("text", "multi")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    con = duckdb.connect()
    con.execute("SET threads=2")
    con.execute(f"""CREATE TABLE corpus AS SELECT id AS i, package, text FROM read_json('{CORPUS}',
                    columns = {{id: 'BIGINT', package: 'VARCHAR', lang: 'VARCHAR', text: 'VARCHAR'}})""")
    rows, text_bytes = con.execute("SELECT count(*), sum(strlen(text)) FROM corpus").fetchone()
    # About 1.15 GB of text per GB asked for, as the earlier benchmark sized it.
    repeats = -(-int(gb * 1.15 * (1 << 30)) // text_bytes)
    select = {
        "text": "r * {n} + i AS id, text || ' #' || r AS text",
        "multi": "r * {n} + i AS id, text || ' #' || r AS text, "
                 "(((r * {n} + i) * 0.6180339887498949) % 1)::DOUBLE AS score, package",
    }
    for kind, path in paths.items():
        if os.path.exists(path):
            continue
        tmp = path + ".tmp"
        con.execute(f"""COPY (SELECT {select[kind].format(n=rows)} FROM corpus, range({repeats}) t(r) ORDER BY r, i)
                        TO '{tmp}' (FORMAT parquet, COMPRESSION {compression})""")
        os.rename(tmp, path)
    return paths


def make_write_inputs(directory, rows):
    import gzip

    import numpy as np

    texts_path = os.path.join(directory, f"salvo_bench_write_{rows}_texts.bin")
    embeddings_path = os.path.join(directory, f"salvo_bench_write_{rows}_embeddings.f32")
    if os.path.exists(texts_path) and os.path.exists(embeddings_path):
        return texts_path, embeddings_path
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        corpus = [json.loads(line)["text"] for line in f]
    with open(texts_path + ".tmp", "wb") as out:
        for r in range(rows):
            data = f"{corpus[r % len(corpus)]} #{r // len(corpus)}".encode()
            out.write(len(data).to_bytes(4, "little"))
            out.write(data)
    rng = np.random.default_rng(20261121)
    with open(embeddings_path + ".tmp", "wb") as out:
        for start in range(0, rows, 65536):
            block = rng.standard_normal((min(65536, rows - start), DIMS), dtype=np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            block.tofile(out)
    os.rename(texts_path + ".tmp", texts_path)
    os.rename(embeddings_path + ".tmp", embeddings_path)
    return texts_path, embeddings_path


def summarize(runs):
    return {
        "median_s": statistics.median(r["seconds"] for r in runs),
        "cpu_s": statistics.median(r["cpu_seconds"] for r in runs),
        "runs_s": [round(r["seconds"], 3) for r in runs],
    }


def bench_read(args, paths):
    reader = os.path.join(args.build, "tools", "bench", "parquet_read_bench")
    cases = [
        ("text column", paths["text"], "text", []),
        ("text + id + score + package", paths["multi"], "text, id, score, package",
         ["--id", "id", "--keep", "score,package"]),
    ]
    results = []
    for name, path, columns, salvo_flags in cases:
        salvo_runs, duck_runs = [], []
        for _ in range(args.repeats):
            salvo_runs.append(run_json([reader, path, "--threads", str(args.threads)] + salvo_flags))
            duck_runs.append(run_json([sys.executable, "-c", DUCKDB_READ, path, columns, str(args.threads)]))
        s, d = salvo_runs[-1], duck_runs[-1]
        if (s["rows"], s["text_bytes"]) != (d["rows"], d["text_bytes"]) or s["errors"]:
            sys.exit(f"{name}: salvo read {s['rows']} rows / {s['text_bytes']} text bytes ({s['errors']} errors), "
                     f"DuckDB {d['rows']} / {d['text_bytes']}")
        result = {"case": name, "file": path, "file_bytes": os.path.getsize(path), "rows": s["rows"],
                  "text_bytes": s["text_bytes"], "salvo": summarize(salvo_runs), "duckdb": summarize(duck_runs)}
        result["ratio"] = result["duckdb"]["median_s"] / result["salvo"]["median_s"]
        results.append(result)
        print_result(result, "read")
    return results


def bench_write(args, directory):
    writer = os.path.join(args.build, "tools", "bench", "parquet_write_bench")
    texts_path, embeddings_path = make_write_inputs(directory, args.write_rows)
    out_salvo = os.path.join(directory, "salvo_bench_write_salvo.parquet")
    out_duck = os.path.join(directory, "salvo_bench_write_duckdb.parquet")
    salvo_runs, duck_runs = [], []
    for _ in range(args.repeats):
        salvo_runs.append(run_json([writer, texts_path, embeddings_path, str(DIMS), out_salvo, "--path", "sink",
                                    "--codec", "snappy"]))
        duck_runs.append(run_json([sys.executable, "-c", DUCKDB_WRITE, texts_path, embeddings_path, str(DIMS),
                                   out_duck, str(args.threads)]))
    import duckdb

    con = duckdb.connect()
    for path in (out_salvo, out_duck):
        count, dims = con.execute(f"SELECT count(*), max(len(embedding)) FROM read_parquet('{path}')").fetchone()
        if count != args.write_rows or dims != DIMS:
            sys.exit(f"{path}: {count} rows of {dims} floats read back, expected {args.write_rows} of {DIMS}")
    result = {"case": f"{args.write_rows} rows: id, text, embedding FLOAT[{DIMS}]", "rows": args.write_rows,
              "salvo": summarize(salvo_runs), "duckdb": summarize(duck_runs),
              "salvo_bytes": salvo_runs[-1]["bytes"], "duckdb_bytes": duck_runs[-1]["bytes"]}
    result["ratio"] = result["duckdb"]["median_s"] / result["salvo"]["median_s"]
    print_result(result, "write")
    for path in (out_salvo, out_duck):
        os.remove(path)
    return [result]


def print_result(r, what):
    s, d = r["salvo"], r["duckdb"]
    print(f"{what} {r['case']}: salvo {s['median_s']:.3f} s (cpu {s['cpu_s']:.2f} s, runs {s['runs_s']}), "
          f"DuckDB {d['median_s']:.3f} s (cpu {d['cpu_s']:.2f} s, runs {d['runs_s']}): "
          f"salvo {r['ratio']:.2f}x DuckDB's speed", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--gb", type=float, default=1.5)
    parser.add_argument("--compression", default="snappy")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-rows", type=int, default=300000)
    parser.add_argument("--only", choices=["read", "write"])
    parser.add_argument("--dir", default=os.environ.get("SALVO_BENCH_DIR", tempfile.gettempdir()))
    parser.add_argument("--json")
    args = parser.parse_args()
    import duckdb

    print(f"DuckDB {duckdb.__version__}, {args.threads} threads, {args.repeats} repeats, files in {args.dir}",
          flush=True)
    results = {}
    if args.only != "write":
        results["read"] = bench_read(args, make_read_inputs(args.dir, args.gb, args.compression))
    if args.only != "read":
        results["write"] = bench_write(args, args.dir)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
