"""Paradata as exclusion rules: off by default, counted in the exclusions table, each rule the plan leaves
off run as a sensitivity analysis of the planned tests where it flags anyone, applied when the plan (or
the page, or the analyze command) turns it on, and written into the registry document."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from analysis.models import AnalysisPlan
from analysis.registration import plan_document
from studyapp.models import PageVisit, Participant
from tests.analysis.test_report import complete, move, staff, url
from tests.conftest import make_study

pytestmark = pytest.mark.django_db
__all__ = ["staff"]  # the fixture, imported to be used here


def measured(person: Participant, **on_trial_1: object) -> None:
    """The person's pages as a script measured them: nothing notable, but on trial 1 what is given."""
    quiet = {"away_count": 0, "away_ms": 0, "paste_count": 0, "copy_count": 0, "key_count": 4,
             "pointer_count": 9, "automated": False, "automation_signals": ""}
    visits = PageVisit.objects.filter(participant=person, page__in=["trial-1", "trial-2", "questionnaire"])
    visits.update(**quiet)
    visits.filter(page="trial-1").update(**on_trial_1)


@pytest.fixture
def study():
    """Two conditions of three finished participants each; in decomposition one pasted and one was away
    for 45 s, in r1 one ran an automated browser and one has no paradata (no JavaScript)."""
    study = make_study("paradata-report", trials=2)
    people = [complete(Client(), study, offset) for offset in range(6)]
    for person, code in zip(people, ["decomposition"] * 3 + ["r1"] * 3, strict=True):
        move(person, code)
    for person in people[:5]:
        measured(person)
    measured(people[0], paste_count=1)
    measured(people[1], away_count=2, away_ms=45_000)
    measured(people[3], automated=True, automation_signals="webdriver")
    return study


def criteria(report: dict) -> dict:
    return {c["key"]: c for c in report["exclusions"]["criteria"]}


def test_paradata_rules_are_off_by_default_counted_and_each_run_as_a_sensitivity_analysis(staff, study):
    report = staff.get(url(study, format="json")).json()
    found = criteria(report)
    assert [found[k]["enabled"] for k in ("left_page", "pasted", "copied", "automated")] == [False] * 4
    assert found["pasted"]["flagged"] == {"decomposition": 1, "r1": 0, "r1_summary": 0, "posthoc": 0}
    assert found["left_page"]["flagged_total"] == 1 and found["automated"]["flagged"]["r1"] == 1
    assert found["copied"]["flagged_total"] == 0
    assert report["exclusions"]["analysed_total"] == 6  # nothing applied
    checks = {c["rule"]: c for c in report["sensitivity"]["paradata"]}
    assert set(checks) == {"left_page", "pasted", "automated"}  # copied flags no one: no analysis
    assert checks["pasted"]["more_excluded"] == 1 and checks["pasted"]["analysed_total"] == 5
    assert checks["automated"]["primary"]["outcomes"]  # the planned tests, run again
    html = staff.get(url(study)).content.decode()
    assert "The planned tests excluding also: pasted on a page (paradata)" in html


def test_a_plan_that_turns_a_rule_on_excludes_by_it_and_registers_it(staff, study):
    plan = AnalysisPlan.objects.create(study=study, exclude_left_page=True, left_page_seconds=60)
    report = staff.get(url(study, format="json")).json()
    assert criteria(report)["left_page"]["flagged_total"] == 0  # 45 s away is under the plan's 60
    plan.left_page_seconds = 40
    plan.save()
    report = staff.get(url(study, format="json")).json()
    assert criteria(report)["left_page"]["enabled"] and report["exclusions"]["analysed_total"] == 5
    assert "left_page" not in {c["rule"] for c in report["sensitivity"]["paradata"]}
    assert "participants away from the pages for 40 s or more" in plan_document(plan)
    assert "pasted" not in plan_document(plan)


def test_the_page_and_the_analyze_command_apply_a_rule_as_a_deviation(staff, study):
    report = staff.get(url(study, format="json", automated=1)).json()
    assert report["exclusions"]["analysed"]["r1"] == 2 and report["sensitivity"]["deviation"] is not None
    out = io.StringIO()
    call_command("analyze", study.slug, "--json", "--exclude-paradata", "pasted",
                 "--exclude-paradata", "automated", stdout=out)
    report = json.loads(out.getvalue())
    assert report["exclusions"]["analysed_total"] == 4
    assert report["options"]["pasted"] and report["options"]["automated"] and not report["options"]["copied"]


def test_the_monitor_summarises_the_paradata(staff, study):
    html = staff.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert ("of 5 participants whose pages were measured, 1 left a page at least once (another tab, window "
            "or app), 1 pasted, 0 copied from a problem or a reasoning text, and 1 used a browser showing a "
            "sign of automation") in html
