"""What the study monitor shows of the analysis: how many of the finished participants the analysis
plan analyses after its exclusions, per condition, and which rules excluded the others.

The report's own data and exclusion step (data.finished_participants, report.exclude), and nothing
more: no statistics, no trace rendering, a fixed handful of queries, as the monitor reloads itself
every 30 seconds. studyapp's monitor template reads it through the ``analysis_monitor`` tags, so
studyapp's code does not import analysis."""

from dataclasses import dataclass

from studyapp.models import Study

from .data import finished_participants, plan_data, study_conditions, study_items
from .report import exclude
from .report.words import words_analysed


@dataclass(frozen=True)
class AnalysedSample:
    finished: dict[str, int]  # condition code -> finished (completed or screened out)
    analysed: dict[str, int]  # condition code -> analysed under the plan's exclusions
    words: str  # the totals and the rules that excluded the others, in a sentence


def analysed_sample(study: Study) -> AnalysedSample:
    """Who the study's analysis plan (the platform's defaults where it has none) analyses now."""
    plan = plan_data(study)
    items = study_items(study)
    codes = [code for code, _ in study_conditions(study)]
    exclusions, _ = exclude(finished_participants(study, items), items, codes, plan.options)
    return AnalysedSample(
        finished=exclusions["finished"], analysed=exclusions["analysed"],
        words=words_analysed(exclusions, plan.name),
    )
