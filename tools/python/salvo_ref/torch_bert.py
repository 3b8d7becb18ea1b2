"""A BERT encoder in plain PyTorch with Hugging Face's parameter names.

It is the numerical reference for salvo's native encoder (parity tests), the model the example is
trained with, and the PyTorch peer of the benchmarks. Debian 12 has no `transformers`, so the
architecture is written out here following BertModel / BertForSequenceClassification.
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from . import safetensors_io

_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
}


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.num_heads = c["num_attention_heads"]
        self.head_dim = h // self.num_heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x, mask_bias):
        b, s, h = x.shape

        def split(t):
            return t.view(b, s, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask_bias
        ctx = torch.softmax(scores, dim=-1) @ v
        return ctx.transpose(1, 2).reshape(b, s, h)


class BertDenseOutput(nn.Module):
    def __init__(self, n_in, n_out, eps):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        self.LayerNorm = nn.LayerNorm(n_out, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertDenseOutput(c["hidden_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, mask_bias):
        return self.output(self.self(x, mask_bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = _ACTIVATIONS[c.get("hidden_act", "gelu")]

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertDenseOutput(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, mask_bias):
        a = self.attention(x, mask_bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, mask_bias):
        for layer in self.layer:
            x = layer(x, mask_bias)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    """Token ids in, last hidden states out (padding positions masked out of attention)."""

    def __init__(self, c, with_pooler=True):
        super().__init__()
        self.config = c
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if with_pooler else None

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        return self.encoder(self.embeddings(input_ids, token_type_ids), mask_bias)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.bert.pooler(hidden))


def default_config(**overrides):
    """A BertConfig dict with Hugging Face's defaults (BERT-base shape)."""
    c = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 30522, "hidden_size": 768,
         "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
         "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
         "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
         "layer_norm_eps": 1e-12, "pad_token_id": 0}
    c.update(overrides)
    return c


def pool(hidden, attention_mask, mode="mean", normalize=True):
    """Sentence-transformers pooling: 'cls', 'mean' or 'max' over unmasked tokens, then L2 norm."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        out = hidden[:, 0]
    elif mode == "mean":
        out = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    elif mode == "max":
        out = hidden.masked_fill(m == 0, -1e9).max(1).values
    else:
        raise ValueError(mode)
    return F.normalize(out, p=2, dim=1) if normalize else out


def load(model_dir):
    """Loads a Hugging Face BERT folder; returns (config, module). The module is a classifier when
    the checkpoint has a `classifier` head, else a BertModel."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    tensors = {k: v.float() for k, v in safetensors_io.load(os.path.join(model_dir, "model.safetensors")).items()}
    tensors.pop("embeddings.position_ids", None)
    tensors.pop("bert.embeddings.position_ids", None)
    if "classifier.weight" in tensors:
        module = BertForSequenceClassification(c)
        if not any(k.startswith("bert.") for k in tensors):
            tensors = {(k if k.startswith("classifier.") else "bert." + k): v for k, v in tensors.items()}
    else:
        tensors = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in tensors.items()}
        module = BertModel(c, with_pooler="pooler.dense.weight" in tensors)
    module.load_state_dict(tensors, strict=True)
    return c, module.eval()
