"""Who may take part: the browser that arrived, the original Prolific link, the study's own STUDY_ID,
a limit on new arrivals per address, and places released when consent does not come."""

from datetime import timedelta
from ipaddress import ip_network

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp import allocation
from studyapp.models import Participant, Response, Study
from tests.conftest import Walker, make_study, new_pid

pytestmark = pytest.mark.django_db


def _consent_and_one_trial(walker: Walker) -> None:
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    walker.post("trial-1", walker.answers_for("trial-1"))


def test_a_participants_pages_open_only_in_the_browser_that_arrived(study):
    owner = Walker(Client(), study)
    _consent_and_one_trial(owner)
    stranger = Client()
    for page in ("trial-1", "trial-2", "done"):
        response = stranger.get(owner.url(page))
        assert response.status_code == 403
        html = response.content.decode()
        assert "Please open the study from your Prolific link" in html
        assert "Problem" not in html and "C-OK" not in html
    stored = Response.objects.filter(participant=owner.participant).count()
    answers = owner.answers_for("trial-2")
    assert stranger.post(owner.url("trial-2"), answers).status_code == 403
    assert Response.objects.filter(participant=owner.participant).count() == stored
    assert owner.participant.pages_done == 3


def test_the_binding_cookie_opens_pages_only_as_signed_and_only_with_the_current_key(study, settings):
    """Its check is kept per process once made: a forged or altered cookie is still refused after the real
    one opened the page, and a new SECRET_KEY (the old one not kept as a fallback) closes it."""
    owner = Walker(Client(), study)
    owner.arrive()
    assert owner.get("consent").status_code == 200
    name = f"participant-{study.pk}"
    signed = owner.client.cookies[name].value
    token, signature = signed.rsplit(":", 1)
    other = Walker(Client(), study)
    other.arrive()
    for forged in (f"{other.participant.token}:{signature}", f"{token}:{signature[:-1]}x", token):
        stranger = Client()
        stranger.cookies[name] = forged
        assert stranger.get(owner.url("consent")).status_code == 403, forged
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert owner.get("consent").status_code == 200  # the old key kept as a fallback
    settings.SECRET_KEY_FALLBACKS = []
    assert owner.get("consent").status_code == 403


def test_a_prolific_id_alone_reaches_nothing_in_any_case(study):
    owner = Walker(Client(), study)
    _consent_and_one_trial(owner)
    entry = reverse("studyapp:entry", args=[study.slug])
    stranger = Client()
    for pid in (owner.pid, owner.pid.upper()):
        for query in ({"PROLIFIC_PID": pid, "STUDY_ID": "abc", "SESSION_ID": "guessed"},
                      {"PROLIFIC_PID": pid, "STUDY_ID": "other", "SESSION_ID": f"session-{owner.pid}"}):
            response = stranger.get(entry, query)
            assert response.status_code == 403 and "another browser" in response.content.decode()
        # without the other two ids the link is not a Prolific link at all
        assert stranger.get(entry, {"PROLIFIC_PID": pid}).status_code == 400
    assert stranger.get(owner.url("trial-2")).status_code == 403
    assert Participant.objects.filter(study=study).count() == 1


def test_the_original_prolific_link_resumes_on_a_new_device(study):
    owner = Walker(Client(), study)
    _consent_and_one_trial(owner)
    new_device = Walker(Client(), study, pid=owner.pid)
    response = new_device.arrive()
    assert response.redirect_chain[-1][0].endswith("/trial-2/")
    assert "Problem 2" in response.content.decode()


def test_when_set_the_prolific_study_id_must_be_the_link_s(client):
    study = make_study("prolific", status=Study.Status.LIVE)
    Study.objects.filter(pk=study.pk).update(prolific_study_id="65f0c0ffee")
    study.refresh_from_db()
    entry = reverse("studyapp:entry", args=[study.slug])
    wrong = client.get(entry, {"PROLIFIC_PID": new_pid(), "STUDY_ID": "someother", "SESSION_ID": "s1"})
    assert wrong.status_code == 400 and "made for another Prolific study" in wrong.content.decode()
    assert not Participant.objects.exists()
    assert Walker(Client(), study).arrive().status_code == 200  # the walker sends the study's id
    assert Participant.objects.get().prolific_study_id == "65f0c0ffee"


def test_new_arrivals_are_limited_per_address_and_returning_ones_are_not(study, settings):
    settings.ARRIVAL_RATE_LIMIT = "3/m"
    cache.clear()
    walkers = [Walker(Client(), study) for _ in range(4)]
    for walker in walkers[:3]:
        walker.arrive()
    blocked = walkers[3].arrive()
    assert blocked.status_code == 429 and "Please try again in a few minutes" in blocked.content.decode()
    assert Participant.objects.count() == 3
    assert walkers[0].arrive().status_code == 200  # returning: never limited
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    link = Walker(elsewhere, study)
    assert link.arrive().status_code == 200 and Participant.objects.count() == 4


def test_behind_the_proxy_each_participant_is_limited_by_the_address_the_proxy_saw(study, settings):
    """Every request comes from the proxy; the limit must not be one for all participants."""
    settings.ARRIVAL_RATE_LIMIT = "2/m"
    settings.RATELIMIT_IP_META_KEY = "studyapp.client_address.forwarded_by_proxy"
    cache.clear()

    settings.TRUSTED_PROXIES = (ip_network("10.0.0.2"),)

    def arrive(forwarded_for: str, proxy: str = "10.0.0.2") -> int:
        client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded_for)
        return Walker(client, study).arrive().status_code

    assert [arrive("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert arrive("203.0.113.2") == 200  # another participant behind the same proxy
    # an entry the client wrote itself before the proxy's does not make a new address
    assert arrive("192.0.2.99, 203.0.113.1") == 429
    # nor does one from a client that is not the trusted proxy (it reached the app directly)
    assert [arrive(f"192.0.2.{n}", proxy="198.51.100.9") for n in range(3)] == [200, 200, 429]


def test_a_flood_of_made_up_ids_from_one_address_fills_ten_places_at_most(settings):
    """The issue's attack: 100 made-up PROLIFIC_PIDs for a 4 x 25 study from one address."""
    settings.ARRIVAL_RATE_LIMIT = "10/h"
    cache.clear()
    study = make_study("flood", target=25)
    client = Client()
    entry = reverse("studyapp:entry", args=[study.slug])
    statuses = [
        client.get(entry, {"PROLIFIC_PID": new_pid(), "STUDY_ID": "x", "SESSION_ID": f"s{n}"}).status_code
        for n in range(100)
    ]
    assert statuses.count(302) == 10 and statuses.count(429) == 90
    # and those ten places come back once the consent hold has passed
    Participant.objects.update(started_at=timezone.now() - timedelta(minutes=11))
    held = Participant.objects.holding_a_slot(study, timezone.now()).count()
    assert held == 0
    assert allocation.release_places(study, timezone.now()) == 10


def test_a_place_not_consented_within_the_hold_is_released(client):
    study = make_study("hold", target=1)
    early = [Walker(Client(), study) for _ in range(4)]
    for walker in early:
        walker.arrive()
    assert "This study is full" in Walker(Client(), study).arrive().content.decode()
    # the first arrival never consents; after the hold its place goes to the next arrival
    eleven_minutes_ago = timezone.now() - timedelta(minutes=11)
    Participant.objects.filter(pk=early[0].participant.pk).update(started_at=eleven_minutes_ago)
    newcomer = Walker(Client(), study)
    assert "Consent to take part" in newcomer.arrive().content.decode()
    assert newcomer.participant.condition == early[0].participant.condition
    assert early[0].participant.status == Participant.Status.EXPIRED
    # who comes back after the hold is told, with nothing to submit
    response = early[0].get("consent")
    assert "Your place in this study was released" in response.content.decode()
    assert "Ended before trial 1 of 3" in response.content.decode()


def test_a_participant_who_consented_keeps_the_place_after_the_hold(walker, study):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    half_an_hour_ago = timezone.now() - timedelta(minutes=30)
    Participant.objects.filter(pk=walker.participant.pk).update(started_at=half_an_hour_ago)
    assert allocation.release_places(study, timezone.now()) == 0
    assert "Instructions" in walker.get("instructions").content.decode()
