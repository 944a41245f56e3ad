"""The analysis report page, its JSON and the analyze command, on studies built by tests/conftest.py."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from studyapp.models import Condition, PageVisit, Participant, Response
from tests.conftest import PAPER_CODES, Walker, make_study
from traces.models import Evaluation, ModelOutput, Problem

pytestmark = pytest.mark.django_db


def complete(client, study, offset: int, attention: str = "pass") -> Participant:
    """A participant who varies their answers (no straight-lining) and takes 30 s per trial."""
    walker = Walker(client, study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    for n in range(1, study.trials_per_participant + 1):
        page = f"trial-{n}"
        data = walker.answers_for(page, 3, attention)
        for i, name in enumerate(sorted(k for k in data if k.startswith("item-") and "attention" not in k)):
            data[name] = 1 + (i + offset + n) % 5
        walker.post(page, data)
    data = walker.answers_for("questionnaire", 3)
    data["comment"] = ""
    walker.post("questionnaire", data)
    participant = walker.participant
    PageVisit.objects.filter(participant=participant).update(
        first_shown_at=F("submitted_at") - timedelta(seconds=30)
    )
    return participant


def move(participant: Participant, code: str) -> None:
    Participant.objects.filter(pk=participant.pk).update(
        condition=Condition.objects.get(study=participant.study, code=code),
        trial_conditions=[code] * len(participant.trial_conditions),
    )


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("researcher", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def uneven_study():
    """decomposition: 3 participants (plus one failing the attention check), r1: 2, r1_summary: 1,
    posthoc: none."""
    study = make_study("uneven", trials=2)
    people = [complete(Client(), study, offset) for offset in range(6)]
    failed = complete(Client(), study, 7, attention="fail")
    plan = ["decomposition", "decomposition", "decomposition", "r1", "r1", "r1_summary"]
    for person, code in zip(people, plan, strict=True):
        move(person, code)
    move(failed, "decomposition")
    return study


def decline(study) -> Participant:
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "no"})
    return walker.participant


@pytest.fixture
def early_study():
    """Early in a study (the issue's tables): 1 screened out in decomposition, 1 in posthoc, 2 no
    consent in r1, and three completed (two in decomposition, one in r1_summary)."""
    study = make_study("early", trials=2)
    for offset, code in enumerate(["decomposition", "decomposition", "r1_summary"]):
        move(complete(Client(), study, offset), code)
    for offset, code in enumerate(["decomposition", "posthoc"]):
        move(complete(Client(), study, offset, attention="fail"), code)
    for _ in range(2):
        move(decline(study), "r1")
    return study


def url(study, **query):
    base = reverse("analysis:report", args=[study.slug])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_anonymous_and_participants_are_refused(client, uneven_study):
    response = client.get(url(uneven_study, format="json"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    study = make_study("other", trials=2)
    walker = Walker(client, study)
    walker.complete()
    response = client.get(url(uneven_study))
    assert response.status_code == 302 and "Analysis" not in response.content.decode()


def test_non_staff_users_are_refused(client, django_user_model, uneven_study):
    client.force_login(django_user_model.objects.create_user("someone", password="pw"))
    assert client.get(url(uneven_study)).status_code == 302


def test_json_report_words_not_nan(staff, uneven_study):
    response = staff.get(url(uneven_study, format="json"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    text = response.content.decode()
    assert "NaN" not in text and "Infinity" not in text
    report = json.loads(text)
    ex = report["exclusions"]
    assert ex["finished"] == {"decomposition": 4, "r1": 2, "r1_summary": 1, "posthoc": 0}
    assert ex["analysed"] == {"decomposition": 3, "r1": 2, "r1_summary": 1, "posthoc": 0}
    attention = next(c for c in ex["criteria"] if c["key"] == "attention")
    assert attention["flagged"]["decomposition"] == 1 and attention["enabled"]
    assert all(c["flagged_total"] == 0 for c in ex["criteria"] if c["key"] != "attention")

    construct = next(c for c in report["constructs"] if c["key"] == "faithfulness")
    by = {d["condition"]: d for d in construct["descriptives"]}
    assert by["decomposition"]["n"] == 3 and by["decomposition"]["sd"] is not None
    single = by["r1_summary"]
    assert single["n"] == 1 and single["sd"] is None and "one participant" in single["reason"]
    assert by["posthoc"]["n"] == 0 and by["posthoc"]["mean"] is None
    assert by["posthoc"]["reason"] == "no participants"
    # Groups under two are left out of the tests, and named.
    left_out = "left out for fewer than two participants: r1_summary (n = 1), posthoc (n = 0)"
    assert construct["kruskal"]["df"] == 1 and construct["kruskal"]["reason"] == left_out
    assert construct["kruskal"]["words"].startswith("H(1) = ")
    assert construct["welch"]["df1"] == 1 and construct["welch"]["reason"] == left_out
    assert construct["ordinal"]["df"] == 1 and left_out in construct["ordinal"]["reason"]
    pair = next(d for d in construct["dunn"] if d["b"] == "posthoc")
    assert pair["p"] is None and pair["words"] == "Not computed: fewer than two participants in posthoc."
    assert construct["reliability"]["pooled"]["k"] == 2
    assert construct["reliability"]["spearman_brown"]["n"] == 6
    assert report["power"]["planned"]["f"] == pytest.approx(0.3375, abs=1e-3)  # 4 groups of 25
    assert report["power"]["analysed"]["f"] is None  # harmonic mean of 3, 2, 1 is under 2
    assert report["power"]["analysed"]["words"].startswith("Not computed")
    assert [r["condition"] for r in report["attrition"]["rows"]] == PAPER_CODES
    assert report["models"] == []


def test_attention_exclusion_can_be_switched_off(staff, uneven_study):
    report = staff.get(url(uneven_study, format="json", attention=0)).json()
    assert report["exclusions"]["analysed"]["decomposition"] == 4
    assert report["options"]["attention"] is False


def test_speeders_and_straightliners_are_flagged(staff, uneven_study):
    person = Participant.objects.filter(study=uneven_study, condition__code="r1_summary").get()
    visits = PageVisit.objects.filter(participant=person)
    visits.update(first_shown_at=F("submitted_at") - timedelta(seconds=2))
    person.responses.filter(stimulus__isnull=False).update(value=4)
    report = staff.get(url(uneven_study, format="json")).json()
    crit = {c["key"]: c for c in report["exclusions"]["criteria"]}
    assert crit["speeders"]["flagged"]["r1_summary"] == 1
    assert crit["straightlining"]["flagged"]["r1_summary"] == 1
    assert report["exclusions"]["analysed"]["r1_summary"] == 0
    report = staff.get(url(uneven_study, format="json", speeders=0, straightlining=0)).json()
    assert report["exclusions"]["analysed"]["r1_summary"] == 1
    report = staff.get(url(uneven_study, format="json", speeder_seconds=1, straightlining=0)).json()
    assert report["exclusions"]["analysed"]["r1_summary"] == 1


def test_html_page_and_download(staff, uneven_study):
    response = staff.get(url(uneven_study))
    assert response.status_code == 200
    html = response.content.decode()
    assert "NaN" not in html and "nan" not in re.sub(r"[A-Za-z]nan|nan[a-z]", "", html)
    assert html.count("<svg") == 5 + 12  # a box plot per outcome, a bar chart per item (8 + 4 end)
    assert "H(1) = " in html and "\u03b5\u00b2 = " in html
    assert "only one participant" in html and "Not computed: fewer than two participants in posthoc." in html
    assert "Left out for fewer than two participants: r1_summary (n = 1), posthoc (n = 0)." in html
    assert "<script" not in html and "<link" not in html
    download = staff.get(url(uneven_study, format="html"))
    assert download["Content-Disposition"] == 'attachment; filename="analysis-uneven.html"'
    assert download.content.decode().startswith("<!doctype html>")


def test_one_participant_per_condition_gives_no_tests_but_words(staff):
    study = make_study("singles", trials=2)
    for offset, code in enumerate(PAPER_CODES):
        move(complete(Client(), study, offset), code)
    report = staff.get(url(study, format="json")).json()
    for construct in report["constructs"]:
        assert construct["kruskal"]["H"] is None and construct["ordinal"]["lr_chi2"] is None
        assert construct["kruskal"]["words"].startswith(
            "Not computed: fewer than two groups with at least two participants; left out for fewer than two "
            "participants: decomposition (n = 1), r1 (n = 1)"
        )
        pairs = [*construct["dunn"], *construct["mann_whitney"], *construct["games_howell"]]
        assert all(p["p"] is None and p["words"].startswith("Not computed: fewer than two") for p in pairs)
    html = staff.get(url(study)).content.decode()
    assert "H(3)" not in html and "U = " not in html and "z = " not in html and "LR " not in html


def test_report_notes_are_sentences_not_nested_parentheses(staff, uneven_study):
    # r1's two participants answer 5 to every trial item: the ordinal model's estimates are unstable.
    Response.objects.filter(
        participant__study=uneven_study, participant__condition__code="r1", stimulus__isnull=False
    ).update(value=5)
    report = staff.get(url(uneven_study, format="json", straightlining=0)).json()
    ordinal = next(c for c in report["constructs"] if c["key"] == "predictability")["ordinal"]
    assert ordinal["lr_chi2"] is not None and "estimates unstable" in ordinal["reason"]
    html = staff.get(url(uneven_study, straightlining=0)).content.decode()
    assert ("Left out for fewer than two participants: r1_summary (n = 1), posthoc (n = 0); estimates "
            "unstable, as a group may lie entirely at one end of the scale.") in html
    results = re.findall(r"<p>(?:Kruskal|Welch|Proportional-odds|Cumulative).*?</p>", html, flags=re.S)
    assert len(results) == 4 * 5 + 4  # and one paragraph of tests per end-of-study item
    for text in results:
        depth = deepest = 0
        for char in re.sub(r"<[^>]+>", "", text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            deepest = max(deepest, depth)
        assert deepest <= 1, text


def test_everyone_excluded_says_none_are_left_after_the_exclusions(staff, uneven_study):
    Response.objects.filter(participant__study=uneven_study, stimulus__isnull=False).update(value=4)
    report = staff.get(url(uneven_study, format="json", attention=0)).json()
    assert report["exclusions"]["analysed_total"] == 0
    by = {d["condition"]: d for d in report["constructs"][0]["descriptives"]}
    assert by["decomposition"]["reason"] == "none left after the exclusions (4 finished)"
    assert by["r1_summary"]["reason"] == "none left after the exclusions (1 finished)"
    assert by["posthoc"]["reason"] == "no participants"  # nobody finished in it


def test_downloaded_html_has_no_controls_and_states_the_exclusions(staff, uneven_study):
    html = staff.get(url(uneven_study, speeders=0, format="html")).content.decode()
    assert "<form" not in html and "format=" not in html
    # only links within the file (its table of contents) work in a saved copy
    links = re.findall(r'<a href="([^"]*)"', html)
    assert links and all(link.startswith("#") for link in links)
    assert all(f'id="{link[1:]}"' in html for link in links)
    assert ("Exclusions applied: Failed as many attention checks as the study allows; Same value on every "
            "per-trial item of all trials.") in html
    page = staff.get(url(uneven_study, speeders=0)).content.decode()
    assert "<form" in page and "speeders=0&amp;format=html" in page


@pytest.mark.parametrize("fmt", ["xml", "csv", ""])
def test_unknown_report_format_is_a_400_in_words(staff, uneven_study, fmt):
    response = staff.get(url(uneven_study, format=fmt))
    assert response.status_code == 400
    assert response.content.decode() == (
        f"Unknown format {fmt!r}: use format=html (a file to save) or format=json, or leave it out for the "
        "page."
    )


@pytest.mark.parametrize("seconds", ["nan", "inf", "-5", "soon"])
def test_analyze_command_refuses_a_bad_speeder_threshold(uneven_study, seconds):
    out = io.StringIO()
    with pytest.raises(CommandError, match="speeder threshold must be a number of seconds, zero or more"):
        call_command("analyze", "uneven", f"--speeder-seconds={seconds}", stdout=out)
    assert out.getvalue() == ""


def test_analyze_command_json_equals_view_json(staff, uneven_study):
    view = staff.get(url(uneven_study, format="json")).json()
    out = io.StringIO()
    call_command("analyze", "uneven", "--json", stdout=out)
    assert json.loads(out.getvalue()) == view
    out = io.StringIO()
    call_command("analyze", "uneven", stdout=out)
    assert "Kruskal-Wallis: H(1) = " in out.getvalue() and "analysed: 6" in out.getvalue()


def test_empty_study_does_not_crash(staff):
    study = make_study("empty")
    report = staff.get(url(study, format="json")).json()
    assert report["constructs"][0]["kruskal"]["H"] is None
    assert report["attrition"]["test"]["words"].startswith("Not computed")
    assert staff.get(url(study)).status_code == 200


def test_the_report_shows_table_1_of_each_evaluated_dataset(staff):
    study = make_study("models")
    evaluation = Evaluation.objects.create(model_name="m", setting="vanilla", dataset="t", source="import")
    problem = Problem.objects.create(dataset="t", subset="equal", source_id="1", question="q?", facts=["f"],
                                     gold_answers=["a"])
    steps = {f"{step}_{d}": True for d in ("published", "authors", "strict")
             for step in ("classification", "retrieval")}
    ModelOutput.objects.create(
        evaluation=evaluation, problem=problem, position=0, raw_text="<think>r</think> a",
        answer_correct=True, answer_f1=1.0, answer_precision=1.0, answer_recall=1.0,
        answer_correct_strict=True, unevaluated=False, **steps,
    )
    (table,) = staff.get(url(study, format="json")).json()["models"]
    assert table["dataset"] == "t" and table["rows"][0]["overall"]["answer_em"] == 100
    page = staff.get(url(study)).content.decode()
    assert "Model evaluations" in page and "answer \u00d7 trace (both steps)" in page


def test_p_values_are_worded_in_apa_style_never_as_zero():
    from analysis.templatetags.analysis_format import apa_p

    assert apa_p(0.0000001) == "p < .001"
    assert apa_p(0.0421) == "p = .042"
    assert apa_p(None) == "\u2014"


def test_an_early_study_with_more_table_cells_than_people_gets_its_report(staff, early_study):
    # The attrition table condition x outcome has 12 non-empty cells for 7 people: scipy's Monte Carlo
    # Fisher test returned its p-value as an array there, and the page was a 500.
    response = staff.get(url(early_study))
    assert response.status_code == 200
    report = staff.get(url(early_study, format="json")).json()
    rows = {r["condition"]: r for r in report["attrition"]["rows"]}
    assert (rows["decomposition"]["completed"], rows["decomposition"]["screened_out"]) == (2, 1)
    assert (rows["r1"]["no_consent"], rows["posthoc"]["screened_out"]) == (2, 1)
    test = report["attrition"]["test"]
    assert test["test"] == "fisher_monte_carlo" and 0 < test["p"] <= 1
    assert test["words"].startswith("Fisher's exact test (Monte Carlo), p = ")
    assert escape(test["words"]) in response.content.decode()
    # seeded: the same data give the same p-value every time
    assert staff.get(url(early_study, format="json")).json()["attrition"] == report["attrition"]
    out = io.StringIO()
    call_command("analyze", "early", stdout=out)
    assert f"Attrition: {test['words']}" in out.getvalue()
