"""The study monitor counts whom the analysis plan analyses, with the report's own exclusion step."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analysis.models import AnalysisPlan
from studyapp.models import PageVisit, Participant
from tests.analysis.test_report import complete, move, staff  # noqa: F401 (staff: a fixture)
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


def monitor(client, study) -> str:
    response = client.get(reverse("studyapp:monitor", args=[study.slug]))
    assert response.status_code == 200
    return response.content.decode()


def fast_and_alike(study, code: str) -> Participant:
    """A participant who answers 4 to everything at once: a speeder and a straight-liner."""
    walker = Walker(Client(), study)
    walker.complete()
    move(walker.participant, code)
    return walker.participant


def row(html: str, code: str) -> str:
    start = html.index(f"<code>{code}</code>")
    return html[start:html.index("</tr>", start)]


def test_the_monitor_says_how_many_the_default_plan_analyses_and_what_excluded_the_others(staff):  # noqa: F811
    study = make_study("early", trials=2)
    html = monitor(staff, study)
    assert ("No one has finished yet; the platform&#x27;s default analysis plan (the study has none) will "
            "decide who is analysed.") in html
    for code in ("decomposition", "decomposition", "r1"):
        fast_and_alike(study, code)
    move(complete(Client(), study, 0), "r1")  # 30 s a trial, varied answers
    with CaptureQueriesContext(connection) as four:
        html = monitor(staff, study)
    assert "<strong>4 of 100</strong> participants completed" in html
    assert ("1 of the 4 who finished (completed, or screened out) is analysed under the platform&#x27;s "
            "default analysis plan (the study has none). Its rules exclude 3: median trial page time under "
            "10.0 s (3); same value on every per-trial item of all trials (3); a participant can meet more "
            "than one.") in html
    assert f'href="/analysis/{study.slug}/#exclusions"' in html
    assert "<td>0 / 2</td>" in row(html, "decomposition") and "<td>1 / 2</td>" in row(html, "r1")
    assert "<td>0 / 0</td>" in row(html, "posthoc")
    # the report's numbers, from the same exclusion step
    report = staff.get(reverse("analysis:report", args=[study.slug]), {"format": "json"}).json()
    assert report["primary"]["exclusions"]["analysed"] == {
        "decomposition": 0, "r1": 1, "r1_summary": 0, "posthoc": 0
    }
    # cheap enough to reload every 30 s: no query per participant
    fast_and_alike(study, "posthoc")
    with CaptureQueriesContext(connection) as five:
        monitor(staff, study)
    assert len(five) == len(four)


def test_the_monitor_counts_with_the_studys_own_plan(staff):  # noqa: F811
    study = make_study("planned", trials=2)
    AnalysisPlan.objects.create(study=study, exclude_speeders=False)
    fast_and_alike(study, "decomposition")
    fast = complete(Client(), study, 1)
    PageVisit.objects.filter(participant=fast).update(first_shown_at=F("submitted_at") - timedelta(seconds=2))
    move(fast, "decomposition")
    move(complete(Client(), study, 2), "r1")
    move(complete(Client(), study, 3, attention="fail"), "r1")
    html = monitor(staff, study)
    assert "<strong>3 of 100</strong> participants completed" in html
    # the speeders are kept (the plan says so), and not named as excluded
    assert ("2 of the 4 who finished (completed, or screened out) are analysed under the study&#x27;s draft "
            "analysis plan. Its rules exclude 2: failed as many attention checks as the study allows (1); "
            "same value on every per-trial item of all trials (1).") in html
    assert "<td>1 / 2</td>" in row(html, "decomposition") and "<td>1 / 2</td>" in row(html, "r1")
    report = staff.get(reverse("analysis:report", args=[study.slug]), {"format": "json"}).json()
    assert report["primary"]["exclusions"]["analysed"] == {
        "decomposition": 1, "r1": 1, "r1_summary": 0, "posthoc": 0
    }
