"""The demo study: the real CoTempQA pilot problems whose shown answer is right, four conditions, seeded
once."""

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from studyapp.demo import seed_demo
from studyapp.models import Stimulus, StimulusTrace, Study
from tests.conftest import PAPER_CODES, Walker
from traces import loaders
from traces.grading.outputs import score_answer
from traces.grading.strict import grade_strict
from traces.importing import PILOT_FILE

pytestmark = pytest.mark.django_db

EQUAL = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa" / "equal.json"


def test_seed_demo_builds_a_live_study_from_the_pilot_problems_with_all_four_traces():
    result = seed_demo()
    study = Study.objects.get(slug="demo")
    assert result.study_created and study.status == Study.Status.LIVE
    assert study.target_per_condition == 25 and study.trials_per_participant == 5
    assert sorted(study.conditions.values_list("code", flat=True)) == sorted(PAPER_CODES)
    assert study.stimuli.count() == 15 and result.left_out == ["cotempqa-equal-62"]
    assert StimulusTrace.objects.filter(stimulus__study=study).count() == 60

    row = json.loads(PILOT_FILE.read_text().splitlines()[0])
    stimulus = Stimulus.objects.get(study=study, code=row["id"])
    assert stimulus.context_facts == row["facts"] and stimulus.gold_answers == row["gold_answers"]
    assert stimulus.model_answer_original == row["model_answers"]["r1"]
    traces = dict(stimulus.traces.values_list("condition", "text"))
    assert traces["r1"] == row["traces"]["r1"]
    assert traces["r1_summary"] == row["traces"]["r1_summary"]
    assert traces["posthoc"] == row["traces"]["posthoc_explanation"]
    r1 = stimulus.traces.get(condition="r1")
    assert r1.reference_trace is not None and r1.provenance["source"] == "authors (cotempqa_pilot)"
    decomposition = traces["decomposition"]
    assert decomposition.startswith(
        "<think>The temporal relation between the event in question and the event in context is: equal."
    )
    assert "I need to use the following facts to answer the question: [" in decomposition
    assert "Henry Barwell is a member of the Liberal Federation in October 16, 1923." in decomposition
    assert decomposition.endswith("</think> <answer>['Liberal Federation']</answer>")


def test_participants_see_r1s_answer_in_short_and_the_original_is_kept():
    seed_demo()
    shown = dict(Stimulus.objects.filter(study__slug="demo").values_list("code", "model_answer"))
    assert shown["cotempqa-equal-281"] == "Progressive Democrats"  # was followed by a \\boxed{...}
    assert shown["cotempqa-equal-61"] == "Catholic bishop; titular bishop"  # was a paragraph with markdown
    assert shown["cotempqa-equal-291"] == "Liberal Federation"
    original = Stimulus.objects.get(study__slug="demo", code="cotempqa-equal-281").model_answer_original
    assert original.startswith("Progressive Democrats\n\n\\boxed{")


def test_seeding_again_changes_nothing_not_even_a_researchers_edits(capsys):
    call_command("seed_demo")
    study = Study.objects.get(slug="demo")
    study.title = "Edited by a researcher"
    study.save()
    StimulusTrace.objects.filter(condition="r1").update(text="edited")
    before = list(StimulusTrace.objects.order_by("pk").values_list("pk", "text"))
    call_command("seed_demo")
    assert Study.objects.get(slug="demo").title == "Edited by a researcher"
    assert list(StimulusTrace.objects.order_by("pk").values_list("pk", "text")) == before
    out = capsys.readouterr().out
    assert "0 stimuli and 0 traces added, 15 stimuli in all" in out
    assert "Left out: cotempqa-equal-62" in out
    assert "/study/demo/?PROLIFIC_PID=" in out


def test_demo_admin_account_is_created_once_and_its_login_printed(capsys, tmp_path, monkeypatch):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from studyapp.management.commands import demo_admin

    monkeypatch.setattr(demo_admin, "PASSWORD_FILE", tmp_path / "pw.txt")
    call_command("demo_admin", "--base-url", "http://127.0.0.1:8123")
    call_command("demo_admin", "--base-url", "http://127.0.0.1:8123")
    password = (tmp_path / "pw.txt").read_text().strip()
    out = capsys.readouterr().out
    assert out.count(f"http://127.0.0.1:8123/admin/  user 'admin', password '{password}'") == 2
    login = RequestFactory().post("/admin/login/")  # the login limits need the request logging in
    user = authenticate(login, username="admin", password=password)
    assert user is not None and user.is_staff and user.is_superuser


def test_no_demo_stimulus_shows_an_answer_its_decomposition_trace_contradicts():
    """R1's "None" on cotempqa-equal-62 passes the paper's lenient metric, but the decomposition trace
    participants read ends in the gold answer: that problem must not be in the demo."""
    study = seed_demo().study
    problems = {p.source_id: p for p in loaders.load_cotempqa(EQUAL, "equal")}
    contradicted, wrong = [], []
    for stimulus in study.stimuli.all():
        problem = problems[stimulus.code]
        decomposition = stimulus.traces.get(condition="decomposition").text
        stated = ast.literal_eval(grade_strict(decomposition, problem).answer)
        as_if_gold = replace(problem, gold_answers=stated)
        if not score_answer(stimulus.model_answer, as_if_gold, as_published=False).exact_match:
            contradicted.append((stimulus.code, stimulus.model_answer, stated))
        if not score_answer(stimulus.model_answer, problem, as_published=False).exact_match:
            wrong.append(stimulus.code)
    assert contradicted == [] and wrong == []
    assert study.stimuli.count() == 15 and not study.stimuli.filter(code="cotempqa-equal-62").exists()

def test_demo_participants_are_never_shown_the_answer_none():
    """Participants arriving from Prolific read every problem of the demo in turn; none shows "None"."""
    study = seed_demo().study
    codes = dict(study.stimuli.values_list("pk", "code"))
    seen: set[str] = set()
    for _ in range(60):  # 5 problems each: about a dozen participants see them all
        walker = Walker(Client(), study)
        walker.arrive()
        walker.post("consent", {"consent": "yes"})
        walker.post("instructions", {})
        for n in range(1, study.trials_per_participant + 1):
            html = walker.get(f"trial-{n}").content.decode()
            shown = codes[int(re.search(r'name="stimulus" value="(\d+)"', html).group(1))]
            seen.add(shown)
            answer = re.search(r'<p class="answer">(.*?)</p>', html, re.DOTALL).group(1).strip()
            assert answer != "None", f"{shown} is shown with the answer None"
            walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
        if seen == set(codes.values()):
            break
    assert seen == set(codes.values())
    assert "cotempqa-equal-62" not in seen


def test_a_shown_answer_a_trace_contradicts_is_flagged_to_the_researcher(admin_client):
    """Edited, or seeded before the demo left such problems out: the monitor, the stimulus admin and
    opening the study say which stimulus, which condition and what its trace answers."""
    study = seed_demo().study
    Stimulus.objects.filter(study=study, code="cotempqa-equal-291").update(model_answer="None")
    expected = ("Stimulus cotempqa-equal-291 shows the answer &#x27;None&#x27;, but its "
                "&#x27;decomposition&#x27; trace answers Liberal Federation.")
    monitor = admin_client.get(reverse("studyapp:monitor", args=["demo"])).content.decode()
    assert "Stimuli whose shown answer a condition's trace contradicts" in monitor
    assert monitor.count("shows the answer") == 1 and expected in monitor  # free-text traces are not read
    listing = admin_client.get(reverse("admin:studyapp_stimulus_changelist")).content.decode()
    assert expected in listing and listing.count("No (no trace that states its answer names another)") == 14
    stimulus = Stimulus.objects.get(study=study, code="cotempqa-equal-291")
    page = admin_client.get(reverse("admin:studyapp_stimulus_change", args=[stimulus.pk])).content.decode()
    assert expected in page
    Study.objects.filter(pk=study.pk).update(status=Study.Status.DRAFT)
    opened = admin_client.post(reverse("admin:studyapp_study_changelist"),
                               {"action": "open_study", "_selected_action": [study.pk]}, follow=True)
    said = [str(m) for m in get_messages(opened.wsgi_request)]
    assert said == ["demo is live.", "demo: " + expected.replace("&#x27;", "'")]
