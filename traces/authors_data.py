"""The paper authors' data, bundled in ``traces/data/trace_check_qa`` (see its PROVENANCE.md):
their test problems of all four CoTempQA relations and bAbI as they used it, their train/test
split, stored as the split named ``authors`` of each dataset, and their fine-tuned model's
published outputs, which ``import_published_outputs`` stores as evaluations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from . import loaders
from .evaluations import import_outputs
from .importing import store_problems
from .models import Evaluation, Problem
from .splits import record_split

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA = PROJECT_DIR / "traces" / "data"
AUTHORS_DIR = DATA / "trace_check_qa"
COTEMPQA_DIR = DATA / "cotempqa"
COTEMPQA_RELATIONS = ("during", "equal", "mix", "overlap")  # the order of the authors' index column
AUTHORS_SPLIT = "authors"
PUBLISHED_MODEL = "Llama-3.2-1B-Instruct"
PUBLISHED_SETTINGS = ("vanilla", "decomposition_correct", "decomposition_incorrect")


@dataclass(frozen=True)
class AuthorsData:
    problems_created: int
    splits_created: int
    sizes: dict[str, tuple[int, int]]  # dataset -> (train, test)


def _stored(problems: list[loaders.Problem]) -> list[Problem]:
    """The stored rows of loaded problems, in the loaded order."""
    by_id = {
        p.source_id: p
        for p in Problem.objects.filter(
            dataset__in={q.dataset for q in problems}, source_id__in=[q.source_id for q in problems]
        )
    }
    return [by_id[q.source_id] for q in problems]


@transaction.atomic
def import_authors_data() -> AuthorsData:
    """Import the authors' problems and record their split; running it again changes nothing.

    CoTempQA: the test side is the 950 problems of ``cotempqa/test/<relation>_test.csv`` (the 619
    "during" ones exist only there), in the files' order; the train side is every other problem of
    CoTempQA's own equal, overlap and mix files (the "during" training problems are not published).
    bAbI: ``babi/train.csv`` and ``babi/test/test.csv``, row by row.
    """
    created = 0
    cotempqa_all = [
        p for r in ("equal", "overlap", "mix") for p in loaders.load_cotempqa(COTEMPQA_DIR / f"{r}.json", r)
    ]
    cotempqa_test = [
        p for r in COTEMPQA_RELATIONS
        for p in loaders.load_cotempqa_authors(AUTHORS_DIR / "cotempqa" / "test" / f"{r}_test.csv", r)
    ]
    test_ids = {p.source_id for p in cotempqa_test}
    cotempqa_train = [p for p in cotempqa_all if p.source_id not in test_ids]
    babi_train = loaders.load_babi_authors(AUTHORS_DIR / "babi" / "train.csv", "train")
    babi_test = loaders.load_babi_authors(AUTHORS_DIR / "babi" / "test" / "test.csv", "test")
    for batch in (cotempqa_all, cotempqa_test, babi_train, babi_test):
        created += store_problems(batch).created
    splits = 0
    sizes = {}
    for dataset, train, test, where in (
        ("cotempqa", cotempqa_train, cotempqa_test, "cotempqa/test/<relation>_test.csv"),
        ("babi", babi_train, babi_test, "babi/train.csv and babi/test/test.csv"),
    ):
        _, made = record_split(
            dataset, AUTHORS_SPLIT, _stored(train), _stored(test),
            f"The paper authors' split (sbhambr1/Trace_Check_QA, {where}).",
        )
        splits += made
        sizes[dataset] = (len(train), len(test))
    return AuthorsData(created, splits, sizes)


def published_output_files() -> list[tuple[str, str, str, Path]]:
    """(dataset, relation or "", setting, path) of every published output file."""
    files = []
    for setting in PUBLISHED_SETTINGS:
        cotempqa = AUTHORS_DIR / "cotempqa" / "outputs" / PUBLISHED_MODEL / setting
        files += [("cotempqa", r, setting, cotempqa / f"{r}.jsonl") for r in COTEMPQA_RELATIONS]
        babi = AUTHORS_DIR / "babi" / "outputs" / PUBLISHED_MODEL / setting
        files.append(("babi", "", setting, babi / "test.jsonl"))
    return files


def import_published_outputs() -> int:
    """Store the authors' Llama-3.2-1B outputs as evaluations (after ``import_authors_data``);
    files already imported are skipped. Returns how many evaluations were added."""
    added = 0
    for dataset, relation, setting, path in published_output_files():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if Evaluation.objects.filter(
            sha256=digest, model_name=PUBLISHED_MODEL, setting=setting, dataset=dataset, subset=relation
        ).exists():
            continue
        import_outputs(
            path, dataset=dataset, model_name=PUBLISHED_MODEL, setting=setting, subset=relation,
            file_name=str(path.relative_to(PROJECT_DIR)),
        )
        added += 1
    return added
