"""embed, classify and tokenize on files: outputs complete, in order, and equal to the PyTorch reference."""
import csv
import json
import unittest

import numpy as np
import torch

from cli_harness import (EXAMPLE_MODEL, CliTestCase, make_random_model, read_jsonl, run_salvo, sample_texts, sanitized,
                         write_jsonl)
from salvo_ref import torch_bert


def reference_outputs(model_dir, token_rows, task, pooling="mean", normalize=True):
    """Runs the PyTorch reference on salvo's own token ids (tokenizer parity is tested separately)."""
    _, module = torch_bert.load(model_dir)
    outs = []
    with torch.inference_mode():
        for ids in token_rows:
            x = torch.tensor([ids])
            mask = torch.ones_like(x)
            if task == "classify":
                outs.append(torch.softmax(module(x, mask), -1)[0].numpy())
            else:
                bert = module.bert if hasattr(module, "bert") else module
                outs.append(torch_bert.pool(bert(x, mask), mask, pooling, normalize)[0].numpy())
    return np.stack(outs)


class BatchCliTest(CliTestCase):
    def tokenize(self, model, inp, *extra):
        out = self.path("tokens.jsonl")
        run_salvo("tokenize", "--model", model, "--input", inp, "--output", out, *extra)
        return read_jsonl(out)

    def test_embed_matches_pytorch_in_input_order(self):
        texts = sample_texts(120)
        inp = write_jsonl(self.path("in.jsonl"), [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
        out = self.path("out.jsonl")
        # Small batches and window so that sorting, several batches and reordering are all exercised.
        proc = run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out,
                         "--batch-tokens", "700", "--batch-rows", "9", "--sort-window", "50")
        rows = read_jsonl(out)
        self.assertEqual([r["id"] for r in rows], [f"r{i}" for i in range(len(texts))])
        self.assertRegex(proc.stderr, r"salvo embed: 120 rows, 0 errors, .* rows/s, .* tokens/s, \d+ batches, "
                                      r"padding [\d.]+%")
        self.assertNotIn("\r", proc.stderr)  # no progress redraws when stderr is not a terminal
        tokens = [r["input_ids"] for r in self.tokenize(EXAMPLE_MODEL, inp)]
        ref = reference_outputs(EXAMPLE_MODEL, tokens, "embed")
        got = np.array([r["embedding"] for r in rows], dtype=np.float32)
        self.assertEqual(got.shape, ref.shape)
        self.assertLess(np.abs(got - ref).max(), 1e-4)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)

    def test_classify_labels_scores_and_top_k(self):
        texts = sample_texts(40)
        inp = write_jsonl(self.path("in.jsonl"), [{"id": i, "text": t} for i, t in enumerate(texts)])
        out = self.path("out.jsonl")
        run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--top-k", "3",
                  "--all-scores")
        rows = read_jsonl(out)
        with open(f"{EXAMPLE_MODEL}/config.json") as f:
            labels = json.load(f)["id2label"]
        label_list = [labels[str(i)] for i in range(len(labels))]
        tokens = [r["input_ids"] for r in self.tokenize(EXAMPLE_MODEL, inp)]
        ref = reference_outputs(EXAMPLE_MODEL, tokens, "classify")
        for i, row in enumerate(rows):
            self.assertEqual(row["id"], i)
            scores = np.array(row["scores"])  # every label's score, in label order
            self.assertEqual(len(scores), len(label_list))
            self.assertLess(np.abs(scores - ref[i]).max(), 1e-4)
            self.assertAlmostEqual(scores.sum(), 1.0, places=5)
            self.assertEqual(row["label"], label_list[int(ref[i].argmax())])
            self.assertEqual(row["score"], max(row["scores"]))
            self.assertEqual(row["top_labels"][0], row["label"])
            self.assertEqual(len(row["top_labels"]), 3)
            self.assertEqual(row["top_scores"], sorted(row["top_scores"], reverse=True))
            self.assertEqual(row["top_scores"][0], row["score"])

    def test_sentence_transformers_pooling_and_npy_output(self):
        model = make_random_model(self.path("model"), "--pooling", "cls")
        texts = sample_texts(30)
        inp = write_jsonl(self.path("in.jsonl"), [{"text": t} for t in texts])
        out = self.path("out.npy")
        proc = run_salvo("embed", "--model", model, "--input", inp, "--output", out)
        self.assertIn("CLS pooling", proc.stderr)
        got = np.load(out)
        self.assertEqual(got.dtype, np.float32)
        tokens = [r["input_ids"] for r in self.tokenize(model, inp)]
        ref = reference_outputs(model, tokens, "embed", pooling="cls", normalize=False)
        self.assertEqual(got.shape, ref.shape)
        self.assertLess(np.abs(got - ref).max(), 1e-4)

    def test_csv_in_and_out(self):
        inp = self.path("in.csv")
        with open(inp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "body"])
            w.writerow(["a", "A game of chess, with \"quotes\"\nand two lines"])
            w.writerow(["b", "Fonts for the console"])
        out = self.path("out.csv")
        run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--text-field", "body")
        with open(out, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["id"] for r in rows], ["a", "b"])
        for r in rows:
            self.assertTrue(r["label"])
            self.assertTrue(0 < float(r["score"]) <= 1)
            self.assertEqual(r["error"], "")

    def test_keep_columns_are_copied_with_their_values(self):
        inp = write_jsonl(self.path("in.jsonl"), [
            {"id": 1, "text": "chess engine", "lang": "en", "meta": {"n": 2}},
            {"id": 2, "text": "font family", "lang": None},
            {"id": 3, "body": "no text"},
        ])
        out = self.path("out.jsonl")
        run_salvo("classify", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--keep-columns", "lang,meta")
        rows = read_jsonl(out)
        # A null value is left out of a JSON row.
        self.assertEqual([(r["id"], r.get("lang"), r.get("meta")) for r in rows],
                         [(1, "en", {"n": 2}), (2, None, None), (3, None, None)])
        self.assertIn("label", rows[0])
        self.assertIn("error", rows[2])
        csv_out = self.path("out.csv")
        run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", csv_out, "--keep-columns", "lang")
        with open(csv_out, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(list(rows[0].keys()), ["id", "lang", "embedding", "error"])
        self.assertEqual([r["lang"] for r in rows], ["en", "", ""])
        # The text field itself may be kept too.
        run_salvo("tokenize", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--keep-columns", "text")
        rows = read_jsonl(out)
        self.assertEqual([r.get("text") for r in rows], ["chess engine", "font family", None])
        self.assertEqual(["input_ids" in r for r in rows], [True, True, False])

    def test_tokenize_truncates_with_special_tokens(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"id": 1, "text": "word " * 300}, {"id": 2, "text": ""}])
        rows = self.tokenize(EXAMPLE_MODEL, inp, "--max-length", "16")
        self.assertEqual(len(rows[0]["input_ids"]), 16)
        self.assertEqual(len(rows[1]["input_ids"]), 2)  # [CLS] [SEP]
        self.assertEqual(rows[0]["input_ids"][0], rows[1]["input_ids"][0])
        self.assertEqual(rows[0]["input_ids"][-1], rows[1]["input_ids"][-1])
        self.assertEqual(rows[0]["token_type_ids"], [0] * 16)

    def test_thread_counts_agree(self):
        inp = write_jsonl(self.path("in.jsonl"), [{"text": t} for t in sample_texts(40)])
        outs = []
        for threads in ("1", "2"):
            out = self.path(f"out{threads}.npy")
            run_salvo("embed", "--model", EXAMPLE_MODEL, "--input", inp, "--output", out, "--threads", threads)
            outs.append(np.load(out))
        self.assertLess(np.abs(outs[0] - outs[1]).max(), 1e-5)


    @unittest.skipIf(sanitized(), "a sanitizer build's memory is not the product's")
    def test_memory_stays_bounded_on_a_large_input(self):
        """A 200 MB input must not be held in memory: queues and the sort window bound the working set."""
        import subprocess
        import sys
        from cli_harness import SALVO
        inp = self.path("big.jsonl")
        line = json.dumps({"text": " ".join(sample_texts(50))[:2000]}) + "\n"
        rows = (200 << 20) // len(line)
        with open(inp, "w") as f:
            for _ in range(rows):
                f.write(line)
        out = self.path("big.out.jsonl")
        # Measured in a fresh parent so that no earlier child's peak is counted.
        probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        proc = subprocess.run([sys.executable, "-c", probe, SALVO, "tokenize", "--model", EXAMPLE_MODEL, "--input",
                               inp, "--output", out, "--quiet"], check=True, capture_output=True, text=True)
        peak_mb = int(proc.stdout) / 1024
        with open(out, "rb") as f:
            self.assertEqual(sum(1 for _ in f), rows)
        self.assertLess(peak_mb, 150, f"peak RSS {peak_mb:.0f} MB for a 200 MB input")


if __name__ == "__main__":
    import unittest
    unittest.main()
