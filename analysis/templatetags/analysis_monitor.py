"""The analysis on the study monitor (a studyapp page): its template asks for the analysed sample here,
so that studyapp's code does not import analysis."""

from django import template

from analysis.monitor import AnalysedSample, analysed_sample

register = template.Library()


@register.simple_tag
def analysed(study) -> AnalysedSample:
    """``{% analysed study as sample %}``: who the study's analysis plan analyses now."""
    return analysed_sample(study)
