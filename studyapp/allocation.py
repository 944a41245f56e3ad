"""Assigning arriving participants to conditions so that every condition fills to its target.

A new arrival takes the condition with the fewest participants holding a slot (completed, or active
within the time limit and, before consenting, within the consent hold); ties are broken at random.
New arrivals are serialised by a row lock on the study, so simultaneous arrivals cannot over-fill a
condition; the unique (study, PROLIFIC_PID) constraint backs that up for a participant arriving twice
at once.

Each participant's sequence is drawn once and stored: the stimuli, the per-trial items (grouped by
response scale, agreement items before cognitive-load ones, shuffled within each group), the end
items, the practice problem, and the attention checks (on different trials, each placed among the
items of its own scale).
"""

import random
import secrets
from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import Case, Count, Value, When
from django.utils import timezone

from . import content
from .models import Condition, Construct, Item, Participant, Study

_system_random = random.SystemRandom()


class StudyNotOpen(Exception):
    """The study does not take new participants (draft, paused or closed)."""


class StudyFull(Exception):
    """Every condition has reached its target."""


class StudyNotReady(Exception):
    """The study lacks what a participant's sequence needs (stimuli, traces, items)."""


def arrive(
    study: Study,
    prolific_pid: str,
    prolific_study_id: str = "",
    prolific_session_id: str = "",
    *,
    device_class: str = "",
    user_agent: str = "",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Participant:
    """Return the participant for this PROLIFIC_PID, assigning a condition on first arrival.

    A returning PID gets its existing record whatever its status, so nobody runs the study twice.
    Raises StudyNotOpen, StudyFull or StudyNotReady for a new arrival that cannot be taken.
    """
    existing = Participant.objects.filter(study=study, prolific_pid=prolific_pid).first()
    if existing is not None:
        return existing
    return assign_new(
        study, prolific_pid, prolific_study_id, prolific_session_id,
        device_class=device_class, user_agent=user_agent, now=now, rng=rng,
    )


def assign_new(
    study: Study,
    prolific_pid: str,
    prolific_study_id: str = "",
    prolific_session_id: str = "",
    *,
    device_class: str = "",
    user_agent: str = "",
    now: datetime | None = None,
    rng: random.Random | None = None,
    verified: bool = False,
    test_run: bool = False,
) -> Participant:
    """arrive() for a PROLIFIC_PID the caller found no participant for (the entry page looks
    first, to limit only new arrivals); under the study's lock, a PID created meanwhile still wins.
    ``verified``: Prolific confirmed the SESSION_ID as this PID's submission at the door; ``test_run``:
    a researcher's try, never counted (test_runs)."""
    now = now or timezone.now()
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        # Whoever held the lock before us may have just created this PID.
        existing = Participant.objects.filter(study=study, prolific_pid=prolific_pid).first()
        if existing is not None:
            return existing
        if study.status != Study.Status.LIVE:
            raise StudyNotOpen(study.get_status_display())
        release_places(study, now)
        condition = choose_condition(study, now, rng or _system_random)
        return _create_participant(
            study, condition, prolific_pid, prolific_study_id, prolific_session_id,
            now=now, rng=rng or _system_random, device_class=device_class, user_agent=user_agent,
            is_preview=test_run, test_run=test_run, verified_at=now if verified else None,
        )


def start_preview(study: Study, condition_code: str | None = None) -> Participant:
    """A researcher's run through the study: any status, any condition, never counted."""
    conditions = content.for_study(study).conditions
    chosen = [c for c in conditions if c.code == condition_code] or conditions
    if not chosen:
        raise StudyNotReady("The study has no conditions.")
    return _create_participant(
        study, _system_random.choice(chosen), secrets.token_hex(12), "", "",
        now=timezone.now(), rng=_system_random, is_preview=True,
    )


def release_places(study: Study, now: datetime) -> int:
    """Record why places came free, in one statement: active participants past the time limit as
    timed out, arrivals who did not consent within the hold as expired. (The places count as free
    without it: holding_a_slot leaves both out.)"""
    late = Participant.objects.out_of_time(study, now)
    released = late | Participant.objects.hold_expired(study, now)
    timed_out = When(started_at__lt=study.abandon_cutoff(now), then=Value(Participant.Status.TIMED_OUT))
    return released.update(status=Case(timed_out, default=Value(Participant.Status.EXPIRED)), ended_at=now)


def slots_taken(study: Study, now: datetime) -> Counter:
    """Participants holding a slot, per condition id."""
    rows = (
        Participant.objects.holding_a_slot(study, now)
        .values("condition_id")
        .annotate(n=Count("id"))
    )
    return Counter({row["condition_id"]: row["n"] for row in rows})


def choose_condition(study: Study, now: datetime, rng: random.Random) -> Condition:
    """The least-filled condition with room left; ties at random. Raises StudyFull."""
    taken = slots_taken(study, now)
    conditions = content.for_study(study).conditions
    open_conditions = [c for c in conditions if taken[c.id] < study.target_per_condition]
    if not open_conditions:
        raise StudyFull()
    fewest = min(taken[c.id] for c in open_conditions)
    return rng.choice([c for c in open_conditions if taken[c.id] == fewest])


def _create_participant(
    study: Study,
    condition: Condition,
    prolific_pid: str,
    prolific_study_id: str,
    prolific_session_id: str,
    *,
    now: datetime,
    rng: random.Random,
    is_preview: bool = False,
    test_run: bool = False,
    verified_at: datetime | None = None,
    device_class: str = "",
    user_agent: str = "",
) -> Participant:
    """Draw the participant's stimuli and item orders, and store them with the assignment."""
    n_trials = study.trials_per_participant
    study_content = content.for_study(study)
    stimulus_ids = study_content.stimuli_by_condition.get(condition.code, [])
    if len(stimulus_ids) < n_trials:
        raise StudyNotReady(
            f"Condition '{condition.code}' has traces for {len(stimulus_ids)} stimuli, fewer than "
            f"the {n_trials} trials each participant sees."
        )
    items = study_content.items
    trial_items = [
        i for i in items if i.scope == Item.Scope.TRIAL and i.construct != Construct.ATTENTION_CHECK
    ]
    end_items = [i for i in items if i.scope == Item.Scope.END]
    if not trial_items:
        raise StudyNotReady("The study has no per-trial questionnaire items.")
    groups = scale_groups(trial_items)
    for group in groups:
        rng.shuffle(group)
    end_groups = scale_groups(end_items)
    for group in end_groups:
        rng.shuffle(group)
    order = [i.id for group in groups for i in group]
    return Participant.objects.create(
        study=study,
        condition=condition,
        prolific_pid=prolific_pid,
        prolific_study_id=prolific_study_id,
        prolific_session_id=prolific_session_id,
        is_preview=is_preview,
        test_run=test_run,
        prolific_verified_at=verified_at,
        started_at=now,
        stimulus_sequence=rng.sample(stimulus_ids, n_trials),
        item_order=order,
        end_item_order=[i.id for group in end_groups for i in group],
        attention_plan=attention_plan(study, study_content.attention_checks, groups, rng),
        practice_stimulus_id=(
            study_content.practice_by_condition.get(condition.code) if study.practice_trial else None
        ),
        device_class=device_class,
        user_agent=user_agent[:300],
    )


def scale_groups(items: list[Item]) -> list[list[Item]]:
    """Items grouped by response scale (their anchors), the groups in the order their first item has
    in the study (agreement items come before cognitive-load ones in the default questionnaire)."""
    groups: dict[tuple[str, ...], list[Item]] = {}
    for item in sorted(items, key=lambda i: (i.position, i.id)):
        groups.setdefault(tuple(item.anchors), []).append(item)
    return list(groups.values())


def attention_plan(
    study: Study, checks: list[Item], groups: list[list[Item]], rng: random.Random
) -> list[dict]:
    """The study's attention checks on as many different trials, each at a random place among the
    items of its own response scale (the check items taken in turn)."""
    n = min(study.attention_checks, study.trials_per_participant) if checks else 0
    plan = []
    for k, trial in enumerate(sorted(rng.sample(range(1, study.trials_per_participant + 1), n))):
        check = checks[k % len(checks)]
        start = 0
        for group in groups:
            if tuple(group[0].anchors) == tuple(check.anchors):
                break
            start += len(group)
        else:
            group = []  # no item shares its scale: the check goes after them all
        plan.append({"trial": trial, "position": start + rng.randint(1, len(group) + 1), "item": check.id})
    return plan
