"""Makes a random-weight BERT cross-encoder (one label) with transformers, and sentence-transformers'
CrossEncoder.predict scores of text pairs on it, for test_package.py. Run in a child process: the
venv's PyTorch must not share a process with Debian's libtorch, which salvo's TorchScript plugin
loads (they abort each other).

    python cross_encoder_reference.py FOLDER MAX_LENGTH
writes the model into FOLDER, and FOLDER/reference.json: {"pairs", "scores", "lengths"}.
"""

import json
import pathlib
import shutil
import sys

import numpy as np
import torch
import transformers
from sentence_transformers import CrossEncoder

TOKENIZERS = pathlib.Path(__file__).resolve().parents[1] / "data" / "tokenizers"
WORDS = ("the package provides a library for reading and writing image files with command line tools "
         "fonts network server daemon python bindings documentation kernel driver firmware data").split()


def make_model(folder: pathlib.Path) -> None:
    """Weights far from the 0.02 init, so that scores differ between pairs."""
    torch.manual_seed(7)
    config = transformers.BertConfig(vocab_size=8000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=96, max_position_embeddings=160, num_labels=1)
    model = transformers.BertForSequenceClassification(config)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.2 * noise if "LayerNorm" in name and name.endswith("weight") else 0.2 * noise)
    model.save_pretrained(folder)
    shutil.copy(TOKENIZERS / "bert-uncased" / "tokenizer.json", folder)
    for f in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(TOKENIZERS / "vocab-uncased" / f, folder)


def word_pairs(seed: int = 3) -> list:
    """Short pairs, an empty text, and pairs far over max_length tokens (either side, or both),
    which longest_first truncation must cut as the tokenizers library does."""
    rng = np.random.default_rng(seed)
    sizes = [(2, 3), (1, 1), (12, 7), (5, 120), (90, 4), (60, 70), (30, 31), (0, 5), (40, 2)]
    return [(" ".join(rng.choice(WORDS, size=a)), " ".join(rng.choice(WORDS, size=b))) for a, b in sizes]


def main() -> None:
    folder, max_length = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    make_model(folder)
    pairs = word_pairs()
    model = CrossEncoder(str(folder), device="cpu", max_length=max_length)
    scores = model.predict(pairs, batch_size=4, show_progress_bar=False)
    ids = model.tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=True,
                          max_length=max_length)["input_ids"]
    with open(folder / "reference.json", "w") as f:
        json.dump({"pairs": pairs, "scores": [float(s) for s in scores], "lengths": [len(i) for i in ids]}, f)


if __name__ == "__main__":
    main()
