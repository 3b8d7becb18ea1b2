"""Shared fixtures of the Python package tests: the example model, its texts, and the salvo CLI as
the reference (the package and the CLI must give the same numbers on the same rows)."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "debian-sections"
TEXTS = ROOT / "examples" / "descriptions.jsonl"


def salvo_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("SALVO_BIN", ROOT / "build" / "salvo"))
    if not path.exists():
        pytest.skip(f"the salvo CLI is not built ({path}); set SALVO_BIN")
    return path


def read_texts(limit=None) -> list:
    with open(TEXTS, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows[:limit] if limit else rows


def cli(task: str, texts: list, tmp: pathlib.Path, *flags: str):
    """Runs `salvo <task>` on texts (all good rows) and returns its output: a matrix for embed, the
    JSON rows otherwise."""
    source = tmp / f"cli_{task}_in.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
    out = tmp / (f"cli_{task}_out.npy" if task == "embed" else f"cli_{task}_out.jsonl")
    subprocess.run([str(salvo_bin()), task, "--model", str(MODEL), "--input", str(source), "--output", str(out),
                    "--quiet", *flags], check=True)
    if task == "embed":
        return np.load(out)
    with open(out, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def model_path() -> str:
    return str(MODEL)


@pytest.fixture(scope="session")
def texts() -> list:
    return [r["text"] for r in read_texts()]


@pytest.fixture(scope="session")
def reference(texts, tmp_path_factory) -> np.ndarray:
    """The CLI's embeddings of `texts`, row for row."""
    return cli("embed", texts, tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="session")
def reference_labels(texts, tmp_path_factory) -> list:
    """The CLI's classify rows of `texts` with --top-k 3."""
    return cli("classify", texts, tmp_path_factory.mktemp("cli"), "--top-k", "3")
