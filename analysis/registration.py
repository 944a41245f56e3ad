"""Registering an analysis plan: the time stamp, what data had come in by then, and the plan as a
document for a registry (OSF, AsPredicted) with the SHA-256 the report shows.

A plan registered after real participants arrived is not a pre-registration: the plan page, the report
and its JSON say after how many participants and answers it was registered, and when the first arrived.
Previews, pilot bots and test runs are not data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Min
from django.utils import timezone

from studyapp.models import Participant, Response, Study, TrialJudgement

from .models import AnalysisPlan
from .report.plan import PAIRWISE_NAMES, TASK_TEST, TEST_NAMES


@dataclass(frozen=True)
class DataSoFar:
    participants: int  # real participants who have arrived
    answers: int  # their stored ratings and judgements
    first_arrival: datetime | None


#: What a plan is made of: every field the researcher sets (not the study, the time stamp, or the reason
#: for a later version). What ``revise`` copies, ``changes`` compares and the study file carries.
PLAN_FIELDS = tuple(
    field.name for field in AnalysisPlan._meta.concrete_fields
    if field.editable and field.name not in {"id", "study", "deviation"}
)


def in_force(study: Study) -> AnalysisPlan | None:
    """The plan the report runs: the newest registered version, else the newest draft (None: no plan)."""
    plans = AnalysisPlan.objects.filter(study=study)
    return plans.filter(registered_at__isnull=False).order_by("-version").first() or plans.order_by(
        "-version").first()


def revise(plan: AnalysisPlan) -> AnalysisPlan:
    """A new draft version of the study's newest plan, which must be registered: the only way to change a
    registered plan. It copies the plan; the researcher changes it, says why (``deviation``) and registers
    it, and the report shows it as a deviation from the registered one."""
    newest = AnalysisPlan.objects.filter(study=plan.study).order_by("-version").first()
    if newest.registered_at is None:
        raise ValidationError(f"Version {newest.version} of this plan is a draft: change it as it is.")
    copy = AnalysisPlan(study=newest.study, version=newest.version + 1,
                        **{name: getattr(newest, name) for name in PLAN_FIELDS})
    copy.save()
    return copy


def changes(before: AnalysisPlan, after: AnalysisPlan) -> list[str]:
    """What a later version changed, field by field ("alpha: 0.05 -> 0.01")."""
    return [f"{name}: {getattr(before, name)!r} -> {getattr(after, name)!r}" for name in PLAN_FIELDS
            if getattr(before, name) != getattr(after, name)]


def deviations(study: Study, plan: AnalysisPlan) -> list[dict]:
    """Each earlier registered version the plan in force departs from: its version, time, hash, what
    changed and why (the reasons of the versions after it)."""
    earlier = list(AnalysisPlan.objects.filter(study=study, version__lt=plan.version,
                                               registered_at__isnull=False).order_by("version"))
    reasons = list(AnalysisPlan.objects.filter(study=study, version__gt=earlier[0].version,
                                               version__lte=plan.version).order_by("version")
                   .values_list("version", "deviation")) if earlier else []
    return [{"version": old.version, "registered_at": old.registered_at.isoformat(),
             "sha256": old.registered_sha256, "changes": changes(old, plan),
             "reasons": [f"version {v}: {why}" for v, why in reasons if v > old.version]} for old in earlier]


def data_so_far(study: Study) -> DataSoFar:
    real = Participant.objects.real().filter(study=study)
    first = real.aggregate(first=Min("started_at"))["first"]
    answers = (Response.objects.filter(participant__in=real).count()
               + TrialJudgement.objects.filter(participant__in=real).count())
    return DataSoFar(real.count(), answers, first)


def register(plan: AnalysisPlan) -> None:
    """Time-stamp the plan as it is now, with what data had come in and the hash of its document; from
    here on it cannot change."""
    plan.full_clean()
    if plan.registered_at is not None:
        raise ValidationError("Already registered.")
    plan.save()  # the last save before the stamp
    seen = data_so_far(plan.study)
    plan.registered_at = timezone.now()
    plan.registered_after_participants, plan.registered_after_answers = seen.participants, seen.answers
    plan.first_participant_at = seen.first_arrival
    plan.registered_sha256 = hashlib.sha256(plan_document(plan).encode()).hexdigest()
    AnalysisPlan.objects.filter(pk=plan.pk).update(
        registered_at=plan.registered_at, registered_after_participants=seen.participants,
        registered_after_answers=seen.answers, first_participant_at=seen.first_arrival,
        registered_sha256=plan.registered_sha256,
    )


def timing(plan: AnalysisPlan) -> str:
    """When the plan was registered, in words, with what data had come in by then."""
    if plan.registered_at is None:
        return "Not registered."
    when = f"Registered {plan.registered_at:%Y-%m-%d %H:%M} UTC"
    if not plan.registered_after_participants:
        return f"{when}, before any participant arrived (pre-registered)."
    first = f"{plan.first_participant_at:%Y-%m-%d %H:%M} UTC" if plan.first_participant_at else "unknown"
    return (f"{when}, after {plan.registered_after_participants} participants had arrived (the first at "
            f"{first}) and {plan.registered_after_answers} answers had been stored: not a pre-registration.")


def plan_document(plan: AnalysisPlan) -> str:
    """The plan as a registry document (Markdown, in AsPredicted's order of questions), from the plan
    and its study as they are; the hash of the registered one is stored with it."""
    study = plan.study
    conditions = list(study.conditions.order_by("position", "code"))
    items = list(study.items.order_by("position", "code"))
    design = "between participants" if study.design == Study.Design.BETWEEN else "within participants"
    exclusions = [
        *(["participants who fail the attention checks"] if plan.exclude_failed_attention else []),
        *([f"speeders (median trial page under {plan.speeder_seconds:g} s)"]
          if plan.exclude_speeders else []),
        *([f"straight-liners ({plan.straightline_scope})"] if plan.exclude_straightliners else []),
        *([f"participants away from the pages for {plan.left_page_seconds:g} s or more"]
          if plan.exclude_left_page else []),
        *(["participants who pasted on the pages"] if plan.exclude_pasted else []),
        *(["participants who copied from a problem or a reasoning text"] if plan.exclude_copied else []),
        *(["participants whose browser showed a sign of automation"] if plan.exclude_automated else []),
    ]
    registered = plan.registered_at.isoformat() if plan.registered_at else "not registered yet"
    lines = [
        f"# Analysis plan: {study.title} ({study.slug})"
        + (f", version {plan.version}" if plan.version > 1 else ""),
        "",
        f"Registered: {registered}. {timing(plan)}",
        "",
        *([f"A deviation from the registered version {plan.version - 1}: {plan.deviation.strip()}", ""]
          if plan.version > 1 else []),
        "## 1. Data collected already?",
        "",
        ("No: the plan was registered before any participant arrived."
         if not plan.registered_after_participants else timing(plan)),
        "",
        "## 2. Hypotheses",
        "",
        plan.notes.strip() or "(none written)",
        "",
        "## 3. Dependent variables",
        "",
        f"Primary outcomes (Holm across them): {', '.join(plan.primary_outcomes)}. Items:",
        "",
        *(f"- `{item.code}` ({item.construct}, {item.get_scope_display().lower()}, {item.scale_points} points"
          f"{', reverse-keyed' if item.reverse_keyed else ''}): {item.text}" for item in items),
        "",
        "## 4. Conditions",
        "",
        f"{len(conditions)} conditions, {design}; trial task: {study.trial_task}"
        + (f" ({TASK_TEST})" if study.trial_task != "rating" else "") + ":",
        "",
        *(f"- `{c.code}`: {c.label} ({c.get_trace_kind_display().lower()})" for c in conditions),
        "",
        "## 5. Analyses",
        "",
        f"Test: {TEST_NAMES[plan.primary_test]}; pairwise: {PAIRWISE_NAMES[plan.pairwise]}; "
        f"alpha = {plan.alpha:g}; equivalence margin ±{plan.equivalence_margin:g} scale points (two "
        "one-sided tests).",
        "",
        "## 6. Exclusions",
        "",
        ("Excluded: " + "; ".join(exclusions) + ".") if exclusions else "No exclusions.",
        "",
        "## 7. Sample size",
        "",
        f"{study.target_per_condition} participants "
        + ("per condition" if study.design == Study.Design.BETWEEN else "completing the study")
        + f", {study.trials_per_participant} trials each.",
        "",
    ]
    return "\n".join(lines)
