"""Prolific in the loop: a study's participants kept in step with its submissions, read from a local
server that answers as Prolific's API v1 does (tests/prolific_server.py)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from studyapp import prolific_actions
from studyapp.models import Participant, ProlificAction, Study
from studyapp.prolific import ProlificClient, ProlificError
from studyapp.prolific_sync import NO_SUBMISSION, SOMEONE_ELSES, sync_study
from studyapp.tasks import sync_prolific
from tests.conftest import Walker, make_study
from tests.prolific_server import FakeProlific
from tests.studyapp.conftest import TOKEN

pytestmark = pytest.mark.django_db


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


def work_off_queue() -> list[ProlificAction]:
    """What the scheduler's worker does with the calls queued from the admin (tests/studyapp/
    test_prolific_safety.py runs them through a real Celery worker too)."""
    queued = ProlificAction.objects.filter(status=ProlificAction.Status.QUEUED).order_by("pk")
    return [prolific_actions.perform(pk) for pk in list(queued.values_list("pk", flat=True))]


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
    # from the monitor to the participants to approve, and to those who may be rejected
    completed = f"?study__id__exact={study.pk}&amp;status__exact=completed"
    assert completed in page and "status__exact=screened_out" in page
    changelist = reverse("admin:studyapp_participant_changelist")
    listing = admin_client.get(changelist + completed.replace("&amp;", "&"))
    assert listing.status_code == 200 and "approve_on_prolific" in listing.content.decode()


def test_pages_and_rate_limits_are_followed(prolific):
    prolific.busy_first = 1
    for n in range(7):
        prolific.add("STUDY1", f"s{n}", f"p{n}")
    submissions = list(ProlificClient(prolific.url, TOKEN).submissions("STUDY1"))
    assert [s.id for s in submissions] == [f"s{n}" for n in range(7)]
    assert len(prolific.requests) == 1 + 4  # the 429, then four pages of two


def test_a_429_is_waited_out_in_a_task_but_never_at_the_door(prolific):
    prolific.busy_first, prolific.retry_after = 2, "30"
    with pytest.raises(ProlificError) as refused:
        ProlificClient(prolific.url, TOKEN, retries=0).submission("s1")
    assert refused.value.status == 429 and refused.value.retry_after == 30.0 and len(prolific.requests) == 1


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
    assert "Sync with Prolific (0) #" in response.content.decode() and "queued" in response.content.decode()
    (synced,) = work_off_queue()
    assert synced.ok and synced.response["checked"] == 1 and synced.response["verified"] == 1
    study.refresh_from_db()
    assert study.prolific_sync_outcome.startswith("1 participants checked, 1 verified, 0 places re-opened")
    listing = admin_client.get(reverse("admin:studyapp_prolificaction_changelist")).content.decode()
    assert "Sync with Prolific" in listing and "Done" in listing


def test_at_the_door_only_a_live_submission_of_this_study_and_participant_gets_in(door):
    prolific = door
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
    door, monkeypatch, caplog
):
    monkeypatch.setenv("PROLIFIC_API_URL", "http://127.0.0.1:1")  # nothing listens there
    study = live_study(target=25)
    walker = Walker(Client(), study)
    walker.arrive()
    assert walker.participant.status == Participant.Status.ACTIVE
    assert "not checked with Prolific" in caplog.text


# --- approving, rejecting and paying bonuses ----------------------------------------------------


def finished(study: Study, prolific: FakeProlific, attention: str = "pass") -> Participant:
    walker = Walker(Client(), study)
    prolific.add("STUDY1", f"session-{walker.pid}", walker.pid)
    walker.complete(attention=attention)
    prolific.set_status("STUDY1", f"session-{walker.pid}", "AWAITING REVIEW")  # the code was entered there
    return walker.participant


def act(admin_client, action: str, ids: list[int], **data):
    return admin_client.post(reverse("admin:studyapp_participant_changelist"),
                             {"action": action, "_selected_action": ids, **data}, follow=True)


@pytest.fixture
def with_token(door):
    """A token, so arrivals are verified at the door (Prolific answers there)."""
    return door


def test_completed_participants_are_approved_and_the_call_is_logged(with_token, admin_client):

    study = live_study(target=5)
    done = [finished(study, with_token) for _ in range(2)]
    page = act(admin_client, "approve_on_prolific", [p.pk for p in done]).content.decode()
    assert "queued Approve (2)" in page
    assert {s["status"] for s in with_token.studies["STUDY1"]} == {"AWAITING REVIEW"}  # not yet: queued
    work_off_queue()
    assert {s["status"] for s in with_token.studies["STUDY1"]} == {"APPROVED"}
    logged = ProlificAction.objects.get(kind="approve")
    assert logged.ok and sorted(logged.participants) == sorted(p.prolific_pid for p in done)
    assert TOKEN not in str(logged.request) + str(logged.response)


def test_only_failed_attention_checks_are_rejected_with_a_long_enough_message(with_token, admin_client):
    study = live_study(target=5)
    good = finished(study, with_token)
    failed = finished(study, with_token, attention="fail")
    assert failed.status == Participant.Status.SCREENED_OUT
    page = act(admin_client, "reject_on_prolific", [good.pk, failed.pk], apply="1",
               message="x" * 120).content.decode()
    assert "nothing sent" in page and "screened out by failed attention checks" in page
    assert with_token.posted == []
    short = act(admin_client, "reject_on_prolific", [failed.pk], apply="1", message="Too short.")
    assert "at least 100 characters" in short.content.decode() and with_token.posted == []
    message = "You failed the attention checks of this study: " + "you chose other answers than asked. " * 3
    act(admin_client, "reject_on_prolific", [failed.pk], apply="1", message=message)
    work_off_queue()
    (path, body), = with_token.posted
    assert path.endswith(f"/submissions/{failed.prolific_session_id}/transition/")
    assert body["action"] == "REJECT" and body["rejection_category"] == "FAILED_CHECK"
    there = next(s for s in with_token.studies["STUDY1"] if s["id"] == failed.prolific_session_id)
    assert there["status"] == "REJECTED"


def test_a_bonus_is_set_up_with_its_cost_shown_then_paid_once(with_token, admin_client):

    study = live_study(target=5)
    people = [finished(study, with_token) for _ in range(3)]
    bad = act(admin_client, "bonus_on_prolific", [p.pk for p in people], apply="1", amount="1.505")
    assert "at most two decimals" in bad.content.decode() and with_token.bonus_setups == {}
    act(admin_client, "bonus_on_prolific", [p.pk for p in people], apply="1", amount="0.50")
    work_off_queue()
    setup = ProlificAction.objects.get(kind="bonus_setup")
    assert setup.ok and setup.bonus_id == "bulk1" and with_token.paid == []  # nothing paid yet
    listing = admin_client.get(reverse("admin:studyapp_prolificaction_changelist")).content.decode()
    assert "150 + 50.0 = 200.0" in listing  # Prolific's amount, fees and total (pence)
    pay_url = reverse("admin:studyapp_prolificaction_changelist")
    preview = admin_client.post(pay_url, {"action": "pay_bonuses", "_selected_action": [setup.pk]})
    assert "Pay these bonuses on Prolific" in preview.content.decode() and with_token.paid == []
    for _ in range(2):  # a second click pays nothing
        admin_client.post(pay_url, {"action": "pay_bonuses", "_selected_action": [setup.pk], "apply": "1"})
        work_off_queue()
    assert with_token.paid == ["bulk1"]
    setup.refresh_from_db()
    paid = ProlificAction.objects.filter(kind="bonus_pay", status="done")
    assert setup.paid_at is not None and paid.count() == 1


def test_a_failed_pay_call_is_never_sent_again(with_token, admin_client):

    study = live_study(target=5)
    person = finished(study, with_token)
    setup = prolific_actions.perform(prolific_actions.set_up_bonus(study, [person], "1.00").pk)
    with_token.fail_pay = True
    failed = prolific_actions.perform(prolific_actions.pay_bonus(setup).pk)
    assert not failed.ok and "500" in failed.response["error"]
    with_token.fail_pay = False
    with pytest.raises(prolific_actions.ActionRefused, match="already sent for payment"):
        prolific_actions.pay_bonus(setup)
    assert with_token.paid == [] and ProlificAction.objects.filter(kind="bonus_pay").count() == 1


def test_paying_without_a_token_marks_nothing_paid(with_token, monkeypatch):

    study = live_study(target=5)
    person = finished(study, with_token)
    setup = prolific_actions.perform(prolific_actions.set_up_bonus(study, [person], "1.00").pk)
    monkeypatch.delenv("PROLIFIC_API_TOKEN")
    with pytest.raises(prolific_actions.ActionRefused, match="No Prolific API token"):
        prolific_actions.pay_bonus(setup)
    setup.refresh_from_db()
    assert setup.paid_at is None  # it can still be paid once the token is back
