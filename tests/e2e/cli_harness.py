"""Shared helpers of the end-to-end tests: run the salvo binary, make models and input files."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SALVO = os.environ.get("SALVO_BIN", os.path.join(REPO, "build", "salvo"))
EXAMPLE_MODEL = os.path.join(REPO, "examples", "debian-sections")


def run_salvo(*args, check=True):
    """Runs salvo with stderr captured (so it is not a terminal); returns the CompletedProcess."""
    proc = subprocess.run([SALVO, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"salvo {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def sanitized():
    """Whether the salvo under test is a sanitizer build (scripts/test.sh --sanitize): its memory
    use and speed are not the product's, so tests of those skip."""
    libs = subprocess.run(["ldd", SALVO], capture_output=True, text=True).stdout
    return "libasan" in libs or "libtsan" in libs


def make_random_model(out_dir, *extra):
    """A random-weight checkpoint (tools/python/make_random_bert.py) sharing the example's tokenizer."""
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "python", "make_random_bert.py"), "--shape", "tiny",
                    "--tokenizer", os.path.join(EXAMPLE_MODEL, "tokenizer.json"), "--out", out_dir, *extra],
                   check=True, capture_output=True)
    return out_dir


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def sample_texts(n=200):
    """Real texts of mixed lengths from the shipped corpus (English descriptions)."""
    import gzip
    texts = []
    with gzip.open(os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz"), "rt") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] == "en":
                texts.append(row["text"])
            if len(texts) == n:
                break
    # Mix very short texts with long ones so batches hold both.
    return [t if i % 4 else t.split()[0] for i, t in enumerate(texts)]


class CliTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="salvo-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)
