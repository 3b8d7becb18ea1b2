#!/usr/bin/env python3
"""`salvo windows` next to pandas on the same synthetic event history, in one run on one machine.

The events (written once, deterministically, to Parquet): customers with a long-tailed number of
events each and a few huge ones, two years of history, in scrambled order. Both systems compute, per
customer and per 14-day window starting every day (Spark's window() alignment, non-empty windows):
count(*), sum(amount), mean(duration), max(amount), distinct(kind), last(plan).

- salvo: `salvo windows ... --skip-empty --memory <M>` (Parquet in, Parquet out), once per --memory
  given (by default 512M, which sorts these events in memory, and 64M, which spills sorted runs).
- pandas, vectorised: read the Parquet file, sort by (customer, time), give each event one row per
  window that holds it (np.repeat: Spark's explode), groupby(customer, window_start).agg(...), write
  Parquet. The fastest way we know to get these windows from pandas; it needs window/step copies of
  the events in memory.
- pandas, per group (optional, --apply-groups N): groupby(customer).apply of a function that loops
  over the windows and filters, the straightforward code users write, on the first N customers
  only (it is far slower), reported in events/s.

Each system runs as its own process; wall time, CPU time (user + system, all threads) and peak
resident memory (VmHWM from /proc, polled every 10 ms) are measured from outside. The outputs of
salvo and vectorised pandas are compared row by row before anything is reported.

    /work/venv/bin/python tools/bench/bench_windows.py --events 3000000 [--repeats 3] [--memory 512M,64M]
        [--apply-groups 100] [--salvo build/salvo]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DAY = 86400 * 10**6
WINDOW, STEP = 14 * DAY, DAY
FEATURES = "count(*), sum(amount), mean(duration), max(amount), distinct(kind), last(plan)"


def generate(path, events, seed=7):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    # Three huge customers with 10%, 6% and 4% of the events; the rest over a long tail of others.
    huge = [int(events * f) for f in (0.10, 0.06, 0.04)]
    rest = events - sum(huge)
    sizes = np.maximum(1, rng.pareto(1.2, size=max(1, rest // 40)) * 8).astype(np.int64)
    sizes = sizes[np.cumsum(sizes) <= rest]
    sizes = np.append(sizes, rest - sizes.sum())
    sizes = np.concatenate([huge, sizes[sizes > 0]])
    customer = np.repeat(np.arange(1, len(sizes) + 1, dtype=np.int64) * 1009, sizes)
    start = rng.integers(0, 365 * DAY, size=len(sizes))
    span = np.maximum(DAY, (365 * DAY * rng.random(len(sizes))).astype(np.int64))
    t0 = 1_650_000_000 * 10**6
    ts = t0 + np.repeat(start, sizes) + (rng.random(events) * np.repeat(span, sizes)).astype(np.int64)
    order = rng.permutation(events)
    kinds = np.array(["call", "sms", "data", "roam", "voicemail", "topup"])
    plans = np.array(["basic", "plus", "pro", "family"])
    table = pa.table({
        "customer_id": customer[order],
        "ts": pa.array(ts[order]).cast(pa.timestamp("us", tz="UTC")),
        "amount": np.round(rng.gamma(2.0, 10.0, events), 2),
        "duration": rng.exponential(120.0, events),
        "kind": pa.array(kinds[rng.integers(0, len(kinds), events)]).dictionary_encode(),
        "plan": pa.array(plans[rng.integers(0, len(plans), events)]).dictionary_encode(),
    })
    pq.write_table(table, path, row_group_size=256 * 1024)
    return len(sizes), int(sizes.max())


def pandas_vectorised(input_path, output_path):
    import numpy as np
    import pandas as pd
    df = pd.read_parquet(input_path)
    t = df["ts"].astype("int64").to_numpy()
    if df["ts"].dt.unit != "us":
        t = df["ts"].dt.as_unit("us").astype("int64").to_numpy()
    df = df.assign(_t=t).sort_values(["customer_id", "_t"], kind="stable")
    t = df["_t"].to_numpy()
    first = (t - WINDOW) // STEP + 1
    last = t // STEP
    reps = last - first + 1
    idx = np.repeat(np.arange(len(df)), reps)
    offset = np.arange(len(idx)) - np.repeat(np.cumsum(reps) - reps, reps)
    exploded = df.iloc[idx].assign(window_start=(first[idx] + offset) * STEP)
    out = exploded.groupby(["customer_id", "window_start"], sort=True, observed=True).agg(
        count=("_t", "size"), sum_amount=("amount", "sum"), mean_duration=("duration", "mean"),
        max_amount=("amount", "max"), distinct_kind=("kind", "nunique"), last_plan=("plan", "last")).reset_index()
    out["window_end"] = out["window_start"] + WINDOW
    out.to_parquet(output_path)


def pandas_per_group(input_path, output_path, groups):
    import numpy as np
    import pandas as pd
    df = pd.read_parquet(input_path)
    df["_t"] = df["ts"].dt.as_unit("us").astype("int64")
    keep = df["customer_id"].drop_duplicates().sort_values().head(groups)
    df = df[df["customer_id"].isin(keep)]

    def windows(g):
        g = g.sort_values("_t", kind="stable")
        rows = []
        for k in range((g["_t"].min() - WINDOW) // STEP + 1, g["_t"].max() // STEP + 1):
            w = g[(g["_t"] >= k * STEP) & (g["_t"] < k * STEP + WINDOW)]
            if len(w):
                rows.append({"window_start": k * STEP, "count": len(w), "sum_amount": w["amount"].sum(),
                             "mean_duration": w["duration"].mean(), "max_amount": w["amount"].max(),
                             "distinct_kind": w["kind"].nunique(), "last_plan": w["plan"].iloc[-1]})
        return pd.DataFrame(rows)

    df.groupby("customer_id", sort=True).apply(windows).to_parquet(output_path)
    print(json.dumps({"events": int(len(df))}))


def measure(argv):
    """Runs argv; returns wall s, CPU s (user + system of the process and its threads), peak RSS bytes, stdout."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hwm = [0]
    done = threading.Event()

    def poll():  # never waits for the process itself: wait4 below reaps it and reads its usage
        while not done.is_set():
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm[0] = max(hwm[0], int(line.split()[1]) * 1024)
            except OSError:
                pass
            time.sleep(0.01)

    watcher = threading.Thread(target=poll)
    watcher.start()
    stdout_chunks = []
    reader = threading.Thread(target=lambda: stdout_chunks.append(proc.stdout.read()))
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    stderr = proc.stderr.read()
    watcher.join()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, hwm[0], "".join(stdout_chunks), stderr


def compare(salvo_path, pandas_path):
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    s = pq.read_table(salvo_path)
    s = s.set_column(s.schema.get_field_index("window_start"), "window_start", pc.cast(s["window_start"], "int64"))
    s = s.to_pandas()
    p = pd.read_parquet(pandas_path)
    assert len(s) == len(p), f"salvo wrote {len(s)} windows, pandas {len(p)}"
    assert (s["customer_id"].to_numpy() == p["customer_id"].to_numpy()).all()
    assert (s["window_start"].to_numpy() == p["window_start"].to_numpy()).all()
    for c in ("count", "distinct_kind"):
        assert (s[c].to_numpy() == p[c].to_numpy()).all(), c
    for c in ("sum_amount", "mean_duration", "max_amount"):
        assert np.allclose(s[c].to_numpy(), p[c].to_numpy(), rtol=1e-9), c
    assert (s["last_plan"].astype(str).to_numpy() == p["last_plan"].astype(str).to_numpy()).all()
    return len(s)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--memory", default="512M,64M", help="salvo's --memory, one run each (comma-separated)")
    parser.add_argument("--apply-groups", type=int, default=200, help="customers for the per-group apply (0: skip)")
    parser.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--role", choices=["pandas", "pandas-apply"], help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "pandas":
        return pandas_vectorised(args.input, args.output)
    if args.role == "pandas-apply":
        return pandas_per_group(args.input, args.output, args.apply_groups)

    work = args.workdir or tempfile.mkdtemp(prefix="salvo-bench-windows-")
    os.makedirs(work, exist_ok=True)
    events = os.path.join(work, "events.parquet")
    groups, largest = generate(events, args.events)
    print(f"{args.events} events of {groups} customers (largest {largest}), {os.path.getsize(events) / 1e6:.0f} MB "
          f"Parquet; windows of 14 days every day; {os.cpu_count()} cores", file=sys.stderr)
    salvo_out, pandas_out = os.path.join(work, "salvo.parquet"), os.path.join(work, "pandas.parquet")
    memories = args.memory.split(",")

    def salvo_cmd(memory):
        return [args.salvo, "windows", "--input", events, "--output", salvo_out, "--group-by", "customer_id",
                "--time-column", "ts", "--window", "14d", "--step", "1d", "--features", FEATURES, "--skip-empty",
                "--memory", memory, "--temp-dir", work, "--quiet"]

    pandas_cmd = [sys.executable, __file__, "--role", "pandas", "--input", events, "--output", pandas_out]
    results = {m: [] for m in memories}
    results["pandas"] = []
    windows = 0
    for _ in range(args.repeats):
        results["pandas"].append(measure(pandas_cmd)[:3])
        for m in memories:
            results[m].append(measure(salvo_cmd(m))[:3])
            windows = compare(salvo_out, pandas_out)

    def median(rows, i):
        values = sorted(r[i] for r in rows)
        return values[len(values) // 2]

    print(f"\n{windows} windows; the same rows from every run. Median of {args.repeats}:\n")
    print("| system | wall s | CPU s | events/s (wall) | peak memory |")
    print("| --- | --- | --- | --- | --- |")
    for name in memories + ["pandas"]:
        wall, cpu, rss = median(results[name], 0), median(results[name], 1), median(results[name], 2)
        label = f"salvo windows --memory {name}" if name != "pandas" else "pandas, vectorised (explode + groupby)"
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {args.events / wall / 1e6:.2f}M | {rss / 2**20:.0f} MiB |")
    if args.apply_groups:
        wall, cpu, rss, out, _ = measure([sys.executable, __file__, "--role", "pandas-apply", "--input", events,
                                          "--output", os.path.join(work, "apply.parquet"),
                                          "--apply-groups", str(args.apply_groups)])
        n = json.loads(out.strip().splitlines()[-1])["events"]
        print(f"| pandas, per-group apply ({args.apply_groups} customers, {n} events) | {wall:.1f} | {cpu:.1f} | "
              f"{n / wall / 1e6:.3f}M | {rss / 2**20:.0f} MiB |")
    p_wall, p_cpu, p_rss = (median(results["pandas"], i) for i in range(3))
    print()
    for m in memories:
        s_wall, s_cpu, s_rss = (median(results[m], i) for i in range(3))
        print(f"salvo --memory {m} against pandas (vectorised): {p_wall / s_wall:.1f}x in wall time, "
              f"{p_cpu / s_cpu:.1f}x in CPU time, {p_rss / s_rss:.1f}x less peak memory")


if __name__ == "__main__":
    main()
