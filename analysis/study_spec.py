"""The analysis plan's part of the study file (``analysis_plan``, registered with the study app's
``studyapp.spec.sections`` in ``AnalysisConfig.ready``): the plan as set, and when it was registered
where the file was written. An imported plan is a draft: a registration is a time stamp on this
platform, before this study's data come in, so the researcher registers it again here."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from studyapp.exports import iso
from studyapp.models import Construct, Item, Study
from studyapp.spec.sections import Problem, Section

from .models import AnalysisPlan, outcome_problem
from .registration import PLAN_FIELDS, in_force

KEY = "analysis_plan"


def export(study: Study) -> dict | None:
    plan = in_force(study)
    if plan is None:
        return None
    part = {**{name: getattr(plan, name) for name in PLAN_FIELDS}, "registered_at": iso(plan.registered_at)}
    if plan.registered_at is not None:  # for the reader; an import makes a draft whatever it says
        part["registration"] = {
            "preregistered": plan.preregistered,
            "registered_after_participants": plan.registered_after_participants,
            "registered_after_answers": plan.registered_after_answers,
            "first_participant_at": iso(plan.first_participant_at), "sha256": plan.registered_sha256,
            "version": plan.version, "deviation": plan.deviation,
        }
    return part


def _plan(part: dict) -> AnalysisPlan:
    return AnalysisPlan(**{name: part[name] for name in PLAN_FIELDS if name in part})


def check(part: dict, document: dict) -> list[Problem]:
    """The plan's own rules (AnalysisPlan.clean: a pairwise procedure that suits the test, ...), its
    primary outcomes among the constructs of the file's per-trial items."""
    problems = []
    try:
        _plan(part).full_clean(exclude=["study"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        problems = [(() if field == "__all__" else (field,), " ".join(messages))
                    for field, messages in error.message_dict.items()]
    constructs = list(dict.fromkeys(
        item["construct"] for item in document.get("items", [])
        if item.get("scope") == Item.Scope.TRIAL and item.get("construct") != Construct.ATTENTION_CHECK
    ))
    problem = outcome_problem(part.get("primary_outcomes", []), constructs)
    if problem and not any(path == ("primary_outcomes",) for path, _ in problems):
        problems.append((("primary_outcomes",), problem))
    return problems


def create(study: Study, part: dict) -> list[str]:
    plan = _plan(part)
    plan.study = study
    plan.save()
    if part.get("registered_at"):
        return [f"The analysis plan was registered on {part['registered_at']} where the file was written; "
                "here it is a draft: register it before the study opens."]
    return []


SECTION = Section(KEY, export, check, create)
