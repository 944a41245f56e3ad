"""How full a study is: per condition (between participants) or for the whole study (within), who holds
a place, who finished, who dropped out; where the active participants are, how long completing takes,
how often each stimulus was read in each condition by those who completed, and what the paradata show.

The monitor reloads itself every 30 seconds: everything here takes a fixed number of queries, whatever
the number of participants."""

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from . import content, counterbalancing
from .models import Condition, PageVisit, Participant, Study
from .pages import page_keys

_S = Participant.Status


@dataclass(frozen=True)
class ConditionProgress:
    """One row of the progress table: a condition (between participants), or the whole study (within
    participants, where every participant reads every condition; code and label are then empty)."""

    code: str
    label: str
    target: int
    active: int
    completed: int
    abandoned: int  # returned, timed out, or active past the time limit
    screened_out: int
    no_consent: int

    @property
    def percent_complete(self) -> int:
        return min(100, round(100 * self.completed / self.target)) if self.target else 0


@dataclass(frozen=True)
class StudyProgress:
    conditions: list[ConditionProgress]
    within: bool = False

    @property
    def target(self) -> int:
        return sum(c.target for c in self.conditions)

    @property
    def completed(self) -> int:
        return sum(min(c.completed, c.target) for c in self.conditions)

    @property
    def percent_complete(self) -> int:
        return round(100 * self.completed / self.target) if self.target else 0


def _status_filters(study: Study, now: datetime, prefix: str = "") -> dict[str, Q]:
    """Each count of status_counts as a filter on Participant (``prefix`` "") or through a relation to it."""
    in_time = Q(**{f"{prefix}started_at__gte": study.abandon_cutoff(now)})

    def status(*statuses: str) -> Q:
        return Q(**{f"{prefix}status__in": statuses})

    return {
        "assigned": Q(),
        "active": status(_S.ACTIVE) & in_time,
        "completed": status(_S.COMPLETED),
        "abandoned": status(_S.RETURNED, _S.TIMED_OUT, _S.EXPIRED) | (status(_S.ACTIVE) & ~in_time),
        "screened_out": status(_S.SCREENED_OUT),
        "no_consent": status(_S.NO_CONSENT),
    }


def status_counts(study: Study, now: datetime) -> dict[str, dict[str, int]]:
    """Per condition code (between participants: within participants, who have no condition of their own,
    see study_counts): assigned, active (within the time limit), completed, abandoned (returned, timed
    out, released before consenting, or active past the time limit), screened out and no consent.
    Previews are not counted. The monitor and the analysis report's attrition both read this."""
    real = Q(participants__is_preview=False)
    rows = study.conditions.annotate(**{
        f"n_{name}": Count("participants", filter=real & q)
        for name, q in _status_filters(study, now, "participants__").items()
    })
    return {c.code: {name: getattr(c, f"n_{name}") for name in _status_filters(study, now)} for c in rows}


def study_counts(study: Study, now: datetime) -> dict[str, int]:
    """The counts of status_counts for the whole study, in one query (previews not counted)."""
    return Participant.objects.real().filter(study=study).aggregate(**{
        name: Count("pk", filter=q) for name, q in _status_filters(study, now).items()
    })


def study_progress(study: Study, now: datetime) -> StudyProgress:
    """Between participants, a row per condition, each filling to the target; within participants, one row
    for the study, whose target is the number of participants."""
    target = study.target_per_condition
    if study.design == Study.Design.WITHIN:
        n = study_counts(study, now)
        rows = [ConditionProgress(
            code="", label="", target=target, active=n["active"], completed=n["completed"],
            abandoned=n["abandoned"], screened_out=n["screened_out"], no_consent=n["no_consent"],
        )]
        return StudyProgress(rows, within=True)
    labels = {c.code: c.label for c in content.for_study(study).conditions}
    return StudyProgress([
        ConditionProgress(
            code=code, label=labels.get(code, code), target=target, active=n["active"],
            completed=n["completed"], abandoned=n["abandoned"], screened_out=n["screened_out"],
            no_consent=n["no_consent"],
        )
        for code, n in status_counts(study, now).items()
    ])


def completion_minutes(study: Study) -> list[float]:
    """How long each real participant who completed the study took, in minutes, shortest first."""
    rows = Participant.objects.real().filter(study=study, status=_S.COMPLETED, ended_at__isnull=False)
    times = rows.values_list("started_at", "ended_at")
    return sorted((ended - started).total_seconds() / 60 for started, ended in times)


def median_completion_minutes(study: Study) -> float | None:
    times = completion_minutes(study)
    return statistics.median(times) if times else None


def active_by_page(study: Study, now: datetime) -> list[tuple[str, int]]:
    """Where the active participants (within the time limit) are: page label -> how many, in study order."""
    rows = Participant.objects.real().filter(
        study=study, status=_S.ACTIVE, started_at__gte=study.abandon_cutoff(now)
    ).only("pages_done", "stimulus_sequence", "practice_stimulus_id")
    counts: Counter = Counter()
    for participant in rows:
        participant.study = study  # its trial task sets the pages (no query per participant)
        keys = page_keys(participant)
        counts[keys[min(participant.pages_done, len(keys) - 1)]] += 1
    order = ["consent", "instructions", "practice"]
    return sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 3,
                                                   len(kv[0]), kv[0]))


@dataclass(frozen=True)
class ParadataSummary:
    """Of the real participants whose pages' script ran (a measured trial, practice or questionnaire
    page): how many left a page at least once, pasted, copied from a problem or a reasoning text, and
    whose browser showed a sign of automation."""

    measured: int
    left: int
    pasted: int
    copied: int
    automated: int


def paradata_summary(study: Study) -> ParadataSummary:
    """One query over the study's measured page visits."""
    visits = PageVisit.objects.filter(
        participant__in=Participant.objects.real().filter(study=study), automated__isnull=False
    )

    def people(condition: Q | None = None) -> Count:
        return Count("participant", distinct=True, filter=condition)

    return ParadataSummary(**visits.aggregate(
        measured=people(), left=people(Q(away_count__gt=0)), pasted=people(Q(paste_count__gt=0)),
        copied=people(Q(copy_count__gt=0)), automated=people(Q(automated=True)),
    ))


@dataclass(frozen=True)
class StimulusBalance:
    """How often each stimulus was read in each condition by the participants who completed the study,
    and how far from equal that is (counterbalancing makes it exact at the counts ``note`` names)."""

    conditions: list[Condition]  # in the study's order
    rows: list[tuple[str, list[int | None]]]  # stimulus code, reads per condition (None: no text there)
    trials: list[int]  # per condition: trials read in it
    first: list[int]  # per condition: completed participants whose first trial was in it
    completed: int
    imbalance: counterbalancing.Imbalance  # the stimuli named by their codes
    note: str


def stimulus_balance(study: Study) -> StimulusBalance:
    """The stimulus x condition counts of the completed participants, from their stored stimuli and trial
    conditions (two queries, the conditions from the content cache); previews and the practice problem are
    not counted."""
    study_content = content.for_study(study)
    conditions = study_content.conditions
    codes = [c.code for c in conditions]
    stimuli = list(study.stimuli.order_by("id").values_list("id", "code", "is_practice"))
    code_of = {pk: code for pk, code, _ in stimuli}
    trials = list(Participant.objects.real().filter(study=study, status=_S.COMPLETED).values_list(
        "stimulus_sequence", "trial_conditions"
    ))
    counts = Counter({
        (code_of[stimulus], code): n for (stimulus, code), n in counterbalancing.read_counts(trials).items()
    })
    if study.design == Study.Design.WITHIN:
        readable = {code: study_content.stimuli_in_every_condition for code in codes}
    else:
        readable = {code: study_content.stimuli_by_condition.get(code, []) for code in codes}
    readable = {code: [code_of[pk] for pk in ids] for code, ids in readable.items()}
    shown = {code: set(ids) for code, ids in readable.items()}
    rows = [
        (stimulus, [counts[(stimulus, code)] if stimulus in shown[code] or counts[(stimulus, code)] else None
                    for code in codes])
        for _, stimulus, practice in stimuli if not practice or any(counts[(stimulus, c)] for c in codes)
    ]
    read_in = Counter(code for _, trial_conditions in trials for code in trial_conditions)
    first = Counter(trial_conditions[0] for _, trial_conditions in trials if trial_conditions)
    return StimulusBalance(
        conditions=conditions, rows=rows, trials=[read_in[code] for code in codes],
        first=[first[code] for code in codes], completed=len(trials),
        imbalance=counterbalancing.imbalance(counts, readable),
        note=balance_words(study, len(codes), sorted({len(ids) for ids in readable.values()})),
    )


def balance_words(study: Study, n_conditions: int, stimulus_counts: list[int]) -> str:
    """When the study's counts are exactly equal (counterbalancing.balance_note), for each number of
    stimuli its conditions can show."""
    notes = []
    for n_stimuli in stimulus_counts:
        if not n_stimuli or not n_conditions:
            continue
        design, trials, target = study.design, study.trials_per_participant, study.target_per_condition
        every = counterbalancing.exact_balance_at(design, n_conditions, n_stimuli, trials)
        who = "participants per condition" if design == Study.Design.BETWEEN else "participants"
        notes.append(counterbalancing.balance_note(design, n_conditions, n_stimuli, trials, target) or (
            f"With {n_stimuli} problems and {trials} trials each, the stimulus x condition counts are "
            f"exactly equal at multiples of {every} {who}, the target ({target}) among them."
        ))
    return " ".join(notes)
