"""salvo prep --features image against Pillow + torchvision: Image.open -> ImageOps.exif_transpose ->
convert("RGB") -> Resize(size) (bilinear, antialiased) -> CenterCrop -> ToTensor -> Normalize, within
2/255 per element before normalisation (the pixels are compared exactly where the decoders agree).
Inputs: Adwaita icons (PNG with alpha), and JPEG (with EXIF orientations), WebP (lossless, lossy),
GIF, grey and palette PNG (with and without a transparent entry) made from them by Pillow."""
import io
import pathlib
import struct
import sys
import tempfile
import unittest

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image, ImageOps
from torchvision import transforms

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tools/python"))
from salvo_ref import prep_fixtures as fx  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def reference(path, resize, crop, normalise=True):
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGB")
    steps = []
    if resize:
        steps.append(transforms.Resize(resize, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True))
    if crop:
        steps.append(transforms.CenterCrop(crop))
    steps.append(transforms.ToTensor())
    if normalise:
        steps.append(transforms.Normalize(MEAN, STD))
    return transforms.Compose(steps)(img).numpy()


def partial_frame_gif(img, path, background, transparency=None):
    """A GIF whose one frame (img) covers part of a larger screen, at (w / 2, h / 3), with screen
    background colour index `background` and the frame's transparent index `transparency`."""
    buf = io.BytesIO()
    img.save(buf, format="GIF", **({} if transparency is None else {"transparency": transparency}))
    data = bytearray(buf.getvalue())
    w, h = img.size
    data[6:10] = struct.pack("<HH", 2 * w, 2 * h + 20)
    data[11] = background
    at = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[at] == 0x21:  # extensions: a label, then sub-blocks up to an empty one
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    assert data[at] == 0x2C, "no image descriptor"
    data[at + 1:at + 5] = struct.pack("<HH", w // 2, h // 3)
    path.write_bytes(bytes(data))


def salvo_features(folder, out, *flags):
    fx.run_salvo("prep", "--input", folder, "--output", out, "--features", "image", "--quiet", *flags)
    rows = {}
    for row in pq.read_table(out).to_pylist():
        assert row["error"] is None, row
        if isinstance(row["features"], bytes):
            rows[row["path"]] = np.frombuffer(row["features"], dtype=np.uint8).reshape(row["shape"])
        else:
            rows[row["path"]] = np.asarray(row["features"], dtype=np.float32).reshape(row["shape"])
    return rows


class ImageParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        icons = fx.icons(root / "icons", sizes=("48x48", "96x96", "512x512"), per_category=3)
        made = root / "made"
        made.mkdir()
        big = [p for p in icons if "512x512" in p.name][:4] + icons[:4]
        for i, p in enumerate(big):
            img = Image.open(p)
            rgb = img.convert("RGB")
            # Non-square crops, so that orientation and crop offsets matter.
            w, h = rgb.size
            rgb = rgb.crop((0, 0, w, max(8, h * 3 // 4 + i)))
            rgb.save(made / f"{i}.jpg", quality=90)
            exif = Image.Exif()
            exif[0x0112] = [3, 6, 8, 2, 5, 7][i % 6]  # orientation
            rgb.save(made / f"{i}-exif.jpg", quality=85, exif=exif.tobytes())
            # EXIF in PNG's eXIf chunk and WebP's EXIF chunk, which exif_transpose applies too.
            exif[0x0112] = [6, 3, 5, 8, 7, 2][i % 6]
            rgb.save(made / f"{i}-exif.png", exif=exif.tobytes())
            rgb.save(made / f"{i}-exif.webp", quality=90, exif=exif.tobytes())
            img.save(made / f"{i}-lossless.webp", lossless=True)
            rgb.save(made / f"{i}-lossy.webp", quality=80)
            rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(made / f"{i}.gif")
            # A first frame smaller than the screen: Pillow fills the rest with the frame's
            # transparent index, else index 0 (never the screen's background colour).
            small = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
            partial_frame_gif(small, made / f"{i}-partial.gif", background=5)
            partial_frame_gif(small, made / f"{i}-partial-trns.gif", background=0, transparency=7)
            rgb.convert("L").save(made / f"{i}-grey.png")
            palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
            palette.save(made / f"{i}-palette.png")
            # A transparent palette entry (tRNS), in 8 and 4 bits: convert("RGB") ignores it.
            palette.save(made / f"{i}-palette-trns.png", transparency=i % 16)
            palette.save(made / f"{i}-palette4-trns.png", bits=4, transparency=(i + 3) % 16)
        cls.icons = root / "icons"
        cls.made = made
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def compare(self, folder, resize, crop, tolerance=2 / 255):
        name = f"out-{folder.name}-{resize}-{crop}"
        flags = ["--resize", resize, "--crop", crop]
        raw = salvo_features(folder, self.root / f"{name}-unit.parquet", *flags, "--mean", "0,0,0", "--std", "1,1,1")
        normalised = salvo_features(folder, self.root / f"{name}.parquet", *flags)
        self.assertGreater(len(raw), 5)
        worst = 0.0
        for path, got in raw.items():
            want = reference(path, resize, crop, normalise=False)
            self.assertEqual(got.shape, want.shape, path)
            diff = float(np.max(np.abs(got - want)))
            self.assertLessEqual(diff, tolerance, f"{path}: {diff * 255:.1f}/255")
            worst = max(worst, diff)
            np.testing.assert_allclose(normalised[path], reference(path, resize, crop), atol=tolerance / min(STD) + 1e-6)
        print(f"\n  {folder.name} resize {resize} crop {crop}: largest difference {worst * 255:.0f}/255", file=sys.stderr)
        return worst

    def test_icons_with_alpha(self):
        self.assertEqual(self.compare(self.icons, 64, 56), 0.0, "PNG decoding and the resize are exact")
        self.compare(self.icons, 256, 224)

    def test_jpeg_webp_gif_grey_palette_and_orientations(self):
        self.compare(self.made, 100, 90)
        self.compare(self.made, 37, 0)

    def test_raw_pixels_are_hwc_uint8(self):
        got = salvo_features(self.made, self.root / "raw.parquet", "--resize", "50", "--crop", "40", "--raw")
        for path, pixels in got.items():
            want = (reference(path, 50, 40, normalise=False) * 255).round().astype(np.uint8).transpose(1, 2, 0)
            self.assertEqual(pixels.shape, want.shape)
            self.assertLessEqual(int(np.max(np.abs(pixels.astype(int) - want.astype(int)))), 2, path)


if __name__ == "__main__":
    unittest.main()
