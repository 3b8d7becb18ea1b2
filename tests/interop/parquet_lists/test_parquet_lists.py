"""LIST columns between salvo and two independent Parquet implementations (pyarrow, DuckDB).

Tables with list columns of every element type salvo carries (nulls at each level, empty lists,
lists of lists) are written by pyarrow (v1 and v2 pages, dictionary or plain, several codecs, the
legacy "item" naming) and by DuckDB (v1 and v2), carried through `salvo tokenize --keep-columns`
and `--id-field`, and compared with what the writer itself reads: the values must be identical and
the list types kept. salvo's own `embed` output is read back by salvo (kept whole, refused as text)
and by DuckDB.

Run by ctest (interop_parquet_lists) with the venv's Python; SALVO_BIN names the binary.
"""
import json
import os
import random
import subprocess
import tempfile
import unittest

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SALVO = os.environ.get("SALVO_BIN", os.path.join(REPO, "build", "salvo"))
MODEL = os.path.join(REPO, "examples", "debian-sections")


def run_salvo(*args, check=True):
    proc = subprocess.run([SALVO, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"salvo {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def make_table(rows=400, seed=3):
    rng = random.Random(seed)

    def some(make, most=6, p_null=0.12):
        r = rng.random()
        if r < 0.08:
            return None
        if r < 0.16:
            return []
        return [None if rng.random() < p_null else make() for _ in range(rng.randint(1, most))]

    data = {k: [] for k in ["text", "id", "f32", "f64", "i32", "i64", "i8", "u8", "flag", "s", "b", "nested", "deep",
                            "vec", "req"]}
    for i in range(rows):
        data["text"].append(f"package {i} does things")
        data["id"].append(i * 7)
        data["f32"].append(some(lambda: float(np.float32(rng.uniform(-100, 100)))))
        data["f64"].append(some(lambda: rng.uniform(-1e9, 1e9)))
        data["i32"].append(some(lambda: rng.randint(-2**31, 2**31 - 1)))
        data["i64"].append(some(lambda: rng.randint(-2**63, 2**63 - 1)))
        data["i8"].append(some(lambda: rng.randint(-128, 127)))
        data["u8"].append(some(lambda: rng.randint(0, 255)))
        data["flag"].append(some(lambda: rng.random() < 0.5))
        data["s"].append(some(lambda: rng.choice(["", "α", "plain", "日本語 text", "x" * 40]) + str(rng.randint(0, 9))))
        data["b"].append(some(lambda: bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 5)))))
        data["nested"].append(some(lambda: some(lambda: float(np.float32(rng.uniform(-1, 1))), 5), 4))
        data["deep"].append(some(lambda: some(lambda: some(lambda: rng.randint(0, 99), 3), 3), 3))
        data["vec"].append(None if i % 9 == 4 else [float(np.float32(rng.gauss(0, 1))) for _ in range(4)])
        # A long list now and then: it spans pages.
        data["req"].append([rng.randint(0, 10**6) for _ in range(rng.choice([0, 1, 3, 3000 if i % 97 == 5 else 2]))])
    schema = pa.schema([
        ("text", pa.string()), ("id", pa.int64()),
        ("f32", pa.list_(pa.float32())), ("f64", pa.list_(pa.float64())), ("i32", pa.list_(pa.int32())),
        ("i64", pa.list_(pa.int64())), ("i8", pa.list_(pa.int8())), ("u8", pa.list_(pa.uint8())),
        ("flag", pa.list_(pa.bool_())), ("s", pa.list_(pa.string())), ("b", pa.list_(pa.binary())),
        ("nested", pa.list_(pa.list_(pa.float32()))), ("deep", pa.list_(pa.list_(pa.list_(pa.int32())))),
        ("vec", pa.list_(pa.float32(), 4)),
        pa.field("req", pa.list_(pa.field("element", pa.int64(), nullable=False)), nullable=False),
    ])
    return pa.table(data, schema=schema)


LIST_COLUMNS = ["f32", "f64", "i32", "i64", "i8", "u8", "flag", "s", "b", "nested", "deep", "vec", "req"]
# The element type salvo's Parquet output gives each column: its own, but unsigned and small
# integers widen as salvo carries them (UINT_8 as int64, INT_8 as int32).
OUTPUT_ELEMENT = {"f32": pa.float32(), "f64": pa.float64(), "i32": pa.int32(), "i64": pa.int64(), "i8": pa.int32(),
                  "u8": pa.int64(), "flag": pa.bool_(), "s": pa.string(), "b": pa.binary(),
                  "nested": pa.list_(pa.field("element", pa.float32())),
                  "deep": pa.list_(pa.field("element", pa.list_(pa.field("element", pa.int32())))),
                  "vec": pa.float32(), "req": pa.int64()}


def strip_field_names(t):
    """A list type with its element fields renamed "element", so pyarrow's "item" compares equal."""
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        return pa.list_(pa.field("element", strip_field_names(t.value_type)))
    return t


def same_floats32(got, want):
    """JSON numbers from salvo's JSONL (float32 printed shortest) against float32 values."""
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(same_floats32(g, w) for g, w in zip(got, want))
    if want is None or got is None:
        return got is want
    return np.float32(got) == np.float32(want)


class ParquetListsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="salvo-pq-lists-")
        cls.tmp = cls._tmp.name
        cls.table = make_table()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def carry(self, source, out, *extra):
        run_salvo("tokenize", "--model", MODEL, "--input", source, "--output", out, "--id-field", "f32",
                  "--keep-columns", ",".join(["text"] + LIST_COLUMNS), "--quiet", *extra)

    def check_carried(self, out_file, want_rows, what):
        got = pq.read_table(out_file)
        self.assertEqual(got.num_rows, len(want_rows), what)
        for name in LIST_COLUMNS:
            column = got.column(name)
            self.assertEqual(strip_field_names(column.type).value_type, strip_field_names(
                pa.list_(OUTPUT_ELEMENT[name])).value_type, f"{what}: type of {name}")
            values = column.to_pylist()
            bad = [r for r in range(len(want_rows)) if values[r] != want_rows[r][name]]
            self.assertFalse(bad, f"{what}: column {name}, rows {bad[:5]}: {values[bad[0]] if bad else ''} != "
                                  f"{want_rows[bad[0]][name] if bad else ''}")
        self.assertEqual(got.column("id").to_pylist(), [r["f32"] for r in want_rows], f"{what}: id")
        self.assertEqual(got.column("id").type.value_type, pa.float32())
        self.assertEqual(got.column("error").null_count, got.num_rows, what)

    def test_pyarrow_files(self):
        want = self.table.to_pylist()
        variants = {
            "v1_dict_snappy": dict(data_page_version="1.0", use_dictionary=True, compression="snappy"),
            "v2_plain_zstd": dict(data_page_version="2.0", use_dictionary=False, compression="zstd"),
            "v2_dict_gzip": dict(data_page_version="2.0", use_dictionary=True, compression="gzip"),
            "v1_legacy_none": dict(data_page_version="1.0", compression="none", use_compliant_nested_type=False),
        }
        for name, options in variants.items():
            source = self.path(f"in_{name}.parquet")
            pq.write_table(self.table, source, row_group_size=150, data_page_size=2048, **options)
            out = self.path(f"out_{name}.parquet")
            self.carry(source, out)
            self.check_carried(out, want, name)
        # JSONL output: the same values as JSON (float32 printed in their shortest form).
        out = self.path("out.jsonl")
        self.carry(self.path("in_v1_dict_snappy.parquet"), out)
        with open(out, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        self.assertEqual(len(rows), len(want))
        for r, (got, row) in enumerate(zip(rows, want)):
            for name in ["i32", "i64", "i8", "u8", "flag", "s", "deep", "req"]:
                self.assertEqual(got.get(name), row[name], f"row {r} column {name}")
            for name in ["f32", "nested", "vec"]:
                self.assertTrue(same_floats32(got.get(name), row[name]), f"row {r} column {name}: {got.get(name)}")
            self.assertTrue(same_floats32(got.get("id"), row["f32"]), f"row {r} id")
            self.assertEqual(got.get("f64"), row["f64"], f"row {r} f64")

    def test_duckdb_files(self):
        con = duckdb.connect()
        con.register("t", self.table)
        for version in ("v1", "v2"):
            source = self.path(f"duck_{version}.parquet")
            con.execute(f"COPY (SELECT * FROM t) TO '{source}' (FORMAT parquet, PARQUET_VERSION {version}, "
                        f"ROW_GROUP_SIZE 100, COMPRESSION zstd)")
            want = con.sql(f"SELECT * FROM read_parquet('{source}')").to_arrow_table().to_pylist()
            out = self.path(f"duck_out_{version}.parquet")
            self.carry(source, out)
            self.check_carried(out, want, f"DuckDB {version}")

    def test_salvo_output_reads_back(self):
        source = self.path("texts.parquet")
        pq.write_table(self.table.select(["text", "id"]), source)
        embedded = self.path("embedded.parquet")
        run_salvo("embed", "--model", MODEL, "--input", source, "--output", embedded, "--keep-columns", "text",
                  "--quiet")
        first = pq.read_table(embedded)
        self.assertEqual(first.column("embedding").type.value_type, pa.float32())
        # The embedding is a list, not a text: the message says so.
        proc = run_salvo("embed", "--model", MODEL, "--input", embedded, "--text-field", "embedding", "--output",
                         self.path("never.jsonl"), check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn('text column "embedding" is a list (list<float>), not a string column', proc.stderr)
        # Kept whole: the same floats, the same type; DuckDB reads them too.
        kept = self.path("kept.parquet")
        run_salvo("tokenize", "--model", MODEL, "--input", embedded, "--output", kept, "--keep-columns",
                  "embedding", "--quiet")  # the id is carried as the id
        second = pq.read_table(kept)
        self.assertEqual(second.column("embedding").type, first.column("embedding").type)
        self.assertEqual(second.column("embedding").to_pylist(), first.column("embedding").to_pylist())
        self.assertEqual(second.column("id").to_pylist(), first.column("id").to_pylist())
        duck = duckdb.sql(f"SELECT embedding FROM read_parquet('{kept}')").to_arrow_table()
        self.assertEqual(duck.column("embedding").to_pylist(), first.column("embedding").to_pylist())


if __name__ == "__main__":
    unittest.main()
