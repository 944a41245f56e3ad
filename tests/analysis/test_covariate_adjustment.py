"""The covariate scales in the data: scored in the wide export (as the scales publish their scoring) and
used by the report to adjust each primary outcome's ordinal mixed model, as a sensitivity analysis."""

import pytest
from django.test import Client

from studyapp import exports
from studyapp.models import Response
from studyapp.scales.studies import add_scale
from tests.analysis.test_report import complete, move, staff, url
from tests.conftest import make_study

pytestmark = pytest.mark.django_db
__all__ = ["staff"]  # the fixture, imported to be used here

#: NCS-6 answers of each participant (items 3 and 4 reverse-keyed: scored 6 - answer).
NCS_ANSWERS = [[5, 4, 2, 1, 5, 4], [1, 2, 5, 4, 2, 1], [3, 3, 3, 3, 3, 3], [4, 4, 2, 2, 4, 5],
               [2, 1, 4, 5, 1, 2], [5, 5, 1, 1, 5, 5], [2, 3, 4, 3, 2, 2], [4, 3, 2, 3, 4, 4]]


@pytest.fixture
def study():
    """Eight finished participants in two conditions, each with their NCS-6 answers; the last one left
    an NCS item unanswered (its answer deleted, as if the item had been added after they answered)."""
    study = make_study("covariates", trials=2)
    add_scale(study, "ncs6")
    for offset, answers in enumerate(NCS_ANSWERS):
        person = complete(Client(), study, offset)
        move(person, "decomposition" if offset % 2 else "r1")
        for n, value in enumerate(answers, start=1):
            answer = Response.objects.filter(participant=person, item__code=f"need_for_cognition_{n}")
            answer.update(value=value)
    Response.objects.filter(participant=person, item__code="need_for_cognition_6").delete()
    return study


def test_the_wide_export_scores_each_participant_as_the_scale_publishes(study):
    wide = exports.wide_table(study, exports.ParticipantFilter())
    rows = [dict(zip(wide.header, row, strict=True)) for row in wide.rows()]
    scores = [row["score_ncs6"] for row in sorted(rows, key=lambda r: r["participant_id"])]
    # the mean after reverse-keying items 3 and 4 (Lins de Holanda Coelho et al. 2020), by hand:
    assert scores[:3] == [pytest.approx(27 / 6), pytest.approx(9 / 6), 3.0]
    assert scores[7] is None  # an item left unanswered: no score
    description = dict(exports.wide_layout(study, exports.ParticipantFilter()).columns)["score_ncs6"]
    assert "NCS-6" in description and "reverse-keyed" in description


def test_the_report_adjusts_the_primary_outcomes_for_the_scales_as_a_sensitivity_analysis(staff, study):
    report = staff.get(url(study, format="json")).json()
    adjusted = report["sensitivity"]["covariates"]
    assert adjusted["covariates"] == ["ncs6"] and adjusted["participants"] == 7  # the last lacks a score
    keys = [m["key"] for m in adjusted["outcomes"]]
    assert keys == report["plan"]["primary_outcomes"]
    for model in adjusted["outcomes"]:
        assert model["fitted"], model["reason"]
        terms = [t["term"] for t in model["terms"]]
        assert terms == ["decomposition vs r1", "ncs6 (per SD)"] or terms == ["r1 vs decomposition",
                                                                                "ncs6 (per SD)"]
        assert model["participants"] == 7 and 0 <= model["p"] <= 1
    html = staff.get(url(study)).content.decode()
    assert "The primary outcomes adjusted for the covariate scales" in html


def test_a_study_without_scales_has_no_adjusted_models(staff):
    study = make_study("no-scales", trials=2)
    for offset in range(4):
        move(complete(Client(), study, offset), "decomposition" if offset % 2 else "r1")
    assert staff.get(url(study, format="json")).json()["sensitivity"]["covariates"] is None
