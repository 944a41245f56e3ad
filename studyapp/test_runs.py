"""Researchers' own tries through the real study link (test runs): never counted, and removable.

A new arrival is a test run when the browser is signed in to this site as staff, or its PROLIFIC_PID is
one of the study's test accounts; older tries are marked from the admin. A test run is a participant
with ``is_preview`` set (and ``test_run``, to tell it from a preview), so it takes no place and stays out
of the monitor's counts, the consent page's estimate, the Prolific sync, the exports and the analysis,
like a preview. Test runs, previews and pilot bots can be deleted with what they answered; participants
from Prolific never can.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .models import PageVisit, Participant, Response, Study


class Refused(ValueError):
    """Nothing was changed; the message names who and why."""


def is_test_arrival(study: Study, prolific_pid: str, user) -> bool:
    """A try by the researchers: signed in as staff here, or one of the study's test PROLIFIC_PIDs."""
    return bool(getattr(user, "is_staff", False)) or study.is_test_pid(prolific_pid)


def mark(participants: Iterable[Participant]) -> int:
    """Mark arrivals as test runs (their places re-open). Refused for a participant Prolific confirmed as a
    submission of the study, unless their PID is listed as a test account: that is a real person."""
    people = list(participants)
    real = [p.prolific_pid for p in people
            if p.prolific_verified_at is not None and not p.study.is_test_pid(p.prolific_pid)]
    if real:
        raise Refused("Prolific confirmed these as real submissions of the study; add the PID to the study's "
                      f"test accounts first if it is yours: {', '.join(real[:10])}.")
    pks = [p.pk for p in people if not p.is_preview]
    return Participant.objects.filter(pk__in=pks).update(is_preview=True, test_run=True)


def count_again(participants: Iterable[Participant]) -> int:
    """Undo ``mark``: count test runs as participants again (previews and pilot bots stay what they are)."""
    pks = [p.pk for p in participants if p.test_run]
    return Participant.objects.filter(pk__in=pks).update(is_preview=False, test_run=False)


def delete(participants: Iterable[Participant]) -> int:
    """Delete test runs, previews and pilot bots with their answers and page times. Refused, and nothing
    deleted, if any of them is a participant from Prolific."""
    people = list(participants)
    real = [p.prolific_pid for p in people if not p.is_preview]
    if real:
        raise Refused(f"Only test runs, previews and pilot bots can be deleted; not {', '.join(real[:10])}.")
    pks = [p.pk for p in people]
    with transaction.atomic():
        Response.objects.filter(participant_id__in=pks).delete()
        PageVisit.objects.filter(participant_id__in=pks).delete()
        deleted, _ = Participant.objects.filter(pk__in=pks, is_preview=True).delete()
    return deleted
