"""The audit trail: one entry per export, report, change of a study's texts or settings, admin action,
Prolific call, member and token, with who and when (models.AuditEntry). Recorded where each happens (the
admin's hooks, the API's exports, the report, prolific_actions); read per study in the admin, and as CSV."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from .exports import csv_chunks, iso
from .models import AuditEntry, Study

Kind = AuditEntry.Kind
HEADER = ["at", "study", "username", "kind", "what"]
#: the username of what was done with no account: a management command (run by whoever has the server)
COMMAND_LINE = "(command line)"


def record(study: Study, user, kind: str, what: str) -> AuditEntry:
    """Write one entry; ``user`` None (or anonymous) is the command line or a worker."""
    person = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        study=study, study_slug=study.slug, user=person,
        username=person.get_username() if person else COMMAND_LINE,
        kind=kind, what=what,
    )


def record_each(studies: Iterable[Study], user, kind: str, what: str) -> None:
    for study in studies:
        record(study, user, kind, what)


def csv_body(entries: QuerySet[AuditEntry]) -> Iterable[bytes]:
    """The entries as CSV, oldest first, with the exports' writer (formula-like text made inert)."""
    rows = entries.order_by("at", "pk").values_list("at", "study_slug", "username", "kind", "what")
    return csv_chunks(HEADER, ((iso(at), *rest) for at, *rest in rows.iterator()))
