"""Writes the LIST-column fixtures of the Parquet unit tests (tests/unit/io/parquet/parquet_list_test.cc):
small files written by pyarrow (one table, several page versions, encodings and codecs: the rows
in lists.jsonl) and DuckDB (some of its columns, v1 and v2 pages: lists_duckdb.jsonl, as DuckDB
reads them back), one JSON object per row (binary values as {"hex": "..."}).

    /work/venv/bin/python tests/data/parquet/make_list_fixtures.py

Committed with its output; rerun it only to change the fixtures (pyarrow 26, duckdb 2.0).
"""
import json
import os
import random

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = 60


def maybe(rng, p, value):
    return None if rng.random() < p else value


def make_table():
    rng = random.Random(7)
    cols = {name: [] for name in
            ["text", "f32", "f64", "i32", "i64", "u32", "i8", "flag", "s", "bin", "fixed", "nested", "req", "long"]}

    def some_list(make, n_max=6):
        # null list, empty list, or elements that may be null
        r = rng.random()
        if r < 0.1:
            return None
        if r < 0.2:
            return []
        return [maybe(rng, 0.15, make()) for _ in range(rng.randint(1, n_max))]

    for i in range(ROWS):
        cols["text"].append(f"row {i}")
        cols["f32"].append(some_list(lambda: rng.uniform(-10, 10)))
        cols["f64"].append(some_list(lambda: rng.uniform(-1e6, 1e6)))
        cols["i32"].append(some_list(lambda: rng.randint(-2**31, 2**31 - 1)))
        cols["i64"].append(some_list(lambda: rng.randint(-2**63, 2**63 - 1)))
        cols["u32"].append(some_list(lambda: rng.randint(0, 2**32 - 1)))
        cols["i8"].append(some_list(lambda: rng.randint(-128, 127)))
        cols["flag"].append(some_list(lambda: rng.random() < 0.5))
        cols["s"].append(some_list(lambda: rng.choice(["a", "bé", "", "日本", "long " * 5]) + str(rng.randint(0, 3))))
        cols["bin"].append(some_list(lambda: bytes([rng.randint(0, 255) for _ in range(rng.randint(0, 4))])))
        cols["fixed"].append(some_list(lambda: bytes([rng.randint(0, 255) for _ in range(3)])))
        cols["nested"].append(some_list(lambda: some_list(lambda: rng.uniform(-1, 1), 4), 4))
        cols["req"].append([rng.randint(0, 1000) for _ in range(rng.randint(0, 5))])
        # Rows 3 and 40 hold lists longer than the small pages below, so they span pages.
        cols["long"].append(list(range(i * 10000, i * 10000 + 1500)) if i in (3, 40) else some_list(lambda: rng.randint(0, 99)))
    f32 = pa.list_(pa.float32())
    schema = pa.schema([
        ("text", pa.string()),
        ("f32", f32),
        ("f64", pa.list_(pa.float64())),
        ("i32", pa.list_(pa.int32())),
        ("i64", pa.list_(pa.int64())),
        ("u32", pa.list_(pa.uint32())),
        ("i8", pa.list_(pa.int8())),
        ("flag", pa.list_(pa.bool_())),
        ("s", pa.list_(pa.string())),
        ("bin", pa.list_(pa.binary())),
        ("fixed", pa.list_(pa.binary(3))),
        ("nested", pa.list_(pa.list_(pa.float32()))),
        pa.field("req", pa.list_(pa.field("element", pa.int64(), nullable=False)), nullable=False),
        ("long", pa.list_(pa.int64())),
    ])
    return pa.table(cols, schema=schema)


def jsonable(v):
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def write_expected(table, name):
    with open(os.path.join(HERE, name + ".jsonl"), "w") as f:
        for row in table.to_pylist():
            f.write(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


def main():
    table = make_table()
    variants = [
        # name, pyarrow options
        ("lists_v1_dict_snappy", dict(data_page_version="1.0", use_dictionary=True, compression="snappy")),
        ("lists_v2_plain_zstd", dict(data_page_version="2.0", use_dictionary=False, compression="zstd")),
        ("lists_v1_plain_gzip", dict(data_page_version="1.0", use_dictionary=False, compression="gzip")),
        ("lists_v2_dict_none", dict(data_page_version="2.0", use_dictionary=True, compression="none")),
        ("lists_v1_legacy_lz4", dict(data_page_version="1.0", compression="lz4", use_compliant_nested_type=False)),
    ]
    for name, options in variants:
        path = os.path.join(HERE, name + ".parquet")
        pq.write_table(table, path, data_page_size=512, row_group_size=25, write_batch_size=64, **options)
        assert pq.read_table(path).to_pylist() == table.to_pylist(), name
    write_expected(table, "lists")
    # DuckDB: its own writer, v1 and v2 pages (lists of numbers and strings, nested).
    con = duckdb.connect()
    con.register("t", table.select(["text", "f32", "f64", "i32", "i64", "s", "nested", "req", "long"]))
    expected = None
    for version in ("v1", "v2"):
        path = os.path.join(HERE, f"lists_duckdb_{version}.parquet")
        con.execute(f"COPY (SELECT * FROM t) TO '{path}' (FORMAT parquet, PARQUET_VERSION {version}, "
                    f"ROW_GROUP_SIZE 2048, COMPRESSION zstd)")
        # DuckDB reads its own files back (pyarrow 26 cannot read DuckDB 2.0's v2 pages: "InitBlock EOF").
        back = con.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()
        assert expected is None or back.to_pylist() == expected.to_pylist(), version
        expected = back
    write_expected(expected, "lists_duckdb")


if __name__ == "__main__":
    main()
