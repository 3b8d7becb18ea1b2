"""Writes the small PyTorch checkpoints that the loader's unit tests read (tests/unit/model/).

    python make_fixtures.py OUT_DIR

Run it with each PyTorch the tests cover (Debian's 1.13 as /usr/bin/python3, PyPI's 2.x in the
project's venv): both writers' files must load. Every checkpoint X.bin comes with
X.expected.safetensors, the same tensors made contiguous and written by salvo_ref's independent
safetensors writer, which the tests compare against bit for bit. The committed copies live in
torch1.13/ and torch2/ beside this script; the `torch_checkpoint_writers` test regenerates them.
"""
import collections
import json
import os
import pickle
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "tools", "python"))
from salvo_ref import safetensors_io  # noqa: E402

# Files that must be refused: unpickling them with Python would run these commands.
PWNED_MARKER = "/tmp/salvo_pickle_pwned"


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(4, 3)
        self.register_buffer("position_ids", torch.arange(5).unsqueeze(0))


def state_dict():
    """A module's state dict (an OrderedDict with _metadata) plus every kind of tensor a
    checkpoint can hold: views of a shared storage, tied weights, f16/bf16, scalars, empty
    tensors, a Parameter, and dtypes that can be listed but not read as weights."""
    torch.manual_seed(7)
    sd = Tiny().state_dict()
    w = sd["dense.weight"]
    sd["t_view"] = w.t()
    sd["slice"] = w[1:, 1:3]
    sd["tied"] = w
    sd["half"] = torch.randn(2, 3).half()
    sd["half_view"] = sd["half"].t()
    sd["bfloat"] = torch.randn(3, 2).bfloat16()
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = nn.Parameter(torch.randn(2, 2))
    sd["double"] = torch.randn(2).double()
    sd["flags"] = torch.tensor([True, False, True])
    sd["big"] = torch.randn(64, 33)[::2, 1::3]  # strided view at an offset of a larger storage
    return sd


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, torch.Tensor):
            out[name] = v.detach().contiguous()
        elif isinstance(v, dict):
            out.update(flat(v, name + "."))
    return out


def save_both(obj, out, name):
    torch.save(obj, os.path.join(out, f"{name}.bin"))
    torch.save(obj, os.path.join(out, f"{name}.legacy.bin"), _use_new_zipfile_serialization=False)
    safetensors_io.save(flat(obj), os.path.join(out, f"{name}.expected.safetensors"))


class System:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED_MARKER}_system",))


class Eval:
    def __reduce__(self):
        import builtins
        return (builtins.eval, (f"__import__('os').system('touch {PWNED_MARKER}_eval')",))


def main(out):
    os.makedirs(out, exist_ok=True)
    sd = state_dict()
    save_both(sd, out, "state")
    # torch.save's default pickle protocol is 2; newer protocols add FRAME, MEMOIZE, STACK_GLOBAL.
    torch.save(sd, os.path.join(out, "state.p5.bin"), pickle_protocol=5)
    save_both({"model": sd, "epoch": 3, "optimizer": {"lr": 0.1, "betas": (0.9, 0.99)},
               "names": ["a", "b"], "ema": {"decay": 0.5, "weights": {"w": torch.ones(2)}}},
              out, "nested")

    # Sharded, as save_pretrained splits a large model: an index and two files.
    for fmt in ("bin", "safetensors"):
        folder = os.path.join(out, f"sharded_{fmt}")
        os.makedirs(folder, exist_ok=True)
        names = sorted(sd)
        parts = [names[: len(names) // 2], names[len(names) // 2:]]
        weight_map = {}
        for i, part in enumerate(parts):
            if fmt == "bin":
                file = f"pytorch_model-{i + 1:05d}-of-00002.bin"
                torch.save(collections.OrderedDict((n, sd[n]) for n in part),
                           os.path.join(folder, file))
            else:
                file = f"model-{i + 1:05d}-of-00002.safetensors"
                safetensors_io.save({n: sd[n] for n in part}, os.path.join(folder, file))
            weight_map.update({n: file for n in part})
        index = "pytorch_model.bin.index.json" if fmt == "bin" else "model.safetensors.index.json"
        with open(os.path.join(folder, index), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1)

    for name, evil in (("evil_system", System()), ("evil_eval", Eval())):
        obj = {"dense.weight": torch.ones(2), "payload": evil}
        torch.save(obj, os.path.join(out, f"{name}.bin"))
        torch.save(obj, os.path.join(out, f"{name}.legacy.bin"),
                   _use_new_zipfile_serialization=False)
    # Plain values in each binary protocol, for the pickle reader's own tests. Protocol 2 pickles
    # bytes as a call to _codecs.encode, which the reader must refuse.
    plain = {"a": [1, -2, 300, 70000, -5000000000, 2**70, 2.5, "x\u00e9", b"y", None, True, False,
                   (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)], "b": {}}
    for protocol in (2, 4, 5):
        with open(os.path.join(out, f"plain_p{protocol}.pkl"), "wb") as f:
            pickle.dump(plain, f, protocol=protocol)
    with open(os.path.join(out, "writer.txt"), "w") as f:
        f.write(f"torch {torch.__version__}\n")


if __name__ == "__main__":
    main(sys.argv[1])
