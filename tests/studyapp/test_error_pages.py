"""What a participant sees when something fails: a 500 page that says the answers are safe, a
400 (not a 500) for a form the server cannot read, a 404 for a link cut short and a 403 for a failed
CSRF check, each saying what to do, in the browser's language, and changing nothing."""

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


@pytest.mark.parametrize(("accept", "heading"), [("de-DE,de;q=0.9", "Diese Seite gibt es nicht"),
                                                 ("en-GB", "This page does not exist")])
def test_a_cut_short_link_is_a_404_that_says_what_to_do_in_the_browsers_language(settings, accept, heading):
    settings.DEBUG = False
    study = make_study("cut")
    walker = Walker(Client(), study)
    walker.arrive()
    cut = walker.url("consent").replace(str(walker.participant.token), "00000000-0000-4000-8000-000000000000")
    response = Client().get(cut, HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 404
    text = response.content.decode()
    assert heading in text and "Prolific" in text and "No such participant" not in text


def test_a_failed_csrf_check_is_a_403_that_changes_nothing_and_says_what_to_do(settings):
    settings.DEBUG = False
    study = make_study("csrf")
    browser = Client(enforce_csrf_checks=True)
    walker = Walker(browser, study)
    walker.arrive()
    response = browser.post(walker.url("consent"), {"consent": "yes", "csrfmiddlewaretoken": "x" * 64},
                            HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 403
    text = response.content.decode()
    assert "Bitte laden Sie die Seite neu und senden Sie sie noch einmal" in text
    assert "Es wurde nichts geändert" in text and "CSRF" not in text
    assert walker.participant.consented_at is None
