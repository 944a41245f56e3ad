"""Evaluations: model outputs graded under every definition and stored, whether a job here made them
or a file brings them; and grading stored outputs again when a definition changes."""

from __future__ import annotations

import hashlib
import io
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet

from . import loaders
from .grading.outputs import OutputGrade, grade_outputs
from .grading.table import STEP_DEFINITIONS, GradedRecord
from .models import GRADING_VERSION, Evaluation, ModelOutput, Problem, ProblemSplit, SplitMember
from .output_files import OutputLine, read_output_lines
from .splits import get_split, test_rows

__all__ = [
    "EvaluationError",
    "OutputEntry",
    "build_outputs",
    "graded_records",
    "import_outputs",
    "regrade",
]

_MAX_ERRORS = 20
_GRADED_FIELDS = (
    "relation", "retrieved_facts", "answer", "answer_correct", "answer_f1", "answer_precision",
    "answer_recall", "predicted_answers", "answer_correct_strict", "unevaluated",
    "classification_published", "retrieval_published", "classification_authors", "retrieval_authors",
    "classification_strict", "retrieval_strict", "published_row", "grade_notes",
)


class EvaluationError(ValueError):
    """An evaluation cannot be stored as asked; the message says why."""


@dataclass(frozen=True)
class OutputEntry:
    """One output to grade and store, with what is known of how it was made."""

    problem: Problem
    text: str
    position: int
    prompt: str = ""
    notes: tuple[str, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    settings: dict = field(default_factory=dict)  # the decoding settings it was generated with


def _graded_fields(grade: OutputGrade, notes: Sequence[str], rows: dict[str, Problem]) -> dict:
    strict = grade.strict
    steps = {"published": grade.published, "authors": grade.authors, "strict": grade.strict_steps}
    return {
        "relation": strict.category,
        "retrieved_facts": strict.retrieved_facts,
        "answer": strict.answer,
        "answer_correct": grade.answer.exact_match,
        "answer_f1": grade.answer.f1,
        "answer_precision": grade.answer.precision,
        "answer_recall": grade.answer.recall,
        "predicted_answers": list(grade.answer.predicted),
        "answer_correct_strict": grade.answer_strict.exact_match,
        "unevaluated": grade.unevaluated,
        **{f"classification_{name}": step.classification for name, step in steps.items()},
        **{f"retrieval_{name}": step.retrieval for name, step in steps.items()},
        "published_row": rows.get(grade.published_row.source_id) if grade.published_row else None,
        "grade_notes": [*notes, *strict.errors, *strict.retrieval_issues],
    }


def build_outputs(
    evaluation: Evaluation, entries: Sequence[OutputEntry], rows: Sequence[Problem]
) -> list[ModelOutput]:
    """Graded, unsaved outputs of an evaluation, in the order given (the published lookup's order);
    ``rows`` are the test problems that lookup searches (``splits.test_rows``)."""
    by_id = {row.source_id: row for row in rows}
    grades = grade_outputs([(e.text, e.problem.as_plain()) for e in entries], [r.as_plain() for r in rows])
    return [
        ModelOutput(
            evaluation=evaluation, problem=entry.problem, position=entry.position, prompt=entry.prompt,
            raw_text=entry.text, prompt_tokens=entry.prompt_tokens,
            completion_tokens=entry.completion_tokens, latency_ms=entry.latency_ms,
            generation_settings=entry.settings, **_graded_fields(grade, entry.notes, by_id),
        )
        for entry, grade in zip(entries, grades, strict=True)
    ]


def _read_bytes(path_or_file: loaders.PathOrFile) -> tuple[str, bytes]:
    """(name, bytes) of a path or an open file."""
    if isinstance(path_or_file, str | os.PathLike):
        name = os.fspath(path_or_file)
        try:
            with open(name, "rb") as handle:
                return name, handle.read()
        except OSError as exc:
            raise loaders.LoadError(name, None, f"cannot read file: {exc.strerror or exc}") from exc
    data = path_or_file.read()
    name = str(getattr(path_or_file, "name", "<upload>"))
    return name, data.encode("utf-8") if isinstance(data, str) else data


@dataclass
class _Matcher:
    """Finds each output line's stored problem: by id, else by question and facts (bAbI, MS MARCO: and
    task or query type, in any case, and gold), a problem on the split's test side first; each problem
    takes one output."""

    problems: list[Problem]
    test_ids: set[int]
    by_id: dict[str, Problem] = field(init=False)
    by_text: dict[tuple[str, tuple[str, ...]], list[Problem]] = field(init=False)
    used: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {p.source_id: p for p in self.problems}
        self.by_text = defaultdict(list)
        for p in sorted(self.problems, key=lambda p: (p.pk not in self.test_ids, p.pk)):
            self.by_text[(p.question, tuple(p.facts))].append(p)

    def match(self, line: OutputLine) -> Problem:
        if line.source_id is not None:
            problem = self.by_id.get(line.source_id)
            if problem is None:
                raise ValueError(f"no stored problem with id {line.source_id!r}")
            candidates = [problem]
        else:
            candidates = [
                p for p in self.by_text.get((line.question or "", line.facts or ()), [])
                if (line.task is None or p.subset.casefold() == line.task.casefold())
                and (line.gold is None or tuple(p.gold_answers) == line.gold)
            ]
            if not candidates:
                raise ValueError("no stored problem with this question and these facts"
                                 + (" and gold answers" if line.gold is not None else ""))
        free = [p for p in candidates if p.pk not in self.used]
        if not free:
            raise ValueError(f"a second output for {candidates[0].source_id} (first on line "
                             f"{self.used[candidates[0].pk]})")
        self.used[free[0].pk] = line.line
        return free[0]


def import_outputs(
    path_or_file: loaders.PathOrFile,
    *,
    dataset: str,
    model_name: str,
    setting: str,
    subset: str = "",
    split_name: str = "authors",
    file_name: str | None = None,
    user=None,
) -> Evaluation:
    """Store a file of outputs as an evaluation, every output graded, all or nothing.

    Lines are matched to the dataset's stored problems (those of ``subset``, when given: the
    CoTempQA relation, or a bAbI task or MS MARCO query type); a malformed or unmatched line, a
    second output for a problem, or a file already imported for this model and setting refuses the
    whole file, naming the lines.
    ``split_name`` is the split whose test problems the published step lookup searches (empty:
    the file's own problems stand in for the test file).
    """
    if not model_name.strip():
        raise EvaluationError("Name the model the outputs come from.")
    name, raw = _read_bytes(path_or_file)
    name = file_name or name
    digest = hashlib.sha256(raw).hexdigest()
    stream = io.BytesIO(raw)
    stream.name = name
    _, lines = read_output_lines(stream)
    twin = Evaluation.objects.filter(
        sha256=digest, model_name=model_name, setting=setting, dataset=dataset, subset=subset
    ).first()
    if twin is not None:
        raise EvaluationError(f"This file was already imported as evaluation #{twin.pk} ({twin}).")
    split: ProblemSplit | None = get_split(dataset, split_name) if split_name else None
    problems = Problem.objects.filter(dataset=dataset)
    if subset:
        problems = problems.filter(subset=subset)
    problems = list(problems.order_by("pk"))
    if not problems:
        where = f"{dataset} / {subset}" if subset else dataset
        raise EvaluationError(f"No stored problems in {where}: import them first.")
    test_ids = set()
    if split is not None:
        test_side = SplitMember.objects.filter(split=split, side=SplitMember.Side.TEST)
        test_ids = set(test_side.values_list("problem_id", flat=True))
    matcher = _Matcher(problems, test_ids)
    entries: list[OutputEntry] = []
    errors: list[str] = []
    for position, line in enumerate(lines):
        try:
            problem = matcher.match(line)
        except ValueError as exc:
            errors.append(f"line {line.line}: {exc}")
            continue
        entries.append(
            OutputEntry(problem=problem, text=line.prediction, position=position, prompt=line.prompt)
        )
    if errors:
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        raise loaders.LoadError(name, None, "nothing was imported; " + "; ".join(errors[:_MAX_ERRORS]) + more)
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            model_name=model_name.strip(), setting=setting, dataset=dataset, subset=subset, split=split,
            source=Evaluation.Source.IMPORT, file_name=name[-300:], sha256=digest, imported_by=user,
            details={"formats": sorted({line.format for line in lines}), "outputs": len(entries)},
        )
        rows = test_rows(split, fallback=[e.problem for e in entries])
        ModelOutput.objects.bulk_create(build_outputs(evaluation, entries, rows), batch_size=500)
    return evaluation


@transaction.atomic
def regrade(evaluation: Evaluation) -> int:
    """Grade an evaluation's outputs again under the current definitions; returns how many."""
    outputs = list(evaluation.outputs.select_related("problem").order_by("position"))
    entries = [OutputEntry(problem=o.problem, text=o.raw_text, position=o.position) for o in outputs]
    rows = test_rows(evaluation.split, fallback=[o.problem for o in outputs])
    for output, graded in zip(outputs, build_outputs(evaluation, entries, rows), strict=True):
        for name in _GRADED_FIELDS:
            setattr(output, name, getattr(graded, name))
    ModelOutput.objects.bulk_update(outputs, _GRADED_FIELDS, batch_size=500)
    Evaluation.objects.filter(pk=evaluation.pk).update(grading_version=GRADING_VERSION)
    return len(outputs)


_RECORD_FIELDS = (
    "evaluation__model_name", "evaluation__setting", "problem__subset", "answer_correct", "answer_f1",
    "answer_correct_strict", "unevaluated",
    *(f"{step}_{name}" for name in STEP_DEFINITIONS for step in ("classification", "retrieval")),
)


def graded_records(outputs: QuerySet, *, latest_per_problem: bool = False) -> list[GradedRecord]:
    """What ``traces.grading.table`` needs of stored outputs, read in one flat query.

    ``latest_per_problem``: where several evaluations of one model and setting have an output for
    the same problem, only the newest evaluation's counts.
    """
    records = []
    seen: set[tuple[str, str, int]] = set()
    rows = outputs.values_list("problem_id", "published_row_id", *_RECORD_FIELDS)
    if latest_per_problem:
        rows = rows.order_by("-evaluation__created_at", "-evaluation_id")
    for problem_id, published_row, *row in rows.iterator(chunk_size=5000):
        model, setting, subset, correct, f1, strict, unevaluated, *steps = row
        if latest_per_problem:
            if (model, setting, problem_id) in seen:
                continue
            seen.add((model, setting, problem_id))
        records.append(
            GradedRecord(
                model=model, setting=setting, subset=subset, answer_correct=correct, answer_f1=f1,
                answer_correct_strict=strict, unevaluated=unevaluated,
                steps={name: (steps[2 * i], steps[2 * i + 1]) for i, name in enumerate(STEP_DEFINITIONS)},
                published_other_row=published_row is not None and published_row != problem_id,
            )
        )
    return records
