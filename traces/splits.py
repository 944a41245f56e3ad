"""Stored train/test splits: recording them, drawing new ones, and the checks jobs make with them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import QuerySet

from .models import Problem, ProblemSplit, SplitMember

__all__ = [
    "SplitError",
    "assign_side",
    "create_random_split",
    "draw_sides",
    "get_split",
    "record_split",
    "split_problems",
    "test_rows",
    "test_side_conflicts",
]

Side = SplitMember.Side


class SplitError(ValueError):
    """A split cannot be made or used as asked; the message says why."""


def get_split(dataset: str, name: str) -> ProblemSplit:
    """The named split of a dataset, or a SplitError that says how to make one."""
    split = ProblemSplit.objects.filter(dataset=dataset, name=name).first()
    if split is None:
        known = ", ".join(ProblemSplit.objects.filter(dataset=dataset).values_list("name", flat=True))
        authors = " or import the authors' with `manage.py import_authors_data`" if dataset in (
            "cotempqa", "babi") else ""
        raise SplitError(
            f"No split named {name!r} for dataset {dataset!r}. "
            + (f"It has {known}: name one (launch_job --split NAME, or the job parameter split), or make "
               if known else "Make ")
            + f"one with `manage.py create_split`{authors}."
        )
    return split


@transaction.atomic
def record_split(
    dataset: str,
    name: str,
    train: Sequence[Problem],
    test: Sequence[Problem],
    description: str = "",
    user=None,
) -> tuple[ProblemSplit, bool]:
    """Store a split (its sides in the given order); (split, created). A split already stored under
    this name must have exactly these sides, or nothing changes and SplitError says so."""
    if set(train) & set(test):
        raise SplitError("A problem cannot be on both sides of a split.")
    wrong = [p.source_id for p in [*train, *test] if p.dataset != dataset]
    if wrong:
        raise SplitError(f"Problems of another dataset than {dataset!r}: {', '.join(wrong[:5])}.")
    split, created = ProblemSplit.objects.get_or_create(
        dataset=dataset, name=name, defaults={"description": description, "created_by": user}
    )
    wanted = [(Side.TRAIN, p.pk, i) for i, p in enumerate(train)] + [
        (Side.TEST, p.pk, i) for i, p in enumerate(test)
    ]
    if not created:
        stored = list(split.members.values_list("side", "problem_id", "position"))
        if sorted(stored) != sorted(wanted):
            raise SplitError(f"A split named {name!r} already exists for {dataset!r} with other problems.")
        return split, False
    SplitMember.objects.bulk_create(
        SplitMember(split=split, side=side, problem_id=pk, position=position) for side, pk, position in wanted
    )
    return split, True


def assign_side(source_id: str, *, test_fraction: float, seed: int) -> str:
    """'test' or 'train' for a problem, from a hash of its id and the seed only."""
    digest = hashlib.sha256(f"{seed}\x1f{source_id}".encode()).digest()
    return Side.TEST if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else Side.TRAIN


def draw_sides(
    dataset: str, name: str, *, test_fraction: float, seed: int = 0, subset: str = ""
) -> tuple[list[Problem], list[Problem]]:
    """(train, test) of a new split of a dataset's problems (or one subset's), or SplitError. Each
    problem's side comes from a hash of its id and the seed, so the draw is reproducible."""
    if not 0 < test_fraction < 1:
        raise SplitError(f"The test fraction must be between 0 and 1 (exclusive), not {test_fraction}.")
    if ProblemSplit.objects.filter(dataset=dataset, name=name).exists():
        raise SplitError(f"A split named {name!r} already exists for {dataset!r}; choose another name.")
    problems = Problem.objects.filter(dataset=dataset).order_by("pk")
    if subset:
        problems = problems.filter(subset=subset)
    sides: dict[str, list[Problem]] = {Side.TRAIN: [], Side.TEST: []}
    for problem in problems:
        sides[assign_side(problem.source_id, test_fraction=test_fraction, seed=seed)].append(problem)
    if not sides[Side.TRAIN] or not sides[Side.TEST]:
        raise SplitError(
            f"The draw leaves a side empty ({len(problems)} problems of {dataset!r}"
            f"{f' / {subset}' if subset else ''}); nothing was stored."
        )
    return sides[Side.TRAIN], sides[Side.TEST]


def create_random_split(
    dataset: str, name: str, *, test_fraction: float, seed: int = 0, subset: str = "", user=None
) -> ProblemSplit:
    """Draw a new split (``draw_sides``) and store it: once stored, it is read, never drawn again."""
    train, test = draw_sides(dataset, name, test_fraction=test_fraction, seed=seed, subset=subset)
    description = f"Drawn with test fraction {test_fraction} and seed {seed}" + (
        f" from subset {subset}" if subset else ""
    )
    split, _ = record_split(dataset, name, train, test, description, user)
    return split


def split_problems(split: ProblemSplit, side: str, subset: str = "") -> QuerySet:
    """The problems on one side of a split, in the split's order."""
    problems = Problem.objects.filter(split_memberships__split=split, split_memberships__side=side)
    if subset:
        problems = problems.filter(subset=subset)
    return problems.order_by("split_memberships__position")


def test_rows(split: ProblemSplit | None, fallback: Iterable[Problem] = ()) -> list[Problem]:
    """The test problems the published step lookup searches, in the split's order; without a split,
    the given problems stand in for the test file."""
    if split is None:
        return list(fallback)
    return list(split_problems(split, Side.TEST))


def test_side_conflicts(split: ProblemSplit, problems: Iterable[Problem]) -> list[Problem]:
    """The given problems that are on the test side of ``split``."""
    ids = [p.pk for p in problems]
    return list(
        Problem.objects.filter(
            pk__in=ids, split_memberships__split=split, split_memberships__side=Side.TEST
        ).order_by("pk")
    )
