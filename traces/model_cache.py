"""One loaded model per worker process, kept between jobs on the same checkpoint.

Loading a model is the slow part of a short job. The worker keeps the last one and frees it when
a job needs another, so GPU memory holds one model at a time. Nothing here runs at import: CUDA is
first touched inside a task, after the worker process has forked.
"""

import gc

import torch

from . import modeling

_loaded: dict[str, tuple] = {}


def cached_model(path: str) -> tuple:
    """(model, tokenizer) for a checkpoint directory, loaded at most once per process."""
    if path not in _loaded:
        _loaded.clear()
        gc.collect()
        if torch.cuda.is_initialized():  # asking does not initialise CUDA
            torch.cuda.empty_cache()
        _loaded[path] = modeling.load_model(path)
    return _loaded[path]
