"""--dtype bf16 / int8 / auto: embeddings close to f32's, the path that runs named, clean fallback.

The bounds are the ones salvo promises (docs/benchmarks.md): every row's cosine to the f32 embedding at
least 0.999 for bf16 and 0.99 for int8. On a CPU without AVX512_BF16 / AVX512_VNNI salvo runs f32 and says
so; the tests then check the warning instead of the numbers. ONEDNN_MAX_CPU_ISA (oneDNN's own switch) caps
the instructions salvo may use, which is how the fallback is exercised on any machine.
"""
import os
import re

import numpy as np

from cli_harness import EXAMPLE_MODEL, CliTestCase, make_random_model, read_jsonl, run_salvo, sample_texts, write_jsonl

BOUNDS = {"bf16": 0.999, "int8": 0.99}


def row_cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def compute_of(stderr):
    """The number format named on salvo's start line ("..., hidden 128, int8 (AVX512_VNNI), onednn)")."""
    m = re.search(r"hidden \d+, (f32|bf16|int8)\b", stderr)
    if not m:
        raise AssertionError(f"no number format on the start line:\n{stderr}")
    return m.group(1)


class DtypeTest(CliTestCase):
    def embed(self, model, inp, dtype, env=None, *extra):
        out = self.path(f"out-{dtype}.npy")
        saved = dict(os.environ)
        try:
            os.environ.update(env or {})
            proc = run_salvo("embed", "--model", model, "--input", inp, "--output", out, "--dtype", dtype, *extra)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return np.load(out), proc.stderr

    def check_formats(self, model, texts):
        inp = write_jsonl(self.path("in.jsonl"), [{"text": t} for t in texts])
        f32, err = self.embed(model, inp, "f32")
        self.assertEqual(compute_of(err), "f32")
        for dtype, bound in BOUNDS.items():
            with self.subTest(dtype=dtype):
                got, err = self.embed(model, inp, dtype)
                if compute_of(err) == "f32":
                    self.assertRegex(err, rf"warning: dtype {dtype} cannot run here \(.+\); running f32")
                    continue
                self.assertEqual(compute_of(err), dtype)
                self.assertEqual(got.shape, f32.shape)
                cos = row_cosines(got, f32)
                self.assertGreaterEqual(cos.min(), bound, f"{dtype}: worst row {cos.argmin()}")
                self.assertFalse(np.array_equal(got, f32), f"{dtype} output is bit-identical to f32")

    def test_example_model_within_bounds(self):
        self.check_formats(EXAMPLE_MODEL, sample_texts(150))

    def test_random_minilm_shape_within_bounds(self):
        model = make_random_model(self.path("minilm"), "--shape", "minilm", "--seed", "3")
        self.check_formats(model, sample_texts(40))

    def test_int8_classify_agrees_with_f32(self):
        texts = sample_texts(150)
        inp = write_jsonl(self.path("in.jsonl"), [{"id": i, "text": t} for i, t in enumerate(texts)])
        labels = {}
        for dtype in ("f32", "int8"):
            out = self.path(f"{dtype}.jsonl")
            proc = run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--dtype", dtype)
            if dtype == "int8" and compute_of(proc.stderr) != "int8":
                self.skipTest("no AVX512_VNNI here: " + proc.stderr.splitlines()[0])
            labels[dtype] = [r["label"] for r in read_jsonl(out)]
        agree = np.mean([a == b for a, b in zip(labels["f32"], labels["int8"])])
        self.assertGreaterEqual(agree, 0.95)

    def test_auto_names_its_choice(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"text": t} for t in sample_texts(20)])
        _, err = self.embed(EXAMPLE_MODEL, inp, "auto")
        self.assertRegex(err, r"hidden 128, (int8|bf16|f32)\b.*chosen by dtype auto")
        if compute_of(err) != "f32":
            self.assertRegex(err, r"min cosine (0\.99\d{3}|1\.00000) to f32 on the probe batch")

    def test_capped_instruction_set_falls_back_to_f32(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"text": t} for t in sample_texts(20)])
        capped = {"ONEDNN_MAX_CPU_ISA": "AVX2"}  # also changes the f32 kernels: compare under the same cap
        f32, _ = self.embed(EXAMPLE_MODEL, inp, "f32", capped)
        for dtype in ("bf16", "int8"):
            with self.subTest(dtype=dtype):
                got, err = self.embed(EXAMPLE_MODEL, inp, dtype, capped)
                self.assertRegex(err, rf"warning: dtype {dtype} cannot run here \(.+\); running f32")
                self.assertEqual(compute_of(err), "f32")
                np.testing.assert_array_equal(got, f32)
        _, err = self.embed(EXAMPLE_MODEL, inp, "auto", capped)
        self.assertRegex(err, r"hidden 128, f32, chosen by dtype auto \(int8 unavailable: .*bf16 unavailable")

    def test_openblas_with_int8_is_a_usage_error(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"text": "hello"}])
        proc = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", self.path("o.npy"),
                         "--gemm", "openblas", "--dtype", "int8", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("dtype int8 needs the onednn matrix library", proc.stderr)

    def test_unknown_dtype_is_a_usage_error(self):
        proc = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", "x.jsonl", "--output", "y.npy",
                         "--dtype", "fp8", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--dtype", proc.stderr)
