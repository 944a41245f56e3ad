"""Pilot bots: `manage.py pilot <slug>` walks simulated participants through a study before launch."""

import pytest
from django.core.management import CommandError, call_command

from studyapp import allocation, views
from studyapp.models import Participant, Response, StimulusTrace, Study
from tests.conftest import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")


def test_bots_walk_a_draft_study_to_the_completion_code_and_count_toward_nothing(researcher, capsys):
    study = make_study("draft", status=Study.Status.DRAFT)
    call_command("pilot", "draft", "--participants", "8", "--seed", "3")
    out = capsys.readouterr().out
    assert out.count("code C-OK") == 8 and "All 8 bots reached the completion page" in out
    bots = Participant.objects.filter(study=study)
    assert bots.count() == 8 and all(p.is_preview for p in bots)
    assert sorted(bots.values_list("condition__code", flat=True)) == sorted(
        ["decomposition", "r1", "r1_summary", "posthoc"] * 2
    )
    assert set(bots.values_list("status", flat=True)) == {Participant.Status.COMPLETED}
    # three trials of 8 items (+ 2 attention checks in all) and the end questionnaire, every one stored
    per_bot = {p.pk: Response.objects.filter(participant=p).count() for p in bots}
    assert len(set(per_bot.values())) == 1 and next(iter(per_bot.values())) > 3 * 8
    assert not Participant.objects.real().filter(study=study).exists()
    assert sum(allocation.slots_taken(study, study.created_at).values()) == 0


def test_bots_failing_the_checks_get_the_failed_attention_code(researcher, capsys):
    make_study("checks")
    call_command("pilot", "checks", "--participants", "2", "--attention", "fail", "--answers", "2")
    out = capsys.readouterr().out
    assert out.count("2 checks failed, code C-ATTN") == 2
    values = Response.objects.filter(participant__study__slug="checks", item__construct="predictability")
    assert set(values.values_list("value", flat=True)) == {2}


def test_a_study_that_is_not_ready_fails_the_pilot_with_the_reason(researcher, capsys):
    study = make_study("broken", status=Study.Status.DRAFT)
    StimulusTrace.objects.filter(stimulus__study=study, condition="posthoc").delete()
    with pytest.raises(CommandError, match="1 of 4 bots ran into a failing page"):
        call_command("pilot", "broken", "--participants", "4")
    out = capsys.readouterr().out
    assert "posthoc" in out and "HTTP 400" in out and "Condition 'posthoc' has traces for 0 stimuli" in out


def test_a_page_that_breaks_is_reported_with_its_name(researcher, capsys, monkeypatch):
    make_study("crashing")
    real = views.render_trace

    def breaks_on_r1(text: str) -> str:
        if text.startswith("r1 trace"):
            raise RuntimeError("template bug")
        return real(text)

    monkeypatch.setattr(views, "render_trace", breaks_on_r1)
    with pytest.raises(CommandError, match="1 of 2 bots"):
        call_command("pilot", "crashing", "--participants", "2")
    out = capsys.readouterr().out
    assert "trial-1: HTTP 500" in out and "code C-OK" in out


def test_without_a_staff_account_the_pilot_says_how_to_make_one():
    make_study("lonely")
    with pytest.raises(CommandError, match="createsuperuser"):
        call_command("pilot", "lonely")
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("pilot", "nope")
