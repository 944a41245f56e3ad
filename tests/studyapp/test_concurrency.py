"""Simultaneous arrivals and submissions on PostgreSQL: real threads, connections and row locks."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from studyapp.allocation import StudyFull, arrive
from studyapp.models import Participant, Response
from studyapp.services import trial_items
from tests.conftest import Walker, make_study, new_pid

# A server handles arrivals with a bounded pool of workers, each with its own database connection;
# PostgreSQL's default max_connections is 100, so at most this many arrivals run at once.
SERVER_WORKERS = 60


@pytest.mark.django_db(transaction=True)
def test_200_simultaneous_arrivals_fill_4_x_25_exactly_without_duplicates():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (make test does on CI)")
    study = make_study("rush", target=25)
    pids = [new_pid() for _ in range(200)]
    # 20 of the 200 also arrive twice at the same moment (a double click, a second tab).
    arrivals = pids + pids[:20]
    start = threading.Barrier(len(arrivals))
    workers = threading.BoundedSemaphore(SERVER_WORKERS)
    outcomes: dict[int, tuple[str, str]] = {}
    errors: list[BaseException] = []

    def arrive_once(n: int, pid: str) -> None:
        start.wait()
        with workers:
            try:
                participant = arrive(study, pid)
                outcomes[n] = (pid, f"{participant.pk}:{participant.condition.code}")
            except StudyFull:
                outcomes[n] = (pid, "full")
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

    threads = [threading.Thread(target=arrive_once, args=(n, pid)) for n, pid in enumerate(arrivals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    assert len(outcomes) == len(arrivals)

    stored = Participant.objects.filter(study=study)
    assert stored.count() == 100
    assert stored.values("prolific_pid").distinct().count() == 100
    assert Counter(stored.values_list("condition__code", flat=True)) == {
        "decomposition": 25, "r1": 25, "r1_summary": 25, "posthoc": 25,
    }
    by_pid: dict[str, set[str]] = {}
    for pid, outcome in outcomes.values():
        by_pid.setdefault(pid, set()).add(outcome)
    assert all(len(seen) == 1 for seen in by_pid.values()), "a PID arriving twice got two outcomes"
    assert sum(next(iter(seen)) == "full" for seen in by_pid.values()) == 100


@pytest.mark.django_db(transaction=True)
def test_one_page_posted_from_8_tabs_at_once_is_saved_exactly_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (make test does on CI)")
    study = make_study("tabs")
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    answers = walker.answers_for("trial-1")
    url = walker.url("trial-1")
    start = threading.Barrier(8)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def post_once(value: int) -> None:
        client = Client()
        client.cookies = walker.client.cookies
        data = {
            k: value if k.startswith("item-") and not k.startswith("item-attention") else v
            for k, v in answers.items()
        }
        start.wait()
        try:
            statuses.append(client.post(url, data).status_code)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post_once, args=(1 + n % 5,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert statuses == [302] * 8
    p = walker.participant
    assert p.pages_done == 3  # consent, instructions, trial 1: once
    stored = Response.objects.filter(participant=p, stimulus_id=p.stimulus_sequence[0])
    assert stored.count() == len(trial_items(p, 1))
    values = {r.item.code: r.value for r in stored if not r.item.is_attention_check}
    assert len(set(values.values())) == 1, "answers from two different tabs were mixed"
