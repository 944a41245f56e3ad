"""Choosing one reference trace of a kind per problem, for what is made from them (a summary, an
explanation, a fine-tune, a study's stimuli): a problem can have traces of a kind from several
sources (the authors' files, jobs here with different models), and which one is used is never a
guess."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .models import Problem, ReferenceTrace


class AmbiguousTraces(ValueError):
    """Several sources have traces of the kind for the same problems and none was chosen."""


def sources(kind: str, problems: Iterable[Problem] | None = None) -> dict[str, int]:
    """Source label -> how many of the problems (all, when None) it has a trace of ``kind`` for."""
    traces = ReferenceTrace.objects.filter(kind=kind).exclude(text="")
    if problems is not None:
        traces = traces.filter(problem__in=[p.pk for p in problems])
    counts: dict[str, int] = defaultdict(int)
    for source in traces.values_list("source", flat=True):
        counts[source] += 1
    return dict(sorted(counts.items()))


def choose(problems: Iterable[Problem], kind: str, source: str = "") -> dict[int, ReferenceTrace]:
    """Problem id -> its non-empty trace of ``kind`` from ``source`` (a label as ``sources`` lists
    them: "job #12", an imported file's name). Without a source, the problems' traces must all
    come from one source; otherwise AmbiguousTraces names the sources to choose from. Problems
    without such a trace are left out."""
    problems = list(problems)
    traces = ReferenceTrace.objects.filter(problem__in=[p.pk for p in problems], kind=kind).exclude(text="")
    if source:
        traces = traces.filter(source=source)
    else:
        found = sources(kind, problems)
        if len(found) > 1:
            listed = "; ".join(f"{name!r} ({n} problems)" for name, n in found.items())
            raise AmbiguousTraces(
                f"The chosen problems have {kind} traces from several sources: {listed}. Choose one "
                "(parameter traces_from)."
            )
    chosen: dict[int, ReferenceTrace] = {}
    for trace in traces.select_related("problem").order_by("pk"):
        chosen.setdefault(trace.problem_id, trace)
    return chosen
