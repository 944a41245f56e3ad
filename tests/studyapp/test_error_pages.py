"""What a participant sees when something fails: a 500 page that says the answers are safe, and a
400 (not a 500) for a form the server cannot read."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_a_form_that_is_not_utf8_is_a_400_and_changes_nothing(charset, settings):
    settings.DEBUG = False
    study = make_study("cs")
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    walker = Walker(browser, study)
    walker.arrive()
    token = browser.cookies["csrftoken"].value
    body = f"csrfmiddlewaretoken={token}&consent=yes".encode(charset)
    response = browser.generic("POST", walker.url("consent"), body,
                               content_type=f"application/x-www-form-urlencoded; charset={charset}")
    assert response.status_code == 400
    assert "must be UTF-8 encoded" in response.content.decode()
    assert walker.participant.consented_at is None


def test_a_server_error_tells_the_participant_the_answers_are_safe(settings, monkeypatch):
    settings.DEBUG = False
    study = make_study("err")
    browser = Client(raise_request_exception=False)
    walker = Walker(browser, study)
    walker.arrive()
    page = walker.url("consent")

    def database_gone(*args, **kwargs):
        raise connection.OperationalError("the database restarted")

    monkeypatch.setattr("studyapp.views.participant_for_page", database_gone)
    response = browser.get(page)
    assert response.status_code == 500
    text = response.content.decode()
    assert "Your answers so far are saved" in text and "reload this page" in text
