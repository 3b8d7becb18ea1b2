"""salvo inside Ray Data (a local Ray): map_batches with salvo.ray.Predictor as an actor pool,
Parquet in and out, in each batch format, checked against the salvo CLI."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import salvo.ray
from conftest import MODEL
from engines import TOL, BAD_UTF8_ID, NULL_IDS, check_embeddings, check_labels, input_table, write_input

ray = pytest.importorskip("ray")

PATH = str(MODEL)


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    # Logical CPUs: two actors (one CPU each) and the Parquet read tasks must all fit, or the read
    # tasks wait forever for a CPU the actors hold.
    ray.init(num_cpus=4, include_dashboard=False, object_store_memory=256 << 20, log_to_driver=False,
             _temp_dir=str(tmp_path_factory.mktemp("ray")), configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_in") / "texts"
    write_input(folder, input_table(), files=4)
    return folder


@pytest.fixture(scope="module")
def utf8_data(tmp_path_factory):
    # numpy and pandas batches decode the strings before salvo sees them: no bytes that are not UTF-8.
    folder = tmp_path_factory.mktemp("ray_in") / "utf8"
    write_input(folder, input_table(bad_utf8=False), files=4)
    return folder


def run(source, out, batch_format, **kwargs):
    ds = ray.data.read_parquet(str(source), override_num_blocks=4)  # both actors get blocks
    ds = ds.map_batches(salvo.ray.Predictor, fn_constructor_kwargs=dict(path=PATH, **kwargs), concurrency=2,
                        batch_format=batch_format, batch_size=64)
    ds.write_parquet(str(out))
    return pq.read_table(str(out))


def test_pyarrow_batches(ray_local, data, tmp_path, reference, reference_labels):
    out = run(data, tmp_path / "embed", "pyarrow")  # the "error" column by default
    assert out.column_names == ["id", "text", "section", "embedding", "error"]
    ids = input_table().column("id").to_pylist()
    check_embeddings(out, "embedding", reference, ids, null_rows="null", error_col="error",
                     bad_ids=NULL_IDS | {BAD_UTF8_ID})
    errors = dict(zip(out.column("id").to_pylist(), out.column("error").to_pylist()))
    assert errors[BAD_UTF8_ID].startswith("text is not valid UTF-8") and errors[min(NULL_IDS)] == "the input is null"

    out = run(data, tmp_path / "classify", "pyarrow", task="classify", top_k=2, error_col=None)
    assert out.column_names == ["id", "text", "section", "label", "score", "top_labels", "top_scores"]
    check_labels(out, reference_labels, ids, bad_ids=NULL_IDS | {BAD_UTF8_ID})


@pytest.mark.parametrize("batch_format", ["numpy", "pandas"])
def test_numpy_and_pandas_batches(ray_local, utf8_data, tmp_path, reference, reference_labels, batch_format):
    ids = input_table(bad_utf8=False).column("id").to_pylist()
    out = run(utf8_data, tmp_path / "embed", batch_format)
    assert out.column_names == ["id", "text", "section", "embedding", "error"]
    embedding = out.column("embedding")
    if batch_format == "numpy":
        # A 2-D array per batch: Ray stores it as a tensor column; NaN rows for bad texts.
        matrix = np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in embedding.to_pylist()])
        out = out.set_column(out.column_names.index("embedding"), "embedding", pa.array(list(matrix)))
        check_embeddings(out, "embedding", reference, ids, null_rows="nan", error_col="error")
    else:
        check_embeddings(out, "embedding", reference, ids, null_rows="null", error_col="error")

    if batch_format == "numpy":  # labels as object arrays; the pandas path is the same as embed's
        out = run(utf8_data, tmp_path / "classify", batch_format, task="classify")
        check_labels(out, reference_labels, ids)


def test_numpy_classify_top_k_with_bad_batches(ray_local, texts, reference_labels):
    """numpy batches of classify with top_k: top_scores is a float32 (N, k) array (NaN rows for bad
    texts), the labels and errors object arrays, so that Ray stores one column type across clean
    batches, batches with a bad row and a batch of bad rows only."""
    # Batches of two, in order: clean, one bad row, only bad rows, clean.
    ids = [0, 1, 1000, 2, 1001, 1002, 3, 4]
    rows = [None if i in NULL_IDS else texts[i] for i in ids]
    source = ray.data.from_arrow(pa.table({"id": pa.array(ids, pa.int64()), "text": pa.array(rows, pa.string()),
                                           "section": [f"s{i % 7}" for i in ids]}))
    ds = source.map_batches(salvo.ray.Predictor, fn_constructor_kwargs=dict(path=PATH, task="classify", top_k=2),
                            concurrency=1, batch_format="numpy", batch_size=2)
    out = ds.to_pandas()
    assert list(out.columns) == ["id", "text", "section", "label", "score", "top_labels", "top_scores", "error"]
    assert sorted(out["id"]) == sorted(ids)
    def column(name):  # None for pandas' missing values
        return [None if v is None or (np.ndim(v) == 0 and pd.isna(v)) else v for v in out[name]]

    check_labels(pa.table({"id": column("id"), "label": column("label"),
                           "score": pa.array(column("score"), pa.float64())}), reference_labels, ids)
    for row_id, labels, scores, error in zip(column("id"), column("top_labels"), column("top_scores"),
                                             column("error")):
        scores = np.asarray(scores, dtype=np.float32)
        assert scores.shape == (2,), (row_id, scores)
        if row_id in NULL_IDS:
            assert labels is None and np.isnan(scores).all() and error == "the input is null", row_id
        else:
            want = reference_labels[row_id]
            assert list(labels) == want["top_labels"][:2] and error is None, row_id
            np.testing.assert_allclose(scores, want["top_scores"][:2], atol=TOL, rtol=0)


def test_threads_follow_ray_cpus(ray_local):
    """Inside a Ray worker a model's default threads are the CPUs Ray assigned it."""
    @ray.remote
    def threads():
        import salvo

        return salvo.default_threads(), salvo.Model(PATH).threads

    assert ray.get(threads.options(num_cpus=1).remote()) == (1, 1)
    assert ray.get(threads.options(num_cpus=2).remote()) == (2, 2)
