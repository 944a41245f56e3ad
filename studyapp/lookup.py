"""Reading a participant, with their study and condition, at the start of every participant page.

Every page a participant opens or submits begins with this one read. Through the ORM
(``select_related("study", "condition")``), building that query again on each request cost more CPU
than anything else a page did: about a third of a participant's walk in bench/participants.py.
Here the statement is built once per process from the models' metadata, and each row becomes model
instances the way the ORM makes them (``Model.from_db`` after every field's database converters),
so callers get an ordinary Participant whose ``study`` and ``condition`` are already loaded: the
condition (none within participants) comes from the study's content cache (``content``), at the
content version read with the study.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.transaction import TransactionManagementError

from . import content
from .models import Participant, Study


@dataclass(frozen=True)
class _Columns:
    """How to turn one model's slice of a row into an instance, as the ORM's compiler would."""

    model: type[Model]
    attnames: list[str]
    expressions: list[Any]  # the fields' column expressions, which converters receive
    converters: list[list[Callable[..., Any]]]

    def instance(self, values: Sequence[Any]) -> Model:
        converted = []
        for value, expression, converters in zip(values, self.expressions, self.converters, strict=True):
            for convert in converters:
                value = convert(value, expression, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


def _columns(model: type[Model]) -> _Columns:
    fields = model._meta.concrete_fields
    expressions = [field.get_col(model._meta.db_table) for field in fields]
    return _Columns(
        model=model,
        attnames=[field.attname for field in fields],
        expressions=expressions,
        converters=[
            connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
            for field, expression in zip(fields, expressions, strict=True)
        ],
    )


@cache
def _statement(vendor: str, lock: bool) -> tuple[str, tuple[_Columns, ...]]:
    """The SELECT for one backend (cached per vendor: a process talks to one database)."""
    parts = tuple(_columns(model) for model in (Participant, Study))

    def column(model: type[Model], name: str) -> str:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        return f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name(field.column)}"

    participant, study = (connection.ops.quote_name(model._meta.db_table) for model in (Participant, Study))
    select = ", ".join(
        column(part.model, field.name) for part in parts for field in part.model._meta.concrete_fields
    )
    sql = (
        f"SELECT {select} FROM {participant} "  # noqa: S608 - table and column names from the models
        f"INNER JOIN {study} ON {column(Study, 'pk')} = {column(Participant, 'study')} "
        f"WHERE {column(Participant, 'token')} = %s AND {column(Study, 'slug')} = %s"
    )
    if lock and connection.features.has_select_for_update_of:
        # Lock the participant's row alone: locking the study row too would queue every page save
        # of the study behind one another. (SQLite has no row locks; its IMMEDIATE transactions
        # take the database's write lock when they begin.)
        sql += f" FOR UPDATE OF {participant}"
    return sql, parts


def participant_for_page(slug: str, token: uuid.UUID, *, lock: bool = False) -> Participant:
    """The participant with this token in study `slug`, with `.study` and `.condition` loaded.

    With `lock`, the row stays locked until the surrounding transaction ends, which must exist (as
    for the ORM's select_for_update). Raises Participant.DoesNotExist.
    """
    if lock and not connection.in_atomic_block:
        raise TransactionManagementError("participant_for_page(lock=True) needs a transaction")
    sql, (participant_columns, study_columns) = _statement(connection.vendor, lock)
    token_value = Participant._meta.get_field("token").get_db_prep_value(token, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_value, slug])
        row = cursor.fetchone()
    if row is None:
        raise Participant.DoesNotExist("No such participant in this study.")
    n_participant = len(participant_columns.attnames)
    participant = participant_columns.instance(row[:n_participant])
    study = study_columns.instance(row[n_participant:])
    Participant.study.field.set_cached_value(participant, study)
    # the condition from the study's content, at the version just read with the study
    condition = content.for_study(study).conditions_by_id.get(participant.condition_id)
    Participant.condition.field.set_cached_value(participant, condition)
    return participant
