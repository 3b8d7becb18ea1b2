"""The salvo package on its own: every input type, zero-copy in and out, threads, the cache,
errors, logging, and the numbers against the salvo CLI."""

import gc
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import salvo
from conftest import MODEL, cli

TOL = 1e-6


@pytest.fixture(scope="module")
def model():
    return salvo.Model(MODEL, threads=2)


@pytest.fixture(scope="module")
def classifier():
    return salvo.Model(MODEL, task="classify", threads=2)


def test_embed_equals_cli(model, texts, reference):
    emb = model.embed(texts)
    assert emb.dtype == np.float32 and emb.shape == (len(texts), model.dim) == reference.shape
    np.testing.assert_allclose(emb, reference, atol=TOL, rtol=0)


def test_classify_equals_cli(classifier, texts, reference_labels):
    result = classifier.classify(texts, top_k=3)
    assert len(result) == len(texts)
    assert result.label == [r["label"] for r in reference_labels]
    np.testing.assert_allclose(result.score, [r["score"] for r in reference_labels], atol=TOL, rtol=0)
    assert result.top_labels == [r["top_labels"] for r in reference_labels]
    np.testing.assert_allclose(np.array(result.top_scores, dtype=np.float32),
                               [r["top_scores"] for r in reference_labels], atol=TOL, rtol=0)
    assert result.errors == [None] * len(texts)
    assert result.score.dtype == np.float32


def test_tokenize_equals_cli(texts, tmp_path):
    tokenizer = salvo.Model(MODEL, task="tokenize")
    ids, errors = tokenizer.tokenize(texts[:50], return_errors=True)
    assert ids == [r["input_ids"] for r in cli("tokenize", texts[:50], tmp_path)]
    assert errors == [None] * 50


# --- inputs ---------------------------------------------------------------------------------

MIXED = ["a text about chess", None, "graphics library for C", 42, "", float("nan"), b"sound mixer", "x" * 3]
GOOD = [0, 2, 4, 6, 7]  # rows of MIXED that are texts (an empty text is one)


def check_mixed(model, emb, errors, expected_good):
    assert emb.shape == (len(MIXED), model.dim)
    for i in range(len(MIXED)):
        if i in expected_good:
            assert errors[i] is None, (i, errors[i])
            assert np.isfinite(emb[i]).all()
        else:
            assert errors[i], i
            assert np.isnan(emb[i]).all()


def test_python_sequences(model):
    emb, errors = model.embed(MIXED, return_errors=True)
    check_mixed(model, emb, errors, GOOD)
    assert errors[1] == "the input is null" and errors[5] == "the input is null"
    assert errors[3] == "the input is not a string (int)"
    # Every good row equals the same text run alone.
    for i in GOOD:
        text = MIXED[i].decode() if isinstance(MIXED[i], bytes) else MIXED[i]
        np.testing.assert_allclose(emb[i], model.embed([text])[0], atol=TOL, rtol=0)
    # A tuple, a generator and a numpy object array read the same.
    for variant in (tuple(MIXED), (t for t in MIXED), np.array(MIXED, dtype=object)):
        np.testing.assert_array_equal(model.embed(variant), emb)


def test_numpy_unicode_and_pandas(model, texts):
    want = model.embed(texts[:20])
    np.testing.assert_array_equal(model.embed(np.array(texts[:20])), want)  # dtype <U...
    for series in (pd.Series(texts[:20], dtype=object), pd.Series(texts[:20], dtype="str"),
                   pd.Series(texts[:20], dtype="string[python]"), pd.Series(texts[:20], dtype="string[pyarrow]")):
        np.testing.assert_array_equal(model.embed(series), want)
    # pandas missing values (None, NaN, pd.NA) are nulls.
    series = pd.Series(["graphics library", None, "sound mixer"], dtype="str")
    emb, errors = model.embed(series, return_errors=True)
    assert errors == [None, "the input is null", None]
    assert np.isnan(emb[1]).all() and np.isfinite(emb[[0, 2]]).all()
    emb, errors = model.embed(pd.Series(["graphics library", pd.NA], dtype="string[python]"), return_errors=True)
    assert errors == [None, "the input is null"]


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string(), pa.string_view(), pa.binary()])
def test_arrow_arrays(model, texts, arrow_type):
    rows = texts[:30] + [None]
    array = pa.array(rows, type=pa.string()).cast(arrow_type)
    want = model.embed(texts[:30])
    emb, errors = model.embed(array, return_errors=True)
    np.testing.assert_array_equal(emb[:30], want)
    assert errors[30] == "the input is null" and np.isnan(emb[30]).all()
    # A slice (offset != 0) and a chunked array.
    sliced = array.slice(7, 13)
    np.testing.assert_array_equal(model.embed(sliced), want[7:20])
    chunked = pa.chunked_array([array.slice(0, 10), array.slice(10, 5), array.slice(15, 0), array.slice(15)])
    emb2, errors2 = model.embed(chunked, return_errors=True)
    np.testing.assert_array_equal(emb2[:30], want)
    assert errors2 == errors


def test_arrow_null_and_wrong_types(model):
    emb, errors = model.embed(pa.nulls(3), return_errors=True)
    assert errors == ["the input is null"] * 3 and np.isnan(emb).all()
    with pytest.raises(TypeError, match="format \"l\""):
        model.embed(pa.array([1, 2]))
    with pytest.raises(TypeError, match="dictionary"):
        model.embed(pa.array(["a", "b", "a"]).dictionary_encode())


def test_arrow_offsets_are_checked(model):
    # A string array whose offsets decrease is refused, not read out of bounds.
    offsets = pa.py_buffer(np.array([0, 5, 3], dtype=np.int32).tobytes())
    data = pa.py_buffer(b"hello")
    bad = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    with pytest.raises(ValueError, match="offsets decrease at row 1"):
        model.embed(bad)


def text_addresses(array: pa.Array) -> list:
    """Where each row's bytes are in the array's own data buffer."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if pa.types.is_large_string(array.type) else np.int32)
    base = array.buffers()[2].address
    return [(base + int(offsets[array.offset + i]), int(offsets[array.offset + i + 1] - offsets[array.offset + i]))
            for i in range(len(array))]


def test_arrow_input_is_not_copied(texts):
    array = pa.array(texts[:40])
    for a in (array, array.slice(5, 20), array.cast(pa.large_string()).slice(3)):
        assert salvo._salvo._text_views(a) == text_addresses(a)
    chunked = pa.chunked_array([array.slice(0, 10), array.slice(10)])
    assert salvo._salvo._text_views(chunked) == text_addresses(array)
    # pandas' Arrow-backed strings are read through their Arrow chunks.
    series = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([array])))
    assert salvo._salvo._text_views(salvo._texts(series)) == text_addresses(array)
    # str objects are read where CPython keeps their UTF-8 bytes (inside the object for ASCII).
    views = salvo._salvo._text_views(texts[:5])
    for text, (address, size) in zip(texts[:5], views):
        assert id(text) < address < id(text) + sys.getsizeof(text) and size == len(text.encode())


def test_results_are_not_copied(model, texts):
    batch = model.run(texts[:64])
    emb = batch.column("embedding")
    record = batch.to_arrow()
    values = record.column("embedding").values
    assert emb.ctypes.data == values.buffers()[1].address  # numpy and Arrow share salvo's buffer
    assert not emb.flags.writeable and not emb.flags.owndata
    del batch
    gc.collect()
    np.testing.assert_array_equal(emb, np.asarray(values).reshape(64, -1))  # both keep the result alive
    # embed() allocates nothing in numpy for its result: no copy of N x dim floats.
    many = texts * 4
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    out = model.embed(many)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert out.nbytes == len(many) * model.dim * 4
    assert grown < out.nbytes / 4, grown
    assert out.base is not None and not out.flags.owndata and out.flags.writeable


def test_arrow_export(classifier, texts):
    batch = classifier.run(texts[:10] + [None], top_k=2)
    record = pa.record_batch(batch)  # the PyCapsule protocol
    record.validate(full=True)
    assert record.schema.names == ["label", "score", "top_labels", "top_scores", "error"]
    assert record.schema.field("label").type == pa.string()
    assert record.schema.field("score").type == pa.float32()
    assert record.schema.field("top_scores").type == pa.list_(pa.field("element", pa.float32()))
    assert json.loads(record.schema.metadata[b"salvo.labels"]) == classifier.labels
    assert record.column("label").null_count == 1 and record.column("label")[10].as_py() is None
    assert record.column("error")[10].as_py() == "the input is null"
    result = classifier.classify(texts[:10], top_k=2)
    assert record.column("label").to_pylist()[:10] == result.label
    assert record.column("top_labels").to_pylist()[:10] == result.top_labels
    # Embeddings: list<float> as Spark wants it, null for failed rows.
    emb = salvo.Model(MODEL).run_arrow([texts[0], None, texts[1]])
    assert emb.schema.field("embedding").type == pa.list_(pa.field("element", pa.float32()))
    assert emb.column("embedding").is_null().to_pylist() == [False, True, False]
    emb.validate(full=True)


def test_threads_share_one_model(model, texts):
    """Many Python threads on one Model give what one thread gives."""
    want = model.embed(texts)
    results = {}

    def work(k):
        rows = texts[k * 7:] + texts[:k * 7]  # each thread its own order
        results[k] = (k, model.embed(rows))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (_, emb) in results.items():
        np.testing.assert_array_equal(emb, np.roll(want, -k * 7, axis=0))


def test_gil_is_released(texts):
    """While salvo computes, other Python threads run: the main thread keeps looping during a call.
    Were the GIL held, the main thread would stall for the whole call (one gap as long as the call);
    released, its longest stall is a scheduling hiccup."""
    model = salvo.Model(MODEL, threads=1)
    many = texts * 3
    model.embed(many[:10])
    span = {}
    done = threading.Event()

    def call():
        span["start"] = time.perf_counter()
        model.embed(many)
        span["end"] = time.perf_counter()
        done.set()

    worker = threading.Thread(target=call)
    stalls = []  # (from, to) of every pause of the loop longer than 1 ms
    last = time.perf_counter()
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        if now - last > 0.001:
            stalls.append((last, now))
        last = now
    worker.join()
    call_seconds = span["end"] - span["start"]
    longest_stall = max([min(b, span["end"]) - max(a, span["start"]) for a, b in stalls] + [0])
    assert longest_stall < 0.5 * call_seconds, (longest_stall, call_seconds)


# --- the cache ------------------------------------------------------------------------------

def test_get_model_loads_once(monkeypatch):
    salvo.clear_cache()
    monkeypatch.delenv("SALVO_THREADS", raising=False)
    models = []
    barrier = threading.Barrier(8)

    def get():
        barrier.wait()
        models.append(salvo.get_model(MODEL, task="classify", threads=1))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(m is models[0] for m in models)
    info = salvo.cache_info()
    assert len(info) == 1 and info[0]["loads"] == 1 and info[0]["options"] == {"task": "classify", "threads": 1}
    assert salvo.get_model(str(MODEL) + "/", task="classify", threads=1) is models[0]  # same folder
    assert salvo.get_model(MODEL, task="classify", threads=2) is not models[0]  # other options
    monkeypatch.setenv("SALVO_THREADS", "1")
    assert salvo.get_model(MODEL, task="classify") is models[0]  # threads=None resolves first
    assert salvo.get_model(MODEL, task="classify").threads == 1
    salvo.clear_cache()
    assert salvo.cache_info() == []


def test_default_threads(monkeypatch):
    monkeypatch.delenv("SALVO_THREADS", raising=False)
    assert salvo.default_threads() == 0  # not in Spark, Ray or Dask: every core
    assert salvo.Model(MODEL).threads == len(os.sched_getaffinity(0))
    assert salvo.Model(MODEL, threads=1).threads == 1


# --- errors ---------------------------------------------------------------------------------

def test_bad_path():
    with pytest.raises(salvo.Error) as e:
        salvo.Model("/nonexistent/model")
    assert isinstance(e.value, RuntimeError)
    assert "/nonexistent/model" in str(e.value) and e.value.code in ("model", "io")


def test_corrupt_model(tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(MODEL, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(salvo.Error) as e:
        salvo.Model(folder)
    assert e.value.code == "model" and "model.safetensors" in str(e.value)


def test_wrong_task():
    tokenizer = salvo.Model(MODEL, task="tokenize")
    with pytest.raises(salvo.Error) as e:
        tokenizer.embed(["a text"])
    assert e.value.code == "model" and "cannot embed" in str(e.value)
    with pytest.raises(ValueError):
        salvo.Model(MODEL, task="translate")
    with pytest.raises(salvo.Error) as e:
        salvo.Model(MODEL, dtype="fp4")
    assert e.value.code == "invalid_argument"
    with pytest.raises(TypeError):
        salvo.Model(MODEL).embed("one string")


def test_library_log_goes_to_logging(tmp_path):
    """The library writes nothing to stderr; its warnings reach logging.getLogger("salvo")."""
    code = (
        "import logging, salvo\n"
        "records = []\n"
        "class H(logging.Handler):\n"
        "    def emit(self, r): records.append((r.levelname, r.getMessage()))\n"
        "logging.getLogger('salvo').addHandler(H())\n"
        f"salvo.Model({str(MODEL)!r}, dtype='bf16', threads=1).embed(['a text'])\n"
        "print(records)\n"
    )
    # Capping oneDNN at AVX2 makes bf16 unavailable on any CPU, so loading warns.
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    records = eval(out.stdout)
    assert any(level == "WARNING" and "bf16 cannot run here" in message for level, message in records), records
    assert out.stderr == ""


def test_arrow_export_of_every_type():
    """Each salvo column type reaches Arrow as documented; validity and bools become bitmaps."""
    import datetime

    record = salvo._salvo._every_type_batch().to_arrow()
    record.validate(full=True)
    types = {f.name: f.type for f in record.schema}
    assert types == {"bool": pa.bool_(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
                     "timestamp": pa.timestamp("us", tz="UTC"), "binary": pa.binary(), "json": pa.string(),
                     "nested": pa.list_(pa.field("element", pa.list_(pa.field("element", pa.int64()))))}
    assert record.schema.metadata == {b"salvo.test": b"every type"}
    for r in range(11):
        row = {name: record.column(name)[r].as_py() for name in record.schema.names}
        if r % 4 == 3:
            assert all(v is None for v in row.values()), row
            continue
        assert row["bool"] == (r % 3 == 0) and row["int32"] == -r and row["int64"] == 1 << (30 + r)
        assert row["float64"] == r / 4.0 and row["binary"] == bytes([r]) * r
        assert row["timestamp"] == datetime.datetime(2023, 11, 14, 22, 13, 20, r, tzinfo=datetime.timezone.utc)
        assert json.loads(row["json"]) == ({"row": r} if r % 2 else "text")
        assert row["nested"] == [[r] * (k + 1) for k in range(r % 3)]
