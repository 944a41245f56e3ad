"""Benchmark (not a test): importing and grading model outputs, and Table 1 over many graded outputs.

Part 1 imports the paper authors' published outputs (traces/data/trace_check_qa): the 2,850
CoTempQA outputs of their Llama-3.2-1B-Instruct (3 settings x 4 relations, 12 files) and, with
``--babi``, the 1,128 bAbI ones, each file through ``traces.evaluations.import_outputs`` as the
``import_outputs`` command does: read, matched to the stored problems, graded under every
definition, written. It reports the time of the whole import and of the grading alone
(``traces.grading.outputs.grade_outputs`` on the same outputs, no database).

Part 2 writes ``--outputs`` (default 100,000) synthetic graded outputs over 3 models x 2 settings with
``bulk_create`` and times ``analysis.data.model_table_data`` (the query, the aggregation and the
tests of independence: what the page, the API and ``model_table --json`` serve) and its text and
CSV forms.

It builds a throwaway database: a fresh SQLite file in a temporary directory (removed at the end),
or the PostgreSQL database named by ``--database-url`` (it must exist and be empty).

    .venv/bin/python bench/model_outputs.py
    .venv/bin/python bench/model_outputs.py --babi --repeat 3
    .venv/bin/python bench/model_outputs.py --database-url postgres://postgres@127.0.0.1:5432/bench_models

The paper authors' own scripts are no peer to run beside it here: the project does not ship them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import setup_django  # the same throwaway-database set-up as bench/report.py


def _median(values: list[float]) -> float:
    return statistics.median(values)


def import_published(include_babi: bool, repeat: int) -> None:
    from django.db import connection

    from traces.authors_data import import_authors_data, published_output_files
    from traces.evaluations import import_outputs
    from traces.grading.outputs import grade_outputs
    from traces.models import Evaluation, Problem
    from traces.splits import test_rows

    started = time.perf_counter()
    import_authors_data()
    print(f"setup: authors' problems and split imported in {time.perf_counter() - started:.1f} s "
          f"({Problem.objects.count()} problems)")
    files = [f for f in published_output_files() if include_babi or f[0] == "cotempqa"]
    n_outputs = sum(len(path.read_text().splitlines()) for *_, path in files)
    whole, grading = [], []
    for attempt in range(repeat):
        Evaluation.objects.all().delete()
        started = time.perf_counter()
        for dataset, relation, setting, path in files:
            import_outputs(path, dataset=dataset, model_name="Llama-3.2-1B-Instruct", setting=setting,
                           subset=relation)
        whole.append(time.perf_counter() - started)
        # the grading alone, on the outputs just matched (their stored problems), in file order
        evaluations = list(Evaluation.objects.select_related("split"))
        by_eval = {
            e.pk: [(o.raw_text, o.problem.as_plain())
                   for o in e.outputs.select_related("problem").order_by("position")]
            for e in evaluations
        }
        rows = {e.pk: [r.as_plain() for r in test_rows(e.split)] for e in evaluations}
        started = time.perf_counter()
        for pk, items in by_eval.items():
            grade_outputs(items, rows[pk])
        grading.append(time.perf_counter() - started)
        print(f"  run {attempt + 1}: import {whole[-1]:.2f} s, grading alone {grading[-1]:.2f} s")
    print(f"Part 1 ({connection.vendor}): {len(files)} files, {n_outputs} outputs imported and graded in "
          f"{_median(whole):.2f} s (median of {repeat}; {n_outputs / _median(whole):,.0f} outputs/s); "
          f"grading alone {_median(grading):.2f} s ({n_outputs / _median(grading):,.0f} outputs/s)")


def synthetic_outputs(n_outputs: int, seed: int = 1) -> None:
    """``n_outputs`` graded outputs spread over 3 models x 2 settings x the 4 CoTempQA relations."""
    from traces.models import Evaluation, ModelOutput, Problem

    rng = random.Random(seed)
    relations = ("during", "equal", "mix", "overlap")
    per_eval = n_outputs // 24
    problems = {
        r: Problem.objects.bulk_create(
            Problem(dataset="synthetic", subset=r, source_id=f"{r}-{i}", question="q?", facts=["f"],
                    gold_answers=["a"])
            for i in range(per_eval)
        )
        for r in relations
    }
    for model in ("model-a", "model-b", "model-c"):
        for setting in ("decomposition_correct", "decomposition_incorrect"):
            for relation in relations:
                evaluation = Evaluation.objects.create(model_name=model, setting=setting, dataset="synthetic",
                                                       subset=relation, source="import")
                outputs = []
                for position, problem in enumerate(problems[relation]):
                    unevaluated = rng.random() < 0.02
                    steps = {f"{s}_{d}": not unevaluated and rng.random() < 0.6
                             for d in ("published", "authors", "strict")
                             for s in ("classification", "retrieval")}
                    answer = rng.random() < 0.45
                    outputs.append(ModelOutput(
                        evaluation=evaluation, problem=problem, position=position, raw_text="r",
                        answer_correct=answer, answer_f1=float(answer), answer_precision=float(answer),
                        answer_recall=float(answer), answer_correct_strict=answer and rng.random() < 0.9,
                        unevaluated=unevaluated, **steps,
                    ))
                ModelOutput.objects.bulk_create(outputs, batch_size=5000)


def time_table(n_outputs: int, repeat: int) -> None:
    from django.db import connection

    from analysis.data import model_table_data
    from analysis.model_table import csv_header, csv_rows, render_text
    from analysis.report import to_json
    from studyapp.exports import csv_chunks
    from traces.models import ModelOutput

    started = time.perf_counter()
    synthetic_outputs(n_outputs)
    stored = ModelOutput.objects.filter(evaluation__dataset="synthetic").count()
    print(f"setup: {stored:,} synthetic graded outputs written in {time.perf_counter() - started:.1f} s")
    table_s, forms_s = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        table = model_table_data("synthetic")
        table_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        to_json(table), render_text(table), b"".join(csv_chunks(csv_header(), csv_rows(table)))
        forms_s.append(time.perf_counter() - started)
    assert sum(row["overall"]["n"] for row in table["rows"]) == stored
    size = len(json.dumps(table))
    print(f"Part 2 ({connection.vendor}): Table 1 over {stored:,} outputs ({len(table['rows'])} model x "
          f"setting rows) in {_median(table_s):.2f} s (median of {repeat}); JSON, text and CSV forms "
          f"{_median(forms_s) * 1000:.0f} ms; JSON {size / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a temporary SQLite)")
    parser.add_argument("--outputs", type=int, default=100_000, help="synthetic graded outputs for part 2")
    parser.add_argument("--babi", action="store_true", help="also import the 1,128 bAbI outputs in part 1")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = None
    if args.database_url is None:
        folder = tempfile.mkdtemp(prefix="bench-models-")
        args.database_url = f"sqlite:///{folder}/db.sqlite3"
    try:
        setup_django(args.database_url)
        import_published(args.babi, args.repeat)
        time_table(args.outputs, args.repeat)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
