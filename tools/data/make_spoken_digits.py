#!/usr/bin/env python3
"""Makes a small spoken-digits data set offline: Debian's espeak-ng says "zero" .. "nine" in several
voices, speeds and pitches, and sox adds white noise (a fixed seed per clip, so runs are repeatable).

    tools/data/make_spoken_digits.py OUT [--per-digit N] [--formats wav,flac,ogg]

Writes OUT/train/<digit>/<clip>.wav and OUT/test/<digit>/<clip>.wav: folders named by label, as
`salvo prep --label-from parent` reads them. Every fifth voice/speed/pitch combination is held out
for test. Needs only espeak-ng and sox (scripts/install-deps.sh test installs both).
"""
import argparse
import itertools
import pathlib
import subprocess
import tempfile

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]
SPEEDS = [130, 165, 200]
PITCHES = [25, 50, 75]
VARIANTS = ["m1", "f2"]  # espeak-ng voice variants: a male and a female timbre


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--per-digit", type=int, default=0, help="at most this many clips per digit (0: all 108)")
    parser.add_argument("--formats", default="wav", help="comma-separated: wav, flac, ogg (cycled over clips)")
    parser.add_argument("--noise", type=float, default=0.02, help="white-noise amplitude (0: none)")
    args = parser.parse_args()
    formats = args.formats.split(",")
    combos = list(itertools.product(VOICES, VARIANTS, SPEEDS, PITCHES))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for d, word in enumerate(DIGITS):
            chosen = combos if args.per_digit <= 0 else combos[: args.per_digit]
            for i, (voice, variant, speed, pitch) in enumerate(chosen):
                split = "test" if i % 5 == 4 else "train"
                ext = formats[(d + i) % len(formats)]
                folder = args.out / split / word
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{voice}-{variant}-s{speed}-p{pitch}"
                clean = tmp / "clean.wav"
                run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", str(clean), word])
                target = folder / f"{name}.{ext}"
                if args.noise > 0:
                    noise = tmp / "noise.wav"
                    # The clip's own length of noise, seeded by its position: repeatable.
                    seconds = subprocess.run(["soxi", "-D", str(clean)], check=True, capture_output=True,
                                             text=True).stdout.strip()
                    run(["sox", "-R", "-n", "-r", "22050", "-c", "1", "-b", "16", str(noise), "synth", seconds,
                         "whitenoise", "vol", str(args.noise)])
                    run(["sox", "-m", "-v", "1", str(clean), "-v", "1", str(noise), "-b", "16", str(target)])
                else:
                    run(["sox", str(clean), "-b", "16", str(target)])
    print(f"spoken digits in {args.out}")


if __name__ == "__main__":
    main()
