"""Approving, rejecting, paying bonuses and syncing with Prolific from the admin: checked here, queued,
and made by a Celery worker, every call kept as a log (``ProlificAction``).

The admin's request only checks what is asked and queues it (status *queued*); the worker
(``studyapp.send_prolific_action`` on the default queue, the scheduler's) makes the call and records
what Prolific answered, so a slow or hanging Prolific never holds a web worker.

* Nothing is sent for a participant Prolific has not confirmed: their SESSION_ID must have been found,
  at the door or by a sync, to be their own submission of this study (``prolific_verified_at``), with
  no problem flagged since; previews, pilot bots and test runs are never sent. A rejection, which names
  one submission, is checked once more against Prolific right before it is sent.
* approve: the submissions of participants who completed the study (bulk);
* reject: only participants screened out for failing the study's attention checks, as Prolific's
  policy allows rejecting for failed attention checks, with the category Prolific requires for it
  (FAILED_CHECK) and a message of at least 100 characters, which Prolific shows the participant;
* bonuses: set up first (Prolific answers with the amount, its fees and the total, shown to the
  researcher as a preview), then paid in a second step; Prolific's pay call is not idempotent, so a
  set-up is paid at most once here, and a pay call whose answer is lost is never sent again.
* Every call is made at most once: the worker marks it *sending* before the call, and a message
  delivered again (its worker killed during the call) finds it so and records the outcome as
  unknown instead of calling again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

from celery import current_app
from django.db import transaction
from django.utils import timezone

from traces.lifecycle import QueueUnreachable, check_queue

from . import audit
from .models import Participant, ProlificAction, Study
from .prolific import ProlificClient, ProlificError
from .prolific_sync import sync_study

SEND_TASK = "studyapp.send_prolific_action"  # routed to the default queue by CELERY_TASK_ROUTES
REJECTION_CATEGORY = "FAILED_CHECK"
MIN_REJECTION_MESSAGE = 100  # characters, Prolific's rule
DEFAULT_REJECTION_MESSAGE = (
    "Thank you for your time. Your submission failed the attention checks built into this study: you "
    "were asked to choose a given answer and chose another, more than once. As the study's description "
    "said, submissions that fail the attention checks are rejected."
)
MAX_BONUS = Decimal("100.00")  # per participant, in the study's currency: a typo guard
NOT_VERIFIED = "not yet confirmed by Prolific as their own submission of this study (run a sync)"
_Status = ProlificAction.Status


class ActionRefused(ValueError):
    """The action cannot be taken as asked; nothing was sent to Prolific."""


def _needs_prolific(study: Study) -> None:
    """Refuse before anything is queued: no Prolific study, no token, or an unsafe API address."""
    if not study.prolific_study_id:
        raise ActionRefused(f"{study.slug} has no Prolific study id.")
    try:
        ProlificClient()
        check_queue()
    except (ProlificError, QueueUnreachable) as error:
        raise ActionRefused(str(error)) from None


def _only_verified(people: Sequence[Participant]) -> None:
    """Refuse previews, bots and test runs, and anyone Prolific has not confirmed (named, with why)."""
    not_there = [p.prolific_pid for p in people if p.is_preview]
    if not_there:
        raise ActionRefused("Previews, pilot bots and test runs have no submission on Prolific: "
                            f"{', '.join(not_there[:10])}.")
    unverified = [p for p in people if p.prolific_verified_at is None or p.prolific_problem]
    if unverified:
        why = "; ".join(f"{p.prolific_pid}: {p.prolific_problem or NOT_VERIFIED}" for p in unverified[:10])
        raise ActionRefused(f"Nothing is sent for a participant Prolific has not confirmed. {why}.")


def _queue(study: Study, kind: str, people: Sequence[Participant], request: dict, user) -> ProlificAction:
    """Keep the call as queued and hand it to a worker once this transaction commits."""
    action = ProlificAction.objects.create(
        study=study, kind=kind, participants=[p.prolific_pid for p in people], request=request,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    audit.record(study, user, audit.Kind.PROLIFIC, f"queued {action}")
    transaction.on_commit(lambda: hand_to_worker(action.pk))
    return action


def hand_to_worker(action_id: int) -> None:
    """Send the queued call's message; if the queue cannot take it, nothing was sent: say so (and a bonus
    marked paid for this call can be paid again)."""
    try:
        current_app.send_task(SEND_TASK, args=[action_id], retry=False)
    except Exception as error:  # kombu raises OperationalError, redis its own, sockets OSError
        with transaction.atomic():
            action = ProlificAction.objects.select_for_update().get(pk=action_id)
            _finish(action, _Status.FAILED, {"error": f"Never sent: the queue could not take it ({error})."})
            if action.kind == ProlificAction.Kind.BONUS_PAY:
                setups = ProlificAction.objects.filter(kind=ProlificAction.Kind.BONUS_SETUP,
                                                       study=action.study)
                setups.filter(bonus_id=action.request["bulk_bonus_payment"]).update(paid_at=None)


def approve(study: Study, participants: Sequence[Participant], user=None) -> ProlificAction:
    """Queue approving the completed participants among ``participants`` (the others are refused, named)."""
    _needs_prolific(study)
    others = [p.prolific_pid for p in participants if p.status != Participant.Status.COMPLETED]
    if others:
        raise ActionRefused(f"Only completed participants are approved; not {', '.join(others[:10])}.")
    _only_verified(participants)
    pids = [p.prolific_pid for p in participants]
    return _queue(study, ProlificAction.Kind.APPROVE, participants,
                  {"study_id": study.prolific_study_id, "participant_ids": pids}, user)


def reject(study: Study, participants: Sequence[Participant], message: str = DEFAULT_REJECTION_MESSAGE,
           user=None) -> list[ProlificAction]:
    """Queue rejecting participants screened out by the attention checks, one call each."""
    _needs_prolific(study)
    others = [p.prolific_pid for p in participants
              if p.status != Participant.Status.SCREENED_OUT or p.attention_passed is not False]
    if others:
        raise ActionRefused("Only participants screened out by failed attention checks may be rejected "
                            f"(Prolific's policy); not {', '.join(others[:10])}.")
    if len(message.strip()) < MIN_REJECTION_MESSAGE:
        raise ActionRefused(f"Prolific needs a rejection message of at least {MIN_REJECTION_MESSAGE} "
                            f"characters (this one has {len(message.strip())}).")
    _only_verified(participants)
    return [
        _queue(study, ProlificAction.Kind.REJECT, [p], {
            "submission": p.prolific_session_id, "action": "REJECT",
            "rejection_category": REJECTION_CATEGORY, "message": message.strip()}, user)
        for p in participants
    ]


def bonus_amount(text: str) -> Decimal:
    """A bonus per participant: a positive amount with at most two decimals, under MAX_BONUS."""
    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise ActionRefused(f"{text!r} is not an amount (write e.g. 1.50).") from None
    if amount <= 0 or amount > MAX_BONUS or amount != amount.quantize(Decimal("0.01")):
        raise ActionRefused(f"A bonus is between 0.01 and {MAX_BONUS} with at most two decimals, not {text}.")
    return amount


def set_up_bonus(study: Study, participants: Sequence[Participant], amount: str, user=None) -> ProlificAction:
    """Queue setting up (not paying) a bonus of ``amount`` for each participant; the log will hold
    Prolific's preview of the cost."""
    _needs_prolific(study)
    value = bonus_amount(amount)
    if not participants:
        raise ActionRefused("Choose at least one participant.")
    _only_verified(participants)
    bonuses = {p.prolific_pid: f"{value:.2f}" for p in participants}
    return _queue(study, ProlificAction.Kind.BONUS_SETUP, participants,
                  {"study_id": study.prolific_study_id, "bonuses": bonuses}, user)


def pay_bonus(setup: ProlificAction, user=None) -> ProlificAction:
    """Queue paying a bonus set up before, at most once: the set-up is marked paid here, before the
    call, so neither a second click nor a lost answer can pay twice (check Prolific before setting it
    up again)."""
    _needs_prolific(setup.study)  # no token or no queue: refused here, before the set-up is marked
    with transaction.atomic():
        setup = ProlificAction.objects.select_for_update().get(pk=setup.pk)
        if setup.kind != ProlificAction.Kind.BONUS_SETUP or not setup.ok or not setup.bonus_id:
            raise ActionRefused("Only a bonus set up on Prolific without error can be paid.")
        if setup.paid_at is not None:
            when = f"{setup.paid_at:%Y-%m-%d %H:%M}"
            raise ActionRefused(f"This bonus was already sent for payment on {when} UTC.")
        setup.paid_at = timezone.now()
        setup.save(update_fields=["paid_at"])
        people = list(Participant.objects.filter(study=setup.study, prolific_pid__in=setup.participants))
        return _queue(setup.study, ProlificAction.Kind.BONUS_PAY, people,
                      {"bulk_bonus_payment": setup.bonus_id}, user)


def sync(study: Study, user=None) -> ProlificAction:
    """Queue a sync of the study's participants with its submissions (the outcome is kept on the action
    and on the study)."""
    _needs_prolific(study)
    return _queue(study, ProlificAction.Kind.SYNC, [], {"study_id": study.prolific_study_id}, user)


def perform(action_id: int, client: ProlificClient | None = None) -> ProlificAction | None:
    """Make a queued call and keep the outcome: what the worker runs. At most once (see the module)."""
    with transaction.atomic():
        locked = ProlificAction.objects.select_for_update().select_related("study")
        action = locked.filter(pk=action_id).first()
        if action is None or action.status not in (_Status.QUEUED, _Status.SENDING):
            return action
        if action.status == _Status.SENDING:
            return _finish(action, _Status.UNKNOWN, {"error": (
                "The worker stopped during the call; it is not made again. Check on Prolific whether it "
                "took effect.")})
        action.status, action.sent_at = _Status.SENDING, timezone.now()
        action.save(update_fields=["status", "sent_at"])
    try:
        answer = _CALLS[action.kind](action, client or ProlificClient())
    except (ProlificError, ActionRefused) as error:
        return _finish(action, _Status.FAILED, {"error": str(error)})
    return _finish(action, _Status.DONE, answer if isinstance(answer, dict) else {"message": answer})


def _finish(action: ProlificAction, status: str, response: dict) -> ProlificAction:
    action.status, action.response, action.answered_at = status, response, timezone.now()
    if action.kind == ProlificAction.Kind.BONUS_SETUP and status == _Status.DONE:
        action.bonus_id = str(response.get("id", ""))
    action.save(update_fields=["status", "response", "answered_at", "bonus_id"])
    return action


def _reject(action: ProlificAction, client: ProlificClient) -> dict | str:
    """Reject one submission, after Prolific confirms once more that it is this participant's."""
    session, (pid,) = action.request["submission"], action.participants
    submission = client.submission(session)
    study_id = action.study.prolific_study_id
    if submission is None or submission.participant_id != pid or (
            submission.study_id and submission.study_id != study_id):
        raise ActionRefused(f"Prolific does not have {session} as {pid}'s submission of this study: not "
                            "rejected.")
    return client.reject(session, action.request["message"], action.request["rejection_category"])


def _sync(action: ProlificAction, client: ProlificClient) -> dict:
    result = sync_study(action.study, client)
    return {"checked": result.checked, "verified": result.verified, "freed": result.freed,
            "flagged": result.flagged}


_CALLS: dict[str, Callable[[ProlificAction, ProlificClient], dict | str]] = {
    ProlificAction.Kind.APPROVE: lambda a, c: c.approve(a.request["study_id"], a.request["participant_ids"]),
    ProlificAction.Kind.REJECT: _reject,
    ProlificAction.Kind.BONUS_SETUP: lambda a, c: c.set_up_bonuses(a.request["study_id"],
                                                                   a.request["bonuses"]),
    ProlificAction.Kind.BONUS_PAY: lambda a, c: c.pay_bonuses(a.request["bulk_bonus_payment"]),
    ProlificAction.Kind.SYNC: _sync,
}
