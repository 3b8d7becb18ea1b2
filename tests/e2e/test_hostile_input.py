"""Hostile input: nothing crashes, nothing is lost, every failure is one clear line.

Regression tests for what a hostile-input probe found (docs/reliability.md, "Hostile input"). Runs
with the tests' virtual environment (SALVO_PYTHON): pyarrow writes and reads Parquet.
"""
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import unittest

import pyarrow as pa
import pyarrow.parquet as pq

from cli_harness import EXAMPLE_MODEL, CliTestCase, make_random_model, read_jsonl, run_salvo, sanitized, write_jsonl

DEEP = 100000  # 200 KB of brackets: deep enough to overflow any recursive parser or printer


def deep_array(n):
    return b"[" * n + b"]" * n


def one_line(test, proc):
    lines = proc.stderr.strip().splitlines()
    test.assertEqual(len(lines), 1, proc.stderr)
    return lines[0]


# --- TFRecord written by hand (framing and tf.train.Example), so any bytes can go in ---

def _crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def _masked(data):
    c = _crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_tfrecord(path, rows):
    """rows: dicts of feature name -> bytes (one bytes_list value each)."""
    with open(path, "wb") as f:
        for row in rows:
            entries = b"".join(_field(1, _field(1, k.encode()) + _field(2, _field(1, _field(1, v))))
                               for k, v in row.items())
            record = _field(1, entries)
            length = struct.pack("<Q", len(record))
            f.write(length + struct.pack("<I", _masked(length)) + record + struct.pack("<I", _masked(record)))


def parquet_with_raw_strings(path, columns):
    """A Parquet file whose STRING columns hold the given bytes unvalidated (e.g. invalid UTF-8)."""
    arrays = {}
    for name, values in columns.items():
        offsets = [0]
        for v in values:
            offsets.append(offsets[-1] + len(v))
        arrays[name] = pa.Array.from_buffers(pa.string(), len(values),
                                             [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)),
                                              pa.py_buffer(b"".join(values))])
    pq.write_table(pa.table(arrays), path)


class DeepNestingTest(CliTestCase):
    def test_deep_id_and_kept_column_are_error_rows(self):
        # The probe's file: a deep id killed the job with SIGSEGV.
        inp = self.path("deep.jsonl")
        with open(inp, "wb") as f:
            f.write(b'{"id":"g1","text":"a"}\n')
            f.write(b'{"text":"ok","id":' + deep_array(DEEP) + b"}\n")
            f.write(b'{"id":"g2","text":"b","k":' + deep_array(DEEP) + b"}\n")
            f.write(b'{"id":"g3","text":"c","k":' + deep_array(255) + b"}\n")  # 256 levels with the row: kept
            f.write(b'{"id":1e400,"text":"out of double range"}\n')
            f.write(b'{"id":123456789012345678901234567890,"text":"big integer","k":-1e-400}\n')
            f.write(b'{"id":"' + b"i" * 5_000_000 + b'","text":"long id"}\n')
        for fmt in ("jsonl", "csv", "parquet"):
            with self.subTest(fmt=fmt):
                out = self.path(f"out.{fmt}")
                proc = run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                                 "--keep-columns", "k")
                self.assertIn("7 rows, 3 errors", proc.stderr)
                if fmt == "jsonl":
                    rows = read_jsonl(out)
                elif fmt == "parquet":
                    rows = pq.read_table(out).to_pylist()
                else:
                    import csv
                    csv.field_size_limit(10_000_000)
                    with open(out, newline="", encoding="utf-8") as f:
                        rows = list(csv.DictReader(f))
                self.assertEqual(len(rows), 7)
                self.assertEqual(rows[1]["error"], "line 2: JSON nested deeper than 256 levels")
                self.assertEqual(rows[2]["error"], "line 3: JSON nested deeper than 256 levels")
                self.assertRegex(rows[4]["error"], "^line 5: invalid JSON: .*number overflow")
                for i in (0, 3, 5, 6):
                    self.assertFalse(rows[i].get("error"), rows[i].get("error"))
                    self.assertTrue(rows[i]["label"])
                kept = rows[3]["k"]
                if isinstance(kept, str):
                    kept = json.loads(kept)
                self.assertEqual(json.dumps(kept, separators=(",", ":")), "[" * 255 + "]" * 255)
                self.assertEqual(float(rows[5]["id"]), 1.2345678901234568e29)
                self.assertEqual(len(str(rows[6]["id"])), 5_000_000)

    def test_deep_model_files_fail_in_one_line(self):
        for name in ("config.json", "tokenizer.json", "modules.json", "1_Pooling/config.json"):
            with self.subTest(file=name):
                model = self.path("model")
                shutil.rmtree(model, ignore_errors=True)
                shutil.copytree(EXAMPLE_MODEL, model)
                path = os.path.join(model, name)
                with open(path, "rb") as f:
                    text = f.read().rstrip()
                # A new first key whose value nests 100,000 levels deep.
                head = b"[" if text.startswith(b"[") else b"{"
                value = b'{"deep":' + deep_array(DEEP) + b"}" if head == b"[" else b'"deep":' + deep_array(DEEP)
                with open(path, "wb") as f:
                    f.write(head + value + b"," + text[1:])
                inp = write_jsonl(self.path("in.jsonl"), [{"text": "hello"}])
                proc = run_salvo("embed", "--model", model, "--input", inp, "--output", self.path("o.jsonl"),
                                 check=False)
                self.assertEqual(proc.returncode, 4, proc.stderr)
                line = one_line(self, proc)
                self.assertIn(name, line)
                self.assertIn("nested deeper than 256 levels", line)

    def test_deep_safetensors_header_fails_in_one_line(self):
        model = self.path("model")
        shutil.copytree(EXAMPLE_MODEL, model)
        header = b'{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":' + deep_array(DEEP) + b',"data_offsets":[0,0]}}'
        with open(os.path.join(model, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header)
        inp = write_jsonl(self.path("in.jsonl"), [{"text": "hello"}])
        proc = run_salvo("embed", "--model", model, "--input", inp, "--output", self.path("o.jsonl"), check=False)
        self.assertEqual(proc.returncode, 4, proc.stderr)
        self.assertIn("nested deeper than 256 levels", one_line(self, proc))


class CsvQuotesTest(CliTestCase):
    def run_csv(self, bad_line):
        inp = self.path("in.csv")
        with open(inp, "w") as f:
            f.write("id,text\n")
            for i in range(1000):
                f.write(bad_line + "\n" if i == 10 else f"r{i},row number {i}\n")
        out = self.path("out.jsonl")
        proc = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out)
        return proc, read_jsonl(out)

    def test_a_quote_inside_an_unquoted_field_is_data(self):
        # The probe's file: this one quote swallowed the rest of the file ("11 rows, 1 errors").
        proc, rows = self.run_csv('r10,a 27" monitor stand')
        self.assertIn("1000 rows, 0 errors", proc.stderr)
        self.assertEqual([r["id"] for r in rows], [f"r{i}" for i in range(1000)])

    def test_an_unterminated_quote_costs_its_own_line_only(self):
        proc, rows = self.run_csv('r10,"27 inch monitor stand')
        self.assertIn("1000 rows, 1 errors", proc.stderr)
        self.assertEqual(rows[10]["error"], "line 12: invalid CSV: unterminated quoted field 2")
        self.assertEqual([r["id"] for r in rows], [f"r{i}" for i in range(1000)])


class ConcurrentOutputTest(CliTestCase):
    def test_two_jobs_writing_one_output_leave_one_whole_output(self):
        inputs = []
        for job, n in (("a", 1500), ("b", 900)):
            inputs.append(write_jsonl(self.path(f"{job}.jsonl"),
                                      [{"id": f"{job}{i}", "text": f"row {i} of job {job}"} for i in range(n)]))
        for out in (self.path("out.jsonl"), self.path("out.parquet"), self.path("parts") + "/"):
            with self.subTest(out=out):
                procs = [subprocess.Popen([os.environ.get("SALVO_BIN", "salvo"), "embed", "--model", EXAMPLE_MODEL,
                                           "--input", inp, "--output", out, "--threads", "1", "--quiet",
                                           "--sort-window", "64"], stderr=subprocess.PIPE)
                         for inp in inputs]
                finished = 0
                for p in procs:
                    _, err = p.communicate(timeout=600)
                    if out.endswith("/") and p.returncode != 0:
                        # A folder has one writer at a time: a job that finds it taken stops at once.
                        self.assertIn(b"another salvo job is writing", err)
                    else:
                        self.assertEqual(p.returncode, 0, err)
                        finished += 1
                self.assertGreaterEqual(finished, 1)
                if out.endswith(".jsonl"):
                    ids = [r["id"] for r in read_jsonl(out)]
                else:
                    ids = pq.read_table(out).column("id").to_pylist()  # a file, or the folder's parts in order
                job = ids[0][0]
                expected = 1500 if job == "a" else 900
                self.assertEqual(ids, [f"{job}{i}" for i in range(expected)], "one job's rows, whole")
                left = [n for n in os.listdir(self.tmp) if n.endswith(".partial")]
                self.assertEqual(left, [])
                if out.endswith("/"):
                    self.assertIn("_SUCCESS", os.listdir(out))


class FlagTest(CliTestCase):
    def setUp(self):
        super().setUp()
        self.inp = write_jsonl(self.path("in.jsonl"), [{"id": 1, "text": "hello"}])

    def fails(self, code, *args):
        proc = run_salvo(*args, check=False)
        self.assertEqual(proc.returncode, code, proc.stderr)
        self.assertEqual(os.listdir(self.tmp), ["in.jsonl"], "nothing written")
        return one_line(self, proc)

    def embed(self, *extra, task="embed", out="out.jsonl"):
        return (task, "--model", EXAMPLE_MODEL, "--input", self.inp, "--output", self.path(out), *extra)

    def test_threads_out_of_range(self):
        # --threads 100000 exited 1 with a libgomp message; 0 and -1 were accepted.
        for value in ("0", "-1", "1025", "100000"):
            with self.subTest(threads=value):
                line = self.fails(2, *self.embed("--threads", value))
                self.assertIn("--threads", line)
                self.assertNotIn("libgomp", line)

    def test_negative_numbers_are_refused_as_written(self):
        # --max-length -5 printed 18446744073709551611; --top-k -1 was accepted.
        for flag, value, task in (("--max-length", "-5", "embed"), ("--top-k", "-1", "classify"),
                                  ("--batch-tokens", "-1", "embed"), ("--sort-window", "-3", "embed"),
                                  ("--max-record-bytes", "-1", "embed")):
            with self.subTest(flag=flag):
                line = self.fails(2, *self.embed(flag, value, task=task))
                self.assertIn(flag, line)
                self.assertNotIn("18446744073", line)

    def test_kept_columns_clashing_with_result_columns(self):
        for column, task in (("label", "classify"), ("id", "classify"), ("error", "embed"),
                             ("embedding", "embed"), ("input_ids", "tokenize")):
            for out in ("out.jsonl", "out.csv"):
                with self.subTest(column=column, out=out):
                    line = self.fails(2, *self.embed("--keep-columns", column, task=task, out=out))
                    self.assertIn(f'two output columns would be named "{column}"', line)
        line = self.fails(2, *self.embed("--keep-columns", "text,text"))
        self.assertIn('--keep-columns names "text" twice', line)

    def test_output_folder_is_refused_before_the_model_loads(self):
        os.mkdir(self.path("out.jsonl"))
        broken = self.path("broken-model")
        os.mkdir(broken)  # no config.json: loading it would fail with exit 4
        proc = run_salvo("embed", "--model", broken, "--input", self.inp, "--output", self.path("out.jsonl"),
                         check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("is an existing folder", one_line(self, proc))

    def test_every_failure_is_one_line(self):
        os.mkdir(self.path("folder.jsonl"))
        embed_only = make_random_model(self.path("embed-only"))  # no classification head
        cases = [
            (3, "cannot open", ("embed", "--model", EXAMPLE_MODEL, "--input", self.path("missing.jsonl"),
                                "--output", self.path("o.jsonl"))),
            (3, "it is a folder, not a jsonl file", ("embed", "--model", EXAMPLE_MODEL, "--input",
                                                    self.path("folder.jsonl"), "--output", self.path("o.jsonl"))),
            (3, "does not exist", ("embed", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output",
                                   self.path("no/such/o.jsonl"))),
            (2, "--batch-rows", ("embed", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output",
                                 self.path("o.jsonl"), "--batch-rows", "x")),
            (4, "does not exist", ("embed", "--model", self.path("nope"), "--input", self.inp, "--output",
                                   self.path("o.jsonl"))),
            # Found once the model is loaded: still before the start line, so still one line.
            (4, "cannot classify", ("classify", "--model", embed_only, "--input", self.inp, "--output",
                                    self.path("o.jsonl"))),
            (2, ".npy", ("classify", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output",
                         self.path("o.npy"))),
            (2, "brotli", ("embed", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output",
                           self.path("o.parquet"), "--compression", "brotli")),
        ]
        for code, message, args in cases:
            with self.subTest(message=message):
                proc = run_salvo(*args, check=False)
                self.assertEqual(proc.returncode, code, proc.stderr)
                line = one_line(self, proc)
                self.assertIn(message, line)
                self.assertTrue(line.startswith("salvo: "), line)
                self.assertFalse([n for n in os.listdir(self.tmp) if n.startswith("o.")])

    def test_list_column_as_text_field_is_named_as_such(self):
        emb = self.path("emb.parquet")
        run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output", emb)
        line = self.fails_with(2, "embed", "--model", EXAMPLE_MODEL, "--input", emb, "--output",
                               self.path("o.jsonl"), "--text-field", "embedding")
        self.assertIn('text column "embedding" is a list (list<float>), not a string column', line)
        line = self.fails_with(2, "embed", "--model", EXAMPLE_MODEL, "--input", emb, "--output",
                               self.path("o.jsonl"), "--text-field", "nope")
        self.assertIn('no column named "nope" (its columns: id, embedding.list.element, error)', line)

    def fails_with(self, code, *args):
        proc = run_salvo(*args, check=False)
        self.assertEqual(proc.returncode, code, proc.stderr)
        return one_line(self, proc)


class InvalidUtf8Test(CliTestCase):
    """An id or kept column that is not UTF-8 makes its row an error row (it was rewritten to U+FFFD
    and the row counted good); the output stays valid UTF-8."""

    def check(self, inp, expected_errors):
        for fmt in ("jsonl", "parquet"):
            out = self.path(f"out.{fmt}")
            proc = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                             "--keep-columns", "k")
            self.assertIn(f"4 rows, {len(expected_errors)} errors", proc.stderr)
            if fmt == "jsonl":
                with open(out, encoding="utf-8", errors="strict") as f:
                    rows = [json.loads(line) for line in f]
            else:
                rows = pq.read_table(out).to_pylist()  # pyarrow checks the STRING columns' UTF-8
            errors = {i: r["error"] for i, r in enumerate(rows) if r.get("error")}
            self.assertEqual(errors, expected_errors)
            self.assertEqual(rows[0]["id"], "good")
            self.assertIsNotNone(rows[0]["embedding"])

    def test_csv(self):
        inp = self.path("in.csv")
        with open(inp, "wb") as f:
            f.write(b"id,text,k\ngood,fine,x\nbad\xff,fine,x\nr3,fine,bad\xfe\nr4,fine,x\n")
        self.check(inp, {1: "line 3: the id is not valid UTF-8 (byte 3)",
                         2: 'line 4: column "k" is not valid UTF-8 (byte 3)'})

    def test_tfrecord(self):
        inp = self.path("in.tfrecord")
        write_tfrecord(inp, [{"id": b"good", "text": b"fine", "k": b"x"},
                             {"id": b"bad\xff", "text": b"fine", "k": b"x"},
                             {"id": b"r3", "text": b"fine", "k": b"bad\xfe"},
                             {"id": b"r4", "text": b"fine", "k": b"x"}])
        self.check(inp, {1: "record 2: the id is not valid UTF-8 (byte 3)",
                         2: 'record 3: column "k" is not valid UTF-8 (byte 3)'})

    def test_parquet(self):
        inp = self.path("in.parquet")
        parquet_with_raw_strings(inp, {"id": [b"good", b"bad\xff", b"r3", b"r4"],
                                       "text": [b"fine"] * 4,
                                       "k": [b"x", b"x", b"bad\xfe", b"x"]})
        self.check(inp, {1: "record 2: the id is not valid UTF-8 (byte 3)",
                         2: 'record 3: column "k" is not valid UTF-8 (byte 3)'})


class ParquetAsOthersWriteItTest(CliTestCase):
    def test_empty_files_as_pandas_writes_them_are_zero_rows(self):
        """pandas and pyarrow write an empty frame as one row group of no rows whose chunks hold only a
        dictionary page (data_page_offset 0): zero rows, alone or in a folder beside other parts."""
        folder = self.path("parts")
        os.mkdir(folder)
        empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
        pq.write_table(empty, os.path.join(folder, "a.parquet"))
        pq.write_table(pa.table({"id": ["x"], "text": ["a graphics library"]}), os.path.join(folder, "b.parquet"))
        for source, ids in ((os.path.join(folder, "a.parquet"), []), (folder + "/", ["x"])):
            out = self.path("out.jsonl")
            run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", source, "--output", out)
            with open(out, encoding="utf-8") as f:
                self.assertEqual([json.loads(line)["id"] for line in f], ids)

    def test_timestamps_dates_and_decimals_are_carried_as_what_they_stand_for(self):
        """Regression: INT96 timestamps (Spark's default) and DECIMALs reached the output as their raw
        bytes, later were refused; millisecond timestamps and dates came out as bare integers. Kept
        (or taken as the id) they are timestamps in microseconds and doubles, from every physical
        layout pyarrow writes them in."""
        import datetime
        import decimal

        when = [datetime.datetime(2020, 1, 2, 3, 4, 5, 678901), None, datetime.datetime(1969, 12, 31, 23, 59, 59)]
        prices = [decimal.Decimal("1.23"), None, decimal.Decimal("-98765.43")]
        big = [decimal.Decimal("-1234567890123456789012345.12345"), decimal.Decimal("0.00001"), None]
        base = {"id": ["a", "b", "c"], "text": ["a graphics library", "a sound mixer", "an editor"], "n": [1, 2, 3]}
        spark_like = self.path("spark.parquet")  # INT96 timestamps, FIXED_LEN_BYTE_ARRAY decimals
        pq.write_table(pa.table({**base, "when": pa.array(when, pa.timestamp("us")),
                                 "price": pa.array(prices, pa.decimal128(9, 2)),
                                 "big": pa.array(big, pa.decimal256(40, 5))}),
                       spark_like, use_deprecated_int96_timestamps=True)
        other = self.path("other.parquet")  # TIMESTAMP(MILLIS), DATE, INT32/INT64 decimals
        pq.write_table(pa.table({**base, "when": pa.array(when, pa.timestamp("ms")),
                                 "day": pa.array([datetime.date(2024, 2, 29), datetime.date(1900, 1, 1), None]),
                                 "price": pa.array(prices, pa.decimal128(9, 2)),
                                 "wide": pa.array(prices, pa.decimal128(18, 2))}),
                       other, store_decimal_as_integer=True)
        self.assertEqual(pq.ParquetFile(other).schema.column(5).physical_type, "INT32")
        self.assertEqual(pq.ParquetFile(other).schema.column(6).physical_type, "INT64")

        def micros(t):
            return None if t is None else round((t - datetime.datetime(1970, 1, 1)).total_seconds() * 1e6)

        for inp, columns in ((spark_like, ["when", "price", "big"]), (other, ["when", "day", "price", "wide"])):
            expected = {"when": [micros(t) for t in when], "price": [1.23, None, -98765.43],
                        "big": [-1234567890123456789012345.12345, 0.00001, None],
                        "day": [micros(datetime.datetime(2024, 2, 29)), micros(datetime.datetime(1900, 1, 1)), None],
                        "wide": [1.23, None, -98765.43]}
            if inp == other:
                expected["when"] = [micros(t.replace(microsecond=t.microsecond // 1000 * 1000)) if t else None
                                    for t in when]
            with self.subTest(input=os.path.basename(inp)):
                out = self.path("out.jsonl")
                run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                          "--keep-columns", ",".join(["n"] + columns))
                rows = read_jsonl(out)
                for c in columns:
                    self.assertEqual([r.get(c) for r in rows], expected[c], c)  # null: left out
                # Parquet output: real TIMESTAMP and DOUBLE columns, as pyarrow and DuckDB read them.
                folder = self.path("out-parquet")
                shutil.rmtree(folder, ignore_errors=True)
                run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", folder + "/",
                          "--format", "parquet", "--keep-columns", ",".join(columns))
                table = pq.read_table(folder)
                self.assertEqual(table.schema.field("when").type, pa.timestamp("us", tz="UTC"))
                self.assertEqual(table.schema.field("price").type, pa.float64())
                got = [None if t is None else micros(t.replace(tzinfo=None)) for t in table.column("when").to_pylist()]
                self.assertEqual(got, expected["when"])
                self.assertEqual(table.column("price").to_pylist(), expected["price"])
                # As the id.
                run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--id-field", "price")
                self.assertEqual([r.get("id") for r in read_jsonl(out)], expected["price"])


class SignalTest(CliTestCase):
    def test_sigterm_removes_temporary_files(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"id": i, "text": f"row {i} " * 40} for i in range(60000)])
        for out in ("out.jsonl", "parts/"):
            with self.subTest(out=out):
                proc = subprocess.Popen([os.environ.get("SALVO_BIN", "salvo"), "embed", "--model", EXAMPLE_MODEL,
                                         "--input", inp, "--output", self.path(out), "--threads", "1",
                                         "--sort-window", "256"], stderr=subprocess.PIPE, text=True)
                # Wait until the job writes (its temporary file or part folder exists), then stop it.
                deadline = time.time() + 300
                while time.time() < deadline and proc.poll() is None:
                    names = os.listdir(self.tmp) + (os.listdir(self.path("parts")) if os.path.isdir(self.path("parts")) else [])
                    if any(n.endswith(".partial") for n in names):
                        break
                    time.sleep(0.05)
                time.sleep(0.5)
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=120)
                self.assertEqual(proc.returncode, 130, err)
                self.assertIn("salvo: cancelled: stopped by a signal", err.strip().splitlines()[-1])
                self.assertEqual(sorted(os.listdir(self.tmp)), ["in.jsonl"] + (["parts"] if out == "parts/" else []))
                if out == "parts/":
                    # Complete parts stay for --resume (listed in the manifest); nothing unfinished does.
                    left = sorted(os.listdir(self.path("parts")))
                    self.assertNotIn("_SUCCESS", left)
                    self.assertEqual([n for n in left if n.endswith(".partial")], [])
                    manifest = os.path.join(self.path("parts"), "_salvo_manifest.json")
                    parts = json.load(open(manifest))["parts"] if os.path.exists(manifest) else []
                    self.assertEqual([n for n in left if n.startswith("part-")], parts)


class NonFiniteWeightsTest(CliTestCase):
    def test_nan_weight_is_refused_at_load_naming_the_tensor(self):
        model = self.path("model")
        shutil.copytree(EXAMPLE_MODEL, model)
        path = os.path.join(model, "model.safetensors")
        with open(path, "r+b") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(size))
            name = "bert.encoder.layer.1.attention.self.query.weight"
            begin = header[name]["data_offsets"][0]
            f.seek(8 + size + begin + 4 * 17)
            f.write(struct.pack("<f", float("nan")))
        inp = write_jsonl(self.path("in.jsonl"), [{"text": "hello"}])
        proc = run_salvo("embed", "--model", model, "--input", inp, "--output", self.path("o.npy"), check=False)
        self.assertEqual(proc.returncode, 4, proc.stderr)
        line = one_line(self, proc)
        self.assertIn(f"tensor '{name}' holds NaN (element 17 of", line)


class ConfigAgainstCheckpointTest(CliTestCase):
    def test_layer_count_the_checkpoint_does_not_hold_is_refused(self):
        # num_hidden_layers 10^9 ended in std::bad_alloc (exit 1); 3 for a 4-layer checkpoint
        # silently dropped a layer.
        inp = write_jsonl(self.path("in.jsonl"), [{"text": "hello"}])
        for layers in (1000000000, 3, 5):
            with self.subTest(layers=layers):
                model = self.path(f"model-{layers}")
                shutil.copytree(EXAMPLE_MODEL, model)
                config_path = os.path.join(model, "config.json")
                config = json.load(open(config_path))
                config["num_hidden_layers"] = layers
                json.dump(config, open(config_path, "w"))
                proc = run_salvo("embed", "--model", model, "--input", inp, "--output", self.path("o.jsonl"),
                                 check=False)
                self.assertEqual(proc.returncode, 4, proc.stderr)
                self.assertIn(f"config.json says num_hidden_layers {layers}, the checkpoint holds 4 layers",
                              one_line(self, proc))

def peak_rss_kib(args):
    """Peak resident memory of one salvo run, from the kernel's accounting of a fresh child."""
    code = ("import resource, subprocess, sys; "
            "r = subprocess.run(sys.argv[1:], capture_output=True); "
            "sys.stderr.write(r.stderr.decode()); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)")
    proc = subprocess.run([sys.executable, "-c", code, os.environ.get("SALVO_BIN", "salvo"), *map(str, args)],
                          capture_output=True, text=True, timeout=900)
    value = int(proc.stdout.strip() or -1)
    if value < 0:
        raise AssertionError(proc.stderr)
    return value, proc.stderr


class HugeRecordTest(CliTestCase):
    @unittest.skipIf(sanitized(), "a sanitizer build's memory is not the product's")
    def test_peak_memory_stays_a_few_times_one_huge_record(self):
        # A 200 MB record with --max-record-bytes raised peaked at 2.9 GB (14x). Here 100 MB of
        # words in a JSON line and in a CSV field: each copy of it costs 100 MB.
        record_mb = 100
        words = (b"lorem ipsum dolor sit amet, consectetur adipiscing elit " * (record_mb * 1024 * 1024 // 56 + 1))
        words = words[:record_mb * 1024 * 1024]
        small = write_jsonl(self.path("small.jsonl"), [{"id": "small", "text": "lorem ipsum"}])
        baseline, _ = peak_rss_kib(["embed", "--model", EXAMPLE_MODEL, "--input", small, "--output",
                                    self.path("small.out.jsonl"), "--threads", "2"])
        big_jsonl = self.path("big.jsonl")
        with open(big_jsonl, "wb") as f:
            f.write(b'{"id":"small","text":"lorem ipsum"}\n{"id":"big","text":"' + words + b'"}\n')
        big_csv = self.path("big.csv")
        with open(big_csv, "wb") as f:
            f.write(b'id,text\nsmall,lorem ipsum\nbig,"' + words + b'"\n')
        for inp in (big_jsonl, big_csv):
            with self.subTest(input=os.path.basename(inp)):
                out = self.path("big.out.jsonl")
                peak, stderr = peak_rss_kib(["embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                                             "--threads", "2", "--max-record-bytes", str(300 << 20)])
                self.assertIn("2 rows, 0 errors", stderr)
                grown = (peak - baseline) / 1024
                print(f"\n  {os.path.basename(inp)}: peak {peak / 1024:.0f} MB, baseline {baseline / 1024:.0f} MB, "
                      f"+{grown:.0f} MB for a {record_mb} MB record ({grown / record_mb:.1f}x)")
                self.assertLess(grown, 4 * record_mb, "peak memory over 4x the record")
                os.unlink(out)


if __name__ == "__main__":
    unittest.main()
