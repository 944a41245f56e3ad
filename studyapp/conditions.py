"""Conditions as templates: the paper's four, which a new study starts from, and which kind of the traces
app's reference traces each kind of condition text is built from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .models import DEFAULT_TRACE_HEADING, TraceKind

#: The kind of reference trace (traces.models.ReferenceTrace.Kind) a condition's texts are taken from;
#: decomposition texts are built by the paper's rule, imported ones come as they are.
REFERENCE_KIND = {
    TraceKind.REASONING: "r1", TraceKind.SUMMARY: "r1_summary", TraceKind.EXPLANATION: "posthoc",
}


class ConditionLike(Protocol):
    code: str
    label: str
    trace_kind: str


@dataclass(frozen=True)
class ConditionTemplate:
    code: str
    label: str
    trace_kind: str
    trace_heading: str = DEFAULT_TRACE_HEADING


#: The paper's four between-subjects conditions.
PAPER_CONDITIONS = (
    ConditionTemplate("decomposition", "Rule-based decomposition trace", TraceKind.DECOMPOSITION),
    ConditionTemplate("r1", "DeepSeek-R1 trace", TraceKind.REASONING),
    ConditionTemplate("r1_summary", "Summary of the R1 trace", TraceKind.SUMMARY),
    ConditionTemplate("posthoc", "Post-hoc explanation", TraceKind.EXPLANATION),
)
