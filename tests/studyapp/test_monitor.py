"""The study monitor of studies researchers design: the study's own conditions, progress per condition
(between) or per study (within), and how often each stimulus was read in each condition by those who
completed, with the largest imbalance; in a fixed number of queries, as it reloads every 30 s."""

import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from studyapp.models import Study
from tests.studyapp.designed import FOUR, THREE, designed_study, read_in_conditions, walk_with_attrition

pytestmark = pytest.mark.django_db


def monitor(client, study: Study) -> str:
    response = client.get(reverse("studyapp:monitor", args=[study.slug]))
    assert response.status_code == 200
    return response.content.decode()


def balance_table(html: str) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """The stimulus x condition table as shown: condition codes, problem -> cells, footer row -> cells."""
    table = re.search(r'<table class="monitor" id="stimulus-balance">(.*?)</table>', html, re.S).group(1)
    head, body, foot = (re.search(f"<{part}>(.*?)</{part}>", table, re.S).group(1)
                        for part in ("thead", "tbody", "tfoot"))

    def rows(part: str) -> dict[str, list[str]]:
        return {name: re.findall(r"<td>(.*?)</td>", cells)
                for name, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', part, re.S)}

    return re.findall(r"<code>(.*?)</code>", head), rows(body), rows(foot)


def largest_differences(counts: Counter, stimuli: list[str], codes: list[str]) -> tuple[int, int]:
    """Within a condition (between two problems) and across conditions (for one problem)."""
    within = max(max(counts[(s, c)] for s in stimuli) - min(counts[(s, c)] for s in stimuli) for c in codes)
    across = max(max(counts[(s, c)] for c in codes) - min(counts[(s, c)] for c in codes) for s in stimuli)
    return within, across


def shows_the_counts_of_the_database(html: str, study: Study) -> tuple[int, int]:
    codes, rows, _ = balance_table(html)
    assert codes == [c.code for c in study.conditions.order_by("position")]  # the study's own, in order
    stimuli = list(study.stimuli.order_by("id").values_list("code", flat=True))
    assert list(rows) == stimuli
    counts = read_in_conditions(study)
    assert {(s, c): int(n) for s, cells in rows.items() for c, n in zip(codes, cells, strict=True)} == {
        (s, c): counts[(s, c)] for s in stimuli for c in codes
    }
    within, across = largest_differences(counts, stimuli, codes)
    if within or across:
        assert (f"Largest difference between two problems in one condition: <strong>{within}</strong>"
                in html)
        assert f"Largest difference between the conditions for one problem: <strong>{across}</strong>" in html
    return within, across


def test_a_three_condition_between_study_shows_its_conditions_and_the_stimulus_counts(admin_client):
    study = designed_study("b3", THREE, design=Study.Design.BETWEEN, n_stimuli=6, trials=2, target=3)
    walked = walk_with_attrition(study, first=4, then=4)
    html = monitor(admin_client, study)
    for code, label, *_ in THREE:
        assert f"{escape(label)} <code>{code}</code>" in html
    assert "<strong>8 of 9</strong> participants completed" in html
    assert shows_the_counts_of_the_database(html, study) != (0, 0)  # one condition is a list short
    assert ("With 6 problems and 2 trials each, the stimulus x condition counts are exactly equal at "
            "multiples of 3 participants per condition, the target (3) among them.") in html

    walked.active.complete()
    html = monitor(admin_client, study)
    assert "<strong>9 of 9</strong> participants completed" in html
    assert shows_the_counts_of_the_database(html, study) == (0, 0)
    assert "Every problem was read equally often in every condition." in html
    _, rows, foot = balance_table(html)
    assert set(map(tuple, rows.values())) == {("1", "1", "1")}
    assert foot["Trials read"] == ["6", "6", "6"]


def test_a_four_condition_within_study_counts_the_study_and_each_conditions_trials(admin_client):
    study = designed_study("w4", FOUR, design=Study.Design.WITHIN, n_stimuli=8, trials=4, target=8)
    walked = walk_with_attrition(study, first=3, then=4)
    html = monitor(admin_client, study)
    progress = re.search(r'<table class="monitor" id="progress">(.*?)</table>', html, re.S).group(1)
    assert "each reads all 4 conditions</th><td>7 / 8</td><td>1</td><td>1</td>" in progress  # one row
    assert "<strong>7 of 8</strong> participants completed" in html
    assert shows_the_counts_of_the_database(html, study) == (1, 1)  # one cell of the Latin square short
    assert "exactly equal at multiples of 8 participants, the target (8) among them." in html

    walked.active.complete()
    with CaptureQueriesContext(connection) as eight:
        html = monitor(admin_client, study)
    assert shows_the_counts_of_the_database(html, study) == (0, 0)
    _, rows, foot = balance_table(html)
    assert set(map(tuple, rows.values())) == {("1", "1", "1", "1")}  # each problem once in each condition
    assert foot["Trials read"] == ["8", "8", "8", "8"]
    assert foot["Participants whose first trial it was"] == ["2", "2", "2", "2"]  # the order counterbalanced

    Study.objects.filter(pk=study.pk).update(target_per_condition=12)
    walk_with_attrition(study, first=2, then=1)
    with CaptureQueriesContext(connection) as more:
        html = monitor(admin_client, study)
    assert "<strong>11 of 12</strong> participants completed" in html
    shows_the_counts_of_the_database(html, study)
    assert ("exactly equal at multiples of 8 participants (8 or 16 near 12); at 12 they stay within one or "
            "two of each other") in html
    assert len(more) == len(eight)  # no query per participant
