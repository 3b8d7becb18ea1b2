"""salvo predict end to end, with PyTorch (the venv's) as the reference: the digits example from
Parquet (a list<float> column), bad input rows, models returning a tuple or a dict, int64 inputs,
and batches of any size giving the same outputs.

Run by ctest (e2e_test_predict) with the venv's Python; SALVO_BIN names the binary.
"""
import json
import os
import unittest

import numpy as np
import pyarrow.parquet as pq
import torch

from cli_harness import REPO, CliTestCase, read_jsonl, run_salvo, write_jsonl

DIGITS = os.path.join(REPO, "examples", "digits")


class SmallNet(torch.nn.Module):
    """Sums and scales its input: outputs easy to compute exactly in the test."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x.reshape(x.shape[0], 6)))


class TupleNet(torch.nn.Module):
    def forward(self, x: torch.Tensor):
        flat = x.reshape(x.shape[0], -1)
        return flat.sum(1), flat * 2.0


class DictNet(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return {"total": x.sum(1) + y, "scaled": x * 0.5}


class IntNet(torch.nn.Module):
    """Takes int64 ids, as an embedding lookup would, and returns int64 and float outputs."""

    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(100, 2)

    def forward(self, ids: torch.Tensor):
        return {"doubled": ids * 2 + 1, "looked_up": self.table(ids).sum(1)}


def save_scripted(module, path):
    torch.manual_seed(0)
    module = module.eval()
    torch.jit.script(module).save(path)
    return torch.jit.load(path)


class PredictTest(CliTestCase):
    def predict(self, model, source, out, *args):
        run_salvo("predict", "--model", model, "--input", source, "--output", out, "--quiet", *args)
        return read_jsonl(out)

    def test_digits_from_parquet_match_pytorch(self):
        source = os.path.join(DIGITS, "digits.parquet")
        model_path = os.path.join(DIGITS, "digits_cnn.pt")
        rows = self.predict(model_path, source, self.path("digits.jsonl"), "--input-columns", "pixels",
                            "--input-tensor-shapes", "[[1,8,8]]", "--keep-columns", "label")
        table = pq.read_table(source)
        pixels = np.array(table.column("pixels").to_pylist(), dtype=np.float32)
        labels = np.array(table.column("label").to_pylist())
        self.assertEqual(len(rows), len(labels))
        model = torch.jit.load(model_path).eval()
        with torch.no_grad():
            want = model(torch.from_numpy(pixels).reshape(-1, 1, 8, 8)).numpy()
        got = np.array([r["output"] for r in rows], dtype=np.float32)
        self.assertEqual(got.shape, want.shape)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)  # logits up to ~50: float32 rounding of other batch shapes
        self.assertEqual([r["label"] for r in rows], labels.tolist())
        self.assertTrue(all("error" not in r for r in rows))
        accuracy = float((got.argmax(1) == labels).mean())
        self.assertEqual(accuracy, float((want.argmax(1) == labels).mean()))
        self.assertGreater(accuracy, 0.95)
        # The same rows as Parquet output: the logits are a list<float> column.
        out = self.path("digits.parquet")
        run_salvo("predict", "--model", model_path, "--input", source, "--output", out, "--input-columns", "pixels",
                  "--input-tensor-shapes", "[[1,8,8]]", "--keep-columns", "label,pixels", "--quiet")
        written = pq.read_table(out)
        np.testing.assert_allclose(np.array(written.column("output").to_pylist(), dtype=np.float32), want, atol=1e-5,
                                   rtol=1e-5)
        self.assertEqual(written.column("pixels").to_pylist(), table.column("pixels").to_pylist())
        self.assertEqual(str(written.column("pixels").type.value_type), "float")

    def test_folder_output_and_resume(self):
        # Regression: a folder output (parts, manifest, _SUCCESS) crashed predict (SIGSEGV) when the
        # job's identity asked a tensor model's session for its featurizer, which it has none of.
        source = os.path.join(DIGITS, "digits.parquet")
        model_path = os.path.join(DIGITS, "digits_cnn.pt")
        args = ["--input-columns", "pixels", "--input-tensor-shapes", "[[1,8,8]]", "--keep-columns", "label"]
        single = self.predict(model_path, source, self.path("digits.jsonl"), *args)
        folder = self.path("parts") + "/"
        for attempt in ("first", "resumed"):
            with self.subTest(run=attempt):
                run_salvo("predict", "--model", model_path, "--input", source, "--output", folder, "--quiet",
                          "--part-rows", "500", *args, *(["--resume"] if attempt == "resumed" else []))
                self.assertTrue(os.path.exists(os.path.join(folder, "_SUCCESS")))
                written = pq.read_table(folder)
                self.assertEqual(written.column("label").to_pylist(), [r["label"] for r in single])
                np.testing.assert_allclose(np.array(written.column("output").to_pylist(), dtype=np.float32),
                                           np.array([r["output"] for r in single], dtype=np.float32), atol=1e-5)

    def test_bad_rows_become_error_rows(self):
        model_path = self.path("small.pt")
        model = save_scripted(SmallNet(), model_path)
        good = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [[1, 2, 3], [4, 5, 6]], [-1, 0, 1, 2, 3, 4]]
        rows = [{"x": good[0]}, {"x": [1, 2, 3]}, {"x": None}, {"x": ["a", "b", "c", "d", "e", "f"]},
                {"x": good[1]}, {}, {"x": "123456"}, {"x": [1, 2, 3, 4, 5, None]}, {"x": good[2]}]
        source = write_jsonl(self.path("in.jsonl"), rows)
        out = self.predict(model_path, source, self.path("out.jsonl"), "--input-columns", "x",
                           "--input-tensor-shapes", "[[2,3]]")
        self.assertEqual(len(out), len(rows))
        errors = {i: r.get("error", "") for i, r in enumerate(out)}
        self.assertIn("has 3 values; its shape [2,3] takes 6", errors[1])
        self.assertIn('input column "x" is null', errors[2])
        self.assertIn("not a number or an array of numbers", errors[3])
        self.assertIn('input column "x" is null', errors[5])  # absent
        self.assertIn("not a number or an array of numbers", errors[6])
        self.assertIn("not a number or an array of numbers", errors[7])
        self.assertTrue(errors[1].startswith("line 2: "), errors[1])
        with torch.no_grad():
            want = model(torch.tensor([np.ravel(g) for g in good], dtype=torch.float32)).numpy()
        for k, i in enumerate([0, 4, 8]):
            self.assertNotIn("error", out[i])
            np.testing.assert_allclose(out[i]["output"], want[k], atol=1e-6)
        for i in [1, 2, 3, 5, 6, 7]:
            self.assertNotIn("output", out[i])

    def test_tuple_and_dict_outputs(self):
        tuple_path = self.path("tuple.pt")
        tuple_model = save_scripted(TupleNet(), tuple_path)
        rng = np.random.default_rng(1)
        xs = rng.normal(size=(23, 4)).astype(np.float32)
        ys = rng.normal(size=23).astype(np.float32)
        source = write_jsonl(self.path("xy.jsonl"), [{"x": x.tolist(), "y": float(y), "k": i}
                                                     for i, (x, y) in enumerate(zip(xs, ys))])
        out = self.predict(tuple_path, source, self.path("tuple.jsonl"), "--input-columns", "x",
                           "--input-tensor-shapes", "[[4]]", "--keep-columns", "k")
        with torch.no_grad():
            total, doubled = tuple_model(torch.from_numpy(xs))
        self.assertEqual([r["k"] for r in out], list(range(23)))
        np.testing.assert_allclose([r["output_0"] for r in out], total.numpy(), atol=1e-5)
        np.testing.assert_allclose([r["output_1"] for r in out], doubled.numpy(), atol=1e-6)

        dict_path = self.path("dict.pt")
        dict_model = save_scripted(DictNet(), dict_path)
        out = self.predict(dict_path, source, self.path("dict.jsonl"), "--input-columns", "x,y",
                           "--input-tensor-shapes", "[[4],[]]")
        with torch.no_grad():
            want = dict_model(torch.from_numpy(xs), torch.from_numpy(ys))
        np.testing.assert_allclose([r["total"] for r in out], want["total"].numpy(), atol=1e-5)
        np.testing.assert_allclose([r["scaled"] for r in out], want["scaled"].numpy(), atol=1e-6)

    def test_int64_inputs(self):
        model_path = self.path("ints.pt")
        model = save_scripted(IntNet(), model_path)
        ids = np.random.default_rng(2).integers(0, 100, size=(30, 5))
        # From JSONL and from a Parquet list<int64> column (decoded straight to numbers).
        import pyarrow as pa
        sources = [write_jsonl(self.path("ids.jsonl"), [{"ids": row.tolist()} for row in ids]),
                   self.path("ids.parquet")]
        pq.write_table(pa.table({"ids": pa.array(ids.tolist(), pa.list_(pa.int64()))}), sources[1])
        with torch.no_grad():
            want = model(torch.from_numpy(ids))
        for source in sources:
            out = self.predict(model_path, source, self.path("ids_out.jsonl"), "--input-columns", "ids",
                               "--input-tensor-shapes", "[[5]]", "--input-dtypes", "int64")
            self.assertEqual([r["doubled"] for r in out], want["doubled"].tolist(), source)
            self.assertTrue(all(isinstance(v, int) for r in out for v in r["doubled"]))
            np.testing.assert_allclose([r["looked_up"] for r in out], want["looked_up"].numpy(), atol=1e-6)

    def test_rows_the_model_fails_on_become_error_rows(self):
        # Regression: a forward() that threw (an id out of the embedding's range in one row) ended the
        # whole job as an "internal error" (exit 1) with the TorchScript traceback. The batch is now
        # split until the failing rows are alone; they become error rows naming the reason, the
        # others are answered as they would be.
        model_path = self.path("ints.pt")
        model = save_scripted(IntNet(), model_path)
        ids = np.random.default_rng(3).integers(0, 100, size=(40, 5))
        bad = [3, 17, 18, 39]
        for i in bad:
            ids[i, 2] = 100 + i  # past the table's 100 rows
        source = write_jsonl(self.path("ids.jsonl"), [{"ids": row.tolist()} for row in ids])
        good = [i for i in range(len(ids)) if i not in bad]
        with torch.no_grad():
            want = model(torch.from_numpy(ids[good]))
        for batch in ("16", "1"):
            out = self.predict(model_path, source, self.path("out.jsonl"), "--input-columns", "ids",
                               "--input-tensor-shapes", "[[5]]", "--input-dtypes", "int64", "--batch-rows", batch)
            self.assertEqual(len(out), len(ids))
            for i in bad:
                self.assertIn("the model's forward() failed", out[i].get("error", ""))
                self.assertIn("index out of range", out[i]["error"])
                self.assertNotIn("Traceback", out[i]["error"])
            self.assertEqual([out[i]["doubled"] for i in good], want["doubled"].tolist())
        # A model that fails on every row: every row an error row, one line each; the job ends 0.
        class Throws(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if bool(x.sum() > -1e30):
                    raise ValueError("this model always fails")
                return x
        throws = self.path("throws.pt")
        save_scripted(Throws(), throws)
        proc = run_salvo("predict", "--model", throws, "--input", source, "--output", self.path("t.jsonl"),
                         "--input-columns", "ids", "--input-tensor-shapes", "[[5]]")
        self.assertIn("40 errors", proc.stderr)
        rows = read_jsonl(self.path("t.jsonl"))
        self.assertTrue(all("this model always fails" in r["error"] for r in rows), rows[0])

    def test_a_model_saved_by_a_newer_pytorch_is_a_model_error(self):
        # Regression: an operator libtorch lacks ("Unknown builtin op") was an internal error, exit 1,
        # with a 14-line traceback. It is a model error (exit 4) in one line that says why.
        class Attention(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.nn.functional.scaled_dot_product_attention(x, x, x)
        path = self.path("sdpa.pt")
        torch.jit.script(Attention()).save(path)
        source = write_jsonl(self.path("x.jsonl"), [{"x": [0.5] * 8}])
        proc = run_salvo("predict", "--model", path, "--input", source, "--output", self.path("o.jsonl"),
                         "--input-columns", "x", "--input-tensor-shapes", "[[2,4]]", check=False)
        if proc.returncode == 0:
            self.skipTest("this libtorch has scaled_dot_product_attention")
        self.assertEqual(proc.returncode, 4, proc.stderr)
        self.assertIn("cannot load this TorchScript model", proc.stderr)
        self.assertIn("scaled_dot_product_attention", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_batch_size_does_not_change_outputs(self):
        source = os.path.join(DIGITS, "digits.parquet")
        model_path = os.path.join(DIGITS, "digits_cnn.pt")
        outputs = []
        for batch in ("7", "1000"):
            rows = self.predict(model_path, source, self.path(f"b{batch}.jsonl"), "--input-columns", "pixels",
                                "--input-tensor-shapes", "[[1,8,8]]", "--keep-columns", "label", "--batch-rows",
                                batch)
            outputs.append(np.array([r["output"] for r in rows], dtype=np.float32))
        self.assertEqual(outputs[0].shape, outputs[1].shape)
        np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
