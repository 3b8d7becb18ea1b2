"""pytorch_model.bin of a real checkpoint reads bit-identical to its model.safetensors.

    real_bin_parity.py --compare WEIGHTS_COMPARE [--hf-python PYTHON] [--model all-minilm-l6-v2]

No PyPI package carries a real pytorch_model.bin (tools/models/models.json), so this test makes
them from a real model.safetensors the way users' files were made, then has salvo's loader
(weights_compare, through open_weight_store) compare every tensor with the safetensors file:
  - torch2-module:   transformers' AutoModel loaded from the folder, torch.save(model.state_dict())
                     (what save_pretrained(safe_serialization=False) wrote before transformers 5),
                     with PyTorch 2.x from --hf-python;
  - torch2-sharded:  the same state dict in three shards with pytorch_model.bin.index.json;
  - torch1.13-zip / torch1.13-legacy: the tensors read by salvo_ref and torch.save'd by Debian's
                     PyTorch 1.13 (this interpreter) in the zip and the pre-1.6 formats.
The model comes from tools/models/fetch_models.py (cached; fetched from PyPI when missing).
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "python"))

HF_WRITER = r"""
import collections, json, os, sys, torch
from transformers import AutoModel
src, out = sys.argv[1], sys.argv[2]
sd = AutoModel.from_pretrained(src).state_dict()
os.makedirs(os.path.join(out, "torch2-module"))
torch.save(sd, os.path.join(out, "torch2-module", "pytorch_model.bin"))
folder = os.path.join(out, "torch2-sharded")
os.makedirs(folder)
names = list(sd)
weight_map = {}
for i in range(3):
    file = f"pytorch_model-{i + 1:05d}-of-00003.bin"
    part = names[i::3]
    torch.save(collections.OrderedDict((n, sd[n]) for n in part), os.path.join(folder, file))
    weight_map.update({n: file for n in part})
with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {}, "weight_map": weight_map}, f)
print(f"torch {torch.__version__}: {len(sd)} tensors")
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", required=True, help="the weights_compare program")
    parser.add_argument("--hf-python", help="a Python with transformers and PyTorch 2.x")
    parser.add_argument("--model", default="all-minilm-l6-v2")
    args = parser.parse_args()

    fetched = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "models", "fetch_models.py"),
                              args.model], check=True, capture_output=True, text=True)
    src = fetched.stdout.strip().split("\t")[1]
    import torch
    from salvo_ref import safetensors_io

    tmp = tempfile.mkdtemp(prefix="salvo_bin_parity_")
    try:
        folders = []
        if args.hf_python:
            out = subprocess.run([args.hf_python, "-c", HF_WRITER, src, tmp], check=True,
                                 capture_output=True, text=True)
            print(out.stdout.strip())
            folders += [os.path.join(tmp, "torch2-module"), os.path.join(tmp, "torch2-sharded")]
        tensors = collections.OrderedDict(
            sorted(safetensors_io.load(os.path.join(src, "model.safetensors")).items()))
        for name, legacy in (("torch1.13-zip", False), ("torch1.13-legacy", True)):
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            torch.save(tensors, os.path.join(folder, "pytorch_model.bin"),
                       _use_new_zipfile_serialization=not legacy)
            folders.append(folder)
        print(f"torch {torch.__version__}: {len(tensors)} tensors")
        result = subprocess.run([args.compare, src] + folders)
        return result.returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
