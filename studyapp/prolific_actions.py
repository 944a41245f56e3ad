"""Approving, rejecting and paying bonuses on Prolific from the admin, every call kept as a log.

* approve: the submissions of participants who completed the study (bulk);
* reject: only participants screened out for failing the study's attention checks, as Prolific's
  policy allows rejecting for failed attention checks, with the category Prolific requires for it
  (FAILED_CHECK) and a message of at least 100 characters, which Prolific shows the participant;
* bonuses: set up first (Prolific answers with the amount, its fees and the total, shown to the
  researcher as a preview), then paid in a second step; Prolific's pay call is not idempotent, so a
  set-up is paid at most once here, and a pay call whose answer is lost is never sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from .models import Participant, ProlificAction, Study
from .prolific import ProlificClient, ProlificError

REJECTION_CATEGORY = "FAILED_CHECK"
MIN_REJECTION_MESSAGE = 100  # characters, Prolific's rule
DEFAULT_REJECTION_MESSAGE = (
    "Thank you for your time. Your submission failed the attention checks built into this study: you "
    "were asked to choose a given answer and chose another, more than once. As the study's description "
    "said, submissions that fail the attention checks are rejected."
)
MAX_BONUS = Decimal("100.00")  # per participant, in the study's currency: a typo guard


class ActionRefused(ValueError):
    """The action cannot be taken as asked; nothing was sent to Prolific."""


def _log(
    study: Study, kind: str, people: Sequence[Participant], request: dict, user, **fields
) -> ProlificAction:
    return ProlificAction.objects.create(
        study=study, kind=kind, participants=[p.prolific_pid for p in people], request=request,
        created_by=user if getattr(user, "is_authenticated", False) else None, **fields,
    )


def _send(
    study: Study, kind: str, people: Sequence[Participant], request: dict, user, call
) -> ProlificAction:
    """Make the call and log it, whatever Prolific answers."""
    try:
        answer = call()
    except ProlificError as error:
        return _log(study, kind, people, request, user, ok=False, response={"error": str(error)})
    return _log(study, kind, people, request, user, ok=True,
                response=answer if isinstance(answer, dict) else {"message": answer})


def _needs_prolific(study: Study) -> None:
    if not study.prolific_study_id:
        raise ActionRefused(f"{study.slug} has no Prolific study id.")


def approve(study: Study, participants: Sequence[Participant], user=None,
            client: ProlificClient | None = None) -> ProlificAction:
    """Approve the completed participants among ``participants`` (the others are refused, named)."""
    _needs_prolific(study)
    others = [p.prolific_pid for p in participants if p.status != Participant.Status.COMPLETED]
    if others:
        raise ActionRefused(f"Only completed participants are approved; not {', '.join(others[:10])}.")
    client = client or ProlificClient()
    pids = [p.prolific_pid for p in participants]
    request = {"study_id": study.prolific_study_id, "participant_ids": pids}
    return _send(study, ProlificAction.Kind.APPROVE, participants, request, user,
                 lambda: client.approve(study.prolific_study_id, pids))


def reject(study: Study, participants: Sequence[Participant], message: str = DEFAULT_REJECTION_MESSAGE,
           user=None, client: ProlificClient | None = None) -> list[ProlificAction]:
    """Reject participants screened out by the attention checks, one call each."""
    _needs_prolific(study)
    others = [p.prolific_pid for p in participants
              if p.status != Participant.Status.SCREENED_OUT or p.attention_passed is not False]
    if others:
        raise ActionRefused("Only participants screened out by failed attention checks may be rejected "
                            f"(Prolific's policy); not {', '.join(others[:10])}.")
    if len(message.strip()) < MIN_REJECTION_MESSAGE:
        raise ActionRefused(f"Prolific needs a rejection message of at least {MIN_REJECTION_MESSAGE} "
                            f"characters (this one has {len(message.strip())}).")
    client = client or ProlificClient()
    done = []
    for participant in participants:
        request = {"submission": participant.prolific_session_id, "action": "REJECT",
                   "rejection_category": REJECTION_CATEGORY, "message": message.strip()}
        done.append(_send(study, ProlificAction.Kind.REJECT, [participant], request, user,
                          lambda p=participant: client.reject(p.prolific_session_id, message.strip(),
                                                              REJECTION_CATEGORY)))
    return done


def bonus_amount(text: str) -> Decimal:
    """A bonus per participant: a positive amount with at most two decimals, under MAX_BONUS."""
    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise ActionRefused(f"{text!r} is not an amount (write e.g. 1.50).") from None
    if amount <= 0 or amount > MAX_BONUS or amount != amount.quantize(Decimal("0.01")):
        raise ActionRefused(f"A bonus is between 0.01 and {MAX_BONUS} with at most two decimals, not {text}.")
    return amount


def set_up_bonus(study: Study, participants: Sequence[Participant], amount: str, user=None,
                 client: ProlificClient | None = None) -> ProlificAction:
    """Set up (not pay) a bonus of ``amount`` for each participant; the log holds Prolific's preview."""
    _needs_prolific(study)
    value = bonus_amount(amount)
    if not participants:
        raise ActionRefused("Choose at least one participant.")
    client = client or ProlificClient()
    bonuses = {p.prolific_pid: f"{value:.2f}" for p in participants}
    request = {"study_id": study.prolific_study_id, "bonuses": bonuses}
    action = _send(study, ProlificAction.Kind.BONUS_SETUP, participants, request, user,
                   lambda: client.set_up_bonuses(study.prolific_study_id, bonuses))
    if action.ok:
        ProlificAction.objects.filter(pk=action.pk).update(bonus_id=str(action.response.get("id", "")))
        action.refresh_from_db()
    return action


def pay_bonus(setup: ProlificAction, user=None, client: ProlificClient | None = None) -> ProlificAction:
    """Pay a bonus set up before, at most once: the set-up is marked paid before the call, so neither
    a second click nor a lost answer can pay twice (check Prolific before setting it up again)."""
    client = client or ProlificClient()  # no token: refused here, before the set-up is marked
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
    return _send(setup.study, ProlificAction.Kind.BONUS_PAY, people, {"bulk_bonus_payment": setup.bonus_id},
                 user, lambda: client.pay_bonuses(setup.bonus_id))
