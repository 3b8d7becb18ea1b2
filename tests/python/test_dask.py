"""salvo inside Dask: salvo.dask.embed/classify through map_partitions on a LocalCluster of two
worker processes, Parquet in and out, checked against the salvo CLI; the client never loads the
model and each worker loads it once."""

import pyarrow.parquet as pq
import pytest

import salvo
import salvo.dask
from conftest import MODEL
from engines import BAD_UTF8_ID, NULL_IDS, check_embeddings, check_labels, input_table, write_input

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

PATH = str(MODEL)
BAD = NULL_IDS | {BAD_UTF8_ID}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import dask

    dask.config.set({"temporary-directory": str(tmp_path_factory.mktemp("dask"))})
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       memory_limit="1GiB")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_in") / "texts"
    write_input(folder, input_table(), files=4)
    return folder


def test_embed(client, data, tmp_path, reference):
    salvo.clear_cache()
    ddf = dd.read_parquet(str(data))
    out = salvo.dask.embed(ddf, "text", PATH)
    assert list(out.columns) == ["id", "text", "section", "embedding", "error"]  # "error" by default
    assert salvo.cache_info() == []  # meta is given: the client never ran (or loaded) the model
    out.to_parquet(str(tmp_path / "out"))
    assert salvo.cache_info() == []
    table = pq.read_table(str(tmp_path / "out"))
    check_embeddings(table, "embedding", reference, input_table().column("id").to_pylist(), null_rows="null",
                     error_col="error", bad_ids=BAD)
    errors = dict(zip(table.column("id").to_pylist(), table.column("error").to_pylist()))
    assert errors[BAD_UTF8_ID].startswith("text is not valid UTF-8")
    assert {errors[i] for i in NULL_IDS} == {"the input is null"}


def test_classify(client, data, tmp_path, reference_labels):
    ddf = dd.read_parquet(str(data))
    out = salvo.dask.classify(ddf, "text", PATH, top_k=2, error_col=None)
    assert list(out.columns) == ["id", "text", "section", "label", "score", "top_labels", "top_scores"]
    out = out.compute()
    assert list(out.columns) == ["id", "text", "section", "label", "score", "top_labels", "top_scores"]
    assert out["score"].dtype.name.startswith("float")
    rows = out.reset_index(drop=True)
    import pyarrow as pa

    table = pa.Table.from_pandas(rows, preserve_index=False)
    check_labels(table, reference_labels, input_table().column("id").to_pylist(), bad_ids=BAD)


def test_one_model_per_worker(client, data):
    """Every worker that ran a partition loaded each model once, with its thread count as threads."""
    salvo.dask.embed(dd.read_parquet(str(data)), "text", PATH).compute()
    infos = client.run(salvo.cache_info)
    assert len(infos) == 2
    entries = [e for worker in infos.values() for e in worker]
    assert entries and all(e["loads"] == 1 and e["options"]["threads"] == 1 for e in entries), infos
