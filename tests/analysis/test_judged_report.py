"""Issue 20's report: a verification and a simulation study walked by pilot bots that judge right with a
set probability per condition (90% in one, 60% in the other); the report, built from the database,
recovers the set accuracies within their intervals, tests condition with the mixed logistic model, and
shows it all on the staff page and in the JSON."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils.html import escape

from analysis.data import gather
from analysis.report import build
from studyapp.models import PageVisit, Participant, TrialJudgement
from tests.analysis.test_designed_report import ids_resolve
from tests.studyapp.judged import simulation_study, verification_study

pytestmark = pytest.mark.django_db
SET = {"steps": 0.9, "plain": 0.6}


def walked(study):
    """60 bots (30 per condition, 4 trials each) judging with the set accuracies; they then stand in for
    Prolific participants (the report analyses only those), 30 s a page so that none is a speeder."""
    call_command("pilot", study.slug, "--participants", "60", "--seed", "11",
                 "--accuracy", ",".join(f"{code}={p}" for code, p in SET.items()))
    Participant.objects.filter(study=study).update(is_preview=False, pilot=None)
    PageVisit.objects.filter(participant__study=study, submitted_at__isnull=False).update(
        first_shown_at=F("submitted_at") - timedelta(seconds=30))
    return study


@pytest.mark.parametrize("make", [verification_study, simulation_study], ids=["verification", "simulation"])
def test_the_report_recovers_the_set_accuracies_and_tests_condition(make, admin_user, admin_client):
    study = walked(make(target=30))
    stored = TrialJudgement.objects.filter(participant__study=study, stimulus__is_practice=False)
    report = build(gather(study))
    behaviour = report["behaviour"]
    assert behaviour["task"] == study.trial_task
    rows = {row["condition"]: row for row in behaviour["conditions"]}
    assert list(rows) == ["steps", "plain"]  # the study's order
    for code, accuracy in SET.items():
        row = rows[code]
        mine = stored.filter(condition=code)
        assert row["n_trials"] == mine.count() == 120 and row["n_participants"] == 30
        assert row["accuracy"] == pytest.approx(mine.filter(correct=True).count() / 120)
        low, high = row["accuracy_ci"]
        assert low <= accuracy <= high, (code, row)
        assert row["median_rt_ms"] is not None and 1 <= row["mean_confidence"] <= 5
    if study.trial_task == "verification":
        assert rows["steps"]["d_prime"] > rows["plain"]["d_prime"] > 0
    model = behaviour["mixed_logistic"]
    assert model["reference"] == "steps" and model["n_trials"] == 240
    ratio = model["odds_ratios"]["condition[plain]"]  # 0.6 against 0.9: lower odds of a right judgement
    assert ratio["high"] < 1, ratio
    for code in SET:  # bots judge every stimulus alike: the model's probabilities are the accuracies
        assert model["probabilities"][code]["probability"] == pytest.approx(rows[code]["accuracy"], abs=0.02)
    assert model["lr"]["p"] < 0.01 and "likelihood ratio" in model["words"]
    # the stimuli vary the answer's correctness (half right) and the trace's (half the retrievals)
    assert set(behaviour["moderation"]["moderators"]) == {"trace_correct", "answer_correct"}
    construct = "faithfulness" if study.trial_task == "verification" else "predictability"
    assert behaviour["subjective"]["construct"] == construct
    assert [r["n"] for r in behaviour["subjective"]["by_condition"]] == [30, 30]

    page = admin_client.get(reverse("analysis:report", args=[study.slug]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="behaviour"' in html and "Accuracy by condition" in html
    assert "mixed logistic regression" in html and escape(model["words"]) in html
    ids_resolve(html)
    as_json = json.loads(admin_client.get(reverse("analysis:report", args=[study.slug]),
                                          {"format": "json"}).content)
    assert as_json["behaviour"]["conditions"][0]["accuracy"] == rows["steps"]["accuracy"]


def test_a_rating_study_has_no_behaviour_section_and_a_judged_one_without_data_says_so(admin_user):
    study = verification_study()
    report = build(gather(study))
    assert report["behaviour"]["reason"] == "no judgements from the participants analysed yet"
    study.trial_task = "rating"
    study.save(update_fields=["trial_task"])
    assert build(gather(study))["behaviour"] is None
