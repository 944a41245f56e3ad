"""Statements that every new arrival runs, compiled by the ORM once per process and run with each
arrival's values.

An arrival, under the study's lock, releases the places whose holders ran out of time and counts the
places held (``allocation``). Building those two querysets again for each arrival (filters, Q objects,
a CASE, the compiler) cost more CPU than running them: about a quarter of the entry page's. Here each is
built once from the same manager methods, with stand-in values (a study id and moments no real study
has), compiled to SQL, and the stand-ins' positions among the parameters are remembered; an arrival
runs that SQL with its study's values in those positions. The filters stay in one place (the models'
managers), and a test checks the results against the ORM's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Case, Count, QuerySet, Value, When
from django.db.models.sql import UpdateQuery

from .models import Participant, Pilot, Study

_STUDY_ID = -7_318_021  # no study has it
_NOW, _ABANDON, _HOLD = (dt.datetime(1901, 2, 3, 4, 5, second, tzinfo=dt.UTC) for second in (6, 7, 8))


@dataclass(frozen=True)
class _Compiled:
    """SQL and, per parameter, either a constant or the name of the value it takes at run time."""

    sql: str
    params: tuple[tuple[str | None, Any], ...]

    def values(self, study: Study, now: dt.datetime) -> list[Any]:
        adapt = connection.ops.adapt_datetimefield_value
        actual = {"study": study.pk, "now": adapt(now), "abandon": adapt(study.abandon_cutoff(now)),
                  "hold": adapt(study.hold_cutoff(now))}
        return [actual[name] if name else constant for name, constant in self.params]


def _stand_in() -> Study:
    """A study whose id and cut-offs are the stand-in values."""
    study = Study(pk=_STUDY_ID)
    study.abandon_cutoff = lambda now: _ABANDON  # type: ignore[method-assign]
    study.hold_cutoff = lambda now: _HOLD  # type: ignore[method-assign]
    return study


def _compile(sql: str, params: tuple | list, uses: set[str]) -> _Compiled:
    """``uses``: the stand-ins the statement must take (a missing one: the ORM built another shape)."""
    adapt = connection.ops.adapt_datetimefield_value
    names = {_STUDY_ID: "study", adapt(_NOW): "now", adapt(_ABANDON): "abandon", adapt(_HOLD): "hold"}
    slots = tuple((names.get(p) if isinstance(p, (int, str, dt.datetime)) and not isinstance(p, bool)
                   else None, p) for p in params)
    if uses != {name for name, _ in slots if name}:
        raise AssertionError("a stand-in value did not reach the compiled statement's parameters")
    return _Compiled(sql, slots)


def released(study: Study, now: dt.datetime) -> tuple[QuerySet, dict[str, Any]]:
    """Who ``release`` releases, and the update: past the time limit timed out, the rest expired."""
    late = Participant.objects.out_of_time(study, now)
    timed_out = When(started_at__lt=study.abandon_cutoff(now), then=Value(Participant.Status.TIMED_OUT))
    return (late | Participant.objects.hold_expired(study, now),
            {"status": Case(timed_out, default=Value(Participant.Status.EXPIRED)), "ended_at": now})


def held_rows(study: Study, now: dt.datetime, pilot: Pilot | None = None) -> QuerySet:
    """The places held, counted per (condition id, stimulus list, condition order)."""
    return (
        Participant.objects.holding_a_slot(study, now, pilot)
        .values_list("condition_id", "stimulus_list", "condition_order")
        .annotate(holders=Count("pk"))
        .order_by()
    )


@cache
def _release_statement(vendor: str) -> _Compiled:
    people, changes = released(_stand_in(), _NOW)
    query = people.query.chain(UpdateQuery)
    query.add_update_values(changes)
    return _compile(*query.get_compiler(connection=connection).as_sql(), {"study", "now", "abandon", "hold"})


@cache
def _held_statement(vendor: str) -> _Compiled:
    return _compile(*held_rows(_stand_in(), _NOW).query.sql_with_params(), {"study", "abandon", "hold"})


def release(study: Study, now: dt.datetime) -> int:
    """``allocation.release_places``' update: the number of participants released."""
    statement = _release_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.values(study, now))
        return cursor.rowcount


def held(study: Study, now: dt.datetime) -> list[tuple]:
    """``allocation.held_places``' rows: (condition id, stimulus list, condition order, holders)."""
    statement = _held_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.values(study, now))
        return cursor.fetchall()
