"""Bringing QA problems into the database from data files, all or nothing."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from . import loaders
from .models import Problem, ReferenceTrace


@dataclass(frozen=True)
class ImportResult:
    created: int
    already_there: int


def import_problems(fmt: str, path_or_file: loaders.PathOrFile, subset: str) -> ImportResult:
    """Load a file with the loader for `fmt` and store its new problems.

    A malformed file raises loaders.LoadError (naming the line) before anything is written;
    problems already imported (same dataset and source id) are left as they are, unless they say
    something else (another question, facts or answers): then nothing is imported.
    """
    return store_problems(loaders.load(fmt, path_or_file, subset))


def store_problems(problems: list[loaders.Problem]) -> ImportResult:
    """Store loaded problems that are not there yet, all or nothing (see ``import_problems``)."""
    with transaction.atomic():
        existing = {
            (p.dataset, p.source_id): p
            for p in Problem.objects.filter(
                dataset__in={p.dataset for p in problems},
                source_id__in=[p.source_id for p in problems],
            )
        }
        for p in problems:
            there = existing.get((p.dataset, p.source_id))
            if there is not None and (there.question, there.facts, there.gold_answers) != (
                p.question, p.facts, p.gold_answers
            ):
                raise loaders.LoadError(
                    p.source_id, None,
                    "a problem with this id is already stored with another question, facts or answers; "
                    "nothing was imported (load the file under another name)",
                )
        new = [p for p in problems if (p.dataset, p.source_id) not in existing]
        Problem.objects.bulk_create(
            Problem(
                dataset=p.dataset, subset=p.subset, source_id=p.source_id, question=p.question,
                facts=p.facts, gold_answers=p.gold_answers, metadata=p.metadata,
            )
            for p in new
        )
    return ImportResult(created=len(new), already_there=len(problems) - len(new))


# Keys of the published traces in the pilot file format (studyapp/data/cotempqa_pilot/README.md).
_REFERENCE_KEYS = {"r1": "r1", "r1_summary": "r1_summary", "posthoc_explanation": "posthoc"}


def import_reference_traces(path: str | Path, source: str = "") -> ImportResult:
    """Store published traces for CoTempQA problems already imported, from JSON Lines of
    ``{"id": <source id>, "traces": {"r1": …, "r1_summary": …, "posthoc_explanation": …}}``.

    Every id must name an imported problem, or nothing is stored; traces already there are kept.
    """
    name, records = loaders.read_json_lines(path)
    rows = []
    for lineno, record in records:
        source_id, traces = record.get("id"), record.get("traces")
        if not isinstance(source_id, str) or not isinstance(traces, dict):
            raise loaders.LoadError(name, lineno, "expected an 'id' string and a 'traces' object")
        rows.append((lineno, source_id, traces))
    problems = {
        p.source_id: p
        for p in Problem.objects.filter(dataset="cotempqa", source_id__in=[sid for _, sid, _ in rows])
    }
    missing = [f"line {lineno}: {source_id}" for lineno, source_id, _ in rows if source_id not in problems]
    if missing:
        raise loaders.LoadError(name, None, "no imported problem for " + ", ".join(missing[:10]))
    created = already_there = 0
    with transaction.atomic():
        for _, source_id, traces in rows:
            for key, kind in _REFERENCE_KEYS.items():
                if traces.get(key):
                    _, was_created = ReferenceTrace.objects.get_or_create(
                        problem=problems[source_id], kind=kind,
                        defaults={"text": traces[key], "source": source or name},
                    )
                    created += was_created
                    already_there += not was_created
    return ImportResult(created=created, already_there=already_there)
