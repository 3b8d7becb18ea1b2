"""What Spark users run today to embed text with PyTorch, for tools/bench/bench_spark.py: shipped to
the Python workers with SparkContext.addPyFile, so that its per-process cache survives across tasks
(a cache in the driver's __main__ would be pickled with each task and start empty every time)."""

import numpy as np

_cache = {}


def _threads(threads):
    import torch

    if threads:
        torch.set_num_threads(threads)


def sentence_transformer(path: str, max_length: int, threads: int):
    """A SentenceTransformer loaded once per Python worker process."""
    key = ("st", path, max_length, threads)
    if key not in _cache:
        from sentence_transformers import SentenceTransformer

        _threads(threads)
        model = SentenceTransformer(path, device="cpu")
        model.max_seq_length = max_length
        _cache[key] = model
    return _cache[key]


def mean_pooling_predict_fn(path: str, max_length: int, threads: int):
    """A predict function for predict_batch_udf: Hugging Face AutoModel + tokenizer, masked mean
    pooling, L2 normalisation (what sentence-transformers computes for all-MiniLM-L6-v2)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    _threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def predict(inputs: np.ndarray) -> np.ndarray:
        batch = tokenizer(list(inputs), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1).numpy()

    return predict
