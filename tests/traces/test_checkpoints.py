"""A trainer checkpoint counts once completely written: training resumes from the newest complete one,
and one that a kill left half-written is set aside (checked here on directories made by hand; the
trainer writing them and a worker killed in the middle are in test_training.py and test_worker.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers.trainer_utils import get_last_checkpoint

from traces.modeling.checkpoints import MARKER, is_complete, mark_complete, resume_point


def _checkpoint(run_dir: Path, step: int, *, complete: bool = True) -> Path:
    """A checkpoint's files as the trainer writes them, and its marker if it got that far."""
    path = run_dir / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "adapter_model.safetensors").write_bytes(b"w" * 64)
    (path / "optimizer.pt").write_bytes(b"o" * 128)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if complete:
        mark_complete(path)
    return path


def test_training_resumes_from_the_newest_complete_checkpoint_not_a_newer_partial_one(tmp_path):
    _checkpoint(tmp_path, 4)
    newest = _checkpoint(tmp_path, 8)
    partial = _checkpoint(tmp_path, 12, complete=False)
    assert get_last_checkpoint(str(tmp_path)) == str(partial)  # what the trainer alone would load (and fail)
    last, notes = resume_point(tmp_path)
    assert last == newest
    assert not partial.exists() and (tmp_path / "incomplete-checkpoint-12" / "optimizer.pt").is_file()
    assert notes == [
        "checkpoint-12 was not completely written (its worker stopped while saving it): set aside as "
        "incomplete-checkpoint-12; training resumes from checkpoint-8."
    ]
    assert resume_point(tmp_path) == (newest, [])  # nothing more to set aside
    assert get_last_checkpoint(str(tmp_path)) == str(newest)


def test_a_step_left_incomplete_again_replaces_what_was_set_aside_for_it(tmp_path):
    _checkpoint(tmp_path, 12, complete=False)
    assert resume_point(tmp_path) == (None, [
        "checkpoint-12 was not completely written (its worker stopped while saving it): set aside as "
        "incomplete-checkpoint-12; training resumes from step 0 (no complete checkpoint)."
    ])
    again = _checkpoint(tmp_path, 12, complete=False)
    (again / "second-try").write_text("")
    assert resume_point(tmp_path)[0] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incomplete-checkpoint-12"]
    assert (tmp_path / "incomplete-checkpoint-12" / "second-try").is_file()


def _unmarked(path: Path) -> None:
    (path / MARKER).unlink()


def _truncated(path: Path) -> None:
    (path / "optimizer.pt").write_bytes(b"o" * 100)


def _file_gone(path: Path) -> None:  # as when a kill stops the rotation's deletion of an old checkpoint
    (path / "adapter_model.safetensors").unlink()


def _marker_half_written(path: Path) -> None:
    (path / MARKER).write_text((path / MARKER).read_text()[:20])


def _killed_before_the_rename(path: Path) -> None:
    (path / MARKER).rename(path / f"{MARKER}.tmp")


def _nothing_yet(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()


@pytest.mark.parametrize("damage", [_unmarked, _truncated, _file_gone, _marker_half_written,
                                    _killed_before_the_rename, _nothing_yet])
def test_a_checkpoint_is_complete_only_when_its_marker_matches_its_files(tmp_path, damage):
    earlier = _checkpoint(tmp_path, 2)
    checkpoint = _checkpoint(tmp_path, 4)
    assert is_complete(checkpoint)
    damage(checkpoint)
    assert not is_complete(checkpoint)
    assert resume_point(tmp_path)[0] == earlier
