"""Step-level rating: the participant marks the first wrong step of a trace (or none), and where the
trace is graded step by step (a decomposition trace's classification and retrieval steps, graded from the
model's output in ``traces``), the mark is scored against where the trace really first goes wrong.
Plain data in, plain data out."""

from collections.abc import Mapping

#: The mark for "no step is wrong".
NO_WRONG_STEP = 0
#: A decomposition trace's graded steps, in the order shown (studyapp.rendering.trace_steps).
GRADED_STEPS = ("classification", "retrieval")


def first_wrong_step(grades: Mapping[str, object], definition: str, steps_shown: int) -> int | None:
    """The step (from 1) where the trace first goes wrong under ``definition`` (strict or published), or
    NO_WRONG_STEP when every step is right; None when the trace is not graded step by step, or is not
    shown as exactly its graded steps (a trace without its classification sentence shows one step)."""
    if steps_shown != len(GRADED_STEPS):
        return None
    right = [grades.get(f"{step}_{definition}") for step in GRADED_STEPS]
    if not all(isinstance(value, bool) for value in right):
        return None
    return next((n for n, ok in enumerate(right, start=1) if not ok), NO_WRONG_STEP)


def mark_from(value: str, steps_shown: int) -> int | None:
    """A posted mark: a step number 1..steps_shown, or 0 for none; None for anything else."""
    try:
        mark = int(value)
    except (TypeError, ValueError):
        return None
    return mark if 0 <= mark <= steps_shown and str(mark) == value.strip() else None
