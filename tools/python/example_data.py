"""Builds the (English description, archive section) data set for the bundled example model.

The texts and labels come from Debian's own archive indexes, which apt keeps in /var/lib/apt/lists:
  *_main_i18n_Translation-en.lz4     Package, Description-md5, Description-en (long text as
                                     continuation lines)
  *_main_binary-amd64_Packages.lz4   Package, Source, Section, Description-md5
`apt-get update -o Acquire::Languages=en` fetches both. Only the release lists are read (not
-updates or -security), so a given Debian point release always yields the same data.

Records are joined on (package, description md5). Packages built from the same source package
often share most of their description, so the train/validation/test split is made by source
package: no source package has binaries on both sides of the split.
"""
import glob
import hashlib
import json
import os
import random
import subprocess

# Sections with a recognisable subject; catch-alls (libs, libdevel, oldlibs, misc, utils) and
# the per-language library sections other than python are left out.
SECTIONS = ["admin", "database", "devel", "doc", "editors", "fonts", "games", "graphics", "mail",
            "math", "net", "python", "science", "sound", "video", "web"]

# The seed and per-section cap the bundled model was trained with (the training script's defaults).
DEFAULT_SEED = 20260215
DEFAULT_PER_CLASS = 1500


def _stanzas(path):
    raw = subprocess.run(["lz4cat", path], check=True, capture_output=True).stdout
    for stanza in raw.decode("utf-8", "replace").split("\n\n"):
        if stanza.strip():
            yield stanza.split("\n")


def _reflow(short, body_lines):
    """Short description, then the long one: wrapped lines joined, paragraphs on their own line."""
    paragraphs, current = [short.strip()], []
    for line in body_lines:
        if line.strip() == ".":
            if current:
                paragraphs.append(" ".join(current))
            current = []
        else:
            current.append(line.strip())
    if current:
        paragraphs.append(" ".join(current))
    return "\n".join(p for p in paragraphs if p)


def read_translations(path):
    """Returns {(package, md5): text} from a Translation-en.lz4 file."""
    out = {}
    for lines in _stanzas(path):
        package = md5 = short = None
        body = []
        for line in lines:
            if line.startswith("Package: "):
                package = line[len("Package: "):].strip()
            elif line.startswith("Description-md5: "):
                md5 = line[len("Description-md5: "):].strip()
            elif line.startswith("Description-en: "):
                short = line[len("Description-en: "):]
            elif short is not None and line.startswith(" "):
                body.append(line[1:])
        if package and md5 and short is not None:
            out[(package, md5)] = _reflow(short, body)
    return out


def read_packages(path):
    """Returns {(package, md5): (source, section)} from a binary Packages.lz4 file."""
    out = {}
    for lines in _stanzas(path):
        fields = {}
        for line in lines:
            if line and not line.startswith(" "):
                key, _, value = line.partition(": ")
                fields[key] = value.strip()
        if "Package" not in fields or "Description-md5" not in fields:
            continue
        section = fields.get("Section", "").rsplit("/", 1)[-1]
        source = fields.get("Source", fields["Package"]).split(" ")[0]
        out[(fields["Package"], fields["Description-md5"])] = (source, section)
    return out


def _release_list(lists_dir, suffix):
    paths = [p for p in sorted(glob.glob(os.path.join(lists_dir, "*_main_" + suffix)))
             if "-updates_" not in p and "-security_" not in p and "-backports_" not in p]
    if not paths:
        raise SystemExit(f"no *_main_{suffix} under {lists_dir}: run "
                         "`apt-get update -o Acquire::Languages=en` first")
    return paths[0]


def build(lists_dir, seed, per_class_cap, test_fraction=0.1, val_fraction=0.05):
    """Returns (train, val, test): lists of {"id", "text", "label"} dicts, deterministic for a seed.

    Identical texts are kept once; at most per_class_cap records per section are kept (a seeded
    sample by source package) so that the big sections do not drown the small ones.
    """
    texts = read_translations(_release_list(lists_dir, "i18n_Translation-en.lz4"))
    packages = read_packages(_release_list(lists_dir, "binary-amd64_Packages.lz4"))
    seen_texts = set()
    by_section = {s: [] for s in SECTIONS}
    for key in sorted(packages):
        source, section = packages[key]
        text = texts.get(key)
        if section not in by_section or not text:
            continue
        digest = hashlib.sha1(text.lower().encode()).hexdigest()
        if digest in seen_texts:
            continue
        seen_texts.add(digest)
        by_section[section].append({"id": key[0], "source": source, "text": text, "label": section})

    rng = random.Random(seed)
    sources = sorted({r["source"] for rows in by_section.values() for r in rows})
    rng.shuffle(sources)
    n_test = int(len(sources) * test_fraction)
    n_val = int(len(sources) * val_fraction)
    split_of = {s: ("test" if i < n_test else "val" if i < n_test + n_val else "train")
                for i, s in enumerate(sources)}
    out = {"train": [], "val": [], "test": []}
    for section in SECTIONS:
        rows = by_section[section]
        rng.shuffle(rows)
        for split in out:
            part = [r for r in rows if split_of[r["source"]] == split]
            cap = per_class_cap if split == "train" else max(1, int(per_class_cap * test_fraction))
            out[split].extend(part[:cap])
    for split in out:
        rng.shuffle(out[split])
    return out["train"], out["val"], out["test"]


def write_jsonl(rows, path, keys):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n")
