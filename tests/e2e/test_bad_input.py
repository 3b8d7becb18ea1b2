"""Bad rows become error rows (counted, job goes on, exit 0); unusable jobs fail with one clear line."""
import json
import os
import shutil

import numpy as np

from cli_harness import EXAMPLE_MODEL, CliTestCase, make_random_model, read_jsonl, run_salvo


class BadRowsTest(CliTestCase):
    def test_every_bad_row_is_reported_in_place(self):
        inp = self.path("in.jsonl")
        with open(inp, "wb") as f:
            f.write(b'{"id": 0, "text": "a good row about chess games"}\n')
            f.write(b'{"id": 1, "body": "no text field"}\n')
            f.write(b'{"id": 2, "text": "invalid \xff\xfe utf-8"}\n')
            f.write(b'{"id": 3, "text": "unterminated\n')
            f.write(b'{"id": 4, "text": 42}\n')
            f.write(b'{"id": 5, "text": "' + b"x" * 3000 + b'"}\n')
            f.write(b'["not", "an", "object"]\n')
            f.write(b'{"id": 7, "text": "another good row about fonts"}\n')
        for task, fmt in (("embed", "jsonl"), ("classify", "jsonl"), ("tokenize", "jsonl"), ("embed", "npy")):
            with self.subTest(task=task, fmt=fmt):
                out = self.path(f"out.{fmt}")
                proc = run_salvo(task, "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                                 "--max-record-bytes", "2000")
                self.assertEqual(proc.returncode, 0)
                self.assertIn(f"salvo {task}: 8 rows, 6 errors", proc.stderr)
                if fmt == "npy":
                    m = np.load(out)
                    self.assertEqual(m.shape[0], 8)
                    self.assertEqual([bool(np.isnan(r).all()) for r in m],
                                     [False, True, True, True, True, True, True, False])
                    continue
                rows = read_jsonl(out)
                self.assertEqual(len(rows), 8)
                errors = [r.get("error") for r in rows]
                self.assertIsNone(errors[0])
                self.assertIsNone(errors[7])
                self.assertEqual(errors[1], 'line 2: missing text field "text"')
                self.assertEqual(errors[2], "line 3: not valid UTF-8 (byte 27)")
                self.assertRegex(errors[3], "^line 4: invalid JSON")
                self.assertEqual(errors[4], 'line 5: text field "text" is a number, not a string')
                self.assertRegex(errors[5], "^line 6: .*over the limit of 2000")
                self.assertEqual(errors[6], "line 7: a JSON array, not an object")
                self.assertEqual([r.get("id") for r in rows], [0, 1, None, None, 4, None, None, 7])

    def test_oversize_text_within_limits_is_truncated_not_rejected(self):
        inp = self.path("in.jsonl")
        with open(inp, "w") as f:
            f.write(json.dumps({"id": 1, "text": "supercalifragilistic " * 20000}) + "\n")
        out = self.path("out.jsonl")
        run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out)
        with open(f"{EXAMPLE_MODEL}/config.json") as f:
            hidden = json.load(f)["hidden_size"]
        self.assertEqual(len(read_jsonl(out)[0]["embedding"]), hidden)


class FatalErrorsTest(CliTestCase):
    def setUp(self):
        super().setUp()
        self.inp = self.path("in.jsonl")
        with open(self.inp, "w") as f:
            f.write('{"text": "hello"}\n')

    def assert_fails(self, code, message, *args):
        proc = run_salvo(*args, check=False)
        self.assertEqual(proc.returncode, code, proc.stderr)
        self.assertIn(message, proc.stderr)
        self.assertFalse(os.path.exists(self.path("out.jsonl")))
        return proc

    def test_usage_errors(self):
        self.assert_fails(2, "--model is required", "embed", "--input", self.inp, "--output", self.path("out.jsonl"))
        self.assert_fails(2, "unknown output format", "embed", "--model", EXAMPLE_MODEL, "--input", self.inp,
                          "--output", self.path("out.xlsx"))
        self.assert_fails(2, "unknown input format", "embed", "--model", EXAMPLE_MODEL, "--input",
                          self.path("in.txt"), "--output", self.path("out.jsonl"))
        self.assert_fails(2, "max length 4096 is over the model's max_position_embeddings", "embed", "--model",
                          EXAMPLE_MODEL, "--input", self.inp, "--output", self.path("out.jsonl"), "--max-length", "4096")

    def test_output_flags_the_output_would_ignore(self):
        """A flag the output cannot honour is a usage error, not a silent no-op."""
        job = ("tokenize", "--model", EXAMPLE_MODEL, "--input", self.inp)
        cases = (
            ("--compression gzip is for Parquet and TFRecord output", "--output", self.path("out.jsonl"),
             "--compression", "gzip"),
            ("--compression zstd is for Parquet and TFRecord output", "--output", self.path("parts") + "/",
             "--format", "csv", "--compression", "zstd"),
            ("only TFRecord is compressed as a whole file", "--output", self.path("out.jsonl.gz")),
            ("--num-shards writes a folder of TFRecord shards", "--output", self.path("out.parquet"),
             "--num-shards", "3"),
            ("--record-type SequenceExample is for TFRecord output; jsonl is not TFRecord", "--output",
             self.path("out.jsonl"), "--record-type", "SequenceExample"),
            ("--record-type Example is for TFRecord output; parquet is not TFRecord", "--output",
             self.path("parts") + "/", "--record-type", "Example"),
            ("--format is for a folder output", "--output", self.path("out.jsonl"), "--format", "csv"),
            ("--part-rows is for a folder output", "--output", self.path("out.jsonl"), "--part-rows", "5"),
            ("--part-rows is for a folder of part files; --num-shards writes 2 TFRecord shards", "--output",
             self.path("shards") + "/", "--num-shards", "2", "--part-rows", "5"),
            ("--compression none contradicts the name", "--output", self.path("out.tfrecord.gz"), "--compression",
             "none"),
            ("--compression gzip contradicts the name", "--output", self.path("out.tfrecord.zz"), "--compression",
             "gzip"),
            (".npy holds a float matrix, and tokenize writes no fixed-width vector column", "--output",
             self.path("out.npy")),
            ("--format: npy not in", "--output", self.path("parts") + "/", "--format", "npy"),
        )
        for message, *args in cases:
            with self.subTest(args=args):
                proc = self.assert_fails(2, message, *job, *args)
                self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
                self.assertEqual(os.listdir(self.tmp), ["in.jsonl"])
        # classify writes a vector only with --all-scores: a folder of .npy parts failed at its first
        # part, after the start line, leaving the folder's lock behind.
        self.assert_fails(2, ".npy holds a float matrix, and classify writes no fixed-width vector column (--all-scores "
                          "does)", "classify", "--model", EXAMPLE_MODEL, "--input", self.inp, "--output",
                          self.path("parts") + "/", "--format", "npy")
        self.assertEqual(os.listdir(self.tmp), ["in.jsonl"])
        # What they are for still works.
        run_salvo(*job, "--output", self.path("out.parquet"), "--compression", "zstd")
        run_salvo(*job, "--output", self.path("shards.tfrecord"), "--num-shards", "2", "--compression", "gzip")
        run_salvo(*job, "--output", self.path("parts") + "/", "--format", "csv", "--part-rows", "5")

    def test_the_output_cannot_be_the_input(self):
        with open(self.inp, "rb") as f:
            before = f.read()
        for output in (self.inp, os.path.join(self.tmp, ".", "in.jsonl")):
            proc = self.assert_fails(2, "is the input", "tokenize", "--model", EXAMPLE_MODEL, "--input", self.inp,
                                     "--output", output)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        with open(self.inp, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_missing_files(self):
        proc = self.assert_fails(4, "does not exist", "embed", "--model", self.path("nope"), "--input", self.inp,
                                 "--output", self.path("out.jsonl"))
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        self.assert_fails(3, "cannot open", "embed", "--model", EXAMPLE_MODEL, "--input", self.path("missing.jsonl"),
                          "--output", self.path("out.jsonl"))
        self.assert_fails(3, "does not exist", "embed", "--model", EXAMPLE_MODEL, "--input", self.inp,
                          "--output", self.path("no/such/dir/out.jsonl"))
        self.assert_fails(3, "in.jsonl is a file, not a folder", "embed", "--model", EXAMPLE_MODEL, "--input",
                          self.inp, "--output", os.path.join(self.inp, "out.jsonl"))

    def test_broken_models(self):
        model = self.path("model")
        shutil.copytree(EXAMPLE_MODEL, model)
        weights = os.path.join(model, "model.safetensors")
        with open(weights, "r+b") as f:
            f.truncate(os.path.getsize(weights) // 2)
        proc = self.assert_fails(4, "model.safetensors", "embed", "--model", model, "--input", self.inp,
                                 "--output", self.path("out.jsonl"))
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

        shutil.rmtree(model)
        shutil.copytree(EXAMPLE_MODEL, model)
        with open(os.path.join(model, "config.json")) as f:
            config = json.load(f)
        config["model_type"] = "gpt2"
        with open(os.path.join(model, "config.json"), "w") as f:
            json.dump(config, f)
        self.assert_fails(4, "gpt2", "embed", "--model", model, "--input", self.inp, "--output", self.path("out.jsonl"))

        self.assert_fails(4, "no classification head", "classify", "--model", make_random_model(self.path("emb")),
                          "--input", self.inp, "--output", self.path("out.jsonl"))


if __name__ == "__main__":
    import unittest
    unittest.main()
