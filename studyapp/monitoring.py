"""How full a study is: per condition, who holds a slot, who finished, who dropped out."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from .models import ConditionCode, Participant, Study

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
    (returned, timed out, or active past the time limit), screened out and no consent.
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
            Q(participants__status__in=[_S.RETURNED, _S.TIMED_OUT])
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
    labels = dict(ConditionCode.choices)
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
