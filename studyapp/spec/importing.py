"""Creating a study from a study file: all of it in one transaction, as a draft, or nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError

from .. import versions
from ..models import Study
from ..study_setup import answer_warnings, readiness_problems
from . import sections
from .checking import CheckedSpec, InvalidSpec, SpecError, read


@dataclass(frozen=True)
class Imported:
    study: Study
    warnings: list[str]  # what the researcher should see to before the study goes live


def import_study(source: bytes | str, *, slug: str | None = None,
                 user: AbstractBaseUser | None = None) -> Imported:
    """Check the file and create its study (under ``slug`` if given) as a draft; InvalidSpec, and no
    change, if anything is wrong. Each text gets its first version, made by ``user``."""
    spec = read(source, slug=slug)
    try:
        return _create(spec, user)
    except IntegrityError:
        slug = spec.rows.study.slug
        if not Study.objects.filter(slug=slug).exists():
            raise
        taken = f"A study '{slug}' was made while this one was being imported; nothing was changed."
        raise InvalidSpec([SpecError("slug", None, taken)]) from None


def _create(spec: CheckedSpec, user: AbstractBaseUser | None) -> Imported:
    rows, warnings = spec.rows, []
    with versions.editing(user):  # one transaction; every text's version 1, by this user
        rows.study.save()
        for row in (*rows.conditions, *rows.items):
            row.save()
        for entry in rows.stimuli:
            entry.stimulus.save()
            for _, trace in entry.texts:
                trace.save()
        for section in sections.registered():
            part = spec.document.get(section.key)
            if part is not None:
                warnings += section.create(rows.study, part)
        not_ready = readiness_problems(rows.study)
        if not_ready and spec.has_stimuli:  # what the checks before did not catch: nothing is kept
            raise InvalidSpec([SpecError("", None, f"The study could not run: {p}") for p in not_ready])
    if not_ready:
        warnings.append("The file has no stimuli yet: build them in the admin from traces or from a "
                        "model's graded outputs (or manage.py stimuli_from_outputs); until then "
                        + " ".join(not_ready))
    return Imported(rows.study, warnings + answer_warnings(rows.study))
