"""Writes a seed corpus for torch_checkpoint_fuzz: the committed checkpoints of both PyTorch
versions (zip and legacy) and the data.pkl pickles inside the zip ones."""
import glob
import os
import shutil
import sys
import zipfile

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for i, path in enumerate(sorted(glob.glob(os.path.join(src, "tests/data/torch_checkpoints/*/**/*.bin"),
                                          recursive=True))):
    shutil.copy(path, os.path.join(out, f"{i:03d}_{os.path.basename(path)}"))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith("/data.pkl"):
                    with open(os.path.join(out, f"{i:03d}_data.pkl"), "wb") as f:
                        f.write(z.read(name))
