"""Writes a seed corpus for tfrecord_fuzz: framed tf.train.Examples, plain, gzip and zlib.

Protobuf is encoded by hand so that the seeds need nothing but the standard library.
"""
import gzip
import os
import struct
import sys
import zlib


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked(length)) + record + struct.pack("<I", masked(record))


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def feature(kind, values):
    if kind == "bytes":
        body = b"".join(field(1, v) for v in values)
        return field(1, body)
    if kind == "float":
        return field(2, field(1, b"".join(struct.pack("<f", v) for v in values)))
    return field(3, field(1, b"".join(varint(v) for v in values)))


def example(features):
    entries = b"".join(field(1, field(1, name.encode()) + field(2, feature(*value))) for name, value in features)
    return field(1, entries)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    records = [
        example([("text", ("bytes", [b"hello world"])), ("id", ("int", [7])), ("lang", ("bytes", [b"en"]))]),
        example([("text", ("bytes", ["Grüße".encode()])), ("id", ("bytes", [b"k"])), ("score", ("float", [0.5, 2]))]),
        example([("text", ("float", [1.0]))]),
        example([("id", ("int", [-1, 2, 3]))]),
        b"",
    ]
    data = b"".join(frame(r) for r in records)
    seeds = {"plain": data, "gzip": gzip.compress(data), "zlib": zlib.compress(data), "one": frame(records[0])}
    for i, r in enumerate(records):
        seeds[f"example{i}"] = r
    for name, content in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(content)


if __name__ == "__main__":
    main(sys.argv[1])
