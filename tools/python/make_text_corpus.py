#!/usr/bin/env python3
"""Builds a corpus of real, human-written texts from Debian's package descriptions.

The descriptions (English plus translations) come from the archive's Translation-* index files,
which `apt-get update -o Acquire::Languages=en,de,fr,ja,zh_CN,ru,es` puts in /var/lib/apt/lists.
The test suite ships the output (tests/data/texts/debian_descriptions.jsonl.gz) so that it runs
offline; this script documents where it came from and rebuilds it.

Usage: make_text_corpus.py OUT.jsonl.gz [--per-language N] [--english N]
"""
import argparse
import glob
import gzip
import json
import random
import subprocess


def read_descriptions(path):
    """Yields (package, language, text) from one Translation-LANG.lz4 file."""
    raw = subprocess.run(["lz4cat", path], check=True, capture_output=True).stdout.decode("utf-8", "replace")
    for stanza in raw.split("\n\n"):
        package, lang, lines = None, None, []
        for line in stanza.split("\n"):
            if line.startswith("Package: "):
                package = line[len("Package: "):]
            elif line.startswith("Description-") and not line.startswith("Description-md5"):
                key, _, short = line.partition(": ")
                lang = key[len("Description-"):]
                lines.append(short)
            elif lines and line.startswith(" "):
                body = line[1:]
                lines.append("" if body == "." else body)
        if package and lines:
            yield package, lang, "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--english", type=int, default=10000)
    ap.add_argument("--per-language", type=int, default=800)
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    args = ap.parse_args()
    rng = random.Random(20261121)
    rows = []
    for path in sorted(glob.glob(f"{args.lists}/*_main_i18n_Translation-*.lz4")):
        if "-updates_" in path or "-security_" in path:
            continue
        items = list(read_descriptions(path))
        rng.shuffle(items)
        lang = path.rsplit("Translation-", 1)[1][:-len(".lz4")].replace("%5f", "_")
        want = args.english if lang == "en" else args.per_language
        rows.extend({"package": p, "lang": l, "text": t} for p, l, t in items[:want])
    if not rows:
        raise SystemExit(f"no Translation-* files under {args.lists}: run apt-get update with Acquire::Languages")
    rng.shuffle(rows)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"id": i, **r}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} texts to {args.out}")


if __name__ == "__main__":
    main()
