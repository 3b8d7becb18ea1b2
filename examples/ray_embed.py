"""salvo inside Ray Data: embeds and classifies the example descriptions with an actor pool of
two salvo.ray.Predictor actors, and checks the predicted sections against the true ones.

    pip install .                      # from the repository root
    python examples/ray_embed.py
"""

import json
import pathlib

import ray

import salvo.ray

HERE = pathlib.Path(__file__).resolve().parent
MODEL = str(HERE / "debian-sections")

ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
ds = ray.data.read_json(str(HERE / "descriptions.jsonl"))  # columns id, text

embedded = ds.map_batches(salvo.ray.Predictor, fn_constructor_kwargs={"path": MODEL}, concurrency=2,
                          batch_format="pyarrow", batch_size=128)
first = embedded.take(1)[0]
print(f"{first['id']}: embedding of {len(first['embedding'])} floats")

classified = ds.map_batches(salvo.ray.Predictor, fn_constructor_kwargs={"path": MODEL, "task": "classify"},
                            concurrency=2, batch_format="pyarrow", batch_size=128)
predicted = {row["id"]: row["label"] for row in classified.select_columns(["id", "label"]).take_all()}
with open(HERE / "descriptions.labels.jsonl") as f:
    truth = {r["id"]: r["label"] for r in map(json.loads, f)}
right = sum(predicted[k] == v for k, v in truth.items())
print(f"sections: {right} of {len(truth)} right")
ray.shutdown()
