"""Keeping a study's participants in step with its submissions on Prolific, and checking arrivals at the door.

A sync reads the study's submissions and, for each participant who arrived from Prolific:
returned, timed-out and rejected submissions end the participant (their place re-opens at once,
where it waited for the time limit or a researcher before); a participant whose SESSION_ID is their
own submission of this study is *verified* (only verified participants are ever approved, rejected or
paid from here); and one whose SESSION_ID names no submission of this study, or the submission of
someone else, is flagged on the monitor (a made-up or copied link). Nothing a participant submitted is
changed or removed.

The door check runs inside a participant's request, so it never waits long: one short attempt
(PROLIFIC_DOOR_TIMEOUT_S), no 429 waited out, at most PROLIFIC_DOOR_CHECKS_AT_ONCE checks in flight on
the whole site, and after Prolific fails to answer, no check at all for a pause (its Retry-After, or
PROLIFIC_DOOR_PAUSE_S). An arrival that could not be checked gets in unverified, and the next sync
checks it: turning real participants away while Prolific is slow would be worse.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from .models import Participant, Study
from .prolific import GONE, ProlificClient, ProlificError, Submission

logger = logging.getLogger(__name__)

# Marked for the catalogs: an arrival turned away at the door reads them (DoorCheck.in_words).
NO_SUBMISSION = gettext_noop(
    "No submission with this SESSION_ID in the study on Prolific (a made-up or mistyped link?)."
)
SOMEONE_ELSES = gettext_noop("This SESSION_ID is another participant's submission on Prolific.")
NOT_TAKING_PART = gettext_noop("The submission is %(status)s on Prolific.")
#: Submission statuses a participant can be taking the study in.
TAKING_PART = {"ACTIVE", "RESERVED"}
DOOR_PAUSED_KEY = "prolific:door-paused"
DOOR_SLOT_KEY = "prolific:door-slot:{}"
MAX_DOOR_PAUSE_S = 600.0


@dataclass
class SyncResult:
    checked: int = 0
    freed: list[str] = field(default_factory=list)  # PROLIFIC_PIDs whose places re-opened
    flagged: list[str] = field(default_factory=list)  # PROLIFIC_PIDs that match no submission
    verified: int = 0  # participants whose SESSION_ID is their own submission of the study

    def summary(self) -> str:
        return (f"{self.checked} participants checked, {self.verified} verified, {len(self.freed)} places "
                f"re-opened, {len(self.flagged)} match no submission")


def _own_submission(study: Study, session_id: str, listed: dict[str, Submission],
                    client: ProlificClient) -> Submission | None:
    """The submission a SESSION_ID names in this study: from the list, else asked for on its own (the
    single-submission endpoint decides before anyone is flagged for being missing from a list)."""
    submission = listed.get(session_id)
    if submission is None:
        submission = client.submission(session_id)
    if submission is not None and submission.study_id and submission.study_id != study.prolific_study_id:
        return None
    return submission


def sync_study(study: Study, client: ProlificClient | None = None) -> SyncResult:
    """Bring the study's participants in step with Prolific (ProlificError when it cannot be asked; the
    study keeps the outcome either way, for the admin and the monitor)."""
    if not study.prolific_study_id:
        return SyncResult()
    now = timezone.now()
    try:
        result = _sync(study, client or ProlificClient(), now)
    except ProlificError as error:
        Study.objects.filter(pk=study.pk).update(
            prolific_sync_outcome=f"Failed at {now:%Y-%m-%d %H:%M:%S} UTC: {error}"[:300])
        raise
    Study.objects.filter(pk=study.pk).update(
        prolific_synced_at=now, prolific_sync_outcome=f"{result.summary()}."[:300])
    return result


def _sync(study: Study, client: ProlificClient, now) -> SyncResult:
    listed = {s.id: s for s in client.submissions(study.prolific_study_id)}
    result = SyncResult()
    people = Participant.objects.real().filter(study=study).exclude(prolific_session_id="")
    fields = ("pk", "prolific_pid", "prolific_session_id", "status", "prolific_verified_at")
    for participant in people.only(*fields):
        result.checked += 1
        submission = _own_submission(study, participant.prolific_session_id, listed, client)
        problem, status, verified_at = "", "", None
        if submission is None:
            problem = NO_SUBMISSION
        elif submission.participant_id != participant.prolific_pid:
            problem, status = SOMEONE_ELSES, submission.status
        else:
            status, verified_at = submission.status, participant.prolific_verified_at or now
            result.verified += 1
        with transaction.atomic():
            changes = {"prolific_status": status, "prolific_problem": problem, "prolific_checked_at": now,
                       "prolific_verified_at": verified_at}
            if problem == "" and status in GONE:
                active = Participant.objects.filter(pk=participant.pk, status=Participant.Status.ACTIVE)
                ended = active.update(status=GONE[status], ended_at=now, **changes)
                if ended:
                    result.freed.append(participant.prolific_pid)
                    continue
            Participant.objects.filter(pk=participant.pk).update(**changes)
        if problem:
            result.flagged.append(participant.prolific_pid)
    return result


@dataclass(frozen=True)
class DoorCheck:
    """What the door check found: why the link matches no live submission of this study by this
    participant (``problem``, "" when it does or could not be checked; ``status``, the submission's status
    when that is why), and whether Prolific confirmed it."""

    problem: str = ""
    verified: bool = False
    status: str = ""

    def in_words(self) -> str:
        """The problem in the active language (the arrival's, on the page turning them away)."""
        return gettext(NOT_TAKING_PART) % {"status": self.status} if self.status else gettext(self.problem)


@contextmanager
def _door_slot() -> Iterator[bool]:
    """One of the PROLIFIC_DOOR_CHECKS_AT_ONCE places for a check in flight (counted in the shared cache,
    so across every web process); yields False when all are taken."""
    timeout = int(settings.PROLIFIC_DOOR_TIMEOUT_S * 2) + 1  # a process that died keeps none for long
    for n in range(settings.PROLIFIC_DOOR_CHECKS_AT_ONCE):
        key = DOOR_SLOT_KEY.format(n)
        if cache.add(key, 1, timeout=timeout):
            try:
                yield True
            finally:
                cache.delete(key)
            return
    yield False


def check_arrival(study: Study, pid: str, session_id: str, client: ProlificClient | None = None) -> DoorCheck:
    """Check a new arrival's link with Prolific, briefly (see the module's docstring): unchecked when the
    study names no Prolific study, there is no token, Prolific failed a moment ago or enough checks are
    in flight; the sync checks those later."""
    if not study.prolific_study_id or not (client or settings.PROLIFIC_API_TOKEN_SET):
        return DoorCheck()
    if cache.get(DOOR_PAUSED_KEY):
        return DoorCheck()
    with _door_slot() as free:
        if not free:
            return DoorCheck()
        try:
            client = client or ProlificClient(retries=0, timeout_s=settings.PROLIFIC_DOOR_TIMEOUT_S)
            submission = client.submission(session_id)
        except ProlificError as error:
            pause = error.retry_after if error.retry_after else settings.PROLIFIC_DOOR_PAUSE_S
            cache.set(DOOR_PAUSED_KEY, True, timeout=min(max(pause, 1.0), MAX_DOOR_PAUSE_S))
            logger.warning("Arrival to %s not checked with Prolific (no checks for %.0f s): %s",
                           study.slug, pause, error)
            return DoorCheck()
    if submission is None or (submission.study_id and submission.study_id != study.prolific_study_id):
        return DoorCheck(NO_SUBMISSION)
    if submission.participant_id != pid:
        return DoorCheck(SOMEONE_ELSES)
    if submission.status not in TAKING_PART:
        status = submission.status.lower()
        return DoorCheck(NOT_TAKING_PART % {"status": status}, status=status)
    return DoorCheck(verified=True)
