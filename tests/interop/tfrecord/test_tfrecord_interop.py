"""salvo's TFRecords against an independent reader and writer.

The framing (length, masked CRC-32C of it, data, masked CRC-32C of the data) and its CRC-32C are
written here from the TensorFlow documentation; tf.train.Example is decoded by Debian's
python3-protobuf from TensorFlow's own schema (written below, compiled with protoc at test time).
The CLI runs on the shipped example model; its JSONL output of the same run is the reference.
"""
import gzip
import importlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SALVO = os.environ.get("SALVO_BIN", os.path.join(REPO, "build", "salvo"))
MODEL = os.path.join(REPO, "examples", "debian-sections")
INPUT = os.path.join(REPO, "examples", "descriptions.jsonl")

# tensorflow/core/example/feature.proto and example.proto, reduced to the messages used.
TF_EXAMPLE_PROTO = """
syntax = "proto3";
package tensorflow;
message BytesList { repeated bytes value = 1; }
message FloatList { repeated float value = 1 [packed = true]; }
message Int64List { repeated int64 value = 1 [packed = true]; }
message Feature {
  oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; }
}
message Features { map<string, Feature> feature = 1; }
message Example { Features features = 1; }
"""


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked_crc(length)) + record + struct.pack("<I", masked_crc(record))


def unframe(data):
    """Records of a TFRecord byte string, both CRCs verified."""
    records, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 12:
            raise ValueError(f"truncated header at {pos}")
        length_bytes = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked_crc(length_bytes) != length_crc:
            raise ValueError(f"length CRC mismatch at {pos}")
        body = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if len(body) != length or masked_crc(body) != data_crc:
            raise ValueError(f"data CRC mismatch at {pos}")
        records.append(body)
        pos += 16 + length
    return records


def compress(data, kind):
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "zlib":
        return zlib.compress(data)
    return data


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:
        return zlib.decompress(data)
    return data


def run_salvo(*args, check=True):
    proc = subprocess.run([SALVO, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"salvo {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class TfRecordInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="salvo-tfrecord-")
        cls.tmp = cls._tmp.name
        with open(os.path.join(cls.tmp, "tf_example.proto"), "w") as f:
            f.write(TF_EXAMPLE_PROTO)
        subprocess.run(["protoc", f"--proto_path={cls.tmp}", f"--python_out={cls.tmp}", "tf_example.proto"],
                       check=True, cwd=cls.tmp)
        sys.path.insert(0, cls.tmp)
        cls.pb = importlib.import_module("tf_example_pb2")
        cls.rows = read_jsonl(INPUT)

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.tmp)
        cls._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def examples(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        out = []
        for record in unframe(decompress(raw)):
            example = self.pb.Example()
            example.ParseFromString(record)
            out.append(example.features.feature)
        return out

    def write_examples(self, path, features_list, kind="none"):
        data = b""
        for features in features_list:
            example = self.pb.Example()
            for name, value in features.items():
                feature = example.features.feature[name]
                if isinstance(value, bytes):
                    feature.bytes_list.value.append(value)
                elif isinstance(value, str):
                    feature.bytes_list.value.append(value.encode("utf-8"))
                elif isinstance(value, int):
                    feature.int64_list.value.append(value)
                elif isinstance(value, float):
                    feature.float_list.value.append(value)
                else:
                    raise TypeError(value)
            data += frame(example.SerializeToString())
        with open(path, "wb") as f:
            f.write(compress(data, kind))
        return path

    def assert_floats_equal(self, got, want):
        self.assertEqual(len(got), len(want))
        worst = max((abs(a - b) for a, b in zip(got, want)), default=0.0)
        self.assertLessEqual(worst, 1e-6)

    # (a) salvo writes, Python reads.

    def test_embed_tfrecord_equals_jsonl_output(self):
        for name, extra in (("e.tfrecord", []), ("e.tfrecord.gz", []), ("e.tfrecords", ["--compression", "zlib"])):
            with self.subTest(name=name):
                out = self.path(name)
                ref = self.path(name + ".jsonl")
                common = ["embed", "--model", MODEL, "--input", INPUT, "--threads", "1", "--quiet"]
                run_salvo(*common, "--output", out, *extra)
                run_salvo(*common, "--output", ref)
                with open(out, "rb") as f:
                    head = f.read(2)
                if name.endswith(".gz"):
                    self.assertEqual(head, b"\x1f\x8b")
                elif extra:
                    self.assertEqual(head[0], 0x78)
                examples = self.examples(out)
                expected = read_jsonl(ref)
                self.assertEqual(len(examples), len(self.rows))
                self.assertEqual(len(examples), len(expected))
                for got, want in zip(examples, expected):
                    self.assertEqual(got["id"].bytes_list.value[0].decode("utf-8"), want["id"])
                    self.assertEqual(len(got["embedding"].float_list.value), len(want["embedding"]))
                    self.assert_floats_equal(list(got["embedding"].float_list.value), want["embedding"])
                    self.assertNotIn("error", got)

    def test_classify_tfrecord_equals_jsonl_output(self):
        out, ref = self.path("c.tfrecord"), self.path("c.jsonl")
        common = ["classify", "--model", MODEL, "--input", INPUT, "--threads", "1", "--quiet", "--all-scores"]
        run_salvo(*common, "--output", out)
        run_salvo(*common, "--output", ref)
        examples, expected = self.examples(out), read_jsonl(ref)
        self.assertEqual(len(examples), len(expected))
        for got, want in zip(examples, expected):
            self.assertEqual(got["id"].bytes_list.value[0].decode("utf-8"), want["id"])
            self.assertEqual(got["label"].bytes_list.value[0].decode("utf-8"), want["label"])
            self.assert_floats_equal(list(got["score"].float_list.value), [want["score"]])
            self.assert_floats_equal(list(got["scores"].float_list.value), want["scores"])

    # (b) Python writes, salvo reads.

    def test_reads_python_tfrecords_like_the_jsonl_input(self):
        reference = self.path("ref.jsonl")
        common = ["embed", "--model", MODEL, "--threads", "1", "--quiet"]
        run_salvo(*common, "--input", INPUT, "--output", reference)
        expected = read_jsonl(reference)
        features = [{"id": r["id"], "text": r["text"]} for r in self.rows]
        for name, kind in (("p.tfrecord", "none"), ("p.tfrecord.gz", "gzip"), ("p.tfrecord.zz", "zlib")):
            with self.subTest(kind=kind):
                path = self.write_examples(self.path(name), features, kind)
                out = self.path(name + ".out.jsonl")
                run_salvo(*common, "--input", path, "--output", out)
                got = read_jsonl(out)
                self.assertEqual(len(got), len(expected))
                for g, w in zip(got, expected):
                    self.assertEqual(g["id"], w["id"])
                    self.assert_floats_equal(g["embedding"], w["embedding"])

    def test_bad_examples_become_error_rows_and_ids_keep_their_type(self):
        path = self.write_examples(self.path("bad.tfrecord"), [
            {"id": 1, "text": "A fine sentence.", "lang": "en"},
            {"id": 2, "body": "no text feature"},
            {"id": 3, "text": b"bad \xc3\x28 utf8"},
            {"id": 4, "text": 1.5},
        ])
        with open(path, "ab") as f:
            f.write(frame(b"\xff\xff\xff not a protobuf"))
        out = self.path("bad.out.jsonl")
        run_salvo("embed", "--model", MODEL, "--input", path, "--output", out, "--keep-columns", "lang", "--quiet")
        rows = read_jsonl(out)
        self.assertEqual([r.get("id") for r in rows], [1, 2, 3, 4, None])
        self.assertIn("embedding", rows[0])
        self.assertEqual(rows[0]["lang"], "en")
        self.assertEqual(rows[1]["error"], 'record 2: missing text feature "text"')
        self.assertEqual(rows[2]["error"], "record 3: text is not valid UTF-8 (byte 4)")
        self.assertEqual(rows[3]["error"], 'record 4: text feature "text" is a float_list, not a bytes_list')
        self.assertEqual(rows[4]["error"], "record 5: record is not a valid tf.train.Example")

        tf_out = self.path("bad.out.tfrecord")
        run_salvo("embed", "--model", MODEL, "--input", path, "--output", tf_out, "--keep-columns", "lang", "--quiet")
        examples = self.examples(tf_out)
        self.assertEqual(list(examples[0]["id"].int64_list.value), [1])
        self.assertEqual(examples[0]["lang"].bytes_list.value[0], b"en")
        self.assertEqual(examples[1]["error"].bytes_list.value[0].decode(), 'record 2: missing text feature "text"')
        self.assertNotIn("id", examples[4])

    def test_corrupt_file_fails_with_file_and_offset(self):
        good = frame(b"x" * 10) + frame(b"y" * 20)
        bad = bytearray(good)
        bad[26 + 12 + 5] ^= 0x01  # inside the second record's data
        path = self.path("corrupt.tfrecord")
        with open(path, "wb") as f:
            f.write(bytes(bad))
        proc = run_salvo("embed", "--model", MODEL, "--input", path, "--output", self.path("corrupt.jsonl"),
                         "--quiet", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(f"{path}: corrupt record at byte 26: data CRC mismatch", proc.stderr)
        self.assertFalse(os.path.exists(self.path("corrupt.jsonl")))

    def test_python_framing_agrees_with_known_crc(self):
        # The reference CRC-32C of "123456789" keeps this file's own implementation honest.
        self.assertEqual(crc32c(b"123456789"), 0xE3069283)


if __name__ == "__main__":
    unittest.main()
