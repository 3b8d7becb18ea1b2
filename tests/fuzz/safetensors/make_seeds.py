"""Writes a seed corpus for safetensors_fuzz: the committed .safetensors files and a few small
hand-written ones (every dtype, empty and scalar tensors, metadata)."""
import glob
import json
import os
import shutil
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for i, path in enumerate(sorted(glob.glob(os.path.join(src, "tests/data/**/*.safetensors"),
                                          recursive=True))):
    if os.path.getsize(path) <= 65536:
        shutil.copy(path, os.path.join(out, f"{i:03d}_{os.path.basename(path)}"))


def write(name, tensors, metadata=None):
    header, data = {}, b""
    for tname, (dtype, shape, raw) in tensors.items():
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


write("dtypes", {"f32": ("F32", [2], struct.pack("<2f", 1.5, -2)),
                 "f16": ("F16", [2, 1], b"\x00\x3c\x00\xc0"),
                 "bf16": ("BF16", [1, 2], b"\x80\x3f\x40\xc0"),
                 "i64": ("I64", [1], struct.pack("<q", 7)),
                 "u8": ("U8", [3], b"abc")}, {"format": "pt"})
write("empty", {"e": ("F32", [0, 4], b""), "s": ("F32", [], struct.pack("<f", 3))})
write("nothing", {})
