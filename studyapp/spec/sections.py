"""Optional parts of the study file: the study app's ``covariate_scales`` (``studyapp.scales``, registered
by this package's ``__init__``) and those other apps own (the analysis app's ``analysis_plan``),
registered from their ``AppConfig.ready()``, so that the study app never imports them: each says how to
write its part for a study, check it, and create it for an imported study. The schema
(``study.schema.json``) still describes every part, so the format is documented in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import Study

#: A place inside a part of the file (keys and list indices) and what is wrong there.
Problem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True)
class Section:
    key: str  # its key at the top of the file
    export: Callable[[Study], Any]  # the part for this study; None: the study has none (key left out)
    # what is wrong with a part that the schema accepted, given the whole file (its items, conditions)
    check: Callable[[Any, dict], list[Problem]]
    create: Callable[[Study, Any], list[str]]  # make it for a new study; returns warnings


_sections: dict[str, Section] = {}


def register(section: Section) -> None:
    """Add a part to the format (again under the same key: replaced, so a reloaded app is harmless)."""
    _sections[section.key] = section


def registered() -> list[Section]:
    return list(_sections.values())
