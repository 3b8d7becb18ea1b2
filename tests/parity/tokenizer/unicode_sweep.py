#!/usr/bin/env python3
"""Compares, for every Unicode code point, how the Hugging Face tokenizers library (PyPI) and
salvo's src/text/unicode.cc treat it: each BertNormalizer step, BertPreTokenizer, the Rust regex
\\w of the Whitespace pre-tokenizer and of single_word added tokens, the Oniguruma classes of the
ByteLevel split, Digits, StripAccents, NFD/NFKD and canonical combining classes. Fails on any
difference.

  python unicode_sweep.py <salvo_unicode_props binary>
  python unicode_sweep.py <salvo_unicode_props binary> --generate src/text/unicode_overrides.cc

--generate compares the library with utf8proc alone (salvo_unicode_props --utf8proc) and writes
the corrections salvo applies on top of utf8proc.
"""
import subprocess
import sys

from tokenizers import Regex, normalizers, pre_tokenizers

COLUMNS = ["clean", "chinese", "strip", "lower", "bert", "word", "gpt2", "numeric", "mark", "nfd",
           "nfkd", "ccc"]
NONE = ["-"] * len(COLUMNS)
SEP = "\u2603"  # a starter no step changes or produces: batches char-wise normalizers


def hexs(s):
    return ".".join(format(ord(c), "x") for c in s) or "E"


def code_points():
    return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def batched(normalizer, chars):
    """normalizer applied to each char alone, computed in batches joined by SEP."""
    out = []
    for start in range(0, len(chars), 4096):
        part = chars[start:start + 4096]
        pieces = normalizer.normalize_str(SEP.join(part)).split(SEP)
        if len(pieces) != len(part) or SEP in part:
            pieces = [normalizer.normalize_str(c) for c in part]
        out.extend(pieces)
    return out


def oracle_lines():
    bert = lambda **o: normalizers.BertNormalizer(**{**dict(clean_text=False, handle_chinese_chars=False,  # noqa: E731
                                                           strip_accents=False, lowercase=False), **o})
    cps = code_points()
    chars = [chr(cp) for cp in cps]
    clean = batched(bert(clean_text=True), chars)
    chinese = batched(bert(handle_chinese_chars=True), chars)
    strip = batched(bert(strip_accents=True), chars)
    lower = batched(bert(lowercase=True), chars)
    nfd = batched(normalizers.NFD(), chars)
    nfkd = batched(normalizers.NFKD(), chars)
    marks = batched(normalizers.StripAccents(), chars)
    nfd_ccc = normalizers.NFD()
    bert_pre = pre_tokenizers.BertPreTokenizer()
    ws = pre_tokenizers.Whitespace()
    digits = pre_tokenizers.Digits(individual_digits=True)
    classes = [(c, pre_tokenizers.Split(Regex(p), behavior="removed"))
               for c, p in (("L", r"\p{L}"), ("N", r"\p{N}"), ("S", r"\s"))]
    lines = {}
    for i, cp in enumerate(cps):
        s = chars[i]
        c = clean[i]
        cc = "D" if c == "" else "S" if c == " " and s != " " else "-" if c == s else "X" + hexs(c)
        h = "H" if chinese[i] != s else "-"
        n = len(bert_pre.pre_tokenize_str("a" + s + "a"))
        p = {2: "W", 3: "P", 1: "-"}.get(n, "?")
        w = len(ws.pre_tokenize_str("a" + s + "a"))
        word = {1: "W", 2: "S", 3: "-"}.get(w, "?")
        gpt2 = "".join(name for name, split in classes if not split.pre_tokenize_str(s)) or "-"
        numeric = "Y" if len(digits.pre_tokenize_str("a" + s + "a")) == 3 else "-"
        mark = "Y" if marks[i] == "" else "-"
        d = "-" if nfd[i] == s else hexs(nfd[i])
        kd = "-" if nfkd[i] == s else hexs(nfkd[i])
        if d != "-":
            ccc = "?"
        else:
            ccc = "Y" if cp != 0x345 and nfd_ccc.normalize_str("\u0345" + s) == s + "\u0345" else "-"
        fields = [cc, h, "-" if strip[i] == s else hexs(strip[i]), "-" if lower[i] == s else hexs(lower[i]),
                  p, word, gpt2, numeric, mark, d, kd, ccc]
        if any(f != "-" for f in fields):
            lines[cp] = fields
    return lines


def salvo_lines(binary, args):
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout
    lines = {}
    for line in out.splitlines():
        parts = line.split(" ")
        lines[int(parts[0], 16)] = parts[1:]
    return lines


def differences(oracle, salvo):
    diffs = []
    for cp in sorted(set(oracle) | set(salvo)):
        a = oracle.get(cp, NONE)
        b = salvo.get(cp, NONE)
        for i, step in enumerate(COLUMNS):
            if a[i] != b[i]:
                diffs.append((cp, step, a[i], b[i]))
    return diffs


def generate(diffs, out_file):
    edits = {}
    lowers = []
    unsupported = []

    def edit(cp, set_=None, clear=None):
        e = edits.setdefault(cp, (set(), set()))
        if set_:
            e[0].add(set_)
        if clear:
            e[1].add(clear)

    simple = {  # column: (flag, value meaning the flag is set)
        "numeric": ("kCharNumeric", "Y"), "mark": ("kCharMark", "Y"), "ccc": ("kCharCombining", "Y"),
    }
    for cp, step, hf, salvo in diffs:
        if step == "clean" and hf == "D" and salvo == "-":
            edit(cp, "kCharDrop")
        elif step == "clean" and hf == "-" and salvo == "D":
            edit(cp, clear="kCharDrop")
        elif step == "bert" and hf == "P" and salvo == "-":
            edit(cp, "kCharPunct")
        elif step == "bert" and hf == "-" and salvo == "P":
            edit(cp, clear="kCharPunct")
        elif step == "strip" and hf == "E" and salvo == "-":
            edit(cp, "kCharNonspacingMark")
        elif step == "strip" and hf == "-" and salvo == "E":
            edit(cp, clear="kCharNonspacingMark")
        elif step == "strip" and hf == "-":
            edit(cp, clear="kCharDecomposes")
        elif step == "lower" and hf == "-":
            edit(cp, clear="kCharLowercaseChanges")
        elif step == "lower" and "." not in hf:
            edit(cp, "kCharLowercaseChanges")
            lowers.append((cp, int(hf, 16)))
        elif step == "word" and hf in "W-" and salvo in "W-":
            edit(cp, *(("kCharWord", None) if hf == "W" else (None, "kCharWord")))
        elif step == "gpt2":
            for letter, flag in (("L", "kCharLetter"), ("N", "kCharNumber"), ("S", "kCharRegexSpace")):
                if (letter in hf) != (letter in salvo):
                    edit(cp, *((flag, None) if letter in hf else (None, flag)))
        elif step in simple:
            flag, yes = simple[step]
            if "?" in (hf, salvo):
                continue
            edit(cp, *((flag, None) if hf == yes else (None, flag)))
        elif step == "nfd" and hf == "-":
            edit(cp, clear="kCharDecomposes")
        elif step == "nfkd" and hf == "-":
            edit(cp, clear="kCharCompatDecomposes")
        else:
            unsupported.append((hex(cp), step, hf, salvo))
    if unsupported:
        print("differences the override table cannot express:", unsupported[:20], file=sys.stderr)
        sys.exit(1)
    key = lambda e: ("|".join(sorted(e[0])), "|".join(sorted(e[1])))  # noqa: E731
    ranges = []
    for cp in sorted(edits):
        e = edits[cp]
        if ranges and ranges[-1][1] == cp - 1 and key(ranges[-1][2]) == key(e):
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, e])
    mask = lambda names: " | ".join(sorted(names)) if names else "0"  # noqa: E731
    lines = [
        "// Generated by tests/parity/tokenizer/unicode_sweep.py --generate; do not edit.",
        "//",
        f"// Where Hugging Face tokenizers disagrees with utf8proc ({len(diffs)} differences in "
        f"{len(edits)} code points):",
        "// its unicode_categories and unicode-normalization tables predate the Unicode version",
        "// of utf8proc, while Rust's char::to_lowercase, its regex crate and the Oniguruma it bundles",
        "// follow newer ones.",
        '#include "text/unicode_overrides.h"',
        "",
        '#include "text/unicode.h"',
        "",
        "namespace salvo {",
        "",
        "namespace {",
        "",
        "// clang-format off",
        "constexpr CharFlagOverride kCharFlagOverrides[] = {",
    ]
    for first, last, e in ranges:
        lines.append(f"    {{0x{first:X}, 0x{last:X}, {mask(e[0])}, {mask(e[1])}}},")
    lines += ["};", "", "constexpr LowercaseOverride kLowercaseOverrides[] = {"]
    lines += [f"    {{0x{cp:X}, 0x{lower:X}}}," for cp, lower in lowers]
    lines += ["};", "// clang-format on", "", "}  // namespace", "",
              "std::span<const CharFlagOverride> char_flag_overrides() { return kCharFlagOverrides; }",
              "",
              "std::span<const LowercaseOverride> lowercase_overrides() { return kLowercaseOverrides; }",
              "", "}  // namespace salvo"]
    with open(out_file, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out_file}: {len(ranges)} flag ranges, {len(lowers)} lowercase mappings")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    oracle = oracle_lines()
    if len(sys.argv) > 3 and sys.argv[2] == "--generate":
        generate(differences(oracle, salvo_lines(binary, ["--utf8proc"])), sys.argv[3])
        return 0
    raw = differences(oracle, salvo_lines(binary, ["--utf8proc"]))
    diffs = differences(oracle, salvo_lines(binary, []))
    print(f"unicode sweep: {len(oracle)} code points special in some probe of HF tokenizers; "
          f"utf8proc alone differs on {len(raw)} (probe, code point) pairs, salvo with its "
          f"corrections on {len(diffs)}")
    for cp, step, hf, salvo in diffs[:20]:
        print(f"  U+{cp:04X} {step}: hf={hf} salvo={salvo}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
