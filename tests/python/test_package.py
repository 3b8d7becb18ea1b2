"""The salvo package on its own: every input type, zero-copy in and out, threads, the cache,
errors, logging, and the numbers against the salvo CLI."""

import gc
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import salvo
from conftest import MODEL, ROOT, cli

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


def test_missing_values_of_every_kind(model):
    """NaN of any float type (Ray's numpy batches give numpy.float32) and pd.NaT are nulls, as None,
    float NaN and pd.NA are; a number that is not NaN is not a string."""
    rows = np.array(["a text about chess", np.float32("nan"), pd.NaT, np.float64("nan"), np.float16("nan"),
                     np.float32(1.5)], dtype=object)
    emb, errors = model.embed(rows, return_errors=True)
    assert errors[:5] == [None] + ["the input is null"] * 4
    assert errors[5] == "the input is not a string (numpy.float32)", errors[5]
    assert np.isfinite(emb[0]).all() and np.isnan(emb[1:]).all()
    np.testing.assert_allclose(emb[0], model.embed(["a text about chess"])[0], atol=TOL, rtol=0)
    emb, errors = model.embed(np.array(["a", np.float32("nan"), pd.NaT], dtype=object), return_errors=True)
    assert errors == [None, "the input is null", "the input is null"]
    assert np.isfinite(emb[0]).all() and np.isnan(emb[1:]).all()


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
    assert len(info) == 1 and info[0]["loads"] == 1
    assert info[0]["options"]["task"] == "classify" and info[0]["options"]["threads"] == 1
    assert salvo.get_model(str(MODEL) + "/", task="classify", threads=1) is models[0]  # same folder
    assert salvo.get_model(MODEL, task="classify", threads=2) is not models[0]  # other options
    monkeypatch.setenv("SALVO_THREADS", "1")
    assert salvo.get_model(MODEL, task="classify") is models[0]  # threads=None resolves first
    assert salvo.get_model(MODEL, task="classify").threads == 1
    # Defaults given or left out are the same model.
    assert salvo.get_model(MODEL, task="classify", dtype="f32", replicas=1) is models[0]
    assert salvo.get_model(MODEL) is salvo.get_model(MODEL, task="embed")
    with pytest.raises(TypeError, match="unknown option"):
        salvo.get_model(MODEL, treads=1)
    salvo.clear_cache()
    assert salvo.cache_info() == []


def test_a_model_pickles_as_a_cached_load(monkeypatch):
    """A model a Spark UDF, Ray or Dask task closes over is shipped as its path and options, and
    loaded once per process where it is unpickled; threads=None resolves there."""
    import pickle

    salvo.clear_cache()
    monkeypatch.setenv("SALVO_THREADS", "1")
    original = salvo.Model(MODEL, task="classify", threads=None)
    first, second = pickle.loads(pickle.dumps(original)), pickle.loads(pickle.dumps(original))
    assert first is second and first is not original
    assert first.task == "classify" and first.threads == 1
    assert first.classify(["a graphics library"]).label == original.classify(["a graphics library"]).label
    assert salvo.cache_info()[0]["loads"] == 1
    # Unpickled in another process, from a folder given as a relative path.
    relative = os.path.relpath(MODEL)
    payload = pickle.dumps(salvo.Model(relative, threads=1))
    code = ("import pickle, sys, salvo\n"
            "m = pickle.loads(sys.stdin.buffer.read())\n"
            "print(m.embed(['a graphics library']).shape, salvo.cache_info()[0]['loads'])\n")
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, cwd="/", timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["(1,", f"{salvo.Model(MODEL).dim})", "1"]
    salvo.clear_cache()


def test_forked_child():
    """A forked child (multiprocessing's default start method on Linux, gunicorn --preload) gets a
    clear error from its parent's model instead of waiting forever on the parent's threads, and
    salvo.get_model loads the model anew in the child."""
    code = (
        "import multiprocessing as mp, salvo\n"
        f"path = {str(MODEL)!r}\n"
        "inherited = salvo.get_model(path, threads=1)\n"
        "inherited.embed(['a text'])\n"
        "def child(queue):\n"
        "    try:\n"
        "        inherited.embed(['a text'])\n"
        "        queue.put('ran')\n"
        "    except salvo.Error as e:\n"
        "        queue.put(e.code + ': ' + str(e))\n"
        "    fresh = salvo.get_model(path, threads=1)\n"
        "    queue.put((fresh is not inherited, fresh.embed(['a text']).shape, salvo.cache_info()[0]['loads']))\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('fork')\n"
        "    queue = ctx.Queue()\n"
        "    p = ctx.Process(target=child, args=(queue,))\n"
        "    p.start()\n"
        "    print(queue.get(timeout=60))\n"
        "    print(queue.get(timeout=60))\n"
        "    p.join(60)\n"
        "    print('exit', p.exitcode)\n"
        "    print(inherited.embed(['a text']).shape)\n"  # the parent's model still runs
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("invalid_argument: this model was loaded in process ") and "forked" in lines[0]
    assert lines[1].startswith("(True, (1, ") and lines[1].endswith(", 1)")
    assert lines[2] == "exit 0" and lines[3].startswith("(1, ")


def test_info_names_the_tokenizer():
    assert salvo.Model(MODEL).info["tokenizer"].startswith("WordPiece (BertNormalizer")
    data = ROOT / "tests" / "data" / "tokenizers"
    assert salvo.Model(data / "trained-bpe-bytelevel", task="tokenize").info["tokenizer"].startswith("BPE (ByteLevel)")
    assert salvo.Model(data / "trained-unigram", task="tokenize").info["tokenizer"].startswith("Unigram (")


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


def test_bad_arguments(model):
    """A DataFrame where a column belongs, an unordered collection, and counts out of range are
    refused with a message that says what is wrong."""
    frame = pd.DataFrame({"text": ["a graphics library", "a sound mixer"]})
    with pytest.raises(ValueError, match=r'one column.*df\["text"\]'):
        model.embed(frame[["text"]])
    np.testing.assert_array_equal(model.embed(frame["text"]), model.embed(list(frame["text"])))
    for unordered in ({"a text": 0}, {"a text"}, frozenset(["a text"])):
        with pytest.raises(TypeError, match="ordered sequence"):
            model.embed(unordered)
    for options, message in (({"threads": -3}, "threads must be at least 0"),
                             ({"max_length": -5}, "max_length must be at least 0"),
                             ({"batch_tokens": -1}, "batch_tokens must be at least 0"),
                             ({"replicas": 0}, "replicas must be at least 1")):
        with pytest.raises(ValueError, match=message):
            salvo.Model(MODEL, **options)
    with pytest.raises(TypeError, match="threads must be an integer"):
        salvo.Model(MODEL, threads=1.5)
    with pytest.raises(ValueError, match="top_k must be at least 0"):
        salvo.Model(MODEL, task="classify").classify(["a text"], top_k=-1)
    # Options of another task were ignored without a word.
    for options in ({"top_k": 2}, {"all_scores": True}):
        with pytest.raises(salvo.Error, match="apply to classify, not embed") as caught:
            model.run(["a text"], **options)
        assert caught.value.code == "invalid_argument"


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


# --- cross-encoders: score on text pairs ------------------------------------------------------

PAIR_MAX_LENGTH = 48


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    """A random-weight BERT cross-encoder, the pairs of the test and CrossEncoder.predict's scores
    (made in a child process: see cross_encoder_reference.py)."""
    folder = tmp_path_factory.mktemp("cross_encoder")
    subprocess.run([sys.executable, str(pathlib.Path(__file__).parent / "cross_encoder_reference.py"), str(folder),
                    str(PAIR_MAX_LENGTH)], check=True, capture_output=True)
    with open(folder / "reference.json") as f:
        reference = json.load(f)
    return str(folder), [tuple(p) for p in reference["pairs"]], reference


def test_score_equals_cross_encoder(cross_encoder):
    path, pairs, reference = cross_encoder
    want = np.array(reference["scores"], dtype=np.float32)
    # Pairs cut to max_length; scores that differ from pair to pair.
    assert max(reference["lengths"]) == PAIR_MAX_LENGTH and len(set(want.round(4))) > 3

    model = salvo.Model(path, task="score", max_length=PAIR_MAX_LENGTH, threads=2)
    got = model.score([a for a, _ in pairs], [b for _, b in pairs])
    assert got.dtype == np.float32 and got.shape == (len(pairs),)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    np.testing.assert_allclose(model.score(pairs), got, atol=0, rtol=0)  # (text, pair) tuples
    batch = model.run(pa.array([a for a, _ in pairs]), pairs=pd.Series([b for _, b in pairs]))
    assert batch.column_names == ["score", "error"]
    np.testing.assert_allclose(batch.column("score"), got, atol=0, rtol=0)


def test_score_bad_rows(cross_encoder):
    path, pairs, _ = cross_encoder
    model = salvo.Model(path, task="score", max_length=PAIR_MAX_LENGTH, threads=1)
    pairs = pairs[:3]
    firsts = [pairs[0][0], None, pairs[1][0], 5, pairs[2][0]]
    seconds = [pairs[0][1], "a passage", None, "x", pairs[2][1]]
    scores, errors = model.score(firsts, seconds, return_errors=True)
    good = model.score(pairs)
    np.testing.assert_allclose(scores[[0, 4]], good[[0, 2]], atol=0, rtol=0)
    assert np.isnan(scores[[1, 2, 3]]).all()
    assert errors[0] is None and errors[4] is None
    assert errors[1] == "the input is null" and errors[2] == "text pair: the input is null"
    assert errors[3] == "the input is not a string (int)"
    scores, errors = model.score([("a", "b"), "not a pair"], return_errors=True)
    assert not np.isnan(scores[0]) and np.isnan(scores[1])
    assert errors == [None, "the input is not a string (not a (text, pair) tuple)"]
    with pytest.raises(ValueError, match="rows"):
        model.score(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="score"):
        salvo.Model(MODEL, threads=1).run(["a"], pairs=["b"])
    with pytest.raises(salvo.Error) as e:
        salvo.Model(MODEL, task="score")  # a classifier with several labels: not a cross-encoder
    assert e.value.code == "model"
    # Regression: below the 3 special tokens of a pair nothing was truncated, and one long pair
    # failed the whole call ("bad token batch").
    with pytest.raises(salvo.Error, match="max length 2 leaves no room for a pair"):
        salvo.Model(path, task="score", max_length=2, threads=1).score([("fonts " * 200, "kernel")])


# --- TorchScript: predict on tensors -----------------------------------------------------------

DIGITS = ROOT / "examples" / "digits"


def torchscript_model(path, **options) -> "salvo.Model":
    """A TorchScript model; skipped when this build has no TorchScript plugin (no libtorch-dev),
    which the CMake test then says (SALVO_TORCHSCRIPT=1 when it built one)."""
    try:
        return salvo.Model(path, task="predict", **options)
    except salvo.Error as e:
        if "no TorchScript support" in str(e) and os.environ.get("SALVO_TORCHSCRIPT") != "1":
            pytest.skip(str(e))
        raise


def torch_reference(code: str, folder: pathlib.Path) -> dict:
    """Runs `code` (a script printing the path of the .npz it saved) with PyTorch in a child process,
    since the venv's torch and Debian's libtorch, which the plugin loads, abort each other in one
    process; returns the arrays. A file, not -c: torch.jit.script reads the source of classes."""
    script = folder / "reference.py"
    script.write_text("import numpy as np, torch\n" + code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, check=True, text=True)
    return dict(np.load(out.stdout.strip()))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits example's pixels (360 rows of 64 floats) and PyTorch's logits for them."""
    import pyarrow.parquet as pq

    pixels = np.array(pq.read_table(DIGITS / "digits.parquet").column("pixels").to_pylist(), dtype=np.float32)
    folder = tmp_path_factory.mktemp("digits")
    np.save(folder / "pixels.npy", pixels)
    want = torch_reference(
        f"m = torch.jit.load({str(DIGITS / 'digits_cnn.pt')!r}).eval()\n"
        f"x = torch.from_numpy(np.load({str(folder / 'pixels.npy')!r})).reshape(-1, 1, 8, 8)\n"
        "with torch.no_grad(): y = m(x).numpy()\n"
        f"np.savez({str(folder / 'want.npz')!r}, logits=y); print({str(folder / 'want.npz')!r})\n", folder)
    return pixels, want["logits"]


def test_predict_equals_pytorch(digits):
    pixels, want = digits
    model = torchscript_model(DIGITS / "digits_cnn.pt", threads=2, batch_rows=50)
    assert model.task == "predict"
    out = model.predict({"pixels": pixels.reshape(-1, 1, 8, 8)})
    assert list(out) == ["output"] and out["output"].dtype == np.float32 and out["output"].shape == want.shape
    # Logits reach ~50: float32 rounding differs with the batch's shape.
    np.testing.assert_allclose(out["output"], want, atol=1e-5, rtol=1e-5)
    # Flat rows reshaped as input_shapes says; a list of columns in forward()'s order.
    flat = model.predict([pixels], input_shapes=[[1, 8, 8]])["output"]
    np.testing.assert_allclose(flat, want, atol=1e-5, rtol=1e-5)
    out["output"][0] = 0  # the caller's own array
    with pytest.raises(ValueError, match="do not fit"):
        model.predict([pixels], input_shapes=[[1, 8, 9]])


def test_predict_bad_rows(digits):
    pixels, want = digits
    model = torchscript_model(DIGITS / "digits_cnn.pt", threads=1)
    rows = list(pixels[:6])
    rows[1] = None
    rows[2] = pixels[2][:10]
    rows[3] = "not numbers"
    rows[4] = float("nan")
    out, errors = model.predict(pd.Series(rows), input_shapes=[[1, 8, 8]], return_errors=True)
    logits = out["output"]
    assert logits.shape == (6, 10)
    np.testing.assert_allclose(logits[[0, 5]], want[[0, 5]], atol=1e-5, rtol=1e-5)
    assert np.isnan(logits[1:5]).all()
    assert errors == [None, 'input column "input" is null',
                      'input column "input" has 10 values; its shape [1,8,8] takes 64',
                      'input column "input" is not a number or an array of numbers', 'input column "input" is null', None]
    out, errors = model.predict({"pixels": [None, None]}, return_errors=True)
    assert out == {} and errors == ['input column "pixels" is null'] * 2
    # salvo.spark's predict route (for predict_batch_udf, whose output has no room for a reason)
    # warns for a batch with bad rows; called here as Spark calls it in a worker.
    import salvo.spark

    predict = salvo.spark.make_predict_fn(str(DIGITS / "digits_cnn.pt"), task="predict",
                                          input_tensor_shapes=[[1, 8, 8]], threads=1)()
    reason = r"^3 of 6 rows .*row 1: input column \"input_0\" is null.*return_errors=True\) gives each row's reason"
    with pytest.warns(salvo.BadRowsWarning, match=reason):
        logits = predict(np.array(rows[:4] + [pixels[4], pixels[5]], dtype=object))
    np.testing.assert_allclose(logits[[0, 4, 5]], want[[0, 4, 5]], atol=1e-5, rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", salvo.BadRowsWarning)
        np.testing.assert_allclose(predict(pixels[:3]), want[:3], atol=1e-5, rtol=1e-5)


def test_predict_several_inputs_and_outputs(tmp_path):
    """A model of two inputs (float32 and int64) returning a dict of a (3, 2) tensor and a scalar
    per row, and one returning a tuple: each output keeps its row shape."""
    path = tmp_path / "two.pt"
    want = torch_reference(
        "class Two(torch.nn.Module):\n"
        "    def forward(self, x: torch.Tensor, ids: torch.Tensor):\n"
        "        return {'scaled': x * 0.5 + ids.unsqueeze(1).unsqueeze(2).float(), 'total': x.sum((1, 2)), 'twice': ids * 2}\n"
        f"torch.jit.script(Two()).save({str(path)!r})\n"
        "x = torch.arange(30, dtype=torch.float32).reshape(5, 3, 2); ids = torch.arange(5) + 10\n"
        "y = torch.jit.load(" + repr(str(path)) + ")(x, ids)\n"
        f"np.savez({str(tmp_path / 'want.npz')!r}, **{{k: v.numpy() for k, v in y.items()}}); "
        f"print({str(tmp_path / 'want.npz')!r})\n", tmp_path)
    model = torchscript_model(path, threads=1, batch_rows=2)
    x = np.arange(30, dtype=np.float32).reshape(5, 3, 2)
    out = model.predict({"x": x, "ids": np.arange(5) + 10})
    assert list(out) == ["scaled", "total", "twice"]
    assert out["scaled"].shape == (5, 3, 2) and out["total"].shape == (5,) and out["twice"].dtype == np.int64
    for name in want:
        np.testing.assert_allclose(out[name], want[name], atol=1e-6, rtol=0)
    # Flat float rows for x, one per row; int64 ids told by input_dtypes.
    out = model.predict([list(x.reshape(5, 6)), [10, 11, 12, 13, 14]], input_shapes=[[3, 2], None],
                        input_dtypes=["float32", "int64"])
    np.testing.assert_allclose(out["scaled"], want["scaled"], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="rows"):
        model.predict({"x": x, "ids": np.arange(4)})
