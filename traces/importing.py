"""Bringing QA problems into the database from data files, all or nothing."""

from dataclasses import dataclass

from django.db import transaction

from . import loaders
from .models import Problem


@dataclass(frozen=True)
class ImportResult:
    created: int
    already_there: int


def import_problems(fmt: str, path_or_file: loaders.PathOrFile, split: str) -> ImportResult:
    """Load a file with the loader for `fmt` and store its new problems.

    A malformed file raises loaders.LoadError (naming the line) before anything is written;
    problems already imported (same dataset and source id) are left as they are.
    """
    problems = loaders.load(fmt, path_or_file, split)
    with transaction.atomic():
        existing = set(
            Problem.objects.filter(
                dataset__in={p.dataset for p in problems},
                source_id__in=[p.source_id for p in problems],
            ).values_list("dataset", "source_id")
        )
        new = [p for p in problems if (p.dataset, p.source_id) not in existing]
        Problem.objects.bulk_create(
            Problem(
                dataset=p.dataset, split=p.split, source_id=p.source_id, question=p.question,
                facts=p.facts, gold_answers=p.gold_answers, metadata=p.metadata,
            )
            for p in new
        )
    return ImportResult(created=len(new), already_there=len(problems) - len(new))
