"""Input files for the data-preparation tests: spoken digits made by espeak-ng and sox, icons from
Debian's Adwaita theme, and the bad files a real folder holds. Standard library only, so that both
the virtual environment and Debian's Python can use it."""
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
ADWAITA = pathlib.Path("/usr/share/icons/Adwaita")


def salvo_bin():
    return os.environ.get("SALVO_BIN", str(ROOT / "build" / "salvo"))


def run_salvo(*args, check=True):
    """Runs the CLI; returns the CompletedProcess (stderr as text)."""
    proc = subprocess.run([salvo_bin(), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"salvo {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr}")
    return proc


def spoken_digits(out, per_digit=2, formats="wav", noise=0.02):
    """OUT/train/<digit>/*.wav and OUT/test/<digit>/*: see tools/data/make_spoken_digits.py."""
    subprocess.run([sys.executable, str(ROOT / "tools/data/make_spoken_digits.py"), str(out), "--per-digit",
                    str(per_digit), "--formats", formats, "--noise", str(noise)], check=True,
                   stdout=subprocess.DEVNULL)
    return pathlib.Path(out)


def sox(*args):
    subprocess.run(["sox", *map(str, args)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def icons(out, sizes=("48x48", "96x96"), categories=("apps", "devices", "places", "emblems"), per_category=4):
    """Copies PNG icons into OUT/<category>/<size>-<name>.png; returns the paths."""
    paths = []
    for category in categories:
        folder = pathlib.Path(out) / category
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            found = sorted((ADWAITA / size / category).glob("*.png"))[:per_category]
            for p in found:
                target = folder / f"{size}-{p.name}"
                shutil.copyfile(p, target)
                paths.append(target)
    return paths
