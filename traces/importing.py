"""Bringing QA problems into the database from data files, all or nothing."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from . import loaders
from .grading.outputs import score_answer
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


#: 16 CoTempQA problems with the paper authors' R1 traces, summaries and explanations (see its README).
PILOT_FILE = Path(__file__).resolve().parent / "data" / "cotempqa_pilot" / "stimuli.jsonl"
PILOT_SOURCE = "authors (cotempqa_pilot)"
# Keys of the published traces in the pilot file format (data/cotempqa_pilot/README.md).
_REFERENCE_KEYS = {"r1": "r1", "r1_summary": "r1_summary", "posthoc_explanation": "posthoc"}


def import_reference_traces(path: str | Path, source: str = "") -> ImportResult:
    """Store published traces for CoTempQA problems already imported, from JSON Lines of
    ``{"id": <source id>, "traces": {"r1": …, "r1_summary": …, "posthoc_explanation": …},
    "model_answers": {"r1": …}}`` (the answer R1 gave, which all three explain).

    Every id must name an imported problem, or nothing is stored; traces already there are kept.
    """
    name, records = loaders.read_json_lines(path)
    rows = []
    for lineno, record in records:
        source_id, traces = record.get("id"), record.get("traces")
        if not isinstance(source_id, str) or not isinstance(traces, dict):
            raise loaders.LoadError(name, lineno, "expected an 'id' string and a 'traces' object")
        answer = (record.get("model_answers") or {}).get("r1") or ""
        rows.append((lineno, source_id, traces, answer))
    problems = {
        p.source_id: p
        for p in Problem.objects.filter(dataset="cotempqa", source_id__in=[row[1] for row in rows])
    }
    missing = [f"line {lineno}: {source_id}" for lineno, source_id, *_ in rows if source_id not in problems]
    if missing:
        raise loaders.LoadError(name, None, "no imported problem for " + ", ".join(missing[:10]))
    created = already_there = 0
    with transaction.atomic():
        for _, source_id, traces, answer in rows:
            problem = problems[source_id]
            for key, kind in _REFERENCE_KEYS.items():
                if traces.get(key):
                    trace, was_created = ReferenceTrace.objects.get_or_create(
                        problem=problem, kind=kind, source=source or Path(name).name, job=None,
                        defaults={"text": traces[key], **published_answer(problem, answer),
                                  "model_name": PUBLISHED_MODELS[kind]},
                    )
                    if not was_created and answer and not trace.answer:  # imported before answers were kept
                        ReferenceTrace.objects.filter(pk=trace.pk).update(
                            **published_answer(problem, answer), model_name=PUBLISHED_MODELS[kind]
                        )
                    created += was_created
                    already_there += not was_created
    return ImportResult(created=created, already_there=already_there)


#: Who wrote the authors' published traces (sbhambr1/Trace_Check_QA's scripts).
PUBLISHED_MODELS = {
    "r1": "deepseek-reasoner (DeepSeek-R1)", "r1_summary": "gpt-4o-mini",
    "posthoc": "deepseek-reasoner (DeepSeek-R1)",
}


def published_answer(problem: Problem, answer: str) -> dict:
    """The answer fields of a published trace: the answer, and whether the paper's metric finds it right."""
    correct = score_answer(answer, problem.as_plain()).exact_match if answer else None
    return {"answer": answer, "answer_correct": correct}


_PROMPT_HEAD = "Answer the question based on the context:\n"
_PROMPT_TAIL = " Only return the answer."


def _question_and_facts(prompt: str) -> tuple[str, list[str]] | None:
    """(bare question, facts) of a prompt as R1 was asked (facts one a line), or None."""
    if not prompt.startswith(_PROMPT_HEAD) or "\nQuestion: " not in prompt:
        return None
    context, question = prompt[len(_PROMPT_HEAD):].rsplit("\nQuestion: ", 1)
    question = question.rstrip("\n").removesuffix(_PROMPT_TAIL).strip()
    return question, [line for line in context.split("\n") if line.strip()]


def import_authors_traces(
    path_or_file: loaders.PathOrFile, kind: str, source: str = ""
) -> ImportResult:
    """Store the paper authors' published traces of one kind from one of their SFT CSVs
    (sbhambr1/Trace_Check_QA, ``data/cotempqa/sft_dataset_r1_traces``, ``…_summarized_r1_traces``,
    ``…_r1_explanations``: columns ``question`` (R1's prompt), ``reasoning`` (the trace) and
    ``answer`` (R1's answer)). Each row is matched to a stored CoTempQA problem by its question and
    facts; a row that matches none, or a malformed file, stores nothing. Traces already there (same
    problem, kind and source) are kept."""
    if kind not in ReferenceTrace.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(ReferenceTrace.Kind.values)}, not {kind!r}")
    name, rows = loaders.read_csv_rows(path_or_file, ("question", "reasoning", "answer"))
    parsed = []
    for line, row in rows:
        found = _question_and_facts(row["question"])
        if found is None:
            raise loaders.LoadError(name, line, "the question column is not the authors' R1 prompt "
                                                "('Answer the question based on the context: …')")
        if not row["reasoning"].strip():
            raise loaders.LoadError(name, line, "the reasoning column is empty")
        parsed.append((line, *found, row["reasoning"], row["answer"]))
    candidates: dict[str, list[Problem]] = {}
    for problem in Problem.objects.filter(dataset="cotempqa", question__in={q for _, q, *_ in parsed}):
        candidates.setdefault(problem.question, []).append(problem)
    matched, missing = [], []
    for line, question, facts, text, answer in parsed:
        problem = next((p for p in candidates.get(question, []) if list(p.facts) == facts), None)
        if problem is None:
            missing.append(f"line {line}")
        matched.append((problem, text, answer))
    if missing:
        raise loaders.LoadError(
            name, None,
            f"no stored CoTempQA problem has the question and facts of {', '.join(missing[:10])}"
            + (" and more" if len(missing) > 10 else "")
            + "; import the problems first. Nothing was imported.",
        )
    label = source or Path(name).name
    created = already_there = 0
    with transaction.atomic():
        for problem, text, answer in matched:
            _, was_created = ReferenceTrace.objects.get_or_create(
                problem=problem, kind=kind, source=label, job=None,
                defaults={"text": text, **published_answer(problem, answer),
                          "model_name": PUBLISHED_MODELS[kind]},
            )
            created += was_created
            already_there += not was_created
    return ImportResult(created=created, already_there=already_there)
