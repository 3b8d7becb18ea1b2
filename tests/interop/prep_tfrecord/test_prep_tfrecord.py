"""salvo prep's TFRecord output read by the real consumers: TensorFlow (tf.data.TFRecordDataset with
parse_single_example / parse_single_sequence_example) and a PyTorch IterableDataset over the shards
(examples/spoken-digits/tfrecord_dataset.py). Values must be identical to the same run's Parquet
output, which pyarrow reads."""
import pathlib
import sys
import tempfile
import unittest

import numpy as np
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "examples/spoken-digits"))
from salvo_ref import prep_fixtures as fx  # noqa: E402

import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
import tfrecord_dataset  # noqa: E402

N_MELS, FRAMES = 32, 60
AUDIO = ["--features", "audio-logmel", "--sample-rate", "16000", "--n-fft", "512", "--hop-length", "256",
         "--n-mels", str(N_MELS), "--frames", str(FRAMES), "--label-from", "parent", "--quiet"]


class PrepTfRecordInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        cls.root = root
        digits = fx.spoken_digits(root / "digits", per_digit=2, formats="wav,flac")
        cls.digits = digits
        fx.run_salvo("prep", "--input", digits, "--output", root / "ref.parquet", *AUDIO)
        cls.want = {r["path"]: r for r in pq.read_table(root / "ref.parquet").to_pylist()}
        assert all(r["error"] is None for r in cls.want.values())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def shards(self, name, *flags):
        out = self.root / name
        fx.run_salvo("prep", "--input", self.digits, "--output", out, *AUDIO, *flags)
        self.assertTrue((out / "_SUCCESS").exists())
        return sorted(str(p) for p in out.glob("part-*"))

    def test_tensorflow_reads_examples_from_gzip_shards(self):
        files = self.shards("examples", "--num-shards", "3", "--compression", "gzip")
        self.assertEqual(len(files), 3)
        spec = {
            "features": tf.io.FixedLenFeature([N_MELS * FRAMES], tf.float32),
            "shape": tf.io.FixedLenFeature([2], tf.int64),
            "label": tf.io.FixedLenFeature([], tf.string),
            "path": tf.io.FixedLenFeature([], tf.string),
        }
        seen = 0
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            ex = tf.io.parse_single_example(record, spec)
            want = self.want[ex["path"].numpy().decode()]
            np.testing.assert_array_equal(ex["features"].numpy(), np.asarray(want["features"], dtype=np.float32))
            self.assertEqual(ex["shape"].numpy().tolist(), [N_MELS, FRAMES])
            self.assertEqual(ex["label"].numpy().decode(), want["label"])
            seen += 1
        self.assertEqual(seen, len(self.want))

    def test_tensorflow_reads_sequence_examples(self):
        files = self.shards("sequences", "--num-shards", "2", "--record-type", "SequenceExample")
        seen = 0
        for record in tf.data.TFRecordDataset(files):
            context, lists = tf.io.parse_single_sequence_example(
                record,
                context_features={"path": tf.io.FixedLenFeature([], tf.string),
                                  "shape": tf.io.FixedLenFeature([2], tf.int64)},
                sequence_features={"features": tf.io.FixedLenSequenceFeature([N_MELS], tf.float32)})
            want = self.want[context["path"].numpy().decode()]
            # A feature list of frames: the time-major transpose of librosa's [n_mels, frames].
            expected = np.asarray(want["features"], dtype=np.float32).reshape(N_MELS, FRAMES).T
            np.testing.assert_array_equal(lists["features"].numpy(), expected)
            self.assertEqual(context["shape"].numpy().tolist(), [FRAMES, N_MELS])
            seen += 1
        self.assertEqual(seen, len(self.want))

    def test_pytorch_iterable_dataset_over_shards(self):
        files = self.shards("torch", "--num-shards", "4", "--compression", "gzip")
        labels = sorted({r["label"] for r in self.want.values()})

        def to_tensors(ex):
            return (ex["path"][0].decode(), torch.from_numpy(ex["features"]).reshape(*ex["shape"].tolist()),
                    labels.index(ex["label"][0].decode()))

        ds = tfrecord_dataset.TfRecordDataset(files, transform=to_tensors)
        seen = {}
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        for path, features, label in loader:
            want = self.want[path]
            self.assertTrue(torch.equal(features, torch.tensor(want["features"]).reshape(N_MELS, FRAMES)))
            self.assertEqual(label, labels.index(want["label"]))
            seen[path] = True
        self.assertEqual(len(seen), len(self.want), "every record once, over two workers")


if __name__ == "__main__":
    unittest.main()
