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
from .report.scores import WITHIN_GROUP
from .report.words import words_analysed


@dataclass(frozen=True)
class AnalysedSample:
    finished: dict[str, int]  # condition code ("" within: the study) -> finished (completed or screened out)
    analysed: dict[str, int]  # condition code ("" within: the study) -> analysed under the plan's exclusions
    words: str  # the totals and the rules that excluded the others, in a sentence


def analysed_sample(study: Study) -> AnalysedSample:
    """Who the study's analysis plan (the platform's defaults where it has none) analyses now: per
    condition between participants; within participants, where everyone reads every condition, for
    the study, under the code of the monitor's one row for it ("")."""
    items = study_items(study)
    plan = plan_data(study, items)
    within = study.design == Study.Design.WITHIN
    groups = [WITHIN_GROUP] if within else [code for code, _ in study_conditions(study)]
    exclusions, _ = exclude(finished_participants(study, items), items, groups, plan.options)
    finished, analysed = exclusions["finished"], exclusions["analysed"]
    if within:
        finished, analysed = {"": finished[WITHIN_GROUP]}, {"": analysed[WITHIN_GROUP]}
    return AnalysedSample(finished=finished, analysed=analysed, words=words_analysed(exclusions, plan.name))
