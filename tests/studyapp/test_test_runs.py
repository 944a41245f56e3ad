"""Researchers' tries through the real study link (issue 18, item 6): 8 tries took 8 of 100 places, entered
the exports and set the consent page's duration. Now they are test runs: marked at arrival (staff signed
in, or a test PROLIFIC_PID) or from the admin, never counted, and removable with their answers."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import PageVisit, Participant, Response, Study
from tests.conftest import Walker, make_study, new_pid

pytestmark = pytest.mark.django_db


def participants_csv(client: Client, study: Study) -> list[dict]:
    response = client.get(reverse("api:participants", args=[study.slug]), {"format": "csv"})
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_researchers_tries_through_the_study_link_take_no_place_and_stay_out_of_the_data(
    admin_user, admin_client
):
    study = make_study("tries", target=1, trials=2)
    researcher = Client()
    researcher.force_login(admin_user)
    for _ in range(3):  # a signed-in researcher tries the real link, as a participant would
        Walker(researcher, study).complete(value=1)
    tries = Participant.objects.filter(study=study)
    assert tries.count() == 3 and all(p.test_run and p.is_preview for p in tries)

    people = [Walker(Client(), study) for _ in range(4)]  # four conditions, one place each
    for walker in people:
        walker.complete()
    assert all(w.participant.status == Participant.Status.COMPLETED for w in people)  # none was full
    assert "This study is full" in Walker(Client(), study).arrive().content.decode()

    rows = participants_csv(admin_client, study)
    assert sorted(r["prolific_pid"] for r in rows) == sorted(w.pid for w in people)
    assert {r["test_run"] for r in rows} == {"0"}
    report = json.loads(admin_client.get(reverse("analysis:report", args=[study.slug]), {"format": "json"})
                        .content)
    assert sum(row["assigned"] for row in report["attrition"]["rows"]) == 4  # the tries are not in it
    monitor = admin_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert "<strong>4 of 4</strong>" in monitor and "3 test runs through the study link" in monitor


def test_the_studys_test_accounts_are_test_runs_and_earlier_tries_are_marked_then_deleted(admin_client):
    study = make_study("marked", target=5, trials=2)
    test_account = new_pid()
    Study.objects.filter(pk=study.pk).update(test_prolific_pids=f"{test_account.upper()}\n")
    Walker(Client(), study, pid=test_account).complete()
    assert Participant.objects.get(prolific_pid=test_account).test_run
    earlier = Walker(Client(), study)  # a try from a browser that was not signed in
    earlier.complete()
    real = Walker(Client(), study)
    real.complete()
    changelist = reverse("admin:studyapp_participant_changelist")

    def act(action: str, *people: Participant):
        return admin_client.post(changelist, {"action": action, "_selected_action": [p.pk for p in people]},
                                 follow=True).content.decode()

    refused = act("delete_test_runs", real.participant, earlier.participant)
    assert "Nothing deleted" in refused and Participant.objects.filter(study=study).count() == 3
    assert "1 marked as test runs" in act("mark_test_runs", earlier.participant)
    assert earlier.participant.test_run and earlier.participant.is_preview
    assert [r["prolific_pid"] for r in participants_csv(admin_client, study)] == [real.pid]

    answers = Response.objects.filter(participant__study=study).count()
    tries = Participant.objects.filter(study=study, test_run=True)
    assert "2 test runs, previews or pilot bots deleted" in act("delete_test_runs", *tries)
    assert list(Participant.objects.filter(study=study)) == [real.participant]
    assert Response.objects.filter(participant__study=study).count() == answers * 1 // 3
    assert not PageVisit.objects.filter(participant__test_run=True).exists()


def test_a_participant_prolific_confirmed_is_never_marked_as_a_test_run(admin_client):
    from django.utils import timezone

    study = make_study("confirmed", target=5, trials=2)
    person = Walker(Client(), study)
    person.complete()
    Participant.objects.filter(pk=person.participant.pk).update(prolific_verified_at=timezone.now())
    page = admin_client.post(reverse("admin:studyapp_participant_changelist"),
                             {"action": "mark_test_runs", "_selected_action": [person.participant.pk]},
                             follow=True).content.decode()
    assert "Nothing marked" in page and "real submissions" in page
    assert not person.participant.is_preview


def test_a_test_run_counted_again_is_a_participant_again(admin_client):
    study = make_study("again", target=5, trials=2)
    person = Walker(Client(), study)
    person.complete()
    changelist = reverse("admin:studyapp_participant_changelist")
    for action in ("mark_test_runs", "count_again"):
        admin_client.post(changelist, {"action": action, "_selected_action": [person.participant.pk]})
    assert not person.participant.is_preview and not person.participant.test_run
    assert [r["prolific_pid"] for r in participants_csv(admin_client, study)] == [person.pid]


def test_a_view_only_researcher_can_neither_mark_nor_delete(client, django_user_model):
    from django.contrib.auth.models import Permission

    study = make_study("viewonly", target=5, trials=2)
    person = Walker(Client(), study)
    person.arrive()
    viewer = django_user_model.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_participant"))
    client.force_login(viewer)
    changelist = reverse("admin:studyapp_participant_changelist")
    for action in ("mark_test_runs", "delete_test_runs"):
        client.post(changelist, {"action": action, "_selected_action": [person.participant.pk]})
    assert Participant.objects.filter(pk=person.participant.pk, is_preview=False).exists()
