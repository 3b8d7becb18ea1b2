"""salvo prep --features audio-logmel against librosa.feature.melspectrogram + librosa.power_to_db
with the same parameters: within 1e-3 dB on every element. Audio already at the target rate tests
the STFT, filters and dB; audio at other rates adds the resampler (librosa's soxr_hq)."""
import pathlib
import sys
import tempfile
import unittest

import librosa
import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tools/python"))
from salvo_ref import prep_fixtures as fx  # noqa: E402

TOLERANCE_DB = 1e-3
# OGG/Vorbis is a lossy format decoded in floating point: Debian's libvorbis and the one bundled in
# PyPI's soundfile give samples that differ in the last bits, which moves quiet bands by up to
# ~7e-4 dB. The pipeline itself is held to TOLERANCE_DB on lossless input (WAV, FLAC); lossy input
# gets this bound, which still catches any real difference.
LOSSY_TOLERANCE_DB = 5e-3
LOSSY = (".ogg", ".mp3")


def librosa_logmel(path, sr, n_fft=2048, hop=512, win=None, window="hann", n_mels=128, fmin=0.0, fmax=None,
                   htk=False, norm="slaney", top_db=80.0):
    y, sr = librosa.load(path, sr=sr)  # soundfile decode, mean of channels, soxr_hq when sr differs
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, win_length=win, window=window,
                                       n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    return librosa.power_to_db(s, top_db=top_db)


def salvo_logmel(folder, out, *flags):
    fx.run_salvo("prep", "--input", folder, "--output", out, "--features", "audio-logmel", "--quiet", *flags)
    table = pq.read_table(out).to_pylist()
    rows = {}
    for row in table:
        assert row["error"] is None, row
        rows[row["path"]] = np.asarray(row["features"], dtype=np.float32).reshape(row["shape"])
    return rows


class AudioParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        fx.spoken_digits(root / "digits", per_digit=2, formats="wav,flac,ogg")
        cls.native = root / "digits"  # espeak-ng speaks at 22050 Hz
        # The same clips at 16 kHz (sox), and in stereo at 44.1 kHz with a different right channel.
        cls.at16k = root / "at16k"
        cls.stereo = root / "stereo"
        for i, wav in enumerate(sorted(cls.native.glob("*/*/*.wav"))):
            for folder in (cls.at16k, cls.stereo):
                folder.mkdir(exist_ok=True)
            fx.sox(wav, "-r", "16000", cls.at16k / f"{i}.wav")
            fx.sox(wav, "-r", "44100", "-c", "2", cls.stereo / f"{i}.wav", "remix", "1", "1v0.5")
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def compare(self, folder, flags, **ref):
        out = self.root / f"out-{abs(hash((str(folder),) + tuple(flags)))}.parquet"
        got = salvo_logmel(folder, out, *flags)
        self.assertGreater(len(got), 0)
        worst = {False: 0.0, True: 0.0}
        for path, features in got.items():
            want = librosa_logmel(path, **ref)
            self.assertEqual(features.shape, want.shape, path)
            lossy = path.endswith(LOSSY)
            worst[lossy] = max(worst[lossy], float(np.max(np.abs(features - want))))
        print(f"\n  {folder.name} {' '.join(flags)}: largest difference {worst[False]:.2e} dB lossless, "
              f"{worst[True]:.2e} dB lossy", file=sys.stderr)
        self.assertLess(worst[False], TOLERANCE_DB, f"largest difference {worst[False]} dB")
        self.assertLess(worst[True], LOSSY_TOLERANCE_DB, f"largest difference {worst[True]} dB (OGG, MP3)")
        return worst

    def test_librosa_defaults_at_the_native_rate(self):
        # WAV, FLAC and OGG/Vorbis: decoded by libsndfile on both sides.
        self.compare(self.native, [], sr=22050)

    def test_other_parameters_at_16k(self):
        flags = ["--sample-rate", "16000", "--n-fft", "512", "--hop-length", "160", "--win-length", "400",
                 "--window", "hamming", "--n-mels", "64", "--fmin", "20", "--fmax", "7600", "--mel-scale", "htk",
                 "--mel-norm", "none", "--top-db", "60"]
        self.compare(self.at16k, flags, sr=16000, n_fft=512, hop=160, win=400, window="hamming", n_mels=64, fmin=20.0,
                     fmax=7600.0, htk=True, norm=None, top_db=60.0)

    def test_resampling_matches_soxr_hq(self):
        # 22050 -> 16000 and 44100 stereo -> 16000 mono: the resampler is the only new step.
        flags = ["--sample-rate", "16000", "--n-fft", "512", "--hop-length", "160", "--n-mels", "40"]
        self.compare(self.native, flags, sr=16000, n_fft=512, hop=160, n_mels=40)
        self.compare(self.stereo, flags, sr=16000, n_fft=512, hop=160, n_mels=40)

    def test_fixed_frames_pad_with_the_floor(self):
        out = self.root / "frames.parquet"
        got = salvo_logmel(self.at16k, out, "--sample-rate", "16000", "--hop-length", "160", "--frames", "150",
                           "--n-mels", "32")
        for path, features in got.items():
            want = librosa_logmel(path, sr=16000, hop=160, n_mels=32)
            n = min(150, want.shape[1])
            self.assertEqual(features.shape, (32, 150))
            np.testing.assert_allclose(features[:, :n], want[:, :n], atol=TOLERANCE_DB)
            np.testing.assert_allclose(features[:, n:], want.min(), atol=TOLERANCE_DB)


if __name__ == "__main__":
    unittest.main()
