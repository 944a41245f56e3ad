"""The analysis plan: registered before data come in, run first by the report, every other choice
reported as a sensitivity analysis; and scores exact enough that equal scores tie."""

import hashlib
import json

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from statsmodels.stats.multitest import multipletests

from analysis.data import ItemInfo, ParticipantData
from analysis.models import AnalysisPlan
from analysis.registration import register
from analysis.report.scores import outcomes
from studyapp import spec
from studyapp.exports import iso
from studyapp.models import Participant, Response
from tests.analysis.test_report import complete, move, url
from tests.conftest import make_study, new_pid

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("researcher", "r@example.org", "pw"))
    return client


@pytest.fixture
def study():
    """Three participants in each condition, and one more in decomposition who fails the checks."""
    study = make_study("planned", trials=2)
    codes = ["decomposition", "r1", "r1_summary", "posthoc"] * 3
    for offset, code in enumerate(codes):
        move(complete(Client(), study, offset), code)
    move(complete(Client(), study, 20, attention="fail"), "decomposition")
    return study


def test_a_registered_plan_cannot_change(study):
    plan = AnalysisPlan.objects.create(study=study)
    plan.notes = "H1: decomposition traces are rated more predictable."
    plan.save()  # a draft can change
    register(plan)
    assert plan.registered_at is not None
    plan.alpha = 0.01
    with pytest.raises(ValidationError, match=r"was registered on .* and cannot change"):
        plan.save()
    with pytest.raises(ValidationError, match="Already registered"):
        register(plan)
    assert AnalysisPlan.objects.get(pk=plan.pk).alpha == 0.05


def test_the_plan_refuses_a_pairwise_procedure_that_does_not_go_with_its_test(study):
    plan = AnalysisPlan(study=study, primary_test="kruskal", pairwise="games_howell", primary_outcomes=["x"])
    with pytest.raises(ValidationError) as refused:
        plan.full_clean()
    assert set(refused.value.message_dict) == {"pairwise", "primary_outcomes"}


def test_the_admin_registers_a_plan_and_then_shows_it_read_only(staff, study):
    plan = AnalysisPlan.objects.create(study=study)
    changelist = reverse("admin:analysis_analysisplan_changelist")
    staff.post(changelist, {"action": "register_plans", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.registered_at is not None
    page = staff.get(reverse("admin:analysis_analysisplan_change", args=[plan.pk])).content.decode()
    assert 'name="alpha"' not in page  # no inputs: read-only


def test_the_report_runs_the_plan_first_and_the_rest_as_sensitivity_analyses(staff, study):
    plan = AnalysisPlan.objects.create(study=study, primary_outcomes=["faithfulness", "predictability"],
                                       primary_test="kruskal", pairwise="dunn", equivalence_margin=0.75)
    register(plan)
    report = staff.get(url(study, format="json")).json()
    assert report["plan"]["registered_at"] and "Registered" in report["plan"]["words"]
    primary = report["primary"]["outcomes"]
    assert [o["key"] for o in primary] == ["faithfulness", "predictability"]
    assert all(o["model"] == "kruskal" and o["words"].startswith("H(3) = ") for o in primary)
    # Holm across the two primary outcomes; the composite is a family of its own
    ps = sorted(o["p"] for o in primary)
    holm = [min(1, 2 * ps[0]), min(1, max(2 * ps[0], ps[1]))]
    assert sorted(o["p_holm_family"] for o in primary) == pytest.approx(holm)
    (composite,) = report["secondary"]["outcomes"]
    assert composite["key"] == "interpretability"
    assert composite["p_holm_family"] == pytest.approx(composite["p"])
    assert len(primary[0]["pairs"]) == 6 and primary[0]["pairs"][0]["words"].startswith("z = ")
    assert "TOST against \u00b10.75: p(Holm) = " in primary[0]["pairs"][0]["equivalence"]
    # the pairs are protected across the family: Holm over all 12 pairs of the two outcomes, for the
    # comparisons and, separately, the equivalence tests; the table says so
    pairs = [pair for o in primary for pair in o["pairs"]]
    for kind in ("p", "equivalence_p"):
        holm = multipletests([pair[f"{kind}_unadjusted"] for pair in pairs], method="holm")[1]
        assert [pair[kind] for pair in pairs] == pytest.approx(list(holm))
    assert all(pair["p"] >= pair["p_unadjusted"] for pair in pairs)
    assert report["primary"]["protection"].startswith("Holm across all 12 pairwise comparisons")
    other = {o["key"]: [t["name"] for t in o["tests"]] for o in report["sensitivity"]["other_tests"]}
    assert "Kruskal-Wallis" not in other["faithfulness"]
    assert "Cumulative link mixed model" in other["faithfulness"]
    assert report["sensitivity"]["deviation"] is None and report["exclusions"]["analysed_total"] == 12


def test_exclusions_other_than_the_plans_are_a_deviation_and_leave_the_primary_analysis_alone(staff, study):
    report = staff.get(url(study, format="json", attention=0)).json()
    assert report["exclusions"]["analysed_total"] == 13  # the page's choice: the failed checks kept
    assert report["primary"]["exclusions"]["analysed_total"] == 12  # the plan's
    deviation = report["sensitivity"]["deviation"]
    assert deviation["options"]["attention"] is False
    assert [o["key"] for o in deviation["primary"]["outcomes"]] == [
        "predictability", "understandability", "faithfulness", "cognitive_load"
    ]
    html = staff.get(url(study, attention=0)).content.decode()
    assert "a deviation from the plan" in html and "These differ from the plan" in html


def test_the_default_plan_fits_the_mixed_model_and_reports_its_contrasts(staff, study):
    report = staff.get(url(study, format="json")).json()
    assert "Not registered: the platform's defaults." in report["plan"]["words"]
    faithfulness = next(o for o in report["primary"]["outcomes"] if o["key"] == "faithfulness")
    assert faithfulness["model"] == "ordinal_mixed"
    # the mixed model's test is its permutation test; the Wald test is beside it, marked asymptotic
    assert faithfulness["words"].startswith("Permutation test of the model's score (5,000 permutations of "
                                            "conditions over participants, n = 12), p = ")
    assert "Wald \u03c7\u00b2(3) = " in faithfulness["words"] and "(asymptotic)" in faithfulness["words"]
    construct = next(c for c in report["constructs"] if c["key"] == "faithfulness")
    assert faithfulness["p"] == construct["mixed"]["permutation"]["p"] != construct["mixed"]["p"]
    assert "permutation p(Holm) = " in faithfulness["pairs"][0]["words"]
    assert faithfulness["pairs"][0]["words"].startswith("OR = ")
    assert len(report["primary"]["outcomes"]) == 4 and "all 24 pairwise" in report["primary"]["protection"]
    assert faithfulness["po_check"].startswith("Proportional odds: ")
    assert construct["mixed"]["fitted"] and len(construct["mixed"]["sds"]) == 2
    assert construct["ordinal"]["wald_chi2"] is not None and construct["ordinal"]["clusters"] == 12
    stimuli = next(s for s in report["stimuli"] if s["key"] == "faithfulness")["rows"]
    assert stimuli and {c["condition"] for c in stimuli[0]["cells"]} == {
        "decomposition", "r1", "r1_summary", "posthoc"
    }
    answers = sum(c["n"] for row in stimuli for c in row["cells"])
    assert answers == 12 * 2 * 2  # twelve participants, two trials, two faithfulness items
    (end, *_) = report["end_items"]
    assert end["kruskal"]["words"] and end["effects"] and end["mixed"]["fitted"] is False
    assert json.dumps(report)  # JSON-ready


def _person(pk: int, condition: str, construct_answers: dict[str, list[int]]) -> ParticipantData:
    answers = {}
    for construct, values in construct_answers.items():
        for trial, value in enumerate(values):
            answers[(trial, f"{construct}_1")] = value
    return ParticipantData(pk, condition, "completed", True, answers)


def test_equal_composite_scores_are_equal_whatever_the_order_of_their_parts():
    """(1.0 + 1.2 + 1.1) / 3 and (1.2 + 1.1 + 1.0) / 3 differ in floating point (1.1 and
    1.0999999999999999); scores kept as fractions do not, so ranks and ties come out right."""
    items = [ItemInfo(f"{c}_1", c, "trial", "", []) for c in ("predictability", "understandability",
                                                               "faithfulness", "cognitive_load")]
    ten = {1.0: [1] * 10, 1.1: [2] + [1] * 9, 1.2: [2, 2] + [1] * 8}
    a = _person(1, "r1", {"predictability": ten[1.0], "understandability": ten[1.2],
                          "faithfulness": ten[1.1]})
    b = _person(2, "r1", {"predictability": ten[1.2], "understandability": ten[1.1],
                          "faithfulness": ten[1.0]})
    assert (1.0 + 1.2 + 1.1) / 3 != (1.2 + 1.1 + 1.0) / 3  # what floating point would have given
    scores = outcomes([a, b], items, ["r1"])["interpretability"].scores["r1"]
    assert scores[0] == scores[1] == 1.1


def test_a_plan_registered_after_participants_arrived_is_marked_so_everywhere(staff, study):
    """13 real participants had arrived (previews never count): the plan page, the report and its JSON say
    after how many participants and answers it was registered, and when the first arrived."""
    Participant.objects.create(study=study, prolific_pid=new_pid(), condition=study.conditions.first(),
                               is_preview=True, stimulus_sequence=[], item_order=[], end_item_order=[])
    plan = AnalysisPlan.objects.create(study=study)
    register(plan)
    real = Participant.objects.filter(study=study, is_preview=False)
    answers = Response.objects.filter(participant__in=real).count()
    first = min(p.started_at for p in real)
    assert (plan.registered_after_participants, plan.registered_after_answers) == (13, answers)
    assert plan.first_participant_at == first and answers > 0 and not plan.preregistered
    said = (f"after 13 participants had arrived (the first at {first:%Y-%m-%d %H:%M} UTC) and {answers} "
            "answers")
    report = staff.get(url(study, format="json")).json()["plan"]
    assert (report["preregistered"], report["registered_after_participants"]) == (False, 13)
    assert report["registered_after_answers"] == answers
    assert report["first_participant_at"] == first.isoformat()
    assert said in report["words"] and "not a pre-registration" in report["words"]
    page = staff.get(url(study)).content.decode()
    assert "Not a pre-registration:</strong> the plan was registered after 13 participants" in page
    assert "As registered after data came in" in page and "As planned:" not in page
    admin_page = staff.get(reverse("admin:analysis_analysisplan_change", args=[plan.pk])).content.decode()
    assert said in admin_page


def test_a_plan_registered_before_anyone_arrived_is_a_preregistration_with_its_document(staff):
    study = make_study("fresh", trials=2)
    plan = AnalysisPlan.objects.create(study=study, notes="H1: decomposition traces are more predictable.")
    register(plan)
    assert plan.preregistered and plan.registered_after_participants == 0
    document = staff.get(reverse("analysis:plan-document", args=[study.slug]))
    text = document.content.decode()
    assert document["Content-Type"] == "text/markdown; charset=utf-8"
    digest = hashlib.sha256(document.content).hexdigest()
    assert digest == plan.registered_sha256 == document["X-Plan-SHA256"]
    assert "before any participant arrived (pre-registered)" in text
    for heading in ("## 1. Data collected already?", "## 2. Hypotheses", "## 5. Analyses",
                    "## 7. Sample size"):
        assert heading in text
    assert "H1: decomposition traces are more predictable." in text and "`predictability_1`" in text
    report = staff.get(url(study, format="json")).json()["plan"]
    assert report["preregistered"] and report["sha256"] == plan.registered_sha256
    assert plan.registered_sha256 in staff.get(url(study)).content.decode()
    assert Client().get(reverse("analysis:plan-document", args=[study.slug])).status_code == 302  # staff only


def test_a_registered_plan_changes_only_as_a_new_version_shown_as_a_deviation(staff):
    study = make_study("revised", trials=2)
    first = AnalysisPlan.objects.create(study=study)
    register(first)
    changelist = reverse("admin:analysis_analysisplan_changelist")
    staff.post(changelist, {"action": "revise_plans", "_selected_action": [first.pk]})
    second = AnalysisPlan.objects.get(study=study, version=2)
    assert second.registered_at is None and second.alpha == first.alpha  # a draft copy
    page = staff.post(changelist, {"action": "revise_plans", "_selected_action": [second.pk]}, follow=True)
    assert "Version 2 of this plan is a draft: change it as it is." in page.content.decode()
    second.alpha = 0.01
    second.save()
    with pytest.raises(ValidationError, match="Say why the registered plan is changed"):
        register(second)
    second.deviation = "A reviewer asked for a stricter alpha."
    second.save()
    register(second)
    report = staff.get(url(study, format="json")).json()["plan"]
    assert (report["version"], report["alpha"]) == (2, 0.01)
    assert report["deviates_from"] == [{
        "version": 1, "registered_at": first.registered_at.isoformat(), "sha256": first.registered_sha256,
        "changes": ["alpha: 0.05 -> 0.01"], "reasons": ["version 2: A reviewer asked for a stricter alpha."],
    }]
    assert "Version 2 deviates from version 1" in report["words"]
    html = staff.get(url(study)).content.decode()
    assert "A deviation:</strong> this is version 2 of the plan" in html and "As revised (version 2" in html
    document = staff.get(reverse("analysis:plan-document", args=[study.slug]))
    assert "A deviation from the registered version 1: A reviewer asked" in document.content.decode()
    original = staff.get(reverse("analysis:plan-document", args=[study.slug]), {"version": "1"})
    assert hashlib.sha256(original.content).hexdigest() == first.registered_sha256
    first.alpha = 0.2
    with pytest.raises(ValidationError, match="cannot change"):
        first.save()


def test_the_api_gives_the_registration_with_the_study_file(study, client, django_user_model, settings):
    """A researcher reading the study over the API sees when its plan was registered and what had come in
    by then; the file imports as a draft whatever it says."""
    plan = AnalysisPlan.objects.create(study=study)
    register(plan)
    researcher = django_user_model.objects.create_user("res", password="pw-res-123")
    researcher.groups.add(Group.objects.get_or_create(name=settings.RESEARCHERS_GROUP)[0])
    client.force_login(researcher)
    part = client.get(reverse("api:spec", args=[study.slug])).json()["analysis_plan"]
    assert part["registered_at"] == iso(plan.registered_at)
    assert part["registration"]["first_participant_at"] == iso(plan.first_participant_at)
    assert part["registration"]["preregistered"] is False
    assert part["registration"]["registered_after_participants"] == 13
    assert part["registration"]["sha256"] == plan.registered_sha256 and part["registration"]["version"] == 1
    copy = spec.import_study(json.dumps({**client.get(reverse("api:spec", args=[study.slug])).json(),
                                         "slug": "copied"})).study
    assert AnalysisPlan.objects.get(study=copy).registered_at is None
