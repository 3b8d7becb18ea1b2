#!/usr/bin/env python3
"""salvo prep next to the Python way users prepare training data today, on the same files, cores and
run: a pandas-UDF-style function per file (librosa for audio; Pillow + torchvision for images) in a
multiprocessing pool of one process per core, as Spark runs one Python worker per task slot. Both
sides write what they compute to one file (salvo: TFRecord; Python: the raw float32 bytes, which is
less work than any real format), so output costs count on both sides.

    /work/venv/bin/python tools/bench/bench_prep.py --salvo build/salvo [--clips N] [--images N]

Prints files/s (wall clock, both sides on all cores) and CPU milliseconds per file (salvo: the
whole process, reading and writing included; Python: only the time inside the UDF, measured in the
workers, so IPC and writing are not counted against it), and the ratios; targets: audio >= 5x,
images >= 3x. CPU time per file does not depend on what else the machine runs."""
import argparse
import io
import multiprocessing as mp
import os
import resource
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
    start = time.process_time()
    y, sr = librosa.load(io.BytesIO(content), sr=AUDIO_FLAGS["sr"])
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=AUDIO_FLAGS["n_fft"], hop_length=AUDIO_FLAGS["hop_length"],
                                       n_mels=AUDIO_FLAGS["n_mels"])
    out = np.asarray(librosa.power_to_db(s), dtype=np.float32).ravel().tobytes()
    return out, time.process_time() - start


_transform = None


def image_udf(content):
    global _transform
    from PIL import Image, ImageOps
    if _transform is None:
        from torchvision import transforms
        _transform = transforms.Compose([
            transforms.Resize(IMAGE_SIZE), transforms.CenterCrop(IMAGE_CROP), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    start = time.process_time()
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(content))).convert("RGB")
    out = _transform(img).numpy().ravel().tobytes()
    return out, time.process_time() - start


def init_worker():
    import torch
    torch.set_num_threads(1)  # one core per Python worker, as a Spark task slot has


def python_files_per_second(files, fn, processes, out):
    # The file contents go to the workers as binaryFile rows go to a UDF; results come back and
    # are written in order, as Spark collects a UDF's output.
    def chunks():
        for f in files:
            yield pathlib.Path(f).read_bytes()
    with mp.Pool(processes, initializer=init_worker) as pool:
        list(pool.imap(fn, [pathlib.Path(files[0]).read_bytes()] * processes))  # imports and warm-up
        start = time.perf_counter()
        cpu = 0.0
        with open(out, "wb") as f:
            for features, seconds in pool.imap(fn, chunks(), chunksize=4):
                f.write(features)
                cpu += seconds
        return len(files) / (time.perf_counter() - start), 1000 * cpu / len(files)


def salvo_files_per_second(salvo, folder, out, flags, threads):
    cmd = [salvo, "prep", "--input", str(folder), "--output", str(out), "--threads", str(threads), "--quiet", *flags]
    subprocess.run(cmd, check=True)  # warm the page cache as the Python run is warmed
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = sum(1 for _ in pathlib.Path(folder).rglob("*.*"))
    return n / elapsed, 1000 * cpu / n


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
        s = salvo_files_per_second(args.salvo, digits, tmp / "a.tfrecord", audio_flags, args.processes)
        p = python_files_per_second(clips, audio_udf, args.processes, tmp / "a.bin")
        rows.append(("audio log-mel (resample 22050 -> 16000)", *s, *p, 5))
        image_flags = ["--features", "image", "--resize", str(IMAGE_SIZE), "--crop", str(IMAGE_CROP)]
        s = salvo_files_per_second(args.salvo, icons_dir, tmp / "i.tfrecord", image_flags, args.processes)
        p = python_files_per_second(images, image_udf, args.processes, tmp / "i.bin")
        rows.append(("image resize 256, crop 224, normalise", *s, *p, 3))
        print(f"{'workload':40} {'files/s: salvo':>14} {'Python':>8} {'ratio':>6}   {'CPU ms/file: salvo':>18} "
              f"{'Python':>7} {'ratio':>6} {'target':>7}")
        for name, s, s_cpu, p, p_cpu, target in rows:
            print(f"{name:40} {s:14.1f} {p:8.1f} {s / p:5.1f}x   {s_cpu:18.2f} {p_cpu:7.2f} {p_cpu / s_cpu:5.1f}x "
                  f"{target:6}x{'' if min(s / p, p_cpu / s_cpu) >= target else '  MISSED'}")


if __name__ == "__main__":
    main()
