"""The two statements every arrival runs under the study's lock, compiled once per process
(studyapp/compiled.py), give what the ORM's querysets give: the same places held, the same
participants released with the same statuses, and nothing else touched. On SQLite here and on
PostgreSQL in CI (DATABASE_URL)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from studyapp import allocation, compiled
from studyapp.models import Participant
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


def _study_with_every_kind_of_holder():
    """Completed, active and consented, active within the hold, past the hold without consent, past the
    time limit, a preview, and another study's participants, with a spread of conditions and lists."""
    study, other = make_study("compiled", target=10), make_study("compiled-other", target=10)
    walkers = [Walker(Client(), s) for s in (study,) * 12 + (other,) * 3]
    for walker in walkers:
        walker.arrive()
    people = [w.participant for w in walkers[:12]]
    now = timezone.now()
    for person in people[:3]:
        person.status, person.consented_at = Participant.Status.COMPLETED, now
    for person in people[3:5]:
        person.consented_at = now
    for person in people[5:8]:  # arrived 20 minutes ago, never consented: past the 10-minute hold
        person.started_at = now - timedelta(minutes=20)
    for person in people[8:10]:  # consented, but started before the time limit
        person.started_at, person.consented_at = now - study.time_limit - timedelta(minutes=1), now
    people[10].is_preview, people[10].started_at = True, now - timedelta(minutes=20)
    for person in people:
        person.save()
    Participant.objects.filter(study=other).update(started_at=now - timedelta(minutes=20))
    return study, now


def test_the_places_held_are_the_orms_count():
    study, now = _study_with_every_kind_of_holder()
    expected = Counter({row[:3]: row[3] for row in compiled.held_rows(study, now)})
    assert Counter({row[:3]: row[3] for row in compiled.held(study, now)}) == expected
    assert sum(expected.values()) == 5 + 1  # completed 3, consented 2, the one within the hold


def test_the_release_is_the_orms_update():
    study, now = _study_with_every_kind_of_holder()
    people, _changes = compiled.released(study, now)
    expected = {pk: (Participant.Status.TIMED_OUT if started < study.abandon_cutoff(now) else
                     Participant.Status.EXPIRED) for pk, started in people.values_list("pk", "started_at")}
    before = {p.pk: (p.status, p.ended_at) for p in Participant.objects.exclude(pk__in=expected)}
    assert allocation.release_places(study, now) == len(expected) == 5
    after = {p.pk: p for p in Participant.objects.all()}
    assert {pk: after[pk].status for pk in expected} == expected
    assert {after[pk].ended_at for pk in expected} == {now}
    assert {pk: (after[pk].status, after[pk].ended_at) for pk in before} == before  # nobody else
    assert allocation.release_places(study, now) == 0

