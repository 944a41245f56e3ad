"""Paradata a page's script sends (studyapp.forms.paradata_from): stored per page visit, dropped when out
of range or sent without the script's mark, never an error (the answers are saved); exported per page
and summed per participant; named on the consent page. (The signals themselves, in Chromium:
tests/test_browser_paradata.py.)"""

import pytest

from studyapp import exports
from studyapp.models import PageVisit
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db

#: What the script sends from a page where the participant left twice, pasted and copied once.
SENT = {"paradata": "1", "away_count": "2", "away_ms": "15000.4", "paste_count": "1", "copy_count": "1",
        "key_count": "12", "pointer_count": "9", "automation_signals": ""}


def paradata(visit: PageVisit) -> tuple:
    return (visit.away_count, visit.away_ms, visit.paste_count, visit.copy_count, visit.key_count,
            visit.pointer_count, visit.automated, visit.automation_signals)


def test_paradata_are_stored_bad_values_dropped_and_exported_per_page_and_per_participant(client):
    study = make_study("paradata", trials=4)
    walker = Walker(client, study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    automated = {**SENT, "automation_signals": "webdriver;headless;made-up-signal"}
    garbage = {"paradata": "1", "away_count": "-1", "away_ms": "1e15", "paste_count": "many",
               "copy_count": "", "key_count": "3", "pointer_count": "2", "automation_signals": "nothing"}
    no_mark = {**SENT, "paradata": ""}  # an old copy of the page, or a form posted by hand
    for n, sent in enumerate([SENT, automated, garbage, no_mark], start=1):
        response = walker.post(f"trial-{n}", {**walker.answers_for(f"trial-{n}"), **sent})
        assert response.redirect_chain, (n, response.status_code)  # saved: paradata never refuse a page
    answers = walker.answers_for("questionnaire")
    walker.post("questionnaire", {**answers, "comment": "pasted", **SENT, "away_count": "0", "away_ms": "0"})
    participant = walker.participant
    assert participant.status == participant.Status.COMPLETED

    visits = {v.page: v for v in PageVisit.objects.filter(participant=participant)}
    assert paradata(visits["trial-1"]) == (2, 15000, 1, 1, 12, 9, False, "")
    assert paradata(visits["trial-2"]) == (2, 15000, 1, 1, 12, 9, True, "headless;webdriver")
    assert paradata(visits["trial-3"]) == (None, None, None, None, 3, 2, False, "")
    assert paradata(visits["trial-4"]) == (None,) * 7 + ("",)  # not marked as the script's: nothing kept
    assert paradata(visits["questionnaire"]) == (0, 0, 1, 1, 12, 9, False, "")
    assert paradata(visits["consent"]) == (None, None, None, None, None, None, None, "")

    pages = exports.page_times_table(study, exports.ParticipantFilter())
    by_page = {row[4]: dict(zip(pages.header, row, strict=True)) for row in pages.rows()}
    names = exports.PARADATA_FIELDS
    assert [by_page["trial-2"][n] for n in names] == [2, 15000, 1, 1, 12, 9, 1, "headless;webdriver"]
    assert [by_page["trial-1"][n] for n in names] == [2, 15000, 1, 1, 12, 9, 0, None]
    assert [by_page["consent"][n] for n in names] == [None] * len(names)

    people = exports.participants_table(study, exports.ParticipantFilter())
    (row,) = [dict(zip(people.header, r, strict=True)) for r in people.rows()]
    # summed over the pages the script measured
    assert (row["away_count_total"], row["away_ms_total"], row["paste_count_total"], row["copy_count_total"],
            row["key_count_total"], row["pointer_count_total"], row["automated_any"]) == (
        4, 30000, 3, 3, 39, 29, 1)


def test_a_participant_without_javascript_has_no_paradata_totals(client):
    study = make_study("no-script", trials=2)
    Walker(client, study).complete()
    people = exports.participants_table(study, exports.ParticipantFilter())
    (row,) = [dict(zip(people.header, r, strict=True)) for r in people.rows()]
    assert [row[f"{n}_total"] for n in exports.PARADATA_TOTALS] + [row["automated_any"]] == [None] * 7


def test_the_codebook_describes_every_paradata_column(client):
    study = make_study("book", trials=2)
    book = exports.codebook(study)
    page_columns = {c["name"]: c["description"] for c in book["columns"]["page_times"]}
    participant_columns = {c["name"] for c in book["columns"]["participants"]}
    for name in exports.PARADATA_FIELDS:
        assert name in page_columns and "questionnaire" in page_columns[name]
    assert {f"{n}_total" for n in exports.PARADATA_TOTALS} | {"automated_any"} <= participant_columns
