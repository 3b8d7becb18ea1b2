"""Writes the seed corpus of one JSON-input fuzz target: real files of the repository plus the
hostile shapes every JSON input must survive (deep nesting, huge numbers, long strings, invalid
UTF-8, stray and unterminated quotes). Each seed starts with the byte that selects the mode.

    make_seeds.py SOURCE_DIR TARGET OUT_DIR
"""
import json
import os
import sys

src, target, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
seeds = []

HOSTILE = [
    b"[" * 300 + b"]" * 300,                       # deeper than the limit
    b"[" * 256 + b"]" * 256,                       # at the limit
    b'{"a":' * 100000,                             # deep and unterminated
    b"[" * 100000 + b"]" * 100000,                 # the probe's 200 KB of brackets
    b'{"id":1e400,"text":"x","k":-1e-400}',        # out of double range
    b'{"id":123456789012345678901234567890,"text":"x","k":18446744073709551616}',
    b'{"id":-9223372036854775809,"text":"x"}',
    b'{"id":"' + b"i" * 60000 + b'","text":"' + b"t" * 60000 + b'"}',
    b'{"id":"\\ud800","text":"\\u0000\\uffff"}',   # lone surrogate escape
    b'{"id":"caf\xc3","text":"\xff"}',              # invalid UTF-8
    b'{"text":"a","text":"b","id":{"x":[1,{"y":null}]}}',
    b"\xef\xbb\xbf" + b'{"text":"bom"}',
]

EXAMPLE = os.path.join(src, "examples", "debian-sections")


def read(path):
    with open(path, "rb") as f:
        return f.read()


if target == "model_json":
    for i, name in enumerate(["config.json", "modules.json", "1_Pooling/config.json"]):
        seeds.append(bytes([i]) + read(os.path.join(EXAMPLE, name)))
    config = json.loads(read(os.path.join(EXAMPLE, "config.json")))
    config["id2label"] = {str(i): "x" * 1000 for i in range(50)}
    config["hidden_size"] = 10 ** 30
    seeds.append(bytes([0]) + json.dumps(config).encode())
    seeds.append(bytes([1]) + b'[{"type":"sentence_transformers.models.Transformer","path":"../../etc"}]')
    seeds.append(bytes([2]) + b'{"pooling_mode":"mean","pooling_mode_cls_token":true}')
    for mode in range(4):
        seeds += [bytes([mode]) + h for h in HOSTILE]
elif target == "text_rows":
    lines = read(os.path.join(src, "examples", "descriptions.jsonl")).splitlines()[:20]
    seeds.append(bytes([0]) + b"\n".join(lines) + b"\n")
    seeds.append(bytes([0]) + b"\n".join(HOSTILE) + b"\n")
    seeds += [bytes([0]) + h + b"\n" + lines[0] for h in HOSTILE]
    csvs = [
        b'id,text\nr1,plain\nr2,"quoted, ""escaped"""\nr3,"two\nlines"\n',
        b'id,text\nr10,a 27" monitor stand\nr11,fine\n',
        b'id,text\nr1,"never closed\nr2,fine\nr3,"closed later",x\n',
        b'id,text\r\nr1,"crlf\r\nfield"\r\n\r\n',
        b'id,text\nbig,"' + b"x\n" * 2000 + b'"\n',
        b'id,text\n' + b'"' * 5000 + b"\n",
    ]
    for c in csvs:
        seeds += [bytes([1]) + c, bytes([3]) + c]
elif target == "stream_message":
    for line in read(os.path.join(src, "examples", "descriptions.jsonl")).splitlines()[:10]:
        seeds.append(bytes([0]) + line)
    seeds.append(bytes([1]) + "raw text, café".encode())
    seeds.append(bytes([2]))
    seeds.append(bytes([4]) + b'{"id":1,"text":"' + b"x" * 500 + b'"}')
    seeds += [bytes([0]) + h for h in HOSTILE] + [bytes([1]) + h for h in HOSTILE]
else:
    sys.exit(f"unknown target {target}")

for i, seed in enumerate(seeds):
    with open(os.path.join(out, f"seed-{i:03d}"), "wb") as f:
        f.write(seed)
