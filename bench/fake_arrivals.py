"""How many made-up Prolific arrivals it takes to fill the demo study (4 x 25), and how long they block it.

Someone with the study link can open it with made-up PROLIFIC_PIDs. Each new arrival takes a place;
the arrival limit (ARRIVAL_RATE_LIMIT, per client address) caps how many one address can take, and
the consent hold releases a place whose arrival never consented. This script attacks the demo study
in-process (Django's WSGI handler, the client address set per request, as a proxy would pass it) and
reports, with the settings in force:

* one address sending 100 arrivals at once: how many got a place, how many were refused (HTTP 429);
* how many addresses, and arrivals, fill every place when the arrivals never consent, and when they
  also consent (the consent page is one click);
* whether a real participant (another address) then finds the study full, and when they get in:
  places are moved back in time (started_at) to just before and just after the hold and the time
  limit, and the real participant tries again.

The limiter counts in the cache (per process here, as in the demo; Redis in production); it is
cleared between the scenarios, which stands for the hour its window lasts.

Run (from the repository root)::

    .venv/bin/python bench/fake_arrivals.py
    ARRIVAL_RATE_LIMIT=30/h .venv/bin/python bench/fake_arrivals.py
"""

from __future__ import annotations

import io
import logging
import secrets
import shutil
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from report import setup_django

STUDY = "demo"


def arrive(client, address: str) -> tuple[int, str]:
    """One arrival with a made-up PID from `address`: (HTTP status, where it was sent)."""
    pid = secrets.token_hex(12)
    link = {"PROLIFIC_PID": pid, "STUDY_ID": "abc", "SESSION_ID": f"s-{pid}"}
    response = client.get(f"/study/{STUDY}/", link, REMOTE_ADDR=address)
    return response.status_code, response.get("Location", "")


def flood_one_address(client) -> Counter:
    outcomes = Counter()
    for _ in range(100):
        status, _ = arrive(client, "203.0.113.7")
        outcomes["placed" if status == 302 else "refused (429)" if status == 429 else f"HTTP {status}"] += 1
    return outcomes


def fill(client, consent: bool) -> tuple[int, int]:
    """Addresses and arrivals used until the study is full (each address up to its limit)."""
    from django.test import Client

    arrivals = addresses = 0
    while True:
        addresses += 1
        address = f"198.51.{addresses // 250}.{addresses % 250 + 1}"
        browser = Client()  # one attacker's browser per address, keeping its cookies
        while True:
            status, location = arrive(browser, address)
            if status == 429:
                break
            if status != 302:
                return addresses - 1, arrivals  # the study-full page: this address got nothing
            arrivals += 1
            if consent:  # the test client does not check CSRF tokens; a script would copy the form's
                browser.post(location, {"consent": "yes"})


def real_participant_gets_in(client) -> bool:
    status, _ = arrive(client, "192.0.2.55")
    return status == 302


def shift_places(minutes: float) -> None:
    """Move every fake arrival's start back by `minutes` (as if that much time had passed)."""
    from studyapp.models import Participant

    for p in Participant.objects.filter(study__slug=STUDY, status=Participant.Status.ACTIVE):
        Participant.objects.filter(pk=p.pk).update(started_at=p.started_at - timedelta(minutes=minutes))


def reset() -> None:
    from django.core.cache import cache

    from studyapp.models import PageVisit, Participant, Response

    Response.objects.all().delete()
    PageVisit.objects.all().delete()
    Participant.objects.all().delete()
    cache.clear()


def blocked_for(client, hold: int, limit: int, consent: bool) -> str:
    """When a real participant gets in again after the study was filled."""
    cutoff = limit if consent else hold
    if real_participant_gets_in(client):
        return "not blocked: the real participant got in at once"
    shift_places(cutoff - 0.5)
    if real_participant_gets_in(client):
        return f"blocked for less than {cutoff - 0.5:g} min"
    shift_places(1.0)
    if not real_participant_gets_in(client):
        return f"still blocked after {cutoff + 0.5:g} min"
    return f"blocked until {cutoff} min after the arrivals ({'time limit' if consent else 'consent hold'})"


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-fake-arrivals-"))
    try:
        setup_django(f"sqlite:///{tmp / 'bench.sqlite3'}")
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        from studyapp.models import Study

        settings.ALLOWED_HOSTS = ["testserver"]
        logging.getLogger("django.request").setLevel(logging.ERROR)  # not a line per refused arrival
        call_command("seed_demo", stdout=io.StringIO())
        study = Study.objects.get(slug=STUDY)
        places = study.target_per_condition * study.conditions.count()
        print(f"Study '{STUDY}': {study.conditions.count()} conditions x {study.target_per_condition} = "
              f"{places} places; ARRIVAL_RATE_LIMIT={settings.ARRIVAL_RATE_LIMIT}; consent hold "
              f"{study.consent_hold_minutes} min; time limit {study.time_limit_minutes} min")
        client = Client()
        outcomes = flood_one_address(client)
        print(f"One address, 100 arrivals at once: {dict(outcomes)}")
        for consent in (False, True):
            reset()
            addresses, arrivals = fill(client, consent)
            what = "arrive and consent" if consent else "arrive, never consent"
            blocked = blocked_for(client, study.consent_hold_minutes, study.time_limit_minutes, consent)
            print(f"Fake arrivals that {what}: {arrivals} arrivals from {addresses} addresses fill all "
                  f"{places} places; {blocked}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
