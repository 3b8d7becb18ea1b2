"""salvo inside Dask: embeds and classifies the example descriptions on a LocalCluster of two
worker processes (each loads the model once; the client never does), writes Parquet.

    pip install .                      # from the repository root
    python examples/dask_embed.py [output_folder]
"""

import json
import os
import pathlib
import sys
import tempfile

import dask.dataframe as dd
import pandas as pd
from distributed import Client, LocalCluster

import salvo.dask

HERE = pathlib.Path(__file__).resolve().parent
MODEL = str(HERE / "debian-sections")

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster):
        rows = pd.read_json(HERE / "descriptions.jsonl", lines=True)
        ddf = dd.from_pandas(rows, npartitions=4)

        output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.mkdtemp(), "embeddings")
        salvo.dask.embed(ddf, "text", MODEL).to_parquet(output)
        print(f"embeddings -> {output}")

        sections = salvo.dask.classify(ddf, "text", MODEL, top_k=3).compute()
        with open(HERE / "descriptions.labels.jsonl") as f:
            truth = {r["id"]: r["label"] for r in map(json.loads, f)}
        right = sum(truth[i] == label for i, label in zip(sections["id"], sections["label"]))
        print(sections[["id", "label", "score"]].head())
        print(f"sections: {right} of {len(truth)} right")
