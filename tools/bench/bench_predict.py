#!/usr/bin/env python3
"""`salvo predict` (TorchScript through libtorch) next to the same model in a plain PyTorch loop and
called row by row: one run, same input file, same batch size, same threads, interleaved passes.

    nice ninja -C build salvo salvo_torchscript
    /work/venv/bin/python tools/bench/bench_predict.py            # or ${SALVO_VENV:-.venv}/bin/python

It prints a Markdown report on stdout (progress on stderr); --json keeps every measurement.

Models:
  digits   examples/digits/digits_cnn.pt (two convolutions and a linear layer, 8x8 images), on
           examples/digits/digits.parquet repeated to --digits-rows rows (input `pixels`, shape [1,8,8])
  resnet   a small ResNet-style CNN on 3x32x32 images (stem, two residual blocks, a strided convolution,
           global average pool, a linear layer; random weights), torch.jit.trace'd here by this interpreter's
           torch, on --resnet-rows random images (input `image`, 3072 floats, shape [3,32,32])
Peers, each on the same Parquet file, with --batch-rows B rows per batch and T threads (--threads):
  salvo        build/salvo predict --input X.parquet --output out.parquet --batch-rows B --threads T: rows over
               the job time salvo reports (reading, batching, forward, writing; the model load excluded).
               Its libtorch is the one it was built with (Debian's libtorch 1.13).
  torch-X      a PyTorch loop in a worker process (this file, --worker) under two interpreters: this one
               (PyPI's torch) and /usr/bin/python3 (Debian's python3-torch 1.13, the same libtorch as salvo;
               pyarrow borrowed from this interpreter's site-packages, tensors exchanged through raw buffers,
               never numpy). Timed as salvo is: pyarrow.parquet.read_table, batches of B rows sliced from one
               tensor, model(batch) under torch.inference_mode() with torch.set_num_threads(T), outputs
               concatenated and written to Parquet (list<float>, as salvo writes). Also reported:
               compute   the same loop's forward calls alone (no I/O): where the time goes;
               row-by-row  model(one row) on the first --rowwise-rows rows (at most --rowwise-seconds), as rows/s:
                           what a naive per-row UDF does.
Every process gets OMP_NUM_THREADS=T and MKL_NUM_THREADS=T. Passes are interleaved (every peer once, in a
rotated order, then again, --passes times); the table gives medians, and each ratio is the median of the
per-pass ratios (salvo against the peer in the same pass). Each pass checks salvo's outputs against every
PyTorch loop's: |salvo - torch| <= 1e-5 * max(|torch|, row's largest |torch|), so a wrong answer fails the run.
"""
import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBIAN_PYTHON = "/usr/bin/python3"
TOLERANCE = 1e-5


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# The worker: one PyTorch loop, under whichever interpreter runs it. It must work with torch 1.13 and
# numpy 2 side by side (Debian's torch is built against numpy 1), so tensors meet Arrow through raw
# buffers only.

def tensor_from_list_column(column, shape):
    """A list<float> column (pyarrow ChunkedArray) -> one float32 tensor [rows, *shape] on its buffer."""
    import torch
    column = column.combine_chunks()
    values = column.flatten()
    return torch.frombuffer(values.buffers()[1], dtype=torch.float32, count=len(values),
                            offset=values.offset * 4).reshape(len(column), *shape)


def list_column_from_tensor(tensor):
    """A float32 tensor [rows, ...] -> a list<float> array of each row's values flattened. The array borrows
    the tensor's memory (no copy): the caller keeps the tensor alive while the array is used."""
    import numpy as np
    import pyarrow as pa
    import torch
    assert tensor.is_contiguous() and tensor.dtype == torch.float32
    rows, width = tensor.shape[0], tensor.numel() // max(1, tensor.shape[0])
    raw = (ctypes.c_char * (tensor.numel() * 4)).from_address(tensor.data_ptr())
    values = pa.Array.from_buffers(pa.float32(), tensor.numel(), [None, pa.py_buffer(raw)])
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, values)


def worker(args):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    threads = int(args.threads)
    torch.set_num_threads(threads)
    shape = json.loads(args.shape)
    model = torch.jit.load(args.model).eval()
    batch = args.batch_rows
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        # Warm-up outside the timings (TorchScript's profiling executor specialises on its first calls).
        x = tensor_from_list_column(pq.read_table(args.input, columns=[args.column]).column(0), shape)
        for _ in range(3):
            model(x[:batch])
        del x

        start = time.perf_counter()
        x = tensor_from_list_column(pq.read_table(args.input, columns=[args.column]).column(0), shape)
        outputs = [model(x[i:i + batch]) for i in range(0, x.shape[0], batch)]
        out = torch.cat(outputs)
        pq.write_table(pa.table({"output": list_column_from_tensor(out)}), args.output)
        result["end_to_end_s"] = time.perf_counter() - start
        result["rows"] = x.shape[0]

        start = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            model(x[i:i + batch])
        result["compute_s"] = time.perf_counter() - start

        # Row by row on the first rows, for at most --rowwise-rows rows or --rowwise-seconds.
        n = min(args.rowwise_rows, x.shape[0])
        start = time.perf_counter()
        deadline = start + args.rowwise_seconds
        done = 0
        while done < n and (done % 16 or time.perf_counter() < deadline):
            model(x[done:done + 1])
            done += 1
        result["rowwise_s"] = time.perf_counter() - start
        result["rowwise_rows"] = done
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------------
# The driver.

def make_inputs(tmp, digits_rows, resnet_rows):
    """Writes the two models' input files and the traced ResNet; returns the model table."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    digits = pq.read_table(os.path.join(REPO, "examples", "digits", "digits.parquet"), columns=["pixels"])
    pixels = np.array(digits.column("pixels").to_pylist(), dtype=np.float32)
    pixels = np.resize(pixels, (digits_rows, pixels.shape[1]))  # the 360 held-out digits, repeated
    digits_input = os.path.join(tmp, "digits.parquet")
    write_list_column(digits_input, "pixels", pixels)

    class Block(torch.nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.a = torch.nn.Conv2d(channels, channels, 3, padding=1)
            self.b = torch.nn.Conv2d(channels, channels, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.b(torch.relu(self.a(x))))

    class SmallResNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 16, 3, padding=1)
            self.block1 = Block(16)
            self.down = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.block2 = Block(32)
            self.fc = torch.nn.Linear(32, 10)

        def forward(self, x):
            x = self.block2(torch.relu(self.down(self.block1(torch.relu(self.stem(x))))))
            return self.fc(x.mean((2, 3)))

    torch.manual_seed(0)
    resnet = os.path.join(tmp, "resnet.pt")
    torch.jit.trace(SmallResNet().eval(), torch.randn(2, 3, 32, 32)).save(resnet)
    images = np.random.default_rng(0).standard_normal((resnet_rows, 3 * 32 * 32), dtype=np.float32)
    resnet_input = os.path.join(tmp, "images.parquet")
    write_list_column(resnet_input, "image", images)
    return {
        "digits": {"model": os.path.join(REPO, "examples", "digits", "digits_cnn.pt"), "input": digits_input,
                   "column": "pixels", "shape": [1, 8, 8], "rows": digits_rows,
                   "about": "digits CNN (examples/digits/digits_cnn.pt, scripted), [1,8,8] in, 10 logits out"},
        "resnet": {"model": resnet, "input": resnet_input, "column": "image", "shape": [3, 32, 32],
                   "rows": resnet_rows,
                   "about": "small ResNet-style CNN (traced here, random weights), [3,32,32] in, 10 logits out"},
    }


def write_list_column(path, name, matrix):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))
    pq.write_table(pa.table({name: column}), path, row_group_size=16384)


def debian_pythonpath(tmp):
    """A folder with this interpreter's pyarrow and numpy (same Python minor) for Debian's interpreter."""
    import numpy
    import pyarrow
    folder = os.path.join(tmp, "debian-site")
    os.makedirs(folder, exist_ok=True)
    for module in (pyarrow, numpy):
        package = os.path.dirname(module.__file__)
        os.symlink(package, os.path.join(folder, os.path.basename(package)))
        libs = package + ".libs"
        if os.path.isdir(libs):
            os.symlink(libs, os.path.join(folder, os.path.basename(libs)))
    return folder


def thread_env(threads, extra=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.update(extra or {})
    return env


def run_salvo(salvo, spec, out, batch_rows, threads):
    cmd = [salvo, "predict", "--model", spec["model"], "--input", spec["input"], "--output", out,
           "--input-columns", spec["column"], "--input-tensor-shapes", json.dumps([spec["shape"]]),
           "--batch-rows", str(batch_rows), "--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"salvo predict failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    m = re.search(r"(\d+) rows, (\d+) errors, [\d.]+ s, ([\d.]+) rows/s", proc.stderr)
    if not m or int(m.group(2)) != 0 or int(m.group(1)) != spec["rows"]:
        sys.exit(f"salvo predict did not report {spec['rows']} rows without errors:\n{proc.stderr}")
    rows_per_s = float(m.group(3))
    return {"rows_per_s": rows_per_s, "job_s": spec["rows"] / rows_per_s, "wall_s": wall}


def run_worker(python, pythonpath, spec, out, batch_rows, threads, rowwise_rows, rowwise_seconds):
    cmd = [python, os.path.abspath(__file__), "--worker", "--model", spec["model"], "--input", spec["input"],
           "--column", spec["column"], "--shape", json.dumps(spec["shape"]), "--output", out,
           "--batch-rows", str(batch_rows), "--threads", str(threads), "--rowwise-rows", str(rowwise_rows),
           "--rowwise-seconds", str(rowwise_seconds)]
    extra = {"PYTHONPATH": pythonpath, "PYTHONWARNINGS": "ignore"} if pythonpath else {}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads, extra))
    if proc.returncode != 0:
        sys.exit(f"PyTorch worker failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if r["rows"] != spec["rows"] or r["threads"] != threads:
        sys.exit(f"PyTorch worker ran {r['rows']} rows on {r['threads']} threads: {r}")
    return {"rows_per_s": r["rows"] / r["end_to_end_s"], "compute_rows_per_s": r["rows"] / r["compute_s"],
            "rowwise_rows_per_s": r["rowwise_rows"] / r["rowwise_s"], "torch": r["torch"]}


def worst_error(salvo_out, torch_out):
    """The largest |salvo - torch| / max(|torch|, the row's largest |torch|); fails on a shape mismatch."""
    import numpy as np
    import pyarrow.parquet as pq
    got_table = pq.read_table(salvo_out)
    if "error" in got_table.column_names and got_table.column("error").null_count != len(got_table):
        sys.exit(f"{salvo_out}: salvo wrote error rows")
    got = np.array(got_table.column("output").to_pylist(), dtype=np.float64)
    want = np.array(pq.read_table(torch_out).column("output").to_pylist(), dtype=np.float64)
    if got.shape != want.shape:
        sys.exit(f"salvo wrote outputs of shape {got.shape}, PyTorch {want.shape}")
    scale = np.maximum(np.abs(want), np.abs(want).max(axis=1, keepdims=True))
    return float((np.abs(got - want) / np.maximum(scale, 1e-30)).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    parser.add_argument("--models", default="digits,resnet")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch-rows", type=int, default=256)
    parser.add_argument("--digits-rows", type=int, default=100_000)
    parser.add_argument("--resnet-rows", type=int, default=8192)
    parser.add_argument("--rowwise-rows", type=int, default=2000, help="most rows run one at a time, per pass")
    parser.add_argument("--rowwise-seconds", type=float, default=3.0, help="most seconds for them, per pass")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--no-debian", action="store_true", help="skip the PyTorch loop under Debian's torch")
    parser.add_argument("--json", help="write every measurement here")
    # The worker's own flags.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for flag in ("--model", "--input", "--column", "--shape", "--output"):
        parser.add_argument(flag, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    if not os.access(args.salvo, os.X_OK):
        sys.exit(f"{args.salvo} is not built: nice ninja -C build salvo salvo_torchscript")
    tmp = tempfile.mkdtemp(prefix="bench_predict.")
    try:
        pythons = [("torch-pypi", sys.executable, None)]
        if not args.no_debian and os.access(DEBIAN_PYTHON, os.X_OK):
            probe = subprocess.run([DEBIAN_PYTHON, "-c", "import torch"], capture_output=True)
            if probe.returncode == 0:
                pythons.append(("torch-debian", DEBIAN_PYTHON, debian_pythonpath(tmp)))
            else:
                log(f"{DEBIAN_PYTHON} has no torch: its PyTorch loop is skipped")
        log("writing inputs ...")
        models = make_inputs(tmp, args.digits_rows, args.resnet_rows)
        models = {name: models[name] for name in args.models.split(",")}
        threads_list = [int(t) for t in args.threads.split(",")]
        peers = ["salvo"] + [name for name, _, _ in pythons]
        load_before = os.getloadavg()
        results = {}  # (model, threads, peer) -> list of per-pass dicts
        versions = {}
        for p in range(args.passes):
            for name, spec in models.items():
                for threads in threads_list:
                    order = peers[p % len(peers):] + peers[:p % len(peers)]
                    outs = {}
                    for peer in order:
                        out = os.path.join(tmp, f"{name}-{threads}-{peer}.parquet")
                        if os.path.exists(out):
                            os.remove(out)
                        if peer == "salvo":
                            r = run_salvo(args.salvo, spec, out, args.batch_rows, threads)
                        else:
                            _, python, path = next(x for x in pythons if x[0] == peer)
                            r = run_worker(python, path, spec, out, args.batch_rows, threads, args.rowwise_rows,
                                           args.rowwise_seconds)
                            versions[peer] = r["torch"]
                        outs[peer] = out
                        results.setdefault((name, threads, peer), []).append(r)
                    for peer in peers[1:]:
                        err = worst_error(outs["salvo"], outs[peer])
                        results[(name, threads, peer)][-1]["worst_relative_error"] = err
                        if err > TOLERANCE:
                            sys.exit(f"{name}, {threads} threads: salvo's outputs differ from {peer}'s by {err:.3g} "
                                     f"(relative), more than {TOLERANCE}")
                    line = ", ".join(f"{peer} {results[(name, threads, peer)][-1]['rows_per_s']:.0f}" for peer in peers)
                    log(f"pass {p + 1}/{args.passes} {name} {threads}t: rows/s {line}")
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(key, values):
        return statistics.median(v[key] for v in values)

    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"{time.strftime('%Y-%m-%d')}, commit {commit.stdout.strip()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"batches of {args.batch_rows} rows, {args.passes} interleaved passes, medians.")
    print(f"salvo: Debian's libtorch (the build's); " +
          ", ".join(f"{peer}: torch {v}" for peer, v in versions.items()) + ".")
    for name, spec in models.items():
        print(f"\n**{name}**: {spec['about']}, {spec['rows']} rows, row-by-row on up to "
              f"{min(args.rowwise_rows, spec['rows'])} rows or {args.rowwise_seconds:g} s per pass\n")
        print("| threads | peer | torch | rows/s end to end | salvo ÷ peer | compute only rows/s | "
              "row-by-row rows/s | salvo ÷ row-by-row | worst rel. diff |")
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
        for threads in threads_list:
            s = results[(name, threads, "salvo")]
            print(f"| {threads} | salvo predict | libtorch (Debian) | {med('rows_per_s', s):,.0f} | | | | | |")
            for peer in peers[1:]:
                r = results[(name, threads, peer)]
                ratio = statistics.median(a["rows_per_s"] / b["rows_per_s"] for a, b in zip(s, r))
                rowwise_ratio = statistics.median(a["rows_per_s"] / b["rowwise_rows_per_s"] for a, b in zip(s, r))
                worst = max(x["worst_relative_error"] for x in r)
                print(f"| {threads} | PyTorch loop ({peer}) | {versions[peer]} | {med('rows_per_s', r):,.0f} | "
                      f"**{ratio:.2f}x** | {med('compute_rows_per_s', r):,.0f} | {med('rowwise_rows_per_s', r):,.0f} | "
                      f"{rowwise_ratio:.1f}x | {worst:.1e} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"model": k[0], "threads": k[1], "peer": k[2], "passes": v} for k, v in results.items()], f,
                      indent=1)


if __name__ == "__main__":
    main()
