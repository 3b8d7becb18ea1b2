"""Helpers shared by the engine tests: the input table (real texts, nulls, a text that is not
UTF-8), and the checks of an engine's output against the salvo CLI's numbers."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import read_texts

TOL = 1e-6
NULL_IDS = {1000, 1001, 1002}
BAD_UTF8_ID = 1003


def input_table(copies: int = 1, bad_utf8: bool = True) -> pa.Table:
    """id, text, section (f"s{id % 7}", a column carried along): the example descriptions (id = row number, repeated `copies` times with
    ids offset by 10000), three null texts and, with bad_utf8, one text whose bytes are not UTF-8."""
    rows = read_texts()
    ids, texts = [], []
    for c in range(copies):
        ids += [c * 10000 + i for i in range(len(rows))]
        texts += [r["text"] for r in rows]
    ids += sorted(NULL_IDS)
    texts += [None] * len(NULL_IDS)
    text = pa.array(texts, pa.string())
    if bad_utf8:
        ids.append(BAD_UTF8_ID)
        # Built from raw buffers: pyarrow would refuse the bytes through pa.array.
        offsets = np.array([0, 2], dtype=np.int32)
        bad = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"\xc3\x28")])
        text = pa.concat_arrays([text, bad])
    section = pa.array([f"s{i % 7}" for i in ids])
    return pa.table({"id": pa.array(ids, pa.int64()), "text": text, "section": section})


def write_input(path, table: pa.Table, files: int = 4) -> None:
    path.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for f in range(files):
        pq.write_table(table.slice(f * step, step), path / f"part-{f:03d}.parquet")


def reference_row(row_id: int, reference: np.ndarray) -> np.ndarray:
    return reference[row_id % 10000]


def embeddings(column) -> list:
    """A list<float> column as one numpy row per entry (None where null)."""
    return [None if v is None else np.array(v, dtype=np.float32) for v in column.to_pylist()]


def check_embeddings(table: pa.Table, column: str, reference: np.ndarray, expected_ids, null_rows: str,
                     error_col: str = None, bad_ids=NULL_IDS) -> None:
    """Every id once; good rows equal the CLI's within TOL; bad rows are null (null_rows="null") or NaN
    (null_rows="nan"), with an error in error_col when given."""
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(expected_ids), "rows missing or doubled"
    assert table.column("section").to_pylist() == [f"s{i % 7}" for i in ids], "other columns are kept"
    values = embeddings(table.column(column))
    errors = table.column(error_col).to_pylist() if error_col else [None] * len(ids)
    for row_id, value, error in zip(ids, values, errors):
        if row_id in bad_ids:
            if null_rows == "null":
                assert value is None, row_id
            else:
                assert value is not None and np.isnan(value).all(), row_id
            if error_col:
                assert error, row_id
        else:
            assert value is not None and error is None, (row_id, error)
            np.testing.assert_allclose(value, reference_row(row_id, reference), atol=TOL, rtol=0)


def check_labels(table: pa.Table, labels, expected_ids, bad_ids=NULL_IDS, struct: str = None) -> None:
    """label/score (top-level, or fields of `struct`) equal the CLI's; bad rows have a null label."""
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(expected_ids), "rows missing or doubled"
    if struct:
        rows = table.column(struct).to_pylist()
        label = [None if r is None else r["label"] for r in rows]
        score = [None if r is None else r["score"] for r in rows]
    else:
        label, score = table.column("label").to_pylist(), table.column("score").to_pylist()
    for row_id, l, s in zip(ids, label, score):
        if row_id in bad_ids:
            assert l is None, row_id
            assert s is None or np.isnan(s), row_id
        else:
            want = labels[row_id % 10000]
            assert l == want["label"], row_id
            assert abs(s - want["score"]) <= TOL, row_id
