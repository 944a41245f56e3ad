"""One loaded model per worker process, kept between jobs on the same checkpoint.

Loading a model is the slow part of a short job. The worker keeps the last one and frees it when a
job needs another, or before a fine-tune (``release``), so GPU memory holds one model at a time.
Nothing here runs at import: CUDA is first touched inside a task, after the worker process has forked.
"""

from . import modeling

_loaded: dict[tuple[str, str | None], tuple] = {}


def cached_model(path: str, base: str | None = None) -> tuple:
    """(model, tokenizer) for a checkpoint directory (an adapter on ``base``), loaded at most once
    per process."""
    key = (path, base)
    if key not in _loaded:
        release()
        _loaded[key] = modeling.load_model(path, base)
    return _loaded[key]


def holds(path: str, base: str | None = None) -> bool:
    """Whether this process has that checkpoint loaded already: a job on it loads nothing more."""
    return (path, base) in _loaded


def release() -> None:
    """Drop the loaded model and give its memory back (before training, or another model)."""
    _loaded.clear()
    modeling.free_memory()
