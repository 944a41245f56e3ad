"""What the participant pages cost the database: the consent page's duration estimate, once measured, is
read once a while per process, not on every arrival; a new arrival's allocation holds the study's lock
for the fewest statements, a PID arriving twice still ends with one record; a page's answers
are stored alike by both forms of their INSERT."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studyapp import allocation, services, views
from studyapp.models import Participant, Response
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


def _completion_reads(queries: CaptureQueriesContext) -> int:
    """Statements reading completed participants' durations (services.estimated_minutes)."""
    return sum('"ended_at" IS NOT NULL' in q["sql"] for q in queries.captured_queries)


def test_a_measured_estimate_is_read_once_then_kept(monkeypatch):
    views._estimates.clear()
    monkeypatch.setattr(services, "MEASURED_ESTIMATE_AFTER", 1)
    study = make_study("estimate")
    with CaptureQueriesContext(connection) as before_any:
        Walker(Client(), study).arrive()
    assert _completion_reads(before_any) == 1  # not measured yet: read on every consent page
    Walker(Client(), study).complete()
    with CaptureQueriesContext(connection) as first:
        html = Walker(Client(), study).arrive().content.decode()
    assert "the median of the participants who have completed it" in html
    with CaptureQueriesContext(connection) as second:
        html = Walker(Client(), study).arrive().content.decode()
    assert "the median of the participants who have completed it" in html
    assert (_completion_reads(first), _completion_reads(second)) == (1, 0)


def test_the_kept_estimate_is_read_again_once_it_is_old(monkeypatch):
    views._estimates.clear()
    monkeypatch.setattr(services, "MEASURED_ESTIMATE_AFTER", 1)
    study = make_study("estimate-old")
    Walker(Client(), study).complete()
    Walker(Client(), study).arrive()
    created_at, _expires, minutes = views._estimates[study.pk]
    views._estimates[study.pk] = (created_at, 0.0, minutes)  # kept ESTIMATE_KEPT_S ago
    with CaptureQueriesContext(connection) as again:
        Walker(Client(), study).arrive()
    assert _completion_reads(again) == 1


def test_a_pid_that_arrives_again_finds_its_record_after_the_constraint_refuses_a_second():
    study = make_study("twice")
    first = allocation.arrive(study, "a" * 24)
    # as a second request that looked before the first committed: it goes straight to assign_new
    again = allocation.assign_new(study, "a" * 24)
    assert again.pk == first.pk
    assert Participant.objects.filter(study=study).count() == 1


def test_a_pid_that_took_the_last_place_is_found_by_its_second_request():
    study = make_study("last-place", target=1)
    for n in range(3):
        allocation.arrive(study, f"{n:024x}")
    last = allocation.arrive(study, "b" * 24)
    assert allocation.assign_new(study, "b" * 24).pk == last.pk  # full now, but this PID has its place
    with pytest.raises(allocation.StudyFull):
        allocation.assign_new(study, "c" * 24)


@pytest.mark.parametrize("statement", ["rows", "arrays"])
@pytest.mark.parametrize("on_a_trial", [True, False])
def test_each_form_of_the_answers_insert_stores_a_page_as_given(statement, on_a_trial):
    """services._store's two statements (arrays on PostgreSQL, a row of VALUES each elsewhere) store the
    same rows: values in the page's order, positions from 1, the page's stimulus (none on the last page),
    time and moment."""
    if statement == "arrays" and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's arrays")
    insert = {"rows": services.insert_answers_as_rows, "arrays": services.insert_answers_as_arrays}[statement]
    study = make_study(f"insert-{statement}-{on_a_trial}")
    walker = Walker(Client(), study)
    walker.arrive()
    participant = walker.participant
    items = list(study.items.order_by("-pk"))  # not in id order: the page's order is kept
    answers = [(item.pk, 1 + n % 5) for n, item in enumerate(items)]
    stimulus_id = study.stimuli.first().pk if on_a_trial else None
    time_ms = 8123 if on_a_trial else None
    now = timezone.now()
    submitted = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        insert(cursor, participant.pk, stimulus_id, answers, time_ms, submitted)
    stored = list(Response.objects.filter(participant=participant).order_by("position").values_list(
        "item_id", "value", "position", "stimulus_id", "time_on_page_ms", "submitted_at"))
    assert stored == [(item, value, position, stimulus_id, time_ms, now)
                      for position, (item, value) in enumerate(answers, start=1)]

