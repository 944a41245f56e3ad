"""The step-marks section of a step-rating study walked by participants: the report's page and JSON count
the marks as they were posted and score them against the graded steps; a study without step rating has no
such section."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from studyapp.models import GRADE_KEYS, Condition, PageVisit, Participant, Stimulus, StimulusTrace, Study
from tests.analysis.test_designed_report import ids_resolve
from tests.conftest import Walker, make_study
from tests.studyapp.test_step_rating import DECOMPOSITION, PROSE

pytestmark = pytest.mark.django_db

#: per condition, each participant's marks on the two problems, whose first wrong steps are 2 and 0
MARKS = {
    "decomposition": [(2, 0), (2, 0), (0, 2)],  # right, right; right, right; missed, false alarm
    "r1_summary": [(1, 0), (2, 1), (2, 0)],  # a step early, right; right, false alarm; right, right
    "r1": [(4, 0), (1, 3)],  # prose: marked by paragraph, never scored
}


@pytest.fixture
def walked():
    """A step-rating study whose decomposition and summary conditions show a decomposition trace (two
    graded steps: the first problem wrong at its retrieval, the second right throughout) and whose R1
    condition shows prose; participants walk it marking the steps of ``MARKS``."""
    study = make_study("marks", n_stimuli=2, trials=2)
    Study.objects.filter(pk=study.pk).update(step_rating=True)
    traces = StimulusTrace.objects.filter(stimulus__study=study)
    traces.filter(condition__in=["decomposition", "r1_summary"]).update(text=DECOMPOSITION)
    traces.filter(condition="r1").update(text=PROSE)
    first, second = study.stimuli.order_by("id")
    Stimulus.objects.filter(pk=first.pk).update(grades={**dict.fromkeys(GRADE_KEYS, True),
                                                        "retrieval_strict": False})
    Stimulus.objects.filter(pk=second.pk).update(grades=dict.fromkeys(GRADE_KEYS, True))
    study.refresh_from_db()
    for code, people in MARKS.items():
        for marks in people:
            walker = Walker(Client(), study)
            walker.arrive()
            Participant.objects.filter(pk=walker.participant.pk).update(
                condition=Condition.objects.get(study=study, code=code), trial_conditions=[code, code],
                stimulus_sequence=[first.pk, second.pk])
            walker.post("consent", {"consent": "yes"})
            walker.post("instructions", {})
            for n, mark in enumerate(marks, start=1):  # 4 on one trial's items, 2 on the other's
                answers = walker.answers_for(f"trial-{n}", 2 * n)
                walker.post(f"trial-{n}", {**answers, "first_wrong_step": mark})
            walker.post("questionnaire", {**walker.answers_for("questionnaire"), "comment": "fine"})
            assert walker.participant.status == Participant.Status.COMPLETED
    PageVisit.objects.filter(participant__study=study, submitted_at__isnull=False).update(
        first_shown_at=F("submitted_at") - timedelta(seconds=30))  # no speeders
    return study


def test_the_report_counts_and_scores_the_marks_as_posted(walked, admin_client):
    url = reverse("analysis:report", args=[walked.slug])
    report = json.loads(admin_client.get(url, {"format": "json"}).content)
    assert report["exclusions"]["analysed_total"] == 8
    steps = report["steps"]
    rows = {r["condition"]: r for r in steps["conditions"]}
    assert list(rows) == ["decomposition", "r1", "r1_summary"]  # the study's order; posthoc had no one
    counts = {code: (r["n_participants"], r["n_marked"], r["n_none"], r["n_scoreable"],
                     (r["correct"]["k"], r["correct"]["n"]), (r["missed"]["k"], r["missed"]["n"]),
                     (r["false_alarms"]["k"], r["false_alarms"]["n"])) for code, r in rows.items()}
    assert counts == {
        "decomposition": (3, 6, 3, 6, (4, 6), (1, 3), (1, 3)),
        "r1_summary": (3, 6, 2, 6, (4, 6), (0, 3), (1, 3)),
        "r1": (2, 4, 1, 0, (0, 0), (0, 0), (0, 0)),
    }
    assert rows["r1_summary"]["wrong_step"] == {"n": 1, "mean_distance": 1.0, "mean_signed": -1.0}
    assert rows["r1"]["correct"]["proportion"] is None and "is graded step by step" in rows["r1"]["reason"]
    model = steps["mixed_logistic"]
    assert model["n_trials"] == 12 and model["conditions"] == ["decomposition", "r1_summary"]
    assert steps["reason"] is None and model["words"]

    page = admin_client.get(url).content.decode()
    assert 'id="steps"' in page and 'href="#steps"' in page
    assert "0.667 [" in page and "4 of 6" in page and escape(model["words"]) in page
    ids_resolve(page)


def test_a_study_without_step_rating_has_no_step_section(walked, admin_client):
    Study.objects.filter(pk=walked.pk).update(step_rating=False)
    url = reverse("analysis:report", args=[walked.slug])
    assert json.loads(admin_client.get(url, {"format": "json"}).content)["steps"] is None
    page = admin_client.get(url).content.decode()
    assert 'id="steps"' not in page and "Step marks" not in page
