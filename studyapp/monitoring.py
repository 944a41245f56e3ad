"""How full a study is: per condition, who holds a slot, who finished, who dropped out; where the active
participants are, how long completing takes, and how often each problem has been shown."""

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from .models import PageVisit, Participant, Study

_S = Participant.Status


@dataclass(frozen=True)
class ConditionProgress:
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

    @property
    def target(self) -> int:
        return sum(c.target for c in self.conditions)

    @property
    def completed(self) -> int:
        return sum(min(c.completed, c.target) for c in self.conditions)

    @property
    def percent_complete(self) -> int:
        return round(100 * self.completed / self.target) if self.target else 0


def status_counts(study: Study, now: datetime) -> dict[str, dict[str, int]]:
    """Per condition code: assigned, active (within the time limit), completed, abandoned
    (returned, timed out, released before consenting, or active past the time limit), screened out
    and no consent.
    Previews are not counted. The monitor and the analysis report's attrition both read this."""
    in_time = Q(participants__started_at__gte=study.abandon_cutoff(now))
    real = Q(participants__is_preview=False)

    def count(condition: Q | None = None) -> Count:
        return Count("participants", filter=real & condition if condition is not None else real)

    rows = study.conditions.annotate(
        n_assigned=count(),
        n_active=count(Q(participants__status=_S.ACTIVE) & in_time),
        n_completed=count(Q(participants__status=_S.COMPLETED)),
        n_abandoned=count(
            Q(participants__status__in=[_S.RETURNED, _S.TIMED_OUT, _S.EXPIRED])
            | (Q(participants__status=_S.ACTIVE) & ~in_time)
        ),
        n_screened_out=count(Q(participants__status=_S.SCREENED_OUT)),
        n_no_consent=count(Q(participants__status=_S.NO_CONSENT)),
    )
    return {
        c.code: {
            "assigned": c.n_assigned,
            "active": c.n_active,
            "completed": c.n_completed,
            "abandoned": c.n_abandoned,
            "screened_out": c.n_screened_out,
            "no_consent": c.n_no_consent,
        }
        for c in rows
    }


def study_progress(study: Study, now: datetime) -> StudyProgress:
    labels = dict(study.conditions.values_list("code", "label"))
    return StudyProgress(
        [
            ConditionProgress(
                code=code, label=labels[code], target=study.target_per_condition,
                active=n["active"], completed=n["completed"], abandoned=n["abandoned"],
                screened_out=n["screened_out"], no_consent=n["no_consent"],
            )
            for code, n in status_counts(study, now).items()
        ]
    )


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
    from .services import page_keys  # services reads these models too

    rows = Participant.objects.real().filter(
        study=study, status=_S.ACTIVE, started_at__gte=study.abandon_cutoff(now)
    ).only("pages_done", "stimulus_sequence", "practice_stimulus_id")
    counts: Counter = Counter()
    for participant in rows:
        keys = page_keys(participant)
        counts[keys[min(participant.pages_done, len(keys) - 1)]] += 1
    order = ["consent", "instructions", "practice"]
    return sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 3,
                                                   len(kv[0]), kv[0]))


def exposure(study: Study) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """How often each problem has been shown on a trial page, per condition: (condition codes, [(stimulus
    code, counts per condition)]); previews and the practice problem are not counted."""
    codes = list(study.conditions.order_by("code").values_list("code", flat=True))
    shown = Counter(
        PageVisit.objects.filter(
            participant__study=study, participant__is_preview=False, page__startswith="trial-",
            first_shown_at__isnull=False,
        ).values_list("stimulus__code", "participant__condition__code")
    )
    stimuli = study.stimuli.filter(is_practice=False).order_by("code").values_list("code", flat=True)
    return codes, [(code, [shown[(code, condition)] for condition in codes]) for code in stimuli]
