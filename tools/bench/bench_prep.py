#!/usr/bin/env python3
"""salvo prep next to the Python way users prepare training data today, on the same files, cores and
run: the body of a pandas UDF (a batch of binaryFile contents in, a list<float32> Arrow column out;
librosa for audio, Pillow + torchvision for images) in a multiprocessing pool of one process per
core, as Spark runs one Python worker per task slot. Both sides write what they compute to one file
(salvo: TFRecord; Python: the Arrow IPC batches the UDF hands back to Spark), so output costs count
on both sides.

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


def logmel(content):
    import librosa
    import numpy as np
    y, sr = librosa.load(io.BytesIO(content), sr=AUDIO_FLAGS["sr"])
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=AUDIO_FLAGS["n_fft"], hop_length=AUDIO_FLAGS["hop_length"],
                                       n_mels=AUDIO_FLAGS["n_mels"])
    return np.asarray(librosa.power_to_db(s), dtype=np.float32).ravel()


def pandas_udf(fn, contents):
    """What a pandas UDF over binaryFile's content column does with one Arrow batch: a Series in,
    the function per row, a Series of arrays out, converted to an Arrow list<float32> column."""
    import pandas as pd
    import pyarrow as pa
    start = time.process_time()
    out = pd.Series(contents).map(fn)
    column = pa.array(out, type=pa.list_(pa.float32()))
    batch = pa.record_batch([column], names=["features"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes(), time.process_time() - start


def audio_udf(contents):
    return pandas_udf(logmel, contents)


_transform = None


def image_tensor(content):
    global _transform
    from PIL import Image, ImageOps
    if _transform is None:
        from torchvision import transforms
        _transform = transforms.Compose([
            transforms.Resize(IMAGE_SIZE), transforms.CenterCrop(IMAGE_CROP), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(content))).convert("RGB")
    return _transform(img).numpy().ravel()


def image_udf(contents):
    return pandas_udf(image_tensor, contents)


def make_photos(folder, n, icons):
    """Photo-sized JPEGs (500 x 375 to 1280 x 960, quality 90): icons pasted on textured
    gradients, deterministic. Real photos decode at about the same cost per pixel."""
    import random
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    sizes = [(500, 375), (640, 480), (800, 600), (1024, 768), (1280, 960)]
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        noise = [Image.effect_noise((w, h), 24 + 8 * c) for c in range(3)]
        gradient = Image.linear_gradient("L").resize((w, h))
        bg = Image.merge("RGB", [Image.blend(gradient, noise[c], 0.35) for c in range(3)])
        for _ in range(3):
            with Image.open(icons[rng.randrange(len(icons))]) as icon:
                size = rng.randint(h // 4, h // 2)
                icon = icon.convert("RGBA").resize((size, size))
                bg.paste(icon, (rng.randrange(w - size), rng.randrange(h - size)), icon)
        bg.save(folder / f"{i:04d}.jpg", quality=90)


def init_worker():
    import torch
    torch.set_num_threads(1)  # one core per Python worker, as a Spark task slot has


def python_files_per_second(files, fn, processes, out, batch=16):
    # Batches of file contents go to the workers as Arrow batches of binaryFile rows go to a UDF;
    # the Arrow results come back and are written in order.
    def chunks():
        for i in range(0, len(files), batch):
            yield [pathlib.Path(f).read_bytes() for f in files[i:i + batch]]
    with mp.Pool(processes, initializer=init_worker) as pool:
        list(pool.imap(fn, [[pathlib.Path(files[0]).read_bytes()]] * processes))  # imports and warm-up
        start = time.perf_counter()
        cpu = 0.0
        with open(out, "wb") as f:
            for features, seconds in pool.imap(fn, chunks()):
                f.write(features)
                cpu += seconds
        return len(files) / (time.perf_counter() - start), 1000 * cpu / len(files)


def salvo_files_per_second(salvo, folder, out, flags, threads):
    cmd = [salvo, "prep", "--input", str(folder), "--output", str(out), "--threads", str(threads), "--quiet", *flags]
    subprocess.run(cmd, check=True)  # warm the page cache as the Python run is warmed
    # Both sides write a new file: replacing the warm-up's output would charge salvo for freeing
    # its pages (a fifth of a 300-icon run's CPU went to that rename).
    pathlib.Path(out).unlink()
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
    parser.add_argument("--photos", type=int, default=200, help="photo-sized JPEGs")
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
        all_icons = sorted(icons_dir.rglob("*.png"))
        # Every size and category, not the first folders only.
        step = max(1, len(all_icons) // args.images)
        images = [str(p) for p in all_icons[::step][: args.images]]
        for p in set(map(str, all_icons)) - set(images):
            os.unlink(p)
        photos_dir = tmp / "photos"
        make_photos(photos_dir, args.photos, [p for p in images if "512x512" in p] or images)
        photos = sorted(str(p) for p in photos_dir.glob("*.jpg"))
        print(f"{len(clips)} clips (WAV, 22050 Hz, ~1 s), {len(images)} icons (PNG, 64-512 px), {len(photos)} "
              f"photo-sized JPEGs (500 x 375 to 1280 x 960); {args.processes} cores for each side")
        rows = []
        audio_flags = ["--features", "audio-logmel", "--sample-rate", "16000", "--n-fft", "512", "--hop-length", "160",
                       "--n-mels", "40"]
        s = salvo_files_per_second(args.salvo, digits, tmp / "a.tfrecord", audio_flags, args.processes)
        p = python_files_per_second(clips, audio_udf, args.processes, tmp / "a.bin")
        rows.append(("audio log-mel (resample 22050 -> 16000)", *s, *p, 5))
        image_flags = ["--features", "image", "--resize", str(IMAGE_SIZE), "--crop", str(IMAGE_CROP)]
        s = salvo_files_per_second(args.salvo, icons_dir, tmp / "i.tfrecord", image_flags, args.processes)
        p = python_files_per_second(images, image_udf, args.processes, tmp / "i.bin")
        rows.append(("icons: resize 256, crop 224, normalise", *s, *p, 3))
        s = salvo_files_per_second(args.salvo, photos_dir, tmp / "j.tfrecord", image_flags, args.processes)
        p = python_files_per_second(photos, image_udf, args.processes, tmp / "j.bin")
        rows.append(("JPEGs: resize 256, crop 224, normalise", *s, *p, 3))
        print(f"{'workload':40} {'files/s: salvo':>14} {'Python':>8} {'ratio':>6}   {'CPU ms/file: salvo':>18} "
              f"{'Python':>7} {'ratio':>6} {'target':>7}")
        for name, s, s_cpu, p, p_cpu, target in rows:
            print(f"{name:40} {s:14.1f} {p:8.1f} {s / p:5.1f}x   {s_cpu:18.2f} {p_cpu:7.2f} {p_cpu / s_cpu:5.1f}x "
                  f"{target:6}x{'' if min(s / p, p_cpu / s_cpu) >= target else '  MISSED'}")


if __name__ == "__main__":
    main()
