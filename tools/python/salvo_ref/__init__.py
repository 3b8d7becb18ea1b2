"""Python references for salvo's tests, example and benchmarks (PyTorch from Debian, no transformers)."""
