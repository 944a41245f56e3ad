"""The demo's problems made ready for the simulation task by the traces app's rules: candidates and
masked texts filled where empty, kept for review, and the study opens and is walked by pilot bots."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from studyapp.demo import seed_demo
from studyapp.models import StimulusTrace, TrialJudgement, TrialTask
from studyapp.simulation_texts import prepare
from studyapp.study_setup import readiness_problems
from tests.conftest import PAPER_CODES

pytestmark = pytest.mark.django_db


def test_the_demo_is_made_ready_for_simulation_and_walked(capsys):
    study = seed_demo().study
    study.trial_task = TrialTask.SIMULATION
    study.save(update_fields=["trial_task"])
    assert any("masked" in p or "candidates" in p for p in readiness_problems(study))

    done = prepare(study)
    n_stimuli = study.stimuli.count()
    assert done.candidates == n_stimuli and done.masked == n_stimuli * len(PAPER_CODES) and done.refused == []
    # R1 answered one problem with two positions, both among its candidates: no single choice is it
    several = ("A simulation trial is scored against the model's answer as one choice: 1 stimuli have an "
               "answer that names several of their candidates, so no single choice is it; leave them out of "
               "a simulation study or correct their answer: cotempqa-equal-61 (Catholic bishop; titular "
               "bishop).")
    assert readiness_problems(study) == [several]
    study.stimuli.get(code="cotempqa-equal-61").delete()
    for stimulus in study.stimuli.prefetch_related("traces"):
        assert stimulus.model_answer.casefold() in {c.casefold() for c in stimulus.answer_candidates}
        for trace in stimulus.traces.all():  # traces.masking's own tests cover every shipped text
            masked, where = trace.masked_text, (stimulus.code, trace.condition)
            assert "hidden" in masked and trace.mask_note, where
            if trace.condition == "decomposition":  # the steps stay whole, the answer part goes
                assert masked.endswith("<answer>[the model's answer is hidden]</answer>"), where
            else:  # the conclusion goes
                assert stimulus.model_answer not in masked.rstrip().rsplit(".", 2)[-2], where
    assert readiness_problems(study) == []

    # a second run changes nothing, and a researcher's own masked text stays
    mine = StimulusTrace.objects.filter(stimulus__study=study).first()
    StimulusTrace.objects.filter(pk=mine.pk).update(masked_text="My own masked text.")
    again = prepare(study)
    assert (again.candidates, again.masked, again.refused) == (0, 0, [])
    assert StimulusTrace.objects.get(pk=mine.pk).masked_text == "My own masked text."

    User.objects.create_superuser("researcher", "r@example.org", "pw")
    call_command("pilot", study.slug, "--participants", "4", "--seed", "3", "--accuracy", "r1=1,posthoc=0")
    assert "All 4 bots reached the completion page" in capsys.readouterr().out
    judgements = TrialJudgement.objects.filter(participant__study=study)
    r1, posthoc = judgements.filter(condition="r1"), judgements.filter(condition="posthoc")
    assert r1.exists() and all(j.correct for j in r1)
    assert posthoc.exists() and not any(j.correct for j in posthoc)


def test_the_command_lists_what_it_could_not_mask(capsys):
    study = seed_demo().study
    trace = StimulusTrace.objects.filter(stimulus__study=study, condition="posthoc").first()
    StimulusTrace.objects.filter(pk=trace.pk).update(text=trace.stimulus.model_answer)  # the answer alone
    call_command("prepare_simulation", study.slug)
    out = capsys.readouterr().out
    assert f"not masked: {trace.stimulus.code} / posthoc:" in out and "1 texts could not be masked" in out
    assert StimulusTrace.objects.get(pk=trace.pk).masked_text == ""
