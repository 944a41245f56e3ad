"""Prolific in the loop: a study's participants kept in step with its submissions, read from a local
server that answers as Prolific's API v1 does (tests/prolific_server.py)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Participant, Study
from studyapp.prolific import ProlificClient, ProlificError
from studyapp.prolific_sync import NO_SUBMISSION, SOMEONE_ELSES, sync_study
from studyapp.tasks import sync_prolific
from tests.conftest import Walker, make_study
from tests.prolific_server import FakeProlific

pytestmark = pytest.mark.django_db
TOKEN = "prolific-token-for-tests-0123456789"


@pytest.fixture
def prolific():
    server = FakeProlific(TOKEN)
    yield server
    server.close()


@pytest.fixture
def client_of(prolific):
    return ProlificClient(prolific.url, TOKEN)


def live_study(target: int = 1) -> Study:
    study = make_study("pl", target=target, trials=2)
    Study.objects.filter(pk=study.pk).update(prolific_study_id="STUDY1")
    study.refresh_from_db()
    return study


def consent(walker: Walker) -> Participant:
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    return walker.participant


def test_returned_places_re_open_at_the_sync_and_the_next_arrival_gets_one(prolific, client_of):
    """The issue's case: one consented-then-left participant per condition filled the study."""
    study = live_study(target=1)
    gone = [consent(Walker(Client(), study)) for _ in range(4)]
    for participant in gone:
        prolific.add("STUDY1", participant.prolific_session_id, participant.prolific_pid, "RETURNED")
    late = Walker(Client(), study)
    assert "This study is full" in late.arrive().content.decode()

    result = sync_study(study, client_of)
    assert sorted(result.freed) == sorted(p.prolific_pid for p in gone) and result.flagged == []
    assert set(Participant.objects.filter(pk__in=[p.pk for p in gone]).values_list("status", flat=True)) == {
        "returned"}
    again = Walker(Client(), study)
    again.arrive()
    assert again.participant.status == Participant.Status.ACTIVE  # a place was free
    study.refresh_from_db()
    assert study.prolific_synced_at is not None


def test_timed_out_and_rejected_free_places_active_and_completed_stay(prolific, client_of):
    study = live_study(target=5)
    people = [consent(Walker(Client(), study)) for _ in range(4)]
    statuses_there = ["TIMED-OUT", "REJECTED", "ACTIVE", "AWAITING REVIEW"]
    for participant, status in zip(people, statuses_there, strict=True):
        prolific.add("STUDY1", participant.prolific_session_id, participant.prolific_pid, status)
    sync_study(study, client_of)
    statuses = [Participant.objects.get(pk=p.pk).status for p in people]
    assert statuses == ["timed_out", "returned", "active", "active"]
    assert Participant.objects.get(pk=people[3].pk).prolific_status == "AWAITING REVIEW"


def test_arrivals_that_match_no_submission_are_flagged_on_the_monitor(prolific, client_of, admin_client):
    study = live_study(target=5)
    real = consent(Walker(Client(), study))
    made_up = consent(Walker(Client(), study))
    borrowed = consent(Walker(Client(), study))
    prolific.add("STUDY1", real.prolific_session_id, real.prolific_pid)
    prolific.add("STUDY1", borrowed.prolific_session_id, "SOMEONE-ELSE")
    result = sync_study(study, client_of)
    assert sorted(result.flagged) == sorted([made_up.prolific_pid, borrowed.prolific_pid])
    assert Participant.objects.get(pk=made_up.pk).prolific_problem == NO_SUBMISSION
    assert Participant.objects.get(pk=borrowed.pk).prolific_problem == SOMEONE_ELSES
    assert Participant.objects.get(pk=real.pk).prolific_problem == ""
    page = admin_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert made_up.prolific_pid in page and borrowed.prolific_pid in page and "match no submission" in page


def test_pages_and_rate_limits_are_followed(prolific):
    prolific.busy_first = 1
    for n in range(7):
        prolific.add("STUDY1", f"s{n}", f"p{n}")
    submissions = list(ProlificClient(prolific.url, TOKEN).submissions("STUDY1"))
    assert [s.id for s in submissions] == [f"s{n}" for n in range(7)]
    assert len(prolific.requests) == 1 + 4  # the 429, then four pages of two


def test_a_refused_token_says_so_and_is_never_logged(prolific, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProlificError, match=r"401 .*Invalid token"):
        list(ProlificClient(prolific.url, "wrong-token-abcdef").submissions("STUDY1"))
    with pytest.raises(ProlificError, match="No Prolific API token"):
        ProlificClient(prolific.url, "")
    assert "wrong-token-abcdef" not in caplog.text


def test_the_scheduled_sync_and_the_admin_action(prolific, monkeypatch, admin_client):
    study = live_study(target=1)
    gone = consent(Walker(Client(), study))
    prolific.add("STUDY1", gone.prolific_session_id, gone.prolific_pid, "RETURNED")
    monkeypatch.delenv("PROLIFIC_API_TOKEN", raising=False)
    assert sync_prolific() == {}  # no token: nothing asked
    monkeypatch.setenv("PROLIFIC_API_TOKEN", TOKEN)
    monkeypatch.setenv("PROLIFIC_API_URL", prolific.url)
    assert sync_prolific() == {"pl": {"checked": 1, "freed": 1, "flagged": 0}}
    action = {"action": "sync_with_prolific", "_selected_action": [study.pk]}
    response = admin_client.post(reverse("admin:studyapp_study_changelist"), action, follow=True)
    assert "1 participants checked, 0 places re-opened" in response.content.decode()


@pytest.fixture
def checked_at_the_door(prolific, monkeypatch, settings):
    monkeypatch.setenv("PROLIFIC_API_TOKEN", TOKEN)
    monkeypatch.setenv("PROLIFIC_API_URL", prolific.url)
    settings.PROLIFIC_API_TOKEN_SET = True
    return prolific


def test_at_the_door_only_a_live_submission_of_this_study_and_participant_gets_in(checked_at_the_door):
    prolific = checked_at_the_door
    study = live_study(target=25)
    real = Walker(Client(), study)
    prolific.add("STUDY1", f"session-{real.pid}", real.pid)
    real.arrive()
    assert real.participant.status == Participant.Status.ACTIVE

    made_up = [Walker(Client(), study) for _ in range(20)]
    for walker in made_up:
        response = walker.arrive()
        assert response.status_code == 403 and "no place in this study" in response.content.decode()
    borrower = Walker(Client(), study)
    prolific.add("STUDY1", f"session-{borrower.pid}", "SOMEONE-ELSE")
    returned = Walker(Client(), study)
    prolific.add("STUDY1", f"session-{returned.pid}", returned.pid, "RETURNED")
    other_study = Walker(Client(), study)
    prolific.add("STUDY2", f"session-{other_study.pid}", other_study.pid)
    for walker, says in ((borrower, "another participant"), (returned, "returned on Prolific"),
                         (other_study, "No submission")):
        response = walker.arrive()
        assert response.status_code == 403 and says in response.content.decode()
    assert list(Participant.objects.filter(study=study).values_list("prolific_pid", flat=True)) == [real.pid]


def test_when_prolific_does_not_answer_arrivals_get_in_and_are_checked_later(
    checked_at_the_door, monkeypatch, caplog
):
    monkeypatch.setenv("PROLIFIC_API_URL", "http://127.0.0.1:1")  # nothing listens there
    study = live_study(target=25)
    walker = Walker(Client(), study)
    walker.arrive()
    assert walker.participant.status == Participant.Status.ACTIVE
    assert "not checked with Prolific" in caplog.text
