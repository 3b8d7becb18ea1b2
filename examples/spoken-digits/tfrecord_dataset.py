"""Reads TFRecord files of tf.train.Example / tf.train.SequenceExample records without TensorFlow:
a PyTorch IterableDataset over shards, for training on what `salvo prep` writes.

    ds = TfRecordDataset(sorted(glob.glob("out/part-*.tfrecord.gz")), transform=...)
    for example in torch.utils.data.DataLoader(ds, batch_size=32, num_workers=2): ...

Each record becomes a dict of feature name -> value: a numpy float32 array (FloatList), a numpy
int64 array (Int64List) or a list of bytes (BytesList); a SequenceExample's feature lists become
lists of such values under their names, its context features sit beside them. Shards are split
between DataLoader workers, so each record is read once. The record's length CRC is checked (a
corrupt or truncated file fails loudly); the data CRC is not (pure Python would be slow)."""
import gzip
import struct
import zlib

import numpy as np
import torch


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def _masked_crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _open(path):
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".zz"):
        import io
        with open(path, "rb") as f:
            return io.BytesIO(zlib.decompress(f.read()))
    return open(path, "rb")


def read_records(path):
    """Yields the data of each record of a TFRecord file (.gz: GZIP, .zz: ZLIB)."""
    with _open(path) as f:
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise ValueError(f"{path}: truncated record header")
            length, length_crc = struct.unpack("<QI", header)
            if _masked_crc32c(header[:8]) != length_crc:
                raise ValueError(f"{path}: corrupt record length")
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                raise ValueError(f"{path}: truncated record")
            yield data


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of a protobuf message; LEN values as memoryviews."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_feature(buf):
    for number, _, value in _fields(buf):
        if number == 1:  # BytesList
            return [bytes(v) for _, _, v in _fields(value)]
        if number == 2:  # FloatList: packed, or one fixed32 per value
            parts = [np.frombuffer(v, dtype="<f4") for _, _, v in _fields(value)]
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if number == 3:  # Int64List: packed varints, or one varint per value
            out = []
            for _, wire, v in _fields(value):
                if wire == 0:
                    out.append(_signed(v))
                else:
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        out.append(_signed(x))
            return np.array(out, dtype=np.int64)
    return None  # a feature with no kind


def _map_entries(buf):
    for _, _, entry in _fields(buf):
        key = value = None
        for number, _, v in _fields(entry):
            if number == 1:
                key = bytes(v).decode()
            elif number == 2:
                value = v
        yield key, value


def parse_example(data):
    """tf.train.Example bytes -> {name: value}."""
    out = {}
    for number, _, features in _fields(memoryview(data)):
        if number == 1:
            for key, value in _map_entries(features):
                out[key] = parse_feature(value) if value is not None else None
    return out


def parse_sequence_example(data):
    """tf.train.SequenceExample bytes -> ({context name: value}, {feature list name: [value per step]})."""
    context, lists = {}, {}
    for number, _, message in _fields(memoryview(data)):
        if number == 1:
            for key, value in _map_entries(message):
                context[key] = parse_feature(value)
        elif number == 2:
            for key, value in _map_entries(message):
                lists[key] = [parse_feature(f) for _, _, f in _fields(value)]
    return context, lists


class TfRecordDataset(torch.utils.data.IterableDataset):
    """Records of TFRecord shards, parsed, then passed through `transform`; shards are split
    between DataLoader workers (round-robin by file)."""

    def __init__(self, files, transform=None, sequence=False):
        super().__init__()
        self.files = [str(f) for f in files]
        self.transform = transform
        self.sequence = sequence

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        files = self.files if info is None else self.files[info.id::info.num_workers]
        parse = parse_sequence_example if self.sequence else parse_example
        for path in files:
            for data in read_records(path):
                example = parse(data)
                yield self.transform(example) if self.transform else example
