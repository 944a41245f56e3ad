"""Benchmark (not a test): time the analysis report for synthetic studies of 100 and 10,000 participants.

It builds a throwaway database, by default a fresh SQLite file in a temporary directory (removed at
the end), or the PostgreSQL database named by ``--database-url`` (it must exist and be empty; e.g.
``createdb -h 127.0.0.1 -U postgres bench_report`` first and ``dropdb`` after). It migrates it,
creates a study with the default questionnaire and writes synthetic participants, answers and page
visits directly with ``bulk_create``; then times, for each study size, the full report as the view
computes it: gathering the data (analysis.data.gather), the statistics (analysis.report.build), the
HTML page with its SVG plots, and the JSON; and, within the statistics, how many cumulative link
mixed models were fitted and the time they took.

    .venv/bin/python bench/report.py                              # 100 and 10,000 participants
    .venv/bin/python bench/report.py --sizes 100 1000 --repeat 5
    .venv/bin/python bench/report.py --sizes 40 --repeat 1        # small mode: the test's, a few seconds
    .venv/bin/python bench/report.py --sizes 20000 --repeat 1 --mixed-all   # beyond the model's size limit
    .venv/bin/python bench/report.py --database-url postgres://postgres@127.0.0.1:5432/bench_report
    .venv/bin/python bench/report.py --sizes 100 --task verification   # with the behaviour section

Goals (with the mixed model where the report fits it): under 2 s for 100 participants, under 20 s
for 10,000 participants x about 50 answers. Besides the wall time it prints the CPU time of the
report (its process's, all threads): on a machine shared with other work that is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracestudy.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # no query log kept in memory
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_synthetic_study(slug: str, n_participants: int, trials: int, seed: int = 1, task: str = "rating"):
    """A live study with the default items; every 20th participant fails both attention checks, every
    10th abandons, a few speed or straight-line. Answers depend a little on the condition. With ``task``
    verification, every trial also has its judgement of a model answer (every other one right), judged
    right more often in later conditions."""
    from django.utils import timezone

    from studyapp.models import (
        Condition,
        Item,
        PageVisit,
        Participant,
        Response,
        Stimulus,
        StimulusTrace,
        Study,
        TrialJudgement,
    )
    from studyapp.study_setup import add_defaults

    rng = random.Random(seed)
    study = Study.objects.create(
        slug=slug, title=f"Benchmark {slug}", status=Study.Status.CLOSED,
        target_per_condition=max(1, n_participants // 4), trials_per_participant=trials,
        completion_code="C", no_consent_code="N", failed_attention_code="A", trial_task=task,
    )
    add_defaults(study)
    stimuli = Stimulus.objects.bulk_create(
        Stimulus(study=study, code=f"p{n}", context_facts=["f"], question="q?", gold_answers=["a"],
                 model_answer="a", grades={"answer_strict": n % 2 == 0})
        for n in range(trials)
    )
    conditions = list(Condition.objects.filter(study=study))
    StimulusTrace.objects.bulk_create(
        StimulusTrace(stimulus=s, condition=c.code, text="t") for s in stimuli for c in conditions
    )
    items = list(Item.objects.filter(study=study))
    trial_items = [i for i in items if i.scope == Item.Scope.TRIAL and not i.is_attention_check]
    end_items = [i for i in items if i.scope == Item.Scope.END]
    checks = [i for i in items if i.is_attention_check]
    now = timezone.now()
    people = []
    for n in range(n_participants):
        status = Participant.Status.COMPLETED
        if n % 10 == 9:
            status = Participant.Status.RETURNED
        elif n % 20 == 4:
            status = Participant.Status.SCREENED_OUT
        people.append(Participant(
            study=study, condition=conditions[n % len(conditions)], prolific_pid=f"{n:024x}",
            status=status, started_at=now - timedelta(hours=2), ended_at=now - timedelta(hours=1),
            stimulus_sequence=[s.pk for s in stimuli], item_order=[i.pk for i in trial_items],
            end_item_order=[i.pk for i in end_items],
            attention_plan=[{"trial": t, "position": 1, "item": c.pk} for t, c in enumerate(checks, start=1)],
            attention_failures=len(checks) if status == Participant.Status.SCREENED_OUT else 0,
            attention_passed=status != Participant.Status.SCREENED_OUT if status != "returned" else None,
            pages_done=trials + 3,
        ))
    people = Participant.objects.bulk_create(people, batch_size=2000)
    responses, visits, judgements = [], [], []
    shift = {c.pk: i * 0.3 for i, c in enumerate(conditions)}
    for n, person in enumerate(people):
        if person.status == Participant.Status.RETURNED:
            continue
        speeder = n % 50 == 7
        straight = n % 50 == 13
        for t, stimulus in enumerate(stimuli):
            shown = now - timedelta(minutes=50) + timedelta(minutes=2 * t)
            submitted = shown + timedelta(seconds=3 if speeder else rng.uniform(20, 90))
            visits.append(PageVisit(participant=person, page=f"trial-{t + 1}", stimulus=stimulus,
                                    first_shown_at=shown, last_shown_at=shown, submitted_at=submitted))
            if task == "verification":
                right = t % 2 == 0
                correct = rng.random() < 0.6 + shift[person.condition_id] / 3
                judgements.append(TrialJudgement(
                    participant=person, stimulus=stimulus, condition=conditions[n % len(conditions)].code,
                    task=task, choice="yes" if right == correct else "no", correct=correct,
                    truth="yes" if right else "no", confidence=rng.randint(1, 5),
                    server_ms=int((submitted - shown).total_seconds() * 1000), submitted_at=submitted))
            for position, item in enumerate(trial_items, start=1):
                value = 4 if straight else min(5, max(1, round(rng.gauss(3 + shift[person.condition_id], 1))))
                responses.append(Response(participant=person, stimulus=stimulus, item=item, value=value,
                                          position=position, submitted_at=submitted))
            if t < len(checks):  # check k on trial k
                check = checks[t]
                value = check.expected_value if person.attention_passed else 6 - check.expected_value
                responses.append(Response(participant=person, stimulus=stimulus, item=check, value=value,
                                          position=len(trial_items) + 1, submitted_at=submitted))
        for position, item in enumerate(end_items, start=1):
            responses.append(Response(participant=person, item=item, value=rng.randint(1, 5),
                                      position=position, submitted_at=now))
        if len(responses) > 50000:
            Response.objects.bulk_create(responses, batch_size=5000)
            responses = []
    Response.objects.bulk_create(responses, batch_size=5000)
    PageVisit.objects.bulk_create(visits, batch_size=5000)
    TrialJudgement.objects.bulk_create(judgements, batch_size=5000)
    return study


def time_report(study) -> dict[str, float]:
    from analysis import stats
    from analysis.data import gather
    from analysis.report import Options, build_with_scores, render_html, to_json

    fitting = {"seconds": 0.0, "fits": 0}
    clmm = stats.clmm

    def timed_clmm(*args, **kwargs):
        started = time.perf_counter()
        try:
            return clmm(*args, **kwargs)
        finally:
            fitting["seconds"] += time.perf_counter() - started
            fitting["fits"] += 1

    stats.clmm = timed_clmm
    t0, cpu = time.perf_counter(), time.process_time()
    data = gather(study)
    t1 = time.perf_counter()
    report, scores = build_with_scores(data, Options())
    t2 = time.perf_counter()
    html = render_html(report, scores)
    t3 = time.perf_counter()
    text = to_json(report)
    t4 = time.perf_counter()
    cpu = time.process_time() - cpu
    stats.clmm = clmm
    return {"mixed": fitting["seconds"], "fits": fitting["fits"], "gather": t1 - t0, "stats": t2 - t1,
            "html": t3 - t2, "json": t4 - t3, "total": t4 - t0, "cpu": cpu,
            "html_kb": len(html) / 1024, "json_kb": len(text) / 1024,
            "analysed": report["exclusions"]["analysed_total"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--trials", type=int, default=6,
                        help="trials per participant: 8 items each, plus 2 attention checks and 4 end items")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (the median is reported)")
    parser.add_argument(
        "--database-url", help="an existing, empty database (default: a temporary SQLite file)"
    )
    parser.add_argument("--task", choices=["rating", "verification"], default="rating",
                        help="verification: a judgement on every trial too, and the report's behaviour "
                        "section with its mixed logistic model")
    parser.add_argument("--mixed-all", action="store_true",
                        help="fit the mixed model whatever the number of answers (to time what it costs)")
    args = parser.parse_args(argv)
    tmp = None
    if args.database_url:
        url = args.database_url
    else:
        tmp = tempfile.mkdtemp(prefix="bench-report-")
        url = f"sqlite:///{tmp}/bench.sqlite3"
    try:
        setup_django(url)
        from analysis.report import outcome
        from studyapp.models import Response

        if args.mixed_all:
            outcome.MIXED_MAX_ANSWERS = 10**9

        print(f"database: {url.split('@')[-1]}")
        print(f"{'participants':>12} {'answers':>9} {'analysed':>8} {'gather s':>9} {'stats s':>8} "
              f"{'html s':>7} {'json s':>7} {'total s':>8} {'cpu s':>7} {'html KiB':>9} {'json KiB':>9} "
              f"{'mixed models':>14}")
        for size in args.sizes:
            started = time.perf_counter()
            study = make_synthetic_study(f"bench-{size}", size, args.trials, task=args.task)
            made = time.perf_counter() - started
            answers = Response.objects.filter(participant__study=study).count()
            runs = [time_report(study) for _ in range(args.repeat)]
            runs.sort(key=lambda r: r["total"])
            r = runs[len(runs) // 2]
            print(f"{size:>12} {answers:>9} {r['analysed']:>8} {r['gather']:>9.3f} {r['stats']:>8.3f} "
                  f"{r['html']:>7.3f} {r['json']:>7.3f} {r['total']:>8.3f} {r['cpu']:>7.3f} "
                  f"{r['html_kb']:>9.0f} {r['json_kb']:>9.0f} {r['fits']:>3} in {r['mixed']:>6.2f} s   "
                  f"(built in {made:.1f} s; median of {args.repeat}, "
                  f"fastest {runs[0]['total']:.3f} s)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
