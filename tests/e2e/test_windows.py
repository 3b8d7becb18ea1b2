"""salvo windows against a plain pandas implementation (windows_reference.py) on random event
histories with gaps, ties, out-of-order events, empty windows, single-event groups, nulls and
several groups; and its inputs, outputs, bad rows and usage errors."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(__file__))
from cli_harness import REPO, CliTestCase, run_salvo  # noqa: E402
from windows_reference import duration, same, windows  # noqa: E402

DAY = 86400 * 10**6
T0 = 1_700_000_000 * 10**6  # 2023-11-14, in microseconds

ALL_FEATURES = ("count(*), count(amount), sum(amount), sum(qty), mean(amount), avg(qty), min(amount), max(qty), "
                "min(kind), max(kind), first(kind), last(kind), first(amount), last(qty), distinct(kind), "
                "distinct(qty), stddev(amount), any(flag), sum(flag), any(*) as any_event, max(flag)")


def feature_list(spec):
    """[(name, function, column)] as salvo names them."""
    out = []
    for item in spec.split(", "):
        m = re.fullmatch(r"(\w+)\((\*|\w+)\)(?: as (\w+))?", item.strip())
        func, column, alias = m.group(1), m.group(2), m.group(3)
        column = None if column == "*" else column
        name = alias or (func if column is None else f"{func}_{column}")
        out.append((name, {"avg": "mean"}.get(func, func), column))
    return out


def make_events(seed, groups=25, max_events=120, null_times=True):
    """Events of several customers, shuffled (so out of order), with ties, gaps of days to weeks,
    single-event groups, a null customer, and nulls in every value column."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        customer = None if g == groups - 1 else f"cust-{g:03d}"
        n = 1 if g % 9 == 4 else int(rng.integers(2, max_events))
        t = T0 + int(rng.integers(-10 * DAY, 10 * DAY))
        for _ in range(n):
            r = rng.random()
            t += 0 if r < 0.15 else int(rng.integers(1, 6 * 3600 * 10**6)) if r < 0.9 else int(rng.integers(2 * DAY, 20 * DAY))
            rows.append({
                "customer": customer,
                "ts": t,
                "amount": None if rng.random() < 0.15 else float(np.round(rng.normal(50, 30), 2)),
                "qty": None if rng.random() < 0.15 else int(rng.integers(-5, 40)),
                "kind": None if rng.random() < 0.15 else str(rng.choice(["call", "sms", "data", "roam", "Ökö"])),
                "flag": None if rng.random() < 0.2 else bool(rng.random() < 0.3),
            })
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if null_times:
        df.loc[df.index[::97], "ts"] = None
    return df


def arrow_table(df, time_type=pa.timestamp("us", tz="UTC"), key_type=pa.string()):
    ts = pa.array([None if pd.isna(v) else int(v) for v in df["ts"]], pa.int64())
    if pa.types.is_timestamp(time_type):
        ts = ts.cast(pa.timestamp("us", tz="UTC")).cast(time_type)
    return pa.table({
        "customer": pa.array([None if pd.isna(v) else v for v in df["customer"]], key_type),
        "ts": ts,
        "amount": pa.array([None if pd.isna(v) else v for v in df["amount"]], pa.float64()),
        "qty": pa.array([None if pd.isna(v) else int(v) for v in df["qty"]], pa.int64()),
        "kind": pa.array([None if pd.isna(v) else v for v in df["kind"]], pa.string()),
        "flag": pa.array([None if pd.isna(v) else bool(v) for v in df["flag"]], pa.bool_()),
    })


def read_parquet_rows(path):
    table = pq.read_table(path)
    columns = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_timestamp(col.type):
            col = pc.cast(col, pa.int64())
        columns[name] = col.to_pylist()
    return [dict(zip(columns, values)) for values in zip(*columns.values())], table.schema


def to_python(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return v.item() if isinstance(v, np.generic) else v


class WindowsTestCase(CliTestCase):
    def run_windows(self, *args, check=True):
        return run_salvo("windows", *args, check=check)

    def assert_rows(self, got, want, names):
        self.assertEqual(len(got), len(want), "number of windows")
        for i, (g, w) in enumerate(zip(got, want)):
            for name in names:
                self.assertTrue(same(to_python(g.get(name)), to_python(w.get(name))),
                                f"row {i} column {name}: salvo {g.get(name)!r}, pandas {w.get(name)!r}\n"
                                f"salvo {g}\npandas {w}")

    def check_against_pandas(self, df, input_path, window="3d", step="1d", origin=None, origin_micros=0,
                             features=ALL_FEATURES, label=None, skip_empty=False, extra=(), output=None):
        output = output or self.path("out.parquet")
        args = ["--input", input_path, "--output", output, "--group-by", "customer", "--time-column", "ts",
                "--window", window, "--step", step, "--features", features, *extra]
        if origin:
            args += ["--origin", origin]
        if label:
            args += ["--label", label]
        if skip_empty:
            args.append("--skip-empty")
        proc = self.run_windows(*args)
        got, _ = read_parquet_rows(output)
        feats = feature_list(features)
        label_spec, horizon = None, 0
        if label:
            m = re.fullmatch(r"(\w+)\((\*|\w+)\) over next (\w+)", label)
            label_spec = (m.group(1), None if m.group(2) == "*" else m.group(2))
            horizon = duration(m.group(3))
        want = windows(df, "customer", "ts", duration(window), duration(step), feats, origin=origin_micros,
                       label=label_spec, horizon=horizon, skip_empty=skip_empty)
        names = ["customer", "window_start", "window_end"] + [f[0] for f in feats] + (["label"] if label else [])
        self.assert_rows(got, want, names)
        return proc, got


class TestWindowsAgainstPandas(WindowsTestCase):
    def test_sliding_windows_every_aggregate_and_a_label(self):
        for seed in (1, 2, 3):
            with self.subTest(seed=seed):
                df = make_events(seed)
                path = self.path(f"events{seed}.parquet")
                pq.write_table(arrow_table(df), path, row_group_size=500)
                proc, got = self.check_against_pandas(df, path, label="max(qty) over next 2d")
                self.assertGreater(len(got), 300)
                self.assertTrue(any(r["count"] == 0 for r in got), "some windows are empty")
                bad = int(df["ts"].isna().sum())
                self.assertIn(f"{len(df)} rows ({bad} bad", proc.stderr)

    def test_spilled_sort_gives_the_same_windows(self):
        df = make_events(4, groups=60, max_events=3000)
        path = self.path("events.parquet")
        pq.write_table(arrow_table(df), path, row_group_size=20000)
        features = "count(*), sum(amount), last(kind), distinct(kind), stddev(amount)"
        proc, _ = self.check_against_pandas(df, path, window="20d", step="10d", features=features,
                                            label="count(*) over next 10d", extra=["--memory", "1M",
                                                                                   "--temp-dir", self.tmp])
        self.assertRegex(proc.stderr, r"sorted in \d+ runs")
        self.assertEqual(os.listdir(self.tmp), ["events.parquet", "out.parquet"], "no spill file is left behind")

    def test_tumbling_hopping_with_gaps_origins_and_skip_empty(self):
        df = make_events(5)
        path = self.path("events.parquet")
        pq.write_table(arrow_table(df), path)
        features = "count(*), sum(qty), first(kind), last(amount)"
        cases = [
            dict(window="1d", step="1d"),
            dict(window="1d", step="3d"),  # windows with gaps between them
            dict(window="2d", step="1d", origin="6h", origin_micros=6 * 3600 * 10**6),
            dict(window="7d", step="2d", origin="2023-11-02T09:30:00Z", origin_micros=(1698917400 * 10**6) % (2 * DAY)),
            dict(window="36h", step="12h", skip_empty=True),
            dict(window="1d", step="3d", skip_empty=True, label="count(*) over next 5d"),
        ]
        for case in cases:
            with self.subTest(**case):
                self.check_against_pandas(df, path, features=features, **case)

    def test_integer_keys_epoch_millis_and_output_order(self):
        df = make_events(6, groups=15)
        df["customer"] = [None if pd.isna(c) else int(c[5:]) * 7 - 40 for c in df["customer"]]
        df_ms = df.copy()
        table = arrow_table(df, time_type=pa.int64(), key_type=pa.int64())
        table = table.set_column(1, "ts", pc.divide(table["ts"], 1000))
        df["ts"] = [None if pd.isna(v) else (int(v) // 1000) * 1000 for v in df_ms["ts"]]
        path = self.path("events.parquet")
        pq.write_table(table, path)
        _, got = self.check_against_pandas(df, path, features="count(*), max(amount)", extra=["--time-unit", "ms"])
        keys = [r["customer"] for r in got]
        nulls = keys.count(None)
        self.assertGreater(nulls, 0)
        self.assertEqual(keys[:nulls], [None] * nulls, "the null group sorts first")
        self.assertEqual(keys[nulls:], sorted(keys[nulls:]), "then groups in ascending order")
        schema = pq.read_schema(self.path("out.parquet"))
        self.assertEqual(schema.field("customer").type, pa.int64())
        self.assertEqual(schema.field("window_start").type, pa.timestamp("us", tz="UTC"))

    def test_date_nanosecond_and_int96_time_columns(self):
        df = make_events(7, null_times=False)
        for name, time_type, extra in [("ns", pa.timestamp("ns"), {}), ("ms", pa.timestamp("ms", tz="UTC"), {}),
                                        ("int96", pa.timestamp("ns"), {"use_deprecated_int96_timestamps": True})]:
            with self.subTest(time=name):
                cut = df.copy()
                if name == "ms":
                    cut["ts"] = (cut["ts"] // 1000) * 1000
                path = self.path(f"events-{name}.parquet")
                pq.write_table(arrow_table(cut, time_type=time_type), path, **extra)
                self.check_against_pandas(cut, path, features="count(*), last(kind)")
        dates = df.copy()
        dates["ts"] = (dates["ts"] // DAY) * DAY
        table = arrow_table(dates).set_column(1, "ts", pc.cast(arrow_table(dates)["ts"], pa.date32()))
        path = self.path("events-date.parquet")
        pq.write_table(table, path)
        self.check_against_pandas(dates, path, window="7d", step="1d", features="count(*), distinct(kind)")

    def test_decimal_value_columns(self):
        # DECIMAL amounts (Spark's decimal(p, s)) are read as doubles, from every physical layout.
        import decimal
        df = make_events(12, null_times=False)
        amounts = [None if pd.isna(v) else decimal.Decimal(f"{v:.2f}") for v in df["amount"]]
        for name, dtype, extra in [("fixed", pa.decimal128(12, 2), {}),
                                   ("int64", pa.decimal128(12, 2), {"store_decimal_as_integer": True}),
                                   ("int32", pa.decimal128(7, 2), {"store_decimal_as_integer": True})]:
            with self.subTest(layout=name):
                table = arrow_table(df)
                table = table.set_column(2, "amount", pa.array(amounts, dtype))
                path = self.path(f"events-decimal-{name}.parquet")
                pq.write_table(table, path, **extra)
                self.check_against_pandas(df, path, features="count(amount), sum(amount), mean(amount), max(amount)")


class TestWindowsInputs(WindowsTestCase):
    def test_csv_and_jsonl_inputs(self):
        df = make_events(8)
        iso = [None if pd.isna(t) else pd.Timestamp(int(t), unit="us", tz="UTC").isoformat() for t in df["ts"]]
        text = df.assign(ts=iso)
        csv_path = self.path("events.csv")
        text.assign(qty=text["qty"].astype("Int64"), flag=text["flag"].map({True: "true", False: "false"})).to_csv(
            csv_path, index=False)
        jsonl_path = self.path("events.jsonl")
        with open(jsonl_path, "w", encoding="utf-8") as f:
            for row in text.to_dict("records"):
                f.write(json.dumps({k: to_python(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
        features = "count(*), sum(amount), sum(qty), max(kind), last(flag), distinct(kind)"
        for path in (csv_path, jsonl_path):
            with self.subTest(path=os.path.basename(path)):
                self.check_against_pandas(df, path, features=features, label="count(*) over next 1d")

    def test_declared_sorted_input_is_verified(self):
        df = make_events(9, null_times=False)
        ordered = df.assign(_null=df["customer"].isna()).sort_values(["_null", "customer", "ts"], ascending=[False, True, True],
                                                                      kind="stable").drop(columns="_null")
        sorted_path = self.path("sorted.parquet")
        pq.write_table(arrow_table(ordered), sorted_path)
        proc, _ = self.check_against_pandas(ordered, sorted_path, features="count(*), first(kind)", extra=["--sorted"])
        self.assertIn("input order verified", proc.stderr)
        shuffled_path = self.path("shuffled.parquet")
        pq.write_table(arrow_table(df), shuffled_path)
        proc = self.run_windows("--input", shuffled_path, "--output", self.path("x.parquet"), "--group-by", "customer",
                                "--time-column", "ts", "--window", "1d", "--features", "count(*)", "--sorted",
                                check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertRegex(proc.stderr, r"not ordered by \(customer, ts\): row \d+ \(customer=")
        self.assertFalse(os.path.exists(self.path("x.parquet")), "no output is left behind")


class TestWindowsOutputs(WindowsTestCase):
    def test_every_output_format_holds_the_same_rows(self):
        df = make_events(10, groups=8)
        path = self.path("events.parquet")
        pq.write_table(arrow_table(df), path)
        args = ["--input", path, "--group-by", "customer", "--time-column", "ts", "--window", "2d", "--step", "1d",
                "--features", "count(*), sum(amount), last(kind)", "--label", "any(*) over next 1d"]
        self.run_windows(*args, "--output", self.path("out.parquet"))
        want, schema = read_parquet_rows(self.path("out.parquet"))
        self.assertEqual(schema.field("window_end").type, pa.timestamp("us", tz="UTC"))
        self.assertEqual(schema.field("label").type, pa.bool_())
        import duckdb  # an independent Parquet reader sees timestamps too
        types = {row[0]: row[1] for row in
                 duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{self.path('out.parquet')}')").fetchall()}
        self.assertEqual(types["window_start"], "TIMESTAMP WITH TIME ZONE")
        first = duckdb.sql(f"SELECT epoch_us(window_start) FROM read_parquet('{self.path('out.parquet')}') LIMIT 1")
        self.assertEqual(first.fetchall()[0][0], want[0]["window_start"])
        self.run_windows(*args, "--output", self.path("folder") + "/")
        self.assertTrue(os.path.exists(self.path("folder/_SUCCESS")))
        self.assertEqual(read_parquet_rows(self.path("folder"))[0], want)
        self.run_windows(*args, "--output", self.path("out.jsonl"))
        with open(self.path("out.jsonl"), encoding="utf-8") as f:
            got = [json.loads(line) for line in f]
        self.assert_rows(got, want, schema.names)
        self.run_windows(*args, "--output", self.path("out.csv"))
        frame = pd.read_csv(self.path("out.csv"), keep_default_na=False, na_values=[""])
        self.assertEqual(list(frame.columns), schema.names)
        self.assertEqual(len(frame), len(want))
        self.assertEqual(frame["window_start"].tolist(), [r["window_start"] for r in want])
        self.run_windows(*args, "--output", self.path("out.tfrecord"))
        self.assertGreater(os.path.getsize(self.path("out.tfrecord")), 0)


    def test_csv_tells_a_null_key_from_an_empty_one(self):
        # Regression: an empty string and a null were both written as an empty CSV cell, and both
        # read as null. As Spark writes CSV, "" is the empty string and an empty cell a null.
        path = self.path("events.csv")
        with open(path, "w") as f:
            f.write('customer,ts,amount\na,1,1.0\n,2,2.0\n"",3,3.0\n"",4,4.0\n')
        args = ("--input", path, "--group-by", "customer", "--time-column", "ts", "--time-unit", "s",
                "--window", "1d", "--features", "count(*), sum(amount)")
        self.run_windows(*args, "--output", self.path("out.jsonl"))
        with open(self.path("out.jsonl")) as f:
            got = sorted(((r.get("customer"), r["count"]) for r in map(json.loads, f)), key=repr)
        self.assertEqual(got, [("", 2), ("a", 1), (None, 1)])
        self.run_windows(*args, "--output", self.path("out.csv"))
        import duckdb
        rows = duckdb.sql(f"SELECT customer, count FROM read_csv('{self.path('out.csv')}', allow_quoted_nulls=false) "
                          "ORDER BY count, customer NULLS FIRST").fetchall()
        self.assertEqual(rows, [(None, 1), ("a", 1), ("", 2)])


class TestWindowsBadInput(WindowsTestCase):
    def test_bad_rows_are_counted_and_written(self):
        lines = ["customer,ts,amount",
                 "a,2024-01-01T00:00:00Z,1.5",
                 "a,,2.0",                      # null time
                 "a,yesterday,3.0",            # unreadable time
                 "b,2024-01-02T10:00:00Z,oops",  # not a float
                 "b,2024-01-02T11:00:00+01:00,4.0",
                 'b,"unterminated']
        path = self.path("events.csv")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        proc = self.run_windows("--input", path, "--output", self.path("out.jsonl"), "--group-by", "customer",
                                "--time-column", "ts", "--window", "1d", "--features", "count(*), sum(amount)",
                                "--column-types", "amount=float64", "--errors-output", self.path("errors.jsonl"))
        self.assertIn("6 rows (4 bad, see", proc.stderr)
        with open(self.path("errors.jsonl")) as f:
            errors = [json.loads(line) for line in f]
        self.assertEqual([e["row"] for e in errors], [2, 3, 4, 6])
        self.assertIn("line 3: the time is null", errors[0]["error"])
        self.assertIn("\"yesterday\" is not an ISO 8601 timestamp", errors[1]["error"])
        self.assertIn("column \"amount\": \"oops\" is not a float64", errors[2]["error"])
        self.assertIn("line 7", errors[3]["error"])
        with open(self.path("out.jsonl")) as f:
            out = [json.loads(line) for line in f]
        self.assertEqual([(r["customer"], r["count"], r["sum_amount"]) for r in out], [("a", 1, 1.5), ("b", 1, 4.0)])

    def test_csv_text_that_is_not_utf8_is_a_bad_row_in_any_column(self):
        # Only the group column was checked: bytes that are not UTF-8 in another column reached the
        # output (and a Parquet STRING column) as they were.
        path = self.path("events.csv")
        with open(path, "wb") as f:
            f.write(b"customer,ts,kind\na,1,ok\na,2,\xff\n\xfe,3,ok\na,4,fine\n")
        proc = self.run_windows("--input", path, "--output", self.path("out.parquet"), "--group-by", "customer",
                                "--time-column", "ts", "--time-unit", "s", "--window", "1d", "--features",
                                "count(*), distinct(kind)", "--errors-output", self.path("errors.jsonl"))
        self.assertIn("4 rows (2 bad, see", proc.stderr)
        with open(self.path("errors.jsonl")) as f:
            errors = [json.loads(line)["error"] for line in f]
        self.assertEqual(errors, ['line 3: column "kind" is not valid UTF-8 (byte 0)',
                                  'line 4: column "customer" is not valid UTF-8 (byte 0)'])
        self.assertEqual(pq.read_table(self.path("out.parquet")).column("count").to_pylist(), [2])

    def test_stddev_of_infinite_values_is_nan_as_in_pandas(self):
        # Regression: inf - inf inside the running moments came out as a stddev of 0.0 ([inf, inf])
        # or inf ([inf, 2.0]), where pandas and Spark give NaN.
        inf = float("inf")
        path = self.path("inf.parquet")
        pq.write_table(pa.table({"g": ["a", "a", "b", "b", "c", "c"], "t": pa.array([0, 1, 0, 1, 0, 1], pa.int64()),
                                 "x": [inf, inf, inf, 2.0, 1.0, 3.0]}), path)
        self.run_windows("--input", path, "--output", self.path("out.parquet"), "--group-by", "g", "--time-column",
                         "t", "--time-unit", "us", "--window", "1d", "--features", "stddev(x), mean(x)")
        got = pq.read_table(self.path("out.parquet")).to_pandas().set_index("g")
        want = pd.DataFrame({"g": ["a", "a", "b", "b", "c", "c"], "x": [inf, inf, inf, 2.0, 1.0, 3.0]}).groupby("g").x
        for g in "abc":
            with self.subTest(g=g):
                self.assertTrue(same(got.loc[g, "stddev_x"], want.std()[g]), (got.loc[g, "stddev_x"], want.std()[g]))
                self.assertTrue(same(got.loc[g, "mean_x"], want.mean()[g]))

    def test_a_signal_stops_the_job_and_removes_its_temporary_file(self):
        # Regression: windows installed no handler, so SIGTERM or SIGINT killed it where it stood,
        # leaving its temporary output (here, 50 years of 1-second windows) behind.
        path = self.path("far.parquet")
        pq.write_table(pa.table({"g": ["a", "a"], "t": pa.array([0, 50 * 365 * DAY], pa.int64())}), path)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                proc = subprocess.Popen([os.environ.get("SALVO_BIN", "salvo"), "windows", "--input", path, "--output",
                                         self.path("out.parquet"), "--group-by", "g", "--time-column", "t",
                                         "--time-unit", "us", "--window", "1s", "--features", "count(*)"],
                                        stderr=subprocess.PIPE, text=True)
                deadline = time.time() + 300  # wait until it writes, then stop it
                while time.time() < deadline and proc.poll() is None:
                    if any(n.endswith(".partial") for n in os.listdir(self.tmp)):
                        break
                    time.sleep(0.05)
                proc.send_signal(sig)
                _, err = proc.communicate(timeout=120)
                self.assertEqual(proc.returncode, 130, err)
                self.assertIn("salvo: cancelled: stopped by a signal", err.strip().splitlines()[-1])
                self.assertEqual(os.listdir(self.tmp), ["far.parquet"])
                # Before the flood, a warning (the job would write 1.6 billion windows).
                self.assertIn("windows, most of them empty, come before g=\"a\"", err)
                self.assertIn("--skip-empty writes only windows that hold events", err)

    def test_empty_input_gives_an_empty_table_with_the_schema(self):
        path = self.path("empty.csv")
        with open(path, "w") as f:
            f.write("customer,ts,amount\n")
        proc = self.run_windows("--input", path, "--output", self.path("out.parquet"), "--group-by", "customer",
                                "--time-column", "ts", "--window", "1d", "--features", "count(*), sum(amount)")
        self.assertIn("0 rows, 0 groups, 0 windows", proc.stderr)
        table = pq.read_table(self.path("out.parquet"))
        self.assertEqual(table.num_rows, 0)
        self.assertEqual(table.schema.field("sum_amount").type, pa.float64())

    def test_an_input_without_rows_and_a_time_unit_gives_an_empty_table(self):
        # Regression: a header-only CSV, or an empty JSONL file, with --time-unit was a usage error
        # ("--time-unit applies to numeric time columns, and "t" is string"): a daily job failed on
        # a day without events.
        for name, text in (("header.csv", "g,t,x\n"), ("empty.jsonl", "")):
            with self.subTest(input=name):
                path = self.path(name)
                with open(path, "w") as f:
                    f.write(text)
                proc = self.run_windows("--input", path, "--output", self.path("e.parquet"), "--group-by", "g",
                                        "--time-column", "t", "--time-unit", "s", "--window", "100s", "--features",
                                        "count(*)")
                self.assertIn("0 rows, 0 groups, 0 windows", proc.stderr)
                self.assertEqual(pq.read_table(self.path("e.parquet")).num_rows, 0)

    def test_the_output_is_never_the_input(self):
        # Regression: --output naming the input (by any path) replaced it with the windows.
        events = self.path("ev.jsonl")
        original = '{"g": 1, "t": 1}\n{"g": 1, "t": 2}\n'
        with open(events, "w") as f:
            f.write(original)
        same = os.path.join(os.path.dirname(events), ".", os.path.basename(events))
        for flag in ("--output", "--errors-output"):
            with self.subTest(flag=flag):
                args = {"--output": self.path("o.jsonl"), flag: same}
                proc = self.run_windows("--input", events, *[a for kv in args.items() for a in kv], "--group-by", "g",
                                        "--time-column", "t", "--time-unit", "s", "--window", "10s", "--features",
                                        "count(*)", check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("is the input", proc.stderr)
                with open(events) as f:
                    self.assertEqual(f.read(), original)

    def test_parquet_text_that_is_not_utf8_makes_error_rows(self):
        # Regression: a STRING value with invalid bytes (writers do not check) went to the output as
        # it was: DuckDB and pyarrow refused the Parquet output, JSONL turned the bytes to U+FFFD.
        path = self.path("bad-text.parquet")
        keys = pa.array([b"\xff", b"ok", b"\xc3"], pa.binary()).view(pa.string())
        pq.write_table(pa.table({"g": keys, "t": pa.array([1, 2, 3], pa.timestamp("s"))}), path)
        proc = self.run_windows("--input", path, "--output", self.path("o.parquet"), "--errors-output",
                                self.path("err.jsonl"), "--group-by", "g", "--time-column", "t", "--window", "100s",
                                "--features", "count(*)")
        self.assertIn("3 rows (2 bad", proc.stderr)
        self.assertEqual(pq.read_table(self.path("o.parquet")).column("g").to_pylist(), ["ok"])
        with open(self.path("err.jsonl")) as f:
            errors = [json.loads(line) for line in f]
        self.assertEqual([e["row"] for e in errors], [1, 3])
        self.assertIn('column "g" is not valid UTF-8', errors[0]["error"])

    def test_errors_in_a_folder_of_parquet_files_name_the_file_and_its_row(self):
        # They gave the row's position across the whole folder ("row 7"), which no file has.
        folder = self.path("parts")
        os.makedirs(folder)
        pq.write_table(pa.table({"g": ["a", "b", "c"], "t": pa.array([1, 2, 3], pa.timestamp("s"))}),
                       os.path.join(folder, "part-0.parquet"))
        keys = pa.array([b"d", b"e", b"\xff", b"f"], pa.binary()).view(pa.string())
        pq.write_table(pa.table({"g": keys, "t": pa.array([4, 5, 6, None], pa.timestamp("s"))}),
                       os.path.join(folder, "part-1.parquet"), row_group_size=2)
        proc = self.run_windows("--input", folder, "--output", self.path("o.jsonl"), "--errors-output",
                                self.path("err.jsonl"), "--group-by", "g", "--time-column", "t", "--window", "100s",
                                "--features", "count(*)")
        self.assertIn("7 rows (2 bad", proc.stderr)
        with open(self.path("err.jsonl")) as f:
            errors = [json.loads(line) for line in f]
        self.assertEqual([e["row"] for e in errors], [6, 7])
        part = os.path.join(folder, "part-1.parquet")
        self.assertTrue(errors[0]["error"].startswith(part + ' row 3: column "g" is not valid UTF-8'), errors[0])
        self.assertTrue(errors[1]["error"].startswith(part + " row 4: "), errors[1])

    def test_uint64_columns_are_exact_or_refused(self):
        # Regression: UINT64 values were read as int64: 2^63 + 5 became a negative key, sums and
        # maxima wrapped, with exit 0.
        path = self.path("unsigned.parquet")
        table = pa.table({"g": pa.array([5, 5, 7], pa.uint64()), "t": pa.array([0, 1, 2], pa.timestamp("s")),
                          "u": pa.array([3, 2**62, 0], pa.uint64())})
        pq.write_table(table, path)
        self.run_windows("--input", path, "--output", self.path("u.jsonl"), "--group-by", "g", "--time-column", "t",
                         "--window", "10s", "--features", "sum(u),max(u)")
        with open(self.path("u.jsonl")) as f:
            rows = [json.loads(line) for line in f]
        self.assertEqual([(r["g"], r["sum_u"], r["max_u"]) for r in rows], [(5, 2**62 + 3, 2**62), (7, 0, 0)])
        pq.write_table(table.set_column(0, "g", pa.array([5, 2**63 + 5, 7], pa.uint64())), path)
        proc = self.run_windows("--input", path, "--output", self.path("u.jsonl"), "--group-by", "g", "--time-column",
                                "t", "--window", "10s", "--features", "count(*)", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('column "g" (UINT64) holds 9223372036854775813, past the int64 range', proc.stderr)

    def test_usage_errors_are_one_line_naming_the_problem(self):
        df = make_events(11, groups=3)
        path = self.path("events.parquet")
        table = arrow_table(df)
        pq.write_table(table.append_column("epoch", pc.cast(table["ts"], pa.int64())), path)
        base = ["--input", path, "--output", self.path("out.parquet"), "--group-by", "customer", "--time-column", "ts",
                "--window", "1d"]
        cases = [
            (["--features", "count(*), sum(nosuch)"], "no column named \"nosuch\""),
            (["--features", "sum(kind)"], "sum(kind)\": column \"kind\" is string, and sum needs numbers"),
            (["--features", "median(amount)"], "unknown aggregate \"median\""),
            (["--features", "sum(amount"], "expected \")\""),
            (["--features", "count(*)", "--label", "max(qty) within 3d"], "--label"),
            (["--features", "count(*)", "--step", "1 day"], "--step"),
            (["--features", "count(*)", "--memory", "lots"], "--memory"),
            (["--features", "count(*) as window_start"], "two columns named \"window_start\""),
            (["--features", "any(qty)"], "needs a boolean column"),
        ]
        for extra, message in cases:
            with self.subTest(extra=extra):
                proc = self.run_windows(*base, *extra, check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
                self.assertIn(message, proc.stderr)
        proc = self.run_windows("--input", path, "--output", self.path("o.parquet"), "--group-by", "customer",
                                "--time-column", "epoch", "--window", "1d", "--features", "count(*)", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--time-unit", proc.stderr)
        proc = self.run_windows("--input", self.path("missing.parquet"), "--output", self.path("o.parquet"),
                                "--group-by", "customer", "--time-column", "ts", "--window", "1d", "--features",
                                "count(*)", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        # A struct column was "no column named"; a type named twice took the last one silently.
        nested = self.path("nested.parquet")
        pq.write_table(pa.table({"st": pa.array([{"a": 1}], pa.struct([("a", pa.int64())])), "t": [1]}), nested)
        proc = self.run_windows("--input", nested, "--output", self.path("o.parquet"), "--group-by", "st",
                                "--time-column", "t", "--time-unit", "s", "--window", "1d", "--features", "count(*)",
                                check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn('column "st" is a struct (its fields are columns of their own: st.a), which salvo cannot read',
                      proc.stderr)
        with open(self.path("e.csv"), "w") as f:
            f.write("g,t\n3000000000,1\nx,nan\n")
        proc = self.run_windows("--input", self.path("e.csv"), "--output", self.path("o.jsonl"), "--group-by", "g",
                                "--time-column", "t", "--time-unit", "s", "--window", "1d", "--features", "count(*)",
                                "--column-types", "g=int32,g=string", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn('--column-types names "g" twice', proc.stderr)
        proc = self.run_windows("--input", self.path("e.csv"), "--output", self.path("o.jsonl"), "--group-by", "g",
                                "--time-column", "t", "--time-unit", "s", "--window", "1d", "--features", "count(*)",
                                "--column-types", "g=int32,t=float64", "--errors-output", self.path("err.jsonl"))
        with open(self.path("err.jsonl")) as f:
            errors = [json.loads(line)["error"] for line in f]
        self.assertEqual(errors, ['line 2: column "g": "3000000000" is not an int32',
                                  'line 3: column "g": "x" is not an int32'])
        proc = self.run_windows("--input", self.path("e.csv"), "--output", self.path("o.jsonl"), "--group-by", "g",
                                "--time-column", "t", "--time-unit", "s", "--window", "1d", "--features", "count(*)",
                                "--column-types", "t=float64", "--errors-output", self.path("err.jsonl"))
        with open(self.path("err.jsonl")) as f:
            self.assertEqual([json.loads(line)["error"] for line in f], ["line 3: the time is NaN"])


class TestDebianChangelogs(WindowsTestCase):
    """The example's real event history: uploads of the Debian packages installed here."""

    def test_example_matches_pandas(self):
        events = self.path("uploads.parquet")
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "python", "debian_changelog_events.py"),
                        "--output", events], check=True, capture_output=True)
        table = pq.read_table(events)
        self.assertGreater(table.num_rows, 100)
        features = "count(*) as uploads, sum(bugs_closed), distinct(maintainer), last(version), max(urgency)"
        out = self.path("windows.parquet")
        self.run_windows("--input", events, "--output", out, "--group-by", "package", "--time-column", "time",
                         "--window", "90d", "--step", "30d", "--features", features,
                         "--label", "any(*) over next 180d", "--skip-empty")
        got, _ = read_parquet_rows(out)
        df = table.to_pandas()
        df["time"] = [None if t is None else t for t in pc.cast(table["time"], pa.int64()).to_pylist()]
        df = df.rename(columns={"package": "customer", "time": "ts"})
        feats = [("uploads", "count", None), ("sum_bugs_closed", "sum", "bugs_closed"),
                 ("distinct_maintainer", "distinct", "maintainer"), ("last_version", "last", "version"),
                 ("max_urgency", "max", "urgency")]
        want = windows(df, "customer", "ts", 90 * DAY, 30 * DAY, feats, label=("any", None), horizon=180 * DAY,
                       skip_empty=True)
        for r in want:
            r["package"] = r.pop("customer")
        self.assert_rows(got, want, ["package", "window_start", "window_end"] + [f[0] for f in feats] + ["label"])


if __name__ == "__main__":
    unittest.main()
