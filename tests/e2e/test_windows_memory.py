"""One group far larger than the memory budget: salvo windows sorts it on disk and slides over it
with peak resident memory near --memory, and the windows are still right.

The whale's 24 million events arrive in scrambled order (event i has time slot (i * 7919) mod N, a
permutation), one every 1.5 s: every full one-day window holds exactly 57,600 of them."""
import os
import subprocess
import threading
import time
import unittest

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cli_harness import SALVO, CliTestCase

N = int(os.environ.get("SALVO_WINDOWS_MEMORY_EVENTS", 24_000_000))
BUDGET = 64 << 20
T0 = 1_600_000_000 * 10**6
SLOT = 1_500_000  # microseconds between the whale's events
DAY = 86400 * 10**6


def write_events(path, chunk=2_000_000):
    schema = pa.schema([("customer", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("amount", pa.float64()),
                        ("kind", pa.string())])
    kinds = pa.array(["call", "sms", "data", "roam"])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, N, chunk):
            i = np.arange(start, min(N, start + chunk), dtype=np.int64)
            slot = (i * 7919) % N
            writer.write_table(pa.table({
                "customer": pa.array(["whale"] * len(i)),
                "ts": pa.array(T0 + slot * SLOT, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                "amount": pa.array((i % 1000).astype(np.float64) / 10),
                "kind": kinds.take(pa.array(i % 4)),
            }, schema=schema), row_group_size=65536)
        # A few small groups around it.
        writer.write_table(pa.table({
            "customer": pa.array(["minnow-a", "minnow-b", "minnow-b"]),
            "ts": pa.array([T0, T0 + 5, T0 + DAY], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "amount": pa.array([1.0, 2.0, 3.0]),
            "kind": pa.array(["sms", "sms", "call"]),
        }, schema=schema))


def run_with_peak_rss(argv):
    """Runs argv; returns (exit code, stderr, peak resident bytes). The peak is the kernel's high-water
    mark of the process (VmHWM in /proc/<pid>/status), read every 10 ms until it exits: getrusage's
    ru_maxrss would not do, since a child forked from this large Python process starts with its size."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hwm = [0]

    def poll():
        while proc.poll() is None:
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
    _, stderr = proc.communicate()
    watcher.join()
    return proc.returncode, stderr, hwm[0]


class TestWindowsMemory(CliTestCase):
    def test_a_group_larger_than_memory(self):
        events = self.path("whale.parquet")
        write_events(events)
        self.assertGreater(os.path.getsize(events), 3 * BUDGET, "the compressed input alone is larger than the budget")
        spill = self.path("spill")
        os.mkdir(spill)
        out = self.path("out.parquet")
        rc, stderr, peak = run_with_peak_rss([
            SALVO, "windows", "--input", events, "--output", out, "--group-by", "customer", "--time-column", "ts",
            "--window", "1d", "--step", "6h", "--features", "count(*), sum(amount), distinct(kind), max(amount)",
            "--label", "count(*) over next 1d", "--memory", "64M", "--temp-dir", spill])
        self.assertEqual(rc, 0, stderr)
        print(f"\n{stderr.strip()}\npeak resident memory {peak / 2**20:.1f} MiB, budget {BUDGET / 2**20:.0f} MiB")
        self.assertRegex(stderr, r"sorted in \d+ runs")
        # The binary and its libraries take about 15 MiB before any work; the budget comes on top.
        self.assertGreater(peak, BUDGET / 2, "the budget is used")
        self.assertLess(peak, BUDGET * 1.25 + (32 << 20), "peak resident memory stays near the budget")
        self.assertEqual(os.listdir(spill), [], "spill files are gone")

        table = pq.read_table(out)
        whale = table.filter(pc.equal(table["customer"], "whale"))
        counts = whale["count"].to_numpy()
        starts = pc.cast(whale["window_start"], pa.int64()).to_numpy()
        first, last = T0, T0 + (N - 1) * SLOT
        full = (starts >= first) & (starts + DAY <= last)
        self.assertGreater(full.sum(), 100)
        self.assertTrue((counts[full] == DAY // SLOT).all(), "every full window holds 57,600 events")
        self.assertEqual(int(counts.sum()), 4 * N, "each event is in four windows (1d every 6h)")
        labels = whale["label"].to_numpy()
        self.assertTrue((labels[full & (starts + 2 * DAY <= last)] == DAY // SLOT).all())
        self.assertTrue((whale["distinct_kind"].to_numpy()[full] == 4).all())
        step = 6 * 3600 * 10**6

        def windows(first, last):  # windows of 1d every 6h from the one holding `first` to the last starting by `last`
            return last // step - ((first - DAY) // step + 1) + 1

        self.assertEqual(table.num_rows - whale.num_rows, windows(T0, T0) + windows(T0 + 5, T0 + DAY))


if __name__ == "__main__":
    unittest.main()
