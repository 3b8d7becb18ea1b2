#!/usr/bin/python3
"""Trains a small CNN on the log-mel TFRecords `salvo prep` made of the spoken digits, reports its
accuracy on the held-out clips, and exports it to TorchScript.

    /usr/bin/python3 examples/spoken-digits/train.py --train OUT/train --test OUT/test --model digits.pt

Debian's Python with Debian's PyTorch (python3-torch 1.13), which matches Debian's libtorch: the
TorchScript file loads in `salvo predict` (a log-mel featurizer in front of a TorchScript model).
Input: [batch, 1, n_mels, frames] float32 log-mel in dB; output: [batch, 10] logits over LABELS."""
import argparse
import glob
import json
import os
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import tfrecord_dataset  # noqa: E402

LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class DigitNet(nn.Module):
    def __init__(self, n_mels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(64, len(LABELS))

    def forward(self, x):
        # Per-clip standardisation inside the model, so that callers pass salvo's features as they are.
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True) + 1e-5
        return self.head(self.body((x - mean) / std).flatten(1))


def load(folder):
    files = sorted(glob.glob(os.path.join(folder, "part-*")))
    if not files:
        sys.exit(f"no part-* TFRecord shards in {folder}")

    def to_tensors(ex):
        features = torch.from_numpy(ex["features"]).reshape(1, *ex["shape"].tolist())
        return features, LABELS.index(ex["label"][0].decode())

    rows = list(tfrecord_dataset.TfRecordDataset(files, transform=to_tensors))
    x = torch.stack([r[0] for r in rows])
    y = torch.tensor([r[1] for r in rows])
    return x, y


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--model", default="digits.pt")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    x_train, y_train = load(args.train)
    x_test, y_test = load(args.test)
    model = DigitNet(x_train.shape[2])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 32):
            batch = order[i:i + 32]
            # Time shifts as augmentation: a clip may start anywhere in its window.
            xb = torch.roll(x_train[batch], shifts=int(torch.randint(-8, 9, (1,))), dims=3)
            opt.zero_grad()
            loss = loss_fn(model(xb), y_train[batch])
            loss.backward()
            opt.step()
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, train accuracy {accuracy(model, x_train, y_train):.3f}")
    test_accuracy = accuracy(model, x_test, y_test)
    print(f"held-out accuracy: {test_accuracy:.3f} on {len(y_test)} clips ({len(y_train)} training clips)")
    model.eval()
    scripted = torch.jit.trace(model, x_test[:1])
    scripted.save(args.model)
    with open(pathlib.Path(args.model).with_suffix(".json"), "w") as f:
        json.dump({"labels": LABELS, "input_shape": list(x_test.shape[1:]), "held_out_accuracy": test_accuracy}, f)
    print(f"TorchScript model: {args.model} (labels in {pathlib.Path(args.model).with_suffix('.json')})")


if __name__ == "__main__":
    main()
