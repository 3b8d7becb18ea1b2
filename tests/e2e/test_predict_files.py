"""salvo predict on files: a featurizer (audio log-mel) and a TorchScript model in one session. The
outputs must equal the model run in PyTorch on what `salvo prep` computes for the same files."""
import json
import os
import subprocess
import unittest

import numpy as np
import soundfile
import torch

from cli_harness import SALVO, CliTestCase

AUDIO = ["--features", "audio-logmel", "--sample-rate", "16000", "--n-fft", "512", "--hop-length", "160",
         "--n-mels", "40", "--frames", "50"]


class PoolAndProject(torch.nn.Module):
    """[batch, 1, 40, 50] log-mel -> 3 scores: mean over time per band, then a fixed projection."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.project = torch.nn.Linear(40, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x.mean(dim=3).squeeze(1) / 10.0)


class PredictOnFilesTest(CliTestCase):
    def setUp(self):
        super().setUp()
        self.clips = self.path("clips")
        rng = np.random.default_rng(0)
        for label, freq in (("low", 220.0), ("mid", 880.0), ("high", 3000.0)):
            os.makedirs(os.path.join(self.clips, label))
            for i in range(4):
                t = np.arange(int(16000 * (0.3 + 0.1 * i))) / 16000
                wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
                soundfile.write(os.path.join(self.clips, label, f"{i}.wav"), wave.astype(np.float32), 16000)
        with open(os.path.join(self.clips, "mid", "broken.wav"), "wb") as f:
            f.write(b"RIFF\x00\x00\x00\x00WAVEnot really")
        self.model = self.path("pool.pt")
        torch.jit.script(PoolAndProject().eval()).save(self.model)

    def run_salvo(self, *args):
        proc = subprocess.run([SALVO, *args], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def test_outputs_equal_pytorch_on_the_prepared_features(self):
        prepared = self.path("features.jsonl")
        self.run_salvo("prep", "--input", self.clips, "--output", prepared, "--label-from", "parent", *AUDIO)
        predicted = self.path("predicted.jsonl")
        proc = self.run_salvo("predict", "--model", self.model, "--input", self.clips, "--output", predicted,
                              "--label-from", "parent", "--keep-columns", "label,path", "--batch-rows", "5",
                              "--input-tensor-shapes", "[[1,40,50]]", *AUDIO)
        self.assertIn("13 rows, 1 errors", proc.stderr)
        with open(prepared) as f:
            features = {r["path"]: r for r in map(json.loads, f)}
        with open(predicted) as f:
            rows = [json.loads(line) for line in f]
        self.assertEqual(len(rows), 13)
        model = torch.jit.load(self.model)
        checked = 0
        for row in rows:
            if row["path"].endswith("broken.wav"):
                self.assertIn("error", row)
                self.assertNotIn("output", row)
                continue
            want = model(torch.tensor(features[row["path"]]["features"], dtype=torch.float32).reshape(1, 1, 40, 50))
            np.testing.assert_allclose(row["output"], want[0].detach().numpy(), atol=1e-5)
            self.assertEqual(row["label"], os.path.basename(os.path.dirname(row["path"])))
            checked += 1
        self.assertEqual(checked, 12)

    def test_features_that_do_not_fit_the_model_are_error_rows(self):
        out = self.path("bad-shape.jsonl")
        self.run_salvo("predict", "--model", self.model, "--input", self.clips, "--output", out,
                       "--input-tensor-shapes", "[[1,40,49]]", *AUDIO)
        with open(out) as f:
            rows = [json.loads(line) for line in f]
        self.assertTrue(all("error" in r for r in rows))
        self.assertIn("do not fit the model's input", rows[0]["error"])

    def test_input_columns_and_features_are_exclusive(self):
        proc = subprocess.run([SALVO, "predict", "--model", self.model, "--input", self.clips, "--output",
                               self.path("x.jsonl"), "--input-columns", "content", *AUDIO],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("drop --input-columns", proc.stderr)


if __name__ == "__main__":
    unittest.main()
