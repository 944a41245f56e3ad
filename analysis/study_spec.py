"""The analysis plan's part of the study file (``analysis_plan``, registered with the study app's
``studyapp.spec.sections`` in ``AnalysisConfig.ready``): the plan as set, and when it was registered
where the file was written. An imported plan is a draft: a registration is a time stamp on this
platform, before this study's data come in, so the researcher registers it again here."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from studyapp.exports import iso
from studyapp.models import Study
from studyapp.spec.sections import Problem, Section

from .models import AnalysisPlan

#: What a plan is made of: every field the researcher sets (not the study, not the time stamp).
PLAN_FIELDS = tuple(
    field.name for field in AnalysisPlan._meta.concrete_fields
    if field.editable and field.name not in {"id", "study"}
)
KEY = "analysis_plan"


def export(study: Study) -> dict | None:
    plan = AnalysisPlan.objects.filter(study=study).first()
    if plan is None:
        return None
    return {**{name: getattr(plan, name) for name in PLAN_FIELDS}, "registered_at": iso(plan.registered_at)}


def _plan(part: dict) -> AnalysisPlan:
    return AnalysisPlan(**{name: part[name] for name in PLAN_FIELDS if name in part})


def check(part: dict) -> list[Problem]:
    """The plan's own rules (AnalysisPlan.clean: outcomes, a pairwise procedure that suits the test, ...)."""
    try:
        _plan(part).full_clean(exclude=["study"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return [(() if field == "__all__" else (field,), " ".join(messages))
                for field, messages in error.message_dict.items()]
    return []


def create(study: Study, part: dict) -> list[str]:
    plan = _plan(part)
    plan.study = study
    plan.save()
    if part.get("registered_at"):
        return [f"The analysis plan was registered on {part['registered_at']} where the file was written; "
                "here it is a draft: register it before the study opens."]
    return []


SECTION = Section(KEY, export, check, create)
