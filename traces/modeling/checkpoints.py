"""Trainer checkpoints that count only once completely written, so that a worker killed at any moment
leaves a job that resumes.

transformers 5 writes a checkpoint's files straight into ``checkpoint-N`` (the weights, then the
optimiser, scheduler, random state and ``trainer_state.json``; no temporary directory), then deletes
the oldest beyond ``save_total_limit``. Killed half-way, it leaves a ``checkpoint-N`` that
``get_last_checkpoint`` picks and that every re-run then fails to load. Here a checkpoint counts once
``MarkComplete`` (a trainer callback, called after the trainer's save) has flushed its files to disk
and written ``complete.json`` last, naming each file and its size, by write, fsync and rename.
``resume_point`` resumes from the newest checkpoint whose files match its marker, and renames every
other one ``incomplete-checkpoint-N``: a name the trainer neither resumes from nor counts in its
rotation, kept for a look and replaced if the same step is left incomplete again.

The trainer rotates before ``on_save`` marks the new checkpoint, so ``KEEP`` (its
``save_total_limit``) is 2: while the newest waits for its marker, the one before it is still there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, sort_checkpoints

MARKER = "complete.json"
SET_ASIDE = "incomplete-"  # prefix of an incomplete checkpoint's new name
KEEP = 2  # save_total_limit: never fewer, or a kill between rotation and marker leaves none complete


def is_complete(checkpoint: Path) -> bool:
    """Whether the checkpoint's marker is there and every file it names has the size it names."""
    try:
        files = json.loads((checkpoint / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(files, dict) or not files:
        return False
    for name, size in files.items():
        path = checkpoint / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def mark_complete(checkpoint: Path) -> None:
    """Flush the checkpoint's files and folders to disk, then write its marker: to a temporary name,
    flushed, renamed (atomic), and the folder flushed again, so that the marker never names a file
    that is not all there, even after a power cut."""
    files = {}
    for path in sorted(checkpoint.rglob("*")):
        if path.name.startswith(MARKER):
            continue
        _fsync(path)
        if path.is_file():
            files[path.relative_to(checkpoint).as_posix()] = path.stat().st_size
    _fsync(checkpoint)
    temporary = checkpoint / f"{MARKER}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump({"files": files}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, checkpoint / MARKER)
    _fsync(checkpoint)
    _fsync(checkpoint.parent)


class MarkComplete(TrainerCallback):
    """Marks each checkpoint complete once the trainer has saved it (``on_save`` follows the save)."""

    def on_save(self, args, state, control, **kwargs):
        mark_complete(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")


def resume_point(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest complete checkpoint in ``run_dir`` (None: start at step 0), every incomplete one set
    aside first; and a line for the job's log about each one set aside."""
    newest, set_aside = None, []
    for checkpoint in map(Path, sort_checkpoints(str(run_dir))):  # by step, oldest first
        if is_complete(checkpoint):
            newest = checkpoint
            continue
        aside = checkpoint.with_name(SET_ASIDE + checkpoint.name)
        shutil.rmtree(aside, ignore_errors=True)
        checkpoint.rename(aside)
        set_aside.append((checkpoint.name, aside.name))
    start = f"from {newest.name}" if newest else "from step 0 (no complete checkpoint)"
    notes = [f"{name} was not completely written (its worker stopped while saving it): set aside as "
             f"{aside}; training resumes {start}." for name, aside in set_aside]
    return newest, notes
