"""The pages that turn an arrival away answer 200 (what a participant's browser shows as it is) with an
X-Study-Status header that monitoring can count; an arrival taken answers a redirect without it."""

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Participant, Pilot, Study
from studyapp.views import STUDY_STATUS_HEADER
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


def _arrive(client: Client, study: Study):
    walker = Walker(client, study)
    return client.get(reverse("studyapp:entry", args=[study.slug]), walker.link())


def test_an_arrival_taken_is_redirected_without_the_header():
    study = make_study(target=1)
    response = _arrive(Client(), study)
    assert response.status_code == 302
    assert STUDY_STATUS_HEADER not in response


def test_the_full_page_answers_200_with_the_header_and_takes_nobody():
    study = make_study(target=1)
    for _ in range(4):  # one per condition fills the study
        assert _arrive(Client(), study).status_code == 302
    response = _arrive(Client(), study)
    assert response.status_code == 200
    assert response[STUDY_STATUS_HEADER] == "full"
    assert "This study is full" in response.content.decode()
    assert Participant.objects.filter(study=study).count() == 4


def test_a_study_not_open_answers_200_with_its_own_status():
    study = make_study(status=Study.Status.PAUSED)
    response = _arrive(Client(), study)
    assert response.status_code == 200
    assert response[STUDY_STATUS_HEADER] == "not-open"
    assert not Participant.objects.exists()


def test_a_pilot_bot_finding_the_study_full_gets_the_same_status(admin_client):
    study = make_study(target=1)
    run = Pilot.objects.create(study=study, bots=5, status=Pilot.Status.RUNNING)
    preview = reverse("studyapp:preview", args=[study.slug])
    for _ in range(4):
        assert admin_client.get(preview, {"pilot": run.pk}).status_code == 302
    response = admin_client.get(preview, {"pilot": run.pk})
    assert response.status_code == 200
    assert response[STUDY_STATUS_HEADER] == "full"
