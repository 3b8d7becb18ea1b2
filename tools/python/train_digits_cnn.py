"""Trains a small CNN on scikit-learn's bundled 8x8 digits (offline), exports it to TorchScript, and
writes the held-out digits as Parquet: the example `salvo predict` classifies.

    python tools/python/train_digits_cnn.py --out examples/digits

Writes OUT/digits_cnn.pt (TorchScript), OUT/digits.parquet (id, pixels: 64 floats in [0, 1], label)
and OUT/reference.json (PyTorch's logits for the first rows and the test accuracy). Deterministic.
"""
import argparse
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.datasets import load_digits


class DigitsCnn(torch.nn.Module):
    """Two convolutions and a linear layer: about 98% on held-out digits."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        )
        self.classifier = torch.nn.Linear(32 * 4 * 4, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(images), 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # 1797 x 8 x 8, pixels 0-16
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[:360], order[360:]

    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(images[train]).unsqueeze(1)
    y = torch.from_numpy(labels[train])
    for _ in range(args.epochs):
        for batch in torch.randperm(len(train)).split(64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(images[test]).unsqueeze(1))
    accuracy = float((logits.argmax(1).numpy() == labels[test]).mean())

    scripted = torch.jit.script(model)
    scripted.save(os.path.join(args.out, "digits_cnn.pt"))
    table = pa.table({
        "id": pa.array([int(i) for i in test], pa.int64()),
        "pixels": pa.array([images[i].reshape(-1).tolist() for i in test], pa.list_(pa.float32())),
        "label": pa.array([int(labels[i]) for i in test], pa.int64()),
    })
    pq.write_table(table, os.path.join(args.out, "digits.parquet"), row_group_size=128)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "test_accuracy": accuracy, "rows": len(test)}, f, indent=1)
    print(f"test accuracy {accuracy:.4f} on {len(test)} held-out digits -> {args.out}")


if __name__ == "__main__":
    main()
