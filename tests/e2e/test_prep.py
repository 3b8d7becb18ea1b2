"""salvo prep end to end: folders of good and bad files in, one row per file out, each bad file an
error row that names it, the job going on; binary-file inputs (globs, pathGlobFilter, partitions,
labels) for prep and for the other batch commands."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools/python"))
from salvo_ref import prep_fixtures as fx  # noqa: E402


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class PrepEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        cls.root = root
        digits = fx.spoken_digits(root / "digits", per_digit=1, formats="wav")
        audio = root / "audio"
        (audio / "label=good").mkdir(parents=True)
        (audio / "label=bad").mkdir(parents=True)
        wavs = sorted(digits.glob("*/*/*.wav"))
        for w in wavs[:3]:
            shutil.copy(w, audio / "label=good" / w.name.replace(".wav", f"-{w.parent.name}.wav"))
        fx.sox(wavs[0], audio / "label=good" / "clip.flac")
        fx.sox(wavs[1], audio / "label=good" / "clip.ogg")
        fx.sox(wavs[2], audio / "label=good" / "clip.mp3")
        data = wavs[0].read_bytes()
        (audio / "label=bad" / "truncated.wav").write_bytes(data[: len(data) // 3])
        (audio / "label=bad" / "empty.wav").write_bytes(b"")
        (audio / "label=bad" / "text.wav").write_text("not audio, just words\n")
        os.symlink(audio / "label=bad" / "deleted.wav", audio / "label=bad" / "unreadable.wav")
        cls.audio = audio

        images = root / "images"
        fx.icons(images / "good", sizes=("48x48",), categories=("devices", "places"), per_category=2)
        bad = images / "bad"
        bad.mkdir()
        (bad / "text.jpg").write_text("I am a text file with a .jpg name\n")
        (bad / "empty.png").write_bytes(b"")
        png = sorted((images / "good").glob("*/*.png"))[0].read_bytes()
        (bad / "truncated.png").write_bytes(png[: len(png) // 2])
        os.symlink(bad / "nowhere.png", bad / "unreadable.png")
        cls.images = images

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def prep(self, *args, name="out.jsonl"):
        out = self.root / name
        proc = fx.run_salvo("prep", "--output", out, *args)
        return read_jsonl(out), proc.stderr

    def test_audio_good_and_corrupt_files(self):
        rows, stderr = self.prep("--input", self.audio, "--features", "audio-logmel", "--sample-rate", "16000",
                                 "--n-mels", "40", "--hop-length", "160", "--n-fft", "400", "--keep-columns", "label")
        self.assertEqual(len(rows), 10)
        self.assertIn("10 files, 4 errors", stderr)
        by_name = {pathlib.Path(r["path"]).name: r for r in rows}
        for name in ("truncated.wav", "empty.wav", "text.wav", "unreadable.wav"):
            row = by_name[name]
            self.assertIsNotNone(row.get("error"), name)
            self.assertIn(str(self.audio / "label=bad" / name), row.get("error"), "the error names the file")
            self.assertIsNone(row.get("features"))
            self.assertEqual(row["label"], "bad", "partition columns are kept on error rows")
        self.assertIn("truncated", by_name["truncated.wav"]["error"])
        self.assertIn("cannot open", by_name["unreadable.wav"]["error"])
        for name in ("clip.flac", "clip.ogg", "clip.mp3"):
            row = by_name[name]
            self.assertIsNone(row.get("error"), f"{name}: {row.get('error')}")
            n_mels, frames = row["shape"]
            self.assertEqual(n_mels, 40)
            self.assertEqual(len(row.get("features")), n_mels * frames)
            self.assertEqual(row["label"], "good")

    def test_images_good_and_corrupt_files(self):
        rows, stderr = self.prep("--input", self.images, "--features", "image", "--resize", "32", "--crop", "28",
                                 "--label-from", "parent")
        self.assertIn("4 errors", stderr)
        errors = {pathlib.Path(r["path"]).name: r.get("error") for r in rows if r.get("error")}
        self.assertEqual(set(errors), {"text.jpg", "empty.png", "truncated.png", "unreadable.png"})
        self.assertIn("not a JPEG, PNG, WebP or GIF image", errors["text.jpg"])
        for name, error in errors.items():
            self.assertIn(name, error)
        good = [r for r in rows if not r.get("error")]
        self.assertEqual(len(good), 4)
        for r in good:
            self.assertEqual(r["shape"], [3, 28, 28])
            self.assertIn(r["label"], ("devices", "places"))

    def test_globs_filters_and_limits(self):
        rows, _ = self.prep("--input", f"{self.audio}/**/*.wav", "--features", "audio-logmel", "--glob", "t*",
                            "--recursive", "--keep-columns", "length")
        self.assertEqual(sorted(pathlib.Path(r["path"]).name for r in rows), ["text.wav", "truncated.wav"])
        self.assertNotIn("label", rows[0], "--recursive: no partition columns")
        rows, stderr = self.prep("--input", self.audio / "label=good", "--features", "audio-logmel",
                                 "--max-record-bytes", "1000", "--label-from", r"regex:label=(\w+)")
        self.assertTrue(all("--max-record-bytes" in r.get("error") for r in rows))
        self.assertTrue(all(r["label"] == "good" for r in rows))

    def test_sharded_gzip_tfrecord_and_success_marker(self):
        out = self.root / "shards"
        fx.run_salvo("prep", "--input", self.images / "good", "--output", out, "--features", "image", "--num-shards",
                     "3", "--compression", "gzip", "--resize", "16", "--crop", "16", "--quiet")
        names = sorted(p.name for p in out.iterdir())
        self.assertEqual(names, ["_SUCCESS"] + [f"part-0000{i}-of-00003.tfrecord.gz" for i in range(3)])

    def test_files_that_would_take_all_memory_or_hold_nan_are_error_rows(self):
        # Regression: a 2 MB WAV whose header says 1 Hz (22 billion samples at 22050 Hz), or a
        # 100000 x 1 PNG (6.5 billion pixels at a shorter side of 256) ended the job with
        # "internal error: std::bad_alloc", losing every other file; a NaN sample in a float WAV
        # gave plausible features, counted as good (librosa refuses the clip).
        import wave

        import numpy as np
        import soundfile
        from PIL import Image

        folder = self.root / "hostile-media"
        folder.mkdir()
        with wave.open(str(folder / "one-hertz.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(1)
            w.writeframes((np.sin(np.arange(1_000_000) * 0.3) * 3000).astype("<i2").tobytes())
        samples = (0.3 * np.sin(np.arange(22050) * 0.1)).astype("float32")
        samples[5000] = np.nan
        soundfile.write(folder / "nan.wav", samples, 22050, subtype="FLOAT")
        shutil.copy(sorted(self.audio.glob("label=good/*.wav"))[0], folder / "fine.wav")
        rows, stderr = self.prep("--input", folder, "--features", "audio-logmel", "--glob", "*.wav")
        errors = {pathlib.Path(r["path"]).name: r.get("error") for r in rows}
        self.assertIsNone(errors["fine.wav"])
        self.assertIn("would be 22050000000 samples at 22050 Hz, over the limit", errors["one-hertz.wav"])
        self.assertIn("not a finite number (NaN or infinity), at frame 5000", errors["nan.wav"])
        self.assertIn("3 files, 2 errors", stderr)
        Image.new("RGB", (100000, 1), (200, 10, 30)).save(folder / "strip.png")
        Image.new("RGB", (40, 30), (200, 10, 30)).save(folder / "fine.png")
        rows, stderr = self.prep("--input", folder, "--features", "image", "--glob", "*.png")
        errors = {pathlib.Path(r["path"]).name: r.get("error") for r in rows}
        self.assertIsNone(errors["fine.png"])
        self.assertIn("100000 x 1 pixels resized to a shorter side of 256 would be", errors["strip.png"])

    def test_raw_bytes_are_base64_in_text_outputs(self):
        # Regression: --raw features (and a kept content column) went into JSON Lines as a string,
        # every byte over 0x7f replaced by U+FFFD, exit 0; CSV got bytes that are not UTF-8.
        import base64
        import csv

        import pyarrow.parquet as pq

        args = ("--input", self.images / "good", "--features", "image", "--raw", "--resize", "8", "--crop", "8",
                "--keep-columns", "content", "--quiet")
        fx.run_salvo("prep", "--output", self.root / "raw.parquet", *args)
        table = pq.read_table(self.root / "raw.parquet").to_pylist()
        want = {r["path"]: (r["features"], r["content"]) for r in table}
        self.assertTrue(any(max(f) > 0x7F for f, _ in want.values()), "pixels over 127, which broke")
        rows, _ = self.prep(*args, name="raw.jsonl")
        fx.run_salvo("prep", "--output", self.root / "raw.csv", *args)
        with open(self.root / "raw.csv", newline="", encoding="utf-8") as f:
            csv_rows = list(csv.DictReader(f))
        for got in (rows, csv_rows):
            self.assertEqual(len(got), len(want))
            for r in got:
                features, content = want[r["path"]]
                self.assertEqual(base64.b64decode(r["features"], validate=True), features)
                self.assertEqual(base64.b64decode(r["content"], validate=True), content)

    def test_usage_errors_are_one_line(self):
        proc = fx.run_salvo("prep", "--input", self.images, "--output", self.root / "x.jsonl", "--features", "image",
                            "--keep-columns", "nope", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn('no column "nope"', proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        proc = fx.run_salvo("prep", "--input", self.root / "missing", "--output", self.root / "x.jsonl", "--features",
                            "image", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        # Regression: numbers that make every value -100 or null, and options of the other kind of
        # features, were taken without a word (exit 0).
        for features, extra, message in (
                ("audio-logmel", ("--fmax", "inf"), "--fmin and --fmax must be numbers"),
                ("audio-logmel", ("--fmin", "nan"), "--fmin and --fmax must be numbers"),
                ("audio-logmel", ("--top-db", "-5"), "--top-db must be a number of dB, at least 0"),
                ("audio-logmel", ("--mean", "0,0,0"), "--mean applies to --features image, not audio-logmel"),
                ("image", ("--mean", "nan,0,0"), "--mean values must be numbers"),
                ("image", ("--n-mels", "40"), "--n-mels applies to --features audio-logmel, not image")):
            with self.subTest(extra=extra):
                proc = fx.run_salvo("prep", "--input", self.images, "--output", self.root / "x.jsonl", "--features",
                                    features, *extra, check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(message, proc.stderr)

    def test_other_commands_read_binary_files(self):
        texts = self.root / "texts"
        (texts / "lang=en").mkdir(parents=True)
        (texts / "lang=en" / "a.txt").write_text("a library for fonts")
        (texts / "lang=en" / "b.txt").write_bytes(b"\xff\xfe bad utf-8")
        out = self.root / "tok.jsonl"
        model = fx.ROOT / "examples/debian-sections"
        fx.run_salvo("tokenize", "--model", model, "--input", texts, "--output", out, "--text-field", "content",
                     "--keep-columns", "path,lang", "--quiet")
        rows = read_jsonl(out)
        self.assertEqual(rows[0]["lang"], "en")
        self.assertGreater(len(rows[0]["input_ids"]), 2)
        self.assertIn("b.txt: text is not valid UTF-8", rows[1]["error"])


if __name__ == "__main__":
    unittest.main()
