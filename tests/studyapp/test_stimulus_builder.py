"""A study's stimuli built from the traces the traces app made or imported: all four conditions, one
short answer, provenance kept and exported, nothing changed when a trace is missing (the apps' one-way
dependency is tests/test_architecture.py's)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.urls import reverse

from studyapp import exports
from studyapp.conditions import PAPER_CONDITIONS
from studyapp.models import Stimulus, StimulusTrace
from studyapp.stimulus_builder import BuildError, build_stimuli, draw_balanced, eligible
from tests.conftest import PAPER_CODES, make_study
from traces import sft
from traces.grading.parsing import short_answer
from traces.importing import PILOT_FILE, PILOT_SOURCE, import_problems, import_reference_traces
from traces.models import Problem, ReferenceTrace

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "traces" / "data" / "cotempqa"


@pytest.fixture
def pilot(db) -> list[Problem]:
    import_problems("cotempqa", DATA / "equal.json", "equal")
    import_reference_traces(PILOT_FILE, PILOT_SOURCE)
    return list(Problem.objects.filter(reference_traces__isnull=False).distinct().order_by("pk"))


def test_stimuli_get_every_condition_with_its_provenance(pilot):
    study = make_study("built", n_stimuli=0)
    result = build_stimuli(study, pilot[:4])
    assert len(result.created) == 4 and not result.completed
    stimulus = Stimulus.objects.get(study=study, code=pilot[0].source_id)
    r1 = ReferenceTrace.objects.get(problem=pilot[0], kind="r1")
    assert stimulus.model_answer == short_answer(r1.answer) and stimulus.model_answer_original == r1.answer
    texts = {t.condition: t for t in stimulus.traces.all()}
    assert set(texts) == set(PAPER_CODES)
    assert texts["r1"].text == r1.text and texts["r1"].reference_trace == r1
    assert texts["r1"].provenance["source"] == PILOT_SOURCE
    assert texts["r1"].provenance["model"] == "deepseek-reasoner (DeepSeek-R1)"
    assert texts["r1_summary"].provenance["model"] == "gpt-4o-mini"
    assert texts["decomposition"].text == sft.assistant_content("decomposition_correct", pilot[0].as_plain())
    assert texts["decomposition"].reference_trace is None


def test_a_stimulus_keeps_the_grades_of_the_answer_it_shows(pilot):
    """The ground truth a verification study needs: R1's "None" on cotempqa-equal-62 is wrong by the strict
    check of the answer shown and right by the paper's lenient metric (its justification names the gold
    answer); R1's other pilot answers are right by both."""
    study = make_study("graded", n_stimuli=0)
    build_stimuli(study, pilot)
    grades = {s.code: s.grades for s in study.stimuli.all()}
    none = grades["cotempqa-equal-62"]
    assert (none["answer_strict"], none["answer_published"]) == (False, True)
    others = [g for code, g in grades.items() if code != "cotempqa-equal-62"]
    assert len(others) == len(pilot) - 1 and all(g["answer_strict"] and g["answer_published"] for g in others)
    r1 = ReferenceTrace.objects.get(problem=pilot[0], kind="r1")
    assert grades[pilot[0].source_id]["source"] == (
        f"reference trace #{r1.pk}: deepseek-reasoner (DeepSeek-R1) ({PILOT_SOURCE}), its answer graded by "
        "the project's answer checks")


def test_a_problem_without_all_traces_builds_nothing(pilot):
    study = make_study("none", n_stimuli=0)
    bare = Problem.objects.exclude(pk__in=[p.pk for p in pilot]).first()
    with pytest.raises(BuildError, match=f"1 of the 3 problems lack .*{bare.source_id}"):
        build_stimuli(study, [*pilot[:2], bare])
    assert not Stimulus.objects.filter(study=study).exists()
    assert eligible([*pilot[:2], bare], {}, PAPER_CONDITIONS) == pilot[:2]
    # the pilot's one wrong R1 answer ("None", cotempqa-equal-62: its justification names the gold answer,
    # so the paper's lenient metric counts it) is left out when only right ones are drawn
    wrong = [p for p in pilot if p.source_id == "cotempqa-equal-62"]
    assert ReferenceTrace.objects.get(problem=wrong[0], kind="r1").answer_correct is True
    right = eligible(pilot, {}, PAPER_CONDITIONS, only_correct=True)
    assert wrong[0] in eligible(pilot, {}, PAPER_CONDITIONS) and wrong[0] not in right
    assert len(right) == len(pilot) - 1


def test_several_sources_must_be_chosen_between(pilot):
    ReferenceTrace.objects.create(problem=pilot[0], kind="r1", text="Mine.", answer="X", source="job #99")
    study = make_study("two", n_stimuli=0)
    with pytest.raises(BuildError, match="several sources"):
        build_stimuli(study, pilot[:2])
    with pytest.raises(BuildError, match="lack"):  # job #99 has a trace for one of the two only
        build_stimuli(study, pilot[:2], {"r1": "job #99"})
    build_stimuli(study, pilot[:1], {"r1": "job #99"})
    assert StimulusTrace.objects.get(stimulus__study=study, condition="r1").text == "Mine."


def test_the_draw_is_balanced_over_relations_and_reproducible():
    problems = [Problem(pk=i, subset=s, source_id=f"{s}-{i}") for i, s in
                enumerate(["equal"] * 10 + ["during"] * 10 + ["mix"] * 2)]
    drawn = draw_balanced(problems, 9, seed=3)
    assert Counter(p.subset for p in drawn) == {"during": 4, "equal": 3, "mix": 2}  # in turn, mix runs out
    assert drawn == draw_balanced(problems, 9, seed=3) and drawn != draw_balanced(problems, 9, seed=4)


def test_rated_stimuli_keep_their_text(pilot, client):
    from tests.conftest import Walker

    study = make_study("rated", n_stimuli=0, trials=2)
    build_stimuli(study, pilot[:3])
    walker = Walker(client, study)
    walker.arrive()
    walker.complete()
    participant = study.participants.get()
    rated = Stimulus.objects.filter(pk__in=participant.stimulus_sequence)
    before = {t.pk: t.text for t in StimulusTrace.objects.filter(stimulus__in=rated)}
    result = build_stimuli(study, pilot[:3])
    assert sorted(result.skipped_rated) == sorted(s.code for s in rated)
    assert {t.pk: t.text for t in StimulusTrace.objects.filter(stimulus__in=rated)} == before
    rows = list(exports.stimulus_rows(study))
    read = [r for r in rows if r[4] == participant.condition.code and r[1] in participant.stimulus_sequence]
    assert read and all(r[13] == 1 and r[14] == str(participant.pk) for r in read)
    assert all(r[8] for r in rows)  # every text says where it came from


def test_a_rebuild_of_a_stimulus_read_but_not_yet_rated_keeps_the_text_read(pilot, client):
    from django.test import Client

    from tests.conftest import Walker

    study = make_study("reread", n_stimuli=0, trials=2)
    build_stimuli(study, pilot[:2])
    study.conditions.exclude(code="r1").delete()  # every participant reads the r1 texts
    reader = Walker(client, study)
    reader.arrive()
    reader.post("consent", {"consent": "yes"})
    reader.post("instructions", {})  # on to trial 1: shown, not rated
    stimulus = Stimulus.objects.get(pk=reader.participant.stimulus_sequence[0])
    problem = next(p for p in pilot if p.source_id == stimulus.code)
    ReferenceTrace.objects.create(problem=problem, kind="r1", text="Rewritten.", answer="X", source="job #99")

    result = build_stimuli(study, [problem], {"r1": "job #99"})

    assert result.completed == [stimulus.code]
    assert b"Rewritten." not in reader.get("trial-1").content
    later = Walker(Client(), study)
    later.arrive()
    later.post("consent", {"consent": "yes"})
    later.post("instructions", {})
    trial = later.participant.stimulus_sequence.index(stimulus.pk) + 1
    if trial == 2:
        later.post("trial-1", later.answers_for("trial-1"))
    assert b"Rewritten." in later.last.content
    rows = [r for r in exports.text_rows(study) if r[1] == stimulus.pk and r[3] == "r1"]
    assert [(r[4], r[11] == "Rewritten.", r[13]) for r in rows] == [
        (1, False, str(reader.participant.pk)), (2, True, str(later.participant.pk)),
    ]


def test_the_admin_draws_and_builds(pilot, admin_client):
    study = make_study("adm", n_stimuli=0)
    url = reverse("admin:studyapp_study_build_stimuli", args=[study.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"dataset": "cotempqa", "subset": "", "problem_ids": "", "count": 5,
                                       "seed": 0})
    assert response.status_code == 302
    assert Stimulus.objects.filter(study=study).count() == 5
    bad = admin_client.post(url, {"dataset": "cotempqa", "problem_ids": "cotempqa-equal-0 nope", "count": 5,
                                  "seed": 0})
    assert bad.status_code == 400 and "No such problems" in bad.content.decode()
    page = admin_client.get(reverse("admin:studyapp_stimulus_change", args=[Stimulus.objects.first().pk]))
    assert "gpt-4o-mini" in page.content.decode()


def test_the_report_breaks_ratings_down_by_the_model_that_wrote_the_trace(pilot, client):
    from analysis.data import gather
    from analysis.report import build
    from tests.analysis.test_report import complete

    study = make_study("by-model", n_stimuli=0, trials=3)  # every participant reads all three
    build_stimuli(study, pilot[:2])
    other = ReferenceTrace.objects.create(
        problem=pilot[2], kind="r1", text="Short.", answer="X", source="job #7", model_name="tiny-r1"
    )
    build_stimuli(study, pilot[2:3], {"r1": "job #7"})
    assert StimulusTrace.objects.get(reference_trace=other).provenance["model"] == "tiny-r1"
    people = [complete(client.__class__(), study, offset) for offset in range(8)]
    report = build(gather(study))
    rows = next(s for s in report["trace_models"] if s["key"] == "predictability")["rows"]
    r1_rows = {row["model"]: row for row in rows if row["condition"] == "r1"}
    # the answers of r1 participants, split by whose trace each stimulus showed
    expected: dict[str, list[int]] = {}
    for person in people:
        if person.condition.code != "r1":
            continue
        for response in person.responses.filter(item__construct="predictability", stimulus__isnull=False):
            tiny = response.stimulus.code == pilot[2].source_id
            model = "tiny-r1" if tiny else "deepseek-reasoner (DeepSeek-R1)"
            expected.setdefault(model, []).append(response.value)
    assert len(r1_rows) == 2
    assert {m: (row["n"], row["mean"]) for m, row in r1_rows.items()} == {
        m: (len(v), sum(v) / len(v)) for m, v in expected.items()
    }
    decomposition = [row for row in rows if row["condition"] == "decomposition"]
    assert all(row["model"].startswith("rule-based decomposition") for row in decomposition)
