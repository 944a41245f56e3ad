"""The demo study: 16 real CoTempQA problems, four conditions, seeded once."""

import json

import pytest
from django.core.management import call_command

from studyapp.demo import seed_demo
from studyapp.models import ConditionCode, Stimulus, StimulusTrace, Study
from traces.importing import PILOT_FILE

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_live_study_from_the_pilot_problems_with_all_four_traces():
    result = seed_demo()
    study = Study.objects.get(slug="demo")
    assert result.study_created and study.status == Study.Status.LIVE
    assert study.target_per_condition == 25 and study.trials_per_participant == 5
    assert sorted(study.conditions.values_list("code", flat=True)) == sorted(ConditionCode.values)
    assert study.stimuli.count() == 16
    assert StimulusTrace.objects.filter(stimulus__study=study).count() == 64

    row = json.loads(PILOT_FILE.read_text().splitlines()[0])
    stimulus = Stimulus.objects.get(study=study, code=row["id"])
    assert stimulus.context_facts == row["facts"] and stimulus.gold_answers == row["gold_answers"]
    assert stimulus.model_answer_original == row["model_answers"]["r1"]
    traces = dict(stimulus.traces.values_list("condition", "text"))
    assert traces["r1"] == row["traces"]["r1"]
    assert traces["r1_summary"] == row["traces"]["r1_summary"]
    assert traces["posthoc"] == row["traces"]["posthoc_explanation"]
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
    assert shown["cotempqa-equal-62"] == "None"
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
    assert "0 stimuli and 0 traces added, 16 stimuli in all" in out
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
