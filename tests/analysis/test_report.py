"""The analysis report page, its JSON and the analyze command, on studies built by tests/conftest.py."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse

from studyapp.models import Condition, ConditionCode, PageVisit, Participant
from tests.conftest import Walker, make_study
from traces.models import Checkpoint, GeneratedTrace, Job, Problem

pytestmark = pytest.mark.django_db


def complete(client, study, offset: int, attention_value: int = 2) -> Participant:
    """A participant who varies their answers (no straight-lining) and takes 30 s per trial."""
    walker = Walker(client, study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    for n in range(1, study.trials_per_participant + 1):
        page = f"trial-{n}"
        data = walker.answers_for(page, 3, attention_value)
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
        condition=Condition.objects.get(study=participant.study, code=code)
    )


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("researcher", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def uneven_study():
    """decomposition: 3 participants (plus one failing the attention check), r1: 1, r1_summary: 1,
    posthoc: none."""
    study = make_study("uneven", trials=2)
    people = [complete(Client(), study, offset) for offset in range(5)]
    failed = complete(Client(), study, 7, attention_value=5)
    plan = ["decomposition", "decomposition", "decomposition", "r1", "r1_summary"]
    for person, code in zip(people, plan, strict=True):
        move(person, code)
    move(failed, "decomposition")
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
    assert ex["finished"] == {"decomposition": 4, "r1": 1, "r1_summary": 1, "posthoc": 0}
    assert ex["analysed"] == {"decomposition": 3, "r1": 1, "r1_summary": 1, "posthoc": 0}
    attention = next(c for c in ex["criteria"] if c["key"] == "attention")
    assert attention["flagged"]["decomposition"] == 1 and attention["enabled"]
    assert all(c["flagged_total"] == 0 for c in ex["criteria"] if c["key"] != "attention")

    construct = next(c for c in report["constructs"] if c["key"] == "faithfulness")
    by = {d["condition"]: d for d in construct["descriptives"]}
    assert by["decomposition"]["n"] == 3 and by["decomposition"]["sd"] is not None
    assert by["r1"]["n"] == 1 and by["r1"]["sd"] is None and "one participant" in by["r1"]["reason"]
    assert by["posthoc"]["n"] == 0 and by["posthoc"]["mean"] is None
    assert by["posthoc"]["reason"] == "no participants"
    assert construct["kruskal"]["df"] == 2 and "posthoc" in construct["kruskal"]["reason"]
    assert construct["kruskal"]["words"].startswith("H(2) = ")
    assert construct["welch"]["F"] is None and construct["welch"]["words"].startswith("Not computed:")
    pair = next(d for d in construct["dunn"] if d["b"] == "posthoc")
    assert pair["p"] is None and pair["words"] == "Not computed: a group has no data."
    assert construct["reliability"]["k"] == 2
    assert report["power"]["planned"]["f"] == pytest.approx(0.3375, abs=1e-3)  # 4 groups of 25
    assert report["power"]["analysed"]["f"] is None  # harmonic mean of 3, 1, 1 is under 2
    assert report["power"]["analysed"]["words"].startswith("Not computed")
    assert [r["condition"] for r in report["attrition"]["rows"]] == ConditionCode.values
    assert report["models"] == []


def test_attention_exclusion_can_be_switched_off(staff, uneven_study):
    report = staff.get(url(uneven_study, format="json", attention=0)).json()
    assert report["exclusions"]["analysed"]["decomposition"] == 4
    assert report["options"]["attention"] is False


def test_speeders_and_straightliners_are_flagged(staff, uneven_study):
    person = Participant.objects.filter(study=uneven_study, condition__code="r1").get()
    visits = PageVisit.objects.filter(participant=person)
    visits.update(first_shown_at=F("submitted_at") - timedelta(seconds=2))
    person.responses.filter(stimulus__isnull=False).update(value=4)
    report = staff.get(url(uneven_study, format="json")).json()
    crit = {c["key"]: c for c in report["exclusions"]["criteria"]}
    assert crit["speeders"]["flagged"]["r1"] == 1 and crit["straightlining"]["flagged"]["r1"] == 1
    assert report["exclusions"]["analysed"]["r1"] == 0
    report = staff.get(url(uneven_study, format="json", speeders=0, straightlining=0)).json()
    assert report["exclusions"]["analysed"]["r1"] == 1
    report = staff.get(url(uneven_study, format="json", speeder_seconds=1, straightlining=0)).json()
    assert report["exclusions"]["analysed"]["r1"] == 1


def test_html_page_and_download(staff, uneven_study):
    response = staff.get(url(uneven_study))
    assert response.status_code == 200
    html = response.content.decode()
    assert "NaN" not in html and "nan" not in re.sub(r"[A-Za-z]nan|nan[a-z]", "", html)
    assert html.count("<svg") == 5 + 12  # a box plot per outcome, a bar chart per item (8 + 4 end)
    assert "H(2) = " in html and "\u03b5\u00b2 = " in html
    assert "only one participant" in html and "Not computed: a group has no data." in html
    assert "<script" not in html and "<link" not in html
    download = staff.get(url(uneven_study, format="html"))
    assert download["Content-Disposition"] == 'attachment; filename="analysis-uneven.html"'
    assert download.content.decode().startswith("<!doctype html>")


def test_analyze_command_json_equals_view_json(staff, uneven_study):
    view = staff.get(url(uneven_study, format="json")).json()
    out = io.StringIO()
    call_command("analyze", "uneven", "--json", stdout=out)
    assert json.loads(out.getvalue()) == view
    out = io.StringIO()
    call_command("analyze", "uneven", stdout=out)
    assert "Kruskal-Wallis: H(2) = " in out.getvalue() and "analysed: 5" in out.getvalue()


def test_empty_study_does_not_crash(staff):
    study = make_study("empty")
    report = staff.get(url(study, format="json")).json()
    assert report["constructs"][0]["kruskal"]["H"] is None
    assert report["attrition"]["test"]["words"].startswith("Not computed")
    assert staff.get(url(study)).status_code == 200


def test_model_evaluations(staff):
    study = make_study("models")
    checkpoint = Checkpoint.objects.create(name="ckpt", path="/nowhere")
    job = Job.objects.create(kind=Job.Kind.EVALUATE, status=Job.Status.SUCCEEDED, checkpoint=checkpoint,
                             setting="vanilla")
    Job.objects.create(kind=Job.Kind.EVALUATE, status=Job.Status.FAILED, checkpoint=checkpoint, setting="r1")
    # (answer, classification, retrieval): 3 correct traces (2 with correct answers), 2 incorrect.
    grades = [(True, True, True), (True, True, True), (False, True, True), (True, False, True),
              (False, False, False)]
    for n, (answer, classification, retrieval) in enumerate(grades):
        problem = Problem.objects.create(dataset="t", split="equal", source_id=str(n), question="q?",
                                         facts=["f"], gold_answers=["a"])
        GeneratedTrace.objects.create(
            job=job, problem=problem, checkpoint=checkpoint, prompt="p", raw_text="r",
            answer_correct=answer, classification_correct=classification, retrieval_correct=retrieval,
            prompt_tokens=1, completion_tokens=1, latency_ms=1,
        )
    (model,) = staff.get(url(study, format="json")).json()["models"]
    assert (model["checkpoint"], model["setting"], model["n"]) == ("ckpt", "vanilla", 5)
    assert model["answer_accuracy"] == pytest.approx(0.6)
    assert model["classification_accuracy"] == pytest.approx(0.6)
    assert model["retrieval_accuracy"] == pytest.approx(0.8)
    assert (model["tc_ac"], model["tc_aw"], model["tw_ac"], model["tw_aw"]) == (2, 1, 1, 1)
    assert model["p_answer_given_correct_trace"] == pytest.approx(2 / 3)
    assert model["test"]["test"] == "fisher" and model["test"]["p"] == pytest.approx(1.0)


def test_p_values_are_worded_in_apa_style_never_as_zero():
    from analysis.templatetags.analysis_format import apa_p

    assert apa_p(0.0000001) == "p < .001"
    assert apa_p(0.0421) == "p = .042"
    assert apa_p(None) == "\u2014"
