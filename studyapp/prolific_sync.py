"""Keeping a study's participants in step with its submissions on Prolific.

A sync reads the study's submissions and, for each participant who arrived from Prolific:
returned, timed-out and rejected submissions end the participant (their place re-opens at once,
where it waited for the time limit or a researcher before); and a participant whose SESSION_ID
names no submission of this study, or the submission of someone else, is flagged on the monitor
(a made-up or copied link). Nothing a participant submitted is changed or removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Participant, Study
from .prolific import GONE, ProlificClient, ProlificError, Submission

logger = logging.getLogger(__name__)

NO_SUBMISSION = "No submission with this SESSION_ID in the study on Prolific (a made-up or mistyped link?)."
SOMEONE_ELSES = "This SESSION_ID is another participant's submission on Prolific."


@dataclass
class SyncResult:
    checked: int = 0
    freed: list[str] = field(default_factory=list)  # PROLIFIC_PIDs whose places re-opened
    flagged: list[str] = field(default_factory=list)  # PROLIFIC_PIDs that match no submission


def sync_study(study: Study, client: ProlificClient | None = None) -> SyncResult:
    """Bring the study's participants in step with Prolific (ProlificError when it cannot be asked)."""
    if not study.prolific_study_id:
        return SyncResult()
    client = client or ProlificClient()
    submissions: dict[str, Submission] = {s.id: s for s in client.submissions(study.prolific_study_id)}
    result = SyncResult()
    now = timezone.now()
    people = Participant.objects.real().filter(study=study).exclude(prolific_session_id="")
    for participant in people.only("pk", "prolific_pid", "prolific_session_id", "status"):
        result.checked += 1
        submission = submissions.get(participant.prolific_session_id)
        problem, status = "", ""
        if submission is None:
            problem = NO_SUBMISSION
        elif submission.participant_id != participant.prolific_pid:
            problem, status = SOMEONE_ELSES, submission.status
        else:
            status = submission.status
        with transaction.atomic():
            changes = {"prolific_status": status, "prolific_problem": problem, "prolific_checked_at": now}
            if problem == "" and status in GONE:
                active = Participant.objects.filter(pk=participant.pk, status=Participant.Status.ACTIVE)
                ended = active.update(status=GONE[status], ended_at=now, **changes)
                if ended:
                    result.freed.append(participant.prolific_pid)
                    continue
            Participant.objects.filter(pk=participant.pk).update(**changes)
        if problem:
            result.flagged.append(participant.prolific_pid)
    Study.objects.filter(pk=study.pk).update(prolific_synced_at=now)
    return result


#: Submission statuses a participant can be taking the study in.
TAKING_PART = {"ACTIVE", "RESERVED"}


def arrival_problem(study: Study, pid: str, session_id: str, client: ProlificClient | None = None) -> str:
    """Why a new arrival's link matches no submission of this study on Prolific ("" when it does,
    and when it cannot be checked: the study names no Prolific study, there is no token, or Prolific
    does not answer; the periodic sync then checks it later, as turning real participants away when
    Prolific is down would be worse)."""
    if not study.prolific_study_id or not (client or settings.PROLIFIC_API_TOKEN_SET):
        return ""
    try:
        submission = (client or ProlificClient()).submission(session_id)
    except ProlificError as error:
        logger.warning("Arrival to %s not checked with Prolific: %s", study.slug, error)
        return ""
    if submission is None or (submission.study_id and submission.study_id != study.prolific_study_id):
        return NO_SUBMISSION
    if submission.participant_id != pid:
        return SOMEONE_ELSES
    if submission.status not in TAKING_PART:
        return f"The submission is {submission.status.lower()} on Prolific."
    return ""
