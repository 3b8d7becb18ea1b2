#!/usr/bin/env python3
"""salvo prep next to the Python way users prepare training data today, on the same files, cores and
run: a pandas-UDF-style function per file (librosa for audio; Pillow + torchvision for images) in a
multiprocessing pool of one process per core, as Spark runs one Python worker per task slot.

    /work/venv/bin/python tools/bench/bench_prep.py --salvo build/salvo [--clips N] [--images N]

Prints files/s for each and the ratio; targets: audio >= 5x, images >= 3x."""
import argparse
import io
import multiprocessing as mp
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools/python"))
from salvo_ref import prep_fixtures as fx  # noqa: E402

AUDIO_FLAGS = dict(sr=16000, n_fft=512, hop_length=160, n_mels=40)
IMAGE_SIZE, IMAGE_CROP = 256, 224


def audio_udf(content):
    """The body of a typical pandas UDF over binaryFile's content column."""
    import librosa
    import numpy as np
    y, sr = librosa.load(io.BytesIO(content), sr=AUDIO_FLAGS["sr"])
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=AUDIO_FLAGS["n_fft"], hop_length=AUDIO_FLAGS["hop_length"],
                                       n_mels=AUDIO_FLAGS["n_mels"])
    return np.asarray(librosa.power_to_db(s), dtype=np.float32).ravel().tobytes()


_transform = None


def image_udf(content):
    global _transform
    from PIL import Image, ImageOps
    if _transform is None:
        from torchvision import transforms
        _transform = transforms.Compose([
            transforms.Resize(IMAGE_SIZE), transforms.CenterCrop(IMAGE_CROP), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(content))).convert("RGB")
    return _transform(img).numpy().ravel().tobytes()


def init_worker():
    import torch
    torch.set_num_threads(1)  # one core per Python worker, as a Spark task slot has


def python_files_per_second(files, fn, processes):
    # Content is read in the workers, as binaryFile hands each task its rows.
    def chunks():
        for f in files:
            yield pathlib.Path(f).read_bytes()
    with mp.Pool(processes, initializer=init_worker) as pool:
        list(pool.imap(fn, [pathlib.Path(files[0]).read_bytes()] * processes))  # imports and warm-up
        start = time.perf_counter()
        for _ in pool.imap(fn, chunks(), chunksize=4):
            pass
        return len(files) / (time.perf_counter() - start)


def salvo_files_per_second(salvo, folder, out, flags, threads):
    cmd = [salvo, "prep", "--input", str(folder), "--output", str(out), "--threads", str(threads), "--quiet", *flags]
    subprocess.run(cmd, check=True)  # warm the page cache as the Python run is warmed
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - start
    return sum(1 for _ in pathlib.Path(folder).rglob("*.*")) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--salvo", default=fx.salvo_bin())
    parser.add_argument("--clips", type=int, default=600, help="spoken-digit clips (up to 1080)")
    parser.add_argument("--images", type=int, default=400, help="icons (PNG, up to 512 x 512)")
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        per_digit = -(-args.clips // 10)
        digits = fx.spoken_digits(tmp / "digits", per_digit=min(per_digit, 108), formats="wav")
        clips = sorted(str(p) for p in digits.rglob("*.wav"))
        icons_dir = tmp / "icons"
        fx.icons(icons_dir, sizes=("512x512", "256x256", "96x96", "64x64"),
                 categories=("devices", "places", "mimetypes", "status", "emblems", "actions"), per_category=100)
        images = sorted(str(p) for p in icons_dir.rglob("*.png"))[: args.images]
        for p in sorted(icons_dir.rglob("*.png"))[args.images:]:
            p.unlink()
        print(f"{len(clips)} clips (WAV, 22050 Hz, ~1 s), {len(images)} icons (PNG, 64-512 px); "
              f"{args.processes} cores for each side")
        rows = []
        audio_flags = ["--features", "audio-logmel", "--sample-rate", "16000", "--n-fft", "512", "--hop-length", "160",
                       "--n-mels", "40"]
        s = salvo_files_per_second(args.salvo, digits, tmp / "a.parquet", audio_flags, args.processes)
        p = python_files_per_second(clips, audio_udf, args.processes)
        rows.append(("audio log-mel (resample 22050 -> 16000)", s, p, 5))
        image_flags = ["--features", "image", "--resize", str(IMAGE_SIZE), "--crop", str(IMAGE_CROP)]
        s = salvo_files_per_second(args.salvo, icons_dir, tmp / "i.parquet", image_flags, args.processes)
        p = python_files_per_second(images, image_udf, args.processes)
        rows.append(("image resize 256, crop 224, normalise", s, p, 3))
        print(f"{'workload':42} {'salvo files/s':>14} {'Python files/s':>15} {'ratio':>7} {'target':>7}")
        for name, s, p, target in rows:
            print(f"{name:42} {s:14.1f} {p:15.1f} {s / p:6.1f}x {target:6}x{'' if s / p >= target else '  MISSED'}")


if __name__ == "__main__":
    main()
