#!/usr/bin/env python3
"""Turns the Debian package changelogs installed on this machine into an event history.

Every /usr/share/doc/<package>/changelog.Debian.gz lists the uploads of a source package, newest
first: a header line "source (version) distributions; urgency=...", the changes (with "Closes:
#NNN" for the bugs an upload fixes), and a trailer " -- Maintainer <email>  <RFC 2822 date>".
This writes one row per upload:

    package      string     the source package
    version      string
    time         timestamp  the upload's date, UTC (null when the trailer's date cannot be read)
    urgency      string     low, medium, high, emergency, critical
    distribution string     unstable, experimental, ...
    bugs_closed  int64      bugs the upload closes (Debian policy's "Closes:" syntax)
    maintainer   string     who signed the upload, as written (name only)

Deterministic: packages in name order, uploads as the changelog lists them (newest first, so the
table is not sorted by time), one row per (package, version) however many binary packages ship the
same changelog.

    debian_changelog_events.py --output events.parquet   # or .csv, .jsonl
"""
import argparse
import datetime
import email.utils
import gzip
import json
import os
import re
import sys

HEADER = re.compile(r"^(\S+) \(([^)]+)\) ([^;]*);(.*)$")
TRAILER = re.compile(r"^ -- (.*?) ?<([^>]*)>  ?(.*)$")
# Debian policy 5.6.22: /closes:\s*(?:bug)?\#?\s?\d+(?:,\s*(?:bug)?\#?\s?\d+)*/i
CLOSES = re.compile(r"closes:\s*(?:bug)?#?\s?\d+(?:,\s*(?:bug)?#?\s?\d+)*", re.IGNORECASE)
BUG = re.compile(r"\d+")


def parse_time(text):
    try:
        t = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


def uploads(lines):
    """Yields (package, version, distribution, urgency, bugs, maintainer, time) per changelog entry."""
    entry = None
    for line in lines:
        m = HEADER.match(line)
        if m:
            fields = dict(kv.strip().split("=", 1) for kv in m.group(4).split(",") if "=" in kv)
            entry = {"package": m.group(1), "version": m.group(2), "distribution": m.group(3).strip(),
                     "urgency": fields.get("urgency", "").split()[0].lower() if fields.get("urgency") else None,
                     "bugs": set(), "text": []}
            continue
        if entry is None:
            continue
        m = TRAILER.match(line)
        if m:
            text = " ".join(entry["text"])
            for closes in CLOSES.findall(text):
                entry["bugs"].update(BUG.findall(closes[len("closes:"):]))
            yield (entry["package"], entry["version"], entry["distribution"], entry["urgency"], len(entry["bugs"]),
                   m.group(1).strip(), parse_time(m.group(3)))
            entry = None
        else:
            entry["text"].append(line.strip())


def collect(doc_root):
    rows, seen = [], set()
    for name in sorted(os.listdir(doc_root)):
        path = os.path.join(doc_root, name, "changelog.Debian.gz")
        if not os.path.isfile(path):
            continue
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except (OSError, EOFError):
            continue
        for package, version, distribution, urgency, bugs, maintainer, time in uploads(lines):
            if (package, version) in seen:
                continue
            seen.add((package, version))
            rows.append({"package": package, "version": version, "time": time, "urgency": urgency,
                         "distribution": distribution, "bugs_closed": bugs, "maintainer": maintainer})
    return rows


def write(rows, output):
    ext = os.path.splitext(output)[1].lower()
    if ext == ".jsonl":
        with open(output, "w", encoding="utf-8") as f:
            for r in rows:
                r = dict(r, time=r["time"].strftime("%Y-%m-%dT%H:%M:%SZ") if r["time"] else None)
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    import pyarrow as pa
    table = pa.table({
        "package": pa.array([r["package"] for r in rows], pa.string()),
        "version": pa.array([r["version"] for r in rows], pa.string()),
        "time": pa.array([r["time"] for r in rows], pa.timestamp("us", tz="UTC")),
        "urgency": pa.array([r["urgency"] for r in rows], pa.string()),
        "distribution": pa.array([r["distribution"] for r in rows], pa.string()),
        "bugs_closed": pa.array([r["bugs_closed"] for r in rows], pa.int64()),
        "maintainer": pa.array([r["maintainer"] for r in rows], pa.string()),
    })
    if ext == ".csv":
        import pyarrow.csv as pcsv
        pcsv.write_csv(table, output)
    else:
        import pyarrow.parquet as pq
        pq.write_table(table, output, row_group_size=16384)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doc-root", default="/usr/share/doc")
    parser.add_argument("--output", required=True, help=".parquet, .csv or .jsonl")
    args = parser.parse_args()
    rows = collect(args.doc_root)
    if not rows:
        sys.exit(f"no changelog.Debian.gz under {args.doc_root}")
    write(rows, args.output)
    print(f"{len(rows)} uploads of {len({r['package'] for r in rows})} packages -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
