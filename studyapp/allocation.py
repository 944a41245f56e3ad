"""Assigning arriving participants to conditions and stimuli so that every condition fills to its target
and every stimulus is read equally often in every condition.

Between participants, a new arrival takes the condition with the fewest participants holding a slot
(completed, or active within the time limit and, before consenting, within the consent hold); ties are
broken at random. Within participants, every participant reads every condition, and the study fills to
its target. Either way the arrival also takes the stimulus list (and, within, the Latin square's row)
held by the fewest of those holding a place (``counterbalancing``), so a leaver's list re-opens with
their place. New arrivals are serialised by a row lock on the study, so simultaneous arrivals cannot
over-fill a condition; the unique (study, PROLIFIC_PID) constraint keeps a participant arriving twice
at once to one record (the second finds the first's).

Each participant's sequence is drawn once and stored: the stimuli and each trial's condition, the
per-trial items (grouped by response scale, agreement items before cognitive-load ones, shuffled within
each group), the end items, the practice problem, and the attention checks (on different trials, each
placed among the items of its own scale).
"""

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import compiled, content, counterbalancing
from .models import Condition, Construct, Item, Participant, Pilot, Study

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
    language: str | None = None,
) -> Participant:
    """arrive() for a PROLIFIC_PID the caller found no participant for (the entry page looks
    first, to limit only new arrivals); a PID another request created meanwhile still wins.
    ``verified``: Prolific confirmed the SESSION_ID as this PID's submission at the door; ``test_run``:
    a researcher's try, never counted (test_runs); ``language``: the one they read (one the study offers;
    by default its own)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            study = Study.objects.select_for_update().get(pk=study.pk)
            if study.status != Study.Status.LIVE:
                raise StudyNotOpen(study.get_status_display())
            release_places(study, now)
            places = held_places(study, now)
            condition = choose_condition(study, places, rng or _system_random)
            return _create_participant(
                study, condition, prolific_pid, prolific_study_id, prolific_session_id, places=places,
                now=now, rng=rng or _system_random, device_class=device_class, user_agent=user_agent,
                is_preview=test_run, test_run=test_run, verified_at=now if verified else None,
                language=language,
            )
    except (IntegrityError, StudyFull, StudyNotOpen):
        # Whoever held the lock before us may have just created this PID (the unique constraint refused
        # ours, or theirs took the last place): theirs wins. Looked up here, not under the lock, so
        # that every other arrival holds the lock one query shorter.
        existing = Participant.objects.filter(study=study, prolific_pid=prolific_pid).first()
        if existing is None:
            raise
        return existing


def start_preview(
    study: Study, condition_code: str | None = None, language: str | None = None
) -> Participant:
    """A researcher's run through the study: any status, the chosen condition between participants (within
    participants there is none to choose: each trial has its own), in ``language`` (by default the study's
    own), never counted."""
    conditions = content.for_study(study).conditions
    chosen = [c for c in conditions if c.code == condition_code] or conditions
    if not chosen:
        raise StudyNotReady("The study has no conditions.")
    condition = None if study.design == Study.Design.WITHIN else _system_random.choice(chosen)
    return _create_participant(
        study, condition, secrets.token_hex(12), "", "", places=HeldPlaces(),
        now=timezone.now(), rng=_system_random, is_preview=True, language=language,
    )


def start_pilot_bot(study: Study, pilot: Pilot) -> Participant:
    """A pilot bot of run ``pilot``: a preview participant (never counted in the study) that takes its
    condition, stimulus list and Latin-square row as a participant arriving through the study link would,
    from the places held by the run's own bots (a bot marked returned gives its place back, and the run
    fills to the study's targets). Ties go to the first condition in the study's order, so that a run's bots
    take the conditions in turn; with the run's seed, each bot's trials are drawn as in any run with that
    seed. Any status. Raises StudyFull, StudyNotReady."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        now = timezone.now()
        places = held_places(study, now, pilot)
        condition = least_filled(study, places)[0]
        rng = _system_random
        if pilot.seed is not None:  # a run repeated with its seed draws the same trials for each bot
            rng = random.Random(f"{pilot.seed}:{Participant.objects.filter(pilot=pilot).count()}")
        return _create_participant(
            study, condition, secrets.token_hex(12), "", "", places=places, now=now, rng=rng,
            is_preview=True, pilot=pilot,
        )


def release_places(study: Study, now: datetime) -> int:
    """Record why places came free, in one statement (compiled once per process: ``compiled``): active
    participants past the time limit as timed out, arrivals who did not consent within the hold as
    expired. (The places count as free without it: holding_a_slot leaves both out.)"""
    return compiled.release(study, now)


@dataclass
class HeldPlaces:
    """Who holds a place now (``holding_a_slot``), counted three ways: per condition id, per (condition
    id, stimulus list) and per Latin-square row (within participants the condition id is None)."""

    per_condition: Counter = field(default_factory=Counter)
    lists: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.per_condition.values())


def held_places(study: Study, now: datetime, pilot: Pilot | None = None) -> HeldPlaces:
    """One query: the places held in the study (with ``pilot``, by that run's bots), with the lists and
    rows they hold. The database counts them per (condition, list, row): a row per holder instead made
    each arrival, under the study's lock, read as many rows as the study had places taken. Without
    ``pilot`` the statement is compiled once per process (``compiled``)."""
    places = HeldPlaces()
    groups = compiled.held(study, now) if pilot is None else compiled.held_rows(study, now, pilot)
    for condition_id, stimulus_list, order_row, holders in groups:
        places.per_condition[condition_id] += holders
        places.lists[(condition_id, stimulus_list)] += holders
        places.rows[order_row] += holders
    return places


def slots_taken(study: Study, now: datetime) -> Counter:
    """Participants holding a slot, per condition id (None within participants)."""
    return held_places(study, now).per_condition


def choose_condition(study: Study, places: HeldPlaces, rng: random.Random) -> Condition | None:
    """Between participants, the least-filled condition with room left (ties at random); within
    participants None, while the study has room. Raises StudyFull."""
    return rng.choice(least_filled(study, places))


def least_filled(study: Study, places: HeldPlaces) -> list[Condition | None]:
    """Between participants, the conditions with room left that the fewest hold, in the study's order;
    within participants [None] while the study has room. Raises StudyFull."""
    if study.design == Study.Design.WITHIN:
        if places.total >= study.target_per_condition:
            raise StudyFull()
        return [None]
    taken = places.per_condition
    conditions = content.for_study(study).conditions
    open_conditions = [c for c in conditions if taken[c.id] < study.target_per_condition]
    if not open_conditions:
        raise StudyFull()
    fewest = min(taken[c.id] for c in open_conditions)
    return [c for c in open_conditions if taken[c.id] == fewest]


def _trials(study: Study, condition: Condition | None, places: HeldPlaces,
            rng: random.Random) -> tuple[list[int], list[str], int, int | None]:
    """(stimulus ids, condition codes, stimulus list, Latin-square row) of a new participant's trials,
    the list and row those holding a place hold least. Raises StudyNotReady."""
    n_trials = study.trials_per_participant
    study_content = content.for_study(study)
    if condition is not None:
        stimuli = study_content.stimuli_by_condition.get(condition.code, [])
        if len(stimuli) < n_trials:
            raise StudyNotReady(
                f"Condition '{condition.code}' has traces for {len(stimuli)} stimuli, fewer than "
                f"the {n_trials} trials each participant sees."
            )
        lists = counterbalancing.list_count(len(stimuli), n_trials)
        held = Counter({k: n for (cid, k), n in places.lists.items() if cid == condition.id})
        chosen = counterbalancing.least_held(lists, held)
        sequence = counterbalancing.between_trials(stimuli, n_trials, chosen, rng)
        return sequence, [condition.code] * n_trials, chosen, None
    codes = [c.code for c in study_content.conditions]
    stimuli = study_content.stimuli_in_every_condition
    problems = counterbalancing.design_problems(Study.Design.WITHIN, len(codes), n_trials, len(stimuli))
    if problems:
        raise StudyNotReady(" ".join(problems))
    cells = counterbalancing.list_count(len(stimuli), n_trials) * len(codes)
    cell = counterbalancing.least_held(cells, Counter({k: n for (_, k), n in places.lists.items()}))
    row = counterbalancing.least_held(len(counterbalancing.williams_square(len(codes))), places.rows)
    sequence, conditions = counterbalancing.within_trials(stimuli, codes, n_trials, cell, row, rng)
    return sequence, conditions, cell, row


def _create_participant(
    study: Study,
    condition: Condition | None,
    prolific_pid: str,
    prolific_study_id: str,
    prolific_session_id: str,
    *,
    places: HeldPlaces,
    now: datetime,
    rng: random.Random,
    is_preview: bool = False,
    test_run: bool = False,
    pilot: Pilot | None = None,
    verified_at: datetime | None = None,
    device_class: str = "",
    user_agent: str = "",
    language: str | None = None,
) -> Participant:
    """Draw the participant's stimuli, their conditions and the item orders, and store them with the
    assignment and the language they read (by default the study's own)."""
    study_content = content.for_study(study)
    sequence, trial_conditions, stimulus_list, condition_order = _trials(study, condition, places, rng)
    items = study_content.items
    trial_items = [
        i for i in items if i.scope == Item.Scope.TRIAL and i.construct != Construct.ATTENTION_CHECK
    ]
    end_items = [i for i in items if i.scope == Item.Scope.END]
    if not trial_items and not study.judged:  # a judged study's trial may ask the judgement alone
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
        pilot=pilot,
        prolific_verified_at=verified_at,
        started_at=now,
        stimulus_sequence=sequence,
        trial_conditions=trial_conditions,
        stimulus_list=stimulus_list,
        condition_order=condition_order,
        item_order=order,
        end_item_order=[i.id for group in end_groups for i in group],
        attention_plan=attention_plan(study, study_content.attention_checks, groups, rng),
        practice_stimulus_id=(
            study_content.practice_by_condition.get(trial_conditions[0]) if study.practice_trial else None
        ),
        device_class=device_class,
        user_agent=user_agent[:300],
        language=language or study.own_language,
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
